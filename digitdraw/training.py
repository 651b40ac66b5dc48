"""Training recipes, as plain data, and `train`, which runs one with Keras's compile/fit.

The callbacks here are the only hooks a caller needs: progress (the CLI's bar, the app's
live charts), cancellation after the current batch, and a time budget.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from digitdraw import architectures
from digitdraw.data import Mnist, to_model_input


@dataclass
class TrainConfig:
    """Everything that decides a training run; stored in the model card as is."""

    architecture: str = "cnn"
    api: str = "sequential"
    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 3e-3
    augment: bool = False
    seed: int = 0
    subset: int | None = None  # train on the first N shuffled images; None: all 60,000
    time_budget: float | None = None  # seconds of training, then stop after the batch
    pen_writers: str | None = None  # e.g. "1-24": add rendered pen digits of these writers
    pen_copies: int = 0  # renderings of each pen digit added (random size, place, width)
    pen_distort: bool = False  # re-shape each pen rendering at the stroke level (pendigits.distort)
    # Also this many MNIST training images enlarged 10x and sent through the app's preprocessing:
    # the model then reads a digit the same whether it is MNIST-sized or drawn big on the canvas.
    mnist_piped: int = 0
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    # A last, gentle phase on fresh renderings of the pen digits plus a little MNIST, at a tenth
    # of the learning rate: it settles the network on drawn digits without forgetting MNIST.
    finetune_epochs: int = 0
    finetune_mnist: int = 3000  # MNIST images mixed into that phase, so MNIST is not forgotten
    # Where the weights end, between those before the phase (0) and after it (1): a blend keeps
    # MNIST as the main phase left it and takes most of what the pen digits taught (WiSE-FT).
    finetune_blend: float = 1.0
    elastic: float = 0.0  # with augment: strength of elastic distortion (training.augment), 0 = none

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def recipe_problems(config: TrainConfig) -> list[str]:
    """What makes a recipe impossible to run, in words for a person; empty when it can run.

    The one check shared by the CLI and the app's jobs (which add the server's own limits).
    """
    problems = []
    if config.architecture not in architectures.ARCHITECTURES:
        known = ", ".join(architectures.ARCHITECTURES)
        problems.append(f"unknown architecture {config.architecture!r} (choose from {known})")
    if config.api not in architectures.APIS:
        problems.append(f"unknown API {config.api!r} (choose from {', '.join(architectures.APIS)})")
    if config.epochs < 1:
        problems.append(f"epochs must be at least 1 (asked for {config.epochs})")
    if config.batch_size < 1:
        problems.append(f"batch size must be positive (asked for {config.batch_size})")
    if config.subset is not None and config.subset < 1:
        problems.append(f"the training-set size must be positive (asked for {config.subset})")
    if not config.learning_rate > 0:
        problems.append(f"the learning rate must be positive (asked for {config.learning_rate})")
    if config.time_budget is not None and not config.time_budget > 0:
        problems.append(f"the time budget must be positive (asked for {config.time_budget:g} s)")
    if config.finetune_epochs and not config.pen_writers:
        problems.append(
            "a fine-tune phase (--finetune-epochs) trains on pen digits: give pen writers (--pen-writers)"
        )
    if not 0 <= config.finetune_blend <= 1:
        problems.append(
            "the fine-tune blend (--finetune-blend) must be from 0 to 1 "
            f"(asked for {config.finetune_blend:g})"
        )
    if config.elastic < 0:
        problems.append(f"the elastic strength (--elastic) must be 0 or more (asked for {config.elastic:g})")
    if config.elastic and not config.augment:
        problems.append(
            "elastic distortion (--elastic) is part of the augmentation: turn augmentation on (--augment)"
        )
    return problems


PEN_WRITERS = "1-24"  # pendigits writers to train and tune on; 25-30 are only ever measured (drawn.py)
PEN_COPIES = 2  # renderings of each pen digit in the app's recipes (the shipped models used 3)

# Short runs that the app and the benchmark offer (figures in the README, bench/train_speed.py).
PRESETS: dict[str, dict[str, TrainConfig]] = {
    "quick": {
        "dense": TrainConfig("dense", epochs=4, batch_size=128, learning_rate=3e-3),
        "cnn": TrainConfig("cnn", epochs=2, batch_size=128, learning_rate=3e-3),
    },
    # Standard adds rendered pen digits of the tuning writers: they, more than epochs, make a
    # model read what people draw (the README's drawn-digit table). Without the pendigits file
    # the app offers the same recipe on MNIST alone.
    "standard": {
        "dense": TrainConfig(
            "dense",
            epochs=15,
            learning_rate=2e-3,
            augment=True,
            pen_writers=PEN_WRITERS,
            pen_copies=PEN_COPIES,
        ),
        "cnn": TrainConfig(
            "cnn", epochs=8, learning_rate=3e-3, augment=True, pen_writers=PEN_WRITERS, pen_copies=PEN_COPIES
        ),
    },
}


def preset(name: str, architecture: str) -> TrainConfig:
    """A named recipe for an architecture; architectures without one get the cnn's."""
    recipes = PRESETS[name]
    return recipes.get(architecture, recipes["cnn"]).replace(architecture=architecture)


