"""Drawn digits read with their strokes, as the Draw page's canvas and `predict --strokes` read them.

Writers 25-30 (never trained on; --writers to tune), each digit drawn twice like
bench/drawn_digits.py (random pen width, size and place on a 280x280 canvas). Each model reads every
drawing from its pixels alone, then with the digit's strokes (its pixels pooled with its pen-path
reader, digitdraw.penpath), then with the strokes as a trembling hand or a fine-grained pen gives
them (8 times the points, each moved by 1% of the digit's size: penpath.shaken), then with half its
strokes broken by a brief lift as a finger on a phone gives them (penpath.lifted), then with each
stroke's loop drawn round the other way as many left-handed people draw them (penpath.loops_reversed);
and the styles split (bench/styles.py) with its strokes, per style.

    DIGITDRAW_PENDIGITS=.../train.jsonl python bench/with_strokes.py [--model cnn --model dense]

Targets (issue 13): with strokes, cnn >= 99.4% and dense >= 98.5%; every style >= 99.0% for the cnn.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitdraw import config, drawn, modelio, pendigits, penpath  # noqa: E402
from digitdraw.predict import Predictor  # noqa: E402

SHAKE_TIMES, SHAKE_NOISE, SHAKE_SEED = 8, 0.01, 5
LIFT_CHANCE, LIFT_SEED = 0.5, 6


def right(
    predictor: Predictor, images: np.ndarray, labels: np.ndarray, paths: list | None = None
) -> np.ndarray:
    """Which drawings `predictor` reads right: from their pixels alone, or pooled with their strokes."""
    return predictor.outputs(images, paths).probabilities.argmax(axis=1) == labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", action="append", help="a model name or file (default: the shipped dense and cnn)"
    )
    ap.add_argument("--pendigits", help=f"pendigits train.jsonl (default: ${config.PENDIGITS_ENV})")
    ap.add_argument(
        "--writers",
        default=pendigits.HOLDOUT_WRITERS,
        help=f"default {pendigits.HOLDOUT_WRITERS}; 19-24 to tune models trained on 1-18",
    )
    args = ap.parse_args()
    pen = config.pendigits_path(args.pendigits)
    if pen is None or not pen.is_file():
        ap.error(f"the pendigits file is needed: --pendigits or ${config.PENDIGITS_ENV}")
    start = time.perf_counter()
    held = pendigits.load_pendigits(pen, writers=args.writers)
    x, y = drawn.drawn_set(pen, args.writers)
    strokes = [d.strokes for d in held] * drawn.EVAL_COPIES
    rng = np.random.default_rng(SHAKE_SEED)
    shaky = [penpath.shaken(d.strokes, rng, SHAKE_TIMES, SHAKE_NOISE) for d in held] * drawn.EVAL_COPIES
    rng = np.random.default_rng(LIFT_SEED)
    lifted = [penpath.lifted(d.strokes, rng, LIFT_CHANCE) for d in held] * drawn.EVAL_COPIES
    turned = [penpath.loops_reversed(d.strokes) for d in held] * drawn.EVAL_COPIES
    styled = {
        name: (xs, ys, [d.strokes for d in drawn.styled_digits_and_rng(held, name)[0]] * drawn.EVAL_COPIES)
        for name, (xs, ys) in drawn.styled_sets(pen, args.writers).items()
    }
    print(
        f"writers {args.writers}: {len(y)} drawings, {drawn.EVAL_COPIES} of each digit "
        f"(seed {drawn.EVAL_SEED}); shaky: {SHAKE_TIMES}x the points, noise {SHAKE_NOISE:.0%} of the "
        f"digit's size (seed {SHAKE_SEED}); broken: each stroke with chance {LIFT_CHANCE} (seed "
        f"{LIFT_SEED}); load average {os.getloadavg()[0]:.1f}"
    )
    for name in args.model or ["dense", "cnn"]:
        predictor = Predictor.from_file(modelio.resolve(name))
        if predictor.pen_path is None:
            print(f"\n{name}: no pen-path reader; read from its pixels alone")

        print(f"\n{name}")
        print(f"  pixels alone        {right(predictor, x, y).mean():.2%}")
        print(f"  with strokes        {right(predictor, x, y, strokes).mean():.2%}")
        print(f"  with shaky strokes  {right(predictor, x, y, shaky).mean():.2%}")
        print(f"  with broken strokes {right(predictor, x, y, lifted).mean():.2%}")
        print(f"  loops the other way {right(predictor, x, y, turned).mean():.2%}")
        per = {style: right(predictor, xs, ys, paths) for style, (xs, ys, paths) in styled.items()}
        together = np.concatenate(list(per.values()))
        print(f"  styles split with strokes {together.mean():.2%} of {len(together)}; per style:")
        for style, ok in sorted(per.items(), key=lambda item: item[1].mean()):
            print(f"    {style:<20} {ok.mean():.2%} of {len(ok)}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
