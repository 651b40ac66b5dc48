"""Learning from corrections: a short fine-tune of a trained model on one person's corrected drawings.

Each correction is drawn again several times from its strokes, the way the project makes training data
from pen digits (pendigits.distort re-shapes the path, pendigits.random_render picks a size, place and
pen width, the app's preprocessing makes the 28x28 input, training.augment slants and shifts it), and
mixed with replayed MNIST and pen digits of the tuning writers, so that what the model already reads
well is not forgotten. A seeded share of the corrections is held out: the new model's card states how
the base model and the new one read those drawings, which neither trained on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import keras
import numpy as np

from digitdraw import modelio, pendigits, penpath
from digitdraw.data import Mnist, to_model_input
from digitdraw.training import CancelOnEvent, Progress, ProgressCallback, TimeBudget

NOT_A_DIGIT = 10  # a correction meaning "this is not a digit": a 10-class model cannot learn it
REPLAY_WRITERS = pendigits.TUNE_WRITERS  # the pen digits replayed: the tuning writers, never 25-30


class FinetuneError(ValueError):
    """The fine-tune cannot run on this input; `str()` says why, in words for the person."""


class Correction(Protocol):
    """What a correction needs to be learned from: feedback.Drawing and feedback.ImportLine fit."""

    label: int
    strokes: Sequence  # pendigits stroke format: strokes -> points -> [x, y]
    image: np.ndarray  # (28, 28) float32: the model input the app made when it was drawn


@dataclass(frozen=True)
class FinetuneSettings:
    """The recipe of a fine-tune; stored in the new model's card as is."""

    # Round 3 (docs/experiments.md, "Personal fine-tune, round 3"): twice the renderings and less replay
    # put a third of the training images on the person's own digits: writer 28's errors fall to 0.37 and
    # 0.19 of the base's on two splits where 8 renderings and 5,500 replayed images left 0.52 and 0.58.
    # Round 4 ("Personal fine-tune, round 4"): 2,000 pen digits and 1,500 MNIST images replayed where
    # 1,000 and 2,500 were: replayed drawn digits, more than scans, keep how other people's drawn
    # digits are read; with `enough`, no writer's fine-tune cost the other writers on the three splits.
    copies: int = 16  # renderings of each training correction (distorted, random size/place/width)
    mnist_replay: int = 1500  # MNIST training images mixed in
    pen_replay: int = 2000  # pen digits of writers 1-24 mixed in, one rendering each
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 5e-4  # a sixth of a fresh run's 3e-3: move the weights, not rebuild them
    augment: bool = True  # training.augment on every batch (slant, rotation, scale, shift)
    hold_out: float = 0.2  # share of the corrections kept out of training, to measure on
    # Batch norm keeps the base model's statistics (Keras runs a frozen BatchNormalization in inference
    # mode): a few hundred drawn digits should not re-centre what 100,000 images measured.
    freeze_batchnorm: bool = True
    # Only the dense layers learn: the convolutions' features serve any handwriting, a person's few
    # hundred drawings reshape the head. About half the training arithmetic, and on the single cnn no
    # writer's fine-tune cost the other writers, where training everything cost them up to 0.24 points.
    freeze_convolutions: bool = True
    # A rendering of a correction stops teaching once the model gives its label this probability
    # (1: never): drawings the model already reads right are not pushed on towards certainty, which
    # spreads the person's shapes over other people's look-alike digits (round 4: a quarter fewer of
    # the other writers' drawings changed answer, for a little less of the person's gain).
    enough: float = 0.7
    # The pen-path reader (digitdraw.penpath) learns the person's strokes too, from the same training
    # corrections: the order and direction of their strokes are theirs even more than their shapes are,
    # and the shipped reader knows 24 writers' habits only. Replayed pen digits (pen_replay of them,
    # reshaped, in the stroke orders other people use) keep how the others are read.
    reader: bool = True
    reader_learning_rate: float = 5e-4
    min_corrections: int = 10  # fewer digits than this teach noise, and leave nothing to measure on
    time_budget: float | None = None  # seconds of training, then stop after the batch