def parse_writers(spec: str | None) -> list[int]:
    """ "1-24" or "1,3,5-7" -> [1, 2, ...]."""
    writers: list[int] = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        writers.extend(range(int(lo), int(hi or lo) + 1))
    return writers


# -- Callbacks -------------------------------------------------------------------------


class CancelOnEvent(keras.callbacks.Callback):
    """Stops training after the current batch once `event` is set (a Cancel button, Ctrl-C)."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self.event = event
        self.cancelled = False

    def on_train_batch_end(self, batch, logs=None):
        if self.event.is_set():
            self.cancelled = True
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training after the batch that crosses `seconds`; the model so far is kept."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.exhausted = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start >= self.seconds:
            self.exhausted = True
            self.model.stop_training = True


class ProgressReporter(keras.callbacks.Callback):
    """Sends plain-dict progress events to `report`: the app's worker keeps them for its charts.

    Events: {"kind": "batch"|"epoch", "epoch", "step", "steps", "elapsed", "loss", "accuracy", ...}.
    About `points_per_epoch` batch events an epoch, whatever its length: a curve for a
    1,000-image run, and reporting that costs nothing next to training on 60,000.
    """

    def __init__(self, report: Callable[[dict], None], points_per_epoch: int = 40) -> None:
        super().__init__()
        self.report = report
        self.points_per_epoch = points_per_epoch
        self.steps = 0
        self.every = 1
        self.epoch = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.steps = int(self.params.get("steps") or 0)
        self.every = max(1, self.steps // self.points_per_epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0 or batch + 1 == self.steps:
            self.report(self._event("batch", batch + 1, logs))

    def on_epoch_end(self, epoch, logs=None):
        self.report(self._event("epoch", self.steps, logs))

    def _event(self, kind: str, step: int, logs: dict | None) -> dict:
        numbers = {k: float(v) for k, v in (logs or {}).items()}
        return {
            "kind": kind,
            "epoch": self.epoch,
            "step": step,
            "steps": self.steps,
            "elapsed": time.perf_counter() - self.start,
            **numbers,
        }


# -- Data ------------------------------------------------------------------------------


# Augmentation ranges: slant and rotation as in handwriting, hardly any shift or zoom, since
# the app's preprocessing already puts every digit at MNIST's size and centre.
ROTATION = 0.26  # radians, about +-15 degrees
SHEAR = 0.2  # horizontal slant
SCALE = 0.06  # +-6%
SHIFT = 1.0  # pixels


ELASTIC_SIGMA = 4.0  # pixels: how smooth the elastic displacement field is (Simard et al. 2003)


def augment(images, elastic: float = 0.0):
    """Random rotation, slant, scale and shift of a batch (b, 28, 28), in ONE resampling.

    Keras's RandomRotation, RandomShear, RandomZoom and RandomTranslation each resample the
    image; stacked, they blur strokes far beyond anything the app's pipeline produces.
    `elastic` > 0 adds a smooth random displacement field of up to that strength (Simard's
    alpha; 34 moves pixels about 1.5 px), which bends strokes the way hands do, in the same
    resampling.
    """
    import tensorflow as tf

    n = tf.shape(images)[0]
    angle = tf.random.uniform([n], -ROTATION, ROTATION)
    shear = tf.random.uniform([n], -SHEAR, SHEAR)
    scale = tf.random.uniform([n], 1 - SCALE, 1 + SCALE)
    shift = tf.random.uniform([n, 2], -SHIFT, SHIFT)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # Output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2), about the centre.
    a0, a1 = cos, -sin + shear * cos
    b0, b1 = sin, cos + shear * sin
    c = 13.5
    a2 = c - a0 * c - a1 * c + shift[:, 0]
    b2 = c - b0 * c - b1 * c + shift[:, 1]
    if elastic:
        return _resample(images, (a0, a1, a2, b0, b1, b2), _displacement(n, elastic))
    zeros = tf.zeros([n])
    transform = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    out = keras.ops.image.affine_transform(
        images[..., None], transform, interpolation="bilinear", fill_mode="constant"
    )
    return out[..., 0]


def _displacement(n, alpha: float):
    """(n, 28, 28, 2) smooth random (dx, dy): uniform noise blurred by a Gaussian, random strength."""
    import tensorflow as tf

    radius = int(2 * ELASTIC_SIGMA)
    taps = tf.exp(-0.5 * (tf.range(-radius, radius + 1, dtype=tf.float32) / ELASTIC_SIGMA) ** 2)
    taps /= tf.reduce_sum(taps)
    rows = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, 2, 1])
    cols = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, 2, 1])
    field = tf.random.uniform([n, 28, 28, 2], -1.0, 1.0)
    field = tf.nn.depthwise_conv2d(field, rows, [1, 1, 1, 1], "SAME")
    field = tf.nn.depthwise_conv2d(field, cols, [1, 1, 1, 1], "SAME")
    # Each image gets its own strength, so some stay almost straight.
    return field * tf.random.uniform([n, 1, 1, 1], 0.0, alpha)


def _resample(images, affine, displacement):
    """Sample each image at its affine map of the output grid plus the displacement: bilinear,
    black outside. (keras.ops.image.map_coordinates needs a known batch size; tf.data has none.)
    """
    import tensorflow as tf

    a0, a1, a2, b0, b1, b2 = (tf.reshape(v, [-1, 1, 1]) for v in affine)
    ys, xs = tf.meshgrid(tf.range(28.0), tf.range(28.0), indexing="ij")
    # One pixel of black border: a sample outside the image reads black.
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1]])
    x = tf.clip_by_value(a0 * xs + a1 * ys + a2 + displacement[..., 0] + 1, 0.0, 29.0)
    y = tf.clip_by_value(b0 * xs + b1 * ys + b2 + displacement[..., 1] + 1, 0.0, 29.0)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, 29), tf.minimum(y0 + 1, 29)
    flat = tf.reshape(padded, [-1])
    base = tf.reshape(tf.range(tf.shape(images)[0]) * 30 * 30, [-1, 1, 1])

    def at(row, col):
        return tf.gather(flat, base + row * 30 + col)

    top = (1 - wx) * at(y0, x0) + wx * at(y0, x1)
    bottom = (1 - wx) * at(y1, x0) + wx * at(y1, x1)
    return (1 - wy) * top + wy * bottom


def training_arrays(config: TrainConfig, mnist: Mnist, pendigits_path=None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images as model input (subset if asked), plus rendered pen digits if asked."""
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(mnist.x_train))
    if config.subset:
        order = order[: config.subset]
    x = to_model_input(mnist.x_train[order])
    y = mnist.y_train[order]
    if config.mnist_piped:
        chosen = order[: config.mnist_piped]
        x = np.concatenate([x, through_pipeline(mnist.x_train[chosen])])
        y = np.concatenate([y, mnist.y_train[chosen]])
    if config.pen_writers and config.pen_copies > 0:
        from digitdraw import pendigits  # deferred: only this recipe needs the stroke renderer

        digits = pendigits.load_pendigits(pendigits_path, writers=parse_writers(config.pen_writers))
        px, py = pendigits.rendered_dataset(
            digits, rng, copies=config.pen_copies, distorted=config.pen_distort
        )
        x = np.concatenate([x, px.astype(np.float32)])
        y = np.concatenate([y, py.astype(y.dtype)])
    return x, y


