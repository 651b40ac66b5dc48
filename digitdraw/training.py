"""`train`: runs a recipe (digitdraw.recipe.TrainConfig) with Keras's compile/fit.

The callbacks here are the only hooks a caller needs: progress (the app's live charts),
cancellation after the current batch, and a time budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
from dataclasses import dataclass, field

import cv2
import keras
import numpy as np
import tensorflow as tf

from digitdraw import architectures, distribute, pendigits, styles
from digitdraw.data import Mnist, to_model_input
from digitdraw.preprocess import preprocess
from digitdraw.recipe import TrainConfig

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


class _Batches(keras.callbacks.Callback):
    """Counts the batches trained (where a run stops part way through an epoch)."""

    n = 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1


class EpochLines(keras.callbacks.Callback):
    """One plain line an epoch, for a log file or a pipe, where Keras's redrawn bar would be
    a mess of carriage returns: "epoch 2/4: loss 0.0712, accuracy 0.9786 (3.1 s)"."""

    def __init__(self, stream=None) -> None:
        super().__init__()
        self.stream = stream

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        numbers = ", ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if k != "learning_rate")
        seconds = time.perf_counter() - self.start
        stream = self.stream or sys.stdout  # read now: a test (or the user) may swap sys.stdout
        print(
            f"epoch {epoch + 1}/{self.params.get('epochs')}: {numbers} ({seconds:.1f} s)",
            file=stream,
            flush=True,
        )


@dataclass
class Progress:
    """How far a run has come: written by `ProgressCallback`, read as a `copy()`.

    `epoch` is the epoch under way, or the last one ended (1-based; 0 before the first batch);
    `step` the batches of it done. At an epoch's end they stay as they are (469 of 469), so
    the count never runs backwards; the next epoch's first batch moves them on.
    """

    epoch: int = 0
    step: int = 0
    steps: int = 0  # batches an epoch, 0 until fit() says
    started: float | None = None  # time.perf_counter() at fit(): data loading and tracing come before
    # time.perf_counter() when `done` was last measured (a batch's or an epoch's end): the estimate of
    # the time left counts down from there, and does not rise while an epoch ends (its evaluation).
    measured: float | None = None
    batches: list[dict] = field(default_factory=list)  # {"epoch", "step", "x" (epochs), "elapsed", metrics}
    epoch_end: list[dict] = field(default_factory=list)  # {"epoch", "partial", "elapsed", metrics}

    @property
    def done(self) -> int:
        """Batches trained so far, across epochs."""
        return max(0, self.epoch - 1) * self.steps + self.step

    def copy(self) -> Progress:
        return dataclasses.replace(self, batches=list(self.batches), epoch_end=list(self.epoch_end))


class ProgressCallback(keras.callbacks.Callback):
    """Writes a run's progress into `progress`, under `lock` when readers share it (the app's worker).

    The count moves with every batch; about `points_per_epoch` batches an epoch are kept for
    the curves, whatever its length: a curve for a 1,000-image run, and bookkeeping that costs
    nothing next to training on 60,000.
    """

    def __init__(self, progress: Progress, lock=None, points_per_epoch: int = 40) -> None:
        super().__init__()
        self.progress = progress
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self.points_per_epoch = points_per_epoch
        self.every = 1
        self.epoch = 0

    def on_train_begin(self, logs=None):
        steps = int(self.params.get("steps") or 0)
        self.every = max(1, steps // self.points_per_epoch)
        with self.lock:
            self.progress.steps = steps
            if self.progress.started is None:
                self.progress.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        step, p = batch + 1, self.progress
        with self.lock:  # every batch moves the count; only every few make a point on the curves
            p.epoch, p.step, p.measured = self.epoch, step, time.perf_counter()
            if step % self.every == 0 or step == p.steps:
                x = round(self.epoch - 1 + step / max(1, p.steps), 4)
                p.batches.append({"epoch": self.epoch, "step": step, "x": x, **self._numbers(logs)})

    def on_epoch_end(self, epoch, logs=None):
        p = self.progress
        with self.lock:
            p.measured = time.perf_counter()  # the epoch's evaluation is part of what a batch costs
            # Keras ends the epoch even when a cancel or the budget stopped it mid-way; the
            # last batch of a whole epoch is always kept, so its absence tells.
            last = p.batches[-1] if p.batches else {}
            whole = last.get("epoch") == self.epoch and last.get("step") == p.steps
            p.epoch_end.append({"epoch": self.epoch, "partial": not whole, **self._numbers(logs)})

    def _numbers(self, logs: dict | None) -> dict:
        elapsed = time.perf_counter() - (self.progress.started or time.perf_counter())
        return {"elapsed": elapsed, **{k: float(v) for k, v in (logs or {}).items()}}


# -- Data ------------------------------------------------------------------------------


# Augmentation ranges: slant and rotation as in handwriting, hardly any shift or zoom, since
# the app's preprocessing already puts every digit at MNIST's size and centre.
ROTATION = 0.26  # radians, about +-15 degrees
SHEAR = 0.2  # horizontal slant
SCALE = 0.06  # +-6%
SHIFT = 1.0  # pixels


def augment(images):
    """Random rotation, slant, scale and shift of a batch (b, 28, 28), in ONE resampling.

    Keras's RandomRotation, RandomShear, RandomZoom and RandomTranslation each resample the
    image; stacked, they blur strokes far beyond anything the app's pipeline produces.
    """
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
    zeros = tf.zeros([n])
    transform = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    out = keras.ops.image.affine_transform(
        images[..., None], transform, interpolation="bilinear", fill_mode="constant"
    )
    return out[..., 0]


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
        digits = pendigits.load_pendigits(pendigits_path, writers=config.pen_writers)
        px, py = pendigits.rendered_dataset(
            digits, rng, copies=config.pen_copies, distorted=config.pen_distort
        )
        x = np.concatenate([x, px.astype(np.float32)])
        y = np.concatenate([y, py.astype(y.dtype)])
    if config.pen_writers and config.pen_styles > 0:  # after the plain ones: without styles, as before
        digits = pendigits.load_pendigits(pendigits_path, writers=config.pen_writers)
        sx, sy = styled_pen_arrays(digits, config, rng)
        x = np.concatenate([x, sx])
        y = np.concatenate([y, sy.astype(y.dtype)])
    return x, y


def styled_pen_arrays(digits, config: TrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each pen digit redrawn `config.pen_styles` times in every style of its class, rendered
    (and distorted, with `pen_distort`) like the plain pen digits."""
    redrawn = [
        d for name in styles.STYLES for d in styles.styled_digits(digits, name, rng, copies=config.pen_styles)
    ]
    x, y = pendigits.rendered_dataset(redrawn, rng, distorted=config.pen_distort)
    return x.astype(np.float32), y


