"""Specification of the pen-digit loader and the canvas-like renderer."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import ONE, SEVEN, needs_pendigits

from digitdraw import config
from digitdraw.pendigits import (
    HOLDOUT_WRITERS,
    TUNE_WRITERS,
    PenDigit,
    distort,
    load_pendigits,
    missing_file_message,
    parse_writers,
    random_render,
    render,
    rendered_dataset,
)
from digitdraw.preprocess import Preprocessed, preprocess

HLINE = [np.array([[100, 250], [400, 250]], float)]


def ink_box(img: np.ndarray, level: int = 128) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) inclusive of the ink, read from alpha (transparent) or red."""
    a = img[..., 3] if img[..., 3].min() == 0 else img[..., 0]
    ys, xs = np.nonzero(a >= level)
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


# ----------------------------------------------------------------- loader


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_loader_reads_records_and_filters_writers(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"label": 7, "writer": 3, "strokes": [[[0, 0], [10, 20]], [[5, 5]]]},
            {"label": 1, "writer": 26, "strokes": [[[1, 1], [1, 30]]]},
        ],
    )
    everything = load_pendigits(path)
    assert [(d.label, d.writer) for d in everything] == [(7, 3), (1, 26)]
    assert everything[0].strokes[1].shape == (1, 2)  # a tap is kept as a one-point stroke
    assert [d.label for d in load_pendigits(path, writers=TUNE_WRITERS)] == [7]
    assert [d.label for d in load_pendigits(path, writers=HOLDOUT_WRITERS)] == [1]


def test_missing_file_raises_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=config.PENDIGITS_ENV) as info:
        load_pendigits(tmp_path / "nope.jsonl")
    # The one message for a missing file, wherever it is noticed: where we looked, how to fix it.
    assert str(info.value) == missing_file_message(tmp_path / "nope.jsonl")
    assert f"looked for {tmp_path / 'nope.jsonl'}" in str(info.value) and config.DATA_DIR_ENV in str(
        info.value
    )


def test_unconfigured_path_raises_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv(config.PENDIGITS_ENV, raising=False)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "mnist"))
    with pytest.raises(FileNotFoundError, match=config.PENDIGITS_ENV) as info:
        load_pendigits()
    assert str(tmp_path / "pendigits" / "train.jsonl") in str(info.value)  # beside the MNIST folder


def test_corrupt_line_names_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"label": 1, "writer": 1, "strokes": [[[0, 0]]]}\nnot json\n')
    with pytest.raises(ValueError, match=r"p\.jsonl:2"):
        load_pendigits(path)


def test_writer_splits_are_disjoint_and_cover_all_30():
    tune, holdout = set(parse_writers(TUNE_WRITERS)), set(parse_writers(HOLDOUT_WRITERS))
    assert tune.isdisjoint(holdout)
    assert tune | holdout == set(range(1, 31))


def test_parse_writers():
    assert parse_writers("1-3,7, 9-10") == [1, 2, 3, 7, 9, 10]
    assert parse_writers(None) == [] and parse_writers("") == []


def test_writers_may_be_a_spec_or_numbers(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"label": w % 10, "writer": w, "strokes": [[[0, 0], [0, 50]]]} for w in (1, 2, 5, 26)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [d.writer for d in load_pendigits(path, writers="1-2,26")] == [1, 2, 26]
    assert [d.writer for d in load_pendigits(path, writers=[5])] == [5]


@needs_pendigits
def test_real_file_counts():
    digits = load_pendigits()
    assert len(digits) == 7494
    per_label = Counter(d.label for d in digits)
    assert [per_label[k] for k in range(10)] == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert {d.writer for d in digits} == set(range(1, 31))
    assert all(s.ndim == 2 and s.shape[1] == 2 for d in digits for s in d.strokes)


