"""Drawn-digit accuracy: real pen strokes from writers a model never trained on, replayed
onto a canvas-sized image and sent through the app's own preprocessing.

This is the figure the product cares about most; MNIST test accuracy says little about it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from digitdraw import config, pendigits
from digitdraw.evaluate import Evaluation, score
from digitdraw.pendigits import HOLDOUT_WRITERS
from digitdraw.predict import Predictor

EVAL_SEED = 2024
EVAL_COPIES = 2  # each held-out digit drawn twice, at random sizes, places and widths


@functools.lru_cache(maxsize=4)
def drawn_set(
    path: Path | None = None, writers: str = HOLDOUT_WRITERS, copies: int = EVAL_COPIES, seed: int = EVAL_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) float32, labels (n,)) for the writers, rendered the way people draw."""
    path = path or config.pendigits_path()
    digits = pendigits.load_pendigits(path, writers=writers)
    return pendigits.rendered_dataset(digits, np.random.default_rng(seed), copies=copies)


def drawn_evaluation(
    predictor: Predictor, path: Path | None = None, writers: str = HOLDOUT_WRITERS
) -> Evaluation:
    x, y = drawn_set(path, writers)
    return score(predictor.probabilities(x), y)


def drawn_summary(evaluation: Evaluation, writers: str = HOLDOUT_WRITERS) -> dict:
    """What a model card records of a drawn-digit evaluation."""
    return {
        "accuracy": round(evaluation.accuracy, 6),
        "writers": writers,
        "images": int(evaluation.confusion.sum()),
        "per_class_accuracy": [round(a, 6) for a in evaluation.per_class],
        "how": f"pendigits strokes of writers {writers}, {EVAL_COPIES} random renderings each "
        f"(seed {EVAL_SEED}), app preprocessing",
    }
