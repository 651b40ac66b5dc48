"""The Draw page: draw (or upload) a digit; two models answer side by side, live.

Thin on purpose: preprocessing, prediction and the wording of the answers live in the package
(digitdraw.preprocess, digitdraw.predict, digitdraw.results); this file only lays them out.
Every stroke on the canvas sends the drawing back (update_streamlit=True), which reruns the
drawing fragment below: predictions follow each stroke without a button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from digitdraw import config, results
from digitdraw.predict import Predictor
from digitdraw.preprocess import EMPTY_REASON, ImageError, Preprocessed, load_image_file, preprocess
from digitdraw.ui.models import ModelChoice, model_choices, predictor_or_error

if TYPE_CHECKING:
    from streamlit_drawable_canvas import CanvasResult

CANVAS_KEY = "draw_canvas"
# The last 28x28 model input, kept for the Inspect page's "your drawing inside the model".
DRAWING_KEY = "draw_last_input"
CANVAS_SIZE = 280  # px; pendigits.render and the benchmarks use the same size
DEFAULT_PEN = 18  # px: about MNIST's stroke for a digit filling most of a 280 px canvas
MAX_UPLOAD_MB = 10  # photos from a phone are 2-6 MB; anything bigger is not a digit photo
INPUT_SCALE = 7  # the 28x28 model input shown at 196 px, one block per pixel

DRAW_HINT = "Draw a digit on the canvas — both models answer as you draw."
UPLOAD_HINT = "Upload a PNG or JPEG of one handwritten digit — a photo of paper works too."


# --------------------------------------------------------------------------- pure helpers


def canvas_pixels(result: CanvasResult) -> np.ndarray | None:
    """The canvas drawing as an RGBA array, or None while nothing is drawn.

    Nothing drawn (no objects: a fresh or cleared canvas) short-cuts to None without decoding
    the PNG the component sends along.
    """
    objects = (result.json_data or {}).get("objects") or []
    if not objects:
        return None
    return result.image_data


def read_upload(data: bytes, max_mb: int = MAX_UPLOAD_MB) -> np.ndarray:
    """An uploaded file's bytes -> pixels; ImageError (a message for the user) if unusable.

    The size is checked here too, not only by the uploader widget: a server configured with a
    higher limit, or a test, must still not decode a huge file.
    """
    if len(data) > max_mb * 1024 * 1024:
        raise ImageError(
            f"That file is {len(data) / (1024 * 1024):.1f} MB; the limit is {max_mb} MB. "
            "Upload a smaller photo or a crop of the digit."
        )
    return load_image_file(data)


# --------------------------------------------------------------------------- page


def page() -> None:
    """The Draw page (the app's default page)."""
    st.title("Draw a digit")
    st.caption("A dense network and a CNN, both trained on MNIST, read your digit side by side.")
    choices = model_choices()
    chosen, black_on_white = _sidebar(choices)
    _draw_and_answer(chosen, black_on_white)


def _sidebar(choices: list[ModelChoice]) -> tuple[list[ModelChoice], bool]:
    """Model pickers and canvas colours; in the sidebar so the drawing area stays uncluttered."""
    by_name = {c.name: c for c in choices}
    names = list(by_name)
    with st.sidebar:
        st.subheader("Which models answer")
        picked = []
        for side, default in zip(("Left", "Right"), config.DEFAULT_MODELS, strict=True):
            name = st.selectbox(
                f"{side} model",
                names,
                index=names.index(default) if default in names else 0,
                format_func=lambda n: by_name[n].label,
                key=f"draw_model_{side.lower()}",
                help="Shipped models first, then any model trained on the Train page.",
            )
            picked.append(by_name[name])
        st.subheader("Canvas")
        black_on_white = st.toggle(
            "Black ink on white",
            value=False,
            key="draw_black_on_white",
            help="The models read either; switching clears the canvas.",
        )
    return picked, black_on_white


@st.fragment
def _draw_and_answer(chosen: list[ModelChoice], black_on_white: bool) -> None:
    # A fragment: a stroke reruns only this part, not the navigation and the sidebar.
    left, right = st.columns([5, 7], gap="large")
    with left:
        source = st.radio(
            "Input", ["Draw", "Upload"], horizontal=True, key="draw_source", label_visibility="collapsed"
        )
        if source == "Draw":
            pixels, hint = _draw_input(black_on_white), DRAW_HINT
        else:
            pixels, hint = _upload_input(), UPLOAD_HINT
        # Under the input: what the models make of it, next to what the user drew.
        seen = st.container()
    with right:
        _answers(pixels, chosen, hint, seen)


def _draw_input(black_on_white: bool) -> np.ndarray | None:
    # Imported here: the component registers itself on import and fails outside a running
    # Streamlit app, and this module's pure helpers are used without one (tests, benchmark).
    from streamlit_drawable_canvas import st_canvas

    ink, paper = ("#000000", "#FFFFFF") if black_on_white else ("#FFFFFF", "#000000")
    # The slider's value is read before the canvas is drawn, so it sits below it via a container.
    canvas_box = st.container()
    pen = st.slider(
        "Pen width", 6, 40, DEFAULT_PEN, step=1, key="draw_pen", format="%d px", width=CANVAS_SIZE
    )
    with canvas_box:
        result = st_canvas(
            stroke_width=pen,
            stroke_color=ink,
            background_color=paper,
            height=CANVAS_SIZE,
            width=CANVAS_SIZE,
            drawing_mode="freedraw",
            update_streamlit=True,
            return_image_data=True,
            key=CANVAS_KEY,
        )
    return canvas_pixels(result)


def _upload_input() -> np.ndarray | None:
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit",
        type=["png", "jpg", "jpeg"],
        max_upload_size=MAX_UPLOAD_MB,
        key="draw_upload",
        help=f"PNG or JPEG, up to {MAX_UPLOAD_MB} MB. Dark ink on light paper or the reverse.",
    )
    if upload is None:
        return None
    try:
        pixels = read_upload(upload.getvalue())
    except ImageError as exc:
        st.error(f"**{upload.name}**: {exc}", icon=":material/error:")
        return None
    st.image(pixels, caption=upload.name, width=CANVAS_SIZE)
    return pixels


