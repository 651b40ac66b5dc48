"""What the Draw page says about two models' answers: pure data, no Streamlit, so it is unit-tested.

The page shows each model's digit with how sure it is, says so when the models disagree, says
"not sure" rather than a confident-looking wrong answer, and draws all the probabilities in one
grouped bar chart. The decisions behind those words live here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from digitdraw import config
from digitdraw.predict import Prediction
from digitdraw.reading import DIGIT, NOT_A_DIGIT, NUMBER, DigitAnswer, ModelReading

REFUSED = "Not a digit"  # a refusing model's value: it names no digit, its guess is only a hint
SEPARATOR = "  |  "  # between the models on the one-line summary (a line may break here)
NO_BREAK = "\u00a0"


@dataclass(frozen=True)
class Answer:
    """One model's reading of the drawing, as the page shows it."""

    model: str  # the title shown to the user, e.g. "Dense", "CNN"
    digit: int
    confidence: float  # the top probability
    probabilities: np.ndarray  # (10,)
    sure: bool  # confidence reached the threshold
    refused: bool = False  # the model's detector said it is no digit: the digit is only a guess

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
    probabilities = np.asarray(d.probabilities, np.float32).reshape(10)
    return Answer(model, d.digit, d.confidence, probabilities, d.sure, d.not_a_digit)


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
        return View(model, REFUSED, f"would guess {reading.guess}", False)
    if reading.status not in (DIGIT, NUMBER):
        return View(model, "–", "nothing to read", False)
    return View(model, reading.text or "", sure_note(reading.confidence, reading.sure), reading.sure)


def sure_note(confidence: float, sure: bool) -> str:
    """ "93% sure", or "not sure (59%)": an unsure percentage is rounded down, so that 59.7% under a
    60% threshold never reads "not sure (60%)"."""
    if sure:
        return f"{confidence:.0%} sure"
    return f"not sure ({math.floor(confidence * 100)}%)"


def split_verdict(views: Sequence[View]) -> str | None:
    """Where some models take the drawing for no digit and others read it: who says what ("The models
    disagree: CNN doesn't take it for a digit (would guess 4); Dense reads 4, 100% sure."). None
    where all or none refuse. "That doesn't look like a digit" beside a model's sure 4 told the user
    to draw a digit they had just drawn (qa28)."""
    refused = [v for v in views if v.value == REFUSED]
    read = [v for v in views if v.value != REFUSED]
    if not refused or not read:
        return None
    said = [f"{v.model} doesn't take it for a digit ({v.note})" for v in refused]
    said += [f"{v.model} reads {v.value}, {v.note}" for v in read]
    return f"The models disagree: {'; '.join(said)}."


def view_line(views: Sequence[View], bold: bool = True) -> str:
    """Every model's reading on one Markdown line (narrow screens): "Dense **2026** · 95% | CNN ...";
    bold=False: plain text, for a screen reader."""
    mark = "**" if bold else ""
    # On screen, a line too long for a phone breaks between the models, never inside one model's
    # reading ("CNN" on one line, "Not a digit" on the next): no-break spaces within it.
    keep = NO_BREAK if bold else " "
    parts = (f"{v.model} {mark}{v.value}{mark} · {v.note}".replace(" ", keep) for v in views)
    return SEPARATOR.join(parts)


def digits_line(reading: ModelReading) -> str:
    """A number's digits with their confidences, left to right: "2 (99%) · 0 (97%) · 2 (99%)"."""
    return " · ".join(f"{d.digit} ({d.confidence:.0%})" for d in reading.digits)


def unique_titles(titles: Sequence[str]) -> list[str]:
    """Make titles distinct (the same model on both sides), so chart series do not merge."""
    out: list[str] = []
    for title in titles:
        candidate, n = title, 2
        while candidate in out:
            candidate, n = f"{title} ({n})", n + 1
        out.append(candidate)
    return out


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


def chart_html(answers: Sequence[Answer], threshold: float = config.CONFIDENCE_THRESHOLD) -> str:
    """All models' ten probabilities as one grouped bar chart, in plain HTML: digits 0-9 along the
    bottom, one bar per model within each digit (left model first, its colour in the legend), the
    height its probability, and a dashed line at the "not sure" threshold. Each bar's tooltip says
    model, digit and probability; the chart's label says each model's answer, for screen readers. A
    model that refused the drawing as no digit has its bars faded and says so: they are a guess.

    Why not a Vega chart, as before: compiling a spec into a dataflow and drawing it costs the
    browser about 28 ms of its main thread per stroke, the largest part of the page's work; where
    several visitors' browsers share a machine, or a phone draws, that is time the answers wait
    (bench/concurrent_draw.py). Twenty-odd boxes cost next to nothing and show the same."""
    colours = dict(zip([a.model for a in answers], SERIES_COLOURS * len(answers), strict=False))
    box = "display:flex;align-items:flex-end;justify-content:center;gap:2px;flex:1;height:100%"
    groups = []
    for d in range(10):
        bars = "".join(
            f'<div title="{html.escape(a.model)} · {d} · {float(a.probabilities[d]):.1%}" '
            f'style="width:38%;max-width:16px;height:{100 * float(a.probabilities[d]):.1f}%;'
            f"min-height:1px;background:{colours[a.model]};border-radius:2px 2px 0 0"
            f'{";opacity:0.35" if a.refused else ""}"></div>'
            for a in answers
        )
        groups.append(f'<div style="{box}">{bars}</div>')
    legend = "".join(
        f'<span style="white-space:nowrap"><span style="display:inline-block;width:10px;height:10px;'
        f'border-radius:2px;margin-right:4px;background:{colours[a.model]}"></span>'
        f"{html.escape(a.model)}{' (not a digit)' if a.refused else ''}</span>"
        for a in answers
    )
    said = "; ".join(
        f"{a.model}: {'not a digit, would guess ' if a.refused else ''}{a.digit}, "
        f"{float(a.probabilities[a.digit]):.0%}"
        for a in answers
    )
    ticks = "".join(
        f'<span style="position:absolute;right:4px;bottom:calc({q}% - 0.6em)">{q}%</span>'
        for q in (0, 50, 100)
    )
    labels = "".join(f'<span style="flex:1;text-align:center">{d}</span>' for d in range(10))
    return (
        f'<figure class="digitdraw-chart" role="img" aria-label="{html.escape(f"Probabilities. {said}")}" '
        'style="margin:0;font-size:0.8rem">'
        f'<div style="display:flex;gap:12px;justify-content:center;margin-bottom:6px">{legend}</div>'
        '<div style="display:flex;height:170px">'
        f'<div style="position:relative;width:40px;opacity:0.7">{ticks}</div>'
        '<div style="position:relative;flex:1;display:flex;gap:4px;'
        'border-bottom:1px solid rgba(128,128,128,0.6);border-left:1px solid rgba(128,128,128,0.6)">'
        f'<div title="below {threshold:.0%}: not sure" style="position:absolute;left:0;right:0;'
        f'bottom:{100 * threshold:.1f}%;border-top:1px dashed currentColor;opacity:0.5"></div>'
        f"{''.join(groups)}</div></div>"
        f'<div style="display:flex;gap:4px;margin-left:41px;margin-top:2px">{labels}</div>'
        '<figcaption style="text-align:center;opacity:0.7">digit</figcaption></figure>'
    )
