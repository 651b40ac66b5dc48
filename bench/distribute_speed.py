"""One device against MirroredStrategy replicas: training time and MNIST test accuracy.

Each run is `python -m digitdraw train` in a fresh interpreter (TensorFlow splits the CPU
into logical devices once per process), on the same subset and epochs:

    one device          the recipe as written (batch 128, learning rate 0.003 for dense quick)
    one device, big     the global batch and learning rate of 2 replicas, on one device
    1 replica           --distribute --cpu-replicas 1: MirroredStrategy's overhead alone
    2 replicas          --distribute --cpu-replicas 2: batch 2 x 128, learning rate x 2

Logical CPUs share the same cores: on a CPU this measures the strategy's overhead and the
effect of the scaled batch on accuracy, not a speed-up (a speed-up needs more GPUs).

    python bench/distribute_speed.py                       # dense, 10,000 images, 2 epochs
    python bench/distribute_speed.py --arch cnn --subset 5000 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

RUNS = {
    "one device": [],
    "one device, big batch": ["--batch-size", "256", "--lr", "0.006"],
    "1 replica": ["--distribute", "--cpu-replicas", "1"],
    "2 replicas": ["--distribute", "--cpu-replicas", "2"],
}


def train(arch: str, subset: int, epochs: int, extra: list[str], folder: Path) -> dict:
    out = folder / f"run{len(list(folder.iterdir()))}.keras"
    argv = ["--arch", arch, "--preset", "quick", "--subset", str(subset), "--epochs", str(epochs)]
    argv += ["--no-drawn", "--out", str(out), *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "digitdraw", "train", *argv], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"train {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", default="dense")
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    what = f"{args.arch}, quick preset, {args.subset:,} MNIST images, {args.epochs} epochs"
    print(f"{what}; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in RUNS.items():
            result = train(args.arch, args.subset, args.epochs, extra, Path(tmp))
            print(
                f"{name:24s} training {result['training_seconds']:6.1f} s   "
                f"test accuracy {result['test_accuracy']:.2%}   ({' '.join(extra) or 'as written'})",
                flush=True,
            )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
