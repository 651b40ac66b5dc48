"""End to end: the real app in a real Chromium, digits drawn with the mouse, stroke by stroke.

The server is `streamlit run streamlit_app.py` in a subprocess; the pen is Playwright's mouse
replaying real pen-drawn digits (pendigits, held-out writers 25-30) onto the canvas. The canvas
(streamlit-drawable-canvas 0.13, Components v2) lives in an open shadow root, not an iframe:
Playwright's CSS locators pierce open shadow roots, so `canvas.upper-canvas` finds it.

Without Chromium the test skips with the reason; with CI set, a browser that does not start
is a failure. The helpers here are reused by bench/draw_latency.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from browser import app_server, launch_chromium
from conftest import require

from digitdraw import config, modelio, pendigits
from digitdraw.predict import Predictor
from digitdraw.preprocess import preprocess

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "docs" / "screenshot-draw.png"
CANVAS = 280  # the page's canvas size, px
CLEAR_BUTTON = 'button[title="Reset canvas & history"]'
HINT = "Draw a digit on the canvas"

# In the page: {metric label: metric value} for every st.metric shown.
METRICS_JS = """() => Object.fromEntries(
  [...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
    m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
    m.querySelector('[data-testid="stMetricValue"]').innerText.trim(),
  ]))"""


# --------------------------------------------------------------------------- helpers


def canvas_paths(
    digit: pendigits.PenDigit,
    canvas: int = CANVAS,
    height: float = 180,
    centre: tuple[float, float] | None = None,
) -> list[np.ndarray]:
    """The pen's strokes in canvas pixels, scaled like pendigits.render; centred unless `centre`."""
    pts = np.concatenate(digit.strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span_w, span_h = np.maximum(hi - lo, 1e-6)
    scale = min(height / span_h, (canvas - 40) / span_w)
    mid = (lo + hi) / 2
    at = np.asarray(centre if centre is not None else (canvas / 2, canvas / 2))
    return [(s - mid) * scale + at for s in digit.strokes]


def draw(page, paths: Sequence[np.ndarray]) -> float:
    """Draw the strokes with the mouse on the canvas; returns performance.now() at the last mouse-up."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    assert box is not None, "canvas not on screen"
    for stroke in paths:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
        page.mouse.up()
    return page.evaluate("() => performance.now()")


def wait_for_answers(page, expected: dict[str, str], timeout_ms: float = 30_000) -> None:
    """Wait until the metrics show exactly `expected` ({label: value}); fail with what they show."""
    try:
        page.wait_for_function(
            f"(want) => {{ const got = ({METRICS_JS})(); "
            "return Object.keys(want).every(k => got[k] === want[k]); }",
            arg=expected,
            timeout=timeout_ms,
            polling="raf",
        )
    except Exception as exc:
        raise AssertionError(f"expected {expected}, the page shows {page.evaluate(METRICS_JS)}") from exc


def open_app(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 940})
    page.goto(url)
    page.wait_for_selector(f"text={HINT}", timeout=120_000)
    page.locator("canvas.upper-canvas").wait_for(timeout=30_000)
    return page


def clear(page) -> None:
    page.locator(CLEAR_BUTTON).click()
    page.wait_for_selector(f"text={HINT}", timeout=30_000)


def pick_digits(n: int = 3, min_confidence: float = 0.95) -> list[pendigits.PenDigit]:
    """n held-out pen digits of different labels that both shipped models read right, surely.

    Rendered as the canvas draws them and sent through the app's preprocessing, so the browser
    test checks the app's plumbing, not the models' weak spots.
    """
    models = [Predictor(modelio.load(modelio.resolve(name))) for name in ("dense", "cnn")]
    digits = pendigits.load_pendigits(writers=pendigits.HOLDOUT_WRITERS)
    chosen: dict[int, pendigits.PenDigit] = {}
    for label in (3, 7, 4, 5, 2, 0, 6, 8, 9, 1):
        for d in (d for d in digits if d.label == label):
            image = preprocess(pendigits.render(d, background="black")).image
            if image is None:
                continue
            answers = [m.predict_one(image) for m in models]
            if all(a.digit == label and a.confidence >= min_confidence for a in answers):
                chosen[label] = d
                break
        if len(chosen) == n:
            break
    return list(chosen.values())


# --------------------------------------------------------------------------- the test


@pytest.mark.browser
def test_drawing_digits_in_a_browser_shows_both_answers_and_clear_brings_back_the_hint():
    pen = config.pendigits_path()
    require(pen is not None and pen.is_file(), "pendigits data not configured (see digitdraw.config)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    digits = pick_digits(3)
    assert len(digits) == 3, "fewer than 3 held-out digits both models read right"

    with app_server() as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = open_app(browser, url)
            for i, digit in enumerate(digits):
                draw(page, canvas_paths(digit))
                want = {"Dense": str(digit.label), "CNN": str(digit.label)}
                wait_for_answers(page, want)
                if i == 0:
                    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
                    page.mouse.move(5, 5)  # away from the canvas: its toolbar hides
                    page.wait_for_timeout(800)  # let the chart finish drawing
                    SCREENSHOT.parent.mkdir(exist_ok=True)
                    page.screenshot(path=str(SCREENSHOT), full_page=True)
                clear(page)
                assert page.evaluate(METRICS_JS) == {}, "answers still shown after clearing"
        finally:
            browser.close()