def finetune_arrays(config: TrainConfig, mnist: Mnist, pendigits_path=None) -> tuple[np.ndarray, np.ndarray]:
    """The last phase's data: new renderings of the pen digits and `finetune_mnist` MNIST images."""
    rng = np.random.default_rng(config.seed + 1)  # other renderings than the main phase's
    digits = pendigits.load_pendigits(pendigits_path, writers=config.pen_writers)
    copies = max(1, config.pen_copies)
    px, py = pendigits.rendered_dataset(digits, rng, copies=copies, distorted=config.pen_distort)
    order = rng.permutation(len(mnist.x_train))[: config.finetune_mnist]
    x = np.concatenate([px.astype(np.float32), to_model_input(mnist.x_train[order])])
    y = np.concatenate([py.astype(mnist.y_train.dtype), mnist.y_train[order]])
    if config.mnist_piped:  # the same images through the pipeline too, as in the main phase
        x = np.concatenate([x, through_pipeline(mnist.x_train[order])])
        y = np.concatenate([y, mnist.y_train[order]])
    if config.pen_styles > 0:  # fresh styled drawings too, so the blend keeps what the main phase taught
        sx, sy = styled_pen_arrays(digits, config, rng)
        x = np.concatenate([x, sx])
        y = np.concatenate([y, sy.astype(y.dtype)])
    return x, y


def through_pipeline(images: np.ndarray) -> np.ndarray:
    """MNIST images (n, 28, 28) uint8 as the app would see them drawn big: 280x280, then preprocess."""
    out = np.empty(images.shape, np.float32)
    for i, image in enumerate(images):
        result = preprocess(cv2.resize(image, (280, 280), interpolation=cv2.INTER_CUBIC))
        out[i] = result.image if result.image is not None else to_model_input(image[None])[0]
    return out


