"""Drawn-digit accuracy in a real browser: `python bench/browser_drawn.py [--drawings 100]`.

The product is judged on digits drawn in a browser on the running app, so this replays
held-out pen digits (pendigits writers 25-30) with Playwright's mouse on the Draw page's
canvas, at the page's default pen width, a random size and a random place, and reads the two
answers off the page. The same strokes are also rendered offline (pendigits.render_drawing) and
read the app's way, strokes and all (digitdraw.redraw), by the same models: if the two figures
differ, the browser path (the canvas, its pixels, the page) loses something that
bench/drawn_digits.py cannot see.

`--every K` draws fast, as a mouse reports a quick hand on a busy computer: every K-th pen point
(each stroke's ends kept), one mouse event each.

Needs Chromium, Playwright and the pendigits data; prints why not without them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser helpers live with the e2e test
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitdraw import modelio, pendigits, redraw  # noqa: E402
from digitdraw.predict import Predictor  # noqa: E402
from digitdraw.ui.draw_page import CANVAS_SIZE, DEFAULT_PEN  # noqa: E402

MODELS = {"Dense": "dense", "CNN": "cnn"}  # metric label on the page -> shipped model


def placed(digit: pendigits.PenDigit, rng: np.random.Generator) -> tuple[float, tuple[float, float]]:
    """A random height (100-230 px) and a centre that keeps the digit on the canvas."""
    height = float(rng.uniform(100, 230))
    pts = np.concatenate(digit.strokes)
    span_w, span_h = np.maximum(pts.max(axis=0) - pts.min(axis=0), 1e-6)
    half_w = min(height * span_w / span_h, CANVAS_SIZE - 40) / 2 + DEFAULT_PEN
    half_h = height / 2 + DEFAULT_PEN
    cx = rng.uniform(min(half_w, CANVAS_SIZE / 2), max(CANVAS_SIZE - half_w, CANVAS_SIZE / 2))
    cy = rng.uniform(min(half_h, CANVAS_SIZE / 2), max(CANVAS_SIZE - half_h, CANVAS_SIZE / 2))
    return height, (float(cx), float(cy))


def sparse(stroke: np.ndarray, every: int) -> np.ndarray:
    """Every `every`-th point of the stroke, its last kept too."""
    keep = list(range(0, len(stroke), every))
    return stroke[keep + ([len(stroke) - 1] if keep[-1] != len(stroke) - 1 else [])]


def draw_fast(page, strokes: list[np.ndarray]) -> None:
    """The strokes drawn with one mouse event a point, as a quick hand on a busy computer reports them."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()


def settled_answers(page, metrics_js: str, after_ms: float = 600, quiet_polls: int = 3) -> dict[str, str]:
    """The metrics once the page has answered the last stroke and stopped changing."""
    page.wait_for_timeout(after_ms)
    last, same = None, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = page.evaluate(metrics_js)
        ready = all(label in got for label in MODELS)
        same = same + 1 if ready and got == last else 0
        if same >= quiet_polls:
            return got
        last = got
        page.wait_for_timeout(250)
    raise TimeoutError(f"the page did not settle on two answers; it shows {last}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drawings", type=int, default=100, help="drawings, spread over the ten digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=1, help="every K-th pen point, one mouse event each")
    ap.add_argument(
        "--writers",
        default=pendigits.HOLDOUT_WRITERS,
        help=f"whose digits (default {pendigits.HOLDOUT_WRITERS}; tune on {pendigits.TUNE_WRITERS})",
    )
    args = ap.parse_args(argv)
    try:
        from browser import CHROMIUM_ARGS, app_server, find_chromium
        from playwright.sync_api import sync_playwright
        from test_e2e_draw import METRICS_JS, canvas_paths, clear, draw, open_app

        digits = pendigits.load_pendigits(writers=args.writers)
    except (ImportError, FileNotFoundError) as exc:
        print(f"skipped: {exc}")
        return 0
    executable = find_chromium()
    if executable is None:
        print("skipped: no Chromium found (apt-get install chromium)")
        return 0

    rng = np.random.default_rng(args.seed)
    per_label = max(1, args.drawings // 10)
    chosen = []
    for label in range(10):
        pool = [d for d in digits if d.label == label]
        chosen += [pool[i] for i in rng.choice(len(pool), size=per_label, replace=False)]
    places = [placed(d, rng) for d in chosen]

    paths = [
        [sparse(s, args.every) for s in canvas_paths(d, CANVAS_SIZE, height, centre)]
        for d, (height, centre) in zip(chosen, places, strict=True)
    ]

    # Offline: the same canvas strokes, rendered and read without a browser.
    predictors = {label: Predictor(modelio.load(modelio.resolve(name))) for label, name in MODELS.items()}
    offline = {label: 0 for label in MODELS}
    for digit, strokes in zip(chosen, paths, strict=True):
        pts = np.concatenate(strokes)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        canvas = pendigits.render_drawing(
            strokes, stroke_width=DEFAULT_PEN, height=hi[1] - lo[1], centre=tuple((lo + hi) / 2), clip=True
        )
        image = redraw.read_one(canvas).image  # with its strokes, as the page reads the canvas
        for label, predictor in predictors.items():
            offline[label] += image is not None and predictor.predict_one(image).digit == digit.label

    browser_right = {label: 0 for label in MODELS}
    wrong: list[str] = []
    start = time.perf_counter()
    with app_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = open_app(browser, url)
            for digit, strokes in zip(chosen, paths, strict=True):
                if args.every > 1:
                    draw_fast(page, strokes)
                else:
                    draw(page, strokes)
                answers = settled_answers(page, METRICS_JS)
                for label in MODELS:
                    if answers[label] == str(digit.label):
                        browser_right[label] += 1
                    else:
                        seen = answers[label]
                        wrong.append(f"{label} read writer {digit.writer}'s {digit.label} as {seen}")
                clear(page)
        finally:
            browser.close()

    n = len(chosen)
    how = f", every {args.every}th point, one mouse event each" if args.every > 1 else ""
    print(
        f"{n} pen digits (writers {args.writers}, {per_label} of each), pen {DEFAULT_PEN} px{how}, "
        f"drawn in Chromium in {time.perf_counter() - start:.0f} s"
    )
    for label in MODELS:
        print(
            f"{label:>5}: browser {browser_right[label] / n:.1%} ({browser_right[label]}/{n}), "
            f"the same strokes offline {offline[label] / n:.1%} ({offline[label]}/{n})"
        )
    for line in wrong:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
