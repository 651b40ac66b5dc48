"""Drawings as pen strokes: the canvas's fabric.js paths -> pendigits strokes -> a rendered canvas.

The pendigits stroke format is a list of strokes, each a list of [x, y] points in time order, y down
(see the pendigits README). A correction from the canvas keeps its strokes in canvas pixels, so
`render_as_drawn` puts the ink back where the person drew it, at the pen width they used: it renders
like the canvas drawing and preprocesses like one. Strokes imported from elsewhere (pendigits' 500x500
tablet box) have no canvas position; `render_centred` draws them like pendigits.render does.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from digitdraw import pendigits

Strokes = list[list[list[float]]]  # strokes -> points -> [x, y]

CANVAS = 280  # px: the Draw page's canvas (pendigits.render's default size too)
IMPORT_PEN = 18.0  # px: the Draw page's default pen, used for strokes that come without one
MAX_WIDTH = 8 * CANVAS  # px: a wide drawing's canvas at most (a dozen digits at full height)
MAX_POINTS = 20_000  # per drawing: far above any digit (a 40-point oval is ~160), bounds a bad input
# A point's numbers at most: x, y and what tablets add (time, pressure, two tilts).
MAX_POINT_NUMBERS = 6

# fabric.js origins: where on the object's box its left/top position sits (0 = left/top edge).
_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}
# Curves are flattened to lines within this distance of the true curve (px): far below what shows.
_TOLERANCE = 0.25
_DIGITS = 3  # coordinates kept to 1/1000 px, as fabric.js writes them


# Byte-order marks of the encodings Windows tools write (PowerShell 5's `>` writes UTF-16 LE), longest
# first: UTF-32 LE's mark begins with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def wide_text(raw: bytes) -> bool:
    """Whether the bytes begin with a UTF-16/32 mark: text whose lines are not byte lines."""
    return raw.startswith(tuple(bom for bom, _ in _BOMS))


def decode_text(raw: bytes) -> str:
    """A strokes file's text: UTF-8 (a byte-order mark from a Windows editor is fine), or UTF-16/32 with
    its mark; UnicodeDecodeError for anything else."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding)
    return raw.decode("utf-8-sig")


