"""Photo accuracy: held-out pen digits written in pencil on synthetic photos of paper, read through
the app's upload path (digitdraw.reading.read_drawing with source="image", as the Draw page's
Upload and `digitdraw predict` read a file) by the shipped models, calibrated and with their
not-a-digit detectors: a photo counts as read right only when a model answers its digit alone
(not a number of several pieces, not "not a digit", not "no ink").

Conditions (digitdraw.photos.CONDITIONS): plain paper, an illumination gradient, a soft shadow,
ruled paper, squared paper, a desk strip along an edge, a small rotation, strong JPEG, and all of
them at once. Each condition gets `--per-condition` digits drawn at random (seeded) from writers
25-30, which no model or tuning ever saw.

    python bench/photos.py                       # dense and cnn, 150 photos per condition
    python bench/photos.py --per-condition 400 --save-failures /tmp/failed
    python bench/photos.py --writers 1-24 --seed 5   # to tune a change on, before measuring it here

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

from digitdraw import config, reading  # noqa: E402
from digitdraw.pendigits import HOLDOUT_WRITERS, TUNE_WRITERS, load_pendigits  # noqa: E402
from digitdraw.photos import CONDITIONS, random_spec, synthetic_photo  # noqa: E402


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
    parser.add_argument(
        "--writers",
        default=HOLDOUT_WRITERS,
        help=f"whose digits (default {HOLDOUT_WRITERS}; tune changes on {TUNE_WRITERS}, never on these)",
    )
    args = parser.parse_args()

    path = held_out.pendigits_file(args.pendigits)
    if path is None:
        return 2
    digits = load_pendigits(path, writers=args.writers)
    specs = args.model or ["dense", "cnn"]
    predictors = reading.load_predictors(specs)
    conditions = args.condition or list(CONDITIONS)
    if args.save_failures:
        args.save_failures.mkdir(parents=True, exist_ok=True)

    totals = {spec: [0, 0] for spec in specs}
    seconds = []
    print(f"{args.per_condition} photos per condition, writers {args.writers}, seed {args.seed}")
    print(f"{'condition':<12}" + "".join(f"{spec:>10}" for spec in specs) + "   the last model's misses")
    for condition in conditions:
        rng = np.random.default_rng([args.seed, CONDITIONS.index(condition)])
        picks = rng.choice(len(digits), size=args.per_condition, replace=False)
        right = dict.fromkeys(specs, 0)
        misses: dict[str, int] = {}
        for k, i in enumerate(picks):
            digit = digits[int(i)]
            photo = synthetic_photo(digit, random_spec(rng, condition), rng)
            start = time.perf_counter()
            got = reading.read_drawing(photo, predictors, source="image", mode="number")
            seconds.append(time.perf_counter() - start)
            for spec in specs:
                said = _answer(got, spec)
                if said == str(digit.label):
                    right[spec] += 1
                elif spec == specs[-1]:
                    kind = said if said in ("not a digit", "no ink", "too small") else "other digit(s)"
                    misses[kind] = misses.get(kind, 0) + 1
                    if args.save_failures:
                        name = f"{condition}-{k:03d}-true{digit.label}-read{said.replace(' ', '_')}.png"
                        Image.fromarray(photo).save(args.save_failures / name)
        row = f"{condition:<12}"
        for spec in specs:
            totals[spec][0] += right[spec]
            totals[spec][1] += len(picks)
            row += f"{right[spec] / len(picks):>10.1%}"
        print(row + "   " + ", ".join(f"{kind} {n}" for kind, n in sorted(misses.items())))
    print(f"{'overall':<12}" + "".join(f"{r / max(n, 1):>10.2%}" for r, n in totals.values()))
    print(
        f"reading a photo (both models): p50 {np.percentile(seconds, 50) * 1000:.1f} ms, "
        f"p95 {np.percentile(seconds, 95) * 1000:.1f} ms"
    )
    return 0


def _answer(got: reading.Reading, spec: str) -> str:
    """What the page shows for one model: its digits, "not a digit", "no ink" or "too small"."""
    model = got.models[spec]
    if model.text is not None:
        return model.text
    if model.status == reading.NOT_A_DIGIT:
        return "not a digit"
    return "too small" if reading.is_too_small(got.reason) else "no ink"


if __name__ == "__main__":
    sys.exit(main())
