"""Synthetic drawings that are not digits, as pen strokes (the pendigits format), seeded.

What counts as "not a digit" here: something a person would not read as any digit. So some
obvious candidates are left out on purpose, because a fair reader could take them for one:
a bare circle or ellipse, O, o, D, Q, C, U (0); I, l, i, j, J, T, L, a lone stroke (1, 7);
Z, z (2); S, s (5); B (8); G, b (6); a, g, q (9); spirals (6, 9, 0). What stays: letters built
from strokes below, words of them, shapes with corners or crossings, smileys, suns and
scribbles with many turns. No letter data set is used: every letter is a stroke template
written here.

Two families that share no template, letter or generator, so a model trained on one is
measured fairly on the other:

- "train": letters A E F H K M N e h m; words of 2-4 of them; triangle, square, star, hash (#), clock,
  diamond, envelope, ladder, ticked box, pentagon, hexagon, cloud, flower, tree, wave, equals sign,
  pi; a sun, a ring with marks inside; jagged random walks and smooth random curves.
- "bench": letters R W X Y V P k r w; words of 2-4 of them; circle with a cross, house, heart,
  arrow; a smiley; smooth loopy scribbles (Lissajous sums).

Every drawing is then slanted, rotated, stretched and wobbled a little (as a hand would), and
returned in the tablet's 500x500 box, y down, like digitdraw.pendigits.PenDigit.strokes, so
pendigits.render / random_render draw it the way the app's canvas does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Family = Literal["train", "bench"]
Strokes = list[np.ndarray]

# --------------------------------------------------------------------------- templates
# Unit box: x 0..1 (letters are narrower), y 0..1 down. Each template is a list of polylines.


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 16) -> list:
    """Points on an elliptical arc, angles in degrees, y down (90 degrees points down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


_BUMP = _arc(0.35, 0.25, 0.25, 0.25, -90, 90)  # the round part of P and R, from the top

LETTERS: dict[str, list[list]] = {
    # train family
    "A": [[(0, 1), (0.35, 0), (0.7, 1)], [(0.15, 0.6), (0.55, 0.6)]],
    "E": [[(0.6, 0), (0, 0), (0, 1), (0.6, 1)], [(0, 0.5), (0.45, 0.5)]],
    "F": [[(0.6, 0), (0, 0), (0, 1)], [(0, 0.5), (0.45, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(0.6, 0), (0.6, 1)], [(0, 0.5), (0.6, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(0.6, 0), (0, 0.55), (0.6, 1)]],
    "M": [[(0, 1), (0, 0), (0.35, 0.6), (0.7, 0), (0.7, 1)]],
    "N": [[(0, 1), (0, 0), (0.6, 1), (0.6, 0)]],
    "e": [[(0.05, 0.7), (0.6, 0.7), *_arc(0.33, 0.72, 0.28, 0.28, 0, -300, 20)]],
    "h": [[(0, 0), (0, 1)], [(0, 0.75), *_arc(0.3, 0.7, 0.3, 0.25, 180, 360, 10), (0.6, 1)]],
    "m": [
        [(0, 1), (0, 0.45), *_arc(0.2, 0.55, 0.2, 0.15, 180, 360, 8), (0.4, 1)],
        [(0.4, 0.6), *_arc(0.6, 0.55, 0.2, 0.15, 180, 360, 8), (0.8, 1)],
    ],
    # bench family
    "R": [[(0, 1), (0, 0), (0.35, 0), *_BUMP, (0, 0.5)], [(0.25, 0.5), (0.65, 1)]],
    "W": [[(0, 0), (0.2, 1), (0.4, 0.35), (0.6, 1), (0.8, 0)]],
    "X": [[(0, 0), (0.7, 1)], [(0.7, 0), (0, 1)]],
    "Y": [[(0, 0), (0.35, 0.5), (0.7, 0)], [(0.35, 0.5), (0.35, 1)]],
    "V": [[(0, 0), (0.35, 1), (0.7, 0)]],
    "P": [[(0, 1), (0, 0), (0.35, 0), *_BUMP, (0, 0.5)]],
    "k": [[(0, 0), (0, 1)], [(0.5, 0.4), (0, 0.7), (0.5, 1)]],
    "r": [[(0, 1), (0, 0.4)], [(0, 0.6), *_arc(0.3, 0.6, 0.3, 0.2, 180, 300, 8)]],
    "w": [[(0, 0.4), (0.2, 1), (0.4, 0.55), (0.6, 1), (0.8, 0.4)]],
}
TRAIN_LETTERS = "AEFHKMNehm"
BENCH_LETTERS = "RWXYVPkrw"


def _circle(cx: float = 0.5, cy: float = 0.5, r: float = 0.5, n: int = 32) -> list:
    return _arc(cx, cy, r, r, 0, 360, n)


def _angles(k: int) -> list[float]:
    """k directions evenly round, the first straight up (y down)."""
    return [-math.pi / 2 + 2 * math.pi * i / k for i in range(k)]


def _polygon(k: int) -> list:
    """A closed regular k-gon in the unit box, a corner at the top."""
    corners = [(0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a)) for a in _angles(k)]
    return [*corners, corners[0]]


SHAPES: dict[str, list[list]] = {
    # train family
    "triangle": [[(0.5, 0), (1, 0.9), (0, 0.9), (0.5, 0)]],
    "square": [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]],
    "star": [
        [
            (0.5 + 0.5 * math.sin(k * 4 * math.pi / 5), 0.5 - 0.5 * math.cos(k * 4 * math.pi / 5))
            for k in range(6)
        ]
    ],
    "hash": [[(0.3, 0), (0.3, 1)], [(0.7, 0), (0.7, 1)], [(0, 0.3), (1, 0.3)], [(0, 0.7), (1, 0.7)]],
    "clock": [_circle(), [(0.5, 0.15), (0.5, 0.5), (0.75, 0.6)]],  # a circle alone is a 0: hands make it not
    "diamond": [[(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5), (0.5, 0)]],
    "envelope": [[(0, 0.2), (1, 0.2), (1, 0.8), (0, 0.8), (0, 0.2), (0.5, 0.55), (1, 0.2)]],
    "ladder": [
        [(0.2, 0), (0.2, 1)],
        [(0.8, 0), (0.8, 1)],
        *[[(0.2, y), (0.8, y)] for y in (0.2, 0.45, 0.7, 0.95)],
    ],
    "ticked box": [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)], [(0.2, 0.5), (0.4, 0.75), (0.8, 0.2)]],
    "pentagon": [_polygon(5)],
    "hexagon": [_polygon(6)],
    "cloud": [
        [
            *_arc(0.2, 0.6, 0.2, 0.2, 90, 270, 8),
            *_arc(0.45, 0.35, 0.25, 0.25, 180, 330, 8),
            *_arc(0.75, 0.5, 0.25, 0.25, 250, 450, 8),
            (0.2, 0.8),
        ]
    ],
    "flower": [
        _circle(0.5, 0.5, 0.12, 12),
        *[_arc(0.5 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a), 0.17, 0.17, 0, 360, 12) for a in _angles(5)],
    ],
    "tree": [
        [(0.5, 0), (0.9, 0.65), (0.1, 0.65), (0.5, 0)],
        [(0.42, 0.65), (0.42, 1), (0.58, 1), (0.58, 0.65)],
    ],
    "wave": [[(x / 36, 0.5 - 0.12 * math.sin(x / 36 * 6 * math.pi)) for x in range(37)]],  # ~~~
    "equals": [[(0, 0.3), (1, 0.3)], [(0, 0.7), (1, 0.7)]],
    "pi": [[(0, 0.1), (1, 0.1)], [(0.3, 0.1), (0.25, 1)], [(0.7, 0.1), (0.75, 0.9), (0.85, 1)]],
    # bench family
    "circle with a cross": [_circle(), [(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
    "house": [
        [(0, 1), (0, 0.4), (0.5, 0), (1, 0.4), (1, 1), (0, 1)],
        [(0.4, 1), (0.4, 0.7), (0.6, 0.7), (0.6, 1)],
    ],
    "heart": [
        [
            (0.5, 1),
            (0.05, 0.45),
            *_arc(0.27, 0.27, 0.23, 0.23, 140, 360, 10),
            *_arc(0.73, 0.27, 0.23, 0.23, 180, 400, 10),
            (0.5, 1),
        ]
    ],
    "arrow": [[(0, 0.5), (1, 0.5)], [(0.7, 0.2), (1, 0.5), (0.7, 0.8)]],
}
TRAIN_SHAPES = (
    "triangle",
    "square",
    "star",
    "hash",
    "clock",
    "diamond",
    "envelope",
    "ladder",
    "ticked box",
    "pentagon",
    "hexagon",
    "cloud",
    "flower",
    "tree",
    "wave",
    "equals",
    "pi",
)
BENCH_SHAPES = ("circle with a cross", "house", "heart", "arrow")


def _sun(rng: np.random.Generator) -> list[list]:
    rays = int(rng.integers(6, 10))
    out = [_circle(0.5, 0.5, 0.22)]
    for k in range(rays):
        a = 2 * math.pi * k / rays
        out.append(
            [
                (0.5 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a)),
                (0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a)),
            ]
        )
    return out


