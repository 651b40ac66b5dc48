"""Broken model files never break a page or a command: each is listed as broken, with its reason.

A card that is valid JSON but not an object, weights whose card names an unknown architecture,
a trained model without its card: `digitdraw list` lists them, `digitdraw info` names the
problem in one line, and the Draw and Inspect pages show the reason while every other model
goes on working (run headless with Streamlit's AppTest).
"""

from __future__ import annotations

import base64
import io
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from digitdraw import architectures, cli, config, modelio, pendigits
from digitdraw.ui import canvas

TIMEOUT = 120
SEVEN = [[(80, 50), (210, 50), (120, 240)]]
# "good" is a copy of the shipped dense; its card's count is checked against the model elsewhere.
GOOD_PARAMETERS = modelio.read_card(config.SHIPPED_MODELS_DIR / "dense.keras")["parameters"]


def layer_table(at: AppTest):
    """The Inspect overview's layer table (an ensemble's card also shows a table of its members)."""
    return next(d.value for d in at.dataframe if "layer" in d.value.columns)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user models folder with one good model ("good"), one whose card is a list ("listcard"),
    weights whose card names an unknown architecture ("resnet") and a model without a card ("bare")."""
    folder = tmp_path / "user"
    folder.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(config.SHIPPED_MODELS_DIR / f"dense{suffix}", folder / f"good{suffix}")
    shutil.copy(config.SHIPPED_MODELS_DIR / "dense.keras", folder / "listcard.keras")
    (folder / "listcard.json").write_text("[1, 2, 3]")
    modelio.save(architectures.build("dense"), folder / "resnet.weights.h5", {"architecture": "resnet"})
    shutil.copy(config.SHIPPED_MODELS_DIR / "dense.keras", folder / "bare.keras")
    monkeypatch.setenv(config.USER_MODELS_ENV, str(folder))
    return folder


# -- The command line --------------------------------------------------------------------


def test_list_shows_every_model_and_each_broken_one_with_its_reason(capsys, user):
    code, out, err = run(capsys, "list")
    assert code == 0 and err == ""
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert set(lines) == {"cnn", "dense", "good", "listcard", "resnet", "bare"}
    assert all(len(fields) == 3 for fields in lines.values())
    assert lines["good"][2].startswith("good (trained here, MNIST ")
    assert lines["listcard"][2].startswith("listcard (trained here, broken: ")
    assert "the model card is a JSON list, not an object" in lines["listcard"][2]
    assert "broken: incomplete: no model card bare.json" in lines["bare"][2]


@pytest.mark.parametrize(
    "name, words",
    [
        ("listcard", "the model card is a JSON list, not an object"),
        ("resnet", "Unknown architecture 'resnet'"),
    ],
)
def test_info_on_a_broken_model_is_a_one_line_error(capsys, user, name, words):
    code, out, err = run(capsys, "info", name)
    assert code == 2 and out == ""
    assert err.startswith("digitdraw: error: ") and words in err
    assert len(err.strip().splitlines()) == 1


def test_info_on_a_good_model_beside_broken_ones_works(capsys, user):
    code, out, _ = run(capsys, "info", "good")
    assert code == 0 and out.startswith(f"# {user / 'good.keras'}")
    assert f"Total params: {GOOD_PARAMETERS:,}" in out


def test_list_keeps_a_model_named_with_a_line_break_on_one_line(capsys, user):
    shutil.copy(user / "good.keras", user / "two\nlines.keras")
    shutil.copy(user / "good.json", user / "two\nlines.json")
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert len(out.splitlines()) == len(modelio.available_models())
    assert any(line.startswith("two\\nlines\t") and "unprintable" in line for line in out.splitlines())


# -- The Draw page -----------------------------------------------------------------------


@pytest.fixture
def shipped_cnn_card_is_a_list(tmp_path, monkeypatch):
    shipped = tmp_path / "models"
    shipped.mkdir()
    for name in ("dense.keras", "dense.json", "cnn.keras"):
        shutil.copy(config.SHIPPED_MODELS_DIR / name, shipped / name)
    (shipped / "cnn.json").write_text("[1, 2, 3]")
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", shipped)
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path / "user"))
    return shipped


def draw_app():
    import streamlit as st

    from digitdraw.ui import draw_page

    st.set_page_config(page_title="draw")
    draw_page.page()


def test_a_broken_card_on_the_draw_page_is_named_and_the_other_model_answers(shipped_cnn_card_is_a_list):
    at = AppTest.from_function(draw_app, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    right = at.selectbox(key="draw_model_right")  # in the page's "Models and ink" popover
    assert right.value == "cnn" and "broken" in right.format_func(right.value)
    # What the canvas sends after a stroke (see tests/test_draw_page.py): a 7.
    buf = io.BytesIO()
    Image.fromarray(pendigits.render(SEVEN, background="black")).save(buf, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    raw = {"objects": [{"type": "path", "path": [["M", 0, 0]]}], "background": "#000000"}
    at.session_state[f"{canvas.KEY_PREFIX}_0"] = {
        "drawing": {"raw": raw, "data": data},
        "backgroundFit": None,
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "CNN" in errors[0] and "not an object" in errors[0]
    assert {m.label: m.value for m in at.metric} == {"Dense": "7"}


# -- The Inspect page ----------------------------------------------------------------------


def inspect_app():
    from digitdraw.ui import inspect_page

    inspect_page.page()


def test_the_inspect_page_lists_broken_models_and_shows_why(user, monkeypatch):
    monkeypatch.setattr(config, "TRAINING_ENABLED", True)
    monkeypatch.delenv(config.TRAINING_PASSWORD_ENV, raising=False)
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    models = at.selectbox(key="inspect_model")
    assert models.options[:2] == [e.label for e in modelio.available_models()[:2]]  # shipped first
    labels = {o.split(" ")[0]: o for o in models.options}
    assert "broken" in labels["listcard"] and "broken" in labels["bare"] and "broken" not in labels["good"]
    for name, words in [
        ("listcard", "not an object"),
        ("resnet", "Unknown architecture 'resnet'"),
        ("bare", "incomplete"),
    ]:
        at.selectbox(key="inspect_model").set_value(name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert len(at.error) == 1
        shown = re.sub(r"\\(.)", r"\1", at.error[0].value)  # as read: Markdown's escapes resolved
        assert words in shown and name in shown
        assert at.error[0].icon == ":material/error:"
    at.selectbox(key="inspect_model").set_value("good").run()
    assert not at.exception and not at.error
    assert layer_table(at)["parameters"].sum() == GOOD_PARAMETERS


@pytest.mark.parametrize(
    "card", [{"data": [1], "history": {"loss": ["a", "b"], "accuracy": [1]}}, {"history": 3}]
)
def test_a_card_with_fields_of_the_wrong_kind_still_shows_the_overview(user, card):
    modelio.write_json(user / "good.json", {**card, "drawn_digit_accuracy": 0.5, "architecture": ["x"]})
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_model"] = "good"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "The card records no training history." in [c.value for c in at.caption]
    assert np.isclose(layer_table(at)["parameters"].sum(), GOOD_PARAMETERS)
