"""Split a drawing of several digits in a row ("2026", "17", "3 14") into one image per digit.

Pieces of ink (connected components of the ink map, or, when the canvas gives them, the pen's
strokes) are grouped into digits, left to right:

- pieces that overlap strongly in x belong together (a 5's detached bar, a 4 in two strokes),
  and so do pieces stacked one above the other (an 8 as two circles); two tall pieces side by
  side that overlap only partly in x stay apart (a 7's bar over the next digit);
- tiny pieces join the nearest digit when close (a dot, a tick), and are dropped as specks when
  isolated;
- a group far wider than one digit (touching digits) is cut at its vertical projection's
  minimum, when the cut is plausible (see _cut_ok).

Each Segment holds the digit's ink alone (other digits masked out) as a white-on-black crop with
a margin, ready for digitdraw.preprocess.preprocess exactly like a single digit. Pure numpy/OpenCV.

Known limits: two digits whose ink touches are cut only when the clump is clearly too wide for
one digit (say "00", "20", not "10" drawn touching, unless strokes are given); a narrow digit
drawn entirely under another's overhang (a 1 under a 7's bar) joins it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from digitdraw import redraw
from digitdraw.preprocess import _INK_LEVEL, Preprocessed, Source, _bbox, ink_and_kind, preprocess

# Pieces overlapping in x by at least this fraction of the narrower one are one digit ...
_STRONG_OVERLAP = 0.8
_FAR = 1.0  # in a photo, pieces further apart than this many line heights are never one digit (_belong)
# ... and so are pieces overlapping by this much when one of them is short (a bar, a flag).
_PART_OVERLAP = 0.5
_SHORT = 0.6  # "short": under this fraction of the line height
# A piece whose longer side is under this fraction of the line height is tiny: it joins a digit
# within _NEAR line heights, and is dropped as a speck otherwise.
_TINY = 0.35
_NEAR = 0.35
_SPECK = 0.25  # isolated and smaller than this: a slip of the pen, dropped
_DOT_FILL = 0.4  # a piece covering this much of its square is a dot (as preprocess._remove_specks)
# Canvas only: a mark of at least this many ink pixels outside every digit is told as left out.
_MARK_AREA = 9
# Images only: ink spanning this much of both sides of the image, covering under _FRAME_FILL of
# its box, is a frame round the picture (a screenshot's border), not a digit.
_FRAME_SPAN, _FRAME_FILL = 0.95, 0.05
# Photos only: a piece this thin (across over along), lying along an edge within _EDGE_BAND of the
# photo's shorter side from it, is what a desk's or a sheet's edge leaves (when a digit is there).
_EDGE_THIN, _EDGE_BAND = 0.2, 0.1
# Photos only: a piece touching the photo's border whose ink is this many times as thick as any
# other piece's is a desk, a sheet's edge or a finger, not writing (one pen writes a photo's digits).
_EDGE_THICK = 2.0
# A comma: in a row of digits, a piece under _COMMA of the line's height (ink as drawn), wholly in
# the row's lower half and reaching more than _BELOW of it below the baseline (_without_commas).
# Chosen on writers 1-24's numbers of uneven sizes and baselines: 200 read right as often as
# without the rule at 0.5, one fewer at 0.6, three fewer at 0.75.
_COMMA, _BELOW = 0.5, 0.05
# Photos: a piece at the border this much of the line high, beside one digit, may be a digit the edge cut.
_HALF = 0.4
# Photos of numbers: a piece with less than this share of its height in the row of the digits is off it.
_ROW_SHARE = 0.5
# Photos: a thin piece spanning half the photo and this many times as long as the other pieces are tall
# is a paper's or a desk's edge (_without_desk_edges).
_EDGE_LONG = 2.5
# Strokes only: a short stroke touching another's ink and overlapping it in x by this much is
# part of its digit (a 5's bar: 0.48 of it overlapped the body in a held-out writer's 5).
_TOUCH_OVERLAP = 0.25
# Strokes only: a path ending within this fraction of the pen's width of another path meets it
# (one digit: a 4's bar stopping at its stem). Chosen on writers 1-24: at 0.3, 9 of 1,999 single
# digits (all 4s) were split, at 0.7 3; touching digits (ink 3-6 px into each other) were cut
# apart as often at 0.7 (148-149 of 150 pairs) and less often from 0.8 (144 at 0.8, 108 at 1.0).
_JUNCTION = 0.7
# Single pendigits digits (writers 1-30, drawn at the app's default pen) are at most 1.88 times
# as wide as high, 99.9% under 1.56: wider groups are always cut; from _MAYBE_WIDE up, only when
# the cut crosses one short run of ink (where two digits touch), not two or three strokes.
_TOO_WIDE = 1.6
_MAYBE_WIDE = 1.25
# A hole this much of the line high, of the group wide, and this convex (area over its hull's):
# one digit's loop. Touching digits enclose holes too, but with the ink of both poking into them.
_LOOP, _LOOP_SPAN, _LOOP_SOLID = 0.15, 0.5, 0.9
_TALL = 0.5  # each side of a cut must be at least this fraction of the line height
# A group under this many pen widths tall is a line or a dash, not a row of digits: never cut
# (a dash drawn 200 px long was cut into ten "digits"). An MNIST digit stands about 7 pens tall
# (20 px, strokes of 2.8 px: preprocess._MNIST_WIDTH).
_FLAT = 2.5
_JOINT = 0.45  # the run at a plausible cut is under this fraction of the line height
# Pieces overlapping in y by less than this fraction of the shorter one are stacked (with
# _PART_OVERLAP in x: one digit); digits side by side in a row share most of their height.
_STACKED = 0.25


@dataclass(frozen=True)
class Segment:
    """One digit's ink: a 2-D float32 crop in [0, 1] (white on black) and where it came from."""

    image: np.ndarray
    x0: int  # first column of the digit's ink in the source image
    x1: int  # one past its last column
    y0: int
    y1: int
    left: int = 0  # where the crop's first column and row lie in the source image (may be < 0:
    top: int = 0  # the crop has a margin)
    # When `image` is the pen's path drawn again thinner (digitdraw.redraw): the same crop of the ink
    # as drawn, which decides whether there is a digit to read at all (read_piece).
    drawn: np.ndarray | None = None

    @property
    def redrawn(self) -> bool:
        return self.drawn is not None


