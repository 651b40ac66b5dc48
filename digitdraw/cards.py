"""Model cards: what a model is, how it was made, and how well it reads digits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform

import keras
import numpy as np
import tensorflow as tf

from digitdraw.evaluate import Evaluation
from digitdraw.training import TrainResult


def versions() -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def now() -> str:
    """When a card is written: UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def make_card(
    result: TrainResult,
    test: Evaluation,
    *,
    data_source: str,
    command: str,
    drawn: dict | None = None,
) -> dict:
    """The JSON card saved beside a model file."""
    config = result.config
    return {
        "name": config.architecture,
        "architecture": config.architecture,
        "api": config.api,
        "parameters": int(result.model.count_params()),
        "layers": [layer.name for layer in result.model.layers],
        "data": {
            "source": data_source,
            "train_images": result.train_size,
            "test_images": int(test.confusion.sum()),
            "pen_writers": config.pen_writers,
            "pen_copies": config.pen_copies,
        },
        "training": dataclasses.asdict(config),
        "distribution": result.distribution,
        "epochs": result.epochs_trained,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "training_seconds": round(result.seconds, 1),
        "cancelled": result.cancelled,
        "stopped_by_time_budget": result.stopped_by_budget,
        "history": result.history,
        "test_accuracy": round(test.accuracy, 6),
        "per_class_accuracy": [round(a, 6) for a in test.per_class],
        "drawn_digit_accuracy": drawn,
        "versions": versions(),
        "created": now(),
        "command": command,
    }
