"""The Draw page, run headless with Streamlit's AppTest: what a user sees for each input.

How a drawing reaches the page here: streamlit-drawable-canvas 0.13 is a Components v2
component, whose value is one JSON widget state under the canvas's key (canvas.canvas_key(): a
new key each time the server re-creates the canvas: Undo or Clear where the browser leaves them to
it, which is every Undo and Clear here, where no browser runs the page's script),
{"drawing": {"raw": <fabric JSON>, "data": <PNG data URL>}, "backgroundFit": ...}: exactly
what the browser sends after each stroke. AppTest lets a test set that state through
`at.session_state[key]` before a run, so these tests feed the page the same value a real
stroke would, and the page's own code (st_canvas -> canvas_pixels -> preprocess -> both models)
runs unchanged.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import shutil
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest
import threadpoolctl
from conftest import require
from PIL import Image
from streamlit.testing.v1 import AppTest

from digitdraw import (
    config,
    feedback,
    modelio,
    nondigits,
    pendigits,
    reading,
    redraw,
    results,
    segment,
    strokes,
)
from digitdraw.preprocess import preprocess
from digitdraw.ui import canvas, corrections, models
from digitdraw.ui.canvas import DEFAULT_PEN, canvas_pixels, render_objects
from digitdraw.ui.draw_page import (
    _STYLE,
    CALIBRATED_HELP,
    DRAW_HINT,
    DRAWING_KEY,
    DRAWING_STROKES_KEY,
    HINT_KEY,
    INK_KEY,
    MAX_UPLOAD_MB,
    MODE_KEY,
    NUMBER_DRAWN_KEY,
    NUMBER_HINT,
    PEN_KEY,
    REDRAWN_NOTE,
    SHORT_HINTS,
    STEPS_KEY,
    SUMMARY_KEY,
    UNCALIBRATED_HELP,
    UPLOAD_HINT,
    UPLOAD_TYPES,
    WHOLE_QUESTION,
    read_upload,
)

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TIMEOUT = 120  # the first run imports TensorFlow and loads both models


def _png_data_url(rgba: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _canvas_value(rgba: np.ndarray | None, objects: list[dict] | None = None) -> dict:
    """The canvas component's state after a stroke (or, with None, after a clear).

    Without `objects` the drawing's objects are a placeholder: the page reads the picture.
    """
    if rgba is None:
        return {
            "drawing": {"raw": {"objects": [], "background": "#000000"}, "data": None},
            "backgroundFit": None,
        }
    objects = objects or [{"type": "path", "path": [["M", 0, 0]]}]
    raw = {"version": "7.4.0", "objects": objects, "background": "#000000"}
    return {"drawing": {"raw": raw, "data": _png_data_url(rgba)}, "backgroundFit": None}


def _fabric_path(points: list[tuple[float, float]], pen: float = 18) -> dict:
    """One freehand stroke as the canvas's fabric.js JSON has it (a centred Path object)."""
    pts = np.asarray(points, float)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    (cx, cy), (w, h) = (lo + hi) / 2, hi - lo
    path = [["M", *pts[0].tolist()]] + [["L", *p.tolist()] for p in pts[1:]]
    return {
        "type": "Path",
        "originX": "center",
        "originY": "center",
        "left": cx,
        "top": cy,
        "width": w,
        "height": h,
        "stroke": "#FFFFFF",
        "strokeWidth": pen,
        "path": path,
    }


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _canvas_key(at: AppTest) -> str:
    generation = at.session_state[canvas.GENERATION_KEY] if canvas.GENERATION_KEY in at.session_state else 0
    return f"{canvas.KEY_PREFIX}_{generation}"


def _component(at: AppTest, name: str):
    """The page's one Components v2 element of that registered name."""
    (component,) = [c for c in at.get("bidi_component") if c.proto.component_name == name]
    return component


def _draw(at: AppTest, rgba: np.ndarray | None, objects: list[dict] | None = None) -> AppTest:
    at.session_state[_canvas_key(at)] = _canvas_value(rgba, objects)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at: AppTest) -> list[str]:
    """The probability charts on the page, as the HTML each is."""
    return [h.proto.body for h in at.get("html") if "digitdraw-chart" in h.proto.body]


def _metrics(at: AppTest) -> dict[str, str]:
    """Each metric's label as the reader sees it (Markdown's backslash escapes resolved) -> its value."""
    return {re.sub(r"\\(.)", r"\1", m.label): m.value for m in at.metric}


def _keyed(at: AppTest, key: str):
    """The container made with st.container(key=key), or None."""

    def find(node):
        if getattr(getattr(node, "proto", None), "id", "").endswith(f"-{key}"):
            return node
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else []:
            if (found := find(child)) is not None:
                return found
        return None

    return find(at.main)


def _summary(at: AppTest) -> str:
    """The one-line answers above the input (shown on narrow screens): the keyed container's text."""
    block = _keyed(at, SUMMARY_KEY)
    assert block is not None, "no summary line on the page"
    # No-break spaces keep each model's answer on one line of a phone; read them as spaces.
    return " ".join(str(child.value) for child in block.children.values()).replace(results.NO_BREAK, " ")


# A "1" and a "7" drawn by hand as pen strokes (x, y in any units, y down).
ONE = [[(150, 40), (150, 240)]]
SEVEN = [[(80, 50), (210, 50), (120, 240)]]


@pytest.fixture(scope="module")
def pen_digits() -> dict[int, pendigits.PenDigit]:
    """One real pen-drawn digit per label from the held-out writers, the first the data offers."""
    path = config.pendigits_path()
    require(path is not None and path.is_file(), "pendigits data not configured (see digitdraw.config)")
    chosen: dict[int, pendigits.PenDigit] = {}
    for d in pendigits.load_pendigits(path, writers=pendigits.HOLDOUT_WRITERS):
        chosen.setdefault(d.label, d)
    return chosen


# --------------------------------------------------------------------------- empty canvas


