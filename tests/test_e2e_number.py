"""End to end: a three-digit number written with the mouse on Number mode's wide canvas, read off the page.

The digits are real pen-drawn digits of held-out writers (pendigits 25-30), placed side by side
with gaps as a person writes a number; both models must read the whole number. The number is
179: the three digits this test once left out. Two things had made them fail in the browser and
not offline: the page passes the pen's strokes to the segmentation, which used to cut a digit of
two strokes (a 7's or a 1's bar drawn apart) in two; and the canvas rounds the mouse's corners,
which turned one writer's 9 into a 7. So each digit is chosen as the page will see it: its path
rounded the way the canvas rounds it, drawn in its place on the wide canvas, split with its
strokes, read by both models as the page loads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from browser import chromium_on_app, the_canvas
from test_e2e_draw import canvas_paths, draw, open_app, require_pendigits, wait_for_answers

from digitdraw import modelio, pendigits, reading, strokes
from digitdraw.predict import Predictor
from digitdraw.ui.canvas import DEFAULT_PEN
from digitdraw.ui.draw_page import NUMBER_CANVAS, NUMBER_HINT

NUMBER = "179"
MOUSE_STEPS = 3  # test_e2e_draw.draw moves the mouse in 3 steps from point to point


def as_the_canvas_draws(path: np.ndarray, steps: int = MOUSE_STEPS, samples: int = 8) -> np.ndarray:
    """The path the canvas keeps for a mouse moved through these points: the mouse's moves cut
    into `steps`, then fabric.js's pencil: quadratic curves through the midpoints of the points,
    each point their control point (corners rounded)."""
    p = np.asarray(path, np.float64)
    moves = [p[0]] + [
        a + (b - a) * k / steps for a, b in zip(p[:-1], p[1:], strict=True) for k in range(1, steps + 1)
    ]
    q = np.asarray(moves)
    if len(q) < 3:
        return q
    out = [q[0]]
    t = np.linspace(0, 1, samples)[1:, None]
    start = q[0]
    for ctrl, nxt in zip(q[1:-1], q[2:], strict=True):
        end = (ctrl + nxt) / 2
        out.extend((1 - t) ** 2 * start + 2 * (1 - t) * t * ctrl + t**2 * end)
        start = end
    out.append(q[-1])
    return np.asarray(out)


def layout(digits: Sequence[pendigits.PenDigit]) -> list[list[np.ndarray]]:
    """Each digit's mouse path in its third of the wide canvas, 110 px tall."""
    width, height = NUMBER_CANVAS
    return [
        canvas_paths(
            d, canvas=width // 3 + 40, height=110, centre=((i + 0.5) * width / len(digits), height / 2)
        )
        for i, d in enumerate(digits)
    ]


def read_as_the_page_will(
    digits: Sequence[pendigits.PenDigit], models: dict[str, Predictor]
) -> dict[str, str]:
    """{model: the number it reads} for these digits drawn in the test's layout, rounded like the canvas."""
    width, height = NUMBER_CANVAS
    paths = [as_the_canvas_draws(s) for digit in layout(digits) for s in digit]
    # Drawn where they are on a square canvas as wide as the wide one, then cut to its height.
    pixels = strokes.render_as_drawn(paths, DEFAULT_PEN, canvas=width)[:height]
    got = reading.read_drawing(pixels, models, strokes=paths, mode="number")
    readable = (reading.DIGIT, reading.NUMBER)  # not refused, not empty
    return {name: m.guess if m.status in readable else "" for name, m in got.models.items()}


def pick_number(number: str, tries: int = 40) -> list[pendigits.PenDigit]:
    """For each digit of `number`, a held-out writer's digit that both shipped models read right
    in its place, as the page will see it (calibrated, with the not-a-digit detector); the first
    such in the data, each tried in its place beside the digits already chosen."""
    models = {name: Predictor.from_file(modelio.resolve(name)) for name in ("dense", "cnn")}
    held = pendigits.load_pendigits(writers=pendigits.HOLDOUT_WRITERS)
    chosen: list[pendigits.PenDigit] = []
    for i, c in enumerate(number):
        candidates = [d for d in held if d.label == int(c)][:tries]
        for d in candidates:
            if all(text == number[: i + 1] for text in read_as_the_page_will(chosen + [d], models).values()):
                chosen.append(d)
                break
        else:
            pytest.fail(f"none of the first {tries} held-out {c}s is read right by both models in the layout")
    return chosen


def test_the_canvas_rounding_keeps_the_ends_and_passes_near_the_corners():
    corner = np.array([[0.0, 0.0], [60.0, 0.0], [60.0, 60.0]])
    rounded = as_the_canvas_draws(corner)
    assert np.allclose(rounded[0], corner[0]) and np.allclose(rounded[-1], corner[-1])
    gap = np.min(np.hypot(*(rounded - corner[1]).T))
    assert 0 < gap < 10  # cut, but only a little: the mouse moved in thirds


@pytest.mark.browser
def test_a_three_digit_number_on_the_wide_canvas_is_read_as_that_number():
    require_pendigits()
    digits = pick_number(NUMBER)
    width, _ = NUMBER_CANVAS

    with chromium_on_app() as (browser, url):
        page = open_app(browser, url)
        page.get_by_text("Number", exact=True).click()
        page.wait_for_selector(f"text={NUMBER_HINT[:30]} >> visible=true", timeout=30_000)
        canvas = the_canvas(page)
        assert round(canvas.bounding_box()["width"]) == width
        # Each digit in its third of the canvas, 110 px tall: gaps of ink between them.
        for paths in layout(digits):
            draw(page, paths)
        wait_for_answers(page, {"Dense": NUMBER, "CNN": NUMBER})

        # A look at another page and back changes nothing: still Number mode on the wide canvas, the
        # number still there and read (it came back in Digit mode, on the square canvas, cut off).
        page.get_by_role("link", name="Inspect").first.click()
        page.get_by_text("Inside the model").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="Draw").first.click()
        wait_for_answers(page, {"Dense": NUMBER, "CNN": NUMBER})
        assert page.get_by_role("radio", name="Number").is_checked()
        assert round(the_canvas(page).bounding_box()["width"]) == width
