"""Each export format in its own runtime: `python bench/export_formats.py [--models dense cnn] [--runs 300]`.

Per model and format (the Keras model itself first, through the app's Predictor, as the
baseline): the artifact's size on disk; the time to load it in its runtime until it can be
called, and its first call (medians of --loads fresh loads); the latency of one 28x28 image
(median and p90 of --runs calls after 10 warm-up calls); and its parity figures on 1,000 MNIST
test images (from the export card). With Chromium and onnxruntime-web (`npm ci --prefix
tests/web`), the ONNX export in the browser too, timed inside the page with performance.now()
(--browser-runs 0 skips it).
The exports go to a temporary folder that is removed at the end.

Needs MNIST ($DIGITDRAW_DATA_DIR, see digitdraw.config) and requirements-export.txt.
The figures depend on the machine and its load; the script prints the CPU count with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser helpers live with the tests

from digitdraw import data, export, modelio  # noqa: E402
from digitdraw.predict import Predictor  # noqa: E402

# (label, format, quantize, file name)
VARIANTS = [
    ("savedmodel", "savedmodel", None, "savedmodel"),
    ("tflite", "tflite", None, "model.tflite"),
    ("tflite int8", "tflite", "int8", "model-int8.tflite"),
    ("onnx", "onnx", None, "model.onnx"),
]


def median_seconds(fn: Callable[[], object], runs: int, warmup: int = 0) -> tuple[float, float]:
    """(median, p90) seconds of `runs` calls of fn, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), float(np.percentile(times, 90))


def measure(load: Callable[[], Callable], image: np.ndarray, loads: int, runs: int) -> dict:
    load_s, first_s = [], []
    for _ in range(loads):
        t0 = time.perf_counter()
        predict = load()
        t1 = time.perf_counter()
        predict(image)
        load_s.append(t1 - t0)
        first_s.append(time.perf_counter() - t1)
    latency, p90 = median_seconds(lambda: predict(image), runs, warmup=10)
    return {
        "load_ms": statistics.median(load_s) * 1e3,
        "first_ms": statistics.median(first_s) * 1e3,
        "latency_ms": latency * 1e3,
        "p90_ms": p90 * 1e3,
    }


def row_text(name: str, label: str, size: int, row: dict, note: str) -> str:
    return (
        f"{name:6} {label:12} {size:>10,} {row['load_ms']:>9.1f} {row['first_ms']:>8.1f} "
        f"{row['latency_ms']:>11.3f} {row['p90_ms']:>7.3f}  {note}"
    )


def measure_in_browser(onnx_model: Path, folder: Path, image: np.ndarray, runs: int) -> dict | str:
    """The ONNX export in Chromium with onnxruntime-web (wasm, one thread); a reason if it cannot run."""
    import onnx_web

    try:
        from browser import CHROMIUM_ARGS, find_chromium
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        return f"skipped ({exc})"
    executable = find_chromium()
    if executable is None or not onnx_web.available():
        return f"skipped (needs Chromium and onnxruntime-web: {onnx_web.INSTALL})"
    loads, firsts = [], []
    with onnx_web.serve(onnx_model, folder) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for _ in range(3):  # a fresh page each time: the load includes fetching the model
                page = browser.new_page()
                page.goto(url)
                loads.append(page.evaluate("() => window.loadModel()"))
                first = page.evaluate("(px) => window.timeOne(px, 1, 0)", image.ravel().tolist())
                firsts.append(first["total"])
                page.close()
            page = browser.new_page()
            page.goto(url)
            page.evaluate("() => window.loadModel()")
            timed = page.evaluate("([px, runs]) => window.timeOne(px, runs)", [image.ravel().tolist(), runs])
        finally:
            browser.close()
    return {
        "load_ms": statistics.median(loads),
        "first_ms": statistics.median(firsts),
        "latency_ms": timed["total"] / runs,  # the mean: a median of 0.1 ms ticks says little
        "p90_ms": float(np.percentile(timed["times"], 90)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["dense", "cnn"])
    parser.add_argument("--runs", type=int, default=300, help="timed single-image calls per format")
    parser.add_argument("--loads", type=int, default=5, help="timed fresh loads per format")
    parser.add_argument("--browser-runs", type=int, default=300, help="timed calls in Chromium (0 skips)")
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # a fresh Predictor per timed load retraces, by design here

    mnist = data.load_mnist()
    image = data.to_model_input(mnist.x_test[:1])  # (1, 28, 28): one drawing's worth
    print(f"CPUs: {os.cpu_count()}; single-image latency: median of {args.runs} calls (p90 beside it)")
    header = (
        f"{'model':6} {'format':12} {'bytes':>10} {'load ms':>9} {'1st ms':>8} {'latency ms':>11} "
        f"{'p90 ms':>7}  parity"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            source = modelio.resolve(name)
            row = measure(
                lambda source=source: Predictor(modelio.load(source)).probabilities,
                image,
                args.loads,
                args.runs,
            )
            size = source.stat().st_size
            print(row_text(name, "keras", size, row, "(reference: Predictor, as the app calls it)"))
            for label, fmt, quantize, file_name in VARIANTS:
                out = Path(tmp) / name / file_name
                card = export.run_export(source, fmt, out, quantize)
                row = measure(
                    lambda out=out, fmt=fmt: export.load_runtime(out, fmt).predict,
                    image,
                    args.loads,
                    args.runs,
                )
                p = card["parity"]
                note = (
                    f"same digit {p['same_digit']:.1%}, max |dp| {p['max_probability_difference']:.1e}, "
                    f"accuracy {p['keras_accuracy']:.1%} -> {p['export_accuracy']:.1%} ({card['runtime']})"
                )
                print(row_text(name, label, card["size_bytes"], row, note))
                if fmt == "onnx" and args.browser_runs > 0:
                    web = measure_in_browser(out, Path(tmp) / name / "site", image, args.browser_runs)
                    if isinstance(web, str):
                        print(f"{name:6} {'onnx (web)':12} {web}")
                    else:
                        note = "onnxruntime-web in Chromium (wasm, 1 thread); latency: the mean"
                        print(row_text(name, "onnx (web)", card["size_bytes"], web, note))


if __name__ == "__main__":
    main()
