"""How the Draw page words two models' answers: confident, not sure, agreeing, disagreeing."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from digitdraw import config
from digitdraw.predict import Prediction
from digitdraw.results import (
    Answer,
    answer,
    chart_html,
    display_step,
    enlarge,
    to_uint8,
    unique_titles,
    verdict,
)


def _prediction(digit: int, confidence: float) -> Prediction:
    probs = np.full(10, (1.0 - confidence) / 9, np.float32)
    probs[digit] = confidence
    return Prediction(digit, confidence, probs)


def _answer(model: str, digit: int, confidence: float) -> Answer:
    return answer(model, _prediction(digit, confidence))


# --------------------------------------------------------------------------- sure / not sure


def test_a_confident_answer_shows_the_digit_and_how_sure():
    a = _answer("CNN", 7, 0.93)
    assert a.sure
    assert a.digit == 7
    assert a.note == "93% sure"


def test_below_the_threshold_the_digit_stays_and_the_note_says_not_sure():
    a = _answer("Dense", 7, 0.41)
    assert not a.sure
    assert a.digit == 7  # the guess stays, flagged by the note
    assert a.note == "not sure (41%)"


def test_a_confidence_just_under_the_threshold_never_reads_as_the_threshold():
    a = _answer("Dense", 7, config.CONFIDENCE_THRESHOLD - 0.003)  # 59.7% under 60%
    assert not a.sure and a.note == f"not sure ({round(config.CONFIDENCE_THRESHOLD * 100) - 1}%)"


def test_the_threshold_itself_counts_as_sure():
    assert _answer("CNN", 3, config.CONFIDENCE_THRESHOLD).sure
    assert not _answer("CNN", 3, config.CONFIDENCE_THRESHOLD - 0.01).sure


def test_a_custom_threshold_is_honoured():
    assert not answer("CNN", _prediction(4, 0.8), threshold=0.9).sure


# --------------------------------------------------------------------------- verdict


def test_two_models_reading_different_digits_disagree_and_the_message_names_both():
    v = verdict([_answer("Dense", 1, 0.9), _answer("CNN", 7, 0.8)])
    assert v is not None and v.kind == "disagree"
    assert "Dense reads 1" in v.message and "CNN reads 7" in v.message


def test_disagreement_says_which_reading_is_unsure():
    v = verdict([_answer("Dense", 1, 0.3), _answer("CNN", 7, 0.9)])
    assert v is not None and "Dense reads 1 (not sure), CNN reads 7." in v.message


def test_same_digit_with_one_model_sure_is_agreement():
    v = verdict([_answer("Dense", 4, 0.5), _answer("CNN", 4, 0.99)])
    assert v is not None and v.kind == "agree"


def test_same_digit_with_neither_sure_is_flagged_as_unsure():
    v = verdict([_answer("Dense", 4, 0.5), _answer("CNN", 4, 0.4)])
    assert v is not None and v.kind == "unsure"
    assert "4" in v.message


def test_nothing_to_compare_with_a_single_answer():
    assert verdict([_answer("CNN", 2, 0.9)]) is None
    assert verdict([]) is None


# --------------------------------------------------------------------------- chart data


def test_the_same_model_on_both_sides_gets_distinct_titles():
    assert unique_titles(["CNN", "CNN"]) == ["CNN", "CNN (2)"]
    assert unique_titles(["Dense", "CNN"]) == ["Dense", "CNN"]


# --------------------------------------------------------------------------- images


def test_enlarge_is_nearest_neighbour_blocks():
    img = np.zeros((28, 28), np.float32)
    img[3, 5] = 1.0
    big = enlarge(to_uint8(img), 7)
    assert big.shape == (196, 196) and big.dtype == np.uint8
    assert (big[21:28, 35:42] == 255).all()  # the pixel became a solid 7x7 block
    assert big.sum() == 255 * 49  # and nothing bled around it


def test_enlarge_keeps_the_dtype_and_the_colour_channels():
    # The Inspect page enlarges float feature maps and RGB tiles with the same function.
    maps = np.array([[0.25, 1.0]], np.float32)
    np.testing.assert_array_equal(enlarge(maps, 2), [[0.25, 0.25, 1.0, 1.0]] * 2)
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 1] = (255, 0, 0)
    big = enlarge(rgb, 3)
    assert big.shape == (6, 6, 3) and big.dtype == np.uint8
    assert (big[0:3, 3:6] == (255, 0, 0)).all() and big[3:, :].sum() == 0


def test_enlarge_rejects_a_zero_scale():
    with pytest.raises(ValueError):
        enlarge(np.zeros((2, 2)), 0)


def test_display_step_grows_small_and_shrinks_large_steps_to_about_the_side():
    assert display_step(np.zeros((20, 20), np.float32), side=140).shape == (140, 140)
    small = display_step(np.ones((280, 280), np.float32), side=140)
    assert small.shape == (140, 140) and small.max() == 255


# --------------------------------------------------------------------------- chart spec


def test_the_chart_is_one_grouped_bar_chart_of_both_models_with_the_threshold_line():
    answers = [_answer("Dense", 2, 0.7), _answer("CNN", 5, 0.9)]
    chart = chart_html(answers, threshold=0.6)
    bars = re.findall(
        r'title="([^"]+) · (\d) · ([\d.]+)%" style="[^"]*height:([\d.]+)%;[^"]*background:(#\w+)', chart
    )
    assert len(bars) == 20  # ten digits, a bar for each model in each, left model first
    assert [(m, int(d)) for m, d, *_ in bars[:4]] == [("Dense", 0), ("CNN", 0), ("Dense", 1), ("CNN", 1)]
    heights = {(m, int(d)): float(h) for m, d, _, h, _ in bars}
    assert heights["Dense", 2] == pytest.approx(70.0) and heights["CNN", 5] == pytest.approx(90.0)
    assert sum(h for (m, _), h in heights.items() if m == "Dense") == pytest.approx(
        100.0, abs=0.5
    )  # each rounded to 0.1
    assert len({c for m, *_, c in bars if m == "Dense"} | {c for m, *_, c in bars if m == "CNN"}) == 2
    assert "bottom:60.0%;border-top:1px dashed" in chart  # the "not sure" line
    assert 'aria-label="Probabilities. Dense: 2, 70%; CNN: 5, 90%"' in chart


def test_a_model_that_refused_the_drawing_shows_its_bars_faded_as_a_guess():
    refused = dataclasses.replace(_answer("Dense", 8, 0.8), refused=True)
    chart = chart_html([refused, _answer("CNN", 8, 0.9)])
    assert chart.count("opacity:0.35") == 10  # the dense's ten bars, not the cnn's
    assert "Dense (not a digit)" in chart
    assert 'aria-label="Probabilities. Dense: not a digit, would guess 8, 80%; CNN: 8, 90%"' in chart


def test_a_model_name_cannot_inject_markup_into_the_chart():
    chart = chart_html([_answer('<img src=x onerror="alert(1)">', 3, 0.8), _answer("CNN", 3, 0.9)])
    assert "<img" not in chart and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in chart
