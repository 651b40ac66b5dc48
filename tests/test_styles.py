"""The handwriting styles: each one, drawn from real pen digits, has the shape that makes it that style.

Every property is checked on several real digits of the style's class (writers 1-24, picked with a
fixed seed), on the strokes themselves and, for closed or open loops, on the rendered canvas.
"""

from __future__ import annotations

import inspect

import cv2
import numpy as np
import pytest

from digitdraw import pendigits, styles
from digitdraw.preprocess import preprocess

SAMPLES = 8  # real digits per style checked


@pytest.fixture(scope="module")
def pen_digits(pendigits_file):
    return pendigits.load_pendigits(pendigits_file, writers=pendigits.TUNE_WRITERS)


def samples(pen_digits, digit: int, n: int = SAMPLES) -> list[pendigits.PenDigit]:
    """n real pen digits of one class, from as many writers as possible (fixed choice)."""
    rng = np.random.default_rng(digit)
    of_class = [d for d in pen_digits if d.label == digit]
    return [of_class[i] for i in rng.choice(len(of_class), n, replace=False)]


def drawn(pen_digits, name: str, n: int = SAMPLES, seed: int = 0):
    """(original, styled strokes) pairs for style `name`."""
    rng = np.random.default_rng(seed)
    style = styles.STYLES[name]
    return [(d, style.draw(d.strokes, rng)) for d in samples(pen_digits, style.digit, n)]


# -- Geometry used by the checks ---------------------------------------------------------------


def box(strokes) -> tuple[np.ndarray, np.ndarray]:
    pts = np.concatenate(strokes)
    return pts.min(axis=0), pts.max(axis=0)


def crossings(a: np.ndarray, b: np.ndarray, skip_adjacent: bool = False) -> np.ndarray:
    """Points where polyline a crosses polyline b ((k, 2)); with skip_adjacent, a self-crossing test."""
    p, r = a[:-1], a[1:] - a[:-1]
    q, s = b[:-1], b[1:] - b[:-1]
    denom = r[:, None, 0] * s[None, :, 1] - r[:, None, 1] * s[None, :, 0]
    qp = q[None, :, :] - p[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[..., 0] * s[None, :, 1] - qp[..., 1] * s[None, :, 0]) / denom
        u = (qp[..., 0] * r[:, None, 1] - qp[..., 1] * r[:, None, 0]) / denom
    hit = (np.abs(denom) > 1e-12) & (t >= 0) & (t < 1) & (u >= 0) & (u < 1)
    if skip_adjacent:
        i, j = np.indices(hit.shape)
        hit &= np.abs(i - j) > 2
    i, _ = np.nonzero(hit)
    return p[i] + t[hit][:, None] * r[i]


def deviation(points: np.ndarray) -> float:
    """Largest distance of the points from the straight line between the first and the last."""
    a, b = points[0], points[-1]
    d = b - a
    length = float(np.hypot(*d))
    if length == 0:
        return float(np.max(np.linalg.norm(points - a, axis=1)))
    return float(np.max(np.abs(d[0] * (points[:, 1] - a[1]) - d[1] * (points[:, 0] - a[0]))) / length)


def holes(strokes) -> list[tuple[float, float]]:
    """Enclosed background regions of the digit drawn with a thin pen: their centres, as fractions
    of the ink's box (x, y; y down)."""
    image = pendigits.render(strokes, stroke_width=5, height=200, background="black")
    ink = (image[..., 0] > 100).astype(np.uint8)
    n, labels, stats, centres = cv2.connectedComponentsWithStats(1 - ink, connectivity=4)
    ys, xs = np.nonzero(ink)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    found = []
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        touches = x == 0 or y == 0 or x + w == image.shape[1] or y + h == image.shape[0]
        if not touches and area >= 12:  # not the outside, and not a speck between two strokes
            found.append(((centres[k][0] - x0) / (x1 - x0 + 1), (centres[k][1] - y0) / (y1 - y0 + 1)))
    return found


def body(strokes) -> np.ndarray:
    return max(strokes, key=lambda s: np.linalg.norm(np.diff(s, axis=0), axis=1).sum())


