"""Canvas drawings as pen strokes: what the canvas sends becomes pendigits strokes, and those render
back into the picture the canvas showed (so a correction preprocesses like the drawing it corrects).

The canvas JSON and pictures in tests/data/canvas_*.json were recorded from the real component in
Chromium by tests/canvas_capture.py (mouse-drawn, made-up shapes).
"""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitdraw import strokes
from digitdraw.preprocess import preprocess

DATA = Path(__file__).resolve().parent / "data"


def recorded(name: str) -> tuple[dict, np.ndarray, float]:
    """(json_data, the canvas's ink coverage (280, 280) uint8, pen width) of a recorded drawing."""
    record = json.loads((DATA / f"canvas_{name}.json").read_text())
    ink = np.array(Image.open(io.BytesIO(base64.b64decode(record["ink_png_base64"]))))
    return record["json_data"], ink, float(record["pen_width"])


def as_rgba(ink: np.ndarray) -> np.ndarray:
    return np.dstack([ink, ink, ink, np.full_like(ink, 255)])


# --------------------------------------------------------------------------- canvas -> strokes


def test_each_path_on_the_canvas_becomes_one_stroke_in_canvas_pixels():
    zero, _, _ = recorded("zero")
    four, _, _ = recorded("four")
    assert len(strokes.canvas_strokes(zero)) == 1
    converted = strokes.canvas_strokes(four)
    assert len(converted) == 3  # two lines and a tap
    for stroke in converted:
        for x, y in stroke:
            assert 0 <= x <= 280 and 0 <= y <= 280


def test_the_points_lie_where_the_mouse_went():
    # canvas_capture.py drew the oval (140 + 55 sin t, 140 - 85 cos t) and the 4 through these corners.
    zero, _, _ = recorded("zero")
    pts = np.array(strokes.canvas_strokes(zero)[0])
    radius = np.hypot((pts[:, 0] - 140) / 55, (pts[:, 1] - 140) / 85)
    assert np.all(np.abs(radius - 1) < 0.05)
    four, _, _ = recorded("four")
    first = np.array(strokes.canvas_strokes(four)[0])
    for corner in [(170, 50), (80, 170), (200, 170)]:
        # the canvas smooths corners: the path passes within a few px of each
        assert np.min(np.hypot(*(first - corner).T)) < 8
    tap = strokes.canvas_strokes(four)[2]
    assert np.allclose(np.mean(tap, axis=0), (230, 60), atol=0.1)


def test_curves_become_points_within_a_quarter_pixel_of_the_curve_in_the_order_drawn():
    # A quadratic (what the freehand pen makes), a cubic, a line and a closing Z in one path.
    p0, q, p1 = np.array([10.0, 10.0]), np.array([60.0, 120.0]), np.array([110.0, 10.0])
    c1, c2, p2 = np.array([150.0, 0.0]), np.array([200.0, 200.0]), np.array([250.0, 100.0])
    path = [["M", *p0], ["Q", *q, *p1], ["C", *c1, *c2, *p2], ["L", 250.0, 250.0], ["Z"]]
    (points,) = strokes._flatten(strokes._segments(path))

    t = np.linspace(0, 1, 20001)[:, None]
    quadratic = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * q + t**2 * p1
    cubic = (1 - t) ** 3 * p1 + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * p2
    for curve, (start, end) in ((quadratic, (p0, p1)), (cubic, (p1, p2))):
        i, j = (int(np.flatnonzero((points == e).all(axis=1))[0]) for e in (start, end))
        piece = points[i : j + 1]
        assert len(piece) > 8, "a strongly bent curve is cut into many lines"
        # every flattened point is on the curve, and the curve never strays from the lines
        assert np.min(np.linalg.norm(curve[:, None] - piece[None], axis=2), axis=0).max() < 0.05
        assert max(_distance_to_polyline(c, piece) for c in curve) <= strokes._TOLERANCE
    assert points[-2].tolist() == [250.0, 250.0] and points[-1].tolist() == p0.tolist(), "L, then Z back"


