"""Drawn-digit accuracy: real pen strokes of writers the models never saw, replayed the way
people draw on the canvas, through the app's own preprocessing and models.

Pendigits writers 1-24 are for tuning and training; 25-30 (the default here) only measure.
Each digit is drawn `--copies` times with a random stroke width (6-36 px), size (60-260 px)
and place on a 280x280 canvas, sometimes touching an edge, on a transparent or black
background (digitdraw.pendigits.random_render).

    python bench/drawn_digits.py                        # shipped dense and cnn, writers 25-30
    python bench/drawn_digits.py --model user_models/cnn-20261122-1130.keras --writers 1-24

Prints accuracy per model, per digit, the most common confusions and the confusion matrix.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import held_out  # noqa: E402

from digitdraw import drawn, modelio  # noqa: E402
from digitdraw.evaluate import score  # noqa: E402
from digitdraw.predict import Predictor  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    held_out.add_options(parser)
    args = parser.parse_args()

    path = held_out.pendigits_file(args.pendigits)
    if path is None:
        return 2
    start = time.perf_counter()
    x, y = drawn.drawn_set(path, args.writers, args.copies, args.seed)
    print(
        f"writers {args.writers}: {len(x)} drawings rendered and preprocessed "
        f"in {time.perf_counter() - start:.1f} s"
    )

    for spec in args.model or ["dense", "cnn"]:
        predictor = Predictor(modelio.load(modelio.resolve(spec)))
        result = score(predictor.probabilities(x), y)
        print(f"\n{spec}: drawn-digit accuracy {result.accuracy:.2%} ({len(x)} drawings)")
        print("  per digit: " + "  ".join(f"{d}:{a:.1%}" for d, a in enumerate(result.per_class)))
        off = result.confusion.copy()
        off[range(10), range(10)] = 0
        pairs = sorted(((off[t, p], t, p) for t in range(10) for p in range(10) if off[t, p]), reverse=True)
        print(
            "  most confused (true->predicted: count): "
            + ", ".join(f"{t}->{p}: {n}" for n, t, p in pairs[:8])
        )
        print("  confusion (rows true 0-9, columns predicted 0-9):")
        for row in result.confusion:
            print("   " + " ".join(f"{n:4d}" for n in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