def _smiley(rng: np.random.Generator) -> list[list]:
    eye = rng.uniform(0.0, 0.04)  # a dot or a small circle
    mouth = rng.uniform(20, 45)
    return [
        _circle(),
        [(0.33, 0.35), (0.33 + eye, 0.37)],
        [(0.67, 0.35), (0.67 + eye, 0.37)],
        _arc(0.5, 0.5, 0.28, 0.25, mouth, 180 - mouth, 10),
    ]


def _ring_with_marks(rng: np.random.Generator) -> list[list]:
    """Train picture: an oval with 2-5 small marks inside it (dots, dashes, little rings, bent
    lines, crosses), apart and none touching it: what a face, a smiley or a ladybird is made of.
    Never one mark alone (a ring with a stroke in it is a slashed zero)."""
    rx, ry = 0.5, 0.5 * math.exp(rng.uniform(-0.25, 0.25))
    start = rng.uniform(0, 360)
    out = [_arc(0.5, 0.5, rx, ry, start, start + rng.uniform(340, 380), 32)]
    spots: list[tuple[float, float]] = []
    for _ in range(int(rng.integers(2, 6))):
        for _try in range(20):  # apart from the others, as eyes and a mouth are
            a, r = rng.uniform(0, 2 * math.pi), 0.5 * math.sqrt(rng.uniform(0, 1))
            cx, cy = 0.5 + r * rx * math.cos(a), 0.5 + r * ry * math.sin(a)
            if all(math.hypot(cx - x, cy - y) > 0.22 for x, y in spots):
                break
        spots.append((cx, cy))
        size = rng.uniform(0.05, 0.18) * min(rx, ry) / 0.5  # half the room left to the oval at most
        kind = int(rng.integers(5))
        if kind == 0:  # a dot
            out.append([(cx, cy), (cx + 0.02, cy + 0.01)])
        elif kind == 1:  # a dash at any angle
            t = rng.uniform(0, math.pi)
            out.append(
                [
                    (cx - size * math.cos(t), cy - size * math.sin(t)),
                    (cx + size * math.cos(t), cy + size * math.sin(t)),
                ]
            )
        elif kind == 2:  # a little ring
            out.append(_arc(cx, cy, size / 2, size / 2, 0, 360, 12))
        elif kind == 3:  # a bent line, bowl up or down
            bend = float(rng.choice([-1.0, 1.0]))
            out.append(_arc(cx, cy - bend * size / 2, size, size * bend, 20, 160, 8))
        else:  # a small cross
            out += [
                [(cx - size / 2, cy - size / 2), (cx + size / 2, cy + size / 2)],
                [(cx + size / 2, cy - size / 2), (cx - size / 2, cy + size / 2)],
            ]
    return out