def lower_tail(stroke: np.ndarray, lo: np.ndarray, hi: np.ndarray, frac: float) -> np.ndarray:
    """The stroke's last run of points below `frac` of the height (top first)."""
    if stroke[0, 1] > stroke[-1, 1]:
        stroke = stroke[::-1]
    below = stroke[:, 1] >= lo[1] + frac * (hi[1] - lo[1])
    start = len(below) - np.argmin(below[::-1]) if not below.all() else 0
    return stroke[start:]


# -- Every style -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(styles.STYLES))
def test_a_style_is_seeded_random_pure_and_keeps_the_digit_in_place(pen_digits, name):
    style = styles.STYLES[name]
    for digit in samples(pen_digits, style.digit, 4):
        before = [s.copy() for s in digit.strokes]
        first = style.draw(digit.strokes, np.random.default_rng(5))
        again = style.draw(digit.strokes, np.random.default_rng(5))
        other = style.draw(digit.strokes, np.random.default_rng(6))
        assert all(np.array_equal(a, b) for a, b in zip(before, digit.strokes, strict=True)), "input changed"
        assert len(first) == len(again) and all(
            np.array_equal(a, b) for a, b in zip(first, again, strict=True)
        )
        assert len(first) != len(other) or any(
            a.shape != b.shape or not np.allclose(a, b) for a, b in zip(first, other, strict=True)
        ), "another seed drew the same thing"
        assert all(s.ndim == 2 and s.shape[1] == 2 and len(s) and np.isfinite(s).all() for s in first)
        # Same frame: about where the writer's digit was, and about its size.
        (lo0, hi0), (lo1, hi1) = box(digit.strokes), box(first)
        size0, size1 = float(max(hi0 - lo0)), float(max(hi1 - lo1))
        assert np.linalg.norm((lo1 + hi1) / 2 - (lo0 + hi0) / 2) < 0.35 * size0
        assert 0.6 * size0 < size1 < 1.8 * size0
        # And the app can read it: it renders and preprocesses to a 28x28 digit.
        assert preprocess(pendigits.render(first)).image is not None


def test_the_registry_names_each_style_with_its_digit_and_who_writes_it():
    assert {s.digit for s in styles.STYLES.values()} == {0, 1, 2, 4, 6, 7, 8, 9}
    for name, style in styles.STYLES.items():
        assert style.draw.__name__ == name
        doc = inspect.getdoc(style.draw)
        assert doc and len(doc.split()) > 20, f"{name}: say who writes that way"


def test_styled_redraws_a_pen_digit_and_refuses_the_wrong_one(pen_digits):
    zero, seven = samples(pen_digits, 0, 1)[0], samples(pen_digits, 7, 1)[0]
    out = styles.styled(zero, "slashed_zero", np.random.default_rng(0))
    assert (out.label, out.writer, len(out.strokes)) == (0, zero.writer, len(zero.strokes) + 1)
    with pytest.raises(ValueError, match="redraws a 0, not a 7"):
        styles.styled(seven, "slashed_zero", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown style 'zero_with_dot'.*slashed_zero"):
        styles.styled(zero, "zero_with_dot", np.random.default_rng(0))


@pytest.mark.parametrize("name", list(styles.STYLES))
def test_a_style_refuses_a_digit_without_ink(name):
    with pytest.raises(ValueError, match="at least one stroke"):
        styles.STYLES[name].draw([np.zeros((0, 2))], np.random.default_rng(0))


def test_a_sample_grid_of_every_style_is_saved(pen_digits, tmp_path):
    """A picture to look at: each style's row, real digit then styled, for several writers."""
    for name in styles.STYLES:
        tiles = []
        for original, strokes in drawn(pen_digits, name, 6, seed=1):
            for s in (original.strokes, strokes):
                tiles.append(
                    pendigits.render(s, canvas=96, stroke_width=6, height=76, background="black")[..., 0]
                )
        path = tmp_path / f"{name}.png"
        assert cv2.imwrite(str(path), np.hstack(tiles))
        assert cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).max() == 255


# -- What makes each style -----------------------------------------------------------------------


