"""The correction panel under the Draw page's answers ("Right?"), and what every corrections page shares:
the one store per server process and the anonymous per-browser id.

Saving is explicit: nothing is stored until the user clicks, and a drawing is stored once (the panel
remembers, per session, the strokes it saved by their hash). A database that cannot take the drawing
shows the store's own sentence; the buttons stay, so the user can retry with the drawing still on screen.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from digitdraw import feedback, results
from digitdraw import reading as reading_status
from digitdraw.feedback import NOT_A_DIGIT, FeedbackStore, FeedbackStoreError, ModelAnswer
from digitdraw.reading import ModelReading
from digitdraw.strokes import Strokes

DRAWINGS_PAGE_TITLE = "My drawings"
DRAWINGS_URL_PATH = "my-drawings"

# The anonymous browser id: a cookie this app sets (COOKIE, for a year) and each new session reads
# back (st.context.cookies), so a reload, or a visit next week, is the same browser. Not the page's
# address: it once carried the id (?me=), and a teacher who copied the address for the class gave
# every student her id; each saw, and could delete, the others' drawings (a tester, qa24). A random
# uuid (feedback.new_browser_id): no name, no IP address. The personal link My drawings offers
# (?me=<id>, `personal_link`) opens the same drawings in another browser, which keeps the id once its
# user says so (`offer_link`); the address drops it once read, so copying the address shares nothing.
BROWSER_PARAM = "me"
BROWSER_KEY = "feedback_browser_id"
COOKIE = "digitdraw_me"
COOKIE_SECONDS = 365 * 24 * 3600
_OUR_IDS = re.compile(r"[0-9a-f]{32}")  # what new_browser_id makes (uuid4().hex); anything else is new
FOREIGN_ID_NOTE = (
    "The address's ?me= is not an id this app made (cut short or mistyped?), so it was left out. Open "
    "your saved link again to see the drawings it keeps."
)
LINK_KEY = "feedback_link_offered"  # a personal link's id, offered until taken or declined
LINK_NOTE = (
    "This address is a personal link to the drawings of a browser (yours, from another device?). Open "
    "them here only if they are yours: this browser then keeps them, and whoever has them can delete "
    "them."
)


def label_text(label: int) -> str:
    """How a label reads on screen: the digit, or "not a digit"."""
    return "not a digit" if label == NOT_A_DIGIT else str(label)


def strokes_digest(strokes: Strokes) -> str:
    """A short hash of the strokes: the same drawing gives the same digest, so it is saved once."""
    text = json.dumps(strokes, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def agreed_answer(answers: Sequence[results.Answer | ModelAnswer]) -> int | None:
    """The digit every model gave, or None when they disagree (or none answered)."""
    digits = {_digit(a) for a in answers}
    return digits.pop() if len(digits) == 1 else None


def model_answers(answers: Sequence[results.Answer | ModelAnswer]) -> list[ModelAnswer]:
    """The page's answers as the store keeps them: model name, answer, probabilities."""
    out = []
    for a in answers:
        if isinstance(a, ModelAnswer):
            out.append(a)
        else:
            out.append(ModelAnswer(a.model, a.digit, tuple(float(p) for p in a.probabilities)))
    return out


def reading_answer(model: str, reading: ModelReading) -> ModelAnswer:
    """One model's reading of a single-digit drawing as the store keeps it (see `stored_answer`)."""
    refused = reading.status == reading_status.NOT_A_DIGIT
    return stored_answer(model, reading.digits[0].probabilities, refused)


def stored_answer(model: str, probabilities: Sequence[float], refused: bool) -> ModelAnswer:
    """A model's answer as the store keeps it: a refusal is answered "not a digit" (so a drawing
    labelled so counts as read right), else its likeliest digit."""
    said = NOT_A_DIGIT if refused else int(np.argmax(probabilities))
    return ModelAnswer(model, said, tuple(float(p) for p in probabilities))


def _digit(a: results.Answer | ModelAnswer) -> int:
    return a.answer if isinstance(a, ModelAnswer) else a.digit


# --------------------------------------------------------------------------- shared by the pages


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_store(url: str) -> FeedbackStore:
    # Keyed by URL: one store (one connection pool) per database per server process. A store that
    # fails to open raises, and Streamlit does not cache exceptions, so the next click retries.
    return FeedbackStore(url)


