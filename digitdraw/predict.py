"""The one way a model answers: a compiled call of the model, never `model.predict()`.

`model.predict()` builds a data pipeline on every call (50-80 ms for one image here);
a traced `tf.function` over the model costs a few milliseconds and is safe to call from
several threads at once, which the app needs (one server, many sessions).

The traced call returns the probabilities and the penultimate features (layer `dense_128`, or
each ensemble member's side by side) in one go, so the not-a-digit score costs no second model
call. A Predictor made from a model file (`Predictor.from_file`) applies the calibration its
card stores (digitdraw.calibration, written by `digitdraw calibrate`): every probability it
gives is calibrated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import threadpoolctl

from digitdraw import calibration, ensemble, penpath
from digitdraw.architectures import FEATURE_LAYER  # noqa: F401 (callers name it from here)
from digitdraw.data import to_model_input

log = logging.getLogger(__name__)


def one_blas_thread() -> None:
    """Set this process up to answer many small requests at once: numpy's BLAS uses one thread.

    OpenBLAS spreads even a small matrix product (the not-a-digit detector's, a few per drawing)
    over every core, and its threads then spin-wait: ~50-80 ms of CPU per drawing on 2 cores, 10x
    the reading itself, taken from every other session. A server's parallelism comes from its
    sessions. The models' own threads (TensorFlow's) are not affected. Lasts for the process.
    """
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray  # (10,) float32, sums to 1

    def as_dict(self) -> dict:
        return {"digit": self.digit, "probabilities": [round(float(p), 6) for p in self.probabilities]}


@dataclass(frozen=True)
class Outputs:
    """What one traced call gives for a batch."""

    probabilities: np.ndarray  # (n, 10) float32, calibrated when the predictor has a temperature
    raw: np.ndarray  # (n, 10) the model's own softmax, before calibration
    features: np.ndarray | None  # (n, d) the penultimate layer; None when the model has no such layer
    not_a_digit: np.ndarray | None  # (n,) bool, refused as no digit; None without a detector
    pen_path: np.ndarray | None = None  # (n,) bool, the probabilities pooled with the pen's path's


def weights_digest(model: keras.Model) -> str:
    """A short fingerprint of a model's weights: a calibration belongs to these weights only."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


