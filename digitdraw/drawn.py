"""Drawn-digit accuracy: real pen strokes from writers a model never trained on, replayed
onto a canvas-sized image and sent through the app's own preprocessing.

This is the figure the product cares about most; MNIST test accuracy says little about it.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import numpy as np

from digitdraw import config, pendigits, styles
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


# -- The styles split: the same held-out digits redrawn in handwriting conventions (digitdraw.styles)


def style_rng(seed: int, name: str) -> np.random.Generator:
    """One generator per (seed, style): a style's drawings do not depend on which others exist."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def styled_set(
    digits, name: str, copies: int = EVAL_COPIES, seed: int = EVAL_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """The digits of style `name`'s class redrawn in that style, each drawn `copies` times like
    `drawn_set` (images (n, 28, 28) float32, labels (n,))."""
    rng = style_rng(seed, name)
    redrawn = styles.styled_digits(digits, name, rng)
    return pendigits.rendered_dataset(redrawn, rng, copies=copies)


@functools.lru_cache(maxsize=2)
def styled_sets(
    path: Path | None = None, writers: str = HOLDOUT_WRITERS, copies: int = EVAL_COPIES, seed: int = EVAL_SEED
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The styles split: every style of digitdraw.styles.STYLES, by name."""
    digits = pendigits.load_pendigits(path or config.pendigits_path(), writers=writers)
    return {name: styled_set(digits, name, copies, seed) for name in styles.STYLES}


def styles_evaluation(
    predictor: Predictor, path: Path | None = None, writers: str = HOLDOUT_WRITERS
) -> dict[str, Evaluation]:
    """Each style's evaluation on the held-out writers' digits redrawn in it."""
    return {name: score(predictor.probabilities(x), y) for name, (x, y) in styled_sets(path, writers).items()}


def styles_summary(evaluations: dict[str, Evaluation], writers: str = HOLDOUT_WRITERS) -> dict:
    """What a model card records of the styles split: each style's accuracy on its digit, and all together."""
    correct = sum(int(np.trace(e.confusion)) for e in evaluations.values())
    images = sum(int(e.confusion.sum()) for e in evaluations.values())
    return {
        "accuracy": round(correct / images, 6),
        "writers": writers,
        "images": images,
        "per_style": {
            name: {
                "digit": styles.STYLES[name].digit,
                "images": int(e.confusion.sum()),
                "accuracy": round(e.accuracy, 6),
            }
            for name, e in evaluations.items()
        },
        "how": f"pendigits strokes of writers {writers} redrawn in each style of digitdraw.styles "
        f"(seeded per style from {EVAL_SEED}), {EVAL_COPIES} random renderings each, app preprocessing",
    }
