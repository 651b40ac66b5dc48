"""Drawn-digit accuracy: real pen strokes from writers a model never trained on, replayed
onto a canvas-sized image and sent through the app's own preprocessing.

This is the figure the product cares about most; MNIST test accuracy says little about it.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from pathlib import Path

import numpy as np

from digitdraw import config, data, pendigits, preprocess, redraw, strokes, styles
from digitdraw.evaluate import Evaluation, score
from digitdraw.pendigits import HOLDOUT_WRITERS
from digitdraw.predict import Predictor

EVAL_SEED = 2024
EVAL_COPIES = 2  # each held-out digit drawn twice, at random sizes, places and widths


def renderer_version() -> str:
    """A digest of the code that turns strokes into model input: a change there renders anew."""
    sources = b"".join(Path(m.__file__).read_bytes() for m in (pendigits, preprocess, strokes, redraw))
    return hashlib.sha256(sources).hexdigest()[:16]


def _cache_path(path: Path, writers: str, copies: int, seed: int, kind: str = "drawn") -> tuple[Path, str]:
    """The cache file of a rendered set, and the key that must match inside it."""
    stat = path.stat()
    version = renderer_version()
    if kind == "styles":  # the styles split also depends on the styles' own code
        version += hashlib.sha256(Path(styles.__file__).read_bytes()).hexdigest()[:16]
    key = f"{kind}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{writers}|{copies}|{seed}|{version}"
    return config.cache_dir() / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz", key


@functools.lru_cache(maxsize=4)
def drawn_set(
    path: Path | None = None, writers: str = HOLDOUT_WRITERS, copies: int = EVAL_COPIES, seed: int = EVAL_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) float32, labels (n,)) for the writers, rendered the way people draw.

    Rendering takes seconds (about 9 s for the held-out writers on a loaded 2-core machine);
    the result is kept in memory and in the cache folder (config.cache_dir), keyed by the
    pendigits file's size and time, the arguments and the renderer's code.
    """
    path = path or config.pendigits_path()
    cache = _cache_path(Path(path), writers, copies, seed) if path and Path(path).is_file() else None
    cached = data.read_cached(*cache) if cache else None
    if cached is not None and {"x", "y"} <= set(cached):
        return cached["x"], cached["y"]
    digits = pendigits.load_pendigits(path, writers=writers)  # a missing file fails here, with its message
    x, y = pendigits.rendered_dataset(
        digits, np.random.default_rng(seed), copies=copies, read=redraw.read_one
    )
    if cache:
        data.write_cached(*cache, {"x": x, "y": y})
    return x, y


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


def styled_digits_and_rng(
    digits, name: str, seed: int = EVAL_SEED
) -> tuple[list[pendigits.PenDigit], np.random.Generator]:
    """The digits of style `name`'s class redrawn in that style, and the generator, as it stands
    after them, that draws them for the styles split (styled_set; bench/whole_reading.py)."""
    rng = style_rng(seed, name)
    return styles.styled_digits(digits, name, rng), rng


def styled_set(
    digits, name: str, copies: int = EVAL_COPIES, seed: int = EVAL_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """The digits of style `name`'s class redrawn in that style, each drawn `copies` times like
    `drawn_set` (images (n, 28, 28) float32, labels (n,))."""
    redrawn, rng = styled_digits_and_rng(digits, name, seed)
    return pendigits.rendered_dataset(redrawn, rng, copies=copies, read=redraw.read_one)


@functools.lru_cache(maxsize=2)
def styled_sets(
    path: Path | None = None, writers: str = HOLDOUT_WRITERS, copies: int = EVAL_COPIES, seed: int = EVAL_SEED
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The styles split: every style of digitdraw.styles.STYLES, by name.

    Kept in memory and in the cache folder like `drawn_set` (rendering it takes 20-40 s), so a
    short training run's card does not pay for it every time.
    """
    path = path or config.pendigits_path()
    cache = (
        _cache_path(Path(path), writers, copies, seed, "styles") if path and Path(path).is_file() else None
    )
    cached = data.read_cached(*cache) if cache else None
    if cached is not None and all(f"x_{name}" in cached and f"y_{name}" in cached for name in styles.STYLES):
        return {name: (cached[f"x_{name}"], cached[f"y_{name}"]) for name in styles.STYLES}
    digits = pendigits.load_pendigits(path, writers=writers)
    sets = {name: styled_set(digits, name, copies, seed) for name in styles.STYLES}
    if cache:
        arrays = {f"x_{name}": x for name, (x, _) in sets.items()}
        data.write_cached(*cache, arrays | {f"y_{name}": y for name, (_, y) in sets.items()})
    return sets


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