def settings_with(pairs: Sequence[str], settings: FinetuneSettings | None = None) -> FinetuneSettings:
    """`settings` (default: FinetuneSettings()) with NAME=VALUE changes, each typed like its field's
    default: the command line's `--set` (digitdraw finetune, bench/personal.py). FinetuneError says
    which pair is wrong."""
    settings = settings or FinetuneSettings()
    fields = {f.name: f for f in dataclasses.fields(FinetuneSettings)}
    changes: dict[str, object] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields or not text:
            raise FinetuneError(f"--set {pair}: use NAME=VALUE with NAME one of {', '.join(fields)}.")
        default = fields[name].default
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                changes[name] = text.lower() in ("true", "1")
            else:
                changes[name] = (float if default is None else type(default))(text)
        except ValueError:
            raise FinetuneError(f"--set {pair}: {text!r} is not a valid {name}.") from None
    return check_settings(dataclasses.replace(settings, **changes))


@dataclass
class FinetuneResult:
    """What a fine-tune did. `path` is None when it was cancelled (nothing is saved then)."""

    path: Path | None
    card: dict
    model: keras.Model
    before: float | None  # base model's accuracy on the held-out corrections (None: none held out)
    after: float | None  # the new model's, on the same drawings
    held_out: int
    trained_on: int
    held_out_indices: list[int]  # positions in the given corrections of those kept out of training
    seconds: float  # wall time from the call to the saved file
    cancelled: bool = False
    history: dict[str, list[float]] = field(default_factory=dict)


def split_corrections(labels: Sequence[int], share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, held-out) indices: about `share` of each digit's corrections held out.

    Per digit, so a person's few 7s are not all on one side; a digit with a single correction
    stays in training (learning it matters more than one measurement of it).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for digit in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        if len(idx) > 1:
            held.extend(idx[: int(round(share * len(idx)))].tolist())
    held_mask = np.zeros(len(labels), bool)
    held_mask[held] = True
    return np.flatnonzero(~held_mask), np.flatnonzero(held_mask)


def _pen_digit(correction: Correction) -> pendigits.PenDigit:
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in correction.strokes]
    return pendigits.PenDigit(label=int(correction.label), writer=0, strokes=[s for s in strokes if len(s)])


# A digit whose MNIST accuracy a fine-tune lowered by this many points or more is named (class_drops).
DROP_POINTS = 3.0


def class_drops(card: dict, points: float = DROP_POINTS) -> list[tuple[int, float, float]]:
    """(digit, base accuracy, new accuracy) on MNIST for each digit a fine-tune's model reads at least
    `points` worse than its base, worst first. Corrections of one digit that look like another teach
    the model that other digit's shape too: a learner's open 9s drawn like 4s took the model's 4s from
    99.6% to 82.9% while the overall figure fell 1.6 points (qa26)."""
    base = (card.get("base_model") or {}).get("per_class_accuracy")
    new = card.get("per_class_accuracy")
    if not isinstance(base, list) or not isinstance(new, list) or len(base) != len(new):
        return []
    drops = [(d, float(b), float(a)) for d, (b, a) in enumerate(zip(base, new, strict=True))]
    return sorted([x for x in drops if 100 * (x[1] - x[2]) >= points], key=lambda x: x[2] - x[1])


def _check(base_model, out, corrections: Sequence[Correction], settings: FinetuneSettings):
    """Everything that can be refused is refused here, before a second of training."""
    base_path = modelio.resolve(base_model)  # ModelFileError names the known models
    out = Path(out)
    if not (out.name.endswith(modelio.FULL_SUFFIX) or out.name.endswith(modelio.WEIGHTS_SUFFIX)):
        raise FinetuneError(f"{out}: a model file ends in {modelio.FULL_SUFFIX} or {modelio.WEIGHTS_SUFFIX}.")
    if (
        out.resolve() == base_path.resolve()
        or modelio.card_path(out).resolve() == modelio.card_path(base_path).resolve()
    ):
        raise FinetuneError(f"{out}: that is the base model's file; choose another name for the new model.")
    if not corrections:
        raise FinetuneError(
            "No corrections to learn from: correct some drawings on the Draw page "
            "(or `digitdraw feedback import FILE.jsonl`) first."
        )
    positions = [i for i, c in enumerate(corrections) if int(c.label) != NOT_A_DIGIT]
    digits = [corrections[i] for i in positions]
    if len(digits) < settings.min_corrections:
        skipped = len(corrections) - len(digits)
        why = f" ({skipped} of them say 'not a digit', which a digit model cannot learn)" if skipped else ""
        raise FinetuneError(
            f"Fine-tuning needs at least {settings.min_corrections} corrections with a digit label; "
            f"there are {len(digits)}{why}."
        )
    for i, c in zip(positions, digits, strict=True):
        if not 0 <= int(c.label) <= 9:
            raise FinetuneError(f"correction {i}: label {c.label!r} is not a digit 0-9.")
        if not any(len(s) for s in c.strokes):
            raise FinetuneError(f"correction {i} (a {c.label}) has no strokes to draw.")
        if np.shape(c.image) != (28, 28):
            raise FinetuneError(f"correction {i}: its model input is {np.shape(c.image)}, not 28x28.")
    check_settings(settings)
    return base_path, out, positions