def test_the_app_server_uses_one_blas_thread():
    # Many sessions share the server's cores; a BLAS spreading one drawing's small products
    # over all of them spin-waits for tens of ms of CPU (digitdraw.predict.one_blas_thread).
    _app().run()
    blas = threadpoolctl.threadpool_info()
    assert blas and all(lib["num_threads"] == 1 for lib in blas if lib["user_api"] == "blas")


def test_the_default_page_shows_the_hint_and_no_answers():
    at = _app()
    assert at.title[0].value == "Draw a digit"
    assert DRAW_HINT in [i.value for i in at.info]
    assert len(at.metric) == 0
    assert len(_charts(at)) == 0


def test_the_title_says_what_the_page_reads_now():
    # It said "Draw a digit" over the wide Number canvas and over an upload.
    at = _app()
    at.radio(key=MODE_KEY).set_value("Number").run()
    assert at.title[0].value == "Draw a number"
    at.radio(key="draw_source").set_value("Upload").run()
    assert at.title[0].value == "Read a photo"


def test_on_a_narrow_screen_each_hint_is_said_once_and_fits_the_two_line_summary():
    # A phone showed Number's hint cut off in the summary ("...as you…") and whole again below (qa30).
    at = _app()
    for mode, source, hint in (
        ("Digit", "Draw", DRAW_HINT),
        ("Number", "Draw", NUMBER_HINT),
        ("Number", "Upload", UPLOAD_HINT),
    ):
        at.radio(key=MODE_KEY).set_value(mode).run()
        at.radio(key="draw_source").set_value(source).run()
        assert SHORT_HINTS[hint] in _summary(at) and len(SHORT_HINTS[hint]) <= 60
        box = _keyed(at, HINT_KEY)  # the wide screen's box, with the whole hint
        assert box is not None and [child.value for child in box.children.values()] == [hint]
    assert f".st-key-{HINT_KEY} {{ display: none; }}" in _STYLE  # hidden where the summary shows


def test_clearing_the_canvas_brings_the_hint_back_and_removes_the_answers():
    at = _app()
    _draw(at, pendigits.render(SEVEN, background="black"))
    assert len(at.metric) == 2
    _draw(at, None)
    assert DRAW_HINT in [i.value for i in at.info]
    assert len(at.metric) == 0


def test_canvas_pixels_is_none_until_something_is_drawn():
    class Result:  # what st_canvas returns, reduced to what the page reads
        def __init__(self, objects, image):
            self.json_data = {"objects": objects}
            self.image_data = image

    assert canvas_pixels(Result([], np.zeros((4, 4, 4), np.uint8))) is None
    img = np.ones((4, 4, 4), np.uint8)
    assert canvas_pixels(Result([{"type": "path"}], img)) is img


def test_canvas_pixels_draws_a_recreated_canvas_from_its_strokes():
    # After Undo the canvas starts from strokes and has sent no picture yet: the same strokes,
    # drawn where they are on the canvas at their pen width.
    class Result:
        json_data = {"objects": [_fabric_path(SEVEN[0], pen=24)]}
        image_data = None

    expected = strokes.render_as_drawn([[list(p) for p in SEVEN[0]]], 24.0)
    np.testing.assert_array_equal(canvas_pixels(Result()), expected)


# --------------------------------------------------------------------------- Undo, Clear, settings


def test_the_canvas_has_no_toolbar_of_its_own():
    """The component's hover toolbar swallows strokes at the canvas's top: the page hides it."""
    at = _app()
    component = _component(at, canvas.COMPONENT)
    css = component.proto.css_content
    # The package's own stylesheet still names its toolbar `.dc-toolbar`, and our rule comes last.
    assert ".dc-toolbar{" in css and css.endswith(canvas.HIDE_TOOLBAR_CSS)
    assert component.proto.js_source_path.endswith(".js") and not component.proto.js_content


def test_screen_readers_get_a_named_canvas_and_the_answers_announced():
    at = _app()
    component = _component(at, canvas.COMPONENT)
    assert 'role="img"' in component.proto.html_content and "aria-label=" in component.proto.html_content
    at = _draw(at, pendigits.render(SEVEN, background="black"))
    live = [h.proto.body for h in at.get("html") if "aria-live" in h.proto.body]
    assert len(live) == 1 and "Dense 7" in live[0] and "CNN 7" in live[0]


def _instant(at: AppTest) -> dict:
    """What the page tells its Undo and Clear script: the canvas now on the page and how it began."""
    return json.loads(_component(at, canvas.INSTANT_COMPONENT).proto.json)


def test_undo_and_clear_act_in_the_browser_on_the_canvas_now_on_the_page():
    # The browser side is tested in tests/test_e2e_draw.py; here, what the page hands it.
    seven = [_fabric_path(SEVEN[0])]
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), seven)
    now = _instant(at)
    assert now == {
        "key": _canvas_key(at),
        "startsEmpty": True,
        "undo": "draw_undo",
        "clear": "draw_clear",
        # How the cover over a canvas the server replaces draws the strokes it keeps: as the canvas.
        "pen": DEFAULT_PEN,
        "ink": "#FFFFFF",
        "paper": "#000000",
    }
    # A canvas re-created from strokes (here by a pen change) cannot be emptied by its own reset,
    # which returns to those strokes: Clear is left to the server there.
    at.slider(key=PEN_KEY).set_value(28).run()
    assert _instant(at)["key"] == _canvas_key(at) != now["key"] and not _instant(at)["startsEmpty"]
    at.button(key="draw_clear").click().run()
    assert _instant(at)["startsEmpty"] and len(at.metric) == 0


def test_undo_and_clear_are_disabled_on_an_empty_canvas():
    at = _app()
    assert at.button(key="draw_undo").disabled and at.button(key="draw_clear").disabled


def test_clear_empties_the_canvas_and_brings_the_hint_back_everywhere():
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    assert len(at.metric) == 2 and DRAWING_KEY in at.session_state
    key_before = _canvas_key(at)
    at.button(key="draw_clear").click().run()
    assert _canvas_key(at) != key_before  # a fresh canvas
    assert len(at.metric) == 0
    assert DRAW_HINT in [i.value for i in at.info] and DRAW_HINT in _summary(at)
    assert DRAWING_KEY not in at.session_state  # the Inspect page shows no stale drawing
    assert at.button(key="draw_undo").disabled