def _distance_to_polyline(point: np.ndarray, line: np.ndarray) -> float:
    a, b = line[:-1], line[1:]
    t = np.clip(np.einsum("ij,ij->i", point - a, b - a) / np.einsum("ij,ij->i", b - a, b - a), 0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * (b - a) - point, axis=1)))


def test_nothing_drawn_is_no_strokes():
    assert strokes.canvas_strokes(None) == []
    assert strokes.canvas_strokes({"version": "7.4.0", "objects": []}) == []


def test_a_moved_scaled_or_turned_path_gives_the_points_where_its_ink_now_is():
    four, _, _ = recorded("four")
    line = four["objects"][1]  # the down stroke: x = 165, y from 110 to 240, centre (165, 175)
    base = np.array(strokes.canvas_strokes({"objects": [line]})[0])

    moved = dict(line, left=line["left"] + 30, top=line["top"] - 10)
    assert np.allclose(strokes.canvas_strokes({"objects": [moved]})[0], base + (30, -10), atol=1e-3)

    doubled = dict(line, scaleX=2, scaleY=2)
    expect = (base - (165, 175)) * 2 + (165, 175)
    assert np.allclose(strokes.canvas_strokes({"objects": [doubled]})[0], expect, atol=1e-3)

    turned = dict(line, angle=90)  # about its centre: the vertical line lies down, top end to the right
    got = np.array(strokes.canvas_strokes({"objects": [turned]})[0])
    assert np.allclose(got[:, 1], 175, atol=1e-3)
    assert got[0, 0] > got[-1, 0]

    # The same place given from the top-left corner of the object's box (stroke included).
    width, height = line["width"] + line["strokeWidth"], line["height"] + line["strokeWidth"]
    corner = dict(line, originX="left", originY="top", left=165 - width / 2, top=175 - height / 2)
    assert np.allclose(strokes.canvas_strokes({"objects": [corner]})[0], base, atol=1e-3)


def test_what_is_not_a_freehand_path_is_refused_with_the_object_named():
    four, _, _ = recorded("four")
    rect = {"type": "Rect", "left": 1, "top": 1, "width": 5, "height": 5}
    with pytest.raises(ValueError, match=r"canvas object 2: .*'Rect'"):
        strokes.canvas_strokes({"objects": [four["objects"][0], rect]})
    arc = copy.deepcopy(four["objects"][0])
    arc["path"].insert(1, ["A", 5, 5, 0, 0, 1, 10, 10])
    with pytest.raises(ValueError, match=r"canvas object 1: path command 'A'"):
        strokes.canvas_strokes({"objects": [arc]})


# --------------------------------------------------------------------------- strokes -> pixels


@pytest.mark.parametrize("name", ["zero", "four"])
def test_strokes_render_like_the_canvas_showed_them(name):
    json_data, ink, pen = recorded(name)
    drawn = strokes.render_as_drawn(strokes.canvas_strokes(json_data), pen)[..., 0]
    mine, theirs = drawn > 127, ink > 127
    assert (mine & theirs).sum() / (mine | theirs).sum() > 0.9  # same ink, up to anti-aliasing


@pytest.mark.parametrize("name", ["zero", "four"])
def test_strokes_preprocess_like_the_canvas_drawing(name):
    json_data, ink, pen = recorded(name)
    ours = strokes.model_input(strokes.render_as_drawn(strokes.canvas_strokes(json_data), pen))
    canvas = preprocess(as_rgba(ink)).image
    assert canvas is not None
    diff = np.abs(ours - canvas)
    assert diff.mean() < 0.02 and diff.max() < 0.15


def test_ink_past_the_edge_is_cut_off_and_a_wide_stroke_keeps_its_size():
    across = [[[-40, 140], [320, 140]]]  # wider than the canvas, both ends beyond it
    ink = strokes.render_as_drawn(across, 10)[..., 0]
    assert ink.shape == (280, 280)
    assert np.all(ink[140] > 200)  # ink in every column of its row
    rows = np.flatnonzero(ink[:, 140] > 127)
    assert 8 <= len(rows) <= 12  # 10 px wide: not shrunk to fit


