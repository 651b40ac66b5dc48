"""What the Draw page says about two models' answers: pure data, no Streamlit, so it is unit-tested.

The page shows each model's digit with how sure it is, says so when the models disagree, says
"not sure" rather than a confident-looking wrong answer, and draws all the probabilities in one
grouped bar chart. The decisions behind those words live here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from digitdraw import config
from digitdraw.predict import Prediction
from digitdraw.reading import DIGIT, NOT_A_DIGIT, NUMBER, DigitAnswer, ModelReading

SEPARATOR = "  |  "  # between the models on the one-line summary (en spaces: no line break)


@dataclass(frozen=True)
class Answer:
    """One model's reading of the drawing, as the page shows it."""

    model: str  # the title shown to the user, e.g. "Dense", "CNN"
    digit: int
    confidence: float  # the top probability
    probabilities: np.ndarray  # (10,)
    sure: bool  # confidence reached the threshold

    @property
    def note(self) -> str:
        """The metric's delta text: "93% sure", or "not sure (41%)"."""
        return sure_note(self.confidence, self.sure)


def answer(model: str, prediction: Prediction, threshold: float = config.CONFIDENCE_THRESHOLD) -> Answer:
    """A Prediction -> an Answer; below `threshold` the model is "not sure"."""
    return Answer(
        model=model,
        digit=int(prediction.digit),
        confidence=float(prediction.confidence),
        probabilities=np.asarray(prediction.probabilities, dtype=np.float32).reshape(10),
        sure=float(prediction.confidence) >= threshold,
    )


@dataclass(frozen=True)
class Verdict:
    """How the answers relate: "agree", "disagree", or "unsure" (same digit, nobody sure)."""

    kind: Literal["agree", "disagree", "unsure"]
    message: str


def verdict(answers: Sequence[Answer]) -> Verdict | None:
    """Compare the answers; None when there is nothing to compare (fewer than two)."""
    if len(answers) < 2:
        return None
    digits = {a.digit for a in answers}
    if len(digits) > 1:
        said = ", ".join(f"{a.model} reads {a.digit}" + ("" if a.sure else " (not sure)") for a in answers)
        return Verdict("disagree", f"The models disagree: {said}.")
    digit = answers[0].digit
    if not any(a.sure for a in answers):
        return Verdict("unsure", f"Both lean towards {digit}, but neither is sure.")
    return Verdict("agree", f"Both read {digit}.")


def from_digit(model: str, d: DigitAnswer) -> Answer:
    """One digit of a Reading (calibrated, with its `sure`) as an Answer for the metric and chart."""
    return Answer(model, d.digit, d.confidence, np.asarray(d.probabilities, np.float32).reshape(10), d.sure)


@dataclass(frozen=True)
class View:
    """How one model's reading of the whole drawing is shown: its metric's value and note."""

    model: str
    value: str  # "7", "2026", or "Not a digit"
    note: str  # "93% sure", "not sure (41%)", or the hint "would guess 8"
    sure: bool  # the note is plain (True) or flagged (False)


def view(model: str, reading: ModelReading) -> View:
    """A ModelReading -> what its metric says. A refused drawing names no digit: the guess is a hint."""
    if reading.status == NOT_A_DIGIT:
        return View(model, "Not a digit", f"would guess {reading.guess}", False)
    if reading.status not in (DIGIT, NUMBER):
        return View(model, "–", "nothing to read", False)
    return View(model, reading.text or "", sure_note(reading.confidence, reading.sure), reading.sure)


def sure_note(confidence: float, sure: bool) -> str:
    """ "93% sure", or "not sure (59%)": an unsure percentage is rounded down, so that 59.7% under a
    60% threshold never reads "not sure (60%)"."""
    if sure:
        return f"{confidence:.0%} sure"
    return f"not sure ({math.floor(confidence * 100)}%)"


def view_line(views: Sequence[View], bold: bool = True) -> str:
    """Every model's reading on one Markdown line (narrow screens): "Dense **2026** · 95% | CNN ...";
    bold=False: plain text, for a screen reader."""
    mark = "**" if bold else ""
    return SEPARATOR.join(f"{v.model} {mark}{v.value}{mark} · {v.note}" for v in views)


def digits_line(reading: ModelReading) -> str:
    """A number's digits with their confidences, left to right: "2 (99%) · 0 (97%) · 2 (99%)"."""
    return " · ".join(f"{d.digit} ({d.confidence:.0%})" for d in reading.digits)


def summary_line(answers: Sequence[Answer]) -> str:
    """Every answer on one Markdown line, for a narrow screen: "Dense **3** · 97% | CNN **3** · 99%".

    An unsure answer says so, as the metric's note does: "Dense **3** · not sure (41%)".
    """
    parts = [f"{a.model} **{a.digit}** · " + (f"{a.confidence:.0%}" if a.sure else a.note) for a in answers]
    return SEPARATOR.join(parts)


