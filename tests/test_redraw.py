"""A canvas drawing is read with a pen no wider than a twelfth of its height: a fat pen's drawing
is drawn again from its strokes, so that the loops the pen closed are open again."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import SEVEN

from digitdraw import pendigits, redraw, segment
from digitdraw.preprocess import ink_map, preprocess

# A zero as the pen goes round it (tablet box, y down): an oval, closed.
_T = np.linspace(0, 2 * np.pi, 40)
ZERO = [np.stack([250 + 110 * np.sin(_T), 250 - 200 * np.cos(_T)], axis=1)]


def drawn(strokes, *, pen: float, height: float) -> pendigits.CanvasDrawing:
    return pendigits.render_drawing(strokes, stroke_width=pen, height=height, background="black")


def holes(pixels: np.ndarray) -> int:
    """Background regions the ink encloses (a 0 has one)."""
    ink = (ink_map(pixels) >= 0.5).astype(np.uint8)
    n, labels = cv2.connectedComponents(1 - ink, connectivity=4)
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    return sum(1 for k in range(1, n) if k not in border)


def test_the_path_a_drawing_records_is_where_its_ink_is():
    d = drawn(SEVEN, pen=14, height=150)
    again = pendigits.draw_paths(d.paths, 14, (280, 280))
    assert np.abs(again.astype(int) - d.pixels[..., 0].astype(int)).max() <= 1


def test_a_pen_thin_for_the_drawing_leaves_it_as_drawn():
    d = drawn(ZERO, pen=10, height=200)  # a twelfth of 200 is 16.7 px
    assert redraw.for_reading(d.pixels, d.paths) is d.pixels


def test_without_strokes_the_pixels_are_all_there_is():
    d = drawn(ZERO, pen=36, height=60)
    assert redraw.for_reading(d.pixels, None) is d.pixels
    assert redraw.for_reading(d.pixels, []) is d.pixels


def test_a_small_zero_drawn_with_a_fat_pen_is_read_with_its_loop_open():
    d = drawn(ZERO, pen=36, height=60)
    assert holes(d.pixels) == 0  # the pen filled the loop
    read = redraw.for_reading(d.pixels, d.paths)
    assert read.shape == d.pixels.shape and read is not d.pixels
    assert holes(read) == 1
    ink = ink_map(read) >= 0.5  # its area over the path's length is the pen's width: 60 / 12 = 5 px
    assert redraw.estimated_pen(ink, d.paths) == pytest.approx(redraw.widest_pen(d.paths), abs=1)
    # The same centre: the path is drawn where the pen went.
    ys, xs = np.nonzero(ink_map(read) > 0.5)
    ys0, xs0 = np.nonzero(ink_map(d.pixels) > 0.5)
    assert abs(xs.mean() - xs0.mean()) < 1.5 and abs(ys.mean() - ys0.mean()) < 1.5


def test_the_widest_pen_is_a_twelfth_of_the_paths_height_and_never_under_two_pixels():
    assert redraw.widest_pen([np.array([[0, 10], [5, 130]])]) == pytest.approx(10.0)
    assert redraw.widest_pen([np.array([[3, 3]])]) == redraw.MIN_PEN  # a tap


def test_the_app_splits_and_reads_the_redrawn_drawing():
    d = drawn(ZERO, pen=36, height=60)
    (piece, result), *rest = segment.read_row(d.pixels, d.paths)[0]
    assert not rest and result.image is not None
    assert holes(np.pad(piece.image, 2)) == 1
    # Without the strokes (an image file, a photo) the filled blob is what there is to read.
    (piece, _), *_ = segment.read_row(d.pixels)[0]
    assert holes(np.pad(piece.image, 2)) == 0


def test_the_benchmarks_read_a_rendering_the_apps_way():
    d = drawn(ZERO, pen=36, height=60)
    got = redraw.read_one(d).image
    assert np.array_equal(got, preprocess(redraw.for_reading(d.pixels, d.paths)).image)
    assert not np.array_equal(got, preprocess(d.pixels).image)


def test_the_reading_says_which_digits_it_read_drawn_thinner():
    fat, thin = drawn(ZERO, pen=36, height=60), drawn(ZERO, pen=4, height=60)
    assert [s.redrawn for s in segment.segment(fat.pixels, fat.paths)] == [True]
    assert [s.redrawn for s in segment.segment(thin.pixels, thin.paths)] == [False]
    assert [s.redrawn for s in segment.segment(fat.pixels)] == [False]  # no strokes: nothing to redraw


def test_digits_are_found_in_the_ink_as_drawn_and_read_from_the_thinner_path():
    # A 4 whose stem stops short of its bar: 15 px apart in the path, joined only by a 40 px pen.
    # The writer sees one 4; drawn thinner the two strokes would stand apart as two "digits".
    four = [np.array([[100, 100], [80, 250], [200, 250]]), np.array([[230, 150], [230, 400]])]
    d = drawn(four, pen=40, height=150)
    (piece,) = segment.segment(d.pixels, d.paths)
    assert piece.redrawn
    thin = pendigits.draw_paths(d.paths, redraw.widest_pen(d.paths), (280, 280))
    assert cv2.connectedComponents((thin >= 128).astype(np.uint8))[0] - 1 == 2  # apart when thin
    # ... and the piece read is the thin path's, both strokes of it.
    ink = (piece.image >= 0.5).astype(np.uint8)
    assert cv2.connectedComponents(ink)[0] - 1 == 2
    assert ink.sum() < 0.6 * (ink_map(d.pixels) >= 0.5).sum()


def test_a_tap_of_a_fat_pen_stays_a_tap_too_small_to_be_a_digit():
    tap = drawn([np.array([[250.0, 250.0]])], pen=36, height=60)
    assert redraw.for_reading(tap.pixels, tap.paths) is tap.pixels  # a 2 px dot would pass for a stroke
    ((_, result),) = segment.read_row(tap.pixels, tap.paths)[0]
    assert result.image is None


def test_strokes_that_are_not_where_the_ink_is_leave_the_ink_to_read():
    d = drawn(ZERO, pen=24, height=120)  # 120 / 12 = 10 px: redrawn
    elsewhere = [p + (150, 0) for p in d.paths]  # no browser sends these; the ink is still read
    ((piece, result),) = segment.read_row(d.pixels, elsewhere)[0]
    assert piece.redrawn and result.image is not None
    np.testing.assert_array_equal(result.image, preprocess(piece.drawn).image)
