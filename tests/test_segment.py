"""Splitting a drawing of several digits into one image per digit, left to right."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ONE, SEVEN, needs_pendigits

from digitdraw import pendigits, segment
from digitdraw.preprocess import preprocess
from digitdraw.strokes import render_as_drawn

# A 5 drawn as two strokes, the top bar lifted well clear of the body (tablet box, y down).
FIVE_BODY = [
    np.array([[130, 110], [120, 250], [200, 220], [290, 240], [320, 320], [290, 410], [130, 420]], float)
]
FIVE_BAR = [np.array([[170, 60], [350, 60]], float)]


def components(img: np.ndarray) -> int:
    return cv2.connectedComponents((img[..., 3] >= 64).astype(np.uint8))[0] - 1


@pytest.fixture(scope="module")
def writers_digits(pendigits_file):
    """{(writer, label): the writer's first such digit}, writers 25-30."""
    first: dict[tuple[int, int], pendigits.PenDigit] = {}
    for d in pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS):
        first.setdefault((d.writer, d.label), d)
    return first


def number(writers_digits, writer: int, text: str, gap: float = 40):
    img, strokes = segment.render_number(
        [writers_digits[(writer, int(c))].strokes for c in text], [gap] * (len(text) - 1)
    )
    return img, strokes


def closest_gap(a, b) -> int:
    """The gap (px, 3 px steps) at which b comes closest to a without their inks touching."""
    alone = components(segment.render_number([a], [])[0]) + components(segment.render_number([b], [])[0])
    gap = 0
    while components(segment.render_number([a, b], [gap - 3])[0]) == alone:
        gap -= 3
    return gap


# --------------------------------------------------------------------------- synthetic


def test_an_empty_canvas_has_no_segments():
    assert segment.segment(np.zeros((100, 300, 4), np.uint8)) == []


def test_specks_too_small_to_be_ink_are_no_segments_not_a_crash():
    # A black photo with one hot pixel, or a blank page with a few dust specks.
    hot_pixel = np.zeros((300, 400), np.uint8)
    hot_pixel[120, 200] = 255
    dusty = np.full((300, 400), 255, np.uint8)
    dusty[[40, 150, 260], [30, 220, 390]] = 0
    assert segment.segment(hot_pixel) == []
    assert segment.segment(dusty) == []


def test_a_single_digit_is_one_segment_covering_its_ink():
    img, _ = segment.render_number([SEVEN], [])
    (only,) = segment.segment(img)
    cols = np.flatnonzero(img[..., 3].max(axis=0) >= 64)
    assert abs(only.x0 - cols[0]) <= 2 and abs(only.x1 - (cols[-1] + 1)) <= 2


def test_seventeen_is_two_segments_left_to_right():
    img, _ = segment.render_number([ONE, SEVEN], [60])
    first, second = segment.segment(img)
    assert first.x1 <= second.x0
    assert first.image.shape[1] < second.image.shape[1]  # the 1 is the narrow one


def test_a_five_with_a_detached_bar_is_one_digit():
    img, _ = segment.render_number([FIVE_BODY + FIVE_BAR], [])
    assert components(img) == 2  # the bar really is apart
    assert len(segment.segment(img)) == 1


def test_an_eight_drawn_as_two_circles_one_above_the_other_is_one_digit():
    # Each circle is as tall as the line would be for either alone, and they overlap in x only
    # partly (the top one leans right), as a held-out writer drew it: it was read "00".
    t = np.linspace(0, 2 * np.pi, 40)
    top = np.stack([150 + 45 * np.cos(t), 85 + 42 * np.sin(t)], axis=1)
    bottom = np.stack([118 + 45 * np.cos(t), 205 + 48 * np.sin(t)], axis=1)
    img = pendigits.render([top, bottom], height=200)
    assert components(img) == 2  # the circles really are apart
    for strokes in (None, [top, bottom]):
        assert len(segment.segment(img, strokes)) == 1


