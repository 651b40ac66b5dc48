"""The one way a model answers: a compiled call of the model, never `model.predict()`.

`model.predict()` builds a data pipeline on every call (50-80 ms for one image here);
a traced `tf.function` over the model costs a few milliseconds and is safe to call from
several threads at once, which the app needs (one server, many sessions).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from digitdraw.data import to_model_input


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray  # (10,) float32, sums to 1

    def as_dict(self) -> dict:
        return {"digit": self.digit, "probabilities": [round(float(p), 6) for p in self.probabilities]}


class Predictor:
    """Wraps a loaded Keras model for fast, thread-safe inference on 28x28 images."""

    BATCH = 1024  # bulk evaluation goes through the same path in chunks of this size

    def __init__(self, model: keras.Model, name: str | None = None) -> None:
        self.model = model
        self.name = name or model.name
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)],
        )
        # Trace once now, under a lock, so that concurrent first calls do not race to trace.
        self._lock = threading.Lock()
        with self._lock:
            self._classes = int(self._fn(tf.zeros([1, 28, 28], tf.float32)).shape[-1])

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(n, 28, 28) or (28, 28) images, uint8 or float in [0, 1] -> (n, 10) probabilities."""
        x = to_model_input(images)
        if x.ndim == 2:
            x = x[None]
        if x.shape[1:] != (28, 28):
            raise ValueError(f"expected 28x28 images, got shape {x.shape}")
        if len(x) == 0:  # a batch norm layer fails on an empty batch (oneDNN)
            return np.zeros((0, self._classes), np.float32)
        if len(x) <= self.BATCH:
            return self._fn(tf.constant(x)).numpy()
        return np.concatenate(
            [self._fn(tf.constant(x[i : i + self.BATCH])).numpy() for i in range(0, len(x), self.BATCH)]
        )

    def predict_one(self, image: np.ndarray) -> Prediction:
        """One 28x28 image -> its digit, the confidence, and all ten probabilities."""
        probs = self.probabilities(image)[0]
        digit = int(np.argmax(probs))
        return Prediction(digit, float(probs[digit]), probs)
