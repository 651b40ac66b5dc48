"""The Draw page's canvas: streamlit-drawable-canvas without its hover toolbar, with Undo and Clear.

Why not the component's own toolbar: it appears on mouse hover only, so a touch screen never shows
it, and its invisible box lies over the top right of the canvas, swallowing strokes that start
there (on a desktop too). streamlit-drawable-canvas 0.13 has no option to turn it off, and its
styles live in a shadow root the page's CSS cannot reach, so `hide_toolbar` registers the
component again with its own stylesheet plus one rule.

Undo and Clear act in the browser, at once, where they can (`instant_undo_and_clear`): the
page's buttons work the component's own hidden toolbar, so the canvas never changes under a pen
that starts the next digit straight away. Where the component's history cannot do it (a canvas
that started from a restored drawing), they re-create the canvas under a new key (a fresh
component) on the server: Clear starts it empty, Undo from the last drawing minus its last stroke.
A re-created canvas sends nothing back until the next stroke, so its picture is rendered here from
its strokes (`canvas_pixels`).
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from digitdraw import strokes

if TYPE_CHECKING:
    from streamlit_drawable_canvas import CanvasResult

CANVAS_SIZE = 280  # px; pendigits.render and the benchmarks use the same size (fits a 390 px phone)
DEFAULT_PEN = 18  # px: about MNIST's stroke for a digit filling most of a 280 px canvas

KEY_PREFIX = "draw_canvas"  # the canvas's key is this plus its generation: draw_canvas_0, _1, ...
GENERATION_KEY = "draw_canvas_generation"
INITIAL_KEY = "draw_canvas_initial"  # the drawing a re-created canvas starts from; None: empty
LAST_KEY = "draw_canvas_last"  # the last drawing the canvas reported (fabric JSON), for Undo

# The component as streamlit_drawable_canvas registers it (its name, root element and assets).
COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
# Named for screen readers: the component's own canvases carry no role or label.
_ROOT_HTML = (
    '<div class="canvas-root" role="img" aria-label="Drawing canvas: draw here with the mouse, '
    'a finger or a pen"></div>'
)
_CSS_GLOB, _JS_GLOB = "index-*.css", "index-*.js"
# !important: the component sets the toolbar's display inline on every update.
HIDE_TOOLBAR_CSS = ".dc-toolbar{display:none!important}"
_registering = threading.Lock()  # sessions run their scripts in parallel threads


def hide_toolbar() -> None:
    """Make every canvas of this server show no toolbar: re-register the component, CSS + one rule.

    Cheap after the first call on a server (a look-up). Raises RuntimeError if the installed
    streamlit-drawable-canvas no longer matches what this relies on (tests/test_draw_page.py checks it).
    """
    import streamlit_drawable_canvas  # noqa: F401 - registers the component on first import
    from streamlit.components.v2 import component
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager

    manager = get_bidi_component_manager()
    with _registering:
        current = manager.get(COMPONENT)
        if current is not None and (current.css_content or "").endswith(HIDE_TOOLBAR_CSS):
            return
        root = manager.get_component_asset_root(COMPONENT)
        sheets = sorted(root.glob(_CSS_GLOB)) if root is not None else []
        if len(sheets) != 1:
            raise RuntimeError(f"streamlit-drawable-canvas's stylesheet not found ({COMPONENT} in {root})")
        # Unregister first: replacing a definition in place logs an "already registered" warning.
        manager.unregister(COMPONENT)
        component(
            COMPONENT,
            html=_ROOT_HTML,
            css=sheets[0].read_text(encoding="utf-8") + HIDE_TOOLBAR_CSS,
            js=_JS_GLOB,
            isolate_styles=True,
        )


# --------------------------------------------------------------------------- Undo and Clear


UNDO_KEY, CLEAR_KEY = "draw_undo", "draw_clear"  # the page's buttons
INSTANT_KEY = "draw_instant"  # the script that makes them act in the browser
INSTANT_COMPONENT = "digitdraw.instant_undo_and_clear"
# Why in the browser: on the server, Clear re-created the canvas, and a stroke begun before the new
# one replaced the old (50 ms on an idle server, seconds under load) was drawn on the old one and
# lost, or the pen found no canvas at all. A click on the page's Undo or Clear is caught before
# Streamlit sees it and given to the canvas's toolbar button instead (a click on a hidden button
# still runs it), which undoes or empties the canvas in place and sends the drawing back as a
# stroke does. Left to the server when the toolbar cannot: Undo at the start of the component's
# history, Clear of a canvas that started from a drawing (its reset goes back to that drawing).
_INSTANT_JS = """
function findIn(host, selector) {  // in the component's shadow roots
  const pending = [host];
  while (pending.length) {
    const node = pending.pop();
    const found = node.shadowRoot?.querySelector(selector);
    if (found) return found;
    pending.push(...node.children, ...(node.shadowRoot ? node.shadowRoot.children : []));
  }
  return null;
}
function toolbarButton(host, label) {
  return findIn(host, `.dc-toolbar button[aria-label="${label}"]`);
}
// Clear of a canvas that began from a drawing is the server's: it puts a new canvas in its place.
// A stroke drawn before that one is there would land on the old one and be lost (a 7 begun at once
// lost its bar). Meanwhile a blank cover lies over the old canvas and takes the strokes, drawn as
// the pen draws them; once the new canvas is there they are replayed onto it, as the mouse would.
function coverUntilReplaced(now) {
  const host = document.querySelector(`.st-key-${now.key}`);
  const upper = host && findIn(host, "canvas.upper-canvas");
  if (!upper) return;
  const box = upper.getBoundingClientRect();
  // For a moment the page holds neither canvas, is shorter, and its scroll falls back to the top: it
  // is put back as the new canvas comes, so that the canvas is where the cover was.
  const scrolled = [document.scrollingElement, document.querySelector('[data-testid="stMain"]')]
    .filter(Boolean).map((el) => [el, el.scrollTop]);
  const ratio = window.devicePixelRatio || 1;
  const cover = document.createElement("canvas");
  cover.width = Math.round(box.width * ratio);
  cover.height = Math.round(box.height * ratio);
  cover.dataset.digitdrawCover = now.key;
  Object.assign(cover.style, {
    position: "absolute", left: `${box.left + window.scrollX}px`, top: `${box.top + window.scrollY}px`,
    width: `${box.width}px`, height: `${box.height}px`, zIndex: "999990", touchAction: "none",
    background: now.paper, cursor: "crosshair",
  });
  document.body.appendChild(cover);
  const pen = cover.getContext("2d");
  pen.scale(ratio, ratio);
  Object.assign(pen, { strokeStyle: now.ink, lineWidth: now.pen, lineCap: "round", lineJoin: "round" });
  const strokes = [];
  let stroke = null;
  const point = (e) => {
    const b = cover.getBoundingClientRect();
    return [e.clientX - b.left, e.clientY - b.top];
  };
  const line = (a, b) => { pen.beginPath(); pen.moveTo(...a); pen.lineTo(...b); pen.stroke(); };
  cover.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    cover.setPointerCapture(e.pointerId);
    stroke = [point(e)];
    strokes.push(stroke);
    line(stroke[0], stroke[0]);
  });
  cover.addEventListener("pointermove", (e) => {
    if (!stroke) return;
    const p = point(e);
    line(stroke[stroke.length - 1], p);
    stroke.push(p);
  });
  for (const type of ["pointerup", "pointercancel"]) cover.addEventListener(type, () => { stroke = null; });
  const started = performance.now();
  const replay = () => {
    if (!cover.isConnected) return;
    const next = window.__digitdrawCanvas.key;
    const target = next !== now.key && findIn(document.querySelector(`.st-key-${next}`) || document.body,
                                               "canvas.upper-canvas");
    if (stroke || !target || !target.getBoundingClientRect().width) {  // mid-stroke, or not there yet
      if (performance.now() - started < 60000) requestAnimationFrame(replay);
      else cover.remove();
      return;
    }
    for (const [el, top] of scrolled) el.scrollTop = top;
    const b = target.getBoundingClientRect();
    const fire = (type, [x, y]) => target.dispatchEvent(new MouseEvent(type, {
      bubbles: true, cancelable: true, composed: true, view: window, button: 0,
      buttons: type === "mouseup" ? 0 : 1, clientX: b.left + x, clientY: b.top + y,
    }));
    for (const s of strokes) {
      fire("mousedown", s[0]);
      for (const p of s.slice(1)) fire("mousemove", p);
      fire("mouseup", s[s.length - 1]);
    }
    cover.remove();
  };
  requestAnimationFrame(replay);
}
// Undo or Clear that empties the canvas is disabled by the answer's rerun, and a disabled button
// drops the keyboard's focus to the page's start. Hand it to the canvas instead (just before the
// buttons in tab order), so that Tab goes on from where the person was.
function keepFocus(key) {
  const until = performance.now() + 10000;
  const step = () => {
    if (performance.now() >= until) return;
    const button = document.querySelector(`.st-key-${key} button`);
    const host = document.querySelector(`.st-key-${window.__digitdrawCanvas.key}`);
    const active = document.activeElement;
    const dropped = !active || active === document.body || active === button;
    // A Clear the server does replaces the canvas: a focus given to the old one is lost with it.
    const onOld = !dropped && active !== host && active.closest?.("[class*='st-key-draw_canvas_']");
    if (!dropped && !onOld && active !== host) return;  // moved on by itself
    if (host && ((dropped && button && button.disabled) || onOld)) {
      host.tabIndex = -1;
      host.focus({ preventScroll: true });
    }
    requestAnimationFrame(step);  // watch on: the server may yet put a new canvas in place
  };
  requestAnimationFrame(step);
}
function setUndoAndClear(now, disabled) {  // ahead of the server's rerun, which then says the same
  for (const key of [now.undo, now.clear]) {
    const button = document.querySelector(`.st-key-${key} button`);
    if (button) button.disabled = disabled;
  }
}
export default function ({ data }) {
  window.__digitdrawCanvas = data;
  if (window.__digitdrawInstant) return;
  window.__digitdrawInstant = true;
  window.addEventListener("click", (event) => {
    const now = window.__digitdrawCanvas;
    const button = event.target instanceof Element ? event.target.closest("button") : null;
    if (!button || button.disabled) return;
    const clear = button.closest(`.st-key-${now.clear}`) !== null;
    if (!clear && button.closest(`.st-key-${now.undo}`) === null) return;
    if (event.detail === 0) keepFocus(clear ? now.clear : now.undo);  // Enter or Space, not a pointer
    if (clear && !now.startsEmpty) {  // the server does it
      coverUntilReplaced(now);
      return;
    }
    const host = document.querySelector(`.st-key-${now.key}`);
    const tool = host && toolbarButton(host, clear ? "Reset canvas & history" : "Undo");
    if (!tool || tool.disabled) return;  // the server does it
    event.stopPropagation();
    event.preventDefault();
    tool.click();
    // An empty canvas (cleared, or undone to the start of an empty one's history; the toolbar says
    // so at once): nothing to undo or clear. Said here too, since a stroke taken back before the
    // component sent it changes nothing the server sees, and no rerun would disable them.
    if (clear || (now.startsEmpty && tool.disabled)) setUndoAndClear(now, true);
  }, true);
  // The end of a mouse or pen stroke, made good in two ways:
  // - fabric.js's pencil drops the point before a stroke's last when it ends the stroke (its
  //   decimatePoints stops one point short): a fast stroke, drawn with few points, lost a corner,
  //   and the page read it otherwise than `predict --strokes` read the same points. A point 1 px
  //   from the last, added as the stroke ends, is the one dropped instead.
  // - Released just below the canvas, over the page's Undo or Clear while they are disabled (the
  //   first stroke of a big digit run past the edge), the stroke got no mouseup at all: a disabled
  //   button swallows mouse events (the pointerup still comes). It stayed open, was never sent, and
  //   the next stroke was joined to it. A release outside the canvas is handed to it.
  let open = null;  // the canvas a stroke began on, and where the pen was last over it
  window.addEventListener("pointerdown", (event) => {
    const host = document.querySelector(`.st-key-${window.__digitdrawCanvas.key}`);
    const upper = host && findIn(host, "canvas.upper-canvas");
    const drawing = upper && event.pointerType !== "touch" && event.composedPath().includes(upper);
    open = drawing ? { host, upper, x: event.clientX, y: event.clientY } : null;
  }, true);
  window.addEventListener("pointermove", (event) => {
    if (open && event.composedPath().includes(open.upper)) [open.x, open.y] = [event.clientX, event.clientY];
  }, true);
  // And ink on the canvas, from a stroke of any pen or finger: Undo and Clear work at once, not only
  // when the server has seen the stroke (a click on a still-disabled button was lost).
  window.addEventListener("pointerup", (event) => {
    const now = window.__digitdrawCanvas;
    const host = document.querySelector(`.st-key-${now.key}`);
    const onCanvas = Boolean(host) && event.composedPath().includes(host);
    const stroke = open;
    open = null;
    if (stroke && stroke.upper.isConnected) {
      const fire = (type, x, y) => stroke.upper.dispatchEvent(new MouseEvent(type, {
        bubbles: true, cancelable: true, composed: true, view: window, button: 0,
        buttons: type === "mouseup" ? 0 : 1, clientX: x, clientY: y,
      }));
      fire("mousemove", Math.round(stroke.x) + 1, Math.round(stroke.y));  // a mouse event's x is whole px
      if (!event.composedPath().includes(stroke.host)) fire("mouseup", event.clientX, event.clientY);
      setUndoAndClear(now, false);
      sendSoon(stroke.host);
    } else if (onCanvas) {
      setUndoAndClear(now, false);
      sendSoon(host);
    }
  }, true);
}
// The component sends a drawing 200 ms after its last change (a debounce, for objects dragged in its
// edit mode): most of the time from a stroke's end to the answers (280 ms). Its toolbar's Update
// button sends at once: pressed once the stroke's own mouseup (a later event of this one) has added
// the stroke to the canvas. A stroke the component has not added yet still goes with its debounce.
function sendSoon(host) {
  setTimeout(() => {
    const send = host.isConnected && toolbarButton(host, "Update the app with this drawing");
    if (send) send.click();
  }, 0);
}
"""


_instant: list[Any] = []  # the component, registered by the first session that needs it


def instant_undo_and_clear(pen: float, ink: str, paper: str) -> None:
    """After the canvas: make the page's Undo and Clear act in the browser where they can (and keep
    the strokes drawn while the server replaces the canvas where it cannot: drawn at `pen` px in
    the `ink` colour on `paper`, as the canvas would)."""
    with _registering:  # registering again logs a warning; sessions run in parallel threads
        if not _instant:
            _instant.append(st.components.v2.component(INSTANT_COMPONENT, js=_INSTANT_JS))
    now = {
        "key": canvas_key(),
        "startsEmpty": not _objects(initial_drawing()),
        "undo": UNDO_KEY,
        "clear": CLEAR_KEY,
        "pen": pen,
        "ink": ink,
        "paper": paper,
    }
    _instant[0](data=now, key=INSTANT_KEY)


def canvas_key() -> str:
    """The key of the canvas now on the page (a new one after each Undo or Clear)."""
    return f"{KEY_PREFIX}_{st.session_state.get(GENERATION_KEY, 0)}"


def initial_drawing() -> dict | None:
    """What the canvas now on the page starts from (None: empty)."""
    return st.session_state.get(INITIAL_KEY)


def remember(json_data: dict | None) -> None:
    """Keep the drawing the canvas reported in this run, for Undo (and, where Clear or Undo emptied it
    in the browser, offer the one before back)."""
    _offer_if_emptied(json_data)
    st.session_state[LAST_KEY] = json_data


def _offer_if_emptied(now: dict | None, settings: dict[str, Any] | None = None) -> None:
    """Where the canvas goes from a drawing to none, that drawing is offered back (Bring back)."""
    last = st.session_state.get(LAST_KEY)
    if _objects(last) and not _objects(now):
        st.session_state[CLEARED_KEY] = (dict(settings or {}), last)


# --------------------------------------------------------------------------- a reload


# A reload (F5, a phone's pull-to-refresh) starts a new Streamlit session with an empty canvas, as a
# reload should: people (and scripts) reload to start afresh, and a drawing that came back by itself
# was drawn over. An accidental pull-to-refresh should not cost the drawing either, so the last
# drawing of each browser tab (`reload_key`) is kept in the server's memory for a while, and
# the new session offers it back with one button (`offer_back`) until something is drawn. Never
# written anywhere: saving a drawing stays the user's explicit choice (the Right? panel).
KEEP_SECONDS = 30 * 60
KEEP_MAX = 1000  # browsers; the oldest go first
RESTORED_KEY = "draw_canvas_restored"  # this session looked for a kept drawing already
OFFER_KEY = "draw_canvas_offer"  # (settings, drawing) from before the reload, offered back
# ... and from before Clear (or a switch that clears): offered back in this session only, as a reload
# after Clear is a fresh start.
CLEARED_KEY = "draw_canvas_cleared"
BRING_BACK_KEY = "draw_bring_back"  # the offer's button


TAB_PARAM = "tab"  # in the address: a reload keeps it, a new tab has none
TAB_KEY = "draw_tab"
_TABS = re.compile(r"[0-9a-f]{8}")


def reload_key(browser: str) -> str:
    """The key this tab's drawing is kept under for a reload: the browser's anonymous id and the
    tab's own (?tab=, which the address keeps across a reload). Two tabs of one browser keep one
    drawing each (one tab's reload brought back the other's: a tester, qa24); the address copied
    into another browser brings back nothing, as its id is another. Called on every full run too:
    a page switch drops the address's query string."""
    tab = st.session_state.get(TAB_KEY)
    if tab is None:
        given = st.query_params.get(TAB_PARAM)
        tab = given if given and _TABS.fullmatch(given) else secrets.token_hex(4)
        st.session_state[TAB_KEY] = tab
    if st.query_params.get(TAB_PARAM) != tab:
        st.query_params[TAB_PARAM] = tab
    return f"{browser}/{tab}"


