"""The "My drawings" page: what this browser saved from the Draw page, how each model did on it,
delete (after a confirmation) and a JSONL export.

Only this browser's drawings are shown (its anonymous id, see digitdraw.ui.corrections). Every store
call can fail (a database that is busy or out of reach): the page then says the store's sentence
instead of a traceback, and nothing is lost.
"""

from __future__ import annotations

import io

import streamlit as st

from digitdraw import results
from digitdraw.feedback import Drawing, FeedbackStore, FeedbackStoreError
from digitdraw.ui.corrections import DRAWINGS_PAGE_TITLE, browser_id, get_store, label_text, personal_link
from digitdraw.ui.models import md, page_order

FILTERS = {"all": "All", "wrong": "Wrong ones"}
GALLERY_LIMIT = 200  # newest first; the export has them all
PER_ROW = 4
THUMB_SCALE = 4  # the 28x28 input at 112 px, one block per pixel
EXPORT_NAME = "my-drawings.jsonl"
EMPTY_HINT = (
    "Nothing saved from this browser yet. On the Draw page, answer **Right?** under the models' "
    "answers: your drawing is kept here with its label."
)
NO_WRONG_HINT = "No model got any of your drawings wrong."
LINK_NOTE = (
    "Open this link in the other browser (a phone, another computer) and choose to open the drawings "
    "there: it keeps them from then on. It is personal: whoever opens it can take your drawings, and "
    "delete them."
)


def page() -> None:
    """The "My drawings" page."""
    st.title(DRAWINGS_PAGE_TITLE)
    st.caption(
        "The drawings this browser saved, each with its label and every model's answer. This browser "
        "is known by an anonymous id in a cookie: no name, and the page's address carries nothing, "
        "so it can be shared."
    )
    me = browser_id()
    try:
        store = get_store()
        total = store.count(me)
        accuracy = store.accuracy(me)
    except FeedbackStoreError as exc:
        st.error(str(exc), icon=":material/database:")
        return
    if total == 0:
        st.info(EMPTY_HINT, icon=":material/draw:")
        return

    _accuracy(accuracy, total)
    _export(store, me)
    with st.expander("Open these drawings in another browser", icon=":material/devices:"):
        st.caption(LINK_NOTE)
        st.code(personal_link(me), language=None)
    which = st.segmented_control(
        "Show", list(FILTERS), format_func=FILTERS.get, default="all", required=True, key="drawings_filter"
    )
    try:
        drawings = store.list_drawings(me, which or "all", limit=GALLERY_LIMIT)
    except FeedbackStoreError as exc:
        st.error(str(exc), icon=":material/database:")
        return
    if not drawings:
        st.info(NO_WRONG_HINT, icon=":material/thumb_up:")
        return
    if len(drawings) == GALLERY_LIMIT:
        st.caption(f"The {GALLERY_LIMIT} newest are shown; the export holds them all.")
    for start in range(0, len(drawings), PER_ROW):
        for col, drawing in zip(st.columns(PER_ROW), drawings[start : start + PER_ROW], strict=False):
            with col.container(border=True):
                _card(store, me, drawing)


def _accuracy(accuracy, total: int) -> None:
    st.subheader(f"How the models did on your {total} drawing{'s' if total != 1 else ''}")
    if not accuracy:
        st.caption("No model answers were saved with these drawings.")
        return
    accuracy = sorted(accuracy, key=lambda acc: page_order(acc.model))  # as the Draw page shows them
    for col, acc in zip(st.columns(len(accuracy)), accuracy, strict=True):
        col.metric(
            md(acc.model),  # a trained model's name is the user's: text, never Markdown
            f"{acc.accuracy:.0%}",
            f"{acc.correct} of {acc.total} right",
            delta_color="off",
            delta_arrow="off",
        )


def _export(store: FeedbackStore, me: str) -> None:
    buf = io.StringIO()
    try:
        n = store.export_jsonl(buf, me)
    except FeedbackStoreError as exc:
        st.error(str(exc), icon=":material/database:")
        return
    st.download_button(
        f"Export {n} drawing{'s' if n != 1 else ''} (JSONL)",
        buf.getvalue(),
        file_name=EXPORT_NAME,
        mime="application/jsonl",
        icon=":material/download:",
        on_click="ignore",  # downloading changes nothing on the page
        help="One line per drawing in the pendigits stroke format: `digitdraw feedback import` reads it.",
    )


def _card(store: FeedbackStore, me: str, drawing: Drawing) -> None:
    st.image(
        results.enlarge(results.to_uint8(drawing.image), THUMB_SCALE),
        caption=f"Label: {label_text(drawing.label)}",
        width=28 * THUMB_SCALE,
    )
    said = [
        f"{md(a.model)} {label_text(a.answer)} {'✓' if a.answer == drawing.label else '✗'}"
        for a in sorted(drawing.answers, key=lambda a: page_order(a.model))
    ]
    st.caption(" · ".join(said) or "no model answers")
    st.caption(drawing.created_at.strftime("%Y-%m-%d %H:%M UTC"))
    # The popover is the confirmation: deleting takes a second, deliberate click.
    # Keyed by the drawing: an unkeyed popover is known by its place, and after a delete the next
    # card, moving into that place, opened with the confirmation showing (one click from a delete).
    with st.popover("Delete", icon=":material/delete:", key=f"drawings_delete_pop_{drawing.id}"):
        st.write("Delete this drawing for good?")
        confirmed = st.button("Yes, delete it", key=f"drawings_delete_{drawing.id}", type="primary")
    if confirmed:
        try:
            store.delete(drawing.id, me)
        except FeedbackStoreError as exc:
            st.error(str(exc), icon=":material/database:")  # in the card, which stays
            return
        st.rerun()  # the gallery and the accuracy without it
