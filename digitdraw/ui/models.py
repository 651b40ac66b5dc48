"""Model loading for every page: each model file is loaded once per server process, shared by all.

Loading a Keras model and tracing its Predictor takes about a second; doing it per session or per
rerun would make every stroke slow. st.cache_resource holds one Predictor per (file, mtime), so a
model file replaced on disk (the final models replacing the placeholders, a retrained model) is
loaded afresh, while an unchanged one never is.
"""

from __future__ import annotations

import os
import string
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from digitdraw import config, modelio
from digitdraw.predict import Predictor

# How the shipped models are called on screen.
SHIPPED_TITLES = {"dense": "Dense", "cnn": "CNN"}


def md(text: str) -> str:
    """`text` for a Markdown sink (st.markdown, captions, alerts, metric and widget labels): shown as is.

    Every ASCII punctuation character is backslash-escaped (CommonMark allows it for each), so a
    model named "*cnn*" or "1. try" is not set in italics or as a list, and unprintable characters
    are escaped as Python would, so a line break cannot end a label.
    """
    return "".join("\\" + c if c in string.punctuation else c for c in modelio.printable(text))


@dataclass(frozen=True)
class ModelChoice:
    """A model the user can pick: its name, file, and how to show it."""

    name: str
    path: Path
    title: str  # the metric label: "Dense", "CNN", or a trained model's name (raw: md() it for Markdown)
    label: str  # the selectbox text (plain text), e.g. "cnn (shipped, MNIST 99.12%)"
    problem: str | None = None  # why it cannot be used (a broken entry is offered, labelled, not loaded)


def title_for(name: str, shipped: bool) -> str:
    """The short title for a model: "Dense"/"CNN" for the shipped ones, else its file name."""
    return SHIPPED_TITLES.get(name, name) if shipped else name


def page_order(title: str) -> tuple[int, str]:
    """Sort key for model titles as the Draw page shows them: the shipped ones first, in their
    order (Dense, CNN), then the others by name."""
    shipped = [SHIPPED_TITLES[name] for name in config.DEFAULT_MODELS]
    return (shipped.index(title), "") if title in shipped else (len(shipped), title)


def model_choices() -> list[ModelChoice]:
    """Every model on disk: the shipped ones first, then those trained here.

    A default model whose file is missing is still offered (under its expected path), so the
    page can say which file is missing instead of silently answering with one model.
    """
    entries = modelio.available_models()
    choices = [ModelChoice(e.name, e.path, title_for(e.name, e.shipped), e.label, e.problem) for e in entries]
    have = {c.name for c in choices}
    for i, name in enumerate(config.DEFAULT_MODELS):
        if name not in have:
            path = config.SHIPPED_MODELS_DIR / f"{name}{modelio.FULL_SUFFIX}"
            missing = ModelChoice(name, path, title_for(name, True), f"{name} (shipped, file missing)")
            choices.insert(min(i, len(choices)), missing)
    return choices


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading a model: a Predictor, or the error message to show instead."""

    predictor: Predictor | None
    error: str | None


@st.cache_resource(max_entries=32, show_spinner="Loading model…")
def _load_cached(path: str, mtime_ns: int, card_mtime_ns: int) -> Loaded:
    # The mtimes are only part of the cache key: a rewritten model, or a card that
    # `digitdraw calibrate` rewrote, gets a fresh entry. Errors are cached too (same key): a
    # corrupt file is not re-read on every stroke, and fixing or replacing it retries.
    del mtime_ns, card_mtime_ns
    try:
        # from_file: with the calibration and not-a-digit detector the model's card stores.
        return Loaded(Predictor.from_file(path, name=modelio.model_name(path)), None)
    except modelio.ModelFileError as exc:
        return Loaded(None, str(exc))


def load_predictor(path: str | os.PathLike) -> Loaded:
    """The shared Predictor for a model file, or why there is none (never raises for a bad file)."""
    p = Path(path).resolve()  # one cache entry per file, however a page names it
    try:
        mtime_ns = p.stat().st_mtime_ns
    except OSError:
        # Not cached: a missing file may appear at any moment (a model being trained).
        # The file's name, not its path: every visitor sees this, and the server's folders are its own.
        return Loaded(None, f"{p.name}: no such model file (deleted or renamed?).")
    card = modelio.card_path(p)
    return _load_cached(str(p), mtime_ns, card.stat().st_mtime_ns if card.is_file() else 0)


def predictor_or_error(choice: ModelChoice) -> Predictor | None:
    """Load a chosen model; on failure show an st.error naming the file and return None.

    A broken entry is not loaded: the error says why it is broken. The page then goes on with
    whichever other model did load.
    """
    if choice.problem is not None:
        st.error(
            f"Model **{md(choice.title)}** cannot be used: {modelio.printable(choice.problem)}",
            icon=":material/error:",
        )
        return None
    loaded = load_predictor(choice.path)
    if loaded.error is not None:
        st.error(
            f"Model **{md(choice.title)}** cannot be used: {modelio.printable(loaded.error)}",
            icon=":material/error:",
        )
    return loaded.predictor


# -- renames, for the other sessions -----------------------------------------------------------

RENAMES_KEPT = 200  # the newest renames remembered by a server


@st.cache_resource
def _renames() -> dict[str, str]:
    return {}  # old name -> new name, for every session of this server


def record_rename(old: str, new: str) -> None:
    """Say that a model was renamed (Inspect -> Manage models), so a page still showing it follows."""
    renames = _renames()
    renames.pop(old, None)
    renames[old] = new
    while len(renames) > RENAMES_KEPT:
        renames.pop(next(iter(renames)))


def renamed_to(name: str) -> str | None:
    """The name a renamed model has now (after any later renames too), or None if it was not renamed."""
    renames, seen = _renames(), {name}
    while name in renames and renames[name] not in seen:
        name = renames[name]
        seen.add(name)
    return name if len(seen) > 1 else None


def follow_model(key: str, names: Collection[str], fallback: str, *, then: str = "back to") -> None:
    """Before a model picker (session state `key`) is drawn: a model it showed that was renamed or
    deleted since (in another tab, by another visitor) is followed to its new name, or said to be gone
    and replaced by `fallback` ("Model m is gone from this server: {then} {fallback}."), not swapped
    unsaid. Set, not deleted: a deleted key leaves the browser's picker on the old model, which it
    sends back on every run."""
    shown = st.session_state.get(key)
    if shown is None or shown in names:
        return
    now = renamed_to(shown)
    if now in names:  # renamed on the Inspect page, in this session or another
        st.session_state[key] = now
        st.toast(f"Model {md(shown)} is now called {md(now)}.", icon=":material/edit:")
    else:
        st.session_state[key] = fallback
        st.toast(
            f"Model {md(shown)} is gone from this server: {then} {md(fallback)}.", icon=":material/info:"
        )
