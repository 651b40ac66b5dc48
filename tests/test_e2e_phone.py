"""End to end on a phone: the real app in Chromium emulating a 390x844 touch screen, digits drawn
with touch events.

The pen is the Chrome DevTools Protocol's Input.dispatchTouchEvent (touchStart, touchMove,
touchEnd), which reaches the page as a finger would: touch and pointer events, no mouse hover.
The digits are real pen-drawn ones from held-out writers (pendigits 25-30) that both shipped
models read right, as in tests/test_e2e_draw.py, whose helpers this reuses.

What a phone user needs, checked with bounding boxes: after a stroke both answers and the whole
canvas are on screen together, without scrolling; Clear empties the canvas and brings the hint
back; the model pickers are reachable without the (collapsed) sidebar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest
from browser import chromium_on_app, open_popover
from test_e2e_draw import (
    CANVAS,
    CLEAR_BUTTON,
    HINT,
    METRICS_JS,
    canvas_is_empty,
    canvas_paths,
    pick_digits,
    require_pendigits,
    wait_until_ready,
)

from digitdraw.ui import inspect_page
from digitdraw.ui.draw_page import HINT_KEY, SUMMARY_KEY

PHONE = {"width": 390, "height": 844}
SUMMARY = f".st-key-{SUMMARY_KEY}"


def open_on_phone(browser, url: str):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=3)
    page = context.new_page()
    page.goto(url)
    wait_until_ready(page)
    return page, context.new_cdp_session(page)


def canvas_top(page) -> float:
    box = page.locator("canvas.upper-canvas").bounding_box()
    assert box is not None, "canvas not on screen"
    return box["y"]


def touch_draw(page, cdp, paths: Sequence[np.ndarray]) -> None:
    """Draw the strokes (canvas pixels) with one finger, as touch events."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    assert box is not None, "canvas not on screen"

    def at(x: float, y: float) -> list[dict]:
        return [{"x": box["x"] + float(x), "y": box["y"] + float(y), "id": 1, "radiusX": 4, "radiusY": 4}]

    for stroke in paths:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*stroke[0])})
        for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True):
            for t in (1 / 3, 2 / 3, 1.0):  # a finger reports points often: a few per segment
                pts = at(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": pts})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def summary_digits(page) -> dict[str, str]:
    """{model: digit} as the one-line summary shows them, e.g. "Dense 3 · 97% | CNN 3 · 99%"."""
    # No-break spaces keep each model's answer on one line: read them as spaces.
    return dict(re.findall(r"(Dense|CNN) (\d)", page.locator(SUMMARY).inner_text().replace("\u00a0", " ")))


def wait_for_summary(page, expected: dict[str, str], timeout_ms: float = 30_000) -> None:
    try:
        page.wait_for_function(
            """([sel, want]) => {
              const text = (document.querySelector(sel)?.innerText ?? '').replace(/\u00a0/g, ' ');
              return Object.entries(want).every(([m, d]) => text.includes(`${m} ${d}`));
            }""",
            arg=[SUMMARY, expected],
            timeout=timeout_ms,
            polling="raf",
        )
    except Exception as exc:
        raise AssertionError(f"expected {expected}, the summary shows {summary_digits(page)}") from exc


def on_screen(page, selector: str) -> bool:
    """The element is wholly inside the viewport as it stands (no scrolling)."""
    return inside_viewport(page.locator(selector))


def settled_one(page, locator, timeout_ms: int = 10_000, still_ms: int = 500) -> None:
    """Wait until exactly one element matches, shown, and stays the only one for `still_ms`: a rerun
    that replaces a widget can leave the old copy beside the new for a moment, and more than once."""
    from playwright.sync_api import expect  # here: chromium_on_app skips without Playwright

    waited = 0
    while True:
        expect(locator).to_have_count(1, timeout=max(timeout_ms - waited, 1))
        if locator.is_visible():
            page.wait_for_timeout(still_ms)
            waited += still_ms
            if locator.count() == 1 and locator.is_visible():
                return
        else:
            page.wait_for_timeout(100)
            waited += 100
        assert waited < timeout_ms, f"{locator} did not settle to one shown element"


def inside_viewport(locator) -> bool:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
        and box["y"] + box["height"] <= PHONE["height"]
    )