def check_settings(settings: FinetuneSettings) -> FinetuneSettings:
    """`settings`, or FinetuneError naming the first value no fine-tune can use (NaN included)."""
    if not 0 < settings.enough <= 1:
        raise FinetuneError(f"enough must be a probability in (0, 1], got {settings.enough!r}.")
    if not 0 <= settings.hold_out < 1:
        raise FinetuneError(f"hold_out must be a share in [0, 1), got {settings.hold_out!r}.")
    if settings.copies < 1 or settings.epochs < 1 or settings.batch_size < 1:
        raise FinetuneError("copies, epochs and batch_size must each be at least 1.")
    for name in ("learning_rate", "reader_learning_rate"):
        rate = getattr(settings, name)
        if not (math.isfinite(rate) and rate > 0):
            raise FinetuneError(f"{name} must be a positive number, got {rate!r}.")
    if settings.mnist_replay < 0 or settings.pen_replay < 0:
        raise FinetuneError(
            f"mnist_replay and pen_replay are counts of images, 0 or more "
            f"(got {settings.mnist_replay} and {settings.pen_replay})."
        )
    if settings.min_corrections < 1:
        raise FinetuneError(f"min_corrections must be at least 1, got {settings.min_corrections}.")
    budget = settings.time_budget
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise FinetuneError(f"time_budget must be a positive number of seconds, got {budget!r}.")
    return settings