def _answers(pixels: np.ndarray | None, chosen: list[ModelChoice], hint: str, seen: DeltaGenerator) -> None:
    if pixels is None:
        st.info(hint, icon=":material/draw:")
        return
    pre = preprocess(pixels)
    if pre.empty:
        if pre.reason == EMPTY_REASON:
            st.info(hint, icon=":material/draw:")
        else:
            st.warning(pre.reason or "There is nothing to read.", icon=":material/zoom_in:")
            _show_steps(pre)
        return
    st.session_state[DRAWING_KEY] = pre.image

    titles = results.unique_titles([c.title for c in chosen])
    loaded: list[tuple[str, Predictor]] = []
    for choice, title in zip(chosen, titles, strict=True):
        predictor = predictor_or_error(choice)
        if predictor is not None:
            loaded.append((title, predictor))
    answers = [results.answer(title, p.predict_one(pre.image)) for title, p in loaded]

    if answers:
        for col, a in zip(st.columns(len(answers)), answers, strict=True):
            # The digit stays visible even when unsure (the note says so): hiding it would hide
            # what the model thinks, and a reader finds the answer in the same place every time.
            col.metric(
                a.model,
                str(a.digit),
                a.note,
                delta_color="off" if a.sure else "orange",
                delta_arrow="off",
                border=True,
                help=f"Top probability {a.confidence:.1%}; below {config.CONFIDENCE_THRESHOLD:.0%} "
                "the model is 'not sure'.",
            )
        v = results.verdict(answers)
        if v is not None and v.kind == "disagree":
            st.warning(v.message, icon=":material/balance:")
        elif v is not None and v.kind == "unsure":
            st.info(v.message, icon=":material/help:")
        st.vega_lite_chart(results.chart_spec(answers), width="stretch")
    seen.image(
        results.enlarge(results.to_uint8(pre.image), INPUT_SCALE),
        caption="What the models see (28×28)",
        width=28 * INPUT_SCALE,
    )
    _show_steps(pre)


def _show_steps(pre: Preprocessed) -> None:
    if not pre.steps:
        return
    with st.expander("Preprocessing steps: from your drawing to the 28×28 input"):
        cols = st.columns(len(pre.steps))
        for col, (name, step) in zip(cols, pre.steps.items(), strict=True):
            h, w = step.shape[:2]
            col.image(results.display_step(step), caption=f"{name} ({w}×{h})")
