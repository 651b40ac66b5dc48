"""The Draw page: draw (or upload) a digit; two models answer side by side, live.

Thin on purpose: preprocessing, prediction and the wording of the answers live in the package
(digitdraw.preprocess, digitdraw.predict, digitdraw.results), the canvas's Undo and Clear in
digitdraw.ui.canvas; this file only lays them out. Every stroke on the canvas sends the drawing
back (update_streamlit=True), which reruns the drawing fragment below: predictions follow each
stroke without a button.

On a narrow screen (a phone) the columns stack: a one-line summary of the answers then sits
above the canvas, so the whole canvas and both answers are on screen together, and "Right?"
right under the canvas's buttons.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from digitdraw import config, predict, reading, results, strokes
from digitdraw.predict import Predictor
from digitdraw.preprocess import (
    EMPTY_REASON,
    IMAGE_EXTENSIONS,
    IMAGE_KINDS,
    MAX_FILE_MB,
    ImageError,
    load_image_file,
)
from digitdraw.ui import canvas, corrections
from digitdraw.ui.canvas import CANVAS_SIZE, DEFAULT_PEN
from digitdraw.ui.models import ModelChoice, follow_model, md, model_choices, predictor_or_error

# The last 28x28 model input, kept for the Inspect page's "your drawing inside the model";
# removed when the canvas is cleared.
DRAWING_KEY = "draw_last_input"
DRAWING_STROKES_KEY = "draw_last_strokes"  # that digit's strokes, as its pen-path reader read them
NUMBER_DRAWN_KEY = "draw_last_was_number"  # True while the drawing is several digits (Inspect says so)
PEN_KEY = "draw_pen"
SUMMARY_KEY = "draw_summary"  # the one-line answers above the input (narrow screens only)
SOURCE_KEY = "draw_source"  # Draw or Upload
CORRECTION_KEY = "draw_correction"  # the Right? panel's widgets
REVIEW_KEY = "draw_review"  # the Right? panel's place, under the canvas's buttons
STEPS_KEY = "draw_steps_open"  # whether the preprocessing steps' expander is open
STEPS_WANTED_KEY = "draw_steps_wanted"  # ... and whether it was when last on the page
REDRAWN_NOTE = (
    "Your strokes were drawn again with a thinner pen, a twelfth of the drawing's height: a fat pen "
    "fills a small digit's loops and corners, and the models read the thinner drawing better."
)
# The answers' help, by whether `digitdraw calibrate` has fitted the model (a model just trained on the
# Train page has not: its "96% sure" is the network's own, and nothing refuses a scribble; qa24).
CALIBRATED_HELP = (
    f"Calibrated probability; below {config.CONFIDENCE_THRESHOLD:.0%} a digit is 'not sure'. A drawing "
    "the model's not-a-digit detector refuses names no digit."
)
UNCALIBRATED_NOTE = "not calibrated"
UNCALIBRATED_HELP = (
    "The network's own probability, not calibrated: this model has not been through `digitdraw "
    "calibrate`, so it is often surer than it is right, and it has no not-a-digit detector."
)
MAX_UPLOAD_MB = MAX_FILE_MB  # the same limit as any image file the package reads
INPUT_SCALE = 7  # the 28x28 model input shown at 196 px, one block per pixel
AREA_KEY = "draw_area"  # the two columns' container: its width decides whether they stack
# Number mode's wide canvas: room for four digits, and still inside a 390 px phone screen.
NUMBER_CANVAS = (360, 180)  # width, height in px
# Room for both columns side by side: two wide canvases and the large gap (4 rem) between them.
STACK_PX = 2 * NUMBER_CANVAS[0] + 80
MODE_KEY = "draw_mode"
_OFF_SCREEN = "position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)"
INK_KEY = "draw_black_on_white"
MODEL_KEYS = ("draw_model_left", "draw_model_right")  # the two model pickers (see _settings)
# What a visit to another page must not undo: the person's choices on this one.
KEPT_ACROSS_PAGES = (SOURCE_KEY, MODE_KEY, PEN_KEY, INK_KEY, *MODEL_KEYS)
_KEPT = "kept_"  # + a widget's key: its value, kept beyond the widget (keep_choices)
MODES = {"Digit": "digit", "Number": "number"}

DRAW_HINT = "Draw a digit on the canvas — both models answer as you draw."
NUMBER_HINT = "Write a number on the wide canvas, digits side by side — both models read it as you write."
UPLOAD_HINT = "Upload a photo or a picture of a handwritten digit or number — a photo of paper works too."
# Each hint as the narrow screen's two-line summary says it, in place of the box below the canvas: a
# phone showed the number's hint there cut off ("...as you…") and whole again below (qa30). Two
# lines at 390 px hold about 80 characters.
SHORT_HINTS = {
    DRAW_HINT: DRAW_HINT,
    NUMBER_HINT: "Write a number, digits side by side: both models read it.",
    UPLOAD_HINT: "Upload a photo or picture of a handwritten digit or number.",
}
HINT_KEY = "draw_hint"  # the hint's box beside the canvas (wide screens only)


def keep_choices() -> None:
    """After the page's widgets: a copy of the person's choices that outlives them. Streamlit forgets
    a widget's value once a run does not show it (a visit to another page): Inspect and back brought
    dense back as the left model, Number mode back to Digit (its drawing on the square canvas, cut
    off) and Upload back to Draw."""
    for key in KEPT_ACROSS_PAGES:
        if key in st.session_state:
            st.session_state[_KEPT + key] = st.session_state[key]


def restore_choices() -> None:
    """Before the page's widgets: the choices `keep_choices` kept, where their widgets forgot them."""
    for key in KEPT_ACROSS_PAGES:
        if key not in st.session_state and _KEPT + key in st.session_state:
            st.session_state[key] = st.session_state[_KEPT + key]


