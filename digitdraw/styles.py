"""Handwriting conventions that MNIST and the pen writers barely contain, made from real pen digits.

Each style is a pure, seeded function `(strokes, rng) -> strokes` on the pendigits stroke format
(a list of (n, 2) float arrays, tablet coordinates, y down, points in pen order). It redraws one
writer's digit the way a person of that convention would write it, from that writer's own
geometry (bounding box, stroke points, pen direction), so the writer's size, slant and wobble
carry over. Inputs are never changed. `STYLES` names them all with the digit each applies to, so
training and the benchmark can iterate over them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from digitdraw.pendigits import PenDigit, as_strokes

Strokes = list[np.ndarray]
StyleFn = Callable[[Sequence[np.ndarray], np.random.Generator], Strokes]


# -- Geometry helpers --------------------------------------------------------------------


def _copy(strokes: Sequence[np.ndarray] | PenDigit) -> Strokes:
    # Copies: a style never changes the digit it was given.
    return [s.copy() for s in as_strokes(strokes, needs="a style")]


def _bbox(strokes: Strokes) -> tuple[np.ndarray, np.ndarray]:
    pts = np.concatenate(strokes)
    return pts.min(axis=0), pts.max(axis=0)


def _step(strokes: Strokes) -> float:
    """The writer's typical distance between samples, so new ink is sampled like the old."""
    lo, hi = _bbox(strokes)
    gaps = np.concatenate([np.linalg.norm(np.diff(s, axis=0), axis=1) for s in strokes if len(s) > 1] or [[]])
    gaps = gaps[gaps > 0]
    fallback = max(float(np.max(hi - lo)), 1.0) / 40
    return float(np.median(gaps)) if len(gaps) else fallback


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points along a polyline at (about) equal arc-length spacing `step`, ends kept."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(math.ceil(arc[-1] / max(step, 1e-6))) + 1)
    at = np.linspace(0.0, arc[-1], n)
    return np.stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])], axis=1)


def _line(a: np.ndarray, b: np.ndarray, step: float, bow: float = 0.0) -> np.ndarray:
    """A pen line from a to b; `bow` bends it sideways by that fraction of its length (a hand's arc)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = np.linspace(0.0, 1.0, 200)[:, None]
    normal = np.array([-(b - a)[1], (b - a)[0]])
    pts = a + t * (b - a) + bow * np.sin(np.pi * t) * normal
    return _resample(pts, step)


def _bezier(points: Sequence[np.ndarray], step: float) -> np.ndarray:
    """A Bezier curve through control points (first and last on the curve), sampled at `step`."""
    ctrl = np.asarray(points, float)
    t = np.linspace(0.0, 1.0, 200)
    n = len(ctrl) - 1
    basis = np.stack([math.comb(n, i) * t**i * (1 - t) ** (n - i) for i in range(n + 1)], axis=1)
    return _resample(basis @ ctrl, step)


def _join(*parts: np.ndarray) -> np.ndarray:
    """Concatenate pen paths, dropping a point repeated where two parts meet."""
    out = [part for part in parts[:1] if len(part)]
    for part in parts[1:]:
        if len(part) and out:
            part = part[1:] if np.allclose(part[0], out[-1][-1]) else part
        if len(part):
            out.append(part)
    return np.concatenate(out)


def _main(strokes: Strokes) -> int:
    """Index of the longest stroke (by path length): the digit's body."""
    return int(
        np.argmax([np.linalg.norm(np.diff(s, axis=0), axis=1).sum() if len(s) > 1 else 0 for s in strokes])
    )


