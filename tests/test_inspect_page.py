"""The Inspect page's own parts: the drawing it shows, its icons, and "Manage models".

Run headless with Streamlit's AppTest, the page alone (AppTest.from_function).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import require
from streamlit.testing.v1 import AppTest

from digitdraw import config, modelio
from digitdraw.ui import inspect_page, train_page
from digitdraw.ui.models import md

TIMEOUT = 120


def inspect_app():
    from digitdraw.ui import inspect_page

    inspect_page.page()


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "success", "warning", "error", "title", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def user(tmp_path, monkeypatch):
    """Training allowed without a password, and a user folder with two trained models."""
    monkeypatch.setattr(config, "TRAINING_ENABLED", True)
    monkeypatch.delenv(config.TRAINING_PASSWORD_ENV, raising=False)
    folder = tmp_path / "user"
    folder.mkdir()
    for name in ("dense-20261122-120000", "mine"):
        for suffix in (".keras", ".json"):
            shutil.copy(config.SHIPPED_MODELS_DIR / f"dense{suffix}", folder / f"{name}{suffix}")
    monkeypatch.setenv(config.USER_MODELS_ENV, str(folder))
    return folder


def manage(at: AppTest, section: str = "Overview") -> AppTest:
    """Run the page on `section`; "Manage models" is below every section."""
    at.session_state["inspect_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# -- Your drawing ---------------------------------------------------------------------------


def inside(drawing) -> AppTest:
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    if drawing is not ...:
        at.session_state[inspect_page.DRAWING_KEY] = drawing
    at.session_state["inspect_section"] = "Inside the model"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(
    "drawing",
    [..., None, np.zeros((28, 28), np.float32), np.ones(10, np.float32)],
    ids=["never-drawn", "cleared", "empty", "malformed"],
)
def test_without_a_drawing_on_the_canvas_inside_the_model_shows_the_hint_not_an_old_drawing(drawing):
    at = inside(drawing)
    assert at.radio(key="inspect_source").options == ["An MNIST test image"]
    assert "Draw a digit on the **Draw** page to see your own drawing here." in texts(at)
    assert "saliency on your drawing" not in texts(at)


def test_your_drawing_shows_what_the_pen_path_reader_reads_beside_the_pixels():
    from digitdraw import preprocess
    from digitdraw.ui.canvas import render_objects
    from digitdraw.ui.draw_page import DRAWING_STROKES_KEY

    seven = [np.array([[60.0, 60], [140, 58], [220, 60], [170, 150], [120, 250]])]
    path = {"type": "Path", "left": 140, "top": 155, "width": 160, "height": 192, "strokeWidth": 18}
    path["path"] = [["M", *seven[0][0]]] + [["L", *pt] for pt in seven[0][1:]]
    image = preprocess.preprocess(render_objects([path])).image
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state[inspect_page.DRAWING_KEY] = image
    at.session_state[DRAWING_STROKES_KEY] = seven
    at.session_state["inspect_section"] = "Inside the model"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "The pen's path: a second witness" in [h.value for h in at.subheader]
    said = texts(at)
    for line in ("pixels alone: 7", "pen's path alone: 7", "together, as the Draw page shows: 7"):
        assert said.count(line) == 2, line  # for the dense and the cnn, which share one reader
    assert "the path the reader reads" in [c for img in at.get("image") for c in img.captions]

    at.session_state[DRAWING_STROKES_KEY] = None  # an uploaded picture: no strokes
    at.run()
    assert "The pen's path: a second witness" not in [h.value for h in at.subheader]


def test_a_drawing_cleared_on_the_draw_page_disappears_from_inspect():
    drawing = np.zeros((28, 28), np.float32)
    drawing[5:23, 13:16] = 1.0
    at = inside(drawing)
    assert at.radio(key="inspect_source").value == "Your drawing"
    at.session_state[inspect_page.DRAWING_KEY] = None  # what the Draw page does when cleared
    at.run()
    assert not at.exception
    assert at.radio(key="inspect_source").options == ["An MNIST test image"]
    assert "saliency on your drawing" not in texts(at)


# -- Icons ------------------------------------------------------------------------------


def test_the_inspect_page_uses_material_icons_not_emoji():
    """Emoji render as empty boxes without an emoji font; Material icons ship with Streamlit."""
    source = Path(inspect_page.__file__).read_text()
    symbols = {c for c in source if unicodedata.category(c) == "So"}
    assert not symbols, f"emoji or other symbols in inspect_page.py: {sorted(symbols)}"
    icons = [
        kw.value.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "icon" and isinstance(kw.value, ast.Constant)
    ]
    assert icons and all(i.startswith(":material/") for i in icons), icons


def test_missing_mnist_is_a_warning_with_a_material_icon(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "no-mnist"))
    at = manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT), "Data")
    assert at.warning and all(w.icon.startswith(":material/") for w in at.warning)


# -- Manage models ------------------------------------------------------------------------


def top(at: AppTest) -> str:
    """The model chosen in the page's own picker, the one every section shows."""
    return at.selectbox(key="inspect_model").value