@dataclasses.dataclass(frozen=True)
class Drawing:
    """Where the pixels came from: the canvas (with its strokes and pen) or an uploaded image."""

    source: str  # "canvas" or "image": preprocessing reads a photo of paper differently
    strokes: strokes.Strokes | None  # pendigits format, for the corrections panel; None for uploads
    pen: float | None


# Only a style, no markup: st.html puts it on the page without taking room.
# Side by side, each column must hold the wide canvas (360 px): below STACK_PX of room (a phone,
# a tablet or a small laptop window with the sidebar open) the columns stack, as Streamlit stacks
# them only below a 640 px *screen*, and the one-line summary above the canvas shows the answers.
# A container query, not a media query: what counts is the room the page has, not the screen.
SHORT_PX = 820  # a window this tall or less gets the compact top of the page (_STYLE)
_STYLE = f"""<style>
.st-key-{AREA_KEY} {{ container-type: inline-size; container-name: draw; }}
.st-key-{SUMMARY_KEY} {{ display: none; }}
.st-key-{canvas.INSTANT_KEY} {{ display: none; }}  /* a script, nothing to see */
@container draw (max-width: {STACK_PX - 1}px) {{
  .st-key-{AREA_KEY} [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {{
    flex: 1 1 100% !important; width: 100% !important; min-width: 100% !important;
  }}
  .st-key-{SUMMARY_KEY} {{ display: flex; }}
  .st-key-{HINT_KEY} {{ display: none; }}
}}
.st-key-{SUMMARY_KEY} p {{ font-size: 1.15rem; margin: 0; line-height: 2rem; }}
.st-key-{SUMMARY_KEY} strong {{ font-size: 1.4rem; }}
/* Two lines, always: a summary that grew or shrank with each answer moved the canvas under the
   finger between strokes. A longer one is cut (the metrics below say it all). */
.st-key-{SUMMARY_KEY} {{ height: 4rem !important; min-height: 4rem; flex: none; overflow: hidden; }}
.st-key-{SUMMARY_KEY} p {{
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
  overflow-wrap: anywhere;  /* a model's reading longer than the line (a long name) still wraps */
}}
/* A metric that names no digit ("Not a digit") wraps instead of ending in "Not a d…"; so do a model's
   long name (a trained model's file name) and "96% sure · not calibrated", which were cut off. */
[data-testid="stMetricValue"] p {{ white-space: normal; overflow-wrap: break-word; }}
[data-testid="stMetricLabel"] *, [data-testid="stMetricDelta"] * {{
  white-space: normal !important; overflow-wrap: anywhere; text-overflow: clip !important;
}}
/* A short window (a 1366x768 laptop once the browser takes its share, a projector, a phone on its
   side): Streamlit's 6rem above the title and its 2.75rem title pushed Yes, or the canvas itself,
   below the fold (qa24). The top padding keeps room for Streamlit's 3.75rem header. */
@media (max-height: {SHORT_PX}px) {{
  [data-testid="stMainBlockContainer"] {{ padding-top: 3.75rem; }}
  [data-testid="stMainBlockContainer"] h1 {{ font-size: 2rem; padding: 0 0 0.5rem; }}
}}
@media (max-height: 500px) {{
  [data-testid="stMainBlockContainer"] h1 {{ font-size: 1.5rem; }}
  [data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] {{ display: none; }}
}}
</style>"""


