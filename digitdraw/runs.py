"""The record of a finished training run: evaluated, given a card, and saved under a new name.

The same steps for `digitdraw train` and for a run started from the app (digitdraw.jobs).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitdraw import cards, config, drawn, modelio, recipe
from digitdraw.data import Mnist
from digitdraw.evaluate import evaluate
from digitdraw.predict import Predictor
from digitdraw.training import TrainResult


def new_model_path(architecture: str, folder: Path | None = None, now: dt.datetime | None = None) -> Path:
    """A path for a new model that no file has yet: <folder>/<arch>-YYYYmmdd-HHMMSS[-n].keras.

    The timestamp keeps names apart from the shipped ones ("dense", "cnn"); the counter keeps
    two runs in the same second apart.
    """
    folder = Path(folder) if folder is not None else config.user_models_dir()
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    shipped = {p.name for p in config.SHIPPED_MODELS_DIR.glob("*")}
    for n in range(1, 1000):
        name = f"{architecture}-{stamp}" + (f"-{n}" if n > 1 else "")
        taken = [folder / f"{name}{suffix}" for suffix in (".keras", ".weights.h5", ".json")]
        if not any(p.exists() or p.name in shipped for p in taken):
            return folder / f"{name}.keras"
    raise FileExistsError(f"{folder}: no free model name for {architecture}-{stamp}.")


def cli_command(cfg: recipe.TrainConfig) -> str:
    """The `digitdraw train` command that repeats a run: recorded in the card."""
    return "python -m digitdraw " + shlex.join(["train", *recipe.to_flags(cfg)])


@dataclass
class SavedRun:
    """What `evaluate_and_save` made of a finished training run."""

    path: Path
    card: dict
    test_accuracy: float
    drawn_accuracy: float | None
    notes: list[str]


def evaluate_and_save(
    result: TrainResult,
    mnist: Mnist,
    out: Path,
    *,
    command: str,
    pendigits_path: Path | None = None,
    measure_drawn: bool = True,
    weights: bool = False,
    before_save: Callable[[], None] | None = None,
) -> SavedRun:
    """Evaluate a finished run on the MNIST test set (and drawn digits), card it, save it atomically.

    `before_save` runs just before the first byte is written and may raise to abandon the
    save (a late cancel).
    """
    cfg = result.config
    # A fresh, uncompiled copy: no optimizer state in the file, and never the training object.
    model = modelio.inference_copy(result.model, cfg.architecture, cfg.api)
    predictor = Predictor(model)
    test = evaluate(predictor, mnist.x_test, mnist.y_test)
    notes: list[str] = []
    drawn_card = None
    if measure_drawn and pendigits_path is not None and Path(pendigits_path).is_file():
        drawn_card = drawn.drawn_summary(drawn.drawn_evaluation(predictor, Path(pendigits_path)))
    elif measure_drawn:
        notes.append(f"Drawn-digit accuracy not measured: no pendigits file (set ${config.PENDIGITS_ENV}).")
    card = cards.make_card(result, test, data_source=mnist.source, command=command, drawn=drawn_card)
    if drawn_card is not None:  # beside the plain split: the same writers in other handwriting conventions
        styles = drawn.styles_evaluation(predictor, Path(pendigits_path))
        card["styles_accuracy"] = drawn.styles_summary(styles)
    if before_save is not None:
        before_save()
    modelio.save(model, out, card)
    if weights:
        modelio.save(model, out.with_name(out.stem + modelio.WEIGHTS_SUFFIX))
    return SavedRun(
        path=out,
        card=card,
        test_accuracy=float(test.accuracy),
        drawn_accuracy=None if drawn_card is None else float(drawn_card["accuracy"]),
        notes=notes,
    )
