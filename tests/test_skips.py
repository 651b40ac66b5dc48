"""Specification of finding and closing the gaps where a pen skipped (digitdraw.skips), and of how
the reading uses it: on the square canvas, where one digit is meant; never in Number mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import needs_pendigits, on_square_canvas

from digitdraw import cli, config, pendigits, reading, skips
from digitdraw.preprocess import ink_and_kind
from digitdraw.strokes import render_as_drawn

# A 0 as one stroke, round from its top, anticlockwise on the screen (y down), 40 points.
ANGLES = np.linspace(-np.pi / 2, -np.pi / 2 - 2 * np.pi * 0.95, 40)
ZERO = np.stack([140 + 60 * np.cos(ANGLES), 140 + 95 * np.sin(ANGLES)], axis=1)


def skipped(stroke: np.ndarray, at: int, lost: int = 2) -> list[np.ndarray]:
    """The stroke as a skipping pen gives it: two strokes, `lost` points missing at `at`."""
    return [stroke[:at], stroke[at + lost :]]


def test_a_stroke_the_pen_skipped_in_is_one_stroke_again():
    fix = skips.mended(skipped(ZERO, 20))
    assert len(fix.strokes) == 1 and len(fix.gaps) == 1
    assert np.allclose(fix.strokes[0], np.vstack([ZERO[:20], ZERO[22:]]))
    (end, start) = fix.gaps[0]
    assert np.allclose(end, ZERO[19]) and np.allclose(start, ZERO[22])


def test_a_stroke_broken_twice_is_mended_twice():
    first, rest = skipped(ZERO, 12)
    fix = skips.mended([first, *skipped(rest, 15)])
    assert len(fix.strokes) == 1 and len(fix.gaps) == 2


@pytest.mark.parametrize(
    "name, strokes",
    [
        # A 4: its bar's end and its stem's top are far apart, and the pen turned back.
        ("four", [np.array([[100, 40], [60, 160], [200, 160]]), np.array([[160, 60], [160, 250]])]),
        # A 1, then a 7 begun at its top: the pen went down, and the 7 starts back up.
        ("one then seven", [np.array([[60, 40], [60, 240]]), np.array([[100, 40], [220, 40], [150, 240]])]),
        # A 7 with its crossbar: the bar starts left of the stem, crossing the pen's way.
        ("crossed seven", [np.array([[60, 40], [220, 40], [140, 240]]), np.array([[100, 140], [190, 140]])]),
        # A stroke, then a tap beside its end: a tap goes nowhere.
        ("tap", [np.array([[140, 40], [140, 240]]), np.array([[140, 250]])]),
    ],
)
def test_strokes_a_person_drew_apart_are_left_apart(name, strokes):
    fix = skips.mended([np.asarray(s, float) for s in strokes])
    assert fix.gaps == [] and len(fix.strokes) == len(strokes), name


def test_a_gap_too_long_for_a_skip_is_left():
    # Half the zero's height lost: that is two strokes, whatever way they go.
    fix = skips.mended(skipped(ZERO, 15, lost=12))
    assert fix.gaps == []


def test_the_gap_is_drawn_in_as_wide_as_the_pen():
    strokes = skipped(ZERO, 20, lost=3)
    pixels = render_as_drawn(strokes, 12, background="transparent")
    (end, start) = skips.mended(strokes).gaps[0]
    middle = tuple(np.round((end + start) / 2).astype(int))
    ink, _ = ink_and_kind(pixels, source="canvas")
    closed, _ = ink_and_kind(skips.bridged(pixels, strokes, [(end, start)]), source="canvas")
    assert ink[middle[1], middle[0]] < 0.1 and closed[middle[1], middle[0]] > 0.9
    assert np.all(closed >= ink - 0.01)  # none of the drawing's own ink is lost


def test_the_flaky_pen_breaks_each_long_stroke_and_loses_a_point_or_two_at_each_break():
    rng = np.random.default_rng(0)
    out = skips.broken([ZERO, ZERO[:5]], rng)
    assert 2 <= len(out) - 1 <= 4  # the short stroke is kept whole, the long one in 2-4 pieces
    assert np.array_equal(out[-1], ZERO[:5])
    assert 40 - 2 * (len(out) - 2) <= sum(len(s) for s in out[:-1]) <= 40 - (len(out) - 2)


@pytest.fixture(scope="module")
def shipped():
    return reading.load_predictors(config.DEFAULT_MODELS)


def a_flaky_pens(pendigits_file, writer: int, label: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """A tuning writer's first digit of that label, broken by the flaky pen (seeded), on the square canvas."""
    digit = next(d for d in pendigits.load_pendigits(pendigits_file, writers=str(writer)) if d.label == label)
    strokes = on_square_canvas(skips.broken(digit.strokes, np.random.default_rng(seed)))
    return strokes, render_as_drawn(strokes, 18, background="transparent")


@needs_pendigits
@pytest.mark.parametrize(
    "writer, label, seed, as_drawn",
    [
        (15, 3, 6, "13"),  # its stroke broken: a 1 and a 3's lower bowl
        (4, 0, 75, "12"),  # an open 0 in two halves side by side
        (6, 4, 89, "162"),  # a 4's two strokes in three pieces
    ],
)
def test_a_digit_the_pen_skipped_in_is_read_with_its_gaps_closed(
    shipped, pendigits_file, writer, label, seed, as_drawn
):
    strokes, pixels = a_flaky_pens(pendigits_file, writer, label, seed)
    drawn = reading.read_drawing(pixels, shipped, strokes=strokes, mend=False)
    assert drawn.mended == 0 and drawn.status != reading.DIGIT
    assert as_drawn in {m.text or m.guess for m in drawn.models.values()}
    got = reading.read_drawing(pixels, shipped, strokes=strokes)
    assert got.mended >= 1 and got.status == reading.DIGIT
    assert {name: m.text for name, m in got.models.items()} == {"dense": str(label), "cnn": str(label)}
    assert reading.MENDED_MESSAGE in got.message and got.as_dict()["mended"] == got.mended


def test_a_drawing_without_a_skip_is_read_as_drawn(shipped):
    strokes = [ZERO]
    pixels = render_as_drawn(strokes, 18, background="transparent")
    got = reading.read_drawing(pixels, shipped, strokes=strokes)
    assert got.mended == 0 and "mended" not in got.as_dict()
    assert got.models["cnn"].text == "0"


@needs_pendigits
def test_on_the_wide_canvas_strokes_are_read_as_drawn(shipped, pendigits_file):
    # Digits side by side can look like a skip (a 5's flag, then a 3 begun at its right): Number mode
    # reads the strokes as they came.
    strokes, pixels = a_flaky_pens(pendigits_file, 6, 4, 89)
    assert skips.mended(strokes).gaps
    got = reading.read_drawing(pixels, shipped, strokes=strokes, mode="number")
    assert got.mended == 0 and "mended" not in got.as_dict()


@needs_pendigits
def test_predict_says_how_many_gaps_it_closed(capsys, tmp_path, pendigits_file):
    strokes, _ = a_flaky_pens(pendigits_file, 6, 4, 89)
    lines = tmp_path / "flaky.jsonl"
    lines.write_text(json.dumps({"strokes": [s.tolist() for s in strokes]}) + "\n")
    assert cli.main(["predict", "--strokes", str(lines)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "digit" and out["mended"] >= 1
    assert {name: m["digit"] for name, m in out["models"].items()} == {"dense": 4, "cnn": 4}
