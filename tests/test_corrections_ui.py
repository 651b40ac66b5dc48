"""The correction panel ("Right?" under the Draw page's answers) and the "My drawings" page, run headless
with Streamlit's AppTest against a real SQLite store in a temporary folder (tests/conftest.py points
$DIGITDRAW_DB_URL there for every test).

The panel runs alone (AppTest.from_function) with a fixed drawing, as the Draw page hands it over.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from digitdraw import feedback, results
from digitdraw.feedback import NOT_A_DIGIT, FeedbackStore, FeedbackStoreError, ModelAnswer
from digitdraw.reading import DIGIT, DigitAnswer, ModelReading
from digitdraw.reading import NOT_A_DIGIT as NOT_A_DIGIT_STATUS
from digitdraw.ui import corrections, drawings_page
from digitdraw.ui.models import md

TIMEOUT = 60
KEY = "panel"
SEVEN = [[[80.0, 50.0], [210.0, 50.0], [120.0, 240.0]]]  # canvas pixels, as canvas_strokes gives them
INPUT = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
PEN = 18.0


def answer(model: str, digit: int, confidence: float = 0.9) -> results.Answer:
    probs = np.full(10, (1 - confidence) / 9, np.float32)
    probs[digit] = confidence
    return results.Answer(model, digit, confidence, probs, sure=confidence >= 0.5)


AGREE = [answer("Dense", 7), answer("CNN", 7, 0.97)]
DISAGREE = [answer("Dense", 1, 0.6), answer("CNN", 7)]


# AppTest.from_function runs a function's source as a script: its imports must be inside it.
def panel_app(strokes, image, answers, pen_width, key):
    from digitdraw.ui.corrections import correction_panel

    correction_panel(strokes=strokes, image=image, answers=answers, pen_width=pen_width, key=key)


def drawings_app():
    from digitdraw.ui import drawings_page

    drawings_page.page()


def panel(answers=AGREE, strokes=SEVEN) -> AppTest:
    kwargs = {"strokes": strokes, "image": INPUT, "answers": answers, "pen_width": PEN, "key": KEY}
    at = AppTest.from_function(panel_app, default_timeout=TIMEOUT, kwargs=kwargs)
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def store() -> FeedbackStore:
    return FeedbackStore(feedback.db_url())


def saved() -> list[feedback.Drawing]:
    s = store()
    try:
        return s.list_drawings(None)
    finally:
        s.close()


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, [b.label for b in at.button]
    return found[0]


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


# --------------------------------------------------------------------------- the panel


def test_the_panel_offers_a_confirm_and_every_label():
    at = panel()
    assert "**Right?**" in [m.value for m in at.markdown]
    assert labels(at) == ["Yes, it's 7", *map(str, range(10)), "not a digit"]


def test_a_session_that_never_clicks_stores_nothing():
    at = panel()
    at.run()
    ok(at)
    assert saved() == []


def test_confirm_saves_the_agreed_answer_exactly_once():
    at = panel()
    ok(button(at, "Yes, it's 7").click().run())
    assert [s.value for s in at.success] == ["Saved as 7 — see My drawings."]
    assert labels(at) == []  # the buttons gave way to the confirmation
    ok(at.run())  # the next stroke or rerun with the same drawing
    assert [s.value for s in at.success] == ["Saved as 7 — see My drawings."]

    (drawing,) = saved()
    assert drawing.label == 7
    assert drawing.strokes == SEVEN
    assert drawing.pen_width == PEN
    assert (drawing.image == INPUT).all()
    by_model = {a.model: a for a in drawing.answers}
    assert {m: a.answer for m, a in by_model.items()} == {"Dense": 7, "CNN": 7}
    assert np.allclose(by_model["CNN"].probabilities, AGREE[1].probabilities)
    # Saved under this browser's anonymous id, which the address does not carry.
    assert drawing.browser_id == at.session_state[corrections.BROWSER_KEY]
    assert corrections.BROWSER_PARAM not in at.query_params


def test_a_digit_click_saves_that_label():
    at = panel()
    ok(button(at, "4").click().run())
    assert [s.value for s in at.success] == ["Saved as 4 — see My drawings."]
    assert [d.label for d in saved()] == [4]


def test_not_a_digit_saves_the_not_a_digit_label():
    at = panel()
    ok(button(at, "not a digit").click().run())
    assert [s.value for s in at.success] == ["Saved as not a digit — see My drawings."]
    assert [d.label for d in saved()] == [NOT_A_DIGIT]


def test_a_new_drawing_can_be_saved_after_the_last_one():
    at = panel()
    ok(button(at, "Yes, it's 7").click().run())
    other = [[[150.0, 40.0], [150.0, 240.0]]]
    at.kwargs["strokes"] = other  # what the next drawing hands over
    ok(at.run())
    ok(button(at, "1").click().run())
    assert [(d.label, d.strokes) for d in saved()] == [(1, other), (7, SEVEN)]


def test_when_the_models_disagree_there_is_no_one_click_confirm():
    at = panel(answers=DISAGREE)
    assert not any(label.startswith("Yes") for label in labels(at))
    assert "The models disagree. It is:" in [c.value for c in at.caption]
    ok(button(at, "7").click().run())
    assert [d.label for d in saved()] == [7]


def reading(model: str, status: str, digit: int) -> ModelReading:
    probs = np.full(10, 0.01, np.float32)
    probs[digit] = 0.91
    piece = DigitAnswer(digit, 0.91, probs, True, status == NOT_A_DIGIT_STATUS, 0, 28)
    return ModelReading(model, status, (piece,))


def test_a_model_that_refused_the_drawing_answered_not_a_digit_not_its_guess():
    refused = corrections.reading_answer("Dense", reading("Dense", NOT_A_DIGIT_STATUS, 8))
    assert refused.answer == NOT_A_DIGIT
    assert refused.probabilities[8] == pytest.approx(0.91)  # its probabilities are kept all the same
    assert corrections.reading_answer("CNN", reading("CNN", DIGIT, 8)).answer == 8


def test_when_both_models_refuse_the_one_click_confirm_says_not_a_digit_and_counts_them_right():
    both = [
        corrections.reading_answer(m, reading(m, NOT_A_DIGIT_STATUS, g))
        for m, g in (("Dense", 0), ("CNN", 2))
    ]
    at = panel(answers=both)
    ok(button(at, "Yes, it's not a digit").click().run())
    (drawing,) = saved()
    assert drawing.label == NOT_A_DIGIT
    assert not drawing.wrong  # My drawings counts both refusals as right


def test_a_refusal_beside_a_digit_is_a_disagreement():
    mixed = [
        corrections.reading_answer("Dense", reading("Dense", NOT_A_DIGIT_STATUS, 8)),
        corrections.reading_answer("CNN", reading("CNN", DIGIT, 8)),
    ]
    at = panel(answers=mixed)
    assert not any(label.startswith("Yes") for label in labels(at))
    assert "The models disagree. It is:" in [c.value for c in at.caption]


def test_with_no_model_answer_the_panel_still_takes_the_label():
    at = panel(answers=[])
    assert labels(at) == [*map(str, range(10)), "not a digit"]
    assert "What is it?" in [c.value for c in at.caption]
    ok(button(at, "2").click().run())
    (drawing,) = saved()
    assert (drawing.label, drawing.answers) == (2, ())


def test_without_strokes_the_panel_says_so_and_saves_nothing():
    at = panel(strokes=[])
    assert labels(at) == []
    assert "Corrections are kept for canvas drawings only." in [c.value for c in at.caption]
    assert saved() == []


def test_a_database_error_is_shown_and_the_drawing_can_be_saved_again(monkeypatch):
    message = "The corrections database (sqlite:///x) is read-only, so nothing can be saved."

    def read_only(*_args, **_kwargs):
        raise FeedbackStoreError(message, "read-only")

    at = panel()
    with monkeypatch.context() as m:
        m.setattr(FeedbackStore, "save", read_only)
        ok(button(at, "Yes, it's 7").click().run())
        assert [e.value for e in at.error] == [message]
        assert len(at.success) == 0
        assert "Yes, it's 7" in labels(at)  # still there to retry
    ok(button(at, "Yes, it's 7").click().run())  # the database is back
    assert len(at.error) == 0
    assert [d.label for d in saved()] == [7]


def test_a_database_that_cannot_be_opened_is_shown(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(feedback.DB_URL_ENV, f"sqlite:///{blocker / 'feedback.sqlite3'}")
    at = panel()
    ok(button(at, "3").click().run())
    (error,) = at.error
    assert "cannot create the folder for the database" in error.value
    assert "3" in labels(at)


def test_a_personal_link_is_offered_and_taken_only_when_asked_and_a_foreign_one_is_said():
    # Taken at once, a personal link posted for a class by mistake took over every browser that opened
    # it, for a year (a tester, qa25).
    from pathlib import Path

    app = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
    mine = feedback.new_browser_id()
    at = AppTest.from_file(app, default_timeout=TIMEOUT)
    at.query_params[corrections.BROWSER_PARAM] = mine
    ok(at.run())
    assert corrections.BROWSER_PARAM not in at.query_params  # copying the address shares nothing
    own = at.session_state[corrections.BROWSER_KEY]
    assert own != mine and corrections.LINK_NOTE in [m.value for m in at.markdown]
    ok(at.button(key="feedback_link_take").click().run())
    assert at.session_state[corrections.BROWSER_KEY] == mine
    (script,) = [h.proto.body for h in at.sidebar.get("html")]
    assert f"{corrections.COOKIE}={mine};" in script  # and this browser keeps it
    assert corrections.LINK_NOTE not in [m.value for m in at.markdown]

    declined = AppTest.from_file(app, default_timeout=TIMEOUT)
    declined.query_params[corrections.BROWSER_PARAM] = mine
    ok(declined.run())
    own = declined.session_state[corrections.BROWSER_KEY]
    ok(declined.button(key="feedback_link_decline").click().run())
    assert declined.session_state[corrections.BROWSER_KEY] == own
    assert corrections.LINK_NOTE not in [m.value for m in declined.markdown]

    bad = AppTest.from_file(app, default_timeout=TIMEOUT)
    bad.query_params[corrections.BROWSER_PARAM] = "'; drop table drawings; --"
    ok(bad.run())
    # The person is told, rather than left to find their drawings gone.
    assert [t.value for t in bad.toast] == [corrections.FOREIGN_ID_NOTE]
    assert corrections.LINK_NOTE not in [m.value for m in bad.markdown]


# --------------------------------------------------------------------------- My drawings


ME = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def probs(digit: int) -> list[float]:
    p = [0.01] * 10
    p[digit] = 0.91
    return p


@pytest.fixture
def gallery_store():
    """Three drawings of this browser (dense wrong on one, cnn on another) and one of another browser."""
    s = store()
    seeds = [  # (label, dense's answer, cnn's answer)
        (7, 7, 7),
        (4, 9, 4),
        (1, 1, 7),
    ]
    for i, (label, dense, cnn) in enumerate(seeds):
        answers = [ModelAnswer("dense", dense, probs(dense)), ModelAnswer("cnn", cnn, probs(cnn))]
        s.save(ME, label, [[[float(i), 0.0], [10.0, 10.0]]], INPUT, answers, pen_width=PEN)
    s.save(OTHER, 2, SEVEN, INPUT, [ModelAnswer("dense", 5, probs(5))], pen_width=PEN)
    yield s, seeds
    s.close()


def gallery(me: str | None = ME) -> AppTest:
    """My drawings in a browser whose cookie holds `me` (None: a browser with none yet)."""
    at = AppTest.from_function(drawings_app, default_timeout=TIMEOUT)
    with mock.patch.object(corrections, "_cookie", return_value=me):
        return ok(at.run())


def images(at: AppTest) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def test_the_models_are_listed_in_the_draw_pages_order():
    # Stored answers come back by name, which put CNN before Dense; the Draw page shows Dense first.
    s = store()
    s.save(ME, 7, SEVEN, INPUT, [ModelAnswer("CNN", 7, probs(7)), ModelAnswer("Dense", 1, probs(1))])
    s.close()
    at = gallery()
    assert [m.label for m in at.metric] == ["Dense", "CNN"]
    assert "Dense 1 ✗ · CNN 7 ✓" in [c.value for c in at.caption]


def test_an_empty_store_says_how_to_fill_it():
    at = gallery()
    assert [i.value for i in at.info] == [drawings_page.EMPTY_HINT]
    assert images(at) == []


def test_the_gallery_shows_this_browsers_drawings_and_each_models_accuracy(gallery_store):
    _, seeds = gallery_store
    at = gallery()
    # Newest first; the other browser's drawing is not there.
    assert images(at) == [f"Label: {label}" for label, _, _ in reversed(seeds)]
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    for i, model in ((1, "dense"), (2, "cnn")):
        right = sum(s[0] == s[i] for s in seeds)
        assert metrics[model] == (f"{right / len(seeds):.0%}", f"{right} of {len(seeds)} right")
    captions = [c.value for c in at.caption]
    assert "cnn 4 ✓ · dense 9 ✗" in captions  # model names sorted, as the store gives them
    export = at.get("download_button")
    assert len(export) == 1 and export[0].proto.label == f"Export {len(seeds)} drawings (JSONL)"


def test_a_trained_models_name_on_the_gallery_is_shown_as_typed_not_as_markdown():
    name = "*star* `code` $x^2$"
    s = store()
    s.save(ME, 7, SEVEN, INPUT, [ModelAnswer(name, 7, probs(7))], pen_width=PEN)
    s.close()
    at = gallery()
    (metric,) = at.metric
    assert metric.label == md(name)
    assert metric.proto.direction == metric.proto.MetricDirection.NONE  # no arrow on "1 of 1 right"
    assert any(c.value.startswith(md(name)) for c in at.caption)


def test_the_wrong_filter_keeps_the_drawings_a_model_got_wrong(gallery_store):
    _, seeds = gallery_store
    at = gallery()
    (show,) = at.button_group
    ok(show.set_value("wrong").run())
    wrong = [label for label, dense, cnn in reversed(seeds) if dense != label or cnn != label]
    assert images(at) == [f"Label: {label}" for label in wrong]


def test_the_wrong_filter_with_nothing_wrong_says_so():
    s = store()
    s.save(ME, 3, SEVEN, INPUT, [ModelAnswer("cnn", 3, probs(3))])
    s.close()
    at = gallery()
    ok(at.button_group[0].set_value("wrong").run())
    assert drawings_page.NO_WRONG_HINT in [i.value for i in at.info]


def test_delete_asks_first_then_removes_only_that_drawing(gallery_store):
    s, seeds = gallery_store
    at = gallery()
    newest, *older = [d.id for d in s.list_drawings(ME)]
    # The delete button sits in a popover: nothing goes until it is clicked.
    ok(at.button(key=f"drawings_delete_{newest}").click().run())
    assert images(at) == [f"Label: {label}" for label, _, _ in reversed(seeds[:-1])]
    assert [d.id for d in s.list_drawings(ME)] == older
    assert s.count(OTHER) == 1
    assert {m.label: m.delta for m in at.metric}["cnn"] == f"2 of {len(seeds) - 1} right"


def test_each_delete_confirmation_belongs_to_its_drawing_not_to_its_place(gallery_store):
    # Unkeyed, the popover was known by its place: after a delete the next card moved into it and
    # opened with "Yes, delete it" showing.
    s, _ = gallery_store
    at = gallery()

    def popover_ids(node) -> list[str]:
        found = [node.proto.id] if getattr(node, "type", "") == "popover" else []
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else []:
            found += popover_ids(child)
        return found

    ids = popover_ids(at.main)
    drawings = [d.id for d in s.list_drawings(ME)]
    assert len(ids) == len(drawings)
    assert all(any(id_.endswith(f"drawings_delete_pop_{d}") for id_ in ids) for d in drawings)


def test_a_store_error_on_the_gallery_is_shown(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(feedback.DB_URL_ENV, f"sqlite:///{blocker / 'feedback.sqlite3'}")
    at = gallery()
    (error,) = at.error
    assert "cannot create the folder for the database" in error.value
    assert images(at) == []


def test_a_failed_delete_is_shown_and_keeps_the_drawing(gallery_store, monkeypatch):
    s, seeds = gallery_store
    message = "The corrections database (sqlite:///x) is busy: another program is writing to it."

    def busy(*_args, **_kwargs):
        raise FeedbackStoreError(message, "busy")

    at = gallery()
    target = s.list_drawings(ME)[0]
    monkeypatch.setattr(FeedbackStore, "delete", busy)
    ok(at.button(key=f"drawings_delete_{target.id}").click().run())
    assert [e.value for e in at.error] == [message]
    assert s.count(ME) == len(seeds)


def test_a_fresh_browser_gets_an_id_of_its_own_and_sees_nobody_elses_drawings(gallery_store):
    at = gallery(me=None)
    me = at.session_state[corrections.BROWSER_KEY]
    assert me not in (ME, OTHER)
    assert [i.value for i in at.info] == [drawings_page.EMPTY_HINT]


def test_every_page_of_the_app_keeps_this_browsers_id_in_a_cookie_not_in_its_address():
    # The address once carried the id: a teacher who shared it gave the class one identity (qa24).
    from pathlib import Path

    app = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
    fresh = ok(AppTest.from_file(app, default_timeout=TIMEOUT).run())  # the Draw page, nothing drawn
    me = fresh.session_state[corrections.BROWSER_KEY]
    assert corrections.BROWSER_PARAM not in fresh.query_params
    (script,) = [h.proto.body for h in fresh.sidebar.get("html")]
    assert f"document.cookie = '{corrections.COOKIE}={me};" in script
    # A new session of the same browser (a reload, a visit next week) sends the cookie back.
    again = AppTest.from_file(app, default_timeout=TIMEOUT)
    with mock.patch.object(corrections, "_cookie", return_value=me):
        assert ok(again.run()).session_state[corrections.BROWSER_KEY] == me
    assert not again.sidebar.get("html")  # nothing to set


def test_my_drawings_offers_the_personal_link_that_opens_them_elsewhere(gallery_store):
    at = gallery()
    assert at.code[0].value.endswith(f"?{corrections.BROWSER_PARAM}={ME}")
    assert drawings_page.LINK_NOTE in [c.value for c in at.caption]
