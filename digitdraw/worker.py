"""The training process the app's server starts for each run: `python -m digitdraw.worker SPEC`.

SPEC is one JSON object (`run_spec` or `finetune_spec` builds it): what to run ("kind": a
fresh training run with its recipe, or a fine-tune of a model on one browser's corrections),
where the data is, where to save and the run's deadline. The corrections database's URL comes
in $DIGITDRAW_DB_URL, not in SPEC: a PostgreSQL URL may hold a password, and a command line is
visible to every user of the machine. The process lowers its own CPU priority first, so drawing on the
server stays fast while it trains, then loads the data, trains, evaluates and saves, and
tells the server how it goes as JSON lines on its standard output (`PROTOCOL`):

    {"event": "progress", "epoch", "step", "steps", "trained", "batches": [new], "epoch_end": [new]}
    {"event": "phase", "phase": "evaluating" | "saving"}  (a fine-tune: "evaluating" only)
    {"event": "end", "status": "finished" | "cancelled" | "failed", ...}

A line "cancel" on its standard input (or the input closing: the server is gone) stops the
run after the current batch, or before saving; nothing is saved then. The server enforces
the rest (digitdraw.jobs): it kills a process that outlives its deadline or ignores a cancel.
Nothing here imports Streamlit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import threading
import time
from pathlib import Path

NICE = 10  # lower priority than the server that answers the drawings
REPORT_EVERY = 0.25  # seconds between progress lines, at most, unless a curve point is new


def run_spec(
    cfg, *, out: Path, deadline: float, data_dir=None, pendigits_path=None, measure_drawn=True
) -> str:
    """The JSON this module's `main` reads: `cfg` a TrainConfig, `deadline` a time.time() to stop by."""
    import dataclasses

    return json.dumps(
        {
            "kind": "train",
            "config": dataclasses.asdict(cfg),
            "out": str(out),
            "deadline": deadline,
            "data_dir": None if data_dir is None else str(data_dir),
            "pendigits": None if pendigits_path is None else str(pendigits_path),
            "measure_drawn": measure_drawn,
        }
    )


def finetune_spec(
    *,
    base_model: Path,
    browser_id: str,
    settings,
    seed: int,
    out: Path,
    deadline: float,
    data_dir=None,
    pendigits_path=None,
) -> str:
    """The JSON for a fine-tune of `base_model` on `browser_id`'s corrections; settings: FinetuneSettings."""
    import dataclasses

    return json.dumps(
        {
            "kind": "finetune",
            "base_model": str(base_model),
            "browser_id": browser_id,
            "settings": dataclasses.asdict(settings),
            "seed": seed,
            "out": str(out),
            "deadline": deadline,
            "data_dir": None if data_dir is None else str(data_dir),
            "pendigits": None if pendigits_path is None else str(pendigits_path),
        }
    )