def get_store() -> FeedbackStore:
    """The server's store for feedback.db_url(); FeedbackStoreError when it cannot be opened."""
    return _open_store(feedback.db_url())


def browser_id() -> str:
    """This browser's anonymous id: from the session, else from its cookie, else a new one. A
    personal link (?me=) opened here is offered (`offer_link`) and taken only when asked."""
    bid = st.session_state.get(BROWSER_KEY)
    if bid is None:
        cookie = _cookie()
        bid = cookie if cookie and _OUR_IDS.fullmatch(cookie) else feedback.new_browser_id()
        st.session_state[BROWSER_KEY] = bid
        link = st.query_params.get(BROWSER_PARAM)
        if link and not _OUR_IDS.fullmatch(link):
            # A link cut short or mistyped: say so, or the person only sees their drawings gone.
            st.toast(FOREIGN_ID_NOTE, icon=":material/link_off:")
        elif link and link != bid:
            # Taken only when the person says so (`offer_link`): a personal link posted for a class by
            # mistake took over every browser that opened it, for a year (a tester, qa25).
            st.session_state[LINK_KEY] = link
    if BROWSER_PARAM in st.query_params:
        del st.query_params[BROWSER_PARAM]  # read: the address is safe to share again
    return bid


def offer_link() -> None:
    """From the entry point, above the page: a personal link opened here is offered, not taken."""
    link = st.session_state.get(LINK_KEY)
    if link is None:
        return
    with st.container(border=True):
        st.markdown(LINK_NOTE)
        row = st.container(horizontal=True)
        row.button("Open them here", key="feedback_link_take", on_click=_take_link, args=(link,))
        row.button(
            "No, keep this browser's",
            key="feedback_link_decline",
            on_click=st.session_state.pop,
            args=(LINK_KEY,),
        )


def _take_link(link: str) -> None:
    st.session_state[BROWSER_KEY] = link
    st.session_state.pop(LINK_KEY, None)


def remember_browser() -> None:
    """Once a full run, from the entry point (a fragment may not write to the sidebar): the id in
    this browser's cookie, set by a line of script in the sidebar, where it shifts nothing."""
    bid = browser_id()
    if _cookie() != bid:
        cookie = f"{COOKIE}={bid}; path=/; max-age={COOKIE_SECONDS}; SameSite=Lax"
        st.sidebar.html(f"<script>document.cookie = '{cookie}';</script>", unsafe_allow_javascript=True)


def personal_link(bid: str) -> str:
    """The address that opens this browser's drawings in another one (the app's own URL, ?me=)."""
    url = st.context.url or ""
    return f"{url.split('?')[0]}?{BROWSER_PARAM}={bid}"


def _cookie() -> str | None:
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) else None  # a test harness may have no real cookies


# --------------------------------------------------------------------------- the panel


def correction_panel(
    *,
    strokes: Strokes | None,
    image: np.ndarray,
    answers: Sequence[results.Answer | ModelAnswer],
    pen_width: float | None,
    key: str,
    question: str | None = None,
) -> None:
    """The "Right?" panel: confirm the agreed answer in one click, or give the true label (0-9, not a digit).

    strokes: the canvas drawing in the pendigits format (strokes.canvas_strokes); without strokes (an
    upload) nothing can be kept, and the panel says so. image: the 28x28 model input. answers: what
    each model said (results.Answer as the Draw page has them). key: a prefix for the widget keys.
    question: asked instead of offering the agreed answer, where the answers are not the ones the
    page shows (a drawing shown as several digits, kept as one): only the labels then.
    """
    me = browser_id()
    if not strokes:
        st.caption("Corrections are kept for canvas drawings only.")
        return
    digest = strokes_digest(strokes)
    saved: dict[str, int | str] = st.session_state.setdefault(saved_key(key), {})
    if digest in saved:
        _saved_note(saved[digest])
        return

    agreed = agreed_answer(answers) if question is None else None
    clicked: int | None = None
    panel = st.empty()  # the buttons, replaced by the confirmation once saved
    with panel.container():
        row = st.container(horizontal=True, vertical_alignment="center")
        row.markdown("**Right?**")
        yes = f"Yes, it's {label_text(agreed)}" if agreed is not None else ""
        if yes and row.button(yes, key=f"{key}_yes_{digest}", icon=":material/check:", type="primary"):
            clicked = agreed
        st.caption(question or _ask(agreed, len(answers)))
        digits = st.container(horizontal=True, gap="small")
        for label in feedback.LABELS:
            if digits.button(label_text(label), key=f"{key}_label_{label}_{digest}"):
                clicked = label
    if clicked is None:
        return

    _keep(
        panel,
        saved,
        digest,
        clicked,
        lambda: get_store().save(me, clicked, strokes, image, model_answers(answers), pen_width=pen_width),
    )