def unique_titles(titles: Sequence[str]) -> list[str]:
    """Make titles distinct (the same model on both sides), so chart series do not merge."""
    out: list[str] = []
    for title in titles:
        candidate, n = title, 2
        while candidate in out:
            candidate, n = f"{title} ({n})", n + 1
        out.append(candidate)
    return out


def chart_rows(answers: Sequence[Answer]) -> list[dict]:
    """Long-form data for the grouped bar chart: one row per (model, digit).

    Keys: digit (0-9), model (title), probability (0..1), chosen (the model's top digit).
    Rows are in the order of `answers`, so the chart keeps the page's left/right order.
    """
    return [
        {
            "digit": d,
            "model": a.model,
            "probability": float(a.probabilities[d]),
            "chosen": bool(d == a.digit),
        }
        for a in answers
        for d in range(10)
    ]


def chart_frame(answers: Sequence[Answer]) -> pd.DataFrame:
    """`chart_rows` as a table (columns digit, model, probability, chosen)."""
    return pd.DataFrame(chart_rows(answers), columns=["digit", "model", "probability", "chosen"])


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A 0..1 float image -> uint8 0..255 for display."""
    return np.round(np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255).astype(np.uint8)


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor: each pixel becomes a scale x scale block.

    Any dtype, kept as it is (grey or RGB). Done here rather than by the browser, whose smoothing
    would blur a 28x28 input or a 7x7 feature map into something the model never saw.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    return np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)


def display_step(image: np.ndarray, side: int = 140) -> np.ndarray:
    """A preprocessing step -> uint8 with its longer side about `side` px.

    Small steps (20x20, 28x28) grow by whole pixels (nearest-neighbour, visible pixels); large
    ones (the 280 px ink map) shrink by striding, which is plenty for a look.
    """
    img = to_uint8(image)
    longest = max(img.shape[:2])
    if longest <= 0:
        return img
    if longest < side:
        return enlarge(img, max(1, side // longest))
    step = max(1, longest // side)
    return img[::step, ::step]


# Series colours, in page order (left model, right model, ...): distinct hues that read on
# white and in print, rather than the theme's two shades of blue.
SERIES_COLOURS = ["#0068c9", "#ff8700", "#29b09d", "#7d353b"]


def chart_spec(answers: Sequence[Answer], threshold: float = config.CONFIDENCE_THRESHOLD) -> dict:
    """A Vega-Lite spec: all models' ten probabilities as one grouped bar chart.

    Digits 0-9 on x, one bar per model within each digit (xOffset), probability on y (0-100%),
    and a dashed rule at the "not sure" threshold. A plain dict with the data inline: building
    it costs microseconds, where an Altair chart's validation costs tens of milliseconds on
    every stroke.
    """
    order = [a.model for a in answers]
    values = chart_rows(answers)  # not via a DataFrame: that round trip cost ~2 ms a stroke
    return {
        "height": 220,
        # Vega draws on a <canvas>, not as SVG (Streamlit's default): one element instead of a few
        # hundred DOM nodes laid out on every stroke, the largest part of the browser's work per
        # stroke (bench/draw_latency.py (c)); the same picture and tooltips.
        "usermeta": {"embedOptions": {"renderer": "canvas"}},
        "layer": [
            {
                "data": {"values": values},
                "mark": {"type": "bar", "cornerRadiusEnd": 2},
                "encoding": {
                    "x": {"field": "digit", "type": "ordinal", "title": "digit", "axis": {"labelAngle": 0}},
                    "xOffset": {"field": "model", "type": "nominal", "sort": order},
                    "y": {
                        "field": "probability",
                        "type": "quantitative",
                        "title": "probability",
                        "scale": {"domain": [0, 1]},
                        "axis": {"format": "%", "tickCount": 5},
                    },
                    "color": {
                        "field": "model",
                        "type": "nominal",
                        "sort": order,
                        "scale": {"domain": order, "range": SERIES_COLOURS[: len(order)]},
                        "legend": {"orient": "top", "title": None},
                    },
                    "tooltip": [
                        {"field": "model", "type": "nominal"},
                        {"field": "digit", "type": "ordinal"},
                        {"field": "probability", "type": "quantitative", "format": ".1%"},
                    ],
                },
            },
            {
                "data": {"values": [{"threshold": threshold}]},
                "mark": {"type": "rule", "strokeDash": [4, 4], "opacity": 0.6},
                "encoding": {"y": {"field": "threshold", "type": "quantitative"}},
            },
        ],
    }