def choose(at: AppTest, name: str) -> AppTest:
    """Choose `name` at the top after the page has run with another model (as a person does)."""
    at.selectbox(key="inspect_model").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rename(at: AppTest, new_name: str) -> AppTest:
    at.text_input(key="inspect_new_name").input(new_name).run()
    at.button(key="inspect_rename").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_manage_models_acts_on_the_model_chosen_at_the_top(user):
    at = manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT))
    choose(at, "mine")
    assert "Rename or delete **mine**, the model chosen above." in texts(at)
    choose(at, "dense-20261122-120000")  # changed its mind: Manage follows
    assert r"Rename or delete **dense\-20261122\-120000**, the model chosen above." in texts(at)
    rename(at, "renamed")
    assert listing(user) == ["mine.json", "mine.keras", "renamed.json", "renamed.keras"]


def test_a_shipped_model_at_the_top_cannot_be_managed_and_the_page_says_how_to_pick_one(user):
    at = manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT))
    assert top(at) == "cnn"
    assert "**cnn** is shipped with the app: it cannot be renamed or deleted." in texts(at)
    assert not [b for b in at.button if b.key in ("inspect_rename", "inspect_delete")]


def test_with_no_trained_models_there_is_nothing_to_manage(tmp_path, monkeypatch):
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path / "empty"))
    at = manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT))
    assert "No models trained here yet" in texts(at)
    assert not [b for b in at.button if b.key in ("inspect_rename", "inspect_delete")]


def test_rename_moves_the_files_and_says_so(user):
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    rename(at, "my best dense")
    assert listing(user) == sorted(
        [
            "dense-20261122-120000.json",
            "dense-20261122-120000.keras",
            "my best dense.json",
            "my best dense.keras",
        ]
    )
    assert "Renamed **mine** to **my best dense**." in [s.value for s in at.success]
    assert "my best dense" in at.selectbox(key="inspect_model").options[-1]


def test_after_a_rename_the_page_shows_the_renamed_model_and_a_second_rename_renames_it_again(user):
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    rename(at, "second")
    assert top(at) == "second" and at.selectbox(key="inspect_model").proto.set_value  # in the browser too
    assert "Rename or delete **second**, the model chosen above." in texts(at)
    assert at.text_input(key="inspect_new_name").value == ""  # the box is empty for the next name
    rename(at, "third")
    assert "Renamed **second** to **third**." in [s.value for s in at.success]
    assert listing(user) == sorted(
        ["dense-20261122-120000.json", "dense-20261122-120000.keras", "third.json", "third.keras"]
    )
    assert top(at) == "third"


@pytest.mark.parametrize(
    "new_name, words",
    [
        ("dense-20261122-120000", "taken"),
        ("cnn", "taken"),
        ("CNN", "names are told apart without case"),  # two answers titled "CNN" and "CNN (2)": qa26
        ("a\tb", "unprintable"),
        ("x/y", "/"),
    ],
    ids=["trained-name", "shipped-name", "shipped-name-in-capitals", "unprintable", "path"],
)
def test_a_refused_rename_says_why_and_changes_nothing(user, new_name, words):
    before = listing(user)
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    rename(at, new_name)
    assert len(at.error) == 1 and words in at.error[0].value
    assert listing(user) == before