def _dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=config.seed)
    ds = ds.batch(config.batch_size)
    if config.augment:
        ds = ds.map(lambda a, b: (augment(a), b), num_parallel_calls=tf.data.AUTOTUNE)
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
    # Strategy, replicas, devices and scaled batch and rate of a distributed run (Distribution.summary).
    distribution: dict | None = None
    batches_done: int = 0  # in the main phase: where a run stopped early, how far it got
    batches_per_epoch: int = 0

    @property
    def _part_way(self) -> int:
        """The batches of an epoch a time limit or a cancel stopped part way (0: none was)."""
        if not (self.stopped_by_budget or self.cancelled) or not self.batches_per_epoch:
            return 0
        return self.batches_done % self.batches_per_epoch

    @property
    def epochs_trained(self) -> float:
        """Epochs trained, a fraction where a run was stopped part way through one (Keras keeps a
        history entry for the part, so a run stopped at batch 341 of 469 counted as 1 epoch: qa26)."""
        return round(self.batches_done / self.batches_per_epoch, 2) if self._part_way else self.epochs_done

    def how_far(self) -> str:
        """How far the run got, in words: "2 of 6 epochs", "batch 341 of 469 of epoch 1 of 6"."""
        if self._part_way:
            epoch = self.batches_done // self.batches_per_epoch + 1
            of_epoch = f"of epoch {epoch} of {self.config.epochs}"
            return f"batch {self._part_way:,} of {self.batches_per_epoch:,} {of_epoch}"
        return f"{self.epochs_done} of {self.config.epochs} epochs"


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
    # Integer labels, as in the keras-io MNIST examples: no one-hot copy of the targets.
    optimizer = keras.optimizers.Adam(schedule)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


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
    gentle = dataclasses.replace(config, learning_rate=config.learning_rate / 10)
    compile_model(model, gentle, steps, warmup=False)  # a fresh optimizer for the phase
    history = model.fit(
        _dataset(fx, fy, config),
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
    verbose: int = 0,
    pendigits_path=None,
) -> TrainResult:
    """Build, compile and fit `config.architecture` on MNIST; seeded, so a rerun repeats it."""
    keras.utils.set_random_seed(config.seed)
    # First, before TensorFlow sets up its devices: --cpu-replicas splits the CPU.
    dist = distribute.for_recipe(config)
    run = dist.scaled(config)  # global batch and learning rate: per replica times the replicas
    x, y = training_arrays(config, mnist, pendigits_path)
    steps_per_epoch = int(np.ceil(len(x) / run.batch_size))

    with dist.strategy.scope():  # the model's variables and the optimizer's are mirrored
        model = architectures.build(config.architecture, config.api)
        compile_model(model, run, steps_per_epoch * config.epochs)

    extra = list(callbacks or [])
    canceller = CancelOnEvent(cancel) if cancel is not None else None
    budget = TimeBudget(config.time_budget) if config.time_budget else None
    extra += [c for c in (canceller, budget) if c is not None]
    batches = _Batches()

    start = time.perf_counter()
    history = model.fit(
        _dataset(x, y, run),
        epochs=config.epochs,
        callbacks=[*extra, batches],
        verbose=verbose,
        shuffle=False,  # the dataset is already shuffled (seeded); Keras warns otherwise
    )
    histories = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    stopped = bool(canceller and canceller.cancelled) or bool(budget and budget.exhausted)
    if config.finetune_epochs and config.pen_writers and not stopped:
        with dist.strategy.scope():
            phase = finetune(model, run, mnist, extra, verbose, pendigits_path)
        for k, vs in phase.items():
            histories.setdefault(k, []).extend(vs)
    seconds = time.perf_counter() - start
    return TrainResult(
        model=model,
        config=config,
        history=histories,
        seconds=seconds,
        epochs_done=len(histories.get("loss", [])),
        # Read after the fine-tune phase: a cancel or the budget may have stopped that one too.
        cancelled=bool(canceller and canceller.cancelled),
        stopped_by_budget=bool(budget and budget.exhausted),
        train_size=len(x),
        distribution=dist.summary(config) if config.distribute else None,
        batches_done=batches.n,
        batches_per_epoch=steps_per_epoch,
    )