# --------------------------------------------------------------------------- pure helpers


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


# Said where a model's answer pooled its pixels' reading with its pen-path reader's (digitdraw.penpath).
PEN_PATH_NOTE = " Read from the pixels and from the pen's path: the strokes, in the order drawn."


def page() -> None:
    """The Draw page (the app's default page)."""
    st.html(_STYLE)
    _draw_and_answer()


def title(source: str, mode: str) -> str:
    """The page's title for what it reads now: "Draw a digit", "Draw a number", "Read a photo"."""
    if source == "Upload":
        return "Read a photo"
    return "Draw a number" if MODES.get(mode) == "number" else "Draw a digit"


@st.fragment
def _draw_and_answer() -> None:
    # A fragment: a stroke reruns only this part, not the navigation. The models on disk are
    # listed again each time (under a millisecond): another visitor may have deleted or renamed one.
    restore_choices()
    choices = model_choices()
    tab = canvas.reload_key(corrections.browser_id())
    canvas.look_for_reload(tab)
    # In the fragment, which the mode and source buttons rerun: the title says what is read now.
    st.title(title(st.session_state.get(SOURCE_KEY, "Draw"), st.session_state.get(MODE_KEY, "Digit")))
    # Not "a dense network and a CNN" whatever was chosen under Models and ink (two CNNs: qa26).
    st.caption("Two networks trained on MNIST, by default a dense one and a CNN, read your writing.")
    left, right = st.container(key=AREA_KEY).columns(2, gap="large")
    with left:
        top = st.container(horizontal=True, gap="medium")
        with top:
            source = st.radio(
                "Input", ["Draw", "Upload"], horizontal=True, key=SOURCE_KEY, label_visibility="collapsed"
            )
            mode = MODES[
                st.radio(
                    "Canvas",
                    list(MODES),
                    horizontal=True,
                    key=MODE_KEY,
                    label_visibility="collapsed",
                    # A canvas of another size starts empty; Bring back returns to the mode drawn in.
                    on_change=_cleared_by(MODE_KEY, lambda now: next(m for m in MODES if m != now)),
                    help="Digit: one digit on a square canvas. Number: several digits on a wide one.",
                )
            ]
        # Containers first, filled below in the order the values are needed: the page reads top
        # to bottom as summary, input, [Undo, Clear, settings], Right?. Right? sits under the
        # canvas, not under the chart: on a phone, where the columns stack, the chart and the
        # models' input put it two screens below the drawing it asks about.
        summary = st.container(key=SUMMARY_KEY)
        input_box = st.container()
        controls = st.container(horizontal=True, gap="small", key="draw_controls")
        review = st.container(key=REVIEW_KEY)
        if source == "Draw":
            # Laid out now, from what the browser reported, not as placeholders filled once the
            # canvas is: an empty placeholder is hidden, and under load Undo and Clear vanished for
            # a moment in every run after a stroke, so that a tap on them then met nothing.
            canvas.restore_if_unmounted()  # first: it may put a new canvas in place
            canvas.remember(canvas.reported())
            drawn = canvas.stroke_count() > 0
            controls.button(
                "Undo", icon=":material/undo:", on_click=canvas.undo, disabled=not drawn, key=canvas.UNDO_KEY
            )
            controls.button(
                "Clear",
                icon=":material/delete:",
                on_click=canvas.clear,
                disabled=not drawn,
                key=canvas.CLEAR_KEY,
            )
            with controls:
                canvas.offer_back()
        # Keyed: known by its key, not by its place on the page (a CI run once found it closed
        # again just after a click opened it; the cause was not reproduced here).
        with controls.popover("Models and ink", icon=":material/tune:", key="draw_settings"):
            chosen, black_on_white = _settings(choices)
            if source == "Draw":
                pen = st.slider(
                    "Pen width",
                    6,
                    40,
                    DEFAULT_PEN,
                    step=1,
                    key=PEN_KEY,
                    format="%d px",
                    on_change=canvas.redraw,  # a canvas set up again must not come back empty
                )
        if source == "Draw":
            with input_box:
                pixels = _draw_input(pen, black_on_white, mode)
            # With what was saved from this browser's drawing: after a reload, Right? must not offer a
            # drawing already saved again (a second click stored it twice).
            saved_key = corrections.saved_key(CORRECTION_KEY)
            saved = st.session_state.setdefault(saved_key, {})
            canvas.keep_for_reload(
                tab,
                {
                    MODE_KEY: st.session_state[MODE_KEY],
                    INK_KEY: black_on_white,
                    PEN_KEY: pen,
                    saved_key: saved,
                },
            )
            hint = NUMBER_HINT if mode == "number" else DRAW_HINT
            drawing = Drawing("canvas", _canvas_strokes(), pen)
        else:
            with input_box:
                pixels, hint = _upload_input(mode), UPLOAD_HINT
            drawing = Drawing("image", None, None)
    with right:
        spoken = _answers(pixels, drawing, mode, chosen, hint, summary, review)
        # Announced by screen readers as it changes (the answers' own elements are not a live region).
        st.html(f'<div aria-live="polite" style="{_OFF_SCREEN}">{html.escape(spoken)}</div>')
    keep_choices()