def test_slashed_zero_a_steep_stroke_through_the_loop_reaching_beyond_it(pen_digits):
    for original, strokes in drawn(pen_digits, "slashed_zero"):
        assert len(strokes) == len(original.strokes) + 1
        slash = strokes[-1]
        dx, dy = np.abs(slash[-1] - slash[0])
        assert dy > dx, "steeper than 45 degrees"
        loop = np.concatenate([crossings(slash, s) for s in original.strokes])
        assert len(loop) >= 2, "crosses the zero on the way in and on the way out"
        # The crossings lie inside the slash, its ends beyond them: it sticks out of the loop.
        along = (loop - slash[0]) @ (slash[-1] - slash[0]) / np.sum((slash[-1] - slash[0]) ** 2)
        assert along.min() > 0.03 and along.max() < 0.97


def test_bare_one_is_a_single_near_straight_stroke_as_tall_as_the_writers_one(pen_digits):
    leans = []
    for original, strokes in drawn(pen_digits, "bare_one", 20):
        assert len(strokes) == 1
        (stroke,) = strokes
        chord = float(np.linalg.norm(stroke[-1] - stroke[0]))
        assert deviation(stroke) < 0.05 * chord
        lo, hi = box(original.strokes)
        assert chord > 0.75 * (hi[1] - lo[1])
        assert stroke[0, 1] < stroke[-1, 1], "drawn downwards"
        leans.append(np.degrees(np.arctan2(stroke[0, 0] - stroke[-1, 0], stroke[-1, 1] - stroke[0, 1])))
    assert min(np.abs(leans)) < 10 and max(leans) > 20, "upright ones and slanted ones"


def test_continental_one_has_a_long_flag_or_a_foot(pen_digits):
    kinds = set()
    for original, strokes in drawn(pen_digits, "continental_one", 20):
        lo, hi = box(original.strokes)
        first = strokes[0]
        top = first[np.argmin(first[:, 1])]
        stem_height = first[:, 1].max() - top[1]
        flag = first[0]
        has_flag = flag[1] - top[1] > 0.15 * stem_height and top[0] - flag[0] > 0.15 * stem_height
        feet = [s for s in strokes[1:] if np.ptp(s[:, 0]) > 3 * np.ptp(s[:, 1])]
        has_foot = bool(feet) and abs(feet[0][:, 1].mean() - first[:, 1].max()) < 0.1 * stem_height
        if has_foot:  # the foot is centred on the stem's base
            assert feet[0][0, 0] < first[-1, 0] < feet[0][-1, 0]
        assert has_flag or has_foot
        kinds.add((has_flag, has_foot))
    assert len(kinds) == 3, f"flag, foot and both all happen (saw {kinds})"


def test_looped_two_crosses_itself_near_the_bottom_and_encloses_a_loop_there(pen_digits):
    for _, strokes in drawn(pen_digits, "looped_two"):
        lo, hi = box(strokes)
        stroke = body(strokes)
        points = crossings(stroke, stroke, skip_adjacent=True)
        assert np.any(points[:, 1] > lo[1] + 0.5 * (hi[1] - lo[1])), "a self-crossing in the lower half"
        assert any(y > 0.5 for _, y in holes(strokes)), "an enclosed loop in the lower half"


def test_open_four_arm_and_stem_never_meet_at_the_top(pen_digits):
    for _, strokes in drawn(pen_digits, "open_four"):
        assert len(strokes) == 2
        arm, stem = strokes
        lo, hi = box(strokes)
        width = hi[0] - lo[0]
        arm_top, stem_top = arm[np.argmin(arm[:, 1])], stem[np.argmin(stem[:, 1])]
        assert stem_top[0] - arm_top[0] > 0.2 * width, "a gap between the tops"
        assert len(crossings(arm, stem)) >= 1, "the bar crosses the stem"
        assert holes(strokes) == [], "nothing closed"


def test_curved_stem_four_stem_bends_left_at_the_bottom(pen_digits):
    for _, strokes in drawn(pen_digits, "curved_stem_four"):
        lo, hi = box(strokes)
        width = hi[0] - lo[0]
        stem = strokes[-1] if strokes[-1][0, 1] < strokes[-1][-1, 1] else strokes[-1][::-1]
        upper = stem[: int(0.5 * len(stem))]
        assert stem[-1, 0] < upper[:, 0].min() - 0.1 * width, "ends left of where it came down"
        assert deviation(stem) > 0.05 * (hi[1] - lo[1])