def _line_hits(strokes: Strokes, origin: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Parameters t where the line origin + t * direction crosses the strokes' segments."""
    hits = []
    d = np.asarray(direction, float)
    for s in strokes:
        if len(s) < 2:
            continue
        p, q = s[:-1], s[1:]
        e = q - p
        denom = d[0] * e[:, 1] - d[1] * e[:, 0]
        ok = np.abs(denom) > 1e-12
        w = p - origin
        t = np.where(ok, (w[:, 0] * e[:, 1] - w[:, 1] * e[:, 0]) / np.where(ok, denom, 1), np.nan)
        u = np.where(ok, (w[:, 0] * d[1] - w[:, 1] * d[0]) / np.where(ok, denom, 1), np.nan)
        hits.append(t[ok & (u >= 0) & (u <= 1)])
    return np.concatenate(hits) if hits else np.zeros(0)


def _top_first(stroke: np.ndarray) -> tuple[np.ndarray, bool]:
    """The stroke oriented to start at its upper end, and whether it had to be reversed."""
    if stroke[0, 1] > stroke[-1, 1]:
        return stroke[::-1].copy(), True
    return stroke, False


# -- Zero ----------------------------------------------------------------------------------


def slashed_zero(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A zero with a slash through it (Ø), as written in Scandinavia and by engineers and programmers
    (to tell it from the letter O).

    A second stroke through the loop's middle at a random steep angle, drawn downwards, reaching a
    random distance beyond the loop on each side; mostly "/" and sometimes "\\".
    """
    out = _copy(strokes)
    lo, hi = _bbox(out)
    size = float(max(hi - lo))
    # A person aims the slash through the ring: where the zero is open, try other angles.
    for _ in range(12):
        centre = (lo + hi) / 2 + rng.normal(scale=0.04 * size, size=2)
        angle = math.radians(rng.uniform(45, 80))
        direction = np.array([math.cos(angle), -math.sin(angle)])  # "/" going up to the right
        if rng.random() < 0.15:
            direction[0] = -direction[0]  # "\"
        hits = _line_hits(out, centre, direction)
        if np.any(hits > 0) and np.any(hits < 0):
            break
    ahead = hits[hits > 0].max() if np.any(hits > 0) else size / 2
    behind = -hits[hits < 0].min() if np.any(hits < 0) else size / 2
    top = centre + direction * (ahead + rng.uniform(0.05, 0.3) * size)
    bottom = centre - direction * (behind + rng.uniform(0.05, 0.3) * size)
    out.append(_line(top, bottom, _step(out), bow=rng.uniform(-0.03, 0.03)))
    return out


# -- One -----------------------------------------------------------------------------------


def _one_stem(strokes: Strokes) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom of a one's stem: the topmost point and the lowest point of the body."""
    body = strokes[_main(strokes)]
    top = body[np.argmin(body[:, 1])]
    bottom = body[np.argmax(body[:, 1])]
    return top, bottom


def bare_one(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A one as a single bare stroke, no flag and no foot: the usual one in the US, the UK and much
    of Asia, and anyone writing fast.

    One near-straight downstroke as long as this writer's one is tall, through its middle: mostly
    upright or slanted, sometimes leaning far over (up to 60 degrees, nearly flat).
    """
    src = _copy(strokes)
    lo, hi = _bbox(src)
    top, bottom = _one_stem(src)
    length = float(np.linalg.norm(top - bottom)) * rng.uniform(0.9, 1.05)
    kind = rng.random()
    lean = rng.uniform(-8, 12) if kind < 0.5 else rng.uniform(12, 35) if kind < 0.85 else rng.uniform(35, 60)
    lean = math.radians(lean)
    half = 0.5 * length * np.array([math.sin(lean), -math.cos(lean)])  # from the middle to the top
    mid = (lo + hi) / 2
    return [_line(mid + half, mid - half, _step(src), bow=rng.uniform(-0.03, 0.03))]


def continental_one(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A continental one: a long flag rising into the top of the stem, and/or a foot across its base,
    as written in Germany, France, much of Europe and Latin America (where a bare stroke is too
    easily an l or a seven's stem).

    The writer's stem (top to bottom), with a flag of 35-70% of its height coming up from the left
    at 25-55 degrees above the horizontal, drawn in one stroke with the stem, and/or a separate
    foot stroke centred on the stem's base.
    """
    src = _copy(strokes)
    top, bottom = _one_stem(src)
    step = _step(src)
    height = float(np.linalg.norm(bottom - top))
    kind = rng.choice(["flag", "flag+foot", "foot"], p=[0.4, 0.4, 0.2])
    stem = _line(top, bottom, step, bow=rng.uniform(-0.02, 0.02))
    out = []
    if "flag" in kind:
        drop = math.radians(rng.uniform(25, 55))  # the flag's angle below the horizontal, to the left
        start = top + np.array([-math.cos(drop), math.sin(drop)]) * height * rng.uniform(0.35, 0.7)
        out.append(_join(_line(start, top, step, bow=rng.uniform(-0.06, 0.02)), stem))
    else:
        out.append(stem)
    if "foot" in kind:
        half = height * rng.uniform(0.18, 0.35)
        tilt = math.radians(rng.uniform(-5, 5))
        across = np.array([math.cos(tilt), math.sin(tilt)]) * half
        base = bottom + np.array([rng.uniform(-0.05, 0.05) * height, 0.0])
        out.append(_line(base - across, base + across, step))
    return out


# -- Seven ---------------------------------------------------------------------------------


def _seven_corner(body: np.ndarray) -> int:
    """Index of a seven's corner: the body's point furthest up and to the right."""
    lo, hi = body.min(axis=0), body.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    score = (body[:, 0] - lo[0]) / span[0] - (body[:, 1] - lo[1]) / span[1]
    return int(np.argmax(score))


def crossed_seven(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A seven with a bar across its stem, as written in most of continental Europe, Latin America
    and by many mathematicians (to tell it from a one with a flag).

    The writer's seven (any crossbar of its own replaced) with a roughly horizontal stroke across the
    stem at 45-62% of the height, drawn left to right, 60-120% as wide as the seven (as wide as
    the writers who cross their sevens draw it), reaching further left of the stem than right.
    """
    src = _copy(strokes)
    body_i = _main(src)
    body = src[body_i]
    blo, bhi = body.min(axis=0), body.max(axis=0)
    # The writer's own flat strokes are a crossbar already: the new one replaces them.
    keep = [s for i, s in enumerate(src) if i == body_i or np.ptp(s[:, 1]) > np.ptp(s[:, 0])]
    lo, hi = _bbox(keep)
    w, h = hi - lo
    y = lo[1] + rng.uniform(0.45, 0.62) * h
    stem = body[_seven_corner(body) :]
    hits = _line_hits([stem], np.array([blo[0], y]), np.array([1.0, 0.0]))
    x = blo[0] + (float(np.median(hits)) if len(hits) else 0.5 * (bhi[0] - blo[0]))
    half = max(w, 0.5 * h) * rng.uniform(0.3, 0.6)
    centre = np.array([x - rng.uniform(0.0, 0.6) * half, y])  # mostly reaching further left
    tilt = math.radians(rng.uniform(-10, 6))  # a little uphill to the right, mostly
    across = np.array([math.cos(tilt), math.sin(tilt)]) * half
    return [*keep, _line(centre - across, centre + across, _step(src), bow=rng.uniform(-0.04, 0.04))]


def curved_seven(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A seven with a curved or hooked top: an arched top bar (many school scripts and fast
    hands) or a hook hanging from the bar's left end (European hands, often with a crossbar too).

    One of the two, at random, on the writer's own seven, its stem kept: the top bar redrawn as
    an arch rising 12-22% of the height above the straight line, or a hook that starts 18-32% of
    the height below the bar's left end and rises into it.
    """
    src = _copy(strokes)
    body_i = _main(src)
    body, flipped = _top_first(src[body_i])
    lo, hi = body.min(axis=0), body.max(axis=0)
    h = max(float(hi[1] - lo[1]), 1.0)
    w = max(float(hi[0] - lo[0]), 0.3 * h)
    step = _step(src)
    k = _seven_corner(body)
    bar, stem = body[: k + 1], body[k:]
    start, corner = bar[0], bar[-1]
    if rng.random() < 0.5:  # arched: a quadratic Bezier peaks halfway to its control point
        start = start + np.array([0.0, rng.uniform(0.0, 0.15) * h])
        lift = rng.uniform(0.25, 0.45) * h
        control = (start + corner) / 2 + np.array([rng.uniform(-0.1, 0.1) * w, -lift])
        new = _join(_bezier([start, control, corner], step), stem)
    else:
        hook_start = start + np.array([rng.uniform(-0.08, 0.05) * w, rng.uniform(0.18, 0.32) * h])
        hook = _bezier([hook_start, start + np.array([-0.04 * w, -0.02 * h]), start], step)
        new = _join(hook, bar, stem)
    src[body_i] = new[::-1].copy() if flipped else new
    return src


# -- Four ----------------------------------------------------------------------------------


def _four_stem(strokes: Strokes) -> int | None:
    """Index of a four's separate stem stroke (tall, on the right, drawn after the arm), if any."""
    lo, hi = _bbox(strokes)
    w, h = hi - lo
    for i in range(len(strokes) - 1, 0, -1):
        s = strokes[i]
        if np.ptp(s[:, 1]) > 0.5 * h and s[:, 0].mean() > lo[0] + 0.4 * w:
            return i
    return None


def open_four(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A four open at the top, the arm and the stem never meeting: the usual four in school scripts
    of the US, the UK and much of Europe (where the printed, closed four is a typeface's).

    The writer's stem kept where it is a stroke of its own (else one along the right of the box);
    the arm redrawn as one stroke: down from near the top-left corner, then across to the right at
    50-68% of the height, past the stem.
    """
    src = _copy(strokes)
    lo, hi = _bbox(src)
    w, h = hi - lo
    w = max(w, 0.55 * h)  # room for the gap between arm and stem
    step = _step(src)
    stem_i = _four_stem(src)
    if stem_i is not None:
        stem, _ = _top_first(src[stem_i])
    else:
        x = lo[0] + rng.uniform(0.6, 0.78) * w
        stem = _line((x + rng.uniform(0, 0.1) * w, lo[1]), (x, hi[1]), step, bow=rng.uniform(-0.03, 0.03))
    bar_y = lo[1] + rng.uniform(0.5, 0.68) * h
    stem_x = (
        float(np.interp(bar_y, stem[:, 1], stem[:, 0]))
        if np.all(np.diff(stem[:, 1]) >= 0)
        else stem[:, 0].mean()
    )
    elbow = np.array([min(lo[0] + rng.uniform(-0.05, 0.1) * w, stem_x - 0.3 * w), bar_y])
    # The arm upright or leaning right at the top, never reaching the stem: the top stays open.
    arm_x = min(elbow[0] + rng.uniform(-0.05, 0.3) * w, stem[0, 0] - 0.35 * w)
    arm_top = np.array([arm_x, lo[1] + rng.uniform(0.0, 0.2) * h])
    end = np.array(
        [max(hi[0], stem_x + 0.15 * w) + rng.uniform(0.0, 0.12) * w, bar_y + rng.uniform(-0.06, 0.03) * h]
    )
    arm = _join(_line(arm_top, elbow, step, bow=rng.uniform(-0.05, 0.05)), _line(elbow, end, step))
    return [arm, stem]


def curved_stem_four(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A four whose stem curls to the left at the bottom, as in cursive and fast hands (the pen
    already on its way to the next digit).

    The writer's four, open if its stem is not a stroke of its own, with the stem straight for its
    top 55-75% and then bending left by 15-35% of the width.
    """
    src = _copy(strokes)
    stem_i = _four_stem(src)
    if stem_i is None:
        src = open_four(src, rng)
        stem_i = 1
    lo, hi = _bbox(src)
    w = max(float(hi[0] - lo[0]), 0.4 * float(hi[1] - lo[1]))
    stem, _ = _top_first(src[stem_i])
    j = min(len(stem) - 2, max(1, int(len(stem) * rng.uniform(0.55, 0.75))))
    bottom = stem[-1]
    end = bottom + np.array([-rng.uniform(0.15, 0.35) * w, -rng.uniform(0.0, 0.08) * w])
    src[stem_i] = _join(stem[: j + 1], _bezier([stem[j], bottom, end], _step(src)))
    return src


# -- Nine ----------------------------------------------------------------------------------


def _nine_stem(strokes: Strokes) -> tuple[int, np.ndarray, bool, int]:
    """(stroke index, that stroke top first, whether reversed, index where its stem starts)."""
    lo, hi = _bbox(strokes)
    i = int(np.argmax([s[:, 1].max() for s in strokes]))  # the stroke that reaches the bottom
    stroke, flipped = _top_first(strokes[i])
    above = np.nonzero(stroke[:, 1] <= lo[1] + 0.45 * (hi[1] - lo[1]))[0]
    k = int(above[-1]) if len(above) else 0
    return i, stroke, flipped, min(k, len(stroke) - 2)


def _with_tail(strokes: Strokes, tail_fn: Callable[[np.ndarray], np.ndarray]) -> Strokes:
    """The nine with its stem replaced by tail_fn(point where the stem leaves the loop), pen
    direction kept."""
    out = list(strokes)
    i, stroke, flipped, k = _nine_stem(out)
    new = _join(stroke[: k + 1], tail_fn(stroke[k]))
    out[i] = new[::-1].copy() if flipped else new
    return out


def straight_stem_nine(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A nine with a straight stem, a plain line down from the loop: the print-like nine of most
    schools and of anyone printing digits on forms.

    The writer's loop kept; the stem redrawn as a straight line from where it leaves the loop down
    to the writer's bottom, upright or slanting a little to the left.
    """
    src = _copy(strokes)
    lo, hi = _bbox(src)
    step = _step(src)

    def tail(start: np.ndarray) -> np.ndarray:
        drop = hi[1] - start[1]
        end = np.array([start[0] + rng.uniform(-0.3, 0.05) * drop, hi[1]])
        return _line(start, end, step, bow=rng.uniform(-0.015, 0.015))

    return _with_tail(src, tail)


def curved_stem_nine(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A nine whose stem curves round to the left at the bottom, like a g: cursive hands, much of
    Europe and Latin America.

    The writer's loop kept; the stem redrawn as a curve from where it leaves the loop, down past
    the writer's bottom line and round to the left, ending 25-60% of the width left of the stem.
    """
    src = _copy(strokes)
    lo, hi = _bbox(src)
    w = max(float(hi[0] - lo[0]), 0.4 * float(hi[1] - lo[1]))
    step = _step(src)

    def tail(start: np.ndarray) -> np.ndarray:
        bottom = np.array([start[0] + rng.uniform(-0.05, 0.12) * w, hi[1]])
        end = np.array(
            [start[0] - rng.uniform(0.25, 0.6) * w, hi[1] - rng.uniform(0.02, 0.2) * (hi[1] - start[1])]
        )
        return _bezier([start, bottom, end], step)

    return _with_tail(src, tail)


def open_nine(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A nine whose loop is left open at the bottom left, a hook over the stem rather than a closed
    ring: fast writers in many countries (the nine that reads as a seven or a four).

    The loop redrawn as an arc from the writer's top down to where the writer's stem leaves the
    loop, starting at the lower left and going up over the top and down the right into the stem,
    leaving the bottom of the loop out; the stem a near-straight line as long and as slanted as
    the writer's (a curling stem under an open loop would read as a three).
    """
    src = _copy(strokes)
    i, stroke, flipped, k = _nine_stem(src)
    start = stroke[k]
    lo, hi = _bbox(src)
    # Angles on screen (y down): 90 is the bottom, 180 the left, 270 the top, 360 the right. The arc
    # ends at the stem's start, a little below the loop's middle, and its top is the digit's top.
    end = math.radians(rng.uniform(370, 395))
    ry = max(float(start[1] - lo[1]), 0.15 * float(hi[1] - lo[1])) / (1 + math.sin(end))
    rx = ry * rng.uniform(0.85, 1.3)
    centre = start - np.array([rx * math.cos(end), ry * math.sin(end)])
    theta = np.linspace(math.radians(rng.uniform(105, 160)), end, 120)
    arc = centre + np.stack([rx * np.cos(theta), ry * np.sin(theta)], axis=1)
    tail = stroke[k:]
    drop = max(float(tail[-1, 1] - start[1]), 1e-6)
    slant = float(np.clip((tail[-1, 0] - start[0]) / drop, -0.35, 0.1))
    stem = _line(start, (start[0] + slant * drop, tail[-1, 1]), _step(src), bow=rng.uniform(-0.02, 0.02))
    new = _join(_resample(arc, _step(src)), stem)
    # The old loop, in whatever strokes it was, is replaced by the arc.
    return [new[::-1].copy() if flipped else new]


# -- Two and six -----------------------------------------------------------------------------


def looped_two(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A two with a small loop where the diagonal meets the base, as in cursive school scripts
    (French, Italian, Spanish, US Palmer-style) and many adult hands.

    The writer's two, its pen path interrupted at the bottom-left corner by a loop of 8-16% of its
    height that goes left, up, over and down through the diagonal before the base carries on.
    """
    src = _copy(strokes)
    body_i = _main(src)
    body, flipped = _top_first(src[body_i])
    lo, hi = body.min(axis=0), body.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    step = _step(src)
    half = len(body) // 3
    score = (body[half:, 1] - lo[1]) / span[1] - (body[half:, 0] - lo[0]) / span[0]
    c = half + int(np.argmax(score))
    corner = body[c]
    r = rng.uniform(0.08, 0.16) * span[1]
    rx, ry = r * rng.uniform(0.8, 1.3), r
    tilt = math.radians(rng.uniform(-25, 25))
    phi = np.linspace(np.pi / 2, 5 * np.pi / 2, 80)
    ring = np.stack([rx * np.cos(phi), ry * np.sin(phi) - ry], axis=1)
    rot = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    ring = corner + (ring - ring[0]) @ rot.T
    base = body[c:]
    if len(base) < 3:  # no base of its own: carry on to the right
        base = _line(corner, corner + np.array([0.5 * span[0], 0.0]), step)
    new = _join(body[: c + 1], _resample(ring, step), base)
    src[body_i] = new[::-1].copy() if flipped else new
    return src


def open_six(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A six whose loop is left open, the pen stopping short of the stem: fast hands everywhere.

    The writer's six with the end of its loop taken off, until the pen's last point is 10-22% of
    the digit's size away from the rest of the path (at least 3-10% of the size and at most 40% of
    the stroke removed).
    """
    src = _copy(strokes)
    body_i = _main(src)
    body = src[body_i]
    flipped = body[0, 1] > body[-1, 1]  # the loop's end is the lower end
    path = body[::-1] if not flipped else body  # the loop's end first
    lo, hi = _bbox(src)
    size = float(max(hi - lo))
    gap = rng.uniform(0.1, 0.22) * size
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    cut = 0
    limit = int(0.4 * len(path))
    least = rng.uniform(0.03, 0.1) * size  # even a six left open already loses a little more
    while cut < limit:
        far = path[arc > arc[cut] + 2.5 * gap]
        if arc[cut] >= least and (not len(far) or np.min(np.linalg.norm(far - path[cut], axis=1)) >= gap):
            break
        cut += 1
    kept = path[cut:].copy()
    if len(kept) > 2:  # the pen stops anywhere along its last segment, not only on a sample
        kept[0] = kept[0] + rng.uniform(0.0, 0.8) * (kept[1] - kept[0])
    src[body_i] = kept.copy() if flipped else kept[::-1].copy()
    return src


def _loop_top(stroke: np.ndarray) -> float:
    """A six's loop top: the highest the pen rises (y down: the least y) after the stroke's lowest point,
    the stroke taken top first; its middle height where the stroke ends at its bottom."""
    stroke, _ = _top_first(stroke)
    after = stroke[int(np.argmax(stroke[:, 1])) :]
    lo, hi = stroke[:, 1].min(), stroke[:, 1].max()
    top = float(after[:, 1].min()) if len(after) > 2 else (lo + hi) / 2
    return float(np.clip(top, lo + 0.2 * (hi - lo), lo + 0.8 * (hi - lo)))


def short_stem_six(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """A six with a short stem: a big, round loop with the stem rising only a little above it, as
    print-like and fast hands write it in many countries (the six that a reader of long-stemmed sixes
    takes for a zero with a flick at the top).

    The writer's six with everything above its loop's top squeezed down until the stem rises
    25-60% of the loop's height above it (never taller than the writer's own), then the whole
    digit stretched upright until the loop is 0.85-1.15 times as tall as it is wide (pen sixes'
    loops are flat: squeezed alone, they read as a wide, low scrawl).
    """
    src = _copy(strokes)
    top = _loop_top(src[_main(src)])
    lo, hi = _bbox(src)
    stem, loop = top - float(lo[1]), float(hi[1]) - top
    ratio = stem / max(loop, 1e-6)
    target = min(rng.uniform(0.25, 0.6), ratio * rng.uniform(0.6, 0.9))
    squeeze = target / max(ratio, 1e-6)
    # Never empty: the loop's top lies within the body's own height, so its lowest point is below it.
    below = np.concatenate([s[s[:, 1] >= top] for s in src])
    width = float(np.ptp(below[:, 0]))
    stretch = max(1.0, width * rng.uniform(0.85, 1.15) / max(loop, 1e-6))
    bottom = float(hi[1])
    out = []
    for s in src:
        s = s.copy()
        above = s[:, 1] < top
        s[above, 1] = top - (top - s[above, 1]) * squeeze
        s[:, 1] = bottom - (bottom - s[:, 1]) * stretch  # upright from the writer's baseline
        out.append(s)
    return out


# -- Eight ---------------------------------------------------------------------------------------


def _waist(strokes: Strokes) -> tuple[float, float]:
    """An eight's waist (x, y): where its ink is narrowest between 30% and 70% of its height."""
    lo, hi = _bbox(strokes)
    h = max(float(hi[1] - lo[1]), 1e-6)
    pts = np.concatenate([_resample(s, h / 200) if len(s) > 1 else s for s in strokes])
    rows = np.linspace(lo[1] + 0.3 * h, lo[1] + 0.7 * h, 21)
    band = h / 40
    best = (np.inf, float(pts[:, 0].mean()), float(lo[1] + 0.5 * h))
    for y in rows:
        near = pts[np.abs(pts[:, 1] - y) <= band, 0]
        if len(near) and near.max() - near.min() < best[0]:
            best = (float(near.max() - near.min()), float((near.max() + near.min()) / 2), float(y))
    return best[1], best[2]


def small_top_eight(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Strokes:
    """An eight whose top loop is much smaller than its bottom one (a "snowman"), as fast and
    print-like hands write it everywhere: a small ring perched on a big one.

    The writer's eight with its upper part, above the waist, shrunk to 30-60% of its size towards
    the waist (its height by that factor, and its width too but for the part nearest the waist,
    which narrows gradually so that the strokes stay joined); the lower loop is kept.
    """
    src = _copy(strokes)
    x_w, y_w = _waist(src)
    lo, _ = _bbox(src)
    upper = max(y_w - float(lo[1]), 1e-6)
    f = rng.uniform(0.3, 0.6)
    out = []
    for s in src:
        s = s.copy()
        above = s[:, 1] < y_w
        t = np.minimum((y_w - s[above, 1]) / (0.3 * upper), 1.0)  # 0 at the waist, 1 from 30% up
        s[above, 0] = x_w + (s[above, 0] - x_w) * (1 - (1 - f) * t)
        s[above, 1] = y_w - (y_w - s[above, 1]) * f
        out.append(s)
    return out


# -- Registry ----------------------------------------------------------------------------------


class Style(NamedTuple):
    digit: int  # the digit the style redraws
    draw: StyleFn


STYLES: dict[str, Style] = {
    "slashed_zero": Style(0, slashed_zero),
    "bare_one": Style(1, bare_one),
    "continental_one": Style(1, continental_one),
    "looped_two": Style(2, looped_two),
    "open_four": Style(4, open_four),
    "curved_stem_four": Style(4, curved_stem_four),
    "open_six": Style(6, open_six),
    "short_stem_six": Style(6, short_stem_six),
    "crossed_seven": Style(7, crossed_seven),
    "curved_seven": Style(7, curved_seven),
    "small_top_eight": Style(8, small_top_eight),
    "straight_stem_nine": Style(9, straight_stem_nine),
    "curved_stem_nine": Style(9, curved_stem_nine),
    "open_nine": Style(9, open_nine),
}


def styled(digit: PenDigit, name: str, rng: np.random.Generator) -> PenDigit:
    """The pen digit redrawn in style `name` (a key of STYLES); the digit must be that style's digit."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; known styles: {', '.join(STYLES)}")
    style = STYLES[name]
    if digit.label != style.digit:
        raise ValueError(f"style {name!r} redraws a {style.digit}, not a {digit.label}")
    return PenDigit(label=digit.label, writer=digit.writer, strokes=style.draw(digit.strokes, rng))


def styled_digits(
    digits: Sequence[PenDigit], name: str, rng: np.random.Generator, copies: int = 1
) -> list[PenDigit]:
    """Every digit of style `name`'s class in `digits`, redrawn in that style `copies` times (each
    copy drawn afresh); digits of other classes are left out."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; known styles: {', '.join(STYLES)}")
    mine = [d for d in digits if d.label == STYLES[name].digit]
    return [styled(d, name, rng) for _ in range(copies) for d in mine]