# Said plainly: a person who wrote "17" on purpose tapped 1, and the whole drawing was kept as a 1 (qa24).
WHOLE_QUESTION = (
    "Only if you meant one digit: which? (Numbers are not saved; this keeps the drawing as that digit.)"
)


def _whole_drawing_panel(pixels: np.ndarray, drawing: Drawing, predictors: dict[str, Predictor]) -> None:
    """Right? for a square-canvas drawing read as several digits: saved as one digit, the whole drawing
    as its input, with each model's reading of it whole (as an imported correction is kept)."""
    paths = [np.asarray(s, np.float32) for s in drawing.strokes or ()]
    try:
        image = strokes.model_input(pixels, paths)
    except ValueError:  # nothing readable as one piece: nothing to keep
        return
    answers = []
    for title, predictor in predictors.items():
        out = predictor.outputs(image[None], [paths])
        refused = out.not_a_digit is not None and bool(out.not_a_digit[0])
        answers.append(corrections.stored_answer(title, out.probabilities[0], refused))
    # The models' whole readings are not what the page shows (the digits it was split into): a "Yes,
    # it's 4" beside "11" confirmed a digit the page was not showing.
    corrections.correction_panel(
        strokes=drawing.strokes,
        image=image,
        answers=answers,
        pen_width=drawing.pen,
        key=CORRECTION_KEY,
        question=WHOLE_QUESTION,
    )


def _number_panel(got: reading.Reading, pen: float | None) -> None:
    """Right? for a number on the wide canvas: each digit kept with its own strokes and answers."""
    digits = [
        corrections.NumberDigit(
            None if paths is None else [np.asarray(p).tolist() for p in paths],
            image,
            [
                corrections.stored_answer(t, r.digits[k].probabilities, r.digits[k].not_a_digit)
                for t, r in got.models.items()
            ],
        )
        for k, (paths, image) in enumerate(zip(got.paths, got.inputs, strict=True))
    ]
    texts = {r.text for r in got.models.values()}
    read = texts.pop() if len(texts) == 1 else None
    corrections.number_panel(digits=digits, read=read, pen_width=pen, key=CORRECTION_KEY)


