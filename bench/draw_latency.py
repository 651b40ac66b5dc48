"""How fast the Draw page answers: `python bench/draw_latency.py [--drawings 200] [--browser 10] [--stages]`.

(a) Server side, per drawing: the page's work after a stroke (reading.read_drawing: segmentation,
    the app's preprocessing, both shipped models with their calibration and detectors) on
    held-out pendigits digits rendered like the canvas, opaque white on black as it sends them.
    Target: p50 <= 10 ms. Also the process CPU per drawing, with drawings 0.1 s apart as a person
    draws them, so that any thread left spinning after a drawing is counted. Run with the app's
    process setup (digitdraw.predict.one_blas_thread) unless --blas-threads-free, and with the
    networks as one call, as the Draw page has them (predict.prepare_together; a single digit's
    compiled by XLA unless --no-xla), unless --one-call-each. With --stages, also where that time
    goes, stage by stage.
(b) In a real browser: from the mouse-up that ends a (single-stroke) digit to both answers on
    screen, measured inside the page with performance.now(). Target: p50 <= 400 ms.
    Needs Chromium and Playwright; skipped with a message without them (--browser 0 skips it).
(c) What one drawing costs, in the same browser run: the server process's CPU time, the page's
    main-thread time in Chromium (its TaskDuration), the bytes the server sends over the
    websocket and the HTTP requests the page makes (images), from the mouse-up until the page has
    settled; and apart, the page's main-thread time while the mouse draws the digit (Playwright's
    mouse moves, fabric.js drawing each), which every browser in bench/concurrent_draw.py spends
    on the server's cores too. CPU time, unlike wall time, hardly depends on the machine's load:
    this is what several sessions drawing at once share (bench/concurrent_draw.py).

Needs the pendigits data ($DIGITDRAW_DATA_DIR or $DIGITDRAW_PENDIGITS, see digitdraw.config).
The figures depend on the machine and its load; the script prints both with the CPU count.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser helpers live with the e2e test

from digitdraw import pendigits, predict, reading  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


GAP_S = 0.1  # between drawings in the CPU measurement: a person's pause, in which spinning shows


def as_the_canvas_sends(pixels: np.ndarray) -> np.ndarray:
    """A pendigits rendering (white ink on black, or on transparent with its coverage in alpha: half
    of them each) as the page's canvas sends it: over the black paper, opaque. The reading takes
    another way for a transparent picture: all opaque, the p50 was 0.2 ms more (twenty-seventh
    session)."""
    alpha = pixels[..., 3:].astype(np.float32) / 255
    rgb = np.rint(pixels[..., :3].astype(np.float32) * alpha).astype(np.uint8)
    return np.concatenate([rgb, np.full_like(pixels[..., 3:], 255)], axis=-1)


def server_side(
    n: int,
    seed: int = 0,
    timed: Callable[[], None] | None = None,
    cpu: bool = True,
    together: bool = True,
) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) per drawing: the page's reading (segmentation, preprocessing, both
    calibrated models with their not-a-digit detectors), on n rendered held-out digits.
    timed: called once the models are warm, just before the timed drawings (stages()).
    cpu: also the CPU measurement (n drawings more); else [] for it.
    together: the networks as one call, as the Draw page has them (predict.prepare_together)."""
    models = reading.load_predictors(["dense", "cnn"])
    if together:
        predict.prepare_together(list(models.values()))
    digits = pendigits.load_pendigits(writers=pendigits.HOLDOUT_WRITERS)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(digits), size=min(n, len(digits)), replace=False)
    canvases = [pendigits.random_drawing(digits[i], rng) for i in picks]  # pixels and the pen's path
    pictures = [as_the_canvas_sends(c.pixels) for c in canvases]
    for c, p in zip(canvases[:5], pictures, strict=False):  # warm up caches and the models' first calls
        reading.read_drawing(p, models, strokes=c.paths)
    if timed is not None:
        timed()
    times = []
    for c, p in zip(canvases, pictures, strict=True):
        t0 = time.perf_counter()
        reading.read_drawing(p, models, strokes=c.paths)
        times.append((time.perf_counter() - t0) * 1000)
    if not cpu:
        return times, []
    cpu_ms = []
    for c, p in zip(canvases, pictures, strict=True):
        c0 = time.process_time()
        reading.read_drawing(p, models, strokes=c.paths)
        time.sleep(GAP_S)
        cpu_ms.append((time.process_time() - c0) * 1000)
    return times, cpu_ms


# Where the server's time goes (--stages): each a function of the reading, timed wherever it is
# called; an indented one is part of the one above it.
STAGES = (
    ("splitting into digits", "segment", "split"),
    ("  finding the ink (preprocess.ink_and_kind)", "segment", "ink_and_kind"),
    ("  the pen's path drawn thinner (redraw.thinner)", "redraw", "thinner"),
    ("  the ink shared out among the strokes", "segment", "_stroke_pieces"),
    ("  each digit's crop", "segment", "_crop"),
    ("  marks beside the digits", "segment", "_marks_outside"),
    ("each digit preprocessed (segment.read_piece)", "segment", "read_piece"),
    ("pieces joined where one reads better", "reading", "_join_where_one_reads_better"),
    ("the networks and what follows them (outputs_together)", "predict", "outputs_together"),
    ("  calibration, pen path pooled, detector (per model)", "predict", "Predictor._finish"),
    ("    the not-a-digit detectors", "calibration", "NotADigit.refuses"),
)


