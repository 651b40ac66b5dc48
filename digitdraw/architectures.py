"""The networks the app compares, each one function returning its layers.

An architecture is a list of layers after a 28x28 input; `build` stacks them with either
Keras API, so the Sequential and Functional versions are the same layers with the same
parameters. To add an architecture, write one function here and decorate it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10
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
    return [
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense_128"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
    ]


@architecture
def cnn() -> list[keras.Layer]:
    """A small convnet: three conv-batchnorm-pool blocks (32, 64, 128 filters), then a dense head."""
    # The third block works on 7x7 maps, so it costs a quarter more time than two blocks, not
    # double, and its 3x3x128 output makes the dense head 3x smaller; it is what lifts MNIST
    # past 99.4%. Batch-norm momentum 0.9, not Keras's 0.99: the running statistics must settle
    # within the few hundred steps of a short run on a subset, or test accuracy lags far behind.
    return [
        layers.Reshape((28, 28, 1), name="add_channel"),
        *_conv_block(1, 32),
        *_conv_block(2, 64),
        *_conv_block(3, 128),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(128, activation="relu", name="dense_128"),
        layers.Dropout(0.3, name="dropout_head"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"),
    ]


def _conv_block(n: int, filters: int) -> list[keras.Layer]:
    """3x3 convolution (no bias: batch norm has one), batch norm, relu, 2x2 max-pool."""
    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{n}"),
        layers.BatchNormalization(momentum=0.9, name=f"bn{n}"),
        layers.Activation("relu", name=f"relu{n}"),
        layers.MaxPooling2D(name=f"pool{n}"),
    ]


def build(name: str, api: str = "sequential") -> keras.Model:
    """A fresh, uncompiled `name` model built with the `api`: "sequential" or "functional"."""
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
