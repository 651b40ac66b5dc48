"""Specification of the architectures: one function each, the same network with either Keras API."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitdraw import architectures, cli, recipe
from digitdraw.architectures import APIS, ARCHITECTURES, build


def layer_table(model: keras.Model) -> list[tuple]:
    """What makes two models 'the same network': each layer's name, class and weight shapes."""
    return [
        (layer.name, type(layer).__name__, [tuple(w.shape) for w in layer.weights])
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def test_dense_and_cnn_are_registered():
    assert {"dense", "cnn"} <= set(ARCHITECTURES)
    for name in ARCHITECTURES:
        assert architectures.DESCRIPTIONS[name], f"{name} has no description"


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_both_apis_build_the_same_network(name):
    seq, fun = build(name, "sequential"), build(name, "functional")
    assert isinstance(seq, keras.Sequential)
    assert not isinstance(fun, keras.Sequential)
    assert layer_table(seq) == layer_table(fun)
    assert seq.count_params() == fun.count_params()
    assert seq.count_params() > 0


@pytest.mark.parametrize("name", list(ARCHITECTURES))
@pytest.mark.parametrize("api", APIS)
def test_model_reads_28x28_and_gives_ten_probabilities(name, api):
    model = build(name, api)
    assert tuple(model.inputs[0].shape[1:]) == architectures.INPUT_SHAPE
    out = np.asarray(model(np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)))
    assert out.shape == (3, architectures.NUM_CLASSES)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert (out >= 0).all()


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_same_weights_give_the_same_answers_in_either_api(name):
    seq, fun = build(name, "sequential"), build(name, "functional")
    fun.set_weights(seq.get_weights())
    x = np.random.default_rng(1).random((4, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(seq(x)), np.asarray(fun(x)), rtol=1e-5, atol=1e-6)


def test_each_build_is_a_fresh_model():
    a, b = build("dense"), build("dense")
    assert a.layers[-1] is not b.layers[-1]


def test_known_parameter_counts():
    # 784*128+128 + 128*10+10: the classic first network.
    assert build("dense").count_params() == 101_770
    # 5*5*24 + 4*24 (batch-norm) + 3*3*24*32 + 4*32 + 800*256+256 + 256*10+10: the quick preset's cnn.
    assert build("cnn_quick").count_params() == 215_362


def test_the_quick_cnn_does_about_a_third_of_the_cnns_arithmetic():
    def multiply_adds(model: keras.Model) -> int:
        total = 0
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                kh, kw, cin, cout = layer.kernel.shape
                _, h, w, _ = layer.output.shape
                total += kh * kw * cin * cout * h * w
            elif isinstance(layer, keras.layers.Dense):
                total += int(np.prod(layer.kernel.shape))
        return total

    ratio = multiply_adds(build("cnn_quick")) / multiply_adds(build("cnn"))
    assert 0.2 < ratio < 0.4, ratio


def test_unknown_architecture_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="Unknown architecture 'resnet'") as info:
        build("resnet")
    for name in ARCHITECTURES:
        assert name in str(info.value)


def test_unknown_api_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"Unknown API 'subclass'.*sequential, functional"):
        build("dense", "subclass")


def test_cli_refuses_an_unknown_architecture(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--arch", "resnet"])
    assert info.value.code == 2
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


@pytest.fixture
def registry(monkeypatch):
    """Registrations made in a test vanish after it."""
    monkeypatch.setattr(architectures, "ARCHITECTURES", dict(ARCHITECTURES))
    monkeypatch.setattr(architectures, "DESCRIPTIONS", dict(architectures.DESCRIPTIONS))
    return architectures


def test_adding_an_architecture_is_one_decorated_function(registry):
    @registry.architecture
    def tiny() -> list[keras.Layer]:
        """Flatten and a softmax: the smallest digit model.

        (Only the first docstring line is the description.)
        """
        return [
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, activation="softmax", name="probabilities"),
        ]

    assert registry.DESCRIPTIONS["tiny"] == "Flatten and a softmax: the smallest digit model."
    seq, fun = registry.build("tiny", "sequential"), registry.build("tiny", "functional")
    assert layer_table(seq) == layer_table(fun)
    assert seq.count_params() == 784 * 10 + 10

    # The CLI offers it at once ...
    train_parser = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    arch = next(a for a in train_parser._actions if a.dest == "architecture")
    assert "tiny" in arch.choices
    # ... and training has a recipe for it (the cnn's, under the new name).
    assert recipe.preset("quick", "tiny").architecture == "tiny"