@st.cache_resource
def _kept() -> tuple[OrderedDict[str, tuple[float, dict[str, Any], dict | None]], threading.Lock]:
    return OrderedDict(), threading.Lock()


def keep_for_reload(key: str, settings: dict[str, Any]) -> None:
    """Keep the drawing now on the canvas for a reload of this tab (`key`: reload_key's), with the
    widget values it needs to look the same (`settings`: widget key -> value, e.g. the canvas's mode
    and ink colour)."""
    if OFFER_KEY in st.session_state and not stroke_count():
        return  # the drawing on offer stays kept: a second reload offers it again
    kept, lock = _kept()
    now = time.monotonic()
    with lock:
        kept[key] = (now, dict(settings), st.session_state.get(LAST_KEY))
        kept.move_to_end(key)
        while kept and (len(kept) > KEEP_MAX or now - next(iter(kept.values()))[0] > KEEP_SECONDS):
            kept.popitem(last=False)


def look_for_reload(key: str) -> None:
    """Once a session, before the page's widgets: the drawing this tab had before a reload (and
    its settings) is put on offer. Nothing when there is none (a first visit, an empty canvas, too
    long ago)."""
    if st.session_state.get(RESTORED_KEY):
        return
    st.session_state[RESTORED_KEY] = True
    kept, lock = _kept()
    with lock:
        at, settings, drawing = kept.get(key, (0.0, {}, None))
    if _objects(drawing) and time.monotonic() - at <= KEEP_SECONDS:
        st.session_state[OFFER_KEY] = (copy.deepcopy(settings), drawing)


