"""A canvas drawing's ink as the models read it: drawn again from its strokes with a thinner pen
where the pen was wide for the drawing's size.

Why: a fat pen on a small digit closes its loops and fills its corners, and no thinning of the
pixels opens them again (eroding thick strokes further than preprocess's stroke-width band made the
tune split worse); the pen's path still has them. The models read such drawings redrawn thinner
better, although they never trained on them. Chosen on the tune split, cnns trained on writers
1-18 and read on writers 19-24 (docs/experiments.md, "Twelfth session"). preprocess then widens
the thin path to the lower edge of MNIST's stroke-width band, as for any thin pen.

Only where the strokes are known: a canvas drawing (the app; the benchmarks that replay pen
digits like the canvas), not a photo or an image file (`predict`), whose pixels are all there is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitdraw import pendigits
from digitdraw.preprocess import _INK_LEVEL, Preprocessed, ink_map, preprocess

# The widest pen a drawing is read with, as a fraction of its path's height (the pen's path from
# its highest to its lowest point: one digit's height, or a row's). Tune split errors of two cnns
# at 1/5, 1/8, 1/10, 1/12, 1/14 and 1/18: 29, 27, 24, 20, 22, 20 (of 3,000; 31 as drawn) and 26 ->
# 20 at 1/12 for the second.
READING_PEN = 1 / 12
MIN_PEN = 2.0  # px: a tiny drawing is still drawn with a visible pen
# A pen this close to the widest is left as drawn: its estimate (ink over path length) is rough.
_SLACK = 1.1
_TAP = 2.0  # a path shorter than this many pen widths is a tap or a dot (preprocess's rule for a mark)


def path_length(paths: Sequence[np.ndarray | Sequence]) -> float:
    """How far the pen went, all strokes together (px)."""
    return sum(
        float(np.linalg.norm(np.diff(np.asarray(p, np.float64).reshape(-1, 2), axis=0), axis=1).sum())
        for p in paths
    )


def estimated_pen(core: np.ndarray, paths: Sequence[np.ndarray | Sequence]) -> float:
    """The pen's width, roughly: ink area (pixels of `core`, a bool ink mask) over the paths' length."""
    return float(core.sum()) / max(path_length(paths), 1.0)


def widest_pen(paths: Sequence[np.ndarray | Sequence]) -> float:
    """The widest pen the models read a drawing with: READING_PEN of its path's height (px)."""
    ys = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2)[:, 1] for p in paths])
    return max(MIN_PEN, READING_PEN * float(np.ptp(ys)) if len(ys) else 0.0)


def for_reading(pixels: np.ndarray, paths: Sequence[np.ndarray | Sequence] | None) -> np.ndarray:
    """A canvas drawing's pixels and the pen's strokes -> the pixels the models read: the drawing as
    it is where its pen is no wider than widest_pen, else its paths drawn again with that pen
    (RGBA: white ink in the alpha, on transparent, like the canvas's own picture).

    paths: the pen's strokes, each (n, 2) x, y in the drawing's pixels; None or [] leaves it as is.
    """
    paths = _points(paths)
    redrawn = _redrawn(ink_map(pixels, source="canvas"), paths) if paths else None
    return pixels if redrawn is None else redrawn


def thinner(ink: np.ndarray, paths: Sequence[np.ndarray | Sequence] | None) -> np.ndarray | None:
    """for_reading for a drawing whose ink map (ink_map's, source "canvas") is at hand: the ink map of
    the paths drawn again with the widest pen, or None where the drawing is read as drawn."""
    paths = _points(paths)
    redrawn = _redrawn(ink, paths) if paths else None
    return None if redrawn is None else ink_map(redrawn, source="canvas")


def _points(paths: Sequence[np.ndarray | Sequence] | None) -> list[np.ndarray]:
    points = [np.asarray(p, np.float64).reshape(-1, 2) for p in paths or ()]
    return [p for p in points if len(p)]


def _redrawn(ink: np.ndarray, paths: list[np.ndarray]) -> np.ndarray | None:
    """The paths drawn again with the widest pen over the drawing's ink map (RGBA, its size), or None
    where the drawing is read as drawn."""
    core = ink >= _INK_LEVEL
    pen, drawn_with = widest_pen(paths), estimated_pen(core, paths)
    # A tap or a dot (the pen went hardly further than it is wide) is no drawing to thin: as a 2 px
    # dot it would pass for a stroke, where preprocess says it is too small to be a digit.
    if not core.any() or drawn_with <= _SLACK * pen or path_length(paths) < _TAP * drawn_with:
        return None
    h, w = ink.shape[:2]
    out = np.full((h, w, 4), 255, np.uint8)
    out[..., 3] = pendigits.draw_paths(paths, pen, (h, w))
    return out


def read_one(drawing: pendigits.CanvasDrawing) -> Preprocessed:
    """A rendered canvas drawing of one digit -> its model input, the way the app reads it."""
    return preprocess(for_reading(drawing.pixels, drawing.paths))