class Predictor:
    """Wraps a loaded Keras model for fast, thread-safe inference on 28x28 images.

    temperature: divides the logits (calibration.scale); 1.0 leaves the model's answers as they are.
    detector: says which inputs are not digits, from the features and probabilities.
    pen_path: reads the pen's strokes where a drawing comes with them (digitdraw.penpath); its
    probabilities are pooled with the model's calibrated ones. The detector reads the model alone.
    """

    BATCH = 1024  # bulk evaluation goes through the same path in chunks of this size

    def __init__(
        self,
        model: keras.Model,
        name: str | None = None,
        *,
        temperature: float = 1.0,
        detector: calibration.NotADigit | None = None,
        pen_path: penpath.PathReader | None = None,
    ) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, not {temperature}")
        self.model = model
        self.name = name or model.name
        self.temperature = float(temperature)
        self.detector = detector
        self.pen_path = pen_path
        try:
            # An ensemble's features are its members' side by side (digitdraw.ensemble).
            features = [layer.output for layer in ensemble.feature_layers(model)]
            both = keras.Model(model.inputs[0], [model.outputs[0], *features]) if features else None
        except (ValueError, AttributeError):  # another architecture: probabilities alone
            both = None
        self.has_features = both is not None
        if both is not None:

            def fn(x):
                probs, *feats = both(x, training=False)
                return probs, feats[0] if len(feats) == 1 else tf.concat(feats, axis=-1)
        else:

            def fn(x):
                return model(x, training=False), tf.zeros([tf.shape(x)[0], 0])

        # Traced once, here, before any thread can call it, and called as that one concrete function:
        # tf.function's dispatch on each call (binding the arguments, looking up the trace) cost
        # 0.1-0.2 ms a call (docs/experiments.md, twenty-third session). Nothing is traced later.
        spec = tf.TensorSpec([None, 28, 28], tf.float32)
        self._inner = fn  # for outputs_together's one call of several models
        self._fn = tf.function(fn, input_signature=[spec]).get_concrete_function()
        probs, feats = self._fn(tf.zeros([1, 28, 28], tf.float32))
        self._classes, self._width = int(probs.shape[-1]), int(feats.shape[-1])

    @classmethod
    def from_file(cls, path: str | os.PathLike, name: str | None = None) -> Predictor:
        """Load a model file with the calibration and not-a-digit detector its card stores.

        A calibration fitted to other weights (the model was retrained since) is ignored, with a
        warning: `digitdraw calibrate` fits it again.
        """
        from digitdraw import modelio

        path = Path(path)
        model = modelio.load(path)
        card = modelio.read_card(path) or {}
        temperature, detector = 1.0, None
        stored = card.get("calibration")
        if stored:
            if stored.get("weights") not in (None, weights_digest(model)):
                log.warning("%s: calibration was fitted to other weights; run `digitdraw calibrate`", path)
            else:
                temperature = float(stored["temperature"])
                if card.get("not_a_digit"):
                    try:
                        detector = calibration.NotADigit.load(card["not_a_digit"], path)
                    except (OSError, ValueError, KeyError) as exc:
                        # The model still reads digits: it just cannot refuse non-digits.
                        log.warning(
                            "%s: not-a-digit detector unusable (%s); run `digitdraw calibrate`", path, exc
                        )
        pen_path = None
        if card.get("pen_path"):
            try:
                pen_path = penpath.PathReader.beside(path, card["pen_path"])
            except penpath.UNUSABLE as exc:
                # The model still reads every drawing, from its pixels alone.
                log.warning("%s: pen-path reader unusable (%s); run `digitdraw penpath`", path, exc)
        return cls(
            model,
            name or modelio.model_name(path),
            temperature=temperature,
            detector=detector,
            pen_path=pen_path,
        )

    def outputs(
        self, images: np.ndarray, paths: Sequence[Sequence[np.ndarray] | None] | None = None
    ) -> Outputs:
        """(n, 28, 28) or (28, 28) images -> probabilities (calibrated), raw, features, refusals.

        paths: for each image, the pen's strokes that drew it (None where unknown); with a pen-path
        reader, those images' probabilities are pooled with the strokes' (penpath.combine)."""
        x = _batch(images)
        if len(x) == 0:  # a batch norm layer fails on an empty batch (oneDNN)
            raw, feats = np.zeros((0, self._classes), np.float32), np.zeros((0, self._width), np.float32)
        else:
            parts = [self._fn(tf.constant(x[i : i + self.BATCH])) for i in range(0, len(x), self.BATCH)]
            raw = np.concatenate([p.numpy() for p, _ in parts])
            feats = np.concatenate([f.numpy() for _, f in parts])
        return self._finish(raw, feats, paths)

    def _finish(
        self,
        raw: np.ndarray,
        feats: np.ndarray,
        paths: Sequence[Sequence[np.ndarray] | None] | None,
        path_probs: np.ndarray | None = None,
    ) -> Outputs:
        """outputs() from the network's raw probabilities and features; path_probs: the pen-path
        reader's probabilities for the images that have paths, where already at hand."""
        probs = raw if self.temperature == 1.0 else calibration.scale(raw, self.temperature)
        features = feats if self.has_features else None
        refused = None
        if self.detector is not None and features is not None:
            refused = self.detector.refuses(features, raw)
        used = None
        if self.pen_path is not None and paths is not None:
            if len(paths) != len(raw):
                raise ValueError(f"{len(paths)} pen paths for {len(raw)} images")
            used = np.array([bool(p) for p in paths])
            if used.any():
                rows = np.flatnonzero(used)
                if path_probs is None:
                    path_probs = self.pen_path.probabilities([paths[i] for i in rows])
                if refused is not None:  # a model that can refuse: also where its two witnesses differ
                    refused = refused.copy()
                    refused[rows] |= penpath.disagree(probs[rows], path_probs)
                probs = np.array(probs, copy=True)
                probs[rows] = penpath.combine(probs[rows], path_probs, self.pen_path.weight)
        return Outputs(probs, raw, features, refused, used)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(n, 28, 28) or (28, 28) images, uint8 or float in [0, 1] -> (n, 10) probabilities."""
        return self.outputs(images).probabilities

    def predict_one(self, image: np.ndarray) -> Prediction:
        """One 28x28 image -> its digit, the confidence, and all ten probabilities."""
        probs = self.probabilities(image)[0]
        digit = int(np.argmax(probs))
        return Prediction(digit, float(probs[digit]), probs)


def _batch(images: np.ndarray) -> np.ndarray:
    x = to_model_input(images)
    if x.ndim == 2:
        x = x[None]
    if x.shape[1:] != (28, 28):
        raise ValueError(f"expected 28x28 images, got shape {x.shape}")
    return x


def outputs_together(
    predictors: Sequence[Predictor],
    images: np.ndarray,
    paths: Sequence[Sequence[np.ndarray] | None] | None = None,
) -> list[Outputs]:
    """Each predictor's outputs() for the same images. Where prepare_together was called for these
    predictors (the Draw page does), all their networks, and the pen-path reader they share where
    the images have paths, run as one traced call: the Draw page's dense, cnn and reader answered a
    drawing in 2.9 ms of the networks' time against 4.8 ms as three calls, and 4.5 ms of CPU
    against 6.6 (docs/experiments.md, twenty-sixth session). A single digit, nearly every drawing,
    goes through that call compiled by XLA (_Joint.single): another 0.6 ms and 1.3 ms of CPU less
    (twenty-eighth session); its numbers differ from the others' in float32's last bits (1e-7), a
    batch of several digits' are the same to the bit. Elsewhere (a one-off reading, the CLI's:
    tracing costs more than it saves), and for a batch larger than Predictor.BATCH or an empty
    one, one predictor at a time."""
    x = _batch(images)
    if paths is not None and len(paths) != len(x):
        raise ValueError(f"{len(paths)} pen paths for {len(x)} images")
    rows = [i for i, p in enumerate(paths or ()) if p]
    reader = _shared_reader(predictors) if rows else None
    joint = _PREPARED.get((tuple(predictors), reader)) if 0 < len(x) <= Predictor.BATCH else None
    if joint is None:
        return [p.outputs(x, paths) for p in predictors]
    call = joint.single if len(x) == 1 and joint.single is not None else joint.general
    if reader is None:
        nets, _ = call(tf.constant(x))
        path_probs = None
    else:
        nets, read = call(tf.constant(x), tf.constant(np.stack([penpath.sequence(paths[i]) for i in rows])))
        path_probs = read.numpy()
    return [
        p._finish(raw.numpy(), feats.numpy(), paths, path_probs if p.pen_path is not None else None)
        for p, (raw, feats) in zip(predictors, nets, strict=True)
    ]


def prepare_together(predictors: Sequence[Predictor]) -> None:
    """Make outputs_together run these predictors as one call: traced, compiled and run once each
    way, with and without the pen's paths (about a second each on 2 cores), so that a page can do it
    before the first drawing rather than on it. Quick once done; the last PREPARED_SETS sets are kept."""
    if len(predictors) < 2:
        return
    reader = _shared_reader(predictors)
    for way in {None, reader}:
        key = (tuple(predictors), way)
        with _JOINT_LOCK:  # traced before any thread calls it, as Predictor traces its own
            if key in _PREPARED:
                _PREPARED.move_to_end(key)
                continue
            _PREPARED[key] = _traced_together(key[0], way)
            while len(_PREPARED) > PREPARED_SETS:
                _PREPARED.popitem(last=False)


def _shared_reader(predictors: Sequence[Predictor]) -> penpath._Traced | None:
    """The one pen-path network the predictors' readers share, if they have one and share it."""
    readers = {id(p.pen_path._traced): p.pen_path._traced for p in predictors if p.pen_path is not None}
    return next(iter(readers.values())) if len(readers) == 1 else None