def offer_back() -> None:
    """Beside Undo and Clear, while the canvas is empty: a button that brings back the drawing from
    before the reload, or before Clear. Gone for good once something is drawn (a fresh start)."""
    if OFFER_KEY not in st.session_state and CLEARED_KEY not in st.session_state:
        return
    if stroke_count():
        st.session_state.pop(OFFER_KEY, None)
        st.session_state.pop(CLEARED_KEY, None)
        return
    st.button(
        "Bring back",
        icon=":material/restore_page:",
        key=BRING_BACK_KEY,
        on_click=_bring_back,
        help="The drawing that was on the canvas before it was cleared or the page reloaded.",
    )


def _bring_back() -> None:
    settings, drawing = st.session_state.pop(OFFER_KEY if OFFER_KEY in st.session_state else CLEARED_KEY)
    st.session_state.pop(CLEARED_KEY, None)
    for key, value in settings.items():  # before the widgets of the next run: they show these
        st.session_state[key] = value
    _recreate(drawing)


def stroke_count() -> int:
    return len(_objects(st.session_state.get(LAST_KEY)))


def reported() -> dict | None:
    """The drawing on the canvas now on the page, as the browser last reported it: what `st_canvas`
    will return in this run, known before it is laid out (so that Undo, Clear and Bring back can be
    laid out first, not as placeholders filled after it). The component keeps its value in the
    session under its key; a canvas that has reported nothing yet holds its initial drawing."""
    state = st.session_state.get(canvas_key())
    drawing = state.get("drawing") if state else None
    return drawing.get("raw") if drawing else initial_drawing()