@pytest.mark.parametrize("new_name", ["*star* `code` $x^2$", "a\\b"], ids=["markdown-and-latex", "backslash"])
def test_a_refused_renames_message_is_shown_as_written_not_as_markdown(user, new_name):
    for suffix in (".keras", ".json"):  # taken, so the refusal quotes the name
        shutil.copy(user / f"mine{suffix}", user / f"*star* `code` $x^2${suffix}")
    with pytest.raises(modelio.ModelNameError) as refusal:
        modelio.rename_model("mine", new_name)
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    rename(at, new_name)
    # Every Markdown character escaped: "*" is not italics, "$" not LaTeX, "\\" not an escape.
    assert [e.value for e in at.error] == [md(str(refusal.value))]


def test_delete_asks_first_and_keep_it_keeps_it(user):
    before = listing(user)
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    at.button(key="inspect_delete").click().run()
    assert listing(user) == before  # asking is not deleting
    assert "Delete **mine** and its card for good?" in at.warning[0].value
    at.button(key="inspect_delete_cancel").click().run()
    assert listing(user) == before
    assert not at.warning and at.button(key="inspect_delete") is not None


def test_delete_after_the_confirmation_removes_the_model_and_its_card(user):
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    at.button(key="inspect_delete").click().run()
    at.button(key="inspect_delete_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert listing(user) == ["dense-20261122-120000.json", "dense-20261122-120000.keras"]
    assert "Deleted **mine**." in [s.value for s in at.success]
    assert not any("mine" in o for o in at.selectbox(key="inspect_model").options)
    # The browser is told the new choice too: without set_value it kept showing the deleted model.
    picker = at.selectbox(key="inspect_model")
    assert picker.value == "cnn" and picker.proto.set_value


def test_a_name_with_markdown_is_escaped_where_it_is_shown(user):
    for suffix in (".keras", ".json"):
        (user / f"mine{suffix}").rename(user / f"*bold* [x](y){suffix}")
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "*bold* [x](y)")
    at.button(key="inspect_delete").click().run()
    assert r"Delete **\*bold\* \[x\]\(y\)** and its card" in at.warning[0].value


def test_managing_needs_the_training_password_when_one_is_set(user, monkeypatch):
    monkeypatch.setenv(config.TRAINING_PASSWORD_ENV, "s3cret")
    at = manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT))
    assert "unlock the **Train** page first" in texts(at)
    assert not [b for b in at.button if b.key == "inspect_rename"]
    at.session_state[train_page.UNLOCK_KEY] = hashlib.sha256(b"s3cret").hexdigest()  # unlocked on Train
    choose(at, "mine")
    assert [b for b in at.button if b.key == "inspect_rename"]


def test_with_training_switched_off_models_cannot_be_managed(user, monkeypatch):
    monkeypatch.setattr(config, "TRAINING_ENABLED", False)
    at = manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT))
    assert "Training is switched off on this server" in texts(at)
    assert not [b for b in at.button if b.key == "inspect_rename"]


# -- Names with Markdown in them --------------------------------------------------------------

STAR = "*star* `code` $x^2$"  # italics, a code chip and LaTeX if it were read as Markdown


def test_a_models_name_with_markdown_is_shown_as_written_in_the_saliency_caption(user):
    for suffix in (".keras", ".json"):
        (user / f"mine{suffix}").rename(user / f"{STAR}{suffix}")
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_model"] = STAR
    at.session_state["inspect_section"] = "Inside the model"
    drawing = np.zeros((28, 28), np.float32)
    drawing[5:23, 13:16] = 1.0
    at.session_state[inspect_page.DRAWING_KEY] = drawing  # no MNIST needed
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [img.caption for image in at.get("image") for img in image.proto.imgs]
    assert any(c.startswith(f"{md(STAR)} (dense): ") for c in captions), captions


def test_a_broken_models_name_with_markdown_is_shown_as_written_in_its_error(user):
    (user / "mine.keras").rename(user / f"{STAR}.keras")  # no card beside it: an interrupted save
    [entry] = [e for e in modelio.available_models() if e.name == STAR]
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_model"] = STAR
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error[0].value == f"Model **{md(STAR)}** cannot be used: {md(entry.problem)}"


# -- Export ------------------------------------------------------------------------------