def test_a_dot_beside_a_digit_joins_it_and_a_far_speck_is_dropped():
    img, _ = segment.render_number([ONE], [])
    h, w = img.shape[:2]
    ink = np.flatnonzero(img[..., 3].max(axis=0))
    with_dot = img.copy()
    cv2.circle(with_dot, (int(ink[-1]) + 20, 40), 8, (255, 255, 255, 255), -1)
    assert len(segment.segment(with_dot)) == 1
    wide = np.zeros((h, w + 400, 4), np.uint8)
    wide[:, :w] = img
    cv2.circle(wide, (w + 350, h // 2), 5, (255, 255, 255, 255), -1)
    assert len(segment.segment(wide)) == 1


@pytest.mark.parametrize("pen", [6, 18, 40])
def test_a_long_dash_is_one_mark_not_a_row_of_digits(pen):
    dash = pendigits.render([np.array([[30.0, 140.0], [250.0, 140.0]])], stroke_width=pen)
    assert len(segment.segment(dash)) == 1


def test_each_segment_holds_only_its_own_ink():
    img, _ = segment.render_number([ONE, SEVEN], [60])
    one, seven = segment.segment(img)
    # The 1's crop, preprocessed, is a thin vertical digit: none of the 7's bar came with it.
    prepared = preprocess(one.image).image
    cols = np.flatnonzero(prepared.max(axis=0) > 0.25)
    assert cols[-1] - cols[0] < 10
    assert preprocess(seven.image).image is not None


def test_strokes_tell_touching_digits_apart():
    # A 1 whose ink runs into the 0 beside it: one clump, not wide enough to be cut by shape.
    zero = [np.array([[250 + 150 * np.cos(t), 250 + 200 * np.sin(t)] for t in np.linspace(0, 6.4, 40)])]
    img, strokes = segment.render_number([ONE, zero], [-10])
    assert components(img) == 1
    assert len(segment.segment(img)) == 1  # without strokes: read as one
    assert len(segment.segment(img, strokes)) == 2


# Digits of several strokes, as held-out writers draw them: a 4 whose stem crosses its bar; a 4
# whose stem starts at the end of its bar, below it and beside the rest; a 5 whose bar starts on
# the body and runs well past it (less than half of it above the body).
FOUR_CROSSING = [
    np.array([[200, 50], [80, 300], [380, 300]], float),
    np.array([[300, 120], [300, 450]], float),
]
FOUR_T = [np.array([[200, 50], [60, 300], [300, 300]], float), np.array([[300, 300], [360, 450]], float)]
FIVE_TOUCHING = [
    np.array(
        [[250, 112], [140, 130], [130, 250], [220, 220], [300, 240], [330, 320], [300, 410], [140, 420]]
    ),
    np.array([[250, 110], [420, 100]], float),
]
SEVEN_CROSSED = [
    np.array([[80, 60], [380, 60], [200, 450]], float),
    np.array([[130, 250], [230, 250]], float),
]


def nearest_stroke_in_the_whole_picture(core: np.ndarray, paths: list[np.ndarray]) -> np.ndarray:
    """Each pixel's nearest path (its index), measured over the whole picture: what the pieces mean."""
    dists = []
    for pts in paths:
        path = np.full(core.shape, 255, np.uint8)
        fixed = np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(path, [fixed], False, 0, 1, cv2.LINE_8, 4)
        for x, y in fixed.reshape(-1, 2):
            cv2.circle(path, (int(x), int(y)), 8, 0, -1, cv2.LINE_8, 4)
        dists.append(cv2.distanceTransform(path, cv2.DIST_L2, 3))
    return np.argmin(np.stack(dists), axis=0)


@pytest.mark.parametrize(
    "shift", [(0, 0), (-60, 0), (0, 120), (150, -40)], ids=["inside", "left", "low", "off"]
)
def test_each_ink_pixel_goes_to_the_stroke_whose_path_is_nearest(shift):
    # Measured in the box round the ink and the paths, the same as in the whole picture, strokes
    # that run past the picture's edge too.
    img, strokes = segment.render_number([FOUR_CROSSING, SEVEN_CROSSED, ONE], [-20, 10])
    paths = [np.asarray(p, np.float64) + shift for p in strokes]
    core = np.roll(img[..., 3], shift[::-1], axis=(0, 1)) >= 128
    nearest = nearest_stroke_in_the_whole_picture(core, paths)
    pieces = segment._stroke_pieces(core, paths)
    assert len(pieces) >= 3
    for mask, (path,) in pieces:
        k = next(i for i, p in enumerate(paths) if np.array_equal(p, path))
        assert np.array_equal(mask, core & (nearest == k))
    assert np.array_equal(np.logical_or.reduce([m for m, _ in pieces]), core)


def ink_columns(img: np.ndarray) -> np.ndarray:
    return np.flatnonzero(img[..., 3].max(axis=0) >= 64)


@pytest.mark.parametrize("digit", [FOUR_CROSSING, FOUR_T, FIVE_TOUCHING, SEVEN_CROSSED])
@pytest.mark.parametrize("gap", [10, 25, 40])
def test_a_digit_of_several_strokes_stays_one_digit_between_others_when_strokes_are_given(digit, gap):
    # A thin pen: a thick one widens every piece's box until they overlap anyway.
    img, strokes = segment.render_number([ONE, digit, SEVEN], [gap, gap], height=110, stroke_width=8)
    segs = segment.segment(img, strokes)
    assert len(segs) == 3
    cols = ink_columns(segment.render_number([digit], [], height=110, stroke_width=8)[0])
    assert abs((segs[1].x1 - segs[1].x0) - (cols[-1] + 1 - cols[0])) <= 4  # all of its ink, no more


def test_a_crossbar_joins_its_own_seven_not_the_digit_drawn_before_it():
    # The bar is small enough to count as a tiny piece, and within reach of the 1 on the left.
    img, strokes = segment.render_number([ONE, SEVEN_CROSSED], [12], height=110, stroke_width=8)
    one, seven = segment.segment(img, strokes)
    alone = ink_columns(segment.render_number([ONE], [], height=110, stroke_width=8)[0])
    assert one.x1 - one.x0 <= alone[-1] + 1 - alone[0] + 2


def test_render_number_needs_one_gap_fewer_than_digits():
    with pytest.raises(ValueError, match="need 1 gaps"):
        segment.render_number([ONE, SEVEN], [])


def test_bad_pixels_get_a_clear_error():
    with pytest.raises(ValueError, match="expected an"):
        segment.segment(np.zeros((10, 10, 5)))


# --------------------------------------------------------------------------- real pen digits


@needs_pendigits
@pytest.mark.parametrize(
    ("writer", "text"), [(25, "2026"), (26, "17"), (27, "314"), (28, "90"), (30, "4815")]
)
def test_numbers_of_real_writers_split_into_their_digits(writers_digits, writer, text):
    img, _ = number(writers_digits, writer, text)
    segs = segment.segment(img)
    assert len(segs) == len(text)
    assert [s.x0 for s in segs] == sorted(s.x0 for s in segs)
    assert all(preprocess(s.image).image is not None for s in segs)


@needs_pendigits
def test_three_fourteen_with_a_wider_space_is_three_digits(writers_digits):
    img, _ = segment.render_number([writers_digits[(29, d)].strokes for d in (3, 1, 4)], [150, 30])
    assert len(segment.segment(img)) == 3


@needs_pendigits
@pytest.mark.parametrize(("writer", "left", "right"), [(26, 7, 2), (28, 5, 2), (25, 1, 7), (27, 2, 7)])
def test_digits_overlapping_in_x_but_not_in_ink_stay_apart(writers_digits, writer, left, right):
    a, b = writers_digits[(writer, left)].strokes, writers_digits[(writer, right)].strokes
    gap = closest_gap(a, b)
    assert gap < 0, "the pair cannot overlap in x without touching: pick another"
    img, _ = segment.render_number([a, b], [gap])
    first, second = segment.segment(img)
    assert first.x1 > second.x0  # their boxes do overlap


@needs_pendigits
@pytest.mark.parametrize(("writer", "text"), [(26, "00"), (25, "20"), (29, "02"), (27, "23")])
def test_touching_wide_digits_are_cut_apart(writers_digits, writer, text):
    a, b = (writers_digits[(writer, int(c))].strokes for c in text)
    img, _ = segment.render_number([a, b], [closest_gap(a, b) - 9])  # ink runs 6-9 px into the other
    assert components(img) == 1
    assert len(segment.segment(img)) == 2


@needs_pendigits
def test_real_single_digits_stay_single(pendigits_file):
    digits = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)[::10]
    rng = np.random.default_rng(5)
    counts = [len(segment.segment(pendigits.random_render(d, rng))) for d in digits]
    assert sum(c != 1 for c in counts) <= 0.01 * len(digits)


@needs_pendigits
def test_real_two_stroke_fives_stay_one_digit(pendigits_file):
    fives = [
        d
        for d in pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
        if d.label == 5 and len(d.strokes) == 2
    ]
    assert fives
    assert all(len(segment.segment(segment.render_number([d.strokes], [])[0])) == 1 for d in fives)


@needs_pendigits
def test_real_numbers_drawn_with_strokes_split_into_their_digits(pendigits_file):
    # As the canvas sends them: strokes given. Multi-stroke 4s, 5s and 7s were split in two at
    # tight gaps before strokes that meet were kept together (5% of numbers, now 0.2%).
    digits = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    rng = np.random.default_rng(3)
    right = 0
    for _ in range(200):
        chosen = [digits[int(i)] for i in rng.integers(len(digits), size=3)]
        img, strokes = segment.render_number(
            [d.strokes for d in chosen], [float(rng.uniform(0, 50))] * 2, height=float(rng.uniform(100, 200))
        )
        right += len(segment.segment(img, strokes)) == 3
    assert right >= 0.99 * 200


@needs_pendigits
def test_the_cnn_reads_a_split_number(writers_digits):
    from digitdraw import modelio
    from digitdraw.predict import Predictor

    cnn = Predictor(modelio.load(modelio.resolve("cnn")))
    img, _ = number(writers_digits, 27, "2026")
    rows = segment.read_row(img)[0]
    images = np.stack([p.image for _, p in rows])
    assert "".join(str(d) for d in cnn.probabilities(images).argmax(axis=1)) == "2026"


@pytest.mark.parametrize("axes", [(200, 80), (150, 90), (220, 60)])
def test_a_zero_drawn_wide_is_one_digit_not_cut_through_its_loop(axes):
    # Wider than any digit pair's single digit, but one closed loop: cutting it made "00" or "0000".
    img = np.zeros((220, 520, 4), np.uint8)
    cv2.ellipse(img, (260, 110), axes, 5, 0, 360, (255, 255, 255, 255), 8)
    assert len(segment.segment(img)) == 1


def test_a_saved_drawing_keeps_a_digit_that_touches_its_edge():
    # "10" saved as a file cropped to its ink: the 1 touches the edge. Only a photo's edge is taken
    # for a desk's or the sheet's; a flat white background is a drawing's.
    img = np.full((280, 240, 3), 255, np.uint8)
    cv2.line(img, (6, 0), (6, 279), (0, 0, 0), 12)
    cv2.ellipse(img, (150, 140), (70, 100), 0, 0, 360, (0, 0, 0), 12)
    one, zero = segment.segment(img, source="image")
    assert one.x1 < zero.x0


def test_a_four_whose_bar_stops_just_short_of_its_stem_is_one_digit_with_the_strokes_too():
    # The bar ends 8 px from the stem's path, under a 14 px pen: their ink joins, their paths do not
    # meet. Without the strokes it is one clump; with them it was read as two digits, "11".
    bar = np.array([[110, 60], [90, 160], [172, 160]], float)
    stem = np.array([[180, 100], [180, 240]], float)
    rgba = render_as_drawn([bar, stem], 14, background="transparent")
    assert len(segment.segment(rgba)) == 1
    assert len(segment.segment(rgba, strokes=[bar, stem])) == 1


def test_render_number_on_a_taller_canvas_gives_strokes_where_their_ink_is():
    # At 560 px the glyphs were drawn about the 280 px canvas's centre, the strokes about the taller one's.
    img, paths = segment.render_number([[ONE[0]], [SEVEN[0]]], [40], canvas_height=560, height=360)
    ink_rows = np.flatnonzero(img[..., 3].max(axis=1) > 0)
    ys = np.concatenate(paths)[:, 1]
    assert abs(ys.min() - ink_rows[0]) <= 18 and abs(ys.max() - ink_rows[-1]) <= 18


def drawn_over(img: np.ndarray, strokes: list[np.ndarray], pen: int = 18) -> np.ndarray:
    """The canvas picture with the strokes drawn on it too, as the page's pen draws them."""
    out = img.copy()
    alpha = np.ascontiguousarray(out[..., 3])
    cv2.polylines(alpha, [s.round().astype(np.int32) for s in strokes], False, 255, pen, cv2.LINE_AA)
    out[..., 3] = alpha
    return out


def test_a_comma_between_digits_is_a_mark_left_out_not_a_one():
    # "1,000" was read "11000", the comma a "1" at full confidence.
    img, paths = segment.render_number([SEVEN, SEVEN, SEVEN], [60, 60])
    first = [p for p in paths if p[:, 0].max() < img.shape[1] / 3]
    second_x0 = min(p[:, 0].min() for p in paths if p[:, 0].min() > np.concatenate(first)[:, 0].max())
    x = (np.concatenate(first)[:, 0].max() + second_x0) / 2
    baseline = np.concatenate(paths)[:, 1].max()
    # A comma as the tester drew one: two fifths of the digits' height, hanging below their baseline.
    comma = np.array([[x + 4, baseline - 35], [x + 4, baseline], [x, baseline + 18], [x - 8, baseline + 30]])
    with_comma = drawn_over(img, [comma])

    plain = segment.split(img, paths)
    got = segment.split(with_comma, [*paths, comma])
    assert len(plain.segments) == 3 and plain.marks == []
    assert [(s.x0, s.x1) for s in got.segments] == [(s.x0, s.x1) for s in plain.segments]
    assert len(got.marks) == 1


def test_a_digit_written_smaller_on_the_baseline_is_still_a_digit():
    # What tells a comma from a small digit: the digit sits on the row's baseline, not below it.
    img, paths = segment.render_number([SEVEN, ONE, SEVEN], [50, 50])
    small = [p for p in paths if img.shape[1] / 3 < p[:, 0].mean() < 2 * img.shape[1] / 3]
    bottom = np.concatenate(paths)[:, 1].max()
    shrunk = [(p - [p[:, 0].mean(), bottom]) * 0.45 + [p[:, 0].mean(), bottom] for p in small]
    rest = [p for p in paths if not any(p is q for q in small)]
    canvas = drawn_over(np.zeros_like(img), [*rest, *shrunk])
    assert len(segment.split(canvas, [*rest, *shrunk]).segments) == 3