def restore_if_unmounted() -> None:
    """Put the last drawing back on a canvas that left the page (Upload, another page) and returns.

    Streamlit drops a component's state when a run does not show it, so the canvas would come back
    empty; it is re-created instead, starting from the strokes it last reported (as Undo does).
    """
    last = st.session_state.get(LAST_KEY)
    if canvas_key() not in st.session_state and _objects(last) and last != st.session_state.get(INITIAL_KEY):
        _recreate(last)


def redraw() -> None:
    """Widget callback (the pen width): the same strokes on a new canvas.

    The component is set up again when its settings change, and may be mounted afresh (a browser
    tester saw it when the settings' popover lay over the canvas): started from nothing, it came
    back empty while the answers still described the drawing. Re-created from its last strokes,
    as Undo does, nothing is lost.
    """
    last = st.session_state.get(LAST_KEY)
    _recreate(last if _objects(last) else None)


def clear(settings: dict[str, Any] | None = None) -> None:
    """Callback (Clear, and the switches that start a new canvas): an empty canvas. The drawing on it
    is offered back (`offer_back`) until the next stroke, with the widget values (`settings`) of the
    page it was drawn on: Clear tapped by mistake on a phone cost the drawing (a tester, qa24)."""
    _recreate(None, settings)


def undo() -> None:
    """Button callback: the canvas again, without the last stroke."""
    last = st.session_state.get(LAST_KEY) or {}
    objects = _objects(last)
    _recreate({**last, "objects": objects[:-1]} if len(objects) > 1 else None)