PREPARED_SETS = 8  # the few pairs a server's visitors pick; each holds its models in memory
XLA_SINGLE = True  # compile the single digit's one call (_Joint); bench/draw_latency.py --no-xla clears it
_PREPARED: OrderedDict[tuple, _Joint] = OrderedDict()  # (predictors, reader or None) -> the one call
_JOINT_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Joint:
    """The one call of a set of networks: for any batch, and compiled by XLA for a single image (None
    where this TensorFlow cannot). XLA fuses the networks' many small operations: on 2 cores the
    Draw page's call took 1.8 ms against 2.4 ms and 2.4 ms of CPU against 3.7. It compiles for one
    shape, so only the single digit gets it: every batch size would cost its first drawing a
    compile of half a second."""

    general: Any
    single: Any = None


def _traced_together(predictors: tuple[Predictor, ...], reader: penpath._Traced | None) -> _Joint:
    """The predictors' networks, and the reader's where given, as one call (_Joint), each way run once."""
    general = _traced(predictors, reader, None, xla=False)
    single = None
    if XLA_SINGLE:
        try:
            single = _traced(predictors, reader, 1, xla=True)
        except (tf.errors.OpError, ValueError) as exc:  # a build of TensorFlow without XLA for this device
            log.info("no XLA for the one call (%s): the general one serves single digits", exc)
    return _Joint(general, single)


def _traced(predictors: tuple[Predictor, ...], reader: penpath._Traced | None, batch: int | None, xla: bool):
    """One concrete function of the networks (and the reader's, where given) for `batch` images (None:
    any number), compiled by XLA where `xla`; run once."""
    image = tf.TensorSpec([batch, 28, 28], tf.float32)
    if reader is None:
        fn = tf.function(
            lambda x: ([p._inner(x) for p in predictors], tf.zeros([0])),
            input_signature=[image],
            jit_compile=xla,
        )
    else:
        path = tf.TensorSpec([batch, penpath.POINTS, penpath.FEATURES], tf.float32)
        fn = tf.function(
            lambda x, s: ([p._inner(x) for p in predictors], reader.model(s, training=False)),
            input_signature=[image, path],
            autograph=False,
            jit_compile=xla,
        )
    call = fn.get_concrete_function()
    # The first run prepares the kernels (~0.4 s), or compiles them (XLA, ~0.6 s).
    paths = [tf.zeros([1, penpath.POINTS, penpath.FEATURES])] if reader is not None else []
    call(tf.zeros([1, 28, 28]), *paths)
    return call
