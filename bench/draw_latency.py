"""How fast the Draw page answers: `python bench/draw_latency.py [--drawings 200] [--browser 10]`.

(a) Server side, per drawing: the page's work after a stroke (reading.read_drawing: segmentation,
    the app's preprocessing, both shipped models with their calibration and detectors) on
    held-out pendigits digits rendered like the canvas.
    Target: p50 <= 10 ms.
(b) In a real browser: from the mouse-up that ends a (single-stroke) digit to both answers on
    screen, measured inside the page with performance.now(). Target: p50 <= 400 ms.
    Needs Chromium and Playwright; skipped with a message without them (--browser 0 skips it).

Needs the pendigits data ($DIGITDRAW_DATA_DIR or $DIGITDRAW_PENDIGITS, see digitdraw.config).
The figures depend on the machine and its load; the script prints both with the CPU count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser helpers live with the e2e test

from digitdraw import pendigits, reading  # noqa: E402

# Set in the page: the time of the last pointer-up anywhere (the canvas is in a shadow root;
# pointer events are composed, so they reach the window).
ARM_JS = """() => { window.__lastUp = null;
  window.addEventListener('pointerup', () => { window.__lastUp = performance.now(); }, {capture: true}); }"""


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def server_side(n: int, seed: int = 0) -> list[float]:
    """ms per drawing: the page's reading (segmentation, preprocessing, both calibrated models with
    their not-a-digit detectors), on n rendered held-out digits."""
    models = reading.load_predictors(["dense", "cnn"])
    digits = pendigits.load_pendigits(writers=pendigits.HOLDOUT_WRITERS)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(digits), size=min(n, len(digits)), replace=False)
    canvases = [pendigits.random_render(digits[i], rng) for i in picks]
    for c in canvases[:5]:  # warm up caches and the models' first calls
        reading.read_drawing(c, models)
    times = []
    for c in canvases:
        t0 = time.perf_counter()
        reading.read_drawing(c, models)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def browser_side(n: int) -> list[float] | str:
    """ms from mouse-up to both answers on screen, over n single-stroke drawings; or why not."""
    try:
        from browser import CHROMIUM_ARGS, app_server, find_chromium
        from playwright.sync_api import sync_playwright
        from test_e2e_draw import METRICS_JS, canvas_paths, clear, draw, open_app
    except ImportError as exc:
        return f"skipped: {exc}"
    executable = find_chromium()
    if executable is None:
        return "skipped: no Chromium found"
    digits = [d for d in pendigits.load_pendigits(writers=pendigits.HOLDOUT_WRITERS) if len(d.strokes) == 1]
    rng = np.random.default_rng(1)
    chosen = [digits[i] for i in rng.choice(len(digits), size=n + 1, replace=False)]
    wait_js = (
        f"() => {{ const got = ({METRICS_JS})(); "
        "if (got['Dense'] && got['CNN']) { window.__shown = performance.now(); return true; } return false; }"
    )
    times: list[float] = []
    with app_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = open_app(browser, url)
            page.evaluate(ARM_JS)
            for i, digit in enumerate(chosen):
                draw(page, canvas_paths(digit))
                page.wait_for_function(wait_js, timeout=60_000, polling="raf")
                elapsed = page.evaluate("() => window.__shown - window.__lastUp")
                if i > 0:  # the first drawing loads the models into the server
                    times.append(float(elapsed))
                clear(page)
        finally:
            browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drawings", type=int, default=200, help="server-side drawings (default 200)")
    ap.add_argument("--browser", type=int, default=10, help="browser drawings (default 10; 0 skips)")
    args = ap.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f}")
    t = server_side(args.drawings)
    print(
        f"(a) server side, read_drawing with Dense + CNN, {len(t)} drawings: "
        f"p50 {statistics.median(t):.1f} ms, p95 {_pct(t, 95):.1f} ms (target p50 <= 10 ms)"
    )
    if args.browser > 0:
        b = browser_side(args.browser)
        if isinstance(b, str):
            print(f"(b) browser: {b}")
        else:
            print(
                f"(b) browser, mouse-up to both answers on screen, {len(b)} drawings: "
                f"p50 {statistics.median(b):.0f} ms, p95 {_pct(b, 95):.0f} ms, "
                f"min {min(b):.0f} ms (target p50 <= 400 ms)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