def export_page(choice: str) -> AppTest:
    """The Export section for the shipped dense model, with `choice` picked and Prepare pressed."""
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_model"] = "dense"
    at.session_state["inspect_section"] = "Export"
    at.run()
    assert at.radio(key="inspect_export_format").options == list(inspect_page.EXPORT_CHOICES)
    assert not at.get("download_button")  # nothing to download before it is prepared
    at.radio(key="inspect_export_format").set_value(choice).run()
    at.button(key="inspect_export_prepare").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# The int8 export is converted by TensorFlow, whose TFLite converter warns about its own interpreter.
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
@pytest.mark.parametrize(
    "choice, file_name, figure",
    [
        ("TFLite", "dense.tflite", "Largest probability difference"),
        ("TFLite int8", "dense-int8.tflite", "Accuracy change"),
    ],
)
def test_prepare_download_exports_the_model_and_shows_its_size_and_parity(
    mnist_dir, choice, file_name, figure
):
    require(importlib.util.find_spec("ai_edge_litert") is not None, "ai-edge-litert is not installed")
    at = export_page(choice)
    assert not at.error, [e.value for e in at.error]
    [download] = at.get("download_button")
    assert download.proto.label == f"Download {md(file_name)}"  # as written: the label is Markdown
    shown = metrics(at)
    assert float(shown["Same digit as Keras"].rstrip("%")) >= 99.0
    assert figure in shown
    if figure == "Accuracy change":  # signed, or "none": never a "loss" of -0.10 points
        assert shown[figure] == "none" or shown[figure][0] in "+-"
    assert any("MB · checked in" in c.value for c in at.caption)
    # The download is for this model and format only: another choice hides it.
    at.radio(key="inspect_export_format").set_value("ONNX").run()
    assert not at.get("download_button")


def test_a_missing_runtime_is_an_error_that_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    at = export_page("ONNX")
    assert len(at.error) == 1 and "onnxruntime" in at.error[0].value and "pip install" in at.error[0].value
    assert at.error[0].icon.startswith(":material/")
    assert not at.get("download_button")


def test_an_export_without_mnist_to_check_it_on_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "no-mnist"))
    at = export_page("TFLite")
    assert len(at.error) == 1 and at.error[0].value.startswith("Cannot export **dense**")
    assert not at.get("download_button")


def test_a_model_deleted_or_renamed_in_another_tab_is_said_to_be_not_silently_swapped(user):
    at = choose(manage(AppTest.from_function(inspect_app, default_timeout=TIMEOUT)), "mine")
    for suffix in (".keras", ".json"):  # another tab renames it
        (user / f"mine{suffix}").rename(user / f"ours{suffix}")
    from digitdraw.ui.models import record_rename

    record_rename("mine", "ours")
    at.run()
    assert top(at) == "ours" and "Model mine is now called ours." in [t.value for t in at.toast]
    for suffix in (".keras", ".json"):  # and then deletes it
        (user / f"ours{suffix}").unlink()
    at.run()
    assert top(at) == "cnn"
    assert "Model ours is gone from this server: showing cnn." in [t.value for t in at.toast]


def test_clicking_the_section_shown_again_keeps_it_shown():
    at = AppTest.from_function(inspect_app, default_timeout=TIMEOUT)
    at.session_state["inspect_section"] = "Data"
    at.run()
    at.segmented_control(key="inspect_section").set_value(None).run()  # what a second click sends
    assert not at.exception and at.segmented_control(key="inspect_section").value == "Data"


def test_a_cnn_trained_with_the_quick_recipe_is_the_cnn_looked_inside(tmp_path, monkeypatch):
    # Only an architecture called exactly "cnn" was one: a cnn_quick model showed the shipped pair.
    folder = tmp_path / "user"
    folder.mkdir()
    shutil.copy(config.SHIPPED_MODELS_DIR / "cnn.keras", folder / "quick.keras")
    card = modelio.read_card(config.SHIPPED_MODELS_DIR / "cnn.keras")
    modelio.card_path(folder / "quick.keras").write_text(json.dumps({**card, "architecture": "cnn_quick"}))
    monkeypatch.setenv(config.USER_MODELS_ENV, str(folder))
    by_name = {e.name: e for e in modelio.available_models()}
    dense, cnn = inspect_page._pair(by_name["quick"], by_name)
    assert cnn.name == "quick" and dense.name == "dense"