@needs_pendigits
def test_real_file_writer_filter():
    tune = load_pendigits(writers=TUNE_WRITERS)
    holdout = load_pendigits(writers=HOLDOUT_WRITERS)
    assert {d.writer for d in tune} == set(range(1, 25))
    assert {d.writer for d in holdout} == set(range(25, 31))
    assert len(tune) + len(holdout) == 7494


# ----------------------------------------------------------------- render


def test_render_is_canvas_like_rgba():
    img = render(SEVEN)
    assert img.shape == (280, 280, 4) and img.dtype == np.uint8
    assert img[0, 0, 3] == 0  # transparent background
    assert img[..., 3].max() == 255 and (img[..., :3][img[..., 3] > 0] == 255).all()  # white ink
    soft = ((img[..., 3] > 0) & (img[..., 3] < 255)).sum()
    assert soft > 100  # anti-aliased edges


def test_render_black_background_and_ink_colour():
    img = render(SEVEN, background="black", ink=(255, 0, 0))
    assert (img[..., 3] == 255).all()
    assert tuple(img[0, 0, :3]) == (0, 0, 0)
    assert img[..., 0].max() == 255 and img[..., 1].max() == 0


def test_render_height_and_centre():
    img = render(SEVEN, height=150, stroke_width=10, centre=(120, 160))
    top, bottom, left, right = ink_box(img)
    # the pen's path is 150 px tall; the brush adds half its width above and below
    assert abs((bottom - top + 1) - 160) <= 2
    # the path's box is centred on `centre` (the 7's ink box is symmetric round it)
    assert abs((top + bottom) / 2 - 160) <= 1.5
    assert abs((left + right) / 2 - 120) <= 1.5


def test_render_stroke_width():
    for width in (4, 12, 30):
        img = render(HLINE, stroke_width=width, height=200)
        column = img[:, 140, 3]
        assert abs(int((column >= 128).sum()) - width) <= 1


def test_round_caps_extend_half_a_width_past_the_end():
    img = render(HLINE, stroke_width=20, height=200, centre=(140, 140))
    # path from x=40 to x=240: the ink runs 10 px further each way
    _top, _bottom, left, right = ink_box(img)
    assert abs(left - 30) <= 1 and abs(right - 249) <= 1


def test_single_point_stroke_is_a_dot_of_the_stroke_width():
    img = render([np.array([[250.0, 250.0]])], stroke_width=24, centre=(100, 90))
    top, bottom, left, right = ink_box(img)
    assert abs((bottom - top + 1) - 24) <= 1 and abs((right - left + 1) - 24) <= 1
    assert abs((top + bottom) / 2 - 90) <= 1 and abs((left + right) / 2 - 100) <= 1


def test_tap_within_a_digit_is_drawn():
    with_tap = render([*ONE, np.array([[400.0, 450.0]])], height=200, stroke_width=10)
    without = render(ONE, height=200, stroke_width=10)
    assert with_tap[..., 3].sum() > without[..., 3].sum()


def test_wide_digit_is_limited_by_width():
    img = render(HLINE, height=600, stroke_width=10)  # a 300-long dash at 2x: would not fit
    _top, _bottom, left, right = ink_box(img)
    assert left >= 0 and right <= 279 and right - left > 250


def test_digit_is_kept_on_the_canvas_unless_clipping_is_asked_for():
    inside = render(SEVEN, height=200, stroke_width=20, centre=(10, 140))
    _top, _bottom, left, right = ink_box(inside, level=1)
    assert left >= 0 and right - left + 1 > 200 * (300 / 350)  # whole 7, moved in
    clipped = render(SEVEN, height=200, stroke_width=20, centre=(10, 140), clip=True)
    assert clipped[..., 3].sum() < 0.8 * inside[..., 3].sum()  # part of it went off the edge


def test_render_accepts_a_pendigit():
    digit = PenDigit(label=7, writer=1, strokes=SEVEN)
    assert np.array_equal(render(digit), render(SEVEN))


def test_render_rejects_nothing_to_draw():
    with pytest.raises(ValueError):
        render([])


# ----------------------------------------------------------------- random_render


