"""Several trained models of one architecture read as one: the average of their probabilities.

Networks trained apart (another seed, another draw of the data) err on different drawings, so
their average reads unseen handwriting better than any one of them and is less often confidently
wrong. The ensemble is one flat functional Keras model: each member's layers are copied under a
prefix (`m0_conv1`, `m1_conv1`, ...), so a `.keras` file holds it without custom code, weights
alone rebuild it from the card (`build`), and the Inspect page lists its layers like any model's.
Its last layer, `probabilities`, averages the members' softmax outputs; the not-a-digit detector
reads the members' `dense_128` features side by side (`feature_layers`).

    python -m digitdraw combine A.keras B.keras --out models/cnn.keras   (digitdraw.runs.combine_and_save)
"""

from __future__ import annotations

import re

import keras

from digitdraw import architectures
from digitdraw.architectures import FEATURE_LAYER

_MEMBER_LAYER = re.compile(r"^m(\d+)_(.+)$")  # what `prefix` makes of a member's layer name


class EnsembleError(ValueError):
    """Models that cannot be combined: fewer than two, or of different architectures or shapes."""


def prefix(i: int) -> str:
    return f"m{i}_"


def member_of(layer_name: str) -> tuple[int, str] | None:
    """ "m1_conv1" -> (1, "conv1"): the member a layer was copied from, and its name there; None for
    a layer of the ensemble's own (its input, `probabilities`) or of a plain model."""
    match = _MEMBER_LAYER.match(layer_name)
    return (int(match.group(1)), match.group(2)) if match else None


def combine(members: list[keras.Model], name: str) -> keras.Model:
    """One model averaging `members`' probabilities; each member's layers copied with its weights.

    Members must be chains of layers (every architecture in digitdraw.architectures is).
    """
    if len(members) < 2:
        raise EnsembleError(f"an ensemble needs at least two models, not {len(members)}")
    inputs = keras.Input(architectures.INPUT_SHAPE, name="image")
    outputs = []
    for i, member in enumerate(members):
        x = inputs
        for layer in member.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            copy = type(layer).from_config({**layer.get_config(), "name": prefix(i) + layer.name})
            x = copy(x)
            copy.set_weights(layer.get_weights())
        outputs.append(x)
    probabilities = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, probabilities, name=name)


def build(architecture: str, members: int) -> keras.Model:
    """A fresh ensemble of `members` untrained `architecture` models: what weights alone load into."""
    return combine([architectures.build(architecture) for _ in range(members)], architecture)


def feature_layers(model: keras.Model) -> list[keras.Layer]:
    """The layers whose outputs, side by side, are the model's features: `dense_128`, or each member's."""
    names = [layer.name for layer in model.layers]
    if FEATURE_LAYER in names:
        return [model.get_layer(FEATURE_LAYER)]
    members = sorted((m[0], n) for n in names if (m := member_of(n)) and m[1] == FEATURE_LAYER)
    return [model.get_layer(n) for _, n in members]
