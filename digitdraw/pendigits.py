"""Real pen-drawn digits (UCI pendigits trajectories), replayed onto a canvas the way people draw.

Nobody on the project wrote these digits, so rendering them like the app's canvas does and sending
them through the app's own preprocessing is the most honest figure we have for "digits people draw".
Split by writer: tune on TUNE_WRITERS, measure on HOLDOUT_WRITERS, never the other way round.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from digitdraw import config
from digitdraw.preprocess import Preprocessed, preprocess

log = logging.getLogger(__name__)

# The split by writer, the one place it is written. The models train and are tuned on the first
# 24 writers; the last six are only ever measured (drawn.py), so that figure is about strangers.
TUNE_WRITERS = "1-24"
HOLDOUT_WRITERS = "25-30"
PATH_HEIGHT = 180  # px: the pen path's height when a digit is drawn on the 280 px canvas (render_drawing)


class PendigitsError(ValueError):
    """A pendigits file, or a choice of its writers, that cannot be used; the message says which and where."""


def parse_writers(spec: str | None) -> list[int]:
    """ "1-24" or "1,3,5-7" -> [1, 2, ...]; None or "" -> []. PendigitsError on anything else
    (a word, a reversed range "5-1", a writer below 1)."""
    writers: list[int] = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo_text, _, hi_text = part.partition("-")
        try:
            lo, hi = int(lo_text), int(hi_text or lo_text)
        except ValueError:
            raise PendigitsError(
                f'writers {spec!r}: {part!r} is not a writer number or a range like "1-24"'
            ) from None
        if lo < 1:
            raise PendigitsError(f"writers {spec!r}: writers are numbered from 1")
        if hi < lo:
            raise PendigitsError(f"writers {spec!r}: the range {part} runs backwards (write {hi}-{lo})")
        writers.extend(range(lo, hi + 1))
    return writers


def describe_writers(writers: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "1-3,7": the spec parse_writers reads back."""
    runs: list[list[int]] = []
    for w in sorted(set(writers)):
        if runs and w == runs[-1][1] + 1:
            runs[-1][1] = w
        else:
            runs.append([w, w])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def writers_in(path: str | Path) -> set[int]:
    """The writers a pendigits file holds (every line read: PendigitsError names a malformed one)."""
    return {d.writer for d in load_pendigits(path)}


def missing_file_message(path: Path | None) -> str:
    """What to say when the pendigits file is not there: where we looked, and how to point at it."""
    where = f" (looked for {path})" if path is not None else ""
    return (
        f"pendigits train.jsonl not found{where}: set ${config.PENDIGITS_ENV} to the file, "
        f"or ${config.DATA_DIR_ENV} to an MNIST folder with ../pendigits/train.jsonl beside it."
    )


# Anti-aliasing: draw at this multiple of the canvas size, then area-average down. cv2's own
# LINE_AA alone gives ragged ends on thick round caps; supersampling also lets a fractional
# stroke width show up in the result.
_SUPERSAMPLE = 2
# cv2 drawing takes fixed-point coordinates with this many fractional bits (sub-pixel placement).
_SHIFT = 4


@dataclass(frozen=True)
class PenDigit:
    """One digit as the pen moved: strokes in tablet coordinates (500x500 box, y down)."""

    label: int
    writer: int
    strokes: list[np.ndarray]  # each (n, 2) float: x, y