def joined(a: Segment, b: Segment) -> Segment:
    """Two segments as one digit: their crops laid where they came from, in one crop.

    For a reader that finds a pair reads better as one digit than as two (digitdraw.reading): a 4
    whose stem was drawn apart from its bar, which the shapes alone cannot tell from a 1 beside a 6.
    """
    left, top = min(a.left, b.left), min(a.top, b.top)
    right = max(a.left + a.image.shape[1], b.left + b.image.shape[1])
    bottom = max(a.top + a.image.shape[0], b.top + b.image.shape[0])

    def laid(crops: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        image = np.zeros((bottom - top, right - left), np.float32)
        for s, crop in zip((a, b), crops, strict=True):
            h, w = crop.shape
            region = image[s.top - top : s.top - top + h, s.left - left : s.left - left + w]
            np.maximum(region, crop, out=region)
        return image

    box = min(a.x0, b.x0), max(a.x1, b.x1), min(a.y0, b.y0), max(a.y1, b.y1)
    drawn = laid((a.drawn, b.drawn)) if a.drawn is not None and b.drawn is not None else None
    return Segment(laid((a.image, b.image)), *box, left, top, drawn)


@dataclass
class _Group:
    mask: np.ndarray  # bool, the group's core ink pixels (ink >= _INK_LEVEL)
    x0: int
    y0: int
    x1: int
    y1: int
    paths: tuple[np.ndarray, ...] = ()  # the pen's paths that drew it (pixels), when strokes are given
    reach: float = 0.0  # with paths: a path ending this close to another's meets it (px)

    @classmethod
    def of(cls, mask: np.ndarray, paths: tuple[np.ndarray, ...] = (), reach: float = 0.0) -> _Group:
        y0, y1, x0, x1 = _bbox(mask, 0)
        return cls(mask, x0, y0, x1, y1, paths, reach)

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    def join(self, other: _Group) -> _Group:
        return _Group.of(self.mask | other.mask, self.paths + other.paths, self.reach)


def segment(
    pixels: np.ndarray, strokes: Sequence[np.ndarray | Sequence] | None = None, source: Source = "canvas"
) -> list[Segment]:
    """Canvas or photo pixels -> one Segment per digit, left to right; [] when there is no ink.

    strokes (optional): the pen's strokes in the image's pixel coordinates (each (n, 2) x, y),
    as the canvas records them; with them, digits drawn with separate strokes are told apart
    even where their ink touches. source: "image" for a photo or an uploaded file, whose ink is
    found by the photo path (shadows, paper lines, a desk at the edge; preprocess.ink_map), on
    the image shrunk to preprocess.ink_map_side: the segments' coordinates are in that size.
    """
    return split(pixels, strokes, source)[0]


class Split(NamedTuple):
    """A drawing's digits, and what was left out of them, for the reading to say so."""

    segments: list[Segment]
    # Where each comma lies (_without_commas), and the centre (x, y) of each other piece of ink of at
    # least _MARK_AREA pixels outside every segment (the point of "3.5", a stray dot): these on a
    # canvas and a digital image (a saved drawing, a screenshot) only, as a photo's specks are dust
    # and paper, not the writer's.
    marks: list[tuple[float, float]]
    # Photos only: pieces as tall as a digit that the photo's edge cuts, left out (a crop of "708"
    # through its 7 and 0 read "8", and nothing said why).
    cut_off: int = 0


def split(
    pixels: np.ndarray, strokes: Sequence[np.ndarray | Sequence] | None = None, source: Source = "canvas"
) -> Split:
    """segment(), and what it left out (Split)."""
    ink, photo = ink_and_kind(pixels, source=source)
    # A fat pen for the drawing's size: the digits are read from its path drawn thinner, but found in
    # the ink as drawn, which is what the writer saw: two strokes that only the fat ink joins are one
    # digit (a 4 whose stem stops short of its bar).
    thin = redraw.thinner(ink, strokes) if strokes and source == "canvas" else None
    core = ink >= _INK_LEVEL
    if not core.any():
        return Split([], [])
    pieces = _stroke_pieces(core, strokes) if strokes else [(p, ()) for p in _component_pieces(core)]
    biggest = max(int(p.sum()) for p, _ in pieces)
    reach = _JUNCTION * redraw.estimated_pen(core, strokes) if strokes else 0.0
    groups = [_Group.of(p, paths, reach) for p, paths in pieces if p.sum() >= max(4, 0.01 * biggest)]  # noise
    if source == "image":  # a screenshot's or a scan's frame round the whole image is not ink
        groups = [g for g in groups if not _frame(g, ink.shape)]
    if photo:
        groups = _without_desk_edges(groups, ink.shape)
    if not groups:  # only specks under 4 px (dust on a photo, a hot pixel): no ink to read
        return Split([], [])
    line = max(g.h for g in groups)
    groups = _merge(groups, line, photo)
    groups = [g for g in groups if not _is_speck(g, groups, line)]
    # The line is as tall as the tallest digit, once a digit's strokes are joined: a 4 whose stem
    # starts at its bar is taller than either stroke, and against one of them looked too wide.
    line = max(g.h for g in groups)
    groups, commas = _without_commas(groups, line)
    out: list[_Group] = []
    for g in groups:
        out.extend(_split_wide(g, ink, line))
    cut_off = 0
    if photo:  # not a saved drawing or a screenshot: a digit at their edge is a digit
        out, cut_off = _digits_in_photo(out, ink.shape)
    out.sort(key=lambda g: (g.x0 + g.x1) / 2)
    segments = [_crop(g, out, ink, thin) for g in out]
    # Each comma is one mark, at its box's centre: its ink, where apart from the digits', is not a
    # second one.
    outside = [] if photo else [m for m in _marks_outside(core, segments) if not inside(m, commas)]
    return Split(segments, [((g.x0 + g.x1) / 2, (g.y0 + g.y1) / 2) for g in commas] + outside, cut_off)


def at_edge(s: Segment | _Group, shape: tuple[int, ...]) -> bool:
    """Whether the ink of a segment (or a piece) reaches the edge of the picture it was found in."""
    h, w = shape[:2]
    return s.x0 <= 0 or s.y0 <= 0 or s.x1 >= w or s.y1 >= h


def inside(point: tuple[float, float], segments: Sequence[Segment | _Group]) -> bool:
    """Whether the point (x, y) lies in the box of one of the segments (or pieces)."""
    x, y = point
    return any(s.x0 <= x < s.x1 and s.y0 <= y < s.y1 for s in segments)


def _marks_outside(core: np.ndarray, segments: Sequence[Segment]) -> list[tuple[float, float]]:
    box = _bbox(core, 0)
    if box is None:
        return []
    y0, y1, x0, x1 = box  # the pieces are found in the box round the ink, which is faster
    ink = core[y0:y1, x0:x1].astype(np.uint8)
    n, _, stats, centres = cv2.connectedComponentsWithStats(ink, connectivity=8)
    marks = [(float(centres[k][0]) + x0, float(centres[k][1]) + y0) for k in range(1, n)]
    return [
        m
        for k, m in enumerate(marks, 1)
        if stats[k, cv2.CC_STAT_AREA] >= _MARK_AREA and not inside(m, segments)
    ]


def _frame(g: _Group, shape: tuple[int, ...]) -> bool:
    """A thin line round (nearly) the whole image: a screenshot's border, a scan's edge. No digit
    spans a whole image both ways while covering so little of it (a tightly cropped 0 covers a
    fifth or more)."""
    h, w = shape[:2]
    spans = g.w >= _FRAME_SPAN * w and g.h >= _FRAME_SPAN * h
    return spans and int(g.mask.sum()) < _FRAME_FILL * g.w * g.h


def _without_desk_edges(groups: list[_Group], shape: tuple[int, ...]) -> list[_Group]:
    """A photo's pieces less a desk's or a sheet's edge and dust, before the pieces are joined into
    digits (a long edge taken for the line's height made every digit "short" and joined them all):

    - a piece at the photo's border far thicker than the pen that wrote the rest (a strip of desk in
      a corner was read as a "1" before a photographed number; one pen writes a photo's digits);
    - a thin straight piece spanning half the photo or more and _EDGE_LONG times as long as the
      other pieces (specks aside) are tall: a paper's edge, not a 1 written among other digits.
    """
    h, w = shape[:2]
    thick = [_thickness(g) for g in groups]
    kept = []
    for k, g in enumerate(groups):
        others = thick[:k] + thick[k + 1 :]
        if others and at_edge(g, shape) and thick[k] >= _EDGE_THICK * max(others):
            continue
        length = max(g.w, g.h)
        thin = min(g.w, g.h) <= _EDGE_THIN * length
        span = g.h / h if g.h >= g.w else g.w / w
        tall = [o.h for o in groups if o is not g and max(o.w, o.h) >= _SPECK * length]
        if thin and span >= 0.5 and tall and length >= _EDGE_LONG * float(np.median(tall)):
            continue
        kept.append(g)
    return _without_dust(kept)


def _without_dust(groups: list[_Group]) -> list[_Group]:
    """A photo's tiny pieces far from every larger one: a desk's grain or the paper's dust. Left in,
    they joined one another into a tall chain (_merge joins a tiny piece to its nearest), which then
    swallowed the digits beside it."""
    if not groups:
        return groups
    tallest = max(g.h for g in groups)
    big = [g for g in groups if not _tiny(g, tallest)]
    return [g for g in groups if not _tiny(g, tallest) or any(_gap(g, b) < _NEAR * tallest for b in big)]


def _thickness(g: _Group) -> float:
    """How thick the piece's ink is: twice the 90th percentile of its pixels' distance to its edge
    (a stroke's width, hardly moved by where strokes cross)."""
    mask = np.pad(g.mask[g.y0 : g.y1, g.x0 : g.x1], 1).astype(np.uint8)
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    return 2.0 * float(np.percentile(distance[distance > 0], 90))


def _digits_in_photo(groups: list[_Group], shape: tuple[int, ...]) -> tuple[list[_Group], int]:
    """A photo's digits: the tall pieces away from its edge, with what belongs to them; and how many
    pieces cut by its edge, as tall as a digit, were left out.

    What else a photo's ink holds is more likely a bit of a digit that a paper line cut off, or
    what is left of the lines, or of a desk's, a sheet's or a shadow's edge, than another digit:
    digits in a row share most of their height, and a photo is taken of them, not of its edge.
    One tall piece is one digit (`_one_digit`); several are a number (`_row`).
    """
    inside = [g for g in groups if not at_edge(g, shape) and not _edge_line(g, shape)]
    if len(groups) < 2 or not inside:
        return groups, 0
    line = max(g.h for g in inside)
    tall = [g for g in inside if g.h >= _SHORT * line]
    if len(tall) > 1:  # a number: a digit the edge cuts stays in it, if it stands in the row
        return _row(groups, tall, line, shape), 0
    digit = _one_digit(tall[0], inside, line)
    pen = _thickness(digit)
    return [digit], sum(_cut_digit(g, digit, pen, line, shape) for g in groups if at_edge(g, shape))


def _cut_digit(g: _Group, digit: _Group, pen: float, line: int, shape: tuple[int, ...]) -> bool:
    """Whether a piece at a photo's border, left out beside its one digit, looks like another digit
    that the edge cut (a crop of "708" through its 7 and 0 read "8", and nothing said why): at least
    _HALF a digit high, in the digit's row, written by the same pen, and reaching well into the photo (what
    a desk's or a shadow's edge leaves hugs the border, or is off the row; a paper line is thinner).
    pen: the digit's ink thickness (_thickness).
    Said of 1 in 900 synthetic photos of single digits of writers 1-24, a 0 the photo's edge did cut,
    and of none of 160 photos of numbers."""
    h, w = shape[:2]
    band = _EDGE_BAND * min(h, w)
    reach = [w - g.x0 if g.x1 == w else 0, g.x1 if g.x0 == 0 else 0]
    reach += [h - g.y0 if g.y1 == h else 0, g.y1 if g.y0 == 0 else 0]
    return (
        not _edge_line(g, shape)
        and g.h >= _HALF * line
        and _y_overlap(g, digit) * min(g.h, digit.h) >= _ROW_SHARE * g.h
        and 1 / _EDGE_THICK < _thickness(g) / pen < _EDGE_THICK
        and min(r for r in reach if r) > band
    )


def _one_digit(digit: _Group, inside: list[_Group], line: int) -> _Group:
    """A photo's one tall piece with the short pieces near it; those far from it, or at the photo's
    edge (not `inside`), are left out."""
    for g in inside:
        if g is not digit and _gap(g, digit) < _NEAR * line:
            digit = digit.join(g)
    return digit


def _row(groups: list[_Group], tall: list[_Group], line: int, shape: tuple[int, ...]) -> list[_Group]:
    """A photo of a number: its pieces less what lies off the row of its `tall` digits or is a thin
    line along the photo's edge (a desk's or a sheet's edge, a shadow's).
    Synthetic photos of three-digit numbers of writers 1-24 beside a desk were split into their
    digits 29 times in 40 before this (docs/experiments.md, eighteenth session). A digit the photo's
    edge cuts stays, if it stands in the row.
    """
    top, bottom = min(g.y0 for g in tall), max(g.y1 for g in tall)

    def in_row(g: _Group) -> bool:
        inside = max(0, min(g.y1, bottom) - max(g.y0, top))
        gap = max(top - g.y1, g.y0 - bottom, 0)
        return inside >= _ROW_SHARE * g.h or (gap < _NEAR * line and g.h < _SHORT * line)

    kept = [g for g in groups if in_row(g) and not _edge_line(g, shape)]
    return kept or groups


def _edge_line(g: _Group, shape: tuple[int, ...]) -> bool:
    """A thin straight piece along an edge of the photo, close to it: what a desk's or a sheet's edge
    leaves, not a digit (a 1 as thin stands where the digits are, not at the photo's margin)."""
    h, w = shape[:2]
    near = _EDGE_BAND * min(h, w)
    upright = g.w <= _EDGE_THIN * g.h and min(g.x0, w - g.x1) < near
    lying = g.h <= _EDGE_THIN * g.w and min(g.y0, h - g.y1) < near
    return upright or lying


def read_row(
    pixels: np.ndarray, strokes: Sequence[np.ndarray | Sequence] | None = None, source: Source = "canvas"
) -> tuple[list[tuple[Segment, Preprocessed]], list[tuple[float, float]], int]:
    """split(), then each digit through preprocess() exactly like a single digit, left to right;
    with the marks and the number of cut-off pieces left out (see Split).

    Each segment is already ink (white on black, the photo's light and paper lines taken out),
    so it is preprocessed as a drawing whatever the source.
    """
    segments, marks, cut_off = split(pixels, strokes, source)
    return [(s, read_piece(s)) for s in segments], marks, cut_off


def read_piece(s: Segment) -> Preprocessed:
    """One segment through preprocess(); one redrawn thinner whose thin crop holds nothing to read (its
    strokes were not where its ink is) is read as drawn."""
    got = preprocess(s.image)
    if got.image is None and s.drawn is not None:
        return preprocess(s.drawn)
    return got


def box_share(points: np.ndarray, piece: Segment, margin: float) -> float:
    """The share of (n, 2) points (x, y; n >= 1) inside the piece's box widened by `margin` px."""
    x, y = points[:, 0], points[:, 1]
    inside = (
        (x >= piece.x0 - margin)
        & (x < piece.x1 + margin)
        & (y >= piece.y0 - margin)
        & (y < piece.y1 + margin)
    )
    return float(inside.mean())


def apart(
    pixels: np.ndarray, strokes: Sequence[np.ndarray | Sequence], piece: Segment
) -> list[tuple[tuple[Segment, Preprocessed], tuple[Segment, Preprocessed]]]:
    """The ways a canvas piece drawn with several strokes falls into two digits side by side, each
    read like a single digit: its strokes in left-to-right order, cut after each one in turn (a 1 and
    the 2 begun on it; a 6 and the 7 whose bar touches it). Only cuts whose two sides stand mostly
    beside each other; [] when the piece has fewer than two strokes. For the reading to weigh."""
    mine = []
    for stroke in strokes:
        pts = np.asarray(stroke, np.float64).reshape(-1, 2)
        if len(pts) and box_share(pts, piece, margin=1) > 0.8:
            mine.append(pts)
    if len(mine) < 2:  # most pieces: the ink is not looked at
        return []
    mine.sort(key=lambda p: float(p[:, 0].mean()))
    ink, _ = ink_and_kind(pixels, source="canvas")
    core = ink >= _INK_LEVEL
    box = np.zeros_like(core)
    box[piece.y0 : piece.y1, piece.x0 : piece.x1] = True
    masks = [m for m, _ in _stroke_pieces(core & box, mine)]
    if len(masks) != len(mine):
        return []
    out = []
    for k in range(1, len(mine)):
        sides = []
        for part, paths in ((masks[:k], mine[:k]), (masks[k:], mine[k:])):
            mask = np.logical_or.reduce(part)
            alone = np.round(np.where(mask, ink, 0.0) * 255).astype(np.uint8)
            found = split(alone, paths, "canvas")[0]
            if len(found) != 1:
                break
            sides.append((found[0], read_piece(found[0])))
        if len(sides) == 2 and all(p.image is not None for _, p in sides):
            (a, _), (b, _) = sides
            shared = min(a.x1, b.x1) - max(a.x0, b.x0)
            if shared < 0.5 * min(a.x1 - a.x0, b.x1 - b.x0):  # beside each other, not stacked
                out.append((sides[0], sides[1]))
    return out


# --------------------------------------------------------------------------- pieces


def _component_pieces(core: np.ndarray) -> list[np.ndarray]:
    n, labels = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
    return [labels == k for k in range(1, n)]


def _stroke_pieces(
    core: np.ndarray, strokes: Sequence[np.ndarray | Sequence]
) -> list[tuple[np.ndarray, tuple[np.ndarray, ...]]]:
    """Each ink pixel goes to the stroke whose path is nearest: one piece per stroke, with its path."""
    paths = [pts for pts in (np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes) if len(pts)]
    if not paths:
        return [(p, ()) for p in _component_pieces(core)]
    ink = _bbox(core, 0)
    if ink is None:
        return []
    if len(paths) == 1:  # all the ink is the one stroke's
        return [(core.copy(), (paths[0],))]
    # The distances are measured in the box round the ink and the paths (within the picture), not in
    # the whole picture: the same distances (the nearest point of a path in the box is reached
    # within it), in a fraction of the time.
    h, w = core.shape
    top, bottom, left, right = ink
    points = np.concatenate(paths)
    lo, hi = np.floor(points.min(axis=0)), np.ceil(points.max(axis=0))
    x0, y0 = max(0, min(left, int(lo[0])) - 2), max(0, min(top, int(lo[1])) - 2)
    x1, y1 = min(w, max(right - 1, int(hi[0])) + 3), min(h, max(bottom - 1, int(hi[1])) + 3)
    dists = []
    for pts in paths:
        path = np.full((y1 - y0, x1 - x0), 255, np.uint8)
        fixed = (np.round(pts * 16).astype(np.int32) - np.int32([x0 * 16, y0 * 16])).reshape(-1, 1, 2)
        cv2.polylines(path, [fixed], False, 0, 1, cv2.LINE_8, 4)
        for x, y in fixed.reshape(-1, 2):
            cv2.circle(path, (int(x), int(y)), 8, 0, -1, cv2.LINE_8, 4)
        dists.append(cv2.distanceTransform(path, cv2.DIST_L2, 3))
    nearest = np.full((h, w), -1, np.int64)
    nearest[y0:y1, x0:x1] = np.argmin(np.stack(dists), axis=0)
    pieces = [(core & (nearest == k), (paths[k],)) for k in range(len(paths))]
    return [(p, path) for p, path in pieces if p.any()]


# --------------------------------------------------------------------------- grouping


def _x_overlap(a: _Group, b: _Group) -> float:
    """Overlap of the two x-extents as a fraction of the narrower one."""
    return max(0, min(a.x1, b.x1) - max(a.x0, b.x0)) / max(1, min(a.w, b.w))


def _y_overlap(a: _Group, b: _Group) -> float:
    """Overlap of the two y-extents as a fraction of the shorter one."""
    return max(0, min(a.y1, b.y1) - max(a.y0, b.y0)) / max(1, min(a.h, b.h))


def _gap(a: _Group, b: _Group) -> int:
    """Chessboard distance between the two boxes (0 when they overlap)."""
    return max(a.x0 - b.x1, b.x0 - a.x1, a.y0 - b.y1, b.y0 - a.y1, 0)


def _tiny(g: _Group, line: int) -> bool:
    return max(g.w, g.h) < _TINY * line


def _dot(g: _Group, line: int) -> bool:
    """A dot (compact: it fills much of its square) under _SPECK of the line height: the point of
    "3.5", a tap of the pen. No digit has one outside its body; preprocessing drops such a dot from
    a digit's crop anyway, so it is left out here, where the reading can say so."""
    side = max(g.w, g.h)
    return side < _SPECK * line and int(g.mask.sum()) > _DOT_FILL * side * side


def _belong(a: _Group, b: _Group, line: int, photo: bool = False) -> bool:
    """Whether two groups are parts of one digit (tiny pieces aside: see _merge)."""
    # In a photo, further apart than the tallest piece is tall, they are not one digit however they
    # line up: a scrap of a paper line well below a photo's 7 joined it, and the tall "7" swallowed
    # "708". (A canvas has no such scraps; what its writer drew apart is read as drawn.)
    if photo and _gap(a, b) > _FAR * line:
        return False
    ov = _x_overlap(a, b)
    if ov >= _STRONG_OVERLAP:
        return True
    if ov >= _PART_OVERLAP and min(a.h, b.h) < _SHORT * line:
        return True
    # One above the other: a number is written left to right, so stacked pieces are one digit (an
    # 8 drawn as two circles, the top one a little to the right, was read "00").
    if ov >= _PART_OVERLAP and _y_overlap(a, b) < _STACKED:
        return True
    # With the pen's strokes, pieces are strokes, and one digit's strokes meet: a 4's two strokes
    # cross, or one ends on the other; a 5's or a 7's bar starts on the body, short and partly
    # beside it. Touching digits' paths lie about a pen's width apart, and each is tall.
    if a.paths and b.paths and _gap(a, b) == 0:
        if any(
            _paths_cross(p, q) or _ends_on(p, q, a.reach) or _ends_on(q, p, a.reach)
            for p in a.paths
            for q in b.paths
        ):
            return True
        return ov >= _TOUCH_OVERLAP and min(a.h, b.h) < _SHORT * line and _touch(a, b)
    return False


def _ends_on(p: np.ndarray, q: np.ndarray, reach: float) -> bool:
    """Whether an end of path p lies within `reach` px of path q (a T-junction, a 4's bar meeting
    its stem)."""
    if not len(p) or len(q) < 2:
        return False
    a, b = q[:-1], q[1:]
    ab = b - a
    for end in (p[0], p[-1]):
        t = np.clip(((end - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-9), 0, 1)
        if np.min(np.linalg.norm(a + t[:, None] * ab - end, axis=1)) < reach:
            return True
    return False


def _touch(a: _Group, b: _Group) -> bool:
    """The two groups' ink pixels are neighbours (8-connected)."""
    grown = cv2.dilate(a.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return bool((grown & b.mask).any())


def _paths_cross(p: np.ndarray, q: np.ndarray) -> bool:
    """Whether two polylines (each (n, 2)) cross: some segment of one properly crosses one of the other."""
    if len(p) < 2 or len(q) < 2:
        return False
    a, b = p[:-1, None], p[1:, None]  # (n-1, 1, 2)
    c, d = q[None, :-1], q[None, 1:]  # (1, m-1, 2)

    def side(o, e, x):  # sign of the turn o -> e -> x
        return np.sign(
            (e[..., 0] - o[..., 0]) * (x[..., 1] - o[..., 1])
            - (e[..., 1] - o[..., 1]) * (x[..., 0] - o[..., 0])
        )

    return bool(np.any((side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)))


def _merge(groups: list[_Group], line: int, photo: bool = False) -> list[_Group]:
    """Join groups that belong together until nothing changes (a join widens a box)."""
    groups = sorted(groups, key=lambda g: g.x0)
    changed = True
    while changed:
        changed = False
        for i in range(len(groups)):
            order = [
                j for j in sorted(range(len(groups)), key=lambda j: _gap(groups[i], groups[j])) if j != i
            ]
            for j in order:
                # A tiny piece joins its nearest neighbour only, not everything within reach: a
                # 7's crossbar its 7, not the digit before it because that one came first.
                if _belong(groups[i], groups[j], line, photo) or (
                    j == order[0]
                    and _tiny(groups[i], line)
                    and not (_dot(groups[i], line) and _gap(groups[i], groups[j]) > 0)
                    and _gap(groups[i], groups[j]) < _NEAR * line
                ):
                    a, b = sorted((i, j))
                    groups[a] = groups[a].join(groups[b])
                    del groups[b]
                    changed = True
                    break
            if changed:
                break
    return groups


def _without_commas(groups: list[_Group], line: int) -> tuple[list[_Group], list[_Group]]:
    """The groups less commas, and the commas. A comma: in a row of digits, a small piece wholly in
    the row's lower half that reaches below its baseline. It was read as a digit, a "1" at full
    confidence ("1,000" read "11000"); left out, it is a mark the reading tells of, as the point of
    "3.5" is. A digit written smaller than its neighbours sits on the baseline rather than hanging
    below it."""
    tall = [g for g in groups if g.h >= _SHORT * line]
    if len(tall) < 2:
        return groups, []
    top, bottom = float(np.median([g.y0 for g in tall])), float(np.median([g.y1 for g in tall]))
    middle = (top + bottom) / 2

    def comma(g: _Group) -> bool:
        small = max(g.w, g.h) < _COMMA * line
        return small and g.y0 >= middle and g.y1 > bottom + _BELOW * line

    commas = [g for g in groups if comma(g)]
    return [g for g in groups if not any(g is c for c in commas)], commas


def _is_speck(g: _Group, groups: list[_Group], line: int) -> bool:
    return len(groups) > 1 and max(g.w, g.h) < _SPECK * line


# --------------------------------------------------------------------------- touching digits


def _runs(column: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a 1-D bool array."""
    padded = np.concatenate([[False], column, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(edges[1::2] - edges[::2])


def _cut_ok(g: _Group, cut: int, line: int) -> bool:
    if g.w >= _TOO_WIDE * line:
        return True
    runs = _runs(g.mask[g.y0 : g.y1, cut])
    return len(runs) <= 1 and (not runs or runs[0] < _JOINT * line)


def _flat(g: _Group) -> bool:
    """Hardly taller than the pen that drew it is wide: twice the ink's largest distance to its edge."""
    mask = np.pad(g.mask[g.y0 : g.y1, g.x0 : g.x1].astype(np.uint8), 1)
    pen = 2.0 * float(cv2.distanceTransform(mask, cv2.DIST_L2, 3).max())
    return g.h < _FLAT * pen


def _loop_columns(g: _Group, line: int) -> np.ndarray:
    """Per column of the group's box: whether it crosses a loop as wide as half the group (a hole in
    its ink, and _LOOP of the line height tall). Two digits side by side have narrower loops each,
    and where they touch the hole between them is narrower still."""
    box = g.mask[g.y0 : g.y1, g.x0 : g.x1]
    background = np.pad(~box, 1, constant_values=True).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    looped = np.zeros(g.w, bool)
    for lab in range(2, n):  # 1 is the outside (the padding joins it all round)
        x, _y, w, h = (int(v) for v in stats[lab, :4])
        if w >= _LOOP_SPAN * g.w and h >= _LOOP * line and _solidity(labels == lab) >= _LOOP_SOLID:
            looped[x - 1 : x - 1 + w] = True  # padded by one
    return looped


def _solidity(region: np.ndarray) -> float:
    """The region's area over its convex hull's: 1 for an oval loop, less where ink pokes into it."""
    points = cv2.findNonZero(region.astype(np.uint8))
    hull = cv2.contourArea(cv2.convexHull(points))
    return float(region.sum()) / hull if hull > 0 else 0.0


def _split_wide(g: _Group, ink: np.ndarray, line: int) -> list[_Group]:
    """Cut a group too wide for one digit at its projection minimum, recursively."""
    if g.w < _MAYBE_WIDE * line or _flat(g):
        return [g]
    profile = (g.mask[g.y0 : g.y1, g.x0 : g.x1] * ink[g.y0 : g.y1, g.x0 : g.x1]).sum(axis=0)
    profile = np.convolve(profile, np.ones(3) / 3, mode="same")  # one thin column is not a gap
    lo, hi = round(0.2 * g.w), round(0.8 * g.w)
    # Where two digits touch, the cut crosses one short joint: look for the least ink among such
    # columns (any column, once the group is far too wide for one digit).
    # Never through a loop: a cut across a 0 drawn wide (or a wide 6's or 8's loop) would leave
    # two halves, each a fine "digit"; touching digits meet beside their loops, not across them.
    looped = _loop_columns(g, line)
    candidates = [c for c in range(lo, hi) if not looped[c] and _cut_ok(g, g.x0 + c, line)]
    if not candidates:
        return [g]
    cut = g.x0 + min(candidates, key=lambda c: profile[c])
    left, right = g.mask.copy(), g.mask.copy()
    left[:, cut:] = False
    right[:, :cut] = False
    if not left.any() or not right.any():
        return [g]
    parts = [_Group.of(left), _Group.of(right)]
    # Both sides must look like digits: tall. Cutting a wide 2's tail or a 5's bar leaves a sliver.
    if min(p.h for p in parts) < _TALL * line:
        return [g]
    return _split_wide(parts[0], ink, line) + _split_wide(parts[1], ink, line)


# --------------------------------------------------------------------------- crops


def _crop(g: _Group, groups: list[_Group], ink: np.ndarray, thin: np.ndarray | None = None) -> Segment:
    """The group's ink with its anti-aliased fringe, other groups' ink masked out, plus a margin.
    With `thin` (the drawing's path drawn thinner, within the groups' own ink) that is the image read,
    and the crop of `ink` is kept beside it."""
    y0, y1 = max(0, g.y0 - 2), min(ink.shape[0], g.y1 + 2)
    x0, x1 = max(0, g.x0 - 2), min(ink.shape[1], g.x1 + 2)
    box = (slice(y0, y1), slice(x0, x1))  # the fringe reaches 2 px past the group: all of it is in here
    others = np.zeros_like(g.mask[box])
    for o in groups:
        if o is not g:
            others |= o.mask[box]
    fringe = cv2.dilate(g.mask[box].astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2).astype(bool)
    pad = max(2, round(0.1 * max(g.w, g.h)))

    def crop(source: np.ndarray) -> np.ndarray:
        return np.pad(source[box] * (fringe & ~others), pad).astype(np.float32)

    drawn = crop(ink)
    if thin is None:
        return Segment(drawn, g.x0, g.x1, g.y0, g.y1, x0 - pad, y0 - pad)
    return Segment(crop(thin), g.x0, g.x1, g.y0, g.y1, x0 - pad, y0 - pad, drawn)


# --------------------------------------------------------------------------- test numbers


def render_number(
    digits: Sequence[Sequence[np.ndarray]],
    gaps: Sequence[float],
    *,
    height: float = 180,
    stroke_width: float = 18,
    canvas_height: int = 280,
    margin: int = 20,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Draw several stroke sets side by side, as one person writes a number on a wide canvas.

    digits: each a list of strokes (pendigits format, any box); gaps: px between one digit's ink
    and the next's (len(digits) - 1 of them; negative = their boxes overlap). Returns the RGBA
    canvas (transparent, ink in alpha, like the app's canvas) and every stroke in its pixel
    coordinates, for segment(..., strokes=...). For tests and benchmarks.
    """
    from digitdraw.pendigits import render

    if len(gaps) != len(digits) - 1:
        raise ValueError(f"{len(digits)} digits need {len(digits) - 1} gaps, got {len(gaps)}")
    centre = canvas_height / 2
    glyphs, placed = [], []
    for strokes in digits:
        pts = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
        alpha = render(
            pts,
            canvas=canvas_height,
            stroke_width=stroke_width,
            height=height,
            centre=(centre, centre),
            clip=True,
        )[..., 3]
        # The same placement render() used (clip=True: scale by height, centre the path's box).
        allp = np.concatenate(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        span_w, span_h = hi - lo
        scale = height / span_h if span_h > 0 else 1.0
        if span_w * scale > canvas_height - stroke_width:
            scale = (canvas_height - stroke_width) / span_w
        cols = np.flatnonzero(alpha.max(axis=0) > 0)
        glyphs.append(alpha[:, cols[0] : cols[-1] + 1])
        placed.append([(s - (lo + hi) / 2) * scale + centre - (cols[0], 0) for s in pts])
    xs = [margin]
    for g, gap in zip(glyphs[:-1], gaps, strict=True):
        xs.append(max(0, round(xs[-1] + g.shape[1] + gap)))
    width = max(x + g.shape[1] for x, g in zip(xs, glyphs, strict=True)) + margin
    out = np.zeros((canvas_height, width, 4), np.uint8)
    out[..., :3] = 255
    strokes_px = []
    for x, g, pts in zip(xs, glyphs, placed, strict=True):
        region = out[:, x : x + g.shape[1], 3]
        np.maximum(region, g, out=region)
        strokes_px += [p + (x, 0) for p in pts]
    return out, strokes_px