def json_document(text: str) -> list | None:
    """The drawings of a file that is one JSON document rather than JSON lines: an object (one drawing)
    or a list of objects, pretty-printed or not. None when it is not one (JSON lines, or not JSON)."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list) and document and all(isinstance(x, dict) for x in document):
        return document
    return None


# --------------------------------------------------------------------------- validation


def shown(value: Any) -> str:
    """A value from a JSON file as the file wrote it (true, null, "7"), for an error message; else repr."""
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_strokes(strokes: Any) -> Strokes:
    """Check the pendigits stroke format; return it as plain lists of [x, y] (numbers untouched; a
    point's further numbers, such as the time or pressure a tablet adds, left out).

    Raises ValueError saying what is wrong and where (stroke and point numbers from 1). NumPy arrays
    are accepted and turned into lists.
    """
    if isinstance(strokes, np.ndarray):
        strokes = strokes.tolist()
    if not isinstance(strokes, list | tuple) or not strokes:
        raise ValueError("strokes must be a non-empty list of strokes (each a list of [x, y] points)")
    out: Strokes = []
    total = 0
    for i, stroke in enumerate(strokes, 1):
        if isinstance(stroke, np.ndarray):
            stroke = stroke.tolist()
        if not isinstance(stroke, list | tuple) or not stroke:
            raise ValueError(f"stroke {i} must be a non-empty list of [x, y] points")
        points = []
        for j, point in enumerate(stroke, 1):
            if isinstance(point, list | tuple) and len(point) > MAX_POINT_NUMBERS:
                # A stroke as [[x, x, ...], [y, y, ...]] (Quick, Draw!'s layout) looked like two points
                # with a time and a pressure: read as a "1", 100% sure (qa27).
                raise ValueError(
                    f"stroke {i}, point {j} has {len(point)} numbers: a point is [x, y] (a time or a "
                    "pressure may follow). Strokes given as [[x, x, ...], [y, y, ...]] must be turned "
                    "into points: [[x, y], [x, y], ...]"
                )
            # Tablets and stylus exports often add a time or a pressure to each point: kept out.
            if (
                not isinstance(point, list | tuple)
                or len(point) < 2
                or not all(map(_is_number, point[:2]))
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point[2:])
            ):
                raise ValueError(
                    f"stroke {i}, point {j} must be [x, y] with two finite numbers (any numbers after them, "
                    f"such as a time or a pressure, are left out), got {shown(point)}"
                )
            points.append([point[0], point[1]])
        total += len(points)
        if total > MAX_POINTS:
            raise ValueError(f"too many points (over {MAX_POINTS}); a digit needs a few hundred at most")
        out.append(points)
    return out


def maybe_columns(strokes: Any) -> bool:
    """Whether valid strokes could as well be Quick, Draw!'s layout, [[x, x, ...], [y, y, ...]] (and a
    row of times), of 3-6 points each: every stroke two or three "points" of one length, 3 to
    MAX_POINT_NUMBERS numbers. Such a stroke reads as two points with a time and a pressure: a sure
    "1" (qa30); a longer one is refused by validate_strokes."""
    if isinstance(strokes, np.ndarray):
        strokes = strokes.tolist()
    if not isinstance(strokes, list | tuple) or not strokes:
        return False
    for stroke in strokes:
        rows = stroke.tolist() if isinstance(stroke, np.ndarray) else stroke
        if not isinstance(rows, list | tuple) or len(rows) not in (2, 3):
            return False
        lengths = {len(r) if isinstance(r, list | tuple) else -1 for r in rows}
        if len(lengths) != 1 or not 3 <= lengths.pop() <= MAX_POINT_NUMBERS:
            return False
    return True


# --------------------------------------------------------------------------- canvas -> strokes


def canvas_strokes(json_data: dict | None) -> Strokes:
    """The canvas component's `json_data` -> strokes in canvas pixels ([] when nothing is drawn).

    Each fabric.js path object is one pen-down stroke (a path with several "M" gives several); its
    curves are flattened and its transform (position, scale, rotation, flip) applied, so the points
    are where the ink is on the canvas. Raises ValueError for objects that are not paths.
    """
    objects = (json_data or {}).get("objects") or []
    strokes: Strokes = []
    for n, obj in enumerate(objects, 1):
        try:
            strokes.extend(_object_strokes(obj))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"canvas object {n}: {exc}") from exc
    return strokes


def _object_strokes(obj: dict) -> Strokes:
    kind = str(obj.get("type", "")).lower()
    if kind != "path":
        raise ValueError(f"only freehand paths can be read, not a {obj.get('type')!r} object")
    if obj.get("skewX", 0) or obj.get("skewY", 0):
        raise ValueError("skewed paths are not supported")
    subs = _segments(obj["path"])  # parsed once, for the points and for fabric.js's centring box
    subpaths = _flatten(subs)
    lo, hi = _bounds(subs)
    path_offset = (lo + hi) / 2  # fabric.js: the path's own centre, drawn at the object's centre
    matrix = _linear_part(obj)
    centre = _centre(obj, hi - lo, matrix)
    out: Strokes = []
    for sub in subpaths:
        xy = (sub - path_offset) @ matrix.T + centre
        xy = np.round(xy, _DIGITS) + 0.0  # + 0.0: no "-0.0" in the JSON
        keep = np.ones(len(xy), bool)
        keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)  # a repeated point adds nothing
        out.append(xy[keep].tolist())
    return out


def _linear_part(obj: dict) -> np.ndarray:
    sx = float(obj.get("scaleX", 1)) * (-1 if obj.get("flipX") else 1)
    sy = float(obj.get("scaleY", 1)) * (-1 if obj.get("flipY") else 1)
    a = math.radians(float(obj.get("angle", 0)))
    rotate = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return rotate @ np.diag([sx, sy])


def _centre(obj: dict, size: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The object's centre on the canvas from its left/top, which sit at its origin (fabric.js)."""
    stroke = float(obj.get("strokeWidth", 0) or 0)
    sx, sy = abs(float(obj.get("scaleX", 1))), abs(float(obj.get("scaleY", 1)))
    if obj.get("strokeUniform"):
        dims = np.array([size[0] * sx + stroke, size[1] * sy + stroke])
    else:
        dims = np.array([(size[0] + stroke) * sx, (size[1] + stroke) * sy])
    ox, oy = (_origin(obj.get("originX", "left")), _origin(obj.get("originY", "top")))
    a = math.radians(float(obj.get("angle", 0)))
    rotate = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    offset = np.array([(0.5 - ox) * dims[0], (0.5 - oy) * dims[1]])
    return np.array([float(obj["left"]), float(obj["top"])]) + rotate @ offset