def test_a_drawing_cleared_by_mistake_can_be_brought_back_until_the_next_stroke():
    # A phone's Clear sits beside Undo: tapped by mistake, it cost the drawing (a tester, qa24).
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    at.button(key="draw_clear").click().run()
    assert _metrics(at) == {} and _offered(at)
    at.button(key=canvas.BRING_BACK_KEY).click().run()
    assert _metrics(at) == {"Dense": "7", "CNN": "7"} and not _offered(at)
    at.button(key="draw_clear").click().run()
    at = _draw(at, pendigits.render(ONE, background="black"), [_fabric_path(ONE[0])])
    assert _metrics(at) == {"Dense": "1", "CNN": "1"} and not _offered(at)  # a fresh start


def test_a_switch_of_mode_offers_the_drawing_back_in_the_mode_it_was_drawn_in():
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    at.radio(key=MODE_KEY).set_value("Number").run()
    assert _metrics(at) == {} and _offered(at)
    at.button(key=canvas.BRING_BACK_KEY).click().run()
    assert at.radio(key=MODE_KEY).value == "Digit"
    assert _metrics(at) == {"Dense": "7", "CNN": "7"}


def test_undo_removes_the_last_stroke_and_the_models_read_the_rest():
    seven = [_fabric_path(SEVEN[0])]
    stray = [_fabric_path([(30, 150), (250, 150)])]  # a bar across the middle
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), seven)
    assert _metrics(at) == {"Dense": "7", "CNN": "7"}
    at = _draw(at, pendigits.render(SEVEN + [[(30, 150), (250, 150)]], background="black"), seven + stray)
    with_stray = at.session_state[DRAWING_KEY]

    at.button(key="draw_undo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert canvas.INITIAL_KEY in at.session_state
    assert at.session_state[canvas.INITIAL_KEY]["objects"] == seven  # the new canvas starts from these
    undone = at.session_state[DRAWING_KEY]
    assert not np.allclose(undone, with_stray)
    # Read as the app reads a canvas: with its strokes (digitdraw.redraw: the pen for the 7's size).
    paths = [np.asarray(s, float) for s in strokes.canvas_strokes({"objects": seven})]
    expected = preprocess(redraw.for_reading(render_objects(seven), paths)).image
    np.testing.assert_allclose(undone, expected, atol=1e-6)
    assert _metrics(at) == {"Dense": "7", "CNN": "7"}

    at.button(key="draw_undo").click().run()  # the last stroke: an empty canvas
    assert len(at.metric) == 0 and DRAW_HINT in _summary(at)


def test_changing_the_pen_width_keeps_the_drawing_on_the_canvas():
    # The canvas could come back empty after a pen change while the answers still read the old strokes.
    seven = [_fabric_path(SEVEN[0])]
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), seven)
    key_before = _canvas_key(at)
    at.slider(key=PEN_KEY).set_value(28).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _canvas_key(at) != key_before  # a new canvas ...
    assert at.session_state[canvas.INITIAL_KEY]["objects"] == seven  # ... that starts from the strokes
    assert _metrics(at) == {"Dense": "7", "CNN": "7"}
    assert not at.button(key="draw_undo").disabled


def test_a_drawing_is_still_there_after_a_look_at_upload():
    seven = [_fabric_path(SEVEN[0])]
    at = _draw(_app(), pendigits.render(SEVEN, background="black"), seven)
    at.radio(key="draw_source").set_value("Upload").run()
    assert len(at.metric) == 0
    at.radio(key="draw_source").set_value("Draw").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[canvas.INITIAL_KEY]["objects"] == seven  # the canvas comes back with it
    assert _metrics(at) == {"Dense": "7", "CNN": "7"}
    assert not at.button(key="draw_undo").disabled


def test_the_one_line_summary_names_both_answers():
    at = _draw(_app(), pendigits.render(ONE, background="black"))
    line = _summary(at)
    assert "Dense **1**" in line and "CNN **1**" in line


def test_summary_line_wording():
    def line(*readings: tuple[str, str, str, bool]) -> str:
        return results.view_line([results.View(*r) for r in readings])

    assert line(("Dense", "3", "97% sure", True), ("CNN", "3", "99% sure", True)) == (
        "Dense\u00a0**3**\u00a0·\u00a097%\u00a0sure \u2002|\u2002 CNN\u00a0**3**\u00a0·\u00a099%\u00a0sure"
    )
    # On a phone the line may break between the models, never inside one model's reading:
    # "CNN" on one line and "Not a digit" on the next read as two things.
    refused = line(("Dense", "Not a digit", "would guess 0", False), ("CNN", "5", "not sure (41%)", False))
    dense, cnn = refused.split(results.SEPARATOR)
    assert dense == "Dense **Not a digit** · would guess 0".replace(" ", results.NO_BREAK)
    assert cnn == "CNN **5** · not sure (41%)".replace(" ", results.NO_BREAK)
    # What a screen reader is given is plain text with plain spaces.
    spoken = results.view_line([results.View("CNN", "Not a digit", "would guess 0", False)], bold=False)
    assert spoken == "CNN Not a digit · would guess 0"


def test_switching_the_ink_colour_clears_the_canvas():
    at = _draw(_app(), pendigits.render(SEVEN, background="black"))
    key_before = _canvas_key(at)
    at.toggle(key="draw_black_on_white").set_value(True).run()
    assert _canvas_key(at) != key_before and len(at.metric) == 0


def test_the_model_pickers_are_on_the_page_not_only_in_the_sidebar():
    """A phone's sidebar is collapsed: the pickers live in the popover by the canvas."""
    at = _app()
    assert len(at.sidebar.selectbox) == 0
    (popover,) = at.get("popover")
    keys = (
        {w.key for w in popover.selectbox} | {w.key for w in popover.toggle} | {w.key for w in popover.slider}
    )
    assert keys == {"draw_model_left", "draw_model_right", "draw_black_on_white", "draw_pen"}
    at.selectbox(key="draw_model_left").set_value("cnn").run()
    _draw(at, pendigits.render(ONE, background="black"))
    assert set(_metrics(at)) == {"CNN", "CNN (2)"}


