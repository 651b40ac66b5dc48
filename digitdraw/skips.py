"""Where the pen skipped: a stroke broken into two, the second going on from about where the first
stopped, the same way; found in a drawing's strokes, and closed.

A stylus pressed lightly, a worn pen, a finger on a cold screen: the device loses contact for a
moment and the stroke arrives as two, with a gap in the ink. The gap splits a 4 into "14" or leaves
a 0 open, and the not-a-digit detector refuses much of the rest. The 5,996 pen digits of writers
1-24, each stroke broken at 1-3 places (`broken`), on the square canvas: read as drawn, the dense
read 88.8% right and the cnn 87.5%, 1.2% of them wrong at 90% or more; with the gaps closed,
96.2% and 95.8%, 0.7% sure and wrong. Drawn unbroken, 50 of them showed a gap like a skip, and not
one answer changed (docs/experiments.md, twenty-first session).

A skip is told by its shape alone (the canvas gives no times): the next stroke begins within GAP
of the drawing's height from where the last one ended, and the gap goes on the way the pen was
going (cosine at least TURN with how the first stroke ended and how the second began). Between
digits written side by side that happens too (a 5's flag drawn last, then the 3 begun at its
right), so the reading closes gaps on the square canvas only, where one digit is meant: of 400
numbers written there, 2 lost a digit to it. Number mode reads strokes as drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from digitdraw import redraw
from digitdraw.preprocess import _INK_LEVEL, ink_and_kind

GAP = 0.35  # of the drawing's height: the longest gap taken for a skip
TURN = 0.3  # the least cosine between the gap and the pen's way on either side of it (about 73 degrees)
HEADING = 0.05  # of the drawing's height: how far back from a stroke's end its heading is taken


class Mended(NamedTuple):
    """The strokes with each skip closed (the two strokes one), and the gaps closed: (end, start) points."""

    strokes: list[np.ndarray]
    gaps: list[tuple[np.ndarray, np.ndarray]]


def mended(strokes: Sequence[np.ndarray | Sequence], gap: float = GAP, turn: float = TURN) -> Mended:
    """A drawing's strokes (each (n, 2) x, y, in drawing order) -> Mended: consecutive strokes joined
    where the pen skipped (see the module doc). No gaps where none is found."""
    paths = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes]
    paths = [p for p in paths if len(p)]
    if len(paths) < 2:
        return Mended(paths, [])
    height = max(float(np.ptp(np.concatenate(paths)[:, 1])), 1.0)
    out, gaps = [paths[0]], []
    for q in paths[1:]:
        p = out[-1]
        if _skip(p, q, gap * height, turn, HEADING * height):
            gaps.append((p[-1], q[0]))
            out[-1] = np.vstack([p, q])
        else:
            out.append(q)
    return Mended(out, gaps)


def _skip(p: np.ndarray, q: np.ndarray, longest: float, turn: float, back: float) -> bool:
    """Whether q begins where p ended, going on the same way (a skip of the pen)."""
    step = q[0] - p[-1]
    far = float(np.linalg.norm(step))
    if not 0 < far <= longest:
        return False
    ending, starting = _heading(p, back), _heading(q[::-1], back)
    if ending is None or starting is None:  # a tap or a dot: no way to go on
        return False
    way = step / far
    return bool(ending @ way >= turn and way @ -starting >= turn)


def _heading(path: np.ndarray, back: float) -> np.ndarray | None:
    """The unit direction the pen went in at the path's end: from the last point at least `back` before it."""
    end = path[-1]
    before = np.flatnonzero(np.linalg.norm(path - end, axis=1) >= back)
    if not len(before):
        return None
    way = end - path[before[-1]]
    return way / np.linalg.norm(way)


def bridged(pixels: np.ndarray, strokes: Sequence[np.ndarray | Sequence], gaps: Sequence) -> np.ndarray:
    """A canvas drawing's pixels with each gap drawn in, as wide as its pen (estimated from the ink
    and the strokes): RGBA, white ink in the alpha on transparent, as the canvas gives it."""
    ink, _ = ink_and_kind(pixels, source="canvas")
    pen = max(1, round(redraw.estimated_pen(ink >= _INK_LEVEL, strokes)))
    alpha = np.round(ink * 255).astype(np.uint8)
    for end, start in gaps:
        a, b = (tuple(int(round(v)) for v in point) for point in (end, start))
        cv2.line(alpha, a, b, 255, pen, cv2.LINE_AA)
    out = np.full((*alpha.shape, 4), 255, np.uint8)
    out[..., 3] = alpha
    return out


def broken(strokes: Sequence[np.ndarray | Sequence], rng: np.random.Generator) -> list[np.ndarray]:
    """A flaky pen: each stroke of 8 points or more broken at 1-3 places, 1-2 points lost at each
    (a tester's condition, qa23). For the benchmark and the tests: what `mended` is for."""
    out = []
    for stroke in strokes:
        s = np.asarray(stroke, np.float64).reshape(-1, 2)
        if len(s) < 8:
            out.append(s)
            continue
        k = min(int(rng.integers(1, 4)), len(s) - 6)
        cuts = np.sort(rng.choice(np.arange(3, len(s) - 3), size=k, replace=False))
        start = 0
        for cut in cuts:
            out.append(s[start:cut])
            start = int(cut) + int(rng.integers(1, 3))
        out.append(s[start:])
    return [s for s in out if len(s)]
