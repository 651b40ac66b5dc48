"""Does the server grow with every training run? `python bench/train_memory.py [--runs 5]`

Starts quick dense runs on an MNIST subset one after another through digitdraw.jobs, as the
app's Train page does, and prints this process's resident memory (RSS, from /proc) before and
after each. This process plays the server: it holds the registry and supervises each run,
while the run itself trains in its own process (digitdraw.worker), so whatever TensorFlow
allocates for training goes when the run ends. The figure to read is the growth per run.

Needs MNIST ($DIGITDRAW_DATA_DIR). Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digitdraw import config, jobs  # noqa: E402
from digitdraw.recipe import TrainConfig  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--subset", type=int, default=5000, help="MNIST training images a run (default 5000)")
    args = ap.parse_args(argv)
    problem = jobs.mnist_problem()
    if problem:
        print(f"skipped: {problem}")
        return 1
    # The server has the models and Keras loaded before any run; so does this process.
    from digitdraw import modelio

    for name in config.DEFAULT_MODELS:
        modelio.load(modelio.resolve(name))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    registry = jobs.TrainingJobs()
    figures = [rss_mb()]
    print(f"before any run: RSS {figures[0]:.0f} MB")
    with tempfile.TemporaryDirectory() as models:
        for i in range(args.runs):
            cfg = TrainConfig("dense", epochs=4, subset=args.subset)
            t0 = time.perf_counter()
            job = registry.start(cfg, models_dir=Path(models), measure_drawn=False)
            job.wait()
            snap = job.snapshot()
            figures.append(rss_mb())
            print(
                f"after run {i + 1}: {snap.status} in {time.perf_counter() - t0:.0f} s "
                f"(test accuracy {snap.test_accuracy or 0:.2%}), RSS {figures[-1]:.0f} MB"
            )
    growth = (figures[-1] - figures[1]) / max(1, args.runs - 1)
    print(
        f"RSS {figures[0]:.0f} -> {figures[-1]:.0f} MB over {args.runs} runs; "
        f"{growth:+.1f} MB a run after the first (in-process training grew ~31 MB a run, issue 12)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