def _walk(rng: np.random.Generator) -> list[list]:
    """Train scribble, one stroke: half the time a jagged random walk through 9-16 random points,
    half a smooth curve through 9-14 of them (a Catmull-Rom spline): a hand scribbles both ways."""
    pts = rng.uniform(0, 1, size=(int(rng.integers(9, 17)), 2))
    if rng.uniform() < 0.5:
        return [list(map(tuple, pts))]
    m = min(int(rng.integers(9, 15)), len(pts))
    p = np.vstack([pts[:1], pts[:m], pts[m - 1 : m]])  # each end repeated: the spline's end tangents
    t = np.linspace(0, 1, 12)[:, None]
    out = []
    for a, b, c, d in zip(p[:-3], p[1:-2], p[2:-1], p[3:], strict=True):
        out += list(
            map(
                tuple,
                0.5
                * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t**2 + (3 * b - a - 3 * c + d) * t**3),
            )
        )
    return [out]


def _loops(rng: np.random.Generator) -> list[list]:
    """Bench scribble: smooth loops (a sum of two random Lissajous curves), one or two strokes."""
    out = []
    for _ in range(int(rng.integers(1, 3))):
        t = np.linspace(0, 2 * math.pi * rng.uniform(1.5, 3.0), 120)
        f = rng.uniform(1.5, 4.0, size=4)
        p = rng.uniform(0, 2 * math.pi, size=4)
        x = np.sin(f[0] * t + p[0]) + 0.5 * np.sin(f[1] * t + p[1])
        y = np.sin(f[2] * t + p[2]) + 0.5 * np.sin(f[3] * t + p[3])
        out.append(list(zip(x, y, strict=True)))
    return out


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class NonDigit:
    kind: str  # "letter", "word", "shape", "scribble", "sun", "smiley"
    name: str  # the letters, the shape's name, or the kind again
    strokes: Strokes  # each (n, 2) float, the tablet's 500x500 box, y down