def load_pendigits(
    path: str | Path | None = None, writers: str | Iterable[int] | None = None
) -> list[PenDigit]:
    """Load pendigits train.jsonl, optionally only some writers (e.g. TUNE_WRITERS, or [1, 2]).

    path=None asks digitdraw.config.pendigits_path() ($DIGITDRAW_PENDIGITS, else beside the
    MNIST folder of $DIGITDRAW_DATA_DIR). PendigitsError names a malformed line (file:line).
    """
    resolved = Path(path) if path is not None else config.pendigits_path()
    if resolved is None or not resolved.is_file():
        raise FileNotFoundError(missing_file_message(resolved))
    keep = None if writers is None else set(parse_writers(writers) if isinstance(writers, str) else writers)
    digits: list[PenDigit] = []
    with resolved.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                writer = int(row["writer"])
                if keep is not None and writer not in keep:
                    continue
                strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in row["strokes"]]
                label = int(row["label"])
            except (ValueError, KeyError, TypeError) as exc:
                raise PendigitsError(f"{resolved}:{lineno}: not a pendigits record ({exc})") from exc
            strokes = [s for s in strokes if len(s)]
            if strokes:
                digits.append(PenDigit(label=label, writer=writer, strokes=strokes))
    return digits


def as_strokes(
    strokes: PenDigit | Sequence[np.ndarray | Sequence], needs: str = "render"
) -> list[np.ndarray]:
    """A digit's strokes as (n, 2) float arrays, empty strokes dropped (views where the input allows);
    ValueError("<needs> needs ...") when no point is left."""
    if isinstance(strokes, PenDigit):
        strokes = strokes.strokes
    out = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    out = [s for s in out if len(s)]
    if not out:
        raise ValueError(f"{needs} needs at least one stroke with at least one point")
    return out


def render(strokes: PenDigit | Sequence[np.ndarray | Sequence], **options: Any) -> np.ndarray:
    """Draw strokes like the app's canvas: RGBA uint8 (canvas, canvas, 4); render_drawing's picture,
    with the same options (canvas, stroke_width, height, centre, background, ink, clip)."""
    return render_drawing(strokes, **options).pixels


@dataclass(frozen=True)
class CanvasDrawing:
    """A rendered drawing and the pen's path that drew it, in its pixels (as the canvas records both)."""

    pixels: np.ndarray  # RGBA uint8 (canvas, canvas, 4)
    paths: list[np.ndarray]  # each stroke's points (n, 2), x and y in the picture's pixels


def render_drawing(
    strokes: PenDigit | Sequence[np.ndarray | Sequence],
    *,
    canvas: int = 280,
    stroke_width: float = 18,
    height: float = PATH_HEIGHT,
    centre: tuple[float, float] = (140, 140),
    background: Literal["transparent", "black"] = "transparent",
    ink: tuple[int, int, int] = (255, 255, 255),
    clip: bool = False,
) -> CanvasDrawing:
    """Draw strokes like the app's canvas: RGBA uint8 (canvas, canvas, 4), round caps and joins, with
    the path the pen took in the picture's pixels.

    `height` is the height of the pen's path (the trajectory); the ink reaches stroke_width/2
    beyond it, as with a real brush. A very wide digit is scaled by its width instead, so it fits.
    The path's bounding-box centre goes to `centre` (x, y). With clip=False (default) the whole
    digit stays visible: it is shrunk to fit the canvas and shifted inside if it would cross an
    edge. clip=True draws exactly as asked and lets the edge cut it off.
    background="transparent": alpha 0 off the ink (the canvas's transparent mode, ink in
    alpha); "black": opaque black with the ink colour blended in.
    """
    pts = as_strokes(strokes)
    allpts = np.concatenate(pts)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    span_w, span_h = hi - lo
    radius = stroke_width / 2.0
    room = max(canvas - stroke_width, 1e-6)  # path extent that still fits with the brush
    if span_h > 0:
        scale = height / span_h
    elif span_w > 0:  # a flat dash: size it by its length instead
        scale = height / span_w
    else:  # a single tap: just a dot
        scale = 1.0
    if span_w * scale > room:  # very wide digit: limit by width so it fits on the canvas
        scale = room / span_w
    if not clip and span_h * scale > room:
        scale = room / span_h
    cx, cy = float(centre[0]), float(centre[1])
    if not clip:  # slide inside the canvas rather than lose ink
        half_w, half_h = span_w * scale / 2 + radius, span_h * scale / 2 + radius
        cx = min(max(cx, half_w), canvas - half_w)
        cy = min(max(cy, half_h), canvas - half_h)
    mid = (lo + hi) / 2
    paths = [(stroke - mid) * scale + (cx, cy) for stroke in pts]
    alpha = draw_paths(paths, stroke_width, (canvas, canvas))

    out = np.zeros((canvas, canvas, 4), np.uint8)
    colour = np.asarray(ink, dtype=np.float32).reshape(1, 1, 3)
    if background == "transparent":
        out[..., :3] = colour.astype(np.uint8)  # canvas keeps the ink colour, coverage in alpha
        out[..., 3] = alpha
    elif background == "black":
        out[..., :3] = np.round(colour * (alpha[..., None] / 255.0)).astype(np.uint8)
        out[..., 3] = 255
    else:
        raise ValueError(f"background must be 'transparent' or 'black', not {background!r}")
    return CanvasDrawing(out, paths)


