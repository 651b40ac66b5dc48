"""Specification of ensembles: trained models combined into one file that averages their answers."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from digitdraw import architectures, cli, ensemble, modelio
from digitdraw.predict import Predictor

X = np.random.default_rng(3).random((12, 28, 28), dtype=np.float32)


def member(arch: str, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return architectures.build(arch)


@pytest.fixture(scope="module", params=["dense", "cnn"])
def pair(request):
    return [member(request.param, 1), member(request.param, 2)]


def test_an_ensemble_answers_the_average_of_its_members(pair):
    both = ensemble.combine(pair, "both")
    expected = np.mean([Predictor(m).probabilities(X) for m in pair], axis=0)
    np.testing.assert_allclose(Predictor(both).probabilities(X), expected, atol=1e-6)


def test_an_ensemble_is_flat_with_each_members_layers_under_its_prefix(pair):
    both = ensemble.combine(pair, "both")
    names = [layer.name for layer in both.layers]
    for i, m in enumerate(pair):
        assert [f"m{i}_{layer.name}" for layer in m.layers] == [n for n in names if n.startswith(f"m{i}_")]
    assert names[-1] == "probabilities"
    # Each copied layer names its member and its own name there; the ensemble's own layers none.
    for i, m in enumerate(pair):
        assert [ensemble.member_of(f"m{i}_{layer.name}") for layer in m.layers] == [
            (i, layer.name) for layer in m.layers
        ]
    assert ensemble.member_of("probabilities") is None and ensemble.member_of("image") is None
    assert both.count_params() == sum(m.count_params() for m in pair)


def test_its_features_are_the_members_features_side_by_side(pair):
    both = Predictor(ensemble.combine(pair, "both"))
    alone = [Predictor(m).outputs(X).features for m in pair]
    assert both.has_features
    np.testing.assert_allclose(both.outputs(X).features, np.concatenate(alone, axis=1), atol=1e-5)


def test_a_model_without_any_feature_layer_has_no_features():
    bare = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    assert ensemble.feature_layers(bare) == []
    assert not Predictor(bare).has_features


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_an_ensemble_file_round_trips_in_both_formats(pair, tmp_path, suffix):
    both = ensemble.combine(pair, "both")
    arch = pair[0].name
    card = {"name": "both", "architecture": arch, "api": "functional", "members": 2}
    loaded = modelio.load(modelio.save(both, tmp_path / f"both{suffix}", card))
    np.testing.assert_array_equal(Predictor(loaded).probabilities(X), Predictor(both).probabilities(X))


def test_one_model_is_no_ensemble():
    with pytest.raises(ensemble.EnsembleError, match="at least two"):
        ensemble.combine([member("dense", 1)], "one")


# -- digitdraw combine ------------------------------------------------------------------


def test_combine_writes_the_ensemble_with_a_card_naming_each_member(capsys, tmp_path, model_files, mnist_dir):
    other = tmp_path / "dense2.keras"
    card = modelio.read_card(model_files["dense"])
    modelio.save(member("dense", 5), other, {**card, "command": "fixture dense2", "seed": 5})
    out = tmp_path / "pair.keras"
    argv = ["combine", str(model_files["dense"]), str(other), "--out", str(out), "--weights"]
    assert cli.main([*argv, "--data-dir", str(mnist_dir)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = modelio.read_card(out)
    assert saved["members"] == 2 and saved["architecture"] == "dense"
    assert [m["command"] for m in saved["member_cards"]] == ["fixture dense", "fixture dense2"]
    assert saved["command"].startswith("python -m digitdraw combine ")
    assert printed["test_accuracy"] == saved["test_accuracy"]
    # What it scored is what it answers: the average of the two files' answers.
    members = [Predictor(modelio.load(p)) for p in (model_files["dense"], other)]
    expected = np.mean([m.probabilities(X) for m in members], axis=0)
    for path in (out, out.with_name("pair.weights.h5")):
        np.testing.assert_allclose(Predictor(modelio.load(path)).probabilities(X), expected, atol=1e-6)


@pytest.mark.parametrize(
    "case, message",
    [
        ("one", "at least two models"),
        ("mixed", "of one architecture"),
        ("no card", "of one architecture"),
        ("out is a member", "is one of the members"),
        ("not keras", "use a .keras path"),
        ("missing", "no such model file"),
        ("twice", "the same model file is named twice"),
    ],
)
def test_combine_refuses_what_it_cannot_combine_with_a_clear_message(
    capsys, tmp_path, model_files, mnist_dir, case, message
):
    dense, cnn = str(model_files["dense"]), str(model_files["cnn"])
    bare = modelio.save(member("dense", 1), tmp_path / "bare.keras")
    models, out = {
        "one": ([dense], tmp_path / "e.keras"),
        "mixed": ([dense, cnn], tmp_path / "e.keras"),
        "no card": ([dense, str(bare)], tmp_path / "e.keras"),
        "out is a member": ([dense, dense], model_files["dense"]),
        "not keras": ([dense, dense], tmp_path / "e.h5"),
        "missing": ([dense, str(tmp_path / "absent.keras")], tmp_path / "e.keras"),
        "twice": ([dense, cnn, dense], tmp_path / "e.keras"),
    }[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["combine", *models, "--out", str(out), "--data-dir", str(mnist_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("digitdraw: error:") and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_the_inspect_page_can_look_inside_an_ensemble(pair):
    from digitdraw import introspect

    both = ensemble.combine(pair, "both")
    image = X[0]
    rows = introspect.layer_rows(both)
    assert [r["layer"] for r in rows][-1] == "probabilities"
    saliency, digit = introspect.saliency(both, image)
    assert saliency.shape == (28, 28) and 0 <= digit <= 9
    if pair[0].name == "cnn":  # each member's convolutions, the first member's filters
        assert list(introspect.feature_maps(both, image)) and introspect.first_layer_filters(both) is not None
    else:
        assert introspect.dense_weight_tiles(both) is not None
