"""Model files: `.keras` (the whole model) or `.weights.h5` (weights alone), each with a JSON card.

Writes are atomic (a temporary file in the same folder, then a rename), so a crash or a
cancelled run never leaves a broken file where a good one was. A model and its card are saved
as one unit: both are written to temporaries first and the model is renamed into place last,
so a kill at any point leaves either no model or a model with its card; a model file without
a card is an incomplete save and is listed as broken, never offered. Temporaries that a kill
left behind are removed when the models are next listed. Loading keeps Keras's `safe_mode` and
turns every way a file can be wrong into one `ModelFileError`; listing never raises for one
bad entry: it is marked broken, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from digitdraw import architectures, config

if TYPE_CHECKING:
    import keras

# Keras is imported where a model is loaded, not here: `digitdraw list` reads only files and
# cards, and must not pay for TensorFlow's import (about 3 s).

FULL_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"
# A model's pen-path reader (digitdraw.penpath) beside it: moved and deleted with the model (_files_of),
# never listed as a model itself.
PENPATH_SUFFIX = ".penpath.keras"


# Temporaries of _atomic_write: ".<file name>.<random>.tmp<suffix>" (see _temporary).
_TEMP_PATTERN = re.compile(r"^\..+\.tmp(\.keras|\.weights\.h5|\.json)$")
STALE_TEMP_SECONDS = 3600  # no save takes an hour: an older temporary was left by a kill
MAX_NAME_LENGTH = 100  # the name plus ".weights.h5" stays far below any file system's limit


class ModelFileError(RuntimeError):
    """A model file is missing, truncated, foreign, or not a digit model."""


class ModelNameError(ModelFileError, ValueError):
    """A model name that cannot be used: unprintable, a path, hidden, taken or shipped."""


def model_name(model_path: str | os.PathLike) -> str | None:
    """models/cnn.keras or models/cnn.weights.h5 -> "cnn"; None for any other file (a model's
    pen-path reader, models/cnn.penpath.keras, included: it is part of the model, not one)."""
    name = Path(model_path).name
    if name.endswith(PENPATH_SUFFIX):
        return None
    for suffix in (WEIGHTS_SUFFIX, FULL_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def card_path(model_path: str | os.PathLike) -> Path:
    """models/cnn.keras -> models/cnn.json; models/cnn.weights.h5 -> models/cnn.json."""
    path = Path(model_path)
    return path.with_name((model_name(path) or path.name) + ".json")


def printable(text: str) -> str:
    """`text` with control and other unprintable characters escaped as Python would ("a\\nb").

    For one-line output (the CLI's list, logs): a name can never start a new line.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def check_name(name: str) -> str:
    """`name` if it can name a model file; otherwise ModelNameError saying why."""
    if not isinstance(name, str) or not name.strip():
        raise ModelNameError("A model name cannot be empty.")
    if not name.isprintable():
        raise ModelNameError(
            f"The model name {printable(name)!r} has unprintable characters (a line break, a tab "
            "or a control character); use letters, digits, spaces and punctuation."
        )
    if name != name.strip():
        raise ModelNameError(f"The model name {name!r} starts or ends with a space.")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ModelNameError(f"The model name {name!r} cannot contain / or \\: it names a file, not a path.")
    if name.startswith("."):
        raise ModelNameError(f"The model name {name!r} cannot start with a dot (a hidden file).")
    if model_name(name + FULL_SUFFIX) != name or name.endswith((FULL_SUFFIX, WEIGHTS_SUFFIX, ".json")):
        raise ModelNameError(f"The model name {name!r} cannot end in a file suffix.")
    if len(name) > MAX_NAME_LENGTH:
        raise ModelNameError(f"The model name is {len(name)} characters long; at most {MAX_NAME_LENGTH}.")
    return name


def _temporary(path: Path) -> Path:
    """An empty temporary beside `path`, named so that listings skip it and cleaning finds it.

    It keeps the suffix Keras checks (.keras, .weights.h5).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = WEIGHTS_SUFFIX if path.name.endswith(WEIGHTS_SUFFIX) else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def _written(path: Path, write: Callable[[Path], None]) -> Iterator[Path]:
    """write(tmp) into a temporary for `path`; yields it, and removes it unless it was renamed."""
    tmp = _temporary(path)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; a model file is not a secret
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)  # after os.replace it is gone already


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path) then rename over `path`."""
    with _written(path, write) as tmp:
        os.replace(tmp, path)


def write_json(path: str | os.PathLike, data: dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    _atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def save(model: keras.Model, path: str | os.PathLike, card: dict | None = None) -> Path:
    """Save `model` to `path` (.keras or .weights.h5) and its card beside it, as one unit.

    Both go to temporaries first; then the card is renamed into place, and the model last. A
    failure while writing changes nothing; a kill between the two renames leaves a card without
    a model, which no listing offers. A name that cannot be shown on one line is refused.
    """
    path = Path(path)
    if path.name.endswith(WEIGHTS_SUFFIX):
        write = model.save_weights
    elif path.suffix == FULL_SUFFIX:
        write = model.save
    else:
        raise ValueError(f"{path}: a model file ends in {FULL_SUFFIX} or {WEIGHTS_SUFFIX}.")
    check_name(model_name(path) or "")
    if card is None:
        _atomic_write(path, write)
        return path
    text = json.dumps(card, indent=2, sort_keys=False) + "\n"
    with _written(card_path(path), lambda tmp: tmp.write_text(text)) as card_tmp:
        with _written(path, write) as model_tmp:
            os.replace(card_tmp, card_path(path))
            _before_model_rename()
            os.replace(model_tmp, path)
    return path


def save_companion(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save a model that belongs to another beside it (a pen-path reader), with no card of its own;
    written to a temporary first, like `save`."""
    path = Path(path)
    if not path.name.endswith(PENPATH_SUFFIX):
        raise ValueError(f"{path}: a companion file ends in {PENPATH_SUFFIX}.")
    _atomic_write(path, model.save)
    return path


def copy_companion(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Copy a companion file (save_companion's) to `path`, written to a temporary first."""
    data = Path(source).read_bytes()
    path = Path(path)
    _atomic_write(path, lambda tmp: tmp.write_bytes(data))
    return path


def _before_model_rename() -> None:
    """Nothing: the point between the card's rename and the model's, where tests simulate a kill."""


def remove_stale_temporaries(folder: Path, max_age_s: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temporaries of saves that a kill interrupted (older than `max_age_s`) in `folder`.

    Only files named as this module names its temporaries; a save in progress is younger.
    """
    removed = []
    if not folder.is_dir():
        return removed
    cutoff = time.time() - max_age_s
    for path in folder.iterdir():
        if not _TEMP_PATTERN.match(path.name):
            continue
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone meanwhile, or not ours to delete: the next listing tries again
    return removed


def read_card(model_path: str | os.PathLike) -> dict | None:
    """The card beside a model file, or None if it has none; a corrupt card is an error."""
    path = card_path(model_path)
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: the model card is not valid JSON ({exc}).") from exc
    if not isinstance(card, dict):
        raise ModelFileError(f"{path}: the model card is a JSON {type(card).__name__}, not an object.")
    return card


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
    import keras

    from digitdraw import ensemble

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
        try:
            if card.get("members"):  # an ensemble of this architecture (digitdraw.ensemble)
                model = ensemble.build(card["architecture"], int(card["members"]))
            else:
                model = architectures.build(card["architecture"], card.get("api", "sequential"))
        except (ValueError, TypeError) as exc:  # an unknown architecture or API, or not a string
            raise ModelFileError(f"{path}: its card {card_path(path).name} is unusable: {exc}") from exc
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
    """A model file the app or CLI can offer, or a broken one to list with the reason."""

    name: str
    path: Path
    card: dict | None
    shipped: bool
    problem: str | None = None  # why it cannot be used: a bad card, an incomplete save

    @property
    def broken(self) -> bool:
        return self.problem is not None

    @property
    def label(self) -> str:
        """One line: "cnn (shipped, MNIST 99.12%)", or "x (trained here, broken: ...)"."""
        card = self.card or {}
        acc = card.get("test_accuracy")
        extra = f", MNIST {acc:.2%}" if isinstance(acc, float) else ""
        if self.broken:  # the reason without the card's path: the label is one short line
            why = str(self.problem).removeprefix(f"{card_path(self.path)}: ").removeprefix(f"{self.path}: ")
            extra = f", broken: {why}"
        return printable(f"{self.name} ({'shipped' if self.shipped else 'trained here'}{extra})")


def _problem_of(path: Path, need_card: bool) -> tuple[dict | None, str | None]:
    """(card, None) for a listable model file; (None, why) for a broken one. Never raises.

    Only models saved here need their card: the shipped ones are made by the developers, not
    by a save a kill could interrupt, and a shipped .keras file without a card still works.
    """
    name = model_name(path) or path.name
    if not name.isprintable():
        return None, "its name has unprintable characters; rename the file"
    try:
        card = read_card(path)
    except ModelFileError as exc:
        return None, str(exc)
    if card is None and need_card:
        return None, f"incomplete: no model card {card_path(path).name} beside it (an interrupted save?)"
    # A .keras file is a zip whose directory is at its end: a cut-off copy has none (cheap to see).
    if path.suffix == FULL_SUFFIX and not zipfile.is_zipfile(path):
        return None, f"{path}: not a Keras model file (truncated or not a .keras archive)"
    return card, None


def list_models(*folders: Path, shipped: Path | None = None) -> list[ModelEntry]:
    """Every .keras / .weights.h5 file in `folders`; a full model hides weights of the same name.

    A file that cannot be offered (a card that is not a JSON object; no card, except in the
    `shipped` folder) is listed with its `problem`; one bad file never hides or breaks the others.
    """
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
            is_shipped = shipped is not None and folder.resolve() == shipped.resolve()
            card, problem = _problem_of(path, need_card=not is_shipped)
            entries[name] = ModelEntry(name, path, card, is_shipped, problem)
    return list(entries.values())


def available_models() -> list[ModelEntry]:
    """The shipped models, then those trained here (a trained one never hides a shipped one).

    Broken entries are included, marked (`problem`), so that pages can say why; the
    temporaries of interrupted saves in the user folder are removed on the way.
    """
    remove_stale_temporaries(config.user_models_dir())
    shipped = list_models(config.SHIPPED_MODELS_DIR, shipped=config.SHIPPED_MODELS_DIR)
    names = {e.name for e in shipped}
    trained = [e for e in list_models(config.user_models_dir()) if e.name not in names]
    return shipped + trained


def _files_of(folder: Path, name: str) -> list[Path]:
    """The files of the model `name` in `folder`: its .keras and .weights.h5 files, its pen-path
    reader (found by its name), then its card."""
    return [
        folder / f"{name}{s}"
        for s in (FULL_SUFFIX, WEIGHTS_SUFFIX, PENPATH_SUFFIX, ".json")
        if (folder / f"{name}{s}").exists()
    ]


def _trained_entry(name: str, doing: str) -> ModelEntry:
    """The trained model `name`, or ModelNameError: a shipped model, or no such model."""
    for entry in available_models():
        if entry.name == name:
            if entry.shipped:
                raise ModelNameError(f"{name!r} is a shipped model: it cannot be {doing}.")
            return entry
    raise ModelNameError(f"No trained model named {printable(name)!r}.")


def rename_model(name: str, new_name: str) -> ModelEntry:
    """Rename a trained model: its .keras and .weights.h5 files, its pen-path reader and its card move
    together. Other models that read with the same reader (`digitdraw penpath A B`) follow it.

    Refused (ModelNameError): shipped models, unknown names, bad names, names in use. Order for
    a kill midway: the card is copied first (and a shared reader, the cards of the models sharing it
    then naming the copy), then the model files move, then the old card goes; at every point each
    name has either a whole model or no model file, and every card names a reader that is there.
    """
    entry = _trained_entry(name, "renamed")
    check_name(new_name)
    if new_name == name:
        raise ModelNameError(f"The model is named {name!r} already.")
    folder = entry.path.parent
    # Apart from case too: beside the shipped cnn, a model renamed "CNN" was titled "CNN (2)" on the Draw
    # page, and nothing said which was which (qa26).
    others = {e.name.casefold(): e.name for e in available_models() if e.name != name}
    if new_name.casefold() in others or any(
        (folder / f"{new_name}{s}").exists() for s in (FULL_SUFFIX, WEIGHTS_SUFFIX, PENPATH_SUFFIX)
    ):
        taken = others.get(new_name.casefold(), new_name)
        called = "" if taken == new_name else f" ({taken!r}: names are told apart without case)"
        raise ModelNameError(f"The name {new_name!r} is taken by another model{called}.")
    old_card, new_card = folder / f"{name}.json", folder / f"{new_name}.json"
    old_reader, new_reader = f"{name}{PENPATH_SUFFIX}", f"{new_name}{PENPATH_SUFFIX}"
    if old_card.exists():
        text = _card_with_reader(old_card.read_bytes(), old_reader, new_reader)
        _atomic_write(new_card, lambda tmp: tmp.write_bytes(text))
    users = _sharing(folder, old_reader, name)
    if users and (folder / old_reader).is_file():
        _hand_reader_over(folder, users, old_reader, new_reader)
    for old in _files_of(folder, name):
        if old != old_card:
            os.replace(old, folder / f"{new_name}{old.name[len(name) :]}")
    old_card.unlink(missing_ok=True)
    return next(e for e in list_models(folder) if e.name == new_name)


def _reader_named(text: bytes) -> str | None:
    """The pen-path reader file a card's bytes name, if any."""
    try:
        card = json.loads(text)
    except ValueError:
        return None
    entry = card.get("pen_path") if isinstance(card, dict) else None
    return entry.get("file") if isinstance(entry, dict) else None


def _card_with_reader(text: bytes, old_reader: str, new_reader: str) -> bytes:
    """A card's bytes with the pen-path reader file `old_reader` it names now named `new_reader`;
    any other card as it is."""
    if _reader_named(text) != old_reader:
        return text
    card = json.loads(text)
    card["pen_path"] = {**card["pen_path"], "file": new_reader}
    return (json.dumps(card, indent=2, sort_keys=False) + "\n").encode()


def _sharing(folder: Path, reader: str, but: str) -> list[Path]:
    """The cards in `folder`, but model `but`'s, that name the pen-path reader file `reader`."""
    users = []
    for card in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError):
            if card.stem != but and _reader_named(card.read_bytes()) == reader:
                users.append(card)
    return users


def _hand_reader_over(folder: Path, users: list[Path], old_reader: str, new_reader: str) -> None:
    """Before a reader that other models share moves or goes: a copy named `new_reader` first, then
    their cards (`users`) name the copy, so that none is ever without it."""
    _atomic_write(folder / new_reader, lambda tmp: tmp.write_bytes((folder / old_reader).read_bytes()))
    for card in users:
        text = _card_with_reader(card.read_bytes(), old_reader, new_reader)
        _atomic_write(card, lambda tmp, text=text: tmp.write_bytes(text))


def delete_model(name: str) -> list[Path]:
    """Delete a trained model's files (model files first, card last); refuses shipped models. A reader
    other models share (`digitdraw penpath A B`) is handed to the first of them, under its name."""
    entry = _trained_entry(name, "deleted")
    folder, reader = entry.path.parent, f"{name}{PENPATH_SUFFIX}"
    files = _files_of(folder, name)
    users = _sharing(folder, reader, name)
    if users and (folder / reader).is_file():
        heir = f"{users[0].stem}{PENPATH_SUFFIX}"
        if (folder / heir).exists():  # it has a file of that name already: the shared one stays
            files = [f for f in files if f.name != reader]
        else:
            _hand_reader_over(folder, users, reader, heir)
    for path in files:
        path.unlink(missing_ok=True)
    return files


def resolve(spec: str | os.PathLike) -> Path:
    """A model file path, or the name of a shipped or trained model ("cnn", "cnn-20261122-1130")."""
    path = Path(spec)
    if path.is_file():
        return path
    for entry in available_models():
        if entry.name == str(spec):
            return entry.path
    if path.is_dir():
        raise ModelFileError(f"{spec} is a folder; give a model file (.keras) or a model's name.")
    if path.suffix or os.sep in str(spec):
        raise ModelFileError(f"{spec}: no such model file.")
    known = ", ".join(printable(e.name) for e in available_models()) or "none"
    raise ModelFileError(f"No model named {spec!r}; known models: {known}.")


def inference_copy(model: keras.Model, architecture: str, api: str) -> keras.Model:
    """The same weights in a freshly built, uncompiled model: no optimizer state in the file."""
    fresh = architectures.build(architecture, api)
    fresh.set_weights(model.get_weights())
    return fresh