@dataclass(frozen=True)
class NumberDigit:
    """One digit of a number as the store keeps it: its strokes (None when it shares a stroke with a
    neighbour), its 28x28 model input and each model's answer for it."""

    strokes: Strokes | None
    image: np.ndarray
    answers: list[ModelAnswer]


NUMBER_QUESTION = "No, it is:"
SHARED_STROKES_NOTE = (
    "These digits share a stroke (the pen ran on from one into the next), so they cannot be kept one "
    "by one. Lift the pen between digits to keep them."
)


def number_panel(
    *, digits: Sequence[NumberDigit], read: str | None, pen_width: float | None, key: str
) -> None:
    """The "Right?" panel for a number (Number mode): confirm the number the models agree on (`read`),
    or type the right digits. Each digit is kept as a drawing of its own, with its label, so a number
    teaches the models as its digits would one by one. A number could not be confirmed or corrected at
    all before (a tester, qa24)."""
    me = browser_id()
    if any(d.strokes is None for d in digits):
        st.caption(SHARED_STROKES_NOTE)
        return
    digest = strokes_digest([s for d in digits for s in d.strokes or ()])
    saved: dict[str, int | str] = st.session_state.setdefault(saved_key(key), {})
    if digest in saved:
        _saved_note(saved[digest])
        return
    text: str | None = None
    panel = st.empty()
    with panel.container():
        row = st.container(horizontal=True, vertical_alignment="center")
        row.markdown("**Right?**")
        if read and row.button(
            f"Yes, it's {read}", key=f"{key}_yes_{digest}", icon=":material/check:", type="primary"
        ):
            text = read
        typed = st.text_input(
            NUMBER_QUESTION,
            key=f"{key}_number_{digest}",
            max_chars=len(digits),
            placeholder="the digits, left to right",
        )
        if st.button("Save", key=f"{key}_number_save_{digest}", disabled=not typed):
            typed = typed.strip()
            if not typed.isdecimal() or not typed.isascii() or len(typed) != len(digits):
                st.warning(
                    f"{len(digits)} digits were read: type {len(digits)} digits (0-9), left to right.",
                    icon=":material/pin:",
                )
            else:
                text = typed
    if text is None:
        return
    # The digits already kept, should the store fail part way: a retry keeps the rest, not all again.
    kept: list[int] = st.session_state.setdefault(f"{saved_key(key)}_{digest}_digits", [])

    def save_digits() -> None:
        store = get_store()
        for k, (digit, label) in enumerate(zip(digits, text, strict=True)):
            if k not in kept:
                store.save(me, int(label), digit.strokes, digit.image, digit.answers, pen_width=pen_width)
                kept.append(k)

    _keep(panel, saved, digest, text, save_digits)


def _keep(
    panel, saved: dict[str, int | str], digest: str, what: int | str, save: Callable[[], object]
) -> None:
    """`save()` into the store, then say what was kept where the panel's buttons were (and remember it
    for this drawing, `digest`); on a store error the buttons stay, with the store's sentence."""
    try:
        save()
    except FeedbackStoreError as exc:
        # The buttons stay and so does the drawing: the user can retry once the database is back.
        st.error(str(exc), icon=":material/database:")
        return
    saved[digest] = what
    with panel:
        _saved_note(what)


def saved_key(key: str) -> str:
    """The session-state key of the panel's record of what was saved ({strokes digest: label})."""
    return f"{key}_saved"


def _ask(agreed: int | None, n_answers: int) -> str:
    if agreed is not None:
        return "No, it is:"
    return "The models disagree. It is:" if n_answers > 1 else "What is it?"


def _saved_note(label: int | str) -> None:
    """What was kept: a label, or a number's digits (kept one by one)."""
    what = label if isinstance(label, str) else label_text(label)
    st.success(f"Saved as {what} — see {DRAWINGS_PAGE_TITLE}.", icon=":material/check:")