def test_open_six_loop_is_not_closed(pen_digits):
    for original, strokes in drawn(pen_digits, "open_six"):
        assert len(strokes) == len(original.strokes)
        assert len(body(strokes)) < len(body(original.strokes)), "the end of the loop is taken off"
        assert not any(y > 0.4 for _, y in holes(strokes)), "no closed loop at the bottom"


def loop_top(stroke: np.ndarray) -> int:
    """Index (in the stroke taken top first) of a six's loop top: its highest point after the lowest."""
    lowest = int(np.argmax(stroke[:, 1]))
    return lowest + int(np.argmin(stroke[lowest:, 1]))


def six_parts(strokes: list[np.ndarray]) -> tuple[float, float, float]:
    """A six's (loop top's height, stem: how far the six rises above it, loop: how far below it)."""
    lo, hi = box(strokes)
    path = body(strokes)
    path = path[::-1] if path[0, 1] > path[-1, 1] else path
    top = path[loop_top(path), 1]
    return top, top - lo[1], hi[1] - top


def test_short_stem_six_has_a_big_loop_under_a_stem_rising_at_most_60_percent_of_it(pen_digits):
    checked = 0
    for original, strokes in drawn(pen_digits, "short_stem_six", 16):
        # The same pen path, point for point, moved only up or down.
        assert [len(s) for s in strokes] == [len(s) for s in original.strokes]
        assert all(np.allclose(a[:, 0], b[:, 0]) for a, b in zip(strokes, original.strokes, strict=True))
        top, stem, loop = six_parts(strokes)
        _, o_stem, o_loop = six_parts(original.strokes)
        if o_loop < 0.2 * (o_stem + o_loop):
            continue  # a curl under a fifth of the six (or none, drawn upwards): the style's loop is more
        assert stem / loop < o_stem / o_loop, "a shorter stem than the writer's"
        assert stem <= 0.61 * loop, "the stem rises at most 60% of the loop's height above it"
        below = np.concatenate([s[s[:, 1] >= top] for s in strokes])
        assert loop >= 0.8 * np.ptp(below[:, 0]), "a round loop, not a flat one"
        checked += 1
    assert checked >= 8


def test_small_top_eight_keeps_the_lower_loop_and_shrinks_the_upper_one(pen_digits):
    for original, strokes in drawn(pen_digits, "small_top_eight"):
        assert [len(s) for s in strokes] == [len(s) for s in original.strokes]
        before, after = np.concatenate(original.strokes), np.concatenate(strokes)
        moved = np.any(np.abs(after - before) > 1e-9, axis=1)
        waist = before[moved, 1].max()  # the lowest point that moved: everything under it is kept
        assert moved.any() and np.allclose(after[before[:, 1] > waist], before[before[:, 1] > waist])
        lo0, lo1 = before[:, 1].min(), after[:, 1].min()
        assert waist - lo1 <= 0.61 * (waist - lo0), "the top loop at most 60% as tall"
        assert np.ptp(after[moved, 0]) <= np.ptp(before[moved, 0]) + 1e-6, "and no wider"


def test_crossed_seven_has_a_flat_bar_across_the_stem_at_mid_height(pen_digits):
    for _, strokes in drawn(pen_digits, "crossed_seven"):
        bar = strokes[-1]
        dx, dy = np.abs(bar[-1] - bar[0])
        assert dy < 0.3 * dx, "roughly horizontal"
        assert bar[0, 0] < bar[-1, 0], "drawn left to right"
        flat = [s for s in strokes[:-1] if np.ptp(s[:, 1]) < np.ptp(s[:, 0])]
        assert not flat, "the writer's own crossbar, if any, is replaced, not doubled"
        lo, hi = box(strokes)
        cross = crossings(bar, body(strokes))
        assert len(cross) >= 1, "it crosses the stem"
        assert np.all((cross[:, 1] - lo[1]) / (hi[1] - lo[1]) > 0.35)
        assert np.all((cross[:, 1] - lo[1]) / (hi[1] - lo[1]) < 0.72)


