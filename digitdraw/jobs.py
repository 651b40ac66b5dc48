"""Training runs started from the app: one background worker per server, shared by every session.

Nothing here imports Streamlit. The worker thread only ever writes to a `TrainingJob`
under its lock; pages read consistent copies with `TrainingJob.snapshot()`, so a page can
poll as often as it likes and a run outlives the session (or page) that started it.

A run trains a fresh model (never one being served) and, only once it has finished,
evaluates it and saves it under a new, timestamped name in the user models folder with
modelio's atomic write. A cancelled or failed run leaves no file at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shlex
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitdraw import config, training

log = logging.getLogger(__name__)

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
# Phases of a running job, in order; the page shows them.
PREPARING, TRAINING, EVALUATING, SAVING, DONE = "preparing", "training", "evaluating", "saving", "done"


class JobError(RuntimeError):
    """A run could not be started; the message says why and what to do."""


class JobBusy(JobError):
    """Another run is in progress on this server."""


class LimitError(JobError, ValueError):
    """The run asks for more than this server allows, or for something impossible."""


# -- Limits --------------------------------------------------------------------------------


def checked_config(cfg):
    """`cfg` made safe to run here: limits enforced, and a time budget always set.

    Refuses (LimitError) rather than silently clamping what the user asked for, except that
    a missing time budget becomes the server's maximum: every run must be able to end.
    """
    max_epochs, max_seconds = config.MAX_EPOCHS, config.MAX_TRAIN_SECONDS  # read now: tests patch them
    problems = training.recipe_problems(cfg)
    if cfg.epochs > max_epochs:
        problems.append(f"epochs must be between 1 and {max_epochs} on this server (asked for {cfg.epochs})")
    if cfg.time_budget is not None and cfg.time_budget > max_seconds:
        problems.append(
            f"the time budget must be between 0 and {max_seconds:g} s on this server "
            f"(asked for {cfg.time_budget:g} s)"
        )
    if problems:
        raise LimitError("Cannot start this run: " + "; ".join(problems) + ".")
    if cfg.time_budget is None:
        cfg = cfg.replace(time_budget=float(max_seconds))
    return cfg


# -- Train, evaluate, save: the steps shared with `digitdraw train` ---------------------------


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
    raise JobError(f"{folder}: no free model name for {architecture}-{stamp}.")


def cli_command(cfg) -> str:
    """The `digitdraw train` command that repeats a run: recorded in the card."""
    args = [
        "python",
        "-m",
        "digitdraw",
        "train",
        "--arch",
        cfg.architecture,
        "--api",
        cfg.api,
        "--epochs",
        str(cfg.epochs),
        "--batch-size",
        str(cfg.batch_size),
        "--lr",
        f"{cfg.learning_rate:g}",
        "--augment" if cfg.augment else "--no-augment",
        *(["--elastic", f"{cfg.elastic:g}"] if cfg.augment and cfg.elastic else []),
        "--seed",
        str(cfg.seed),
    ]
    if cfg.subset:
        args += ["--subset", str(cfg.subset)]
    if cfg.time_budget:
        args += ["--time-budget", f"{cfg.time_budget:g}"]
    if cfg.mnist_piped:
        args += ["--mnist-piped", str(cfg.mnist_piped)]
    if cfg.pen_writers and cfg.pen_copies:
        args += ["--pen-writers", cfg.pen_writers, "--pen-copies", str(cfg.pen_copies)]
        if cfg.pen_distort:
            args.append("--pen-distort")
        if cfg.finetune_epochs:
            args += [
                "--finetune-epochs",
                str(cfg.finetune_epochs),
                "--finetune-mnist",
                str(cfg.finetune_mnist),
            ]
            if cfg.finetune_blend != 1.0:
                args += ["--finetune-blend", f"{cfg.finetune_blend:g}"]
    return shlex.join(args)


@dataclass
class SavedRun:
    """What `evaluate_and_save` made of a finished training run."""

    path: Path
    card: dict
    test_accuracy: float
    drawn_accuracy: float | None
    notes: list[str]


def evaluate_and_save(
    result,
    mnist,
    out: Path,
    *,
    command: str,
    pendigits_path: Path | None = None,
    measure_drawn: bool = True,
    weights: bool = False,
    before_save: Callable[[], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> SavedRun:
    """Evaluate a finished run on the MNIST test set (and drawn digits), card it, save it atomically.

    The same steps as `digitdraw train`, so the CLI can call this too. `before_save` runs
    just before the first byte is written and may raise to abandon the save (a late cancel).
    """
    from digitdraw import cards, drawn, modelio
    from digitdraw.evaluate import evaluate
    from digitdraw.predict import Predictor

    phase = phase or (lambda _: None)
    phase(EVALUATING)
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
    if before_save is not None:
        before_save()
    phase(SAVING)
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


# -- The job record ------------------------------------------------------------------------


class Cancelled(Exception):
    """Raised inside the worker when a cancel arrives after training, before saving."""


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read while the worker goes on."""

    id: str
    config: dict
    status: str
    phase: str
    started: float  # time.time()
    elapsed: float  # seconds since the start (to the end, once ended)
    epoch: int  # epochs completed
    epochs: int  # epochs asked for
    step: int  # batch within the current epoch
    steps: int  # batches per epoch (0 until known)
    fraction: float  # 0..1 of the run, whichever of epochs or time budget ends it first
    eta: float | None  # seconds of training left, None until the first batches are timed
    batches: list[dict]  # {"epoch", "step", "x" (epochs, fractional), "loss", "accuracy", "elapsed"}
    epoch_end: list[dict]  # {"epoch" (1-based), "loss", "accuracy", "elapsed"}
    error: str | None
    notes: list[str]
    model_path: str | None
    model_name: str | None
    test_accuracy: float | None
    drawn_accuracy: float | None
    cancel_requested: bool

    @property
    def active(self) -> bool:
        return self.status == RUNNING


