"""Photo accuracy: held-out pen digits written in pencil on synthetic photos of paper, read through
the app's upload path (preprocess with source="image") by the shipped models.

Conditions (digitdraw.photos.CONDITIONS): plain paper, an illumination gradient, a soft shadow,
ruled paper, squared paper, a desk strip along an edge, a small rotation, strong JPEG, and all of
them at once. Each condition gets `--per-condition` digits drawn at random (seeded) from writers
25-30, which no model or tuning ever saw.

    python bench/photos.py                       # dense and cnn, 150 photos per condition
    python bench/photos.py --per-condition 400 --save-failures /tmp/failed

Target (issue 12): cnn >= 97%, dense >= 95% overall.
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
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from digitdraw import config, modelio  # noqa: E402
from digitdraw.pendigits import HOLDOUT_WRITERS, load_pendigits  # noqa: E402
from digitdraw.photos import CONDITIONS, random_spec, synthetic_photo  # noqa: E402
from digitdraw.predict import Predictor  # noqa: E402
from digitdraw.preprocess import preprocess  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", help="name or path (repeatable; default dense, cnn)")
    parser.add_argument("--per-condition", type=int, default=150)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--condition", action="append", choices=CONDITIONS, help="only these (repeatable)")
    parser.add_argument("--save-failures", type=Path, help="write the photos the cnn misreads here")
    parser.add_argument("--pendigits", help=f"train.jsonl (default: ${config.PENDIGITS_ENV})")
    args = parser.parse_args()

    path = held_out.pendigits_file(args.pendigits)
    if path is None:
        return 2
    digits = load_pendigits(path, writers=HOLDOUT_WRITERS)
    specs = args.model or ["dense", "cnn"]
    predictors = {spec: Predictor(modelio.load(modelio.resolve(spec))) for spec in specs}
    conditions = args.condition or list(CONDITIONS)
    if args.save_failures:
        args.save_failures.mkdir(parents=True, exist_ok=True)

    totals = {spec: [0, 0] for spec in specs}
    seconds = []
    print(f"{args.per_condition} photos per condition, writers 25-30, seed {args.seed}")
    print(f"{'condition':<12}" + "".join(f"{spec:>10}" for spec in specs) + f"{'no digit':>10}")
    for condition in conditions:
        rng = np.random.default_rng([args.seed, CONDITIONS.index(condition)])
        picks = rng.choice(len(digits), size=args.per_condition, replace=False)
        images, labels, unread = [], [], 0
        for i in picks:
            digit = digits[int(i)]
            photo = synthetic_photo(digit, random_spec(rng, condition), rng)
            start = time.perf_counter()
            pre = preprocess(photo, source="image")
            seconds.append(time.perf_counter() - start)
            if pre.image is None:
                unread += 1
                images.append(np.zeros((28, 28), np.float32))
            else:
                images.append(pre.image)
            labels.append(digit.label)
        x, y = np.stack(images), np.asarray(labels)
        row = f"{condition:<12}"
        for spec, predictor in predictors.items():
            guess = predictor.probabilities(x).argmax(axis=1)
            right = int((guess == y).sum())
            totals[spec][0] += right
            totals[spec][1] += len(y)
            row += f"{right / len(y):>10.1%}"
            if args.save_failures and spec == "cnn":
                _save_failures(args.save_failures, condition, picks, guess, y, digits, args.seed)
        print(row + f"{unread:>10d}")
    print(f"{'overall':<12}" + "".join(f"{r / max(n, 1):>10.2%}" for r, n in totals.values()))
    print(
        f"preprocess per photo: p50 {np.percentile(seconds, 50) * 1000:.1f} ms, "
        f"p95 {np.percentile(seconds, 95) * 1000:.1f} ms"
    )
    return 0


def _save_failures(folder: Path, condition: str, picks, guess, y, digits, seed: int) -> None:
    """Re-make the misread photos (same seeds) and save them, named by truth and guess."""
    rng = np.random.default_rng([seed, CONDITIONS.index(condition)])
    rng.choice(len(digits), size=len(picks), replace=False)
    for k, i in enumerate(picks):
        photo = synthetic_photo(digits[int(i)], random_spec(rng, condition), rng)
        if guess[k] != y[k]:
            Image.fromarray(photo).save(folder / f"{condition}-{k:03d}-true{y[k]}-read{guess[k]}.png")


if __name__ == "__main__":
    sys.exit(main())