# --------------------------------------------------------------------------- a reload


TAB = "0badc0de"


def _reloaded(browser: str, tab: str = TAB) -> AppTest:
    """A new session of this browser (its cookie) in this tab (its address's ?tab=), as a reload (F5)
    starts one."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params[canvas.TAB_PARAM] = tab
    with mock.patch.object(corrections, "_cookie", return_value=browser):
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[corrections.BROWSER_KEY] == browser
    return at


def _offered(at: AppTest) -> bool:
    return any(b.key == canvas.BRING_BACK_KEY for b in at.button)


def test_a_reload_starts_afresh_and_offers_the_drawing_back_with_its_mode_ink_and_pen():
    me = feedback.new_browser_id()
    at = _reloaded(me)
    assert not _offered(at)  # a first visit: nothing to bring back
    at.radio(key=MODE_KEY).set_value("Number").run()
    at.toggle(key=INK_KEY).set_value(True).run()
    at.slider(key=PEN_KEY).set_value(30).run()  # the next stroke must come out as wide as these
    one = [_fabric_path([(180, 30), (180, 150)])]  # inside the wide canvas's 180 px height
    _draw(at, render_objects(one), one)
    assert _metrics(at) == {"Dense": "1", "CNN": "1"}

    # People and scripts reload to start again: the page comes back as new, nothing drawn over.
    again = _reloaded(me)
    assert _metrics(again) == {} and again.button(key="draw_undo").disabled
    assert again.radio(key=MODE_KEY).value == "Digit" and again.slider(key=PEN_KEY).value == DEFAULT_PEN
    # An accidental one (a phone's pull-to-refresh) costs one click: the drawing as it was.
    assert _offered(_reloaded(me))  # a second reload still offers it
    again.button(key=canvas.BRING_BACK_KEY).click().run()
    assert not again.exception, [e.value for e in again.exception]
    assert again.radio(key=MODE_KEY).value == "Number"
    assert again.toggle(key=INK_KEY).value is True
    assert again.slider(key=PEN_KEY).value == 30
    assert again.session_state[canvas.INITIAL_KEY]["objects"] == one
    assert _metrics(again) == {"Dense": "1", "CNN": "1"}
    assert not again.button(key="draw_undo").disabled and not _offered(again)


def test_drawing_after_a_reload_is_a_fresh_start_and_the_offer_goes():
    me = feedback.new_browser_id()
    _draw(_reloaded(me), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    at = _draw(_reloaded(me), pendigits.render(ONE, background="black"), [_fabric_path(ONE[0])])
    assert _metrics(at) == {"Dense": "1", "CNN": "1"} and not _offered(at)
    assert _metrics(_reloaded(me)) == {}  # and the one offered next time is the new drawing
    back = _reloaded(me)
    back.button(key=canvas.BRING_BACK_KEY).click().run()
    assert _metrics(back) == {"Dense": "1", "CNN": "1"}


def test_two_tabs_keep_a_drawing_each_and_another_browser_at_the_same_address_gets_none():
    # One tab's reload brought back the other tab's drawing, and the address copied into another
    # browser brought back the first's (a tester, qa24).
    me = feedback.new_browser_id()
    _draw(_reloaded(me, "aaaaaaaa"), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    _draw(_reloaded(me, "bbbbbbbb"), pendigits.render(ONE, background="black"), [_fabric_path(ONE[0])])
    back = _reloaded(me, "aaaaaaaa")
    back.button(key=canvas.BRING_BACK_KEY).click().run()
    assert _metrics(back) == {"Dense": "7", "CNN": "7"}
    assert not _offered(_reloaded(feedback.new_browser_id(), "aaaaaaaa"))


def test_a_drawing_saved_before_a_reload_is_not_offered_to_save_again():
    # After F5 the drawing came back with "Right?" again, and a second click stored it twice.
    me = feedback.new_browser_id()
    at = _draw(_reloaded(me), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    [yes] = [b for b in at.button if b.label.startswith("Yes, it's")]
    yes.click().run()
    assert [s.value for s in at.success] == ["Saved as 7 — see My drawings."]

    again = _reloaded(me)
    again.button(key=canvas.BRING_BACK_KEY).click().run()
    assert _metrics(again) == {"Dense": "7", "CNN": "7"}  # the drawing is back ...
    assert [s.value for s in again.success] == ["Saved as 7 — see My drawings."]  # ... as saved
    assert not [b for b in again.button if b.label.startswith("Yes, it's")]
    store = feedback.FeedbackStore(feedback.db_url())
    try:
        assert store.count(me) == 1
    finally:
        store.close()


def test_a_square_canvas_drawing_read_as_several_digits_can_still_be_corrected():
    # A slanted 4 cut in two ("12", or "not a digit") is what most needs a correction, and had no
    # Right? at all. It is saved whole, as one digit, with both strokes.
    me = feedback.new_browser_id()
    two = [_fabric_path([(70, 40), (70, 240)]), _fabric_path([(210, 40), (210, 240)])]
    at = _draw(_reloaded(me), render_objects(two), two)
    assert "11" in _metrics(at).values()  # read as a number: two pieces
    # No "Yes, it's ..." for a digit the page is not showing: the person says which digit it is.
    assert not [b for b in at.button if b.label.startswith("Yes, it's")]
    assert WHOLE_QUESTION in [c.value for c in at.caption]
    [four] = [b for b in at.button if b.label == "4"]
    four.click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = feedback.FeedbackStore(feedback.db_url())
    try:
        (saved,) = store.list_drawings(me)
    finally:
        store.close()
    assert saved.label == 4 and len(saved.strokes) == 2 and saved.image.shape == (28, 28)
    assert {a.model for a in saved.answers} == {"Dense", "CNN"}


def _saved(me: str) -> list[feedback.Drawing]:
    store = feedback.FeedbackStore(feedback.db_url())
    try:
        return sorted(store.list_drawings(me), key=lambda d: d.strokes[0][0][0])  # left to right
    finally:
        store.close()


def _a_number(me: str) -> AppTest:
    """Number mode, "11" drawn: two strokes side by side on the wide canvas."""
    at = _reloaded(me)
    at.radio(key=MODE_KEY).set_value("Number").run()
    ones = [_fabric_path([(80, 30), (80, 150)]), _fabric_path([(260, 30), (260, 150)])]
    at = _draw(at, render_objects(ones), ones)
    assert _metrics(at) == {"Dense": "11", "CNN": "11"}
    return at


def test_a_number_can_be_confirmed_and_each_digit_is_kept_on_its_own():
    # A number had no Right? at all: it could be neither confirmed nor corrected (a tester, qa24).
    me = feedback.new_browser_id()
    at = _a_number(me)
    [yes] = [b for b in at.button if b.label == "Yes, it's 11"]
    yes.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == ["Saved as 11 — see My drawings."]
    kept = _saved(me)
    assert [d.label for d in kept] == [1, 1]
    assert all(len(d.strokes) == 1 and d.image.shape == (28, 28) for d in kept)
    assert all({a.model for a in d.answers} == {"Dense", "CNN"} for d in kept)


def test_a_number_whose_saving_fails_part_way_keeps_each_digit_once_on_a_retry(monkeypatch):
    me = feedback.new_browser_id()
    at = _a_number(me)
    real, calls = feedback.FeedbackStore.save, []

    def second_fails_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise feedback.FeedbackStoreError("The database is busy; try again.", "busy")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(feedback.FeedbackStore, "save", second_fails_once)
    [yes] = [b for b in at.button if b.label == "Yes, it's 11"]
    yes.click().run()
    assert [e.value for e in at.error] == ["The database is busy; try again."]
    [yes] = [b for b in at.button if b.label == "Yes, it's 11"]
    yes.click().run()
    assert [s.value for s in at.success] == ["Saved as 11 — see My drawings."]
    assert [d.label for d in _saved(me)] == [1, 1]


def test_a_misread_number_is_corrected_by_typing_its_digits():
    me = feedback.new_browser_id()
    at = _a_number(me)
    (typed,) = [t for t in at.text_input if t.label == corrections.NUMBER_QUESTION]
    typed.input("7").run()  # the box takes 2 characters at most
    at.button(key=next(b.key for b in at.button if b.label == "Save")).click().run()
    assert ["2 digits were read: type 2 digits (0-9), left to right."] == [w.value for w in at.warning]
    assert _saved(me) == []  # nothing kept from a wrong count
    (typed,) = [t for t in at.text_input if t.label == corrections.NUMBER_QUESTION]
    typed.input("17").run()
    at.button(key=next(b.key for b in at.button if b.label == "Save")).click().run()
    assert [s.value for s in at.success] == ["Saved as 17 — see My drawings."]
    assert [d.label for d in _saved(me)] == [1, 7]


def test_a_reload_after_clear_offers_nothing_and_no_other_browser_gets_the_drawing():
    me = feedback.new_browser_id()
    at = _draw(_reloaded(me), pendigits.render(SEVEN, background="black"), [_fabric_path(SEVEN[0])])
    assert not _offered(_reloaded(feedback.new_browser_id())), "another browser got this drawing"
    at.button(key="draw_clear").click().run()
    again = _reloaded(me)
    assert _metrics(again) == {} and not _offered(again)


# --------------------------------------------------------------------------- a drawing


@pytest.mark.parametrize("strokes, digit", [(ONE, 1), (SEVEN, 7)], ids=["one", "seven"])
def test_a_hand_stroked_digit_gets_both_answers_labelled_dense_and_cnn(strokes, digit):
    at = _draw(_app(), pendigits.render(strokes, background="black"))
    metrics = _metrics(at)
    assert set(metrics) == {"Dense", "CNN"}
    assert metrics["CNN"] == str(digit)
    assert metrics["Dense"] == str(digit)
    assert all(m.delta.endswith("sure") or m.delta.startswith("not sure") for m in at.metric)
    assert len(_charts(at)) == 1  # one grouped chart, not one per model


def test_the_chart_is_plain_html_with_both_models_bars_for_each_digit():
    # Not a Vega chart: compiling and drawing one cost the browser ~28 ms per stroke.
    at = _draw(_app(), pendigits.render(SEVEN, background="black"))
    assert len(at.get("vega_lite_chart")) == 0
    (chart,) = _charts(at)
    assert chart.count('title="Dense · ') == 10 and chart.count('title="CNN · ') == 10
    assert re.search(r'aria-label="Probabilities\. Dense: 7, \d+%; CNN: 7, \d+%"', chart)


def _app_with_trained_model(name: str, folder, monkeypatch) -> AppTest:
    """The app with a copy of the shipped dense saved as the trained model `name`, chosen on the left."""
    for suffix in (".keras", ".json"):
        shutil.copy(config.SHIPPED_MODELS_DIR / f"dense{suffix}", folder / f"{name}{suffix}")
    monkeypatch.setenv(config.USER_MODELS_ENV, str(folder))
    at = _app()
    at.selectbox(key="draw_model_left").set_value(name).run()
    return at


def test_a_trained_models_name_reads_as_written_in_the_chart_legend(tmp_path, monkeypatch):
    # Names are Markdown-escaped where Markdown shows them; the chart's legend is plain text.
    name = "dense-2026_mine"
    at = _app_with_trained_model(name, tmp_path, monkeypatch)
    at = _draw(at, pendigits.render(SEVEN, background="black"))
    (chart,) = _charts(at)
    assert f'title="{name} · 7 · ' in chart and 'title="CNN · 7 · ' in chart
    assert name in _metrics(at)


def test_a_model_not_calibrated_says_its_probabilities_are_its_own(tmp_path, monkeypatch):
    # A model trained on the Train page has no `digitdraw calibrate` yet: no detector, no temperature.
    name = "dense-just-trained"  # copied without its .ood.npz: its detector cannot load
    at = _draw(
        _app_with_trained_model(name, tmp_path, monkeypatch), pendigits.render(SEVEN, background="black")
    )
    helps = {re.sub(r"\\(.)", r"\1", m.label): m.proto.help for m in at.metric}
    assert helps[name].startswith(UNCALIBRATED_HELP) and helps["CNN"].startswith(CALIBRATED_HELP)
    notes = {re.sub(r"\\(.)", r"\1", m.label): m.delta for m in at.metric}
    assert notes[name].endswith("· not calibrated") and "calibrated" not in notes["CNN"]


def test_a_model_deleted_by_another_visitor_falls_back_to_the_default_without_a_server_path(
    tmp_path, monkeypatch
):
    name = "dense-gone"
    at = _app_with_trained_model(name, tmp_path, monkeypatch)
    assert name in _metrics(_draw(at, pendigits.render(SEVEN, background="black")))
    for suffix in (".keras", ".json"):  # another visitor deletes it (Inspect -> Manage models)
        (tmp_path / f"{name}{suffix}").unlink()
    at = _draw(at, pendigits.render(ONE, background="black"))
    assert not at.error, [e.value for e in at.error]
    left = at.selectbox(key="draw_model_left")
    assert left.value == "dense" and left.proto.set_value  # the browser's picker is told, too
    assert set(_metrics(at)) == {"Dense", "CNN"}
    assert any(name in t.value.replace("\\", "") for t in at.toast), [t.value for t in at.toast]


def test_a_model_renamed_in_another_session_is_followed_under_its_new_name(tmp_path, monkeypatch):
    # It was "gone from this server" and the page fell back to dense (a tester, qa24).
    at = _app_with_trained_model("dense-old", tmp_path, monkeypatch)
    assert "dense-old" in _metrics(_draw(at, pendigits.render(SEVEN, background="black")))
    modelio.rename_model("dense-old", "Class 3b")  # Inspect -> Manage models, in another tab
    models.record_rename("dense-old", "Class 3b")
    at = _draw(at, pendigits.render(ONE, background="black"))
    assert at.selectbox(key="draw_model_left").value == "Class 3b"
    assert set(_metrics(at)) == {"Class 3b", "CNN"}
    assert any("now called" in t.value for t in at.toast), [t.value for t in at.toast]


@pytest.mark.parametrize("label", [0, 3, 4, 8])
def test_a_real_pen_drawn_digit_is_read_right_by_both_models(pen_digits, label):
    # Drawn at the canvas defaults (280 px, pen 18 px, white on transparent like the canvas).
    at = _draw(_app(), pendigits.render(pen_digits[label]))
    assert _metrics(at) == {"Dense": str(label), "CNN": str(label)}
    assert not [w.value for w in at.warning if "disagree" in w.value]


def test_the_page_shows_what_the_models_see():
    at = _draw(_app(), pendigits.render(SEVEN, background="black"))
    captions = [c for img in at.get("image") for c in img.captions]
    assert any("28×28" in c for c in captions)


def test_the_preprocessing_steps_are_made_only_while_their_expander_is_open():
    # Closed (as it starts), the expander is there but holds no pictures: every stroke would
    # otherwise encode and send six images nobody sees. Opened, it shows each step.
    at = _draw(_app(), pendigits.render(SEVEN, background="black"))
    (steps,) = [e for e in at.expander if e.label.startswith("Preprocessing steps")]
    assert len(steps.get("image")) == 0
    at.session_state[STEPS_KEY] = True  # what opening it in the browser sets
    at.run()
    (steps,) = [e for e in at.expander if e.label.startswith("Preprocessing steps")]
    names = [c.split(" (")[0] for img in steps.get("image") for c in img.captions]
    assert names == list(preprocess(pendigits.render(SEVEN, background="black")).steps)


@pytest.mark.parametrize(("pen", "redrawn"), [(18, True), (8, False)])
def test_the_steps_say_when_a_fat_pen_was_read_drawn_thinner(pen, redrawn):
    drawing = pendigits.render_drawing(SEVEN, stroke_width=pen, height=150, background="black")
    at = _draw(_app(), drawing.pixels, [_fabric_path(p, pen) for p in drawing.paths])
    at.session_state[STEPS_KEY] = True
    at.run()
    (steps,) = [e for e in at.expander if e.label.startswith("Preprocessing steps")]
    assert (REDRAWN_NOTE in [c.value for c in steps.caption]) is redrawn  # 150 / 12 = 12.5 px
    assert _metrics(at) == {"Dense": "7", "CNN": "7"}


def test_the_strokes_a_digit_was_read_with_go_to_the_inspect_page_and_leave_with_it():
    seven = [_fabric_path([(60, 60), (220, 60), (120, 250)])]
    at = _draw(_app(), render_objects(seven), seven)
    (kept,) = at.session_state[DRAWING_STROKES_KEY]
    assert np.allclose(kept, strokes.canvas_strokes({"objects": seven})[0])
    at.button(key="draw_clear").click().run()
    assert DRAWING_STROKES_KEY not in at.session_state
    at = _draw(at, render_objects(seven))  # a picture without its strokes: nothing to read the path of
    assert at.session_state[DRAWING_STROKES_KEY] is None


def test_the_preprocessing_steps_stay_open_for_the_next_drawing_after_clear():
    seven = [_fabric_path(SEVEN[0])]
    at = _draw(_app(), render_objects(seven), seven)
    at.session_state[STEPS_KEY] = True  # opened in the browser
    at.run()
    at.button(key="draw_clear").click().run()
    assert not [e for e in at.expander if e.label.startswith("Preprocessing steps")]  # nothing drawn
    at = _draw(at, render_objects(seven), seven)
    (steps,) = [e for e in at.expander if e.label.startswith("Preprocessing steps")]
    assert len(steps.get("image")) > 0  # open again, with its pictures


def test_the_model_input_is_kept_for_the_inspect_page():
    drawing = pendigits.render(SEVEN, background="black")
    at = _draw(_app(), drawing)
    np.testing.assert_allclose(at.session_state[DRAWING_KEY], preprocess(drawing).image, atol=1e-6)


def test_a_mark_too_small_to_read_says_why_and_gives_no_answers():
    dot = pendigits.render([[(0, 0), (1, 0)]], stroke_width=6, height=4)
    at = _draw(_app(), dot)
    assert len(at.metric) == 0
    assert any("too small" in w.value for w in at.warning)


def test_a_filled_shape_says_so_and_gives_no_answers():
    blob = pendigits.render([np.array([[140.0, 140.0]])], stroke_width=150, background="black")
    at = _draw(_app(), blob)
    assert len(at.metric) == 0
    (warning,) = at.warning
    assert "filled shape" in warning.value and warning.icon == ":material/info:"


# --------------------------------------------------------------------------- upload


def _upload(at: AppTest, name: str, data: bytes, mime: str) -> AppTest:
    at.radio(key="draw_source").set_value("Upload").run()
    at.file_uploader[0].upload(name, data, mime)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_uploaded_photo_of_a_digit_goes_through_the_same_pipeline():
    # Dark ink on light, unevenly lit paper, as JPEG: a phone photo of a "7".
    ink = pendigits.render(SEVEN, canvas=400, stroke_width=22, height=260, background="black")[..., 0]
    light = np.linspace(235, 185, 400, dtype=np.float32)[None, :]
    paper = np.clip(light - ink.astype(np.float32) * 0.7, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.stack([paper] * 3, -1)).save(buf, format="JPEG", quality=85)
    at = _upload(_app(), "seven.jpg", buf.getvalue(), "image/jpeg")
    assert not at.error
    assert _metrics(at)["CNN"] == "7"


def test_a_small_digit_on_a_photo_of_a_whole_page_is_read_closer_and_the_page_says_so():
    # A 7 about 1 cm tall on a photo of a whole page: too small at the size photos are read at.
    ink = pendigits.render(SEVEN, canvas=60, stroke_width=5, height=44, background="black")[..., 0]
    page = np.full((1500, 2000), 215, np.float32)
    page[700:760, 900:960] -= ink.astype(np.float32) * 0.7
    buf = io.BytesIO()
    Image.fromarray(np.stack([page.astype(np.uint8)] * 3, -1)).save(buf, format="JPEG", quality=90)
    at = _upload(_app(), "page.jpg", buf.getvalue(), "image/jpeg")
    assert _metrics(at)["CNN"] == "7"
    assert any(reading.CLOSER_MESSAGE in i.value for i in at.info), [i.value for i in at.info]


def _seven_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pendigits.render(SEVEN, background="black")).save(buf, format="PNG")
    return buf.getvalue()


def test_an_upload_is_still_there_after_a_look_at_the_canvas():
    at = _upload(_app(), "seven.png", _seven_png(), "image/png")
    assert _metrics(at)["CNN"] == "7"
    at.radio(key="draw_source").set_value("Draw").run()
    at.radio(key="draw_source").set_value("Upload").run()
    assert not at.exception, [e.value for e in at.exception]
    assert _metrics(at)["CNN"] == "7"  # read again, not the upload hint
    captions = [img.caption for image in at.get("image") for img in image.proto.imgs]
    assert any("seven.png" in c for c in captions)  # named as the upload it was
    # Kept until removed: by its own button here ...
    at.button(key="draw_upload_forget").click().run()
    assert len(at.metric) == 0
    # ... or with the uploader's own remove while the uploader still holds it.
    at = _upload(at, "seven.png", _seven_png(), "image/png")
    at.file_uploader[0].clear()
    at.run()
    assert len(at.metric) == 0
    at.radio(key="draw_source").set_value("Draw").run()
    at.radio(key="draw_source").set_value("Upload").run()
    assert len(at.metric) == 0


def test_an_unreadable_upload_gets_a_clear_error_and_no_answers():
    at = _upload(_app(), "digit.png", b"this is not a PNG at all", "image/png")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "digit.png" in errors[0] and "not an image" in errors[0]
    assert len(at.metric) == 0


def test_the_uploader_offers_every_picture_the_cli_reads_and_reads_each():
    # A type the uploader refused itself was said only in a tooltip (none on a phone), beside the
    # last photo's answers: it offers what the app can read, and the page says what it cannot.
    seven = Image.fromarray(pendigits.render(SEVEN, background="black")).convert("RGB")
    pillow = {"jpg": "JPEG", "tif": "TIFF"}
    for kind in [k for k in UPLOAD_TYPES if k not in ("heic", "heif")]:
        buf = io.BytesIO()
        seven.save(buf, format=pillow.get(kind, kind.upper()))
        assert read_upload(buf.getvalue()).shape[:2] == (280, 280), kind
    at = _upload(_app(), "seven.webp", _as(seven, "WEBP"), "image/webp")
    assert _metrics(at)["CNN"] == "7"
    # An iPhone's HEIC photo reaches the page, which says how to send it instead.
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    at = _upload(_app(), "photo.heic", heic, "image/heic")
    (error,) = [e.value for e in at.error]
    assert "HEIC" in error and "JPEG" in error and len(at.metric) == 0


def _as(image: Image.Image, kind: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=kind)
    return buf.getvalue()


def test_a_file_over_the_size_limit_is_refused_before_decoding_and_says_the_limit():
    with pytest.raises(Exception, match=f"limit is {MAX_UPLOAD_MB} MB"):
        read_upload(b"\x89PNG" + bytes(MAX_UPLOAD_MB * 1024 * 1024))


# --------------------------------------------------------------------------- broken model


def test_a_corrupt_model_file_is_named_in_an_error_and_the_other_model_still_answers(tmp_path, monkeypatch):
    shipped = tmp_path / "models"
    shipped.mkdir()
    for name in ("dense.keras", "dense.json"):
        shutil.copy(config.SHIPPED_MODELS_DIR / name, shipped / name)
    (shipped / "cnn.keras").write_bytes(b"PK\x03\x04 truncated download")
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", shipped)

    at = _draw(_app(), pendigits.render(SEVEN, background="black"))
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "CNN" in errors[0] and str(shipped / "cnn.keras") in errors[0]
    assert set(_metrics(at)) == {"Dense"}  # the page goes on with the model that loaded
    assert _metrics(at)["Dense"] == "7"


def test_a_missing_default_model_is_named_too(tmp_path, monkeypatch):
    shipped = tmp_path / "models"
    shipped.mkdir()
    shutil.copy(config.SHIPPED_MODELS_DIR / "cnn.keras", shipped / "cnn.keras")
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", shipped)

    at = _draw(_app(), pendigits.render(ONE, background="black"))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "dense.keras" in errors[0] and "no such model file" in errors[0]
    assert set(_metrics(at)) == {"CNN"}


def test_reruns_do_not_reset_keras_under_the_cached_models(monkeypatch):
    """Streamlit resets Keras after every run by default; each stroke is a run, so we opt out."""
    resets = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: resets.append(1))
    at = _draw(_app(), pendigits.render(SEVEN, background="black"))
    _draw(at, pendigits.render(ONE, background="black"))
    assert resets == []


# --------------------------------------------------------------------------- numbers, not a digit


def test_number_mode_gives_a_wide_canvas_and_reads_the_digits_left_to_right(pen_digits):
    at = _app()
    at.radio(key="draw_mode").set_value("Number").run()
    number, _ = segment.render_number(
        [pen_digits[d].strokes for d in (3, 1, 4)], [30, 30], height=120, canvas_height=180
    )
    at = _draw(at, number)
    assert _metrics(at) == {"Dense": "314", "CNN": "314"}
    assert any("digit by digit: 3 (" in c.value for c in at.caption)
    assert at.session_state[NUMBER_DRAWN_KEY]  # so Inspect says why it offers no drawing


def test_two_digits_on_the_square_canvas_are_read_as_a_number_not_as_one_digit(pen_digits):
    number, _ = segment.render_number([pen_digits[d].strokes for d in (1, 7)], [40], canvas_height=280)
    at = _draw(
        _app(),
        number[:, :280]
        if number.shape[1] >= 280
        else np.pad(number, ((0, 0), (0, 280 - number.shape[1]), (0, 0))),
    )
    assert _metrics(at)["CNN"] == "17"
    assert any("Number mode" in i.value for i in at.info)


def test_a_drawing_that_is_not_a_digit_names_no_digit_and_gives_the_guess_only_as_a_hint():
    # A word of letters built from strokes (nondigits' benchmark family, never trained on).
    word = next(d for d in nondigits.generate("bench", 40, seed=3) if d.kind == "word")
    at = _draw(_app(), pendigits.render(word.strokes, background="black"))
    assert _metrics(at)["CNN"] == "Not a digit"
    assert any("doesn't look like a digit" in w.value for w in at.warning)
    assert all("would guess" in m.delta for m in at.metric if m.value == "Not a digit")


def test_in_number_mode_a_refusal_does_not_send_the_user_to_number_mode():
    word = next(d for d in nondigits.generate("bench", 40, seed=3) if d.kind == "word")
    at = _app()
    at.radio(key="draw_mode").set_value("Number").run()
    at = _draw(at, pendigits.render(word.strokes, background="black"))
    warnings = [w.value for w in at.warning if "doesn't look like a digit" in w.value]
    assert warnings and all("Number mode" not in w for w in warnings)


def test_where_one_model_refuses_and_another_reads_the_page_says_which_said_what(tmp_path, monkeypatch):
    # "That doesn't look like a digit. Draw one digit" beside the other model's "4, 100% sure" told
    # the person to draw what they had just drawn (a tester, qa28).
    name = "dense-just-trained"  # no detector (see above): it never refuses
    word = next(d for d in nondigits.generate("bench", 40, seed=3) if d.kind == "word")
    at = _draw(
        _app_with_trained_model(name, tmp_path, monkeypatch),
        pendigits.render(word.strokes, background="black"),
    )
    read = _metrics(at)[name]
    assert _metrics(at)["CNN"] == "Not a digit" and read not in ("Not a digit", "–")
    warnings = [w.value for w in at.warning]
    assert any(
        w.startswith("The models disagree:")
        and "CNN doesn't take it for a digit (would guess " in w
        and f"reads {read}, " in w
        for w in warnings
    ), warnings
    assert not any("doesn't look like a digit" in w for w in warnings)


def test_a_split_verdict_names_the_refusing_and_the_reading_models_only_where_they_differ():
    refused = results.View("CNN", results.REFUSED, "would guess 4", False)
    reads = results.View("Dense", "4", "100% sure", True)
    assert results.split_verdict([refused, reads]) == (
        "The models disagree: CNN doesn't take it for a digit (would guess 4); Dense reads 4, 100% sure."
    )
    assert results.split_verdict([refused, dataclasses.replace(refused, model="Dense")]) is None
    assert results.split_verdict([reads, dataclasses.replace(reads, model="CNN")]) is None


def test_views_say_number_not_a_digit_and_confidence():
    def digit(d: int, p: float) -> reading.DigitAnswer:
        probs = np.full(10, (1 - p) / 9, np.float32)
        probs[d] = p
        return reading.DigitAnswer(d, p, probs, p >= config.CONFIDENCE_THRESHOLD, False, 0, 1)

    number = reading.ModelReading("cnn", reading.NUMBER, (digit(1, 0.99), digit(7, 0.9)))
    assert results.view("CNN", number) == results.View("CNN", "17", "89% sure", True)
    refused = reading.ModelReading("cnn", reading.NOT_A_DIGIT, (digit(8, 0.7),))
    assert results.view("CNN", refused) == results.View("CNN", "Not a digit", "would guess 8", False)
    unsure = reading.ModelReading("cnn", reading.DIGIT, (digit(4, 0.41),))
    assert results.view("CNN", unsure).note == "not sure (41%)"
    assert results.digits_line(number) == "1 (99%) · 7 (90%)"