def stages(n: int, together: bool = True) -> list[tuple[str, float]]:
    """(stage, mean ms per drawing) over n drawings of server_side's kind: each STAGES function
    wrapped with a timer for the run (the timers themselves add a little to each)."""
    spent: dict[str, float] = {}
    undo = []
    for label, module, name in STAGES:
        owner = importlib.import_module(f"digitdraw.{module}")
        *path, attr = name.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, attr)

        def clocked(*args, _f=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - start

        setattr(owner, attr, clocked)
        undo.append((owner, attr, original))
    try:
        wall, _ = server_side(n, timed=spent.clear, cpu=False, together=together)
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)
    return [("the whole reading (read_drawing)", statistics.mean(wall))] + [
        (label, spent.get(label, 0.0) * 1000 / len(wall)) for label, _, _ in STAGES
    ]


SETTLE_MS = 600  # after both answers show: the chart, the images and the rest finish drawing


def _server_cpu_s(port: int) -> float:
    """CPU seconds (user + system) used so far by the `streamlit run` serving `port`."""
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = stat.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and str(port).encode() in args:
            fields = (stat.parent / "stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"no streamlit process serving port {port}")


def browser_side(n: int) -> tuple[list[float], dict[str, list[float]]] | str:
    """(ms from mouse-up to both answers on screen, {cost: per drawing}) over n single-stroke
    drawings (section (c) of the module doc); or why not."""
    try:
        from browser import ARM_JS, CHROMIUM_ARGS, app_server, find_chromium
        from playwright.sync_api import sync_playwright
        from test_e2e_draw import METRICS_JS, canvas_paths, clear, draw, wait_until_ready
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
    names = ("server CPU ms", "page main-thread ms", "KB sent", "requests")
    costs: dict[str, list[float]] = {name: [] for name in names}
    drawing_ms: list[float] = []  # the page's main thread while the mouse draws (fabric.js)
    traffic = {"bytes": 0, "requests": 0}

    def watch(ws) -> None:
        ws.on("framereceived", lambda frame: traffic.__setitem__("bytes", traffic["bytes"] + len(frame)))

    with app_server() as url, sync_playwright() as p:
        port = int(url.rsplit(":", 1)[1])
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 940})
            page.on("websocket", watch)
            page.on("request", lambda _: traffic.__setitem__("requests", traffic["requests"] + 1))
            page.goto(url)
            wait_until_ready(page)
            page.evaluate(ARM_JS)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")

            def snapshot() -> dict[str, float]:
                metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                return {
                    "server CPU ms": _server_cpu_s(port) * 1000,
                    "page main-thread ms": metrics["TaskDuration"] * 1000,
                    "KB sent": traffic["bytes"] / 1024,
                    "requests": traffic["requests"],
                }

            for i, digit in enumerate(chosen):
                start = snapshot()
                draw(page, canvas_paths(digit))
                before = snapshot()  # the pen's own drawing (fabric.js) is counted apart
                page.wait_for_function(wait_js, timeout=60_000, polling="raf")
                elapsed = page.evaluate("() => window.__shown - window.__lastUp")
                page.wait_for_timeout(SETTLE_MS)
                after = snapshot()
                if i > 0:  # the first drawing loads the models into the server
                    times.append(float(elapsed))
                    for k in costs:
                        costs[k].append(after[k] - before[k])
                    drawing_ms.append(before["page main-thread ms"] - start["page main-thread ms"])
                clear(page)
        finally:
            browser.close()
    return times, {**costs, "page main-thread ms while the mouse drew it": drawing_ms}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drawings", type=int, default=200, help="server-side drawings (default 200)")
    ap.add_argument("--browser", type=int, default=10, help="browser drawings (default 10; 0 skips)")
    ap.add_argument(
        "--blas-threads-free",
        action="store_true",
        help="(a) without the app's one-BLAS-thread setup, to see what it saves",
    )
    ap.add_argument(
        "--one-call-each",
        action="store_true",
        help="(a) with each network called on its own (as the CLI does), not as one call",
    )
    ap.add_argument(
        "--no-xla",
        action="store_true",
        help="(a) with the one call not compiled by XLA for a single digit (predict.XLA_SINGLE)",
    )
    ap.add_argument(
        "--stages", action="store_true", help="(a) also where the server's time goes, stage by stage"
    )
    args = ap.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f}")
    if not args.blas_threads_free:
        predict.one_blas_thread()  # as streamlit_app.py does
    predict.XLA_SINGLE = not args.no_xla
    t, cpu = server_side(args.drawings, together=not args.one_call_each)
    print(
        f"(a) server side, read_drawing with Dense + CNN, {len(t)} drawings: "
        f"p50 {statistics.median(t):.1f} ms, p95 {_pct(t, 95):.1f} ms (target p50 <= 10 ms); "
        f"CPU per drawing {GAP_S:g} s apart: p50 {statistics.median(cpu):.1f} ms, "
        f"mean {statistics.mean(cpu):.1f} ms"
        + (" (BLAS threads free)" if args.blas_threads_free else "")
        + (" (one call each)" if args.one_call_each else "")
        + (" (no XLA)" if args.no_xla and not args.one_call_each else "")
    )
    if args.stages:
        print(f"(a) by stage, mean ms per drawing over {args.drawings} more drawings (timers on):")
        for label, ms in stages(args.drawings, together=not args.one_call_each):
            print(f"    {label:<60} {ms:6.2f}")
    if args.browser > 0:
        b = browser_side(args.browser)
        if isinstance(b, str):
            print(f"(b) browser: {b}")
        else:
            b, costs = b
            print(
                f"(b) browser, mouse-up to both answers on screen, {len(b)} drawings: "
                f"p50 {statistics.median(b):.0f} ms, p95 {_pct(b, 95):.0f} ms, "
                f"min {min(b):.0f} ms (target p50 <= 400 ms)"
            )
            print(f"(c) one drawing costs (mean of {len(b)}; mouse-up until settled, the last row apart):")
            for name, values in costs.items():
                print(f"    {name:<44} {statistics.mean(values):8.1f}")
            print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