def draw_paths(paths: Sequence[np.ndarray], width: float, shape: tuple[int, int]) -> np.ndarray:
    """Pen paths in pixel coordinates -> the ink's coverage, uint8 (h, w): a round pen `width` px
    wide (round caps and joins), anti-aliased, drawn supersampled like the canvas's smooth strokes."""
    ss = _SUPERSAMPLE
    h, w = shape
    mask = np.zeros((h * ss, w * ss), np.uint8)
    one = 1 << _SHIFT
    thickness = max(1, round(width * ss))
    r_fixed = max(1, round(width / 2.0 * ss * one))
    for xy in paths:
        fixed = np.round(np.asarray(xy, np.float64).reshape(-1, 2) * ss * one).astype(np.int32)
        if len(fixed) > 1:
            cv2.polylines(mask, [fixed.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_AA, _SHIFT)
        # round caps and joins (a single point becomes a dot of the stroke width)
        for x, y in fixed:
            cv2.circle(mask, (int(x), int(y)), r_fixed, 255, -1, cv2.LINE_AA, _SHIFT)
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA) if ss > 1 else mask


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def random_render(digit: PenDigit, rng: np.random.Generator, canvas: int = 280) -> np.ndarray:
    """Render a digit the way people draw on a `canvas`-sized canvas: random_drawing's pixels."""
    return random_drawing(digit, rng, canvas).pixels


def random_drawing(digit: PenDigit, rng: np.random.Generator, canvas: int = 280) -> CanvasDrawing:
    """Render a digit the way people draw on a `canvas`-sized canvas (sizes given for 280).

    Stroke width log-uniform 6..36 px, path height 60..260 px (never under 3 stroke widths:
    nobody draws a digit as one blob), anywhere on the canvas, about one in six pushed against
    an edge (sometimes a little past it), half on a transparent and half on a black background.
    """
    k = canvas / 280.0
    width = _log_uniform(rng, 6, 36) * k
    height = rng.uniform(max(60 * k, 3 * width), 260 * k)
    background = "transparent" if rng.random() < 0.5 else "black"

    # Where the digit can go: work out its drawn size like render() does.
    allpts = np.concatenate(digit.strokes)
    span_w, span_h = np.ptp(allpts, axis=0)
    room = canvas - width
    scale = height / span_h if span_h > 0 else (height / span_w if span_w > 0 else 1.0)
    scale = min(scale, room / span_w if span_w > 0 else scale, room / span_h if span_h > 0 else scale)
    half = np.array([span_w, span_h]) * scale / 2 + width / 2
    lo_c, hi_c = half, canvas - half
    centre = rng.uniform(lo_c, np.maximum(lo_c, hi_c))
    clip = False
    if rng.random() < 1 / 6:  # against an edge, the way people run out of canvas
        axis = int(rng.integers(2))
        side = int(rng.integers(2))
        overshoot = rng.uniform(0, width) if rng.random() < 0.5 else 0.0
        centre[axis] = (lo_c[axis] - overshoot) if side == 0 else (hi_c[axis] + overshoot)
        clip = overshoot > 0
    return render_drawing(
        digit,
        canvas=canvas,
        stroke_width=width,
        height=height,
        centre=(float(centre[0]), float(centre[1])),
        background=background,
        clip=clip,
    )