def training_arrays(
    corrections: Sequence[Correction],
    mnist: Mnist,
    pendigits_path: str | os.PathLike | None,
    settings: FinetuneSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Renderings of the corrections, then replayed MNIST and pen digits: (n, 28, 28) float32, (n,)
    labels, and how many of the first images are the corrections' renderings."""
    px, py = pendigits.rendered_dataset(
        [_pen_digit(c) for c in corrections], rng, copies=settings.copies, distorted=True
    )
    parts_x, parts_y = [px], [py.astype(np.int64)]
    if settings.mnist_replay:
        order = rng.permutation(len(mnist.x_train))[: settings.mnist_replay]
        parts_x.append(to_model_input(mnist.x_train[order]))
        parts_y.append(mnist.y_train[order].astype(np.int64))
    if settings.pen_replay:
        writers = pendigits.load_pendigits(pendigits_path, writers=pendigits.TUNE_WRITERS)
        chosen = rng.permutation(len(writers))[: settings.pen_replay]
        wx, wy = pendigits.rendered_dataset([writers[i] for i in chosen], rng, distorted=True)
        parts_x.append(wx)
        parts_y.append(wy.astype(np.int64))
    return np.concatenate(parts_x).astype(np.float32), np.concatenate(parts_y), len(px)


def reader_arrays(
    corrections: Sequence[Correction],
    pendigits_path: str | os.PathLike | None,
    settings: FinetuneSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The pen-path reader's training set: each correction's strokes as drawn and `copies` times
    reshaped, in the person's own order; then `pen_replay` pen digits of the tuning writers, reshaped and
    sometimes reordered (penpath.reordered) as the reader was trained. (n, POINTS, FEATURES) sequences,
    (n,) labels, and how many of the first are the corrections'."""
    own = [_pen_digit(c) for c in corrections]
    shapes = [d.strokes for d in own]
    shapes += [pendigits.distort(d, rng).strokes for _ in range(settings.copies) for d in own]
    labels = [d.label for d in own] * (settings.copies + 1)
    n_own = len(shapes)
    if settings.pen_replay:
        writers = pendigits.load_pendigits(pendigits_path, writers=pendigits.TUNE_WRITERS)
        for i in rng.permutation(len(writers))[: settings.pen_replay]:
            shapes.append(penpath.reordered(pendigits.distort(writers[i], rng).strokes, rng, penpath.REORDER))
            labels.append(writers[i].label)
    return np.stack([penpath.sequence(s) for s in shapes]), np.asarray(labels, np.int64), n_own


def finetune_reader(
    reader: keras.Model,
    corrections: Sequence[Correction],
    pendigits_path: str | os.PathLike | None,
    settings: FinetuneSettings,
    seed: int,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> keras.Model:
    """`reader` (a pen-path network) trained a little on the corrections' strokes, with the pixel
    fine-tune's loss (UntilEnough), epochs and batch size: a new, uncompiled model."""
    rng = np.random.default_rng([seed, 1])  # its own stream: the pixels' fine-tune draws as before
    x, y, own = reader_arrays(corrections, pendigits_path, settings, rng)
    targets = training_targets(y, own, int(reader.output_shape[-1]), settings.enough)
    steps = int(np.ceil(len(x) / settings.batch_size)) * settings.epochs
    rate = keras.optimizers.schedules.CosineDecay(settings.reader_learning_rate, decay_steps=max(1, steps))
    reader.compile(optimizer=keras.optimizers.Adam(rate), loss=UntilEnough())
    reader.fit(x, targets, settings.batch_size, settings.epochs, verbose=0, callbacks=callbacks)
    return _fresh_copy(reader)


def training_targets(y: np.ndarray, own: int, classes: int, enough: float) -> np.ndarray:
    """What each image is learned towards, side by side in one (n, classes + 1) array: its one-hot
    label, and the probability of its label past which it stops teaching: `enough` for the
    corrections' renderings (the first `own`), 1 (never) for the replayed images. See UntilEnough."""
    stop = np.ones((len(y), 1), np.float32)
    stop[:own] = enough
    return np.concatenate([np.eye(classes, dtype=np.float32)[y], stop], axis=1)


class UntilEnough(keras.losses.Loss):
    """Cross-entropy to the label, less -log(enough) and never below 0: an image whose label the model
    gives more than `enough` of the probability teaches nothing more. y_true is a training_targets row."""

    def __init__(self):
        super().__init__(name="until_enough")

    def call(self, y_true, y_pred):
        ops = keras.ops
        label, enough = y_true[:, :-1], y_true[:, -1]
        log_q = ops.log(ops.clip(y_pred, 1e-7, 1.0))  # the ensemble's output is probabilities, not logits
        return ops.maximum(-ops.sum(label * log_q, axis=-1) + ops.log(enough), 0.0)


def _label_accuracy(y_true, y_pred):
    return keras.ops.cast(
        keras.ops.argmax(y_true[:, :-1], axis=-1) == keras.ops.argmax(y_pred, axis=-1), "float32"
    )


def _dataset(x: np.ndarray, y: np.ndarray, settings: FinetuneSettings, seed: int):
    import tensorflow as tf

    from digitdraw.training import augment

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(settings.batch_size)
    if settings.augment:
        ds = ds.map(lambda a, b: (augment(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _accuracy(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    paths: list | None = None,
    reader: penpath.PathReader | None = None,
) -> float | None:
    """How many of the images `model` reads right, with their strokes pooled by `reader` as the Draw page
    reads a canvas (its pixels alone without one); None for no images."""
    if not len(labels):
        return None
    from digitdraw.predict import Predictor

    got = Predictor(model, pen_path=reader).outputs(images, paths if reader is not None else None)
    return float((got.probabilities.argmax(axis=1) == labels).mean())


def _fresh_copy(model: keras.Model) -> keras.Model:
    """The same weights in a new, uncompiled model: no optimizer state and no training loss in the saved
    file (clone_model would compile the copy like the original, with this module's loss)."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def finetune_on_corrections(
    base_model: str | os.PathLike,
    corrections: Sequence[Correction],
    mnist: Mnist,
    pendigits_path: str | os.PathLike | None = None,
    *,
    out: str | os.PathLike,
    seed: int = 0,
    settings: FinetuneSettings | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    lock=None,
    measure_mnist: bool = True,
    command: str = "",
    verbose: int = 0,
) -> FinetuneResult:
    """Fine-tune `base_model` (a path or a model name) on `corrections` and save it to `out` with a card.

    Corrections labelled "not a digit" are left out (a digit model has no such answer). FinetuneError
    (or modelio.ModelFileError for the base model) says what is wrong before any training; pendigits
    missing is a FileNotFoundError naming the setting (settings.pen_replay=0 runs without it).
    `callbacks` and `cancel` work as in training.train, and `progress` (written under `lock`) as for the
    app's jobs; a cancelled run saves nothing.
    """
    start = time.perf_counter()
    settings = settings or FinetuneSettings()
    base_path, out, positions = _check(base_model, out, corrections, settings)
    digits = [corrections[i] for i in positions]
    base_card = modelio.read_card(base_path) or {}
    model = modelio.load(base_path)

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    labels = np.array([int(c.label) for c in digits])
    train_idx, held_idx = split_corrections(labels, settings.hold_out, seed)
    held_x = np.stack([np.asarray(digits[i].image, np.float32) for i in held_idx]) if len(held_idx) else None
    held_y = labels[held_idx]
    held_paths = [_pen_digit(digits[i]).strokes for i in held_idx]
    base_reader = _base_reader(base_path, base_card)
    before = _accuracy(model, held_x, held_y, held_paths, base_reader)

    x, y, own = training_arrays([digits[i] for i in train_idx], mnist, pendigits_path, settings, rng)
    targets = training_targets(y, own, int(model.output_shape[-1]), settings.enough)
    steps = int(np.ceil(len(x) / settings.batch_size)) * settings.epochs
    if settings.freeze_batchnorm:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    if settings.freeze_convolutions:
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                layer.trainable = False
    schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=max(1, steps))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=UntilEnough(),
        metrics=[keras.metrics.MeanMetricWrapper(_label_accuracy, name="accuracy")],
    )
    extra = list(callbacks or [])
    canceller = CancelOnEvent(cancel) if cancel is not None else None
    budget = TimeBudget(settings.time_budget) if settings.time_budget else None
    extra += [c for c in (canceller, budget) if c is not None]
    if progress is not None:
        extra.append(ProgressCallback(progress, lock))
    cancelled = bool(cancel is not None and cancel.is_set())  # cancelled while rendering
    history: dict[str, list[float]] = {}
    if not cancelled:
        fit = model.fit(
            _dataset(x, targets, settings, seed),
            epochs=settings.epochs,
            callbacks=extra,
            verbose=verbose,
            shuffle=False,  # the dataset is shuffled (seeded); Keras warns otherwise
        )
        history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
        cancelled = bool(canceller and canceller.cancelled)
    train_seconds = time.perf_counter() - start

    new = _fresh_copy(model)
    reader, reader_entry = base_reader, None
    base_entry = base_card.get("pen_path")
    if base_reader is not None and not cancelled:
        reader_entry = {**base_entry, "from_base": str(base_path)}
        if settings.reader:
            left = None if budget is None else max(1e-3, settings.time_budget - train_seconds)
            train_digits = [digits[i] for i in train_idx]
            reader, cancelled = _personal_reader(
                base_reader, train_digits, pendigits_path, settings, seed, cancel, left
            )
            # Its own entry: the base reader's figures and command describe another network now.
            reader_entry = {
                "weight": base_reader.weight,
                "from_base": str(base_path),
                "base_reader": {k: v for k, v in base_entry.items() if k != "file"},
                "finetuned": {
                    "corrections": len(train_idx),
                    "copies": settings.copies,
                    "replayed_pen_digits": settings.pen_replay,
                    "epochs": settings.epochs,
                    "learning_rate": settings.reader_learning_rate,
                    "seed": seed,
                },
            }
    after = _accuracy(new, held_x, held_y, held_paths, reader)
    test = None
    if measure_mnist and not cancelled:
        from digitdraw.evaluate import score
        from digitdraw.predict import Predictor

        test = score(Predictor(new).probabilities(mnist.x_test), mnist.y_test)

    card = {
        "name": modelio.model_name(out) or out.stem,
        "architecture": base_card.get("architecture", "unknown"),
        "api": base_card.get("api", "sequential"),
        # An ensemble's member count: what rebuilds it when only the weights are saved (modelio.load).
        **({"members": base_card["members"]} if base_card.get("members") else {}),
        "parameters": int(new.count_params()),
        "layers": [layer.name for layer in new.layers],
        "data": {
            "source": f"{len(train_idx)} corrections x {settings.copies} renderings + {mnist.source} "
            f"({settings.mnist_replay}) + pen digits of writers {REPLAY_WRITERS} ({settings.pen_replay})",
            "train_images": len(x),
            "test_images": int(len(mnist.y_test)) if test is not None else 0,
            "pen_writers": REPLAY_WRITERS if settings.pen_replay else None,
            "pen_copies": 1 if settings.pen_replay else 0,
        },
        "base_model": {
            "name": modelio.model_name(base_path) or base_path.name,
            "path": str(base_path),
            "test_accuracy": base_card.get("test_accuracy"),
            "per_class_accuracy": base_card.get("per_class_accuracy"),
        },
        "corrections": {
            "given": len(corrections),
            "not_a_digit_left_out": len(corrections) - len(digits),
            "trained_on": len(train_idx),
            "held_out": len(held_idx),
            "held_out_share": settings.hold_out,
            "held_out_accuracy_before": None if before is None else round(before, 6),
            "held_out_accuracy_after": None if after is None else round(after, 6),
            "how": f"about {settings.hold_out:.0%} of each digit's corrections (seed {seed}) kept out of "
            "training; read as the Draw page reads them: the input it made when they were drawn, "
            "pooled with the model's pen-path reader where it has one",
        },
        "training": {"kind": "finetune on corrections", **dataclasses.asdict(settings), "seed": seed},
        "epochs": len(history.get("loss", [])),
        "batch_size": settings.batch_size,
        "seed": seed,
        "training_seconds": round(train_seconds, 1),
        "cancelled": cancelled,
        "stopped_by_time_budget": bool(budget and budget.exhausted),
        "history": history,
        "test_accuracy": None if test is None else round(test.accuracy, 6),
        "per_class_accuracy": None if test is None else [round(a, 6) for a in test.per_class],
        "drawn_digit_accuracy": None,
        "versions": _versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
    }
    if reader_entry is not None and not cancelled:
        # Beside the new model, named in its card: the base's reader fine-tuned, or a copy of it.
        mine = penpath.file_beside(out)
        if reader is base_reader:
            modelio.copy_companion(penpath.reader_file(base_path, base_entry), mine)
        else:
            modelio.save_companion(reader.model, mine)
        card["pen_path"] = {**reader_entry, "file": mine.name}
    path = None if cancelled else modelio.save(new, out, card)
    return FinetuneResult(
        path=path,
        card=card,
        model=new,
        before=before,
        after=after,
        held_out=len(held_idx),
        trained_on=len(train_idx),
        held_out_indices=[positions[i] for i in held_idx],
        seconds=time.perf_counter() - start,
        cancelled=cancelled,
        history=history,
    )


def _base_reader(base_path: Path, base_card: dict) -> penpath.PathReader | None:
    """The reader the base's card names, as predict.Predictor loads it; None where there is none or it
    cannot be used (the base reads its pixels alone then, and so does its fine-tune)."""
    entry = base_card.get("pen_path")
    try:
        return penpath.PathReader.beside(base_path, entry) if entry else None
    except penpath.UNUSABLE:
        return None


def _personal_reader(
    base: penpath.PathReader,
    corrections: Sequence[Correction],
    pendigits_path: str | os.PathLike | None,
    settings: FinetuneSettings,
    seed: int,
    cancel: threading.Event | None,
    seconds: float | None,
) -> tuple[penpath.PathReader, bool]:
    """The base's reader fine-tuned on the corrections' strokes (`cancel` and `seconds` of time budget as
    for the pixels), and whether the run was cancelled meanwhile."""
    canceller = CancelOnEvent(cancel) if cancel is not None else None
    callbacks = [c for c in (canceller, seconds and TimeBudget(seconds)) if c]
    # A copy: the base's network is shared by every model that reads with it (penpath._load).
    tuned = finetune_reader(_fresh_copy(base.model), corrections, pendigits_path, settings, seed, callbacks)
    return penpath.PathReader(tuned, base.weight), bool(canceller is not None and canceller.cancelled)


def _versions() -> dict[str, str]:
    from digitdraw.cards import versions

    return versions()