def finetune_arrays(config: TrainConfig, mnist: Mnist, pendigits_path=None) -> tuple[np.ndarray, np.ndarray]:
    """The last phase's data: new renderings of the pen digits and `finetune_mnist` MNIST images."""
    from digitdraw import pendigits

    rng = np.random.default_rng(config.seed + 1)  # other renderings than the main phase's
    digits = pendigits.load_pendigits(pendigits_path, writers=parse_writers(config.pen_writers))
    copies = max(1, config.pen_copies)
    px, py = pendigits.rendered_dataset(digits, rng, copies=copies, distorted=config.pen_distort)
    order = rng.permutation(len(mnist.x_train))[: config.finetune_mnist]
    x = np.concatenate([px.astype(np.float32), to_model_input(mnist.x_train[order])])
    y = np.concatenate([py.astype(mnist.y_train.dtype), mnist.y_train[order]])
    if config.mnist_piped:  # the same images through the pipeline too, as in the main phase
        x = np.concatenate([x, through_pipeline(mnist.x_train[order])])
        y = np.concatenate([y, mnist.y_train[order]])
    return x, y


def through_pipeline(images: np.ndarray) -> np.ndarray:
    """MNIST images (n, 28, 28) uint8 as the app would see them drawn big: 280x280, then preprocess."""
    import cv2

    from digitdraw.preprocess import preprocess

    out = np.empty(images.shape, np.float32)
    for i, image in enumerate(images):
        result = preprocess(cv2.resize(image, (280, 280), interpolation=cv2.INTER_CUBIC))
        out[i] = result.image if result.image is not None else to_model_input(image[None])[0]
    return out