def _cleared_by(key: str, before: Callable[[Any], Any]) -> Callable[[], None]:
    """A switch's callback that clears the canvas: the drawing is offered back with the switch as it
    was (`before(now)`: its value before this change)."""
    return lambda: canvas.clear({key: before(st.session_state[key])})


def _settings(choices: list[ModelChoice]) -> tuple[list[ModelChoice], bool]:
    """Model pickers and the ink colour: one set of widgets, in the popover beside Undo and Clear."""
    by_name = {c.name: c for c in choices}
    names = list(by_name)
    picked = []
    for side, default, key in zip(("Left", "Right"), config.DEFAULT_MODELS, MODEL_KEYS, strict=True):
        fallback = default if default in by_name else names[0]
        follow_model(key, by_name, fallback)  # deleted or renamed since it was chosen
        name = st.selectbox(
            f"{side} model",
            names,
            index=names.index(fallback),
            format_func=lambda n: by_name[n].label,
            key=key,
            help="Shipped models first, then any model trained on the Train page.",
        )
        picked.append(by_name[name])
    black_on_white = st.toggle(
        "Black ink on white",
        value=False,
        key=INK_KEY,
        # The canvas repaints its background and drops the strokes; Bring back returns to the ink drawn in.
        on_change=_cleared_by(INK_KEY, lambda now: not now),
        help="The models read either; switching clears the canvas.",
    )
    return picked, black_on_white


def _draw_input(pen: int, black_on_white: bool, mode: str) -> np.ndarray | None:
    # Imported here: the component registers itself on import and fails outside a running
    # Streamlit app, and this module's pure helpers are used without one (tests, benchmark).
    from streamlit_drawable_canvas import st_canvas

    canvas.hide_toolbar()
    ink, paper = ("#000000", "#FFFFFF") if black_on_white else ("#FFFFFF", "#000000")
    width, height = NUMBER_CANVAS if mode == "number" else (CANVAS_SIZE, CANVAS_SIZE)
    result = st_canvas(
        stroke_width=pen,
        stroke_color=ink,
        background_color=paper,
        height=height,
        width=width,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        initial_drawing=canvas.initial_drawing(),
        key=canvas.canvas_key(),
    )
    canvas.remember(result.json_data)
    canvas.instant_undo_and_clear(pen, ink, paper)
    return canvas.canvas_pixels(result, width, height)


UPLOAD_KEY = "draw_upload"
KEPT_UPLOAD_KEY = "draw_upload_kept"  # (name, bytes) of the photo last uploaded, until removed


def _keep_upload() -> None:
    """The uploader's callback: keep what was uploaded, or forget it when the user removed it.

    Why keep it: Streamlit drops a widget's value when a run does not show it, so a look at the
    canvas (Upload -> Draw -> Upload) came back to an empty uploader and the photo was gone.
    """
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        st.session_state.pop(KEPT_UPLOAD_KEY, None)
    else:
        st.session_state[KEPT_UPLOAD_KEY] = (upload.name, upload.getvalue())


# What the uploader offers: every picture the CLI reads (Pillow), and an iPhone's HEIC, which the page
# then explains (preprocess.load_image_file). A type the uploader refused itself was said only in a
# tooltip (none on a phone), with the last photo's answers still beside it.
UPLOAD_TYPES = [*IMAGE_EXTENSIONS, "heic", "heif"]