def _origin(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if value not in _ORIGIN:
        raise ValueError(f"unknown origin {value!r}")
    return _ORIGIN[value]


_Segment = tuple[str, np.ndarray, np.ndarray]  # command, start point, control points + end point


def _segments(path: Sequence) -> list[list[_Segment]]:
    """Path commands -> sub-paths of (command, start point, control points + end point)."""
    subs: list[list[_Segment]] = []
    current = start = None
    for cmd in path:
        op, args = str(cmd[0]), np.asarray(cmd[1:], dtype=np.float64)
        if op == "M":
            current = start = args.reshape(2)
            subs.append([("M", current, current.reshape(1, 2))])
            continue
        if current is None:
            raise ValueError(f"path starts with {op!r}, not 'M'")
        if op == "L":
            pts = args.reshape(1, 2)
        elif op == "Q":
            pts = args.reshape(2, 2)
        elif op == "C":
            pts = args.reshape(3, 2)
        elif op in ("Z", "z"):
            op, pts = "L", start.reshape(1, 2)
        else:
            raise ValueError(f"path command {op!r} is not supported (M, L, Q, C, Z are)")
        subs[-1].append((op, current, pts))
        current = pts[-1]
    if not subs:
        raise ValueError("empty path")
    return subs


def _flatten(subs: list[list[_Segment]]) -> list[np.ndarray]:
    """_segments' sub-paths -> each one's points, its curves flattened within _TOLERANCE."""
    out = []
    for sub in subs:
        # A freehand stroke is one "Q" per mouse event (hundreds): the curves of each degree are
        # flattened together, not one by one (4.5 ms -> under 1 ms for a 160-event stroke).
        blocks: list[np.ndarray] = [ctrl for _, _, ctrl in sub]  # "M" and "L": their end point
        for op in ("Q", "C"):
            where = [i for i, (o, _, _) in enumerate(sub) if o == op]
            if where:
                full = _control_points([sub[i] for i in where])
                for i, pts in zip(where, _flattened_curves(full), strict=True):
                    blocks[i] = pts
        out.append(np.vstack(blocks))
    return out


def _control_points(segments: list[_Segment], repeat_first: bool = False) -> np.ndarray:
    """Curve segments of one degree -> their control points, (k, degree + 1, 2), from the start point;
    repeat_first: the first control point twice (a quadratic as fabric.js bounds it, a cubic)."""
    start = np.array([p0 for _, p0, _ in segments])[:, None]
    ctrl = np.array([c for _, _, c in segments])
    return np.concatenate([start, ctrl[:, :1], ctrl] if repeat_first else [start, ctrl], axis=1)


# The parameters a curve flattened in `steps` pieces is evaluated at, for each possible `steps`.
_STEPS = [np.linspace(0, 1, steps + 1)[1:, None] for steps in range(65)]


def _flattened_curves(full: np.ndarray) -> list[np.ndarray]:
    """Bezier curves of one degree, (k, degree + 1, 2) control points -> each curve's points after its
    start, (steps, 2)."""
    # Second differences bound how far the curve strays from its chord: a piece 1/steps of a curve of
    # degree n is within n (n - 1) / 8 * bend / steps^2 of it, so these steps keep every piece within
    # _TOLERANCE of the curve. (A cubic once got half the steps it needs: 0.32 px off.)
    bend = np.linalg.norm(np.diff(full, 2, axis=1), axis=2).max(axis=1)
    degree = full.shape[1] - 1
    steps = np.ceil(np.sqrt(bend * (degree * (degree - 1)) / (8 * _TOLERANCE)))
    steps = np.clip(steps, 1, 64).astype(int)
    t = np.concatenate([_STEPS[n] for n in steps])
    points = _bezier(full[np.repeat(np.arange(len(full)), steps)], t)
    return np.split(points, np.cumsum(steps)[:-1])


def _bezier(ctrl: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points of Bezier curves: ctrl (..., degree + 1, 2) control points, t parameters broadcast
    against ctrl's leading axes with a last axis of 1."""
    n = ctrl.shape[-2] - 1
    return sum(math.comb(n, k) * (1 - t) ** (n - k) * t**k * ctrl[..., k, :] for k in range(n + 1))


def _bounds(subs: list[list[_Segment]]) -> tuple[np.ndarray, np.ndarray]:
    """The bounding box of a path's sub-paths (_segments') as fabric.js computes it: the box it
    centres the path on."""
    pts = []
    for sub in subs:
        pts.extend(ctrl[-1:] for _, _, ctrl in sub)
        # fabric.js bounds a quadratic as the cubic with both controls at its control point (not the
        # same curve); its centre is what it places, so do the same.
        quads, cubics = ([seg for seg in sub if seg[0] == op] for op in ("Q", "C"))
        parts = ([_control_points(quads, repeat_first=True)] if quads else []) + (
            [_control_points(cubics)] if cubics else []
        )
        if parts:
            full = np.concatenate(parts)
            pts.append(full[:, 0])
            owner, t = _extreme_ts(full)
            pts.append(_bezier(full[owner], t[:, None]))
    arr = np.vstack(pts)
    return arr.min(axis=0), arr.max(axis=0)


def _extreme_ts(full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where cubic Beziers (k, 4, 2) turn, per axis: the curves' indices and the parameters in (0, 1)."""
    c0, c1, c2, c3 = (full[:, i, :] for i in range(4))  # (k, 2): both axes at once
    a = -c0 + 3 * c1 - 3 * c2 + c3  # the derivative is a quadratic a t^2 + b t + k
    b = 2 * (c0 - 2 * c1 + c2)
    k = c1 - c0
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = np.abs(a) < 1e-12
        disc = b * b - 4 * a * k
        root = np.sqrt(np.where(disc >= 0, disc, 0.0))
        one = np.where(flat, np.where(b != 0, -k / b, np.nan), (-b + root) / (2 * a))
        two = np.where(flat | (disc < 0), np.nan, (-b - root) / (2 * a))
        one = np.where(~flat & (disc < 0), np.nan, one)
    ts = np.stack([one, two])  # (2, k, 2)
    inside = (ts > 0) & (ts < 1)
    owner = np.broadcast_to(np.arange(len(full))[None, :, None], ts.shape)
    return owner[inside], ts[inside]


# --------------------------------------------------------------------------- strokes -> pixels


def render_as_drawn(
    strokes: Strokes, pen_width: float, *, canvas: int = CANVAS, background: str = "black"
) -> np.ndarray:
    """Strokes in canvas pixels -> the canvas picture (RGBA, white ink), where and as wide as drawn.

    Ink past the canvas edge is cut off, as on the canvas itself.
    """
    pts = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in validate_strokes(strokes)]
    allpts = np.concatenate(pts)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    span_w, span_h = hi - lo
    # pendigits.render sizes the path by `height` (by the width for a flat dash) and shrinks a path
    # wider than its canvas; drawing on a canvas with room to spare and cropping keeps scale 1.
    margin = math.ceil(max(0.0, span_w + pen_width - canvas, span_h + pen_width - canvas, 0) / 2) + 1
    margin += math.ceil(max(0.0, -lo.min(), hi.max() - canvas))  # ink drawn past the edge
    big = canvas + 2 * margin
    height = span_h if span_h > 0 else span_w  # with both 0 (a tap) the scale is 1 anyway
    centre = (lo + hi) / 2 + margin
    image = pendigits.render(
        pts,
        canvas=big,
        stroke_width=pen_width,
        height=float(height),
        centre=(float(centre[0]), float(centre[1])),
        background=background,  # type: ignore[arg-type]
        clip=True,
    )
    return image[margin : margin + canvas, margin : margin + canvas]


def render_centred(strokes: Strokes, pen_width: float = IMPORT_PEN) -> pendigits.CanvasDrawing:
    """Strokes in any coordinates (e.g. pendigits' tablet box) drawn like pendigits.render, centred on
    a black canvas: the picture and the pen's path in its pixels.

    A drawing of several strokes wider than the square canvas holds at that height (a number) is
    drawn at the same height on a canvas as wide as it needs, as a person writes a number on the Draw
    page's wide canvas: shrunk into the square, its digits ran together under the pen (a 4-digit
    number lost a digit in 7 of 37)."""
    pts = [np.asarray(s, np.float64) for s in validate_strokes(strokes)]
    allpts = np.concatenate(pts)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    span_w, span_h = hi - lo
    scale = pendigits.PATH_HEIGHT / span_h if span_h > 0 else 0.0
    # A digit fits the square; so does one stroke however wide (a flat dash, a "1" leaning far
    # over): scaled to the page's height it would be drawn metres long and read as a hairline.
    if len(pts) == 1 or span_w * scale <= CANVAS - pen_width:
        return pendigits.render_drawing(pts, stroke_width=pen_width, background="black")
    scale = min(scale, (MAX_WIDTH - (CANVAS - pendigits.PATH_HEIGHT)) / span_w)
    # The square's margins, at the sides too.
    width = math.ceil(span_w * scale) + CANVAS - pendigits.PATH_HEIGHT
    paths = [(s - (lo + hi) / 2) * scale + (width / 2, CANVAS / 2) for s in pts]
    ink = pendigits.draw_paths(paths, pen_width, (CANVAS, width))
    out = np.zeros((CANVAS, width, 4), np.uint8)
    out[..., :3] = ink[..., None]  # white ink on black, as render_drawing's background="black"
    out[..., 3] = 255
    return pendigits.CanvasDrawing(out, paths)


def model_input(rendered: np.ndarray, paths: Sequence[np.ndarray | Sequence] | None = None) -> np.ndarray:
    """A rendered canvas -> the 28x28 model input, through the app's own preprocessing; with the pen's
    strokes in its pixels (`paths`), read as the app reads a canvas drawing (digitdraw.redraw).

    Raises ValueError with the preprocessing's reason when it finds nothing readable.
    """
    from digitdraw import redraw

    result = redraw.read_one(pendigits.CanvasDrawing(rendered, list(paths or [])))
    if result.image is None:
        raise ValueError(result.reason or "the strokes draw nothing readable")
    return result.image