class _Cancelled(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if hasattr(os, "nice"):
        os.nice(NICE)
    # The protocol gets its own copy of stdout; anything a library prints goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    lock = threading.Lock()

    def emit(message: dict) -> None:
        with lock:
            protocol.write(json.dumps(message) + "\n")

    cancel = threading.Event()

    def listen() -> None:
        # "cancel" or the end of input (the server went away): stop at the next safe point.
        for line in sys.stdin:
            if line.strip() == "cancel":
                break
        cancel.set()

    threading.Thread(target=listen, name="cancel-listener", daemon=True).start()
    try:
        from digitdraw import quiet

        # Before anything else imports TensorFlow, as the CLI does: its start-up lines stay out of
        # the run's log, and it loads with the same settings as `digitdraw train`.
        quiet.import_tensorflow()
        spec = json.loads(argv[0])
        run = _run_finetune if spec.get("kind") == "finetune" else _run
        emit({"event": "end", **run(spec, emit, cancel)})
    except _Cancelled:
        emit({"event": "end", "status": "cancelled"})
    except Exception as exc:  # reported to the server, which shows it on the page
        import traceback

        traceback.print_exc()
        emit({"event": "end", "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    protocol.close()
    return 0


def _callbacks(spec: dict, emit):
    """(reporter, deadline): Keras callbacks that send progress to the server and stop at the deadline."""
    import keras

    from digitdraw import training

    class Reporter(training.ProgressCallback):
        """ProgressCallback that also sends what is new to the server, a few times a second."""

        def __init__(self) -> None:
            super().__init__(training.Progress())
            self.sent_batches = self.sent_ends = 0
            self.last = 0.0

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.send(force=True)

        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            self.send()

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.send(force=True)

        def send(self, force: bool = False) -> None:
            p, now = self.progress, time.perf_counter()
            if not force and len(p.batches) == self.sent_batches and now - self.last < REPORT_EVERY:
                return
            emit(
                {
                    "event": "progress",
                    "epoch": p.epoch,
                    "step": p.step,
                    "steps": p.steps,
                    "trained": now - (p.started or now),
                    "batches": p.batches[self.sent_batches :],
                    "epoch_end": p.epoch_end[self.sent_ends :],
                }
            )
            self.sent_batches, self.sent_ends, self.last = len(p.batches), len(p.epoch_end), now

    class Deadline(keras.callbacks.Callback):
        """Stops training after the batch that crosses the run's deadline (data loading included)."""

        reached = False

        def on_train_batch_end(self, batch, logs=None):
            if time.time() >= spec["deadline"]:
                self.reached = True
                self.model.stop_training = True

    return Reporter(), Deadline()


def _run(spec: dict, emit, cancel: threading.Event) -> dict:
    # Imported here, after the priority drop and the stdout swap: TensorFlow is slow to import.
    from digitdraw import data, runs, training
    from digitdraw.recipe import TrainConfig

    def check_cancel() -> None:
        if cancel.is_set():
            raise _Cancelled

    cfg = TrainConfig(**spec["config"])
    pen = Path(spec["pendigits"]) if spec["pendigits"] else None
    mnist = data.load_mnist(spec["data_dir"])
    check_cancel()
    reporter, deadline = _callbacks(spec, emit)
    result = training.train(cfg, mnist, callbacks=[reporter, deadline], cancel=cancel, pendigits_path=pen)
    if result.cancelled:
        raise _Cancelled
    notes = []
    if deadline.reached or result.stopped_by_budget:
        # The run's deadline stops it as the budget would: its card says so (it said it was not, qa26).
        result = dataclasses.replace(result, stopped_by_budget=True)
        notes.append(
            f"Stopped by the time limit ({cfg.time_budget:g} s, loading the data included) after "
            f"{result.how_far()}; the model so far was kept."
        )
    emit({"event": "phase", "phase": "evaluating"})

    def before_save() -> None:
        check_cancel()
        emit({"event": "phase", "phase": "saving"})

    saved = runs.evaluate_and_save(
        result,
        mnist,
        Path(spec["out"]),
        command=runs.cli_command(cfg) + "  # started from the app",
        pendigits_path=pen,
        measure_drawn=spec["measure_drawn"],
        before_save=before_save,
    )
    return {
        "status": "finished",
        "model_path": str(saved.path),
        "test_accuracy": saved.test_accuracy,
        "drawn_accuracy": saved.drawn_accuracy,
        "notes": notes + saved.notes,
    }


def _run_finetune(spec: dict, emit, cancel: threading.Event) -> dict:
    """A fine-tune on one browser's corrections (digitdraw.finetune), read from the database."""
    import keras

    from digitdraw import data
    from digitdraw.feedback import FeedbackStore, FeedbackStoreError
    from digitdraw.finetune import FinetuneError, FinetuneSettings, finetune_on_corrections

    settings = FinetuneSettings(**spec["settings"])
    try:
        store = FeedbackStore()  # $DIGITDRAW_DB_URL, set by the server
        try:
            corrections = store.list_drawings(spec["browser_id"])
        finally:
            store.close()
    except FeedbackStoreError as exc:  # a sentence for the person, as the Draw page shows it
        return {"status": "failed", "error": f"Could not read your corrections: {exc}"}
    pen = Path(spec["pendigits"]) if spec["pendigits"] else None
    mnist = data.load_mnist(spec["data_dir"])
    if cancel.is_set():
        raise _Cancelled

    class Measuring(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            emit({"event": "phase", "phase": "evaluating"})

    reporter, deadline = _callbacks(spec, emit)
    out = Path(spec["out"])
    base = Path(spec["base_model"])
    try:
        result = finetune_on_corrections(
            base,
            corrections,
            mnist,
            pen,
            out=out,
            seed=spec["seed"],
            settings=settings,
            callbacks=[reporter, deadline, Measuring()],
            cancel=cancel,
            command="python -m digitdraw "
            + shlex.join(["finetune", "--base", str(base), "--out", str(out), "--seed", str(spec["seed"])])
            + "  # started from the app, on one browser's corrections",
        )
    except FinetuneError as exc:  # already in words for the person
        return {"status": "failed", "error": str(exc)}
    # Cancelled in training, or while measuring (the server removes the files of a cancelled run).
    if result.cancelled or cancel.is_set():
        raise _Cancelled
    notes = []
    if deadline.reached:
        notes.append(
            f"Stopped by the time limit (loading the data included) after {result.card['epochs']} of "
            f"{settings.epochs} epochs; the model so far was kept."
        )
    return {
        "status": "finished",
        "model_path": str(result.path),
        "test_accuracy": result.card["test_accuracy"],
        "drawn_accuracy": None,
        "notes": notes,
    }


if __name__ == "__main__":
    sys.exit(main())
