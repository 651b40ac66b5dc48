"""The record of a finished training run: evaluated, given a card, and saved under a new name.

The same steps for `digitdraw train` and for a run started from the app (digitdraw.jobs), and for
trained models combined into one (`digitdraw combine`, digitdraw.ensemble).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from digitdraw import cards, config, drawn, ensemble, modelio, recipe
from digitdraw.data import Mnist
from digitdraw.evaluate import Evaluation, evaluate
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


def check_out(out: Path) -> None:
    """Refuse, before any work, a path no model can be saved at: not `.keras`, or a name no model
    can have (modelio.ModelFileError, ModelNameError)."""
    if out.suffix != modelio.FULL_SUFFIX:
        raise modelio.ModelFileError(
            f"--out {out}: use a .keras path (weights are saved beside it with --weights)."
        )
    modelio.check_name(modelio.model_name(out) or "")


@dataclass
class Scores:
    """How well a model reads: MNIST test, and the held-out writers drawn plainly and in each style."""

    test: Evaluation
    drawn: dict | None  # drawn.drawn_summary, None without the pendigits file
    styles: dict | None  # drawn.styles_summary
    notes: list[str]

    def card_fields(self) -> dict:
        fields = {
            "test_accuracy": round(self.test.accuracy, 6),
            "per_class_accuracy": [round(a, 6) for a in self.test.per_class],
            "drawn_digit_accuracy": self.drawn,
        }
        if self.styles is not None:
            fields["styles_accuracy"] = self.styles
        return fields


def scores(
    model: keras.Model, mnist: Mnist, pendigits_path: Path | None, *, measure_drawn: bool = True
) -> Scores:
    """Score `model` as every card records it (the drawn splits only with the pendigits file)."""
    predictor = Predictor(model)
    test = evaluate(predictor, mnist.x_test, mnist.y_test)
    if measure_drawn and pendigits_path is not None and Path(pendigits_path).is_file():
        plain = drawn.drawn_summary(drawn.drawn_evaluation(predictor, Path(pendigits_path)))
        # Beside the plain split: the same writers in other handwriting conventions.
        styles = drawn.styles_summary(drawn.styles_evaluation(predictor, Path(pendigits_path)))
        return Scores(test, plain, styles, [])
    notes = []
    if measure_drawn:
        notes.append(f"Drawn-digit accuracy not measured: no pendigits file (set ${config.PENDIGITS_ENV}).")
    return Scores(test, None, None, notes)


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
    drawn_note: str | None = None,
    weights: bool = False,
    before_save: Callable[[], None] | None = None,
) -> SavedRun:
    """Evaluate a finished run on the MNIST test set (and drawn digits), card it, save it atomically.

    `drawn_note`: why no drawn-digit accuracy was measured, kept in the card beside the null.
    `before_save` runs just before the first byte is written and may raise to abandon the
    save (a late cancel).
    """
    cfg = result.config
    # A fresh, uncompiled copy: no optimizer state in the file, and never the training object.
    model = modelio.inference_copy(result.model, cfg.architecture, cfg.api)
    scored = scores(model, mnist, pendigits_path, measure_drawn=measure_drawn)
    card = cards.make_card(result, scored.test, data_source=mnist.source, command=command, drawn=scored.drawn)
    if scored.styles is not None:
        card["styles_accuracy"] = scored.styles
    if drawn_note:
        card["drawn_digit_accuracy_note"] = drawn_note
    if before_save is not None:
        before_save()
    modelio.save(model, out, card)
    if weights:
        modelio.save(model, out.with_name(out.stem + modelio.WEIGHTS_SUFFIX))
    return SavedRun(
        path=out,
        card=card,
        test_accuracy=float(scored.test.accuracy),
        drawn_accuracy=None if scored.drawn is None else float(scored.drawn["accuracy"]),
        notes=scored.notes,
    )


def combine_and_save(
    paths: list[str | os.PathLike],
    out: str | os.PathLike,
    mnist: Mnist,
    *,
    command: str,
    pendigits_path: Path | None = None,
    weights: bool = False,
) -> dict:
    """Combine model files into `out`, scored and carded like a trained model; returns the card.

    The card keeps each member's card (its training command and seed), so the ensemble can be made
    again: train each member with its command, then combine them with `command`.
    """
    paths = [Path(p) for p in paths]
    out = Path(out)
    if len(paths) < 2:
        raise ensemble.EnsembleError(f"combine needs at least two models, not {len(paths)}")
    check_out(out)
    if any(p.resolve() == out.resolve() for p in paths):
        # Members are read before anything is written, but a failed run would leave nothing to rerun.
        raise ensemble.EnsembleError(
            f"--out {out} is one of the members; write the ensemble to another path."
        )
    for p in paths:
        if not p.is_file():
            raise modelio.ModelFileError(f"{p}: no such model file.")
    if len({p.resolve() for p in paths}) < len(paths):
        # A model twice only doubles its weight: no second opinion, twice the arithmetic.
        raise ensemble.EnsembleError("the same model file is named twice; combine different models.")
    member_cards = [modelio.read_card(p) or {} for p in paths]
    kinds = {card.get("architecture") for card in member_cards}
    if len(kinds) != 1 or None in kinds:
        found = ", ".join(
            f"{p.name}: {c.get('architecture', 'no card')}" for p, c in zip(paths, member_cards, strict=True)
        )
        raise ensemble.EnsembleError(f"members must be of one architecture, each with its card ({found})")
    if any(c.get("members") for c in member_cards):
        raise ensemble.EnsembleError("a member is an ensemble already; combine the models it was made of")
    architecture = kinds.pop()
    start = time.perf_counter()
    model = ensemble.combine([modelio.load(p) for p in paths], modelio.model_name(out) or architecture)
    scored = scores(model, mnist, pendigits_path)
    card = {
        "name": modelio.model_name(out),
        "architecture": architecture,
        "api": "functional",
        "members": len(paths),
        "parameters": int(model.count_params()),
        "layers": [layer.name for layer in model.layers],
        "member_cards": [
            {
                "file": p.name,
                "command": c.get("command"),
                "seed": c.get("seed"),
                "training": c.get("training"),
                "data": c.get("data"),
                "test_accuracy": c.get("test_accuracy"),
                "drawn_digit_accuracy": (c.get("drawn_digit_accuracy") or {}).get("accuracy"),
                "styles_accuracy": (c.get("styles_accuracy") or {}).get("accuracy"),
                "training_seconds": c.get("training_seconds"),
                "history": c.get("history"),
            }
            for p, c in zip(paths, member_cards, strict=True)
        ],
        "epochs": sum(int(c.get("epochs") or 0) for c in member_cards),
        "training_seconds": round(sum(float(c.get("training_seconds") or 0) for c in member_cards), 1),
        "combine_seconds": round(time.perf_counter() - start, 1),
        **scored.card_fields(),
        "versions": cards.versions(),
        "created": cards.now(),
        "command": command,
    }
    modelio.save(model, out, card)
    if weights:
        modelio.save(model, out.with_name(out.stem + modelio.WEIGHTS_SUFFIX))
    return card