def _upload_input(mode: str) -> np.ndarray | None:
    # The limit in the label: a file over it is refused by the uploader itself, which says why only in
    # a tooltip (none on a phone) and keeps the last photo and its answers (a tester, qa24).
    what = "a handwritten number" if mode == "number" else "one handwritten digit"
    upload = st.file_uploader(
        f"A photo or scan of {what} (up to {MAX_UPLOAD_MB} MB)",
        type=UPLOAD_TYPES,
        max_upload_size=MAX_UPLOAD_MB,
        key=UPLOAD_KEY,
        on_change=_keep_upload,
        help=f"{IMAGE_KINDS}, up to {MAX_UPLOAD_MB} MB. Dark ink on light paper or the reverse.",
    )
    if upload is not None:
        name, data, caption = upload.name, upload.getvalue(), upload.name
    elif KEPT_UPLOAD_KEY in st.session_state:  # the uploader came back empty after a look at the canvas
        name, data = st.session_state[KEPT_UPLOAD_KEY]
        caption = f"{name} (uploaded before; upload another to replace it)"
        st.button(
            "Remove this photo",
            icon=":material/close:",
            key="draw_upload_forget",
            on_click=lambda: st.session_state.pop(KEPT_UPLOAD_KEY, None),
        )
    else:
        return None
    try:
        pixels = read_upload(data)
    except ImageError as exc:
        st.error(f"**{name}**: {exc}", icon=":material/error:")
        return None
    st.image(pixels, caption=caption, width=CANVAS_SIZE)
    return pixels


def _canvas_strokes() -> strokes.Strokes | None:
    """The canvas drawing as pendigits strokes, for the corrections panel; None when unreadable."""
    try:
        return strokes.canvas_strokes(st.session_state.get(canvas.LAST_KEY)) or None
    except ValueError:  # a shape the converter does not know: the drawing just cannot be kept
        return None