@pytest.mark.browser
def test_on_a_phone_touch_drawn_digits_are_read_with_canvas_and_answers_on_screen_and_clear_works(tmp_path):
    require_pendigits()
    digits = pick_digits(3)
    assert len(digits) == 3, "fewer than 3 held-out digits both models read right"

    with chromium_on_app() as (browser, url):
        page, cdp = open_on_phone(browser, url)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], (
            "the page is wider than the phone"
        )
        top = canvas_top(page)
        for i, digit in enumerate(digits):
            touch_draw(page, cdp, canvas_paths(digit))
            want = {"Dense": str(digit.label), "CNN": str(digit.label)}
            wait_for_summary(page, want)
            assert page.evaluate("() => window.scrollY") == 0, "the page scrolled"
            # The next stroke must land where the finger puts it: the answer line above the canvas
            # must not push the canvas down or pull it up.
            assert canvas_top(page) == pytest.approx(top, abs=1), "the canvas moved when the answers came"
            assert on_screen(page, "canvas.upper-canvas"), "the canvas is not wholly on screen"
            assert on_screen(page, SUMMARY), "the answers are not on screen with the canvas"
            # Confirming an answer must not need a scroll away from the drawing it is about. Right? is
            # written after the summary in the same rerun: under load it can come a moment later (CI),
            # and while a second rerun for the same stroke replaces it, the old one may still stand
            # beside the new for a moment (CI, twenty-fourth session): once settled, there is one.
            yes = page.locator("button", has_text=f"Yes, it's {digit.label}")
            settled_one(page, yes)
            assert inside_viewport(yes), "Right? is off screen"
            if i == 0:
                page.screenshot(path=str(tmp_path / "phone.png"))
            page.locator(CLEAR_BUTTON).tap()
            page.wait_for_function(
                "([sel, hint]) => document.querySelector(sel)?.innerText.includes(hint)",
                arg=[SUMMARY, HINT],
                timeout=30_000,
            )
            assert page.evaluate(METRICS_JS) == {}, "answers still shown after clearing"
            # Said once, in the summary above the canvas; not again in a box below it (qa30).
            assert not page.locator(f".st-key-{HINT_KEY}").is_visible(), "the hint is shown twice"
            assert canvas_top(page) == pytest.approx(top, abs=1), "the canvas moved when cleared"
            assert canvas_is_empty(page), "ink left on the canvas after clearing"

        # A stroke that starts 3 px below the canvas's top edge counts too.
        touch_draw(page, cdp, [np.array([[CANVAS - 40, 3.0], [CANVAS - 40, CANVAS - 10.0]])])
        wait_for_summary(page, {"Dense": "1", "CNN": "1"})


@pytest.mark.browser
def test_on_a_phone_the_model_pickers_ink_and_pen_width_are_reachable_without_the_sidebar():
    with chromium_on_app() as (browser, url):
        page, _ = open_on_phone(browser, url)
        open_popover(page, "Models and ink", page.get_by_role("combobox", name="Left model"), tap=True)
        for label in ("Left model", "Right model"):
            picker = page.get_by_role("combobox", name=label)
            picker.wait_for(timeout=10_000)
            assert inside_viewport(picker), f"{label} is off screen"
        assert inside_viewport(page.get_by_text("Black ink on white"))
        assert inside_viewport(page.get_by_role("slider", name="Pen width"))


def test_on_a_phone_every_inspect_section_can_be_chosen_without_scrolling_sideways():
    with chromium_on_app() as (browser, url):
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=3)
        page = context.new_page()
        page.goto(f"{url}/inspect")
        sections = page.locator('[data-testid="stButtonGroup"] button')
        sections.first.wait_for(timeout=120_000)
        for section in inspect_page.SECTIONS:
            button = sections.filter(has_text=section).first
            assert inside_viewport(button), f"{section} is off screen"