def seven_top(stroke: np.ndarray) -> np.ndarray:
    """The seven's path from its start to its top-right corner (top first)."""
    if stroke[0, 1] > stroke[-1, 1]:
        stroke = stroke[::-1]
    lo, hi = stroke.min(axis=0), stroke.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    corner = np.argmax((stroke[:, 0] - lo[0]) / span[0] - (stroke[:, 1] - lo[1]) / span[1])
    return stroke[: corner + 1]


def curved_or_hooked(strokes) -> bool:
    """A hook: the pen starts well below the top bar; an arch: the bar rises well above its chord."""
    lo, hi = box(strokes)
    height = hi[1] - lo[1]
    top = seven_top(body(strokes))
    hook = top[0, 1] - top[:, 1].min()
    a, d = top[0], top[-1] - top[0]
    above = -(d[0] * (top[:, 1] - a[1]) - d[1] * (top[:, 0] - a[0])) / max(float(np.hypot(*d)), 1e-6)
    return hook > 0.15 * height or above.max() > 0.1 * height


def test_curved_seven_top_is_curved_or_hooked_where_the_writers_was_not(pen_digits):
    pairs = drawn(pen_digits, "curved_seven", 20)
    assert all(curved_or_hooked(strokes) for _, strokes in pairs)
    # The check tells styles apart: most of the writers' own sevens have a straight bar.
    assert sum(curved_or_hooked(original.strokes) for original, _ in pairs) <= len(pairs) // 2


def test_straight_stem_nine_stem_is_a_straight_line(pen_digits):
    for _, strokes in drawn(pen_digits, "straight_stem_nine"):
        lo, hi = box(strokes)
        tail = lower_tail(max(strokes, key=lambda s: s[:, 1].max()), lo, hi, 0.55)
        assert tail[:, 1].max() - tail[:, 1].min() > 0.3 * (hi[1] - lo[1])
        assert deviation(tail) < 0.03 * (hi[1] - lo[1])


def test_curved_stem_nine_stem_curves_round_to_the_left(pen_digits):
    for _, strokes in drawn(pen_digits, "curved_stem_nine"):
        lo, hi = box(strokes)
        tail = lower_tail(max(strokes, key=lambda s: s[:, 1].max()), lo, hi, 0.55)
        assert tail[-1, 0] < tail[:, 0].max() - 0.15 * (hi[0] - lo[0])
        assert deviation(tail) > 0.05 * (hi[1] - lo[1])


def test_open_nine_loop_is_open_over_a_straight_stem(pen_digits):
    for _, strokes in drawn(pen_digits, "open_nine"):
        assert holes(strokes) == [], "the loop is not closed"
        lo, hi = box(strokes)
        (stroke,) = strokes
        start, end = (stroke[0], stroke[-1]) if stroke[0, 1] < stroke[-1, 1] else (stroke[-1], stroke[0])
        assert start[1] > lo[1] + 0.1 * (hi[1] - lo[1]), "the arc starts below the top"
        assert start[0] < end[0], "left of the stem"
        tail = lower_tail(stroke, lo, hi, 0.6)
        assert deviation(tail) < 0.04 * (hi[1] - lo[1])


def test_styled_digits_redraws_only_the_styles_class_afresh_for_each_copy(pen_digits):
    some = pen_digits[:200]
    nines = [d for d in some if d.label == 9]
    out = styles.styled_digits(some, "open_nine", np.random.default_rng(0), copies=2)
    assert len(out) == 2 * len(nines) > 0 and {d.label for d in out} == {9}
    first, second = out[0], out[len(nines)]  # the same writer's nine, drawn twice
    assert first.writer == second.writer
    assert not np.allclose(first.strokes[0][:5], second.strokes[0][:5])
    with pytest.raises(ValueError, match="unknown style 'open_eight'"):
        styles.styled_digits(some, "open_eight", np.random.default_rng(0))


@pytest.mark.parametrize("name", list(styles.STYLES))
def test_a_style_draws_every_real_digit_of_its_class(pen_digits, name):
    """No writer's way of drawing the digit (one stroke or three, any direction) breaks a style."""
    style, rng = styles.STYLES[name], np.random.default_rng(0)
    for digit in (d for d in pen_digits if d.label == style.digit):
        out = style.draw(digit.strokes, rng)
        assert out and all(len(s) and np.isfinite(s).all() for s in out), f"writer {digit.writer}"
