"""The training process the app's server starts for each run: `python -m digitdraw.worker SPEC`.

SPEC is one JSON object (`run_spec` builds it): the recipe, where the data is, where to save
and the run's deadline. The process lowers its own CPU priority first, so drawing on the
server stays fast while it trains, then loads the data, trains, evaluates and saves, and
tells the server how it goes as JSON lines on its standard output (`PROTOCOL`):

    {"event": "progress", "epoch", "step", "steps", "trained", "batches": [new], "epoch_end": [new]}
    {"event": "phase", "phase": "evaluating" | "saving"}
    {"event": "end", "status": "finished" | "cancelled" | "failed", ...}

A line "cancel" on its standard input (or the input closing: the server is gone) stops the
run after the current batch, or before saving; nothing is saved then. The server enforces
the rest (digitdraw.jobs): it kills a process that outlives its deadline or ignores a cancel.
Nothing here imports Streamlit.
"""

from __future__ import annotations

import json
import os
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
            "config": dataclasses.asdict(cfg),
            "out": str(out),
            "deadline": deadline,
            "data_dir": None if data_dir is None else str(data_dir),
            "pendigits": None if pendigits_path is None else str(pendigits_path),
            "measure_drawn": measure_drawn,
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
        emit({"event": "end", **_run(json.loads(argv[0]), emit, cancel)})
    except _Cancelled:
        emit({"event": "end", "status": "cancelled"})
    except Exception as exc:  # reported to the server, which shows it on the page
        import traceback

        traceback.print_exc()
        emit({"event": "end", "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    protocol.close()
    return 0


def _run(spec: dict, emit, cancel: threading.Event) -> dict:
    # Imported here, after the priority drop and the stdout swap: TensorFlow is slow to import.
    import keras

    from digitdraw import data, runs, training
    from digitdraw.recipe import TrainConfig

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

    def check_cancel() -> None:
        if cancel.is_set():
            raise _Cancelled

    cfg = TrainConfig(**spec["config"])
    pen = Path(spec["pendigits"]) if spec["pendigits"] else None
    mnist = data.load_mnist(spec["data_dir"])
    check_cancel()
    deadline = Deadline()
    result = training.train(cfg, mnist, callbacks=[Reporter(), deadline], cancel=cancel, pendigits_path=pen)
    if result.cancelled:
        raise _Cancelled
    notes = []
    if deadline.reached or result.stopped_by_budget:
        notes.append(
            f"Stopped by the time limit ({cfg.time_budget:g} s, loading the data included) after "
            f"{result.epochs_done} of {cfg.epochs} epochs; the model so far was kept."
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


if __name__ == "__main__":
    sys.exit(main())