def test_random_render_is_deterministic_for_a_seed():
    digit = PenDigit(7, 1, SEVEN)
    a = random_render(digit, np.random.default_rng(5))
    b = random_render(digit, np.random.default_rng(5))
    c = random_render(digit, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_render_varies_like_people_draw():
    digit = PenDigit(7, 1, SEVEN)
    rng = np.random.default_rng(0)
    heights, centres, transparent, edge = [], [], 0, 0
    for _ in range(120):
        img = random_render(digit, rng)
        assert img.shape == (280, 280, 4) and img.dtype == np.uint8
        top, bottom, left, right = ink_box(img)
        heights.append(bottom - top)
        centres.append(((left + right) / 2, (top + bottom) / 2))
        transparent += img[..., 3].min() == 0
        edge += top <= 0 or left <= 0 or bottom >= 279 or right >= 279
    assert min(heights) < 110 and max(heights) > 220  # small to large
    assert np.ptp(np.array(centres), axis=0).min() > 100  # all over the canvas
    assert 30 < transparent < 90  # both backgrounds
    assert edge >= 5  # sometimes against an edge


def test_random_render_output_is_readable():
    digit = PenDigit(7, 1, SEVEN)
    rng = np.random.default_rng(1)
    assert all(not preprocess(random_render(digit, rng)).empty for _ in range(40))


def test_rendered_dataset_shapes_and_skips():
    digits = [PenDigit(7, 1, SEVEN), PenDigit(1, 2, ONE)]
    x, y = rendered_dataset(digits, np.random.default_rng(0), copies=3)
    assert x.shape == (6, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.uint8 and sorted(y.tolist()) == [1, 1, 1, 7, 7, 7]

    def reject_ones(drawing):  # stands in for a reading that cannot read some renders
        result = preprocess(drawing.pixels)
        return (
            Preprocessed(None, result.steps, "no")
            if result.image[:, 12:16].sum() > 0.8 * result.image.sum()
            else result
        )

    x, y = rendered_dataset(digits, np.random.default_rng(0), copies=2, read=reject_ones)
    assert y.tolist() == [7, 7]


def test_distort_reshapes_the_path_but_keeps_the_digit_and_its_strokes():
    digit = PenDigit(7, 4, SEVEN)
    rng = np.random.default_rng(0)
    size = np.ptp(np.concatenate(digit.strokes), axis=0).max()
    moved = []
    for _ in range(50):
        other = distort(digit, rng)
        assert (other.label, other.writer) == (7, 4)
        assert [len(s) for s in other.strokes] == [len(s) for s in digit.strokes]  # same pen path
        shift = np.abs(np.concatenate(other.strokes) - np.concatenate(digit.strokes)).max()
        moved.append(shift / size)
    assert min(moved) > 0.005  # every copy is re-shaped ...
    assert max(moved) < 0.4  # ... but stays the same digit, not a scribble


def test_distort_is_deterministic_for_a_seed():
    digit = PenDigit(1, 4, ONE)
    a = distort(digit, np.random.default_rng(3)).strokes
    b = distort(digit, np.random.default_rng(3)).strokes
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_rendered_dataset_distorts_only_when_asked():
    digits = [PenDigit(7, 1, SEVEN)]
    plain_a, _ = rendered_dataset(digits, np.random.default_rng(0), copies=2)
    plain_b, _ = rendered_dataset(digits, np.random.default_rng(0), copies=2)
    distorted, y = rendered_dataset(digits, np.random.default_rng(0), copies=2, distorted=True)
    assert np.array_equal(plain_a, plain_b)  # measurement sets are the same every time
    assert y.tolist() == [7, 7]
    assert np.abs(distorted - plain_a).max() > 0.2


@needs_pendigits
def test_real_digits_render_and_read():
    digits = load_pendigits(writers=[1])
    _x, y = rendered_dataset(digits, np.random.default_rng(0))
    assert len(y) == len(digits)  # none unreadable
    assert set(y.tolist()) == set(range(10))
