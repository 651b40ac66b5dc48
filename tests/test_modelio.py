"""Specification of model files: both formats round-trip, writes are atomic, bad files are refused."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from digitdraw import architectures, config, modelio
from digitdraw.modelio import ModelFileError, ModelNameError, card_path, list_models, load, save
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
    [entry] = list_models(tmp_path)
    assert (entry.name, entry.card, entry.broken) == ("m", None, True)
    assert "not valid JSON" in entry.problem and "broken: " in entry.label


def test_resolve_by_name_or_path(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDRAW_USER_MODELS_DIR", str(tmp_path))
    path = save(architectures.build("dense"), tmp_path / "mine-1.keras", card_for("dense"))
    assert modelio.resolve("mine-1") == path
    assert modelio.resolve(str(path)) == path
    with pytest.raises(ModelFileError, match="No model named 'nope'.*mine-1"):
        modelio.resolve("nope")
    with pytest.raises(ModelFileError, match="no such model file"):
        modelio.resolve(str(tmp_path / "nope.keras"))
    with pytest.raises(ModelFileError, match="is a folder; give a model file"):
        modelio.resolve(str(tmp_path))


def test_inference_copy_has_the_weights_and_no_optimizer(trained_dense):
    copy = modelio.inference_copy(trained_dense.model, "dense", "sequential")
    assert getattr(copy, "optimizer", None) is None and not copy.compiled
    np.testing.assert_array_equal(answers(copy), answers(trained_dense.model))


# -- Broken entries: listed with the reason, never an exception --------------------------


@pytest.mark.parametrize(
    "text, kind", [("[1, 2, 3]", "list"), ('"a card"', "str"), ("3", "int"), ("null", "NoneType")]
)
def test_a_card_that_is_json_but_not_an_object_is_a_model_file_error(tmp_path, text, kind):
    path = save(architectures.build("dense"), tmp_path / "m.keras", card_for("dense"))
    card_path(path).write_text(text)
    with pytest.raises(ModelFileError, match=f"m.json: the model card is a JSON {kind}, not an object"):
        modelio.read_card(path)


@pytest.mark.parametrize(
    "card, words",
    [
        ({"architecture": "resnet"}, ["Unknown architecture 'resnet'", "dense", "cnn"]),
        ({"architecture": "dense", "api": "graph"}, ["Unknown API 'graph'"]),
        ({"architecture": ["dense"]}, ["w.json is unusable"]),
    ],
    ids=["architecture", "api", "not-a-string"],
)
def test_weights_whose_card_names_an_unknown_architecture_are_refused(tmp_path, card, words):
    path = save(architectures.build("dense"), tmp_path / "w.weights.h5", card)
    refused(path, *words)


def test_one_broken_entry_is_listed_with_its_reason_and_the_others_are_untouched(tmp_path, good_file):
    model = load(good_file)
    save(model, tmp_path / "a.keras", card_for("dense"))
    save(model, tmp_path / "b.keras", card_for("dense"))
    save(model, tmp_path / "c.keras", card_for("dense"))
    (tmp_path / "b.json").write_text("[1, 2, 3]")
    entries = {e.name: e for e in list_models(tmp_path)}
    assert list(entries) == ["a", "b", "c"]
    assert not entries["a"].broken and not entries["c"].broken and entries["a"].card == card_for("dense")
    assert entries["b"].broken and entries["b"].card is None
    assert "not an object" in entries["b"].problem
    assert (
        entries["b"].label.startswith("b (trained here, broken: ") and "not an object" in entries["b"].label
    )


def test_a_trained_model_without_a_card_is_incomplete_but_a_shipped_one_works(tmp_path, good_file):
    trained, shipped = tmp_path / "trained", tmp_path / "shipped"
    for folder in (trained, shipped):
        save(load(good_file), folder / "bare.keras")  # no card
    [t] = list_models(trained)
    assert t.broken and "incomplete: no model card bare.json" in t.problem
    [s] = list_models(shipped, shipped=shipped)
    assert s.shipped and not s.broken


def test_a_cut_off_model_file_is_listed_as_broken_not_offered(tmp_path, good_file):
    # A copy that stopped half-way (a full disk, a download cut short) kept its card beside it.
    path = save(load(good_file), tmp_path / "half.keras", card_for("dense"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    [entry] = list_models(tmp_path)
    assert entry.broken and "truncated" in entry.problem


def test_a_file_whose_name_cannot_be_shown_on_one_line_is_listed_as_broken(tmp_path, good_file):
    model = load(good_file)
    odd = tmp_path / "two\nlines.keras"
    model.save(odd)  # made by hand: save() refuses the name
    (tmp_path / "two\nlines.json").write_text(json.dumps(card_for("dense")))
    [entry] = list_models(tmp_path)
    assert entry.broken and "unprintable" in entry.problem
    assert "\n" not in entry.label and "two\\nlines" in entry.label


# -- A save is one unit: a kill at any point leaves no model offered without its card ------


def test_the_card_is_in_place_before_the_model(model, tmp_path, monkeypatch):
    def killed():
        assert card_path(tmp_path / "m.keras").is_file() and not (tmp_path / "m.keras").exists()
        raise KeyboardInterrupt  # a kill between the card's rename and the model's

    monkeypatch.setattr(modelio, "_before_model_rename", killed)
    with pytest.raises(KeyboardInterrupt):
        save(model, tmp_path / "m.keras", card_for(model.name))
    assert listing(tmp_path) == ["m.json"]  # a card alone: no temporary, no model
    assert list_models(tmp_path) == []  # and nothing is offered


def test_a_kill_while_writing_the_model_leaves_no_model_and_no_card(model, tmp_path, monkeypatch):
    crash_halfway(monkeypatch, model, "save")
    with pytest.raises(OSError):
        save(model, tmp_path / "m.keras", card_for(model.name))
    assert listing(tmp_path) == []


def killed() -> None:
    raise KeyboardInterrupt  # what a kill does to this process, as far as the files can tell


def test_a_run_killed_while_saving_is_not_offered(trained_dense, mnist, tmp_path, monkeypatch):
    from digitdraw import runs

    monkeypatch.setattr(modelio, "_before_model_rename", killed)
    with pytest.raises(KeyboardInterrupt):
        runs.evaluate_and_save(trained_dense, mnist, tmp_path / "r.keras", command="t", measure_drawn=False)
    assert list_models(tmp_path) == []  # the killed run is not offered as a model


def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_stale_temporaries_of_killed_saves_are_removed_when_models_are_listed(tmp_path, monkeypatch):
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    # Temporaries named as save() names them, as a kill (no clean-up) would leave them.
    stale = [_age(modelio._temporary(tmp_path / n), 2 * 3600) for n in ("a.keras", "a.weights.h5", "a.json")]
    fresh = modelio._temporary(tmp_path / "b.keras")  # a save in progress right now
    other = [tmp_path / n for n in (".notes.txt", "old.tmp.keras", ".keep.json")]
    for p in other:
        p.write_text("not ours, however old")
        _age(p, 2 * 3600)
    modelio.available_models()
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in other)


def test_removing_temporaries_copes_with_a_missing_folder(tmp_path):
    assert modelio.remove_stale_temporaries(tmp_path / "absent") == []


# -- Names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, words",
    [
        ("two\nlines", "unprintable"),
        ("tab\there", "unprintable"),
        ("bell\x07", "unprintable"),
        ("", "empty"),
        ("   ", "empty"),
        (" padded", "space"),
        ("a/b", "/"),
        ("a\\b", "/"),
        (".hidden", "dot"),
        ("x.keras", "suffix"),
        ("n" * 101, "at most 100"),
    ],
)
def test_bad_model_names_are_refused_with_the_reason(name, words):
    with pytest.raises(ModelNameError, match=words) as info:
        modelio.check_name(name)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ModelFileError)
    assert "\n" not in str(info.value)  # the message itself stays on one line


@pytest.mark.parametrize("name", ["cnn-20261122-113000", "my model", "müller_3", "*bold* [x](y)", "v1.2"])
def test_printable_names_are_accepted(name):
    assert modelio.check_name(name) == name


def test_save_refuses_an_unprintable_name_and_writes_nothing(model, tmp_path):
    with pytest.raises(ModelNameError, match="unprintable"):
        save(model, tmp_path / "a\nb.keras", card_for(model.name))
    assert listing(tmp_path) == []


def test_printable_escapes_control_characters_only():
    assert modelio.printable("a\nb\tc\x00 é *") == "a\\nb\\tc\\x00 é *"


# -- Rename and delete -----------------------------------------------------------------


@pytest.fixture
def folders(tmp_path, monkeypatch, good_file):
    """A shipped folder with "dense" and a user folder with "mine" (.keras, .weights.h5, card)."""
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    model = load(good_file)
    save(model, shipped / "dense.keras", card_for("dense"))
    save(model, user / "mine.keras", card_for("dense"))
    save(model, user / "mine.weights.h5")
    save(model, user / "other.keras", card_for("dense"))
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", shipped)
    monkeypatch.setenv(config.USER_MODELS_ENV, str(user))
    return shipped, user


def test_rename_moves_the_model_its_weights_and_its_card_together(folders):
    shipped, user = folders
    expected = answers(load(user / "mine.keras"))
    entry = modelio.rename_model("mine", "digits v2")
    assert (entry.name, entry.path, entry.card, entry.broken) == (
        "digits v2",
        user / "digits v2.keras",
        card_for("dense"),
        False,
    )
    assert listing(user) == sorted(
        ["digits v2.json", "digits v2.keras", "digits v2.weights.h5", "other.json", "other.keras"]
    )
    np.testing.assert_array_equal(answers(load(user / "digits v2.weights.h5")), expected)
    assert [e.name for e in modelio.available_models()] == ["dense", "digits v2", "other"]


@pytest.mark.parametrize(
    "name, new_name, words",
    [
        ("dense", "renamed", "shipped model"),
        ("nope", "renamed", "No trained model named 'nope'"),
        ("mine", "other", "taken"),
        ("mine", "dense", "taken"),
        ("mine", "mine", "already"),
        ("mine", "a\nb", "unprintable"),
        ("mine", "../escape", "/"),
    ],
    ids=["shipped", "unknown", "trained-name", "shipped-name", "same", "unprintable", "path"],
)
def test_rename_refusals_change_nothing(folders, name, new_name, words):
    shipped, user = folders
    before = listing(shipped), listing(user)
    with pytest.raises(ModelNameError, match=words):
        modelio.rename_model(name, new_name)
    assert (listing(shipped), listing(user)) == before


def test_a_failure_midway_through_a_rename_keeps_the_old_model_whole(folders, monkeypatch):
    shipped, user = folders

    def fail(*args):
        raise OSError("disk gone (simulated)")

    monkeypatch.setattr(modelio.os, "replace", fail)  # the card copy's rename and the moves fail
    with pytest.raises(OSError, match="simulated"):
        modelio.rename_model("mine", "new")
    monkeypatch.undo()
    entries = {e.name: e for e in list_models(user)}
    assert list(entries) == ["mine", "other"] and not entries["mine"].broken


def test_a_kill_after_the_card_copy_keeps_the_old_model_whole(folders, monkeypatch):
    shipped, user = folders
    real_replace = os.replace

    def only_the_card(src, dst):
        if str(dst).endswith(".json"):
            return real_replace(src, dst)
        raise KeyboardInterrupt  # killed before the model files moved

    monkeypatch.setattr(modelio.os, "replace", only_the_card)
    with pytest.raises(KeyboardInterrupt):
        modelio.rename_model("mine", "new")
    monkeypatch.undo()
    entries = {e.name: e for e in list_models(user)}
    assert list(entries) == ["mine", "other"] and not entries["mine"].broken  # "new" is a lone card


def test_delete_removes_the_model_its_weights_and_its_card(folders):
    shipped, user = folders
    removed = modelio.delete_model("mine")
    assert sorted(p.name for p in removed) == ["mine.json", "mine.keras", "mine.weights.h5"]
    assert listing(user) == ["other.json", "other.keras"]
    assert [e.name for e in modelio.available_models()] == ["dense", "other"]


def test_a_broken_trained_model_can_be_deleted(folders):
    shipped, user = folders
    (user / "other.json").write_text("[1, 2, 3]")
    modelio.delete_model("other")
    assert listing(user) == ["mine.json", "mine.keras", "mine.weights.h5"]


@pytest.mark.parametrize("name, words", [("dense", "shipped model"), ("nope", "No trained model")])
def test_delete_refuses_shipped_and_unknown_models(folders, name, words):
    shipped, user = folders
    before = listing(shipped), listing(user)
    with pytest.raises(ModelNameError, match=words):
        modelio.delete_model(name)
    assert (listing(shipped), listing(user)) == before
