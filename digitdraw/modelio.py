"""Model files: `.keras` (the whole model) or `.weights.h5` (weights alone), each with a JSON card.

Writes are atomic (a temporary file in the same folder, then a rename), so a crash or a
cancelled run never leaves a broken file where a good one was. Loading keeps Keras's
`safe_mode` and turns every way a file can be wrong into one `ModelFileError`.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras

from digitdraw import architectures, config

FULL_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"


class ModelFileError(RuntimeError):
    """A model file is missing, truncated, foreign, or not a digit model."""


def model_name(model_path: str | os.PathLike) -> str | None:
    """models/cnn.keras or models/cnn.weights.h5 -> "cnn"; None for any other file."""
    name = Path(model_path).name
    for suffix in (WEIGHTS_SUFFIX, FULL_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def card_path(model_path: str | os.PathLike) -> Path:
    """models/cnn.keras -> models/cnn.json; models/cnn.weights.h5 -> models/cnn.json."""
    path = Path(model_path)
    return path.with_name((model_name(path) or path.name) + ".json")


def _atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) then rename over `path`; the temporary keeps the suffix Keras checks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = WEIGHTS_SUFFIX if path.name.endswith(WEIGHTS_SUFFIX) else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes files private; a model file is not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    _atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def save(model: keras.Model, path: str | os.PathLike, card: dict | None = None) -> Path:
    """Save `model` to `path` (.keras or .weights.h5), atomically, and its card beside it."""
    path = Path(path)
    if path.name.endswith(WEIGHTS_SUFFIX):
        _atomic_write(path, lambda tmp: model.save_weights(tmp))
    elif path.suffix == FULL_SUFFIX:
        _atomic_write(path, lambda tmp: model.save(tmp))
    else:
        raise ValueError(f"{path}: a model file ends in {FULL_SUFFIX} or {WEIGHTS_SUFFIX}.")
    if card is not None:
        write_json(card_path(path), card)
    return path


def read_card(model_path: str | os.PathLike) -> dict | None:
    """The card beside a model file, or None if it has none; a corrupt card is an error."""
    path = card_path(model_path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: the model card is not valid JSON ({exc}).") from exc


def _check_shape(model: keras.Model, path: Path) -> keras.Model:
    inputs = tuple(model.inputs[0].shape[1:]) if model.inputs else None
    outputs = tuple(model.outputs[0].shape[1:]) if model.outputs else None
    if inputs != architectures.INPUT_SHAPE or outputs != (architectures.NUM_CLASSES,):
        raise ModelFileError(
            f"{path}: not a digit model (input {inputs}, output {outputs}; "
            f"expected input {architectures.INPUT_SHAPE} and {architectures.NUM_CLASSES} outputs)."
        )
    return model


def load(path: str | os.PathLike) -> keras.Model:
    """Load a `.keras` model, or `.weights.h5` weights into the architecture its card names."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file.")
    if path.name.endswith(WEIGHTS_SUFFIX):
        card = read_card(path)
        if not card or "architecture" not in card:
            raise ModelFileError(
                f"{path}: weights alone need the card {card_path(path).name} beside them "
                "to say which architecture they belong to."
            )
        model = architectures.build(card["architecture"], card.get("api", "sequential"))
        try:
            model.load_weights(path)
        except Exception as exc:  # h5py and Keras raise many kinds for a bad file
            raise ModelFileError(
                f"{path}: cannot load these weights into a {card['architecture']} model ({exc})."
            ) from exc
        return model
    if path.suffix != FULL_SUFFIX:
        raise ModelFileError(f"{path}: a model file ends in {FULL_SUFFIX} or {WEIGHTS_SUFFIX}.")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (truncated or not a .keras archive).")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise ModelFileError(f"{path}: cannot load the model ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not a model.")
    return _check_shape(model, path)


@dataclass(frozen=True)
class ModelEntry:
    """A model file the app or CLI can offer."""

    name: str
    path: Path
    card: dict | None
    shipped: bool

    @property
    def label(self) -> str:
        card = self.card or {}
        acc = card.get("test_accuracy")
        extra = f", MNIST {acc:.2%}" if isinstance(acc, float) else ""
        return f"{self.name} ({'shipped' if self.shipped else 'trained here'}{extra})"


def list_models(*folders: Path, shipped: Path | None = None) -> list[ModelEntry]:
    """Every .keras / .weights.h5 file in `folders`; a full model hides weights of the same name."""
    entries: dict[str, ModelEntry] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue  # temporaries of a write in progress
            name = model_name(path)
            if name is None or (name in entries and path.name.endswith(WEIGHTS_SUFFIX)):
                continue  # not a model; or weights beside the full model (sorted after it)
            try:
                card = read_card(path)
            except ModelFileError:
                card = None
            is_shipped = shipped is not None and folder.resolve() == shipped.resolve()
            entries[name] = ModelEntry(name, path, card, is_shipped)
    return list(entries.values())


def available_models() -> list[ModelEntry]:
    """The shipped models, then those trained here (a trained one never hides a shipped one)."""
    shipped = list_models(config.SHIPPED_MODELS_DIR, shipped=config.SHIPPED_MODELS_DIR)
    names = {e.name for e in shipped}
    trained = [e for e in list_models(config.user_models_dir()) if e.name not in names]
    return shipped + trained


def resolve(spec: str | os.PathLike) -> Path:
    """A model file path, or the name of a shipped or trained model ("cnn", "cnn-20261122-1130")."""
    path = Path(spec)
    if path.is_file():
        return path
    for entry in available_models():
        if entry.name == str(spec):
            return entry.path
    if path.suffix or os.sep in str(spec):
        raise ModelFileError(f"{spec}: no such model file.")
    known = ", ".join(e.name for e in available_models()) or "none"
    raise ModelFileError(f"No model named {spec!r}; known models: {known}.")


def inference_copy(model: keras.Model, architecture: str, api: str) -> keras.Model:
    """The same weights in a freshly built, uncompiled model: no optimizer state in the file."""
    fresh = architectures.build(architecture, api)
    fresh.set_weights(model.get_weights())
    return fresh
