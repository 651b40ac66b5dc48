"""The networks the app compares, each one function returning its layers.

An architecture is a list of layers after a 28x28 input; `build` stacks them with either
Keras API, so the Sequential and Functional versions are the same layers with the same
parameters. To add an architecture, write one function here and decorate it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# Keras is imported inside the functions below, not here: the CLI's parser lists the
# architectures, and `digitdraw --help` must not pay for TensorFlow's import (about 5 s).

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10
FEATURE_LAYER = "dense_128"  # the penultimate layer of `dense` and `cnn`: the not-a-digit features
APIS = ("sequential", "functional")

ARCHITECTURES: dict[str, Callable[[], list[keras.Layer]]] = {}
DESCRIPTIONS: dict[str, str] = {}


def architecture(fn: Callable[[], list[keras.Layer]]) -> Callable[[], list[keras.Layer]]:
    """Register `fn` under its name; its docstring's first line describes it in the CLI and app."""
    ARCHITECTURES[fn.__name__] = fn
    DESCRIPTIONS[fn.__name__] = (fn.__doc__ or "").strip().splitlines()[0]
    return fn


@architecture
def dense() -> list[keras.Layer]:
    """The classic first network: Flatten, Dense 128 relu, Dense 10 softmax."""
    from keras import layers

    return [
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense_128"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
    ]


@architecture
def cnn() -> list[keras.Layer]:
    """A small convnet: two conv-batchnorm-pool blocks, then a dense head."""
    from keras import layers

    # Two blocks, not four: on a 2-core CPU this trains to 99% in under a minute.
    # Batch-norm momentum 0.9, not Keras's 0.99: the running statistics must settle within
    # the few hundred steps of a short run on a subset, or test accuracy lags far behind.
    return [
        layers.Reshape((28, 28, 1), name="add_channel"),
        layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv1"),
        layers.BatchNormalization(momentum=0.9, name="bn1"),
        layers.Activation("relu", name="relu1"),
        layers.MaxPooling2D(name="pool1"),
        layers.Conv2D(64, 3, padding="same", use_bias=False, name="conv2"),
        layers.BatchNormalization(momentum=0.9, name="bn2"),
        layers.Activation("relu", name="relu2"),
        layers.MaxPooling2D(name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(128, activation="relu", name="dense_128"),
        layers.Dropout(0.3, name="dropout_head"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
    ]


@architecture
def cnn_quick() -> list[keras.Layer]:
    """A lighter convnet for quick runs: a 5x5 and a 3x3 conv, each pooled and batch-normed."""
    from keras import layers

    # The quick preset's cnn: about a third of `cnn`'s arithmetic per image (valid padding,
    # pooling before batch-norm, 24 and 32 channels), after tuomaso/train_mnist_fast. Two
    # epochs give 99.2-99.3% on MNIST in 17 s of CPU time, where `cnn` needs 45 s for 99.0%
    # (bench/train_speed.py).
    return [
        layers.Reshape((28, 28, 1), name="add_channel"),
        layers.Conv2D(24, 5, use_bias=False, name="conv1"),
        layers.MaxPooling2D(name="pool1"),
        layers.BatchNormalization(momentum=0.9, name="bn1"),
        layers.Activation("relu", name="relu1"),
        layers.Conv2D(32, 3, use_bias=False, name="conv2"),
        layers.MaxPooling2D(name="pool2"),
        layers.BatchNormalization(momentum=0.9, name="bn2"),
        layers.Activation("relu", name="relu2"),
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense_256"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
    ]


def build(name: str, api: str = "sequential") -> keras.Model:
    """A fresh, uncompiled `name` model built with the `api`: "sequential" or "functional"."""
    import keras

    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}.")
    stack = ARCHITECTURES[name]()
    if api == "sequential":
        return keras.Sequential([keras.Input(INPUT_SHAPE, name="image"), *stack], name=name)
    if api == "functional":
        inputs = keras.Input(INPUT_SHAPE, name="image")
        x = inputs
        for layer in stack:
            x = layer(x)
        return keras.Model(inputs, x, name=name)
    raise ValueError(f"Unknown API {api!r}; choose from {', '.join(APIS)}.")