def distort(digit: PenDigit, rng: np.random.Generator) -> PenDigit:
    """The same digit as another hand might write it: slant, rotation, aspect and a smooth warp.

    Applied to the pen's path before rendering, so the strokes stay crisp and the stroke
    width stays whatever the renderer picks (an image-level warp would smear and thin them).
    A longer flag on a 1, a more open 9, a wider 0: variety the tuning writers lack.
    """
    pts = np.concatenate(digit.strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    mid = (lo + hi) / 2
    size = max(float(np.max(hi - lo)), 1.0)
    angle = rng.uniform(-0.15, 0.15)  # radians
    shear = rng.uniform(-0.3, 0.3)  # slant, x moves with y
    aspect = _log_uniform(rng, 0.8, 1.25)  # narrower or wider
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, shear], [0.0, 1.0]])
    # Smooth warp: two random low-frequency waves per axis (x, y, x, y), a few percent of the digit's size.
    waves = [
        (
            rng.normal(size=2) * 1.2 * 2 * math.pi / size,  # direction and frequency, ~1 wave a digit
            rng.uniform(0, 2 * math.pi),  # phase
            rng.uniform(0, 0.04) * size,  # amplitude
        )
        for _ in range(4)
    ]
    strokes = []
    for stroke in digit.strokes:
        xy = (stroke - mid) @ matrix.T
        warp = np.zeros_like(xy)
        for axis, (freq, phase, amplitude) in enumerate(waves):
            warp[:, axis % 2] += amplitude * np.sin((stroke - mid) @ freq + phase)
        # Each stroke lands a little off where the last one ended, as when the pen is lifted.
        offset = rng.normal(scale=0.02 * size, size=2) if len(digit.strokes) > 1 else 0.0
        strokes.append(xy + warp + offset + mid)
    return PenDigit(label=digit.label, writer=digit.writer, strokes=strokes)


def random_drawings(
    digits: Sequence[PenDigit], rng: np.random.Generator, copies: int = 1, distorted: bool = False
) -> Iterator[tuple[PenDigit, CanvasDrawing]]:
    """Each digit drawn `copies` times with random_drawing (all digits once, then again), with the
    digit it draws; distorted=True: each copy through `distort` first. The one order every set
    drawn from a seed relies on (rendered_dataset, the benchmarks, the calibration)."""
    for _ in range(copies):
        for digit in digits:
            yield digit, random_drawing(distort(digit, rng) if distorted else digit, rng)


def rendered_dataset(
    digits: Sequence[PenDigit],
    rng: np.random.Generator,
    copies: int = 1,
    read: Callable[[CanvasDrawing], Preprocessed] | None = None,
    distorted: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Render each digit `copies` times with random_drawing and preprocess it.

    Returns (N, 28, 28) float32 images and (N,) uint8 labels. Renders the preprocessing
    rejects (empty / too small) are skipped and their count logged. read: how a rendering (its
    pixels and the pen's path) becomes model input; by default digitdraw.preprocess.preprocess of
    its pixels alone, as the models trained (the measurement sets pass digitdraw.redraw.read_one,
    the app's way with the strokes). distorted=True renders each copy of a digit through `distort`
    first (training data, never measurement).
    """
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for digit, drawing in random_drawings(digits, rng, copies, distorted):
        result = read(drawing) if read is not None else preprocess(drawing.pixels)
        if result.image is None:
            skipped += 1
            continue
        images.append(result.image)
        labels.append(digit.label)
    if skipped:
        log.warning("rendered_dataset: %d of %d renders unreadable, skipped", skipped, copies * len(digits))
    x = np.stack(images).astype(np.float32) if images else np.zeros((0, 28, 28), np.float32)
    return x, np.asarray(labels, dtype=np.uint8)