def _answers(
    pixels: np.ndarray | None,
    drawing: Drawing,
    mode: str,
    chosen: list[ModelChoice],
    hint: str,
    summary: DeltaGenerator,
    review: DeltaGenerator,
) -> str:
    """Show the answers (or why there are none); returns what they say, as plain text."""
    titles = results.unique_titles([c.title for c in chosen])
    predictors: dict[str, Predictor] = {}
    for choice, title in zip(chosen, titles, strict=True):
        predictor = predictor_or_error(choice)
        if predictor is not None:
            predictors[title] = predictor
    # On the page's first showing with these models (in the server), not on the first stroke.
    predict.prepare_together(list(predictors.values()))
    got = None
    if pixels is not None:
        got = reading.read_drawing(
            pixels,
            predictors,
            strokes=[np.asarray(s, np.float32) for s in drawing.strokes] if drawing.strokes else None,
            source=drawing.source,
            mode=mode,
        )
    if got is None or got.status == reading.EMPTY:
        # Nothing to read: the Inspect page must not go on showing an earlier drawing either.
        for key in (DRAWING_KEY, DRAWING_STROKES_KEY, NUMBER_DRAWN_KEY):
            st.session_state.pop(key, None)
        if got is None or (drawing.source == "canvas" and got.reason == EMPTY_REASON):
            summary.markdown(f":material/draw: {SHORT_HINTS[hint]}")
            st.container(key=HINT_KEY).info(hint, icon=":material/draw:")
            return hint
        icon = ":material/zoom_in:" if reading.is_too_small(got.reason) else ":material/info:"
        summary.markdown(f"{icon} {got.message}")
        st.warning(got.message, icon=icon)
        return got.message
    single = len(got.inputs) == 1
    st.session_state[DRAWING_KEY] = got.inputs[0] if single else None
    st.session_state[DRAWING_STROKES_KEY] = (got.paths[0] or None) if single and got.paths else None
    st.session_state[NUMBER_DRAWN_KEY] = not single

    # Model names are the user's (a trained model's file name): shown as text, never as Markdown.
    views = [results.view(md(title), r) for title, r in got.models.items()]
    if views:
        summary.markdown(results.view_line(views))
        for col, v, (title, r) in zip(st.columns(len(views)), views, got.models.items(), strict=True):
            calibrated = predictors[title].detector is not None
            col.metric(
                v.model,
                v.value,
                # On screen too, not only in the help: "96% sure" from a model just trained is the
                # network's own figure (a tester, qa25).
                v.note if calibrated else f"{v.note} · {UNCALIBRATED_NOTE}",
                delta_color="off" if v.sure else "orange",
                delta_arrow="off",
                border=True,
                help=(CALIBRATED_HELP if calibrated else UNCALIBRATED_HELP)
                + (f" Digits: {results.digits_line(r)}." if len(r.digits) > 1 else "")
                + (PEN_PATH_NOTE if any(d.pen_path for d in r.digits) else ""),
            )
        split = results.split_verdict(views)  # one model refuses and another reads it
        if split:
            st.warning(split, icon=":material/balance:")
        if got.status == reading.NOT_A_DIGIT:
            if mode == "number":
                # A minus sign or a letter makes a number "not a digit" too (a tester's "-9").
                advice = " Write digits only (no signs or letters), side by side, a little apart."
            elif drawing.source == "image":
                advice = " Upload a photo of one digit, or of a number in Number mode."
            else:
                advice = " Draw one digit, or a number in Number mode."
            if not split:  # beside another model's reading, "draw a digit" would say it was none
                st.warning(got.message + advice, icon=":material/block:")
        elif got.message:
            st.info(got.message, icon=":material/pin:")
        if single:
            # Titles stay plain text in the chart (escaped as HTML there, not as Markdown) and in the
            # store; the verdict is Markdown, so its names are escaped there.
            answers = [results.from_digit(t, r.digits[0]) for t, r in got.models.items()]
            v = results.verdict([dataclasses.replace(a, model=md(a.model)) for a in answers])
            # Not where a model refused (split, said above): its digit is a guess, not a reading.
            if got.status == reading.DIGIT and v is not None and not split:
                if v.kind == "disagree":
                    st.warning(v.message, icon=":material/balance:")
                elif v.kind == "unsure":
                    st.info(v.message, icon=":material/help:")
            st.html(results.chart_html(answers))
            if drawing.source == "canvas":
                with review:
                    corrections.correction_panel(
                        strokes=drawing.strokes,
                        image=got.inputs[0],
                        answers=[corrections.reading_answer(t, r) for t, r in got.models.items()],
                        pen_width=drawing.pen,
                        key=CORRECTION_KEY,
                    )
        else:
            for title, r in got.models.items():
                st.caption(f"{md(title)}, digit by digit: {results.digits_line(r)}")
            if drawing.source == "canvas" and mode == "digit" and drawing.strokes:
                # One digit was meant and it was cut in pieces (a slanted 4 read "12"): the drawings
                # most in need of a correction had no Right? at all. Kept whole, as one digit.
                with review:
                    _whole_drawing_panel(pixels, drawing, predictors)
            elif drawing.source == "canvas" and mode == "number" and got.paths:
                with review:
                    _number_panel(got, drawing.pen)
    row = np.concatenate([results.to_uint8(x) for x in got.inputs], axis=1)
    st.image(
        results.enlarge(row, INPUT_SCALE if single else max(2, INPUT_SCALE * 2 // len(got.inputs))),
        caption="What the models see (28×28)" + ("" if single else f", {len(got.inputs)} digits"),
        width=28 * INPUT_SCALE if single else "content",
    )
    if got.steps:
        _show_steps(got.steps, REDRAWN_NOTE if got.redrawn else None)
    # Plain text: the names as they are (not escaped for Markdown), no bold.
    return results.view_line([results.view(t, r) for t, r in got.models.items()], bold=False)


def _show_steps(steps: dict[str, np.ndarray], note: str | None = None) -> None:
    # Lazy (on_change="rerun"): its pictures are made and sent only while it is open. Closed, as
    # it starts, they cost every stroke six images (encoding, requests, layout) nobody sees.
    if not steps:
        return
    # Opened once, it stays open for the next drawing: Streamlit forgets a widget's state in the runs
    # it is not on the page (an empty canvas after Clear), so the wish is kept apart from it.
    expander = st.expander(
        "Preprocessing steps: from your drawing to the 28×28 input",
        expanded=bool(st.session_state.get(STEPS_WANTED_KEY, False)),
        key=STEPS_KEY,
        on_change="rerun",
    )
    st.session_state[STEPS_WANTED_KEY] = bool(expander.open)
    if not expander.open:
        return
    with expander:
        cols = st.columns(len(steps))
        for col, (name, step) in zip(cols, steps.items(), strict=True):
            h, w = step.shape[:2]
            col.image(results.display_step(step), caption=f"{name} ({w}×{h})")
        if note:
            st.caption(note)
