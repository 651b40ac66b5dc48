"""What the accuracy benchmarks share: the held-out writers' options and their pendigits file.

Imported by the scripts beside it (`python bench/x.py` puts this folder on the path).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digitdraw import config, drawn, pendigits


def add_options(parser: argparse.ArgumentParser, *, writers: bool = True) -> None:
    """--model, --writers, --copies, --seed, --pendigits: which models read which drawings."""
    parser.add_argument("--model", action="append", help="name or path (repeatable; default dense, cnn)")
    if writers:
        parser.add_argument(
            "--writers",
            default=pendigits.HOLDOUT_WRITERS,
            help=f"default {pendigits.HOLDOUT_WRITERS} (held out)",
        )
    parser.add_argument("--copies", type=int, default=drawn.EVAL_COPIES, help="renderings per digit")
    parser.add_argument("--seed", type=int, default=drawn.EVAL_SEED, help="renderings reported on")
    parser.add_argument("--pendigits", help=f"train.jsonl (default: ${config.PENDIGITS_ENV})")


def pendigits_file(argument: str | None) -> Path | None:
    """The pendigits file from --pendigits or the configuration; None (and why, on stderr) without it."""
    path = config.pendigits_path(argument)
    if path is None or not path.is_file():  # pendigits_path names where it should be, found or not
        print(pendigits.missing_file_message(path), file=sys.stderr)
        return None
    return path
