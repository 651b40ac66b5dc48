"""Specification of model files: both formats round-trip, writes are atomic, bad files are refused."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from digitdraw import architectures, modelio
from digitdraw.modelio import ModelFileError, card_path, list_models, load, save
from digitdraw.predict import Predictor

X = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)


def card_for(name: str, api: str = "sequential") -> dict:
    return {"name": name, "architecture": name, "api": api, "test_accuracy": 0.5}


@pytest.fixture(scope="module", params=["dense", "cnn"])
def model(request):
    keras.utils.set_random_seed(11)
    m = architectures.build(request.param)
    # Non-trivial weights, so that a load that silently re-initialised would differ.
    m.set_weights([w + 0.01 * np.arange(w.size).reshape(w.shape) % 0.1 for w in m.get_weights()])
    return m


def answers(model: keras.Model) -> np.ndarray:
    return Predictor(model).probabilities(X)


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- Round trips -----------------------------------------------------------------------


def test_keras_file_round_trip(model, tmp_path):
    path = save(model, tmp_path / "m.keras", card_for(model.name))
    assert path == tmp_path / "m.keras"
    loaded = load(path)
    np.testing.assert_array_equal(answers(loaded), answers(model))
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


def test_weights_file_round_trip(model, tmp_path):
    path = save(model, tmp_path / "m.weights.h5", card_for(model.name))
    loaded = load(path)
    np.testing.assert_array_equal(answers(loaded), answers(model))


def test_weights_load_into_the_api_the_card_names(tmp_path):
    model = architectures.build("dense", "functional")
    path = save(model, tmp_path / "f.weights.h5", card_for("dense", "functional"))
    loaded = load(path)
    assert not isinstance(loaded, keras.Sequential)
    np.testing.assert_array_equal(answers(loaded), answers(model))


def test_card_is_written_beside_the_model(model, tmp_path):
    card = card_for(model.name)
    save(model, tmp_path / "m.keras", card)
    save(model, tmp_path / "w.weights.h5", card)
    assert json.loads((tmp_path / "m.json").read_text()) == card
    assert json.loads((tmp_path / "w.json").read_text()) == card
    assert modelio.read_card(tmp_path / "m.keras") == card
    assert card_path(tmp_path / "w.weights.h5") == tmp_path / "w.json"


def test_saving_without_a_card_writes_no_card(model, tmp_path):
    save(model, tmp_path / "m.keras")
    assert listing(tmp_path) == ["m.keras"]
    assert modelio.read_card(tmp_path / "m.keras") is None


def test_saved_files_are_readable_by_others(model, tmp_path):
    path = save(model, tmp_path / "m.keras", card_for(model.name))
    assert path.stat().st_mode & 0o044 == 0o044
    assert card_path(path).stat().st_mode & 0o044 == 0o044


def test_save_refuses_other_suffixes(model, tmp_path):
    with pytest.raises(ValueError, match=".keras or .weights.h5"):
        save(model, tmp_path / "m.h5")
    assert listing(tmp_path) == []


def test_load_keeps_safe_mode(tmp_path):
    """A .keras file with a Python lambda inside could run any code: it is refused."""
    inputs = keras.Input((28, 28))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelFileError, match="lambda.keras"):
        load(path)


# -- Atomic writes ---------------------------------------------------------------------


def crash_halfway(monkeypatch, model, method: str) -> None:
    """Make model.<method> write half a file and then fail, as a crash mid-save would."""

    def half_then_crash(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04" + b"\x00" * 5000)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(model, method, half_then_crash)


@pytest.mark.parametrize("name, method", [("m.keras", "save"), ("m.weights.h5", "save_weights")])
def test_a_crash_mid_save_leaves_the_good_file(model, tmp_path, monkeypatch, name, method):
    good = save(model, tmp_path / name, card_for(model.name))
    before = good.read_bytes()
    card_before = card_path(good).read_text()
    expected = answers(load(good))

    with monkeypatch.context() as m:
        crash_halfway(m, model, method)
        with pytest.raises(OSError, match="simulated"):
            save(model, good, {**card_for(model.name), "test_accuracy": 0.9})

    assert good.read_bytes() == before
    assert card_path(good).read_text() == card_before  # the card is only written after the model
    assert listing(tmp_path) == sorted([name, "m.json"])  # no temporary remains
    np.testing.assert_array_equal(answers(load(good)), expected)


def test_a_crash_mid_save_leaves_nothing_when_there_was_nothing(model, tmp_path, monkeypatch):
    crash_halfway(monkeypatch, model, "save")
    with pytest.raises(OSError):
        save(model, tmp_path / "new.keras", card_for(model.name))
    assert listing(tmp_path) == []


def test_interrupt_mid_save_cleans_up_too(model, tmp_path, monkeypatch):
    def interrupted(path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(model, tmp_path / "m.keras")
    assert listing(tmp_path) == []


def test_overwrite_replaces_the_model(tmp_path):
    a, b = architectures.build("dense"), architectures.build("dense")
    path = save(a, tmp_path / "m.keras", card_for("dense"))
    save(b, path, card_for("dense"))
    np.testing.assert_array_equal(answers(load(path)), answers(b))
    assert listing(tmp_path) == ["m.json", "m.keras"]


# -- Bad files -------------------------------------------------------------------------


def refused(path, *words: str, names=None) -> str:
    """load(path) raises a ModelFileError naming the file (or `names`) and saying the problem."""
    with pytest.raises(ModelFileError) as info:
        load(path)
    message = str(info.value)
    assert str(names or path) in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    return save(architectures.build("dense"), folder / "dense.keras", card_for("dense"))


def test_missing_file(tmp_path):
    refused(tmp_path / "nothing.keras", "no such model file")
    refused(tmp_path / "nothing.weights.h5", "no such model file")


def test_truncated_keras_file(good_file, tmp_path):
    path = tmp_path / "cut.keras"
    path.write_bytes(good_file.read_bytes()[: good_file.stat().st_size // 2])
    refused(path, "truncated")


def test_text_file_renamed_keras(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("my shopping list\n")
    refused(path, "not a Keras model file")


def test_foreign_zip_named_keras(tmp_path):
    path = tmp_path / "photos.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("holiday.jpg", b"\xff\xd8\xff not really")
    refused(path, "cannot load the model")


def test_keras_file_of_another_shape(tmp_path):
    inputs = keras.Input((32, 32))
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inputs))
    path = tmp_path / "other.keras"
    keras.Model(inputs, outputs).save(path)
    refused(path, "not a digit model", "(32, 32)", "(5,)")


def test_weights_without_a_card(tmp_path):
    path = save(architectures.build("dense"), tmp_path / "lonely.weights.h5")
    refused(path, "lonely.json")


def test_weights_with_a_card_naming_another_architecture(tmp_path):
    path = save(architectures.build("dense"), tmp_path / "w.weights.h5", card_for("cnn"))
    refused(path, "cnn")


def test_truncated_weights_file(tmp_path):
    path = save(architectures.build("dense"), tmp_path / "w.weights.h5", card_for("dense"))
    path.write_bytes(path.read_bytes()[:2000])
    refused(path, "cannot load these weights")


def test_corrupt_card(tmp_path):
    path = save(architectures.build("dense"), tmp_path / "w.weights.h5", card_for("dense"))
    card_path(path).write_text("{not json")
    refused(path, "not valid JSON", names=card_path(path))


def test_other_suffix(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n")
    refused(path, ".keras or .weights.h5")


# -- Listing and names -----------------------------------------------------------------


def test_list_models_hides_temporaries_and_pairs_cards(tmp_path, good_file):
    model = load(good_file)
    save(model, tmp_path / "a.keras", card_for("dense"))
    save(model, tmp_path / "b.weights.h5", card_for("dense"))
    save(model, tmp_path / "a.weights.h5", card_for("dense"))  # hidden by the full a.keras
    (tmp_path / ".a.keras.x1y2.tmp.keras").write_bytes(b"half")  # a write in progress
    (tmp_path / ".b.weights.h5.zz.tmp.weights.h5").write_bytes(b"half")
    (tmp_path / "readme.txt").write_text("not a model")
    entries = list_models(tmp_path)
    assert [(e.name, e.path.name) for e in entries] == [("a", "a.keras"), ("b", "b.weights.h5")]
    assert all(e.card == card_for("dense") for e in entries)
    assert not any(e.shipped for e in entries)
    assert entries[0].label == "a (trained here, MNIST 50.00%)"


def test_list_models_marks_shipped_and_skips_missing_folders(tmp_path, good_file):
    entries = list_models(tmp_path / "absent", good_file.parent, shipped=good_file.parent)
    assert [(e.name, e.shipped) for e in entries] == [("dense", True)]


def test_list_models_survives_a_corrupt_card(tmp_path):
    save(architectures.build("dense"), tmp_path / "m.keras")
    (tmp_path / "m.json").write_text("{")
    assert [(e.name, e.card) for e in list_models(tmp_path)] == [("m", None)]


def test_resolve_by_name_or_path(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDRAW_USER_MODELS_DIR", str(tmp_path))
    path = save(architectures.build("dense"), tmp_path / "mine-1.keras", card_for("dense"))
    assert modelio.resolve("mine-1") == path
    assert modelio.resolve(str(path)) == path
    with pytest.raises(ModelFileError, match="No model named 'nope'.*mine-1"):
        modelio.resolve("nope")
    with pytest.raises(ModelFileError, match="no such model file"):
        modelio.resolve(str(tmp_path / "nope.keras"))


def test_inference_copy_has_the_weights_and_no_optimizer(trained_dense):
    copy = modelio.inference_copy(trained_dense.model, "dense", "sequential")
    assert getattr(copy, "optimizer", None) is None and not copy.compiled
    np.testing.assert_array_equal(answers(copy), answers(trained_dense.model))