class TrainingJob:
    """One run: its configuration, its cancel event, and its progress, behind a lock."""

    def __init__(self, cfg, job_id: str) -> None:
        self.config = cfg
        self.id = job_id
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        self._started_wall = time.time()
        self._ended: float | None = None
        self._train_start: float | None = None
        self.status = RUNNING
        self.phase = PREPARING
        self.epoch = 0
        self.step = 0
        self.steps = 0
        self.batches: list[dict] = []
        self.epoch_end: list[dict] = []
        self.error: str | None = None
        self.notes: list[str] = []
        self.model_path: Path | None = None
        self.test_accuracy: float | None = None
        self.drawn_accuracy: float | None = None

    # Called from the worker thread only.

    def _set(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, value)
            if changes.get("status", RUNNING) != RUNNING:
                self._ended = time.perf_counter()

    def _report(self, event: dict) -> None:
        """training.ProgressReporter's callback: one event every few batches and at each epoch end."""
        with self._lock:
            if self._train_start is None:
                # The reporter's clock starts at fit(); ours at start(). The gap is data and tracing.
                self._train_start = time.perf_counter() - event["elapsed"]
            self.phase = TRAINING
            self.steps = int(event["steps"])
            numbers = {k: event[k] for k in ("loss", "accuracy") if k in event}
            if event["kind"] == "batch":
                self.step = int(event["step"])
                self.epoch = int(event["epoch"])
                x = event["epoch"] + event["step"] / max(1, event["steps"])
                self.batches.append(
                    {
                        "epoch": int(event["epoch"]) + 1,
                        "step": int(event["step"]),
                        "x": round(x, 4),
                        "elapsed": event["elapsed"],
                        **numbers,
                    }
                )
            else:
                # Keras ends the epoch even when a cancel or the budget stopped it mid-way; the
                # reporter always sends the last batch of a whole epoch, so its absence tells.
                last = self.batches[-1] if self.batches else {}
                whole = last.get("epoch") == int(event["epoch"]) + 1 and last.get("step") == self.steps
                if whole:
                    self.epoch, self.step = int(event["epoch"]) + 1, 0
                self.epoch_end.append(
                    {
                        "epoch": int(event["epoch"]) + 1,
                        "partial": not whole,
                        "elapsed": event["elapsed"],
                        **numbers,
                    }
                )

    # Read from anywhere.

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            now = self._ended if self._ended is not None else time.perf_counter()
            elapsed = now - self._start
            cfg = self.config
            done = self.epoch * self.steps + self.step
            total = cfg.epochs * self.steps
            fraction, eta = 0.0, None
            if self.status == FINISHED:
                fraction, eta = 1.0, 0.0
            elif total and done and self._train_start is not None:
                trained = now - self._train_start
                budget = cfg.time_budget or float("inf")
                # The run ends at the last epoch or at the budget, whichever comes first.
                fraction = min(1.0, max(done / total, trained / budget))
                eta = max(0.0, min(trained / done * (total - done), budget - trained))
            return JobSnapshot(
                id=self.id,
                config=dataclasses.asdict(cfg),
                status=self.status,
                phase=self.phase,
                started=self._started_wall,
                elapsed=elapsed,
                epoch=self.epoch,
                epochs=cfg.epochs,
                step=self.step,
                steps=self.steps,
                fraction=fraction,
                eta=eta,
                batches=list(self.batches),
                epoch_end=list(self.epoch_end),
                error=self.error,
                notes=list(self.notes),
                model_path=str(self.model_path) if self.model_path else None,
                model_name=self.model_path.stem if self.model_path else None,
                test_accuracy=self.test_accuracy,
                drawn_accuracy=self.drawn_accuracy,
                cancel_requested=self.cancel_event.is_set(),
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends (tests, the CLI); True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.status != RUNNING


# -- The per-server singleton ----------------------------------------------------------------


_STATE_MODULE = "_digitdraw_training_state"


def _process_state() -> dict:
    """The process's training state, kept outside this module on purpose.

    Streamlit's file watcher drops every project module from sys.modules when any source file
    changes, and the next run imports this one afresh. The state must outlive that: otherwise
    a running job would vanish from every page and a second run could start beside it. A
    file-less module under a name outside the package is never dropped.
    """
    holder = sys.modules.get(_STATE_MODULE)
    if holder is None:
        holder = types.ModuleType(_STATE_MODULE, "digitdraw.jobs: the process-wide training state")
        holder.state = {"lock": threading.Lock(), "job": None, "count": 0}
        sys.modules[_STATE_MODULE] = holder
    return holder.state


class TrainingJobs:
    """At most one run at a time for the whole process; every session sees the same one.

    `TrainingJobs()` has private state (tests); the app uses `JOBS`, which shares the process's.
    """

    def __init__(self, state: dict | None = None) -> None:
        self._state = state if state is not None else {"lock": threading.Lock(), "job": None, "count": 0}
        self._lock = self._state["lock"]

    @property
    def _job(self) -> TrainingJob | None:
        return self._state["job"]

    @_job.setter
    def _job(self, job: TrainingJob | None) -> None:
        self._state["job"] = job

    def current(self) -> TrainingJob | None:
        """The run in progress, else the last one (so its result stays visible), else None."""
        with self._lock:
            return self._job

    def running(self) -> bool:
        job = self.current()
        return job is not None and job.status == RUNNING

    def start(
        self,
        cfg,
        *,
        mnist=None,
        data_dir: str | Path | None = None,
        models_dir: Path | None = None,
        pendigits_path: Path | None = None,
        measure_drawn: bool = True,
    ) -> TrainingJob:
        """Start `cfg` in a background thread and return its job at once.

        Raises JobBusy if a run is in progress and LimitError if `cfg` breaks this server's limits.
        `mnist` skips loading (tests); otherwise the worker loads it, so a missing data set
        shows up as a failed run with the loader's message rather than a frozen page.
        """
        cfg = checked_config(cfg)
        pen = pendigits_path if pendigits_path is not None else config.pendigits_path(data=data_dir)
        if cfg.pen_writers and cfg.pen_copies:
            if pen is None or not Path(pen).is_file():
                where = f" (looked for {pen})" if pen is not None else ""
                raise JobError(
                    f"This run adds pen-drawn digits, but the pendigits file is not here{where}: set "
                    f"${config.PENDIGITS_ENV} to its train.jsonl, or train without pen-drawn digits."
                )
        with self._lock:
            if self._job is not None and self._job.status == RUNNING:
                other = self._job
                started = time.strftime("%H:%M:%S", time.localtime(other._started_wall))
                raise JobBusy(
                    f"A training run is already in progress on this server ({other.config.architecture}, "
                    f"started {started}); wait for it to finish or cancel it."
                )
            self._state["count"] += 1
            job = TrainingJob(cfg, f"{time.strftime('%Y%m%d-%H%M%S')}-{self._state['count']}")
            self._job = job
        job.thread = threading.Thread(
            target=self._work,
            name=f"digitdraw-train-{job.id}",
            daemon=True,
            args=(job, mnist, data_dir, models_dir, pen, measure_drawn),
        )
        job.thread.start()
        return job

    def cancel(self) -> bool:
        """Ask the run in progress to stop after its current batch; nothing will be saved."""
        job = self.current()
        if job is None or job.status != RUNNING:
            return False
        job.cancel_event.set()
        return True

    @staticmethod
    def _work(job: TrainingJob, mnist, data_dir, models_dir, pen, measure_drawn) -> None:
        from digitdraw import data

        def check_cancel() -> None:
            if job.cancel_event.is_set():
                raise Cancelled

        try:
            if mnist is None:
                mnist = data.load_mnist(data_dir)
            check_cancel()
            result = training.train(
                job.config,
                mnist,
                cancel=job.cancel_event,
                report=job._report,
                pendigits_path=pen,
            )
            if result.cancelled:
                raise Cancelled
            notes = []
            if result.stopped_by_budget:
                notes.append(
                    f"Stopped by the time budget ({job.config.time_budget:g} s) after "
                    f"{result.epochs_done} of {job.config.epochs} epochs; the model so far was kept."
                )
            out = new_model_path(job.config.architecture, models_dir)
            saved = evaluate_and_save(
                result,
                mnist,
                out,
                command=cli_command(job.config) + "  # started from the app",
                pendigits_path=pen,
                measure_drawn=measure_drawn,
                before_save=check_cancel,
                phase=lambda p: job._set(phase=p),
            )
            job._set(
                status=FINISHED,
                phase=DONE,
                model_path=saved.path,
                test_accuracy=saved.test_accuracy,
                drawn_accuracy=saved.drawn_accuracy,
                notes=notes + saved.notes,
            )
        except Cancelled:
            job._set(status=CANCELLED, phase=DONE, notes=["Cancelled; nothing was saved."])
        except Exception as exc:  # the page shows it; the server must survive any failure
            log.exception("training run %s failed", job.id)
            job._set(status=FAILED, phase=DONE, error=f"{type(exc).__name__}: {exc}")


JOBS = TrainingJobs(_process_state())
"""The process-wide instance the app uses: one server, one run at a time."""
