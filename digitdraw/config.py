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
# Decoded data kept between runs (MNIST as .npz when its folder is read-only, the rendered
# drawn-digit set): only ever a cache, safe to delete.
CACHE_DIR_ENV = "DIGITDRAW_CACHE_DIR"


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


def cache_dir() -> Path:
    """Where caches go: $DIGITDRAW_CACHE_DIR, else the user's cache folder (never the repository)."""
    value = os.environ.get(CACHE_DIR_ENV)
    if value:
        return Path(value).expanduser()
    import platformdirs  # here, not at the top: most commands never need it

    return Path(platformdirs.user_cache_dir("digitdraw"))


class ConfigError(ValueError):
    """A setting in the environment cannot be used; the message names it and what it takes."""


# Limits for training started from the app; a public deployment tightens them. Read from the
# environment when used (config.MAX_EPOCHS), not at import: a bad value then fails the one
# thing that needs it with a message, instead of every command with a traceback.
_LIMITS = {
    "MAX_EPOCHS": ("DIGITDRAW_MAX_EPOCHS", int, 30, "a whole number of epochs, 1 or more"),
    "MAX_TRAIN_SECONDS": ("DIGITDRAW_MAX_TRAIN_SECONDS", float, 900.0, "a number of seconds above 0"),
}


def limit(name: str) -> float:
    """The limit `name` ("MAX_EPOCHS", "MAX_TRAIN_SECONDS"): its variable if set, else the default.

    Raises ConfigError naming the variable and the value it expects when the variable is set
    to something else (a word, a fraction of an epoch, zero, a negative number).
    """
    env, kind, default, expected = _LIMITS[name]
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0:  # "not > 0" also refuses NaN
        raise ConfigError(f"${env}={text!r} is not usable: set it to {expected} (default {default:g}).")
    return value


def __getattr__(name: str):
    # PEP 562: config.MAX_EPOCHS and config.MAX_TRAIN_SECONDS are read when used.
    if name in _LIMITS:
        return limit(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# "0" switches the Train page off; a password (env or st.secrets) protects it.
TRAINING_ENABLED = os.environ.get("DIGITDRAW_TRAINING_ENABLED", "1") != "0"
TRAINING_PASSWORD_ENV = "DIGITDRAW_TRAINING_PASSWORD"

# Below this top probability the app says "not sure" rather than guess.
CONFIDENCE_THRESHOLD = 0.6