@dataclass(frozen=True)
class _Spec:
    letters: str
    shapes: tuple[str, ...]
    pictures: tuple[tuple[str, Callable[[np.random.Generator], list[list]]], ...]
    scribble: Callable[[np.random.Generator], list[list]]
    stream: int  # mixed into the seed, so that equal seeds never give equal drawings across families


_FAMILIES: dict[str, _Spec] = {
    "train": _Spec(
        TRAIN_LETTERS, TRAIN_SHAPES, (("sun", _sun), ("ring with marks", _ring_with_marks)), _walk, 101
    ),
    "bench": _Spec(BENCH_LETTERS, BENCH_SHAPES, (("smiley", _smiley),), _loops, 202),
}
KINDS = ("letter", "word", "shape", "scribble", "picture")


def _word(letters: str) -> list[list]:
    out, x = [], 0.0
    for ch in letters:
        tmpl = LETTERS[ch]
        width = max(p[0] for s in tmpl for p in s)
        out += [[(px + x, py) for px, py in s] for s in tmpl]
        x += width + 0.3
    return out


def _hand(template: list[list], rng: np.random.Generator) -> Strokes:
    """Template -> strokes as a hand draws them: resampled, slanted, rotated, wobbling; 500 box."""
    strokes = []
    for poly in template:
        p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        # Resample each leg so a wobble bends lines rather than moving corners only.
        dense = [p[0]]
        for a, b in zip(p[:-1], p[1:], strict=True):
            k = max(1, int(np.linalg.norm(b - a) / 0.05))
            dense += [a + (b - a) * (i / k) for i in range(1, k + 1)]
        strokes.append(np.asarray(dense))
    pts = np.concatenate(strokes)
    size = max(float(np.ptp(pts, axis=0).max()), 1e-6)
    angle, shear = rng.uniform(-0.2, 0.2), rng.uniform(-0.25, 0.25)
    aspect = math.exp(rng.uniform(-0.2, 0.2))
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, shear], [0.0, 1.0]])
    mid = (pts.min(axis=0) + pts.max(axis=0)) / 2
    out = []
    for s in strokes:
        wobble = np.cumsum(rng.normal(scale=0.004 * size, size=s.shape), axis=0)
        out.append((s - mid) @ matrix.T + wobble)
    allp = np.concatenate(out)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    scale = 400 / max(float((hi - lo).max()), 1e-6)
    return [(s - (lo + hi) / 2) * scale + 250 for s in out]


def generate(family: Family, n: int, seed: int = 0) -> list[NonDigit]:
    """n non-digit drawings of one family, the kinds in turn (letter, word, shape, scribble, picture)."""
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {sorted(_FAMILIES)}, not {family!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    spec = _FAMILIES[family]
    rng = np.random.default_rng([seed, spec.stream])
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "letter":
            name = spec.letters[int(rng.integers(len(spec.letters)))]
            template = LETTERS[name]
        elif kind == "word":
            name = "".join(rng.choice(list(spec.letters), size=int(rng.integers(2, 5))))
            template = _word(name)
        elif kind == "shape":
            name = spec.shapes[int(rng.integers(len(spec.shapes)))]
            template = SHAPES[name]
        elif kind == "scribble":
            name, template = kind, spec.scribble(rng)
        else:
            # One picture: no draw from rng, so the bench family's drawings stay as they were.
            pick = int(rng.integers(len(spec.pictures))) if len(spec.pictures) > 1 else 0
            kind = name = spec.pictures[pick][0]
            template = spec.pictures[pick][1](rng)
        out.append(NonDigit(kind, name, _hand(template, rng)))
    return out
