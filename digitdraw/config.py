"""Where things live, and the limits that protect a server: plain data, read from the environment.

Every path the project reads comes from here, so the CLI, the app and the tests agree.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The four MNIST IDX files (or Keras's mnist.npz). Unset: fall back to Keras's download.
DATA_DIR_ENV = "DIGITDRAW_DATA_DIR"
# Real pen-drawn digits as strokes (pendigits train.jsonl).
PENDIGITS_ENV = "DIGITDRAW_PENDIGITS"
# Models the app serves by default; they ship with the repository.
SHIPPED_MODELS_DIR = REPO_ROOT / "models"
# The models the Draw page shows (left, then right) and the CLI asks when none is named.
DEFAULT_MODELS = ("dense", "cnn")
# Models trained from the app or the CLI; never the shipped folder.
USER_MODELS_ENV = "DIGITDRAW_USER_MODELS_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path | None:
    """The MNIST data folder: the explicit override, else $DIGITDRAW_DATA_DIR, else None."""
    value = override if override is not None else os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def pendigits_path(
    override: str | os.PathLike | None = None, data: str | os.PathLike | None = None
) -> Path | None:
    """Where the pendigits train.jsonl should be: explicit, else $DIGITDRAW_PENDIGITS, else
    pendigits/train.jsonl beside the MNIST folder; None when nothing says.

    The file may be missing: readers check, and say where they looked (pendigits.missing_file_message).
    """
    value = override if override is not None else os.environ.get(PENDIGITS_ENV)
    if value:
        return Path(value).expanduser()
    mnist = data_dir(data)
    return mnist.parent / "pendigits" / "train.jsonl" if mnist is not None else None


def user_models_dir() -> Path:
    """Where new models are saved: $DIGITDRAW_USER_MODELS_DIR, else ./user_models in the repo."""
    value = os.environ.get(USER_MODELS_ENV)
    return Path(value).expanduser() if value else REPO_ROOT / "user_models"


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


# Limits for training started from the app; a public deployment tightens them.
MAX_EPOCHS = int(_env_number("DIGITDRAW_MAX_EPOCHS", 30))
MAX_TRAIN_SECONDS = _env_number("DIGITDRAW_MAX_TRAIN_SECONDS", 900)
# "0" switches the Train page off; a password (env or st.secrets) protects it.
TRAINING_ENABLED = os.environ.get("DIGITDRAW_TRAINING_ENABLED", "1") != "0"
TRAINING_PASSWORD_ENV = "DIGITDRAW_TRAINING_PASSWORD"

# Below this top probability the app says "not sure" rather than guess.
CONFIDENCE_THRESHOLD = 0.6