def _dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=config.seed)
    ds = ds.batch(config.batch_size)
    if config.augment:
        ds = ds.map(lambda a, b: (augment(a, config.elastic), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# -- Training --------------------------------------------------------------------------


@dataclass
class TrainResult:
    model: keras.Model
    config: TrainConfig
    history: dict[str, list[float]]
    seconds: float
    epochs_done: int
    cancelled: bool = False
    stopped_by_budget: bool = False
    train_size: int = 0
    notes: list[str] = field(default_factory=list)


def compile_model(model: keras.Model, config: TrainConfig, steps: int, *, warmup: bool = True) -> None:
    """Adam with a short warm-up and cosine decay: fast, stable short runs.

    warmup=False starts at the full learning rate: the fine-tune phase, on a trained network.
    """
    if warmup:
        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate * 0.1,
            decay_steps=max(1, steps),
            warmup_target=config.learning_rate,
            warmup_steps=max(1, steps // 10),
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=max(1, steps))
    optimizer = (
        keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
        if config.weight_decay
        else keras.optimizers.Adam(schedule)
    )
    # Integer labels with label smoothing need the categorical loss on one-hot targets.
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def finetune(
    model: keras.Model,
    config: TrainConfig,
    mnist: Mnist,
    callbacks: list[keras.callbacks.Callback],
    verbose: int = 0,
    pendigits_path=None,
) -> dict[str, list[float]]:
    """The last phase: `finetune_epochs` on fresh pen renderings at a tenth of the learning rate.

    Then the weights are blended with those from before the phase (`finetune_blend`).
    Returns the phase's history.
    """
    before = model.get_weights()
    fx, fy = finetune_arrays(config, mnist, pendigits_path)
    steps = int(np.ceil(len(fx) / config.batch_size)) * config.finetune_epochs
    gentle = config.replace(learning_rate=config.learning_rate / 10)
    compile_model(model, gentle, steps, warmup=False)  # a fresh optimizer for the phase
    history = model.fit(
        _dataset(fx, keras.utils.to_categorical(fy, architectures.NUM_CLASSES), config),
        epochs=config.finetune_epochs,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    blend = config.finetune_blend
    if blend != 1.0:
        after = model.get_weights()
        model.set_weights([(1 - blend) * b + blend * a for b, a in zip(before, after, strict=True)])
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def train(
    config: TrainConfig,
    mnist: Mnist,
    *,
    callbacks: list[keras.callbacks.Callback] | None = None,
    cancel: threading.Event | None = None,
    report: Callable[[dict], None] | None = None,
    verbose: int = 0,
    pendigits_path=None,
) -> TrainResult:
    """Build, compile and fit `config.architecture` on MNIST; seeded, so a rerun repeats it."""
    keras.utils.set_random_seed(config.seed)
    x, y = training_arrays(config, mnist, pendigits_path)
    y_onehot = keras.utils.to_categorical(y, architectures.NUM_CLASSES)
    steps_per_epoch = int(np.ceil(len(x) / config.batch_size))

    model = architectures.build(config.architecture, config.api)
    compile_model(model, config, steps_per_epoch * config.epochs)

    extra = list(callbacks or [])
    canceller = CancelOnEvent(cancel) if cancel is not None else None
    budget = TimeBudget(config.time_budget) if config.time_budget else None
    extra += [c for c in (canceller, budget) if c is not None]
    if report is not None:
        extra.append(ProgressReporter(report))

    start = time.perf_counter()
    history = model.fit(
        _dataset(x, y_onehot, config),
        epochs=config.epochs,
        callbacks=extra,
        verbose=verbose,
        shuffle=False,  # the dataset is already shuffled (seeded); Keras warns otherwise
    )
    histories = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    cancelled = bool(canceller and canceller.cancelled)
    exhausted = bool(budget and budget.exhausted)
    if config.finetune_epochs and config.pen_writers and not (cancelled or exhausted):
        for k, vs in finetune(model, config, mnist, extra, verbose, pendigits_path).items():
            histories.setdefault(k, []).extend(vs)
    seconds = time.perf_counter() - start
    return TrainResult(
        model=model,
        config=config,
        history=histories,
        seconds=seconds,
        epochs_done=len(histories.get("loss", [])),
        cancelled=bool(canceller and canceller.cancelled),  # also during the fine-tune phase
        stopped_by_budget=bool(budget and budget.exhausted),
        train_size=len(x),
    )