def test_a_tap_renders_as_a_dot_of_the_pen_width():
    ink = strokes.render_as_drawn([[[100, 100]]], 20)[..., 0]
    ys, xs = np.nonzero(ink > 127)
    assert abs(xs.mean() - 100) < 1 and abs(ys.mean() - 100) < 1
    assert 18 <= xs.max() - xs.min() + 1 <= 22


def test_strokes_without_a_canvas_render_centred_and_readable():
    seven = [[[100, 100], [400, 100], [220, 450]]]  # pendigits' 500x500 box
    drawing = strokes.render_centred(seven)
    image = strokes.model_input(drawing.pixels, drawing.paths)
    assert image.shape == (28, 28) and image.max() > 0.9


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "non-empty list of strokes"),
        ("strokes", "non-empty list of strokes"),
        ([[]], "stroke 1 must be a non-empty list"),
        ([[[1, 2]], [[1]]], r"stroke 2, point 1 must be \[x, y\]"),
        ([[[1, 2, "fast"]]], r"stroke 1, point 1 must be \[x, y\].*such as a time or a pressure"),
        ([[{"x": 1, "y": 2}]], r"stroke 1, point 1 must be \[x, y\]"),
        ([[[1, float("nan")]]], "two finite numbers"),
        ([[[True, 2]]], "two finite numbers"),
        ([[["1", 2]]], "two finite numbers"),
        ([[[0, 0]] * (strokes.MAX_POINTS + 1)], "too many points"),
        # Quick, Draw!'s layout, [[x, x, ...], [y, y, ...]]: not two points with a time and a pressure.
        ([[list(range(10, 90, 10)), list(range(8))]], r"point 1 has 8 numbers.*\[\[x, y\], \[x, y\]"),
    ],
)
def test_bad_strokes_are_refused_saying_where(bad, message):
    with pytest.raises(ValueError, match=message):
        strokes.validate_strokes(bad)


def test_short_strokes_of_equal_rows_may_be_quick_draw_columns_and_pen_points_are_not():
    assert strokes.maybe_columns([[[10, 20, 30], [0, 40, 80]]])  # one stroke: xs, ys
    assert strokes.maybe_columns(np.array([[[1, 2, 3, 4], [5, 6, 7, 8], [0, 9, 17, 30]]]))  # and times
    assert not strokes.maybe_columns([[[10, 0], [20, 40], [30, 80]]])  # three [x, y] points
    assert not strokes.maybe_columns([[[10, 20, 30], [0, 40, 80]], [[1, 2], [3, 4], [5, 6], [7, 8]]])
    assert not strokes.maybe_columns([[[10, 20, 30], [0, 40]]])  # rows of two lengths
    assert not strokes.maybe_columns([[[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 2, 3]]])  # four points
    assert not strokes.maybe_columns([[list(range(8)), list(range(8))]])  # too long: refused anyway
    assert not strokes.maybe_columns([]) and not strokes.maybe_columns("strokes")


def test_valid_strokes_come_back_unchanged_as_lists():
    given = [[[1, 2], [3.5, 4]], [[5, 6]]]
    assert strokes.validate_strokes(given) == given
    # x, y, time, pressure and two tilts: what a tablet can give for a point
    assert strokes.validate_strokes([[[1, 2, 0, 0.5, 10, -10]]]) == [[[1, 2]]]
    assert strokes.validate_strokes([np.array([[1.0, 2.0]])]) == [[[1.0, 2.0]]]


def test_a_points_time_or_pressure_is_left_out():
    """Tablet and stylus exports give [x, y, t] or [x, y, pressure] points: read as [x, y]."""
    timed = [[[1, 2, 1700000000123], [3.5, 4, 1700000000131]], [[5, 6, 0.42, float("nan")]]]
    assert strokes.validate_strokes(timed) == [[[1, 2], [3.5, 4]], [[5, 6]]]