def _recreate(initial: dict | None, settings: dict[str, Any] | None = None) -> None:
    _offer_if_emptied(initial, settings)
    st.session_state[INITIAL_KEY] = initial
    st.session_state[LAST_KEY] = initial
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1


def _objects(json_data: dict | None) -> list[dict[str, Any]]:
    return list((json_data or {}).get("objects") or [])


# --------------------------------------------------------------------------- pixels


def canvas_pixels(
    result: CanvasResult, width: int = CANVAS_SIZE, height: int = CANVAS_SIZE
) -> np.ndarray | None:
    """The canvas drawing as an RGBA array, or None while nothing is drawn.

    Nothing drawn (no objects: a fresh or cleared canvas) short-cuts to None without decoding
    the PNG the component sends along. A canvas re-created by Undo has strokes but no picture
    until the next stroke: it is drawn from its strokes.
    """
    objects = _objects(result.json_data)
    if not objects:
        return None
    image = result.image_data
    if image is not None:
        return image
    return render_objects(objects, max(width, height))[:height, :width]


def render_objects(objects: list[dict[str, Any]], size: int = CANVAS_SIZE) -> np.ndarray:
    """Fabric path objects -> the canvas picture (RGBA, white ink on black), each at its own pen width."""
    layers = [
        strokes.render_as_drawn(
            strokes.canvas_strokes({"objects": [obj]}),
            float(obj.get("strokeWidth") or DEFAULT_PEN),
            canvas=size,
        )
        for obj in objects
    ]
    return np.maximum.reduce(layers)
