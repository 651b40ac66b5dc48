"""Training runs started from the app: one background worker per server, shared by every session.

Nothing here imports Streamlit (the app keeps one `TrainingJobs` per server with
st.cache_resource). The worker thread only ever writes to a `TrainingJob` under its lock;
pages read consistent copies with `TrainingJob.snapshot()`, so a page can poll as often as it
likes and a run outlives the session (or page) that started it.

A run trains a fresh model (never one being served) and, only once it has finished,
evaluates it and saves it under a new, timestamped name in the user models folder
(digitdraw.runs, with modelio's atomic write). A cancelled or failed run leaves no file at all.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from digitdraw import config, data, pendigits, recipe, runs, training
from digitdraw.recipe import TrainConfig

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


def checked_config(cfg: TrainConfig) -> TrainConfig:
    """`cfg` made safe to run here: limits enforced, and a time budget always set.

    Refuses (LimitError) rather than silently clamping what the user asked for, except that
    a missing time budget becomes the server's maximum: every run must be able to end.
    """
    max_epochs, max_seconds = config.MAX_EPOCHS, config.MAX_TRAIN_SECONDS  # read now: tests patch them
    problems = recipe.recipe_problems(cfg)
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
        cfg = dataclasses.replace(cfg, time_budget=float(max_seconds))
    return cfg


# -- The job record ------------------------------------------------------------------------


class Cancelled(Exception):
    """Raised inside the worker when a cancel arrives after training, before saving."""


@dataclass
class JobState:
    """What the worker writes of a run, under the job's lock."""

    status: str = RUNNING
    phase: str = PREPARING
    progress: training.Progress = field(default_factory=training.Progress)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    model_path: str | None = None
    test_accuracy: float | None = None
    drawn_accuracy: float | None = None


@dataclass(kw_only=True)
class JobSnapshot(JobState):
    """A consistent copy of a job's state, safe to read while the worker goes on."""

    id: str
    config: dict
    started: float  # time.time()
    elapsed: float  # seconds since the start (to the end, once ended)
    epochs: int  # epochs asked for
    fraction: float  # 0..1 of the run, whichever of epochs or time budget ends it first
    eta: float | None  # seconds of training left, None until the first batches are timed
    cancel_requested: bool

    @property
    def model_name(self) -> str | None:
        return Path(self.model_path).stem if self.model_path else None


class TrainingJob:
    """One run: its configuration, its cancel event, and its state, behind a lock."""

    def __init__(self, cfg: TrainConfig, job_id: str) -> None:
        self.config = cfg
        self.id = job_id
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.state = JobState()
        self._start = time.perf_counter()
        self._started_wall = time.time()
        self._ended: float | None = None

    @property
    def status(self) -> str:
        return self.state.status

    def progress_callback(self) -> training.ProgressCallback:
        """The Keras callback that writes this job's progress (under its lock) as it trains."""
        return training.ProgressCallback(self.state.progress, self.lock)

    def _set(self, **changes) -> None:
        """The worker's writes of anything but progress (the callback writes that)."""
        with self.lock:
            for key, value in changes.items():
                setattr(self.state, key, value)
            if self.state.status != RUNNING and self._ended is None:
                self._ended = time.perf_counter()

    def snapshot(self) -> JobSnapshot:
        with self.lock:
            state = self.state
            progress = state.progress.copy()
            now = self._ended if self._ended is not None else time.perf_counter()
            cfg = self.config
            done, total = progress.done, cfg.epochs * progress.steps
            fraction, eta = 0.0, None
            if state.status == FINISHED:
                fraction, eta = 1.0, 0.0
            elif total and done and progress.started is not None:
                trained = now - progress.started
                budget = cfg.time_budget or float("inf")
                # The run ends at the last epoch or at the budget, whichever comes first.
                fraction = min(1.0, max(done / total, trained / budget))
                eta = max(0.0, min(trained / done * (total - done), budget - trained))
            copied = {f.name: getattr(state, f.name) for f in dataclasses.fields(JobState)}
            # Preparing (data, renderings, the model) lasts until fit() starts the callback's clock.
            phase = TRAINING if state.phase == PREPARING and progress.started is not None else state.phase
            return JobSnapshot(
                **{**copied, "phase": phase, "progress": progress, "notes": list(state.notes)},
                id=self.id,
                config=dataclasses.asdict(cfg),
                started=self._started_wall,
                elapsed=now - self._start,
                epochs=cfg.epochs,
                fraction=fraction,
                eta=eta,
                cancel_requested=self.cancel_event.is_set(),
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends (tests); True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.status != RUNNING


# -- The registry ----------------------------------------------------------------------------


class TrainingJobs:
    """At most one run at a time; the app keeps one of these per server, so every session sees it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None
        self._count = 0

    def current(self) -> TrainingJob | None:
        """The run in progress, else the last one (so its result stays visible), else None."""
        with self._lock:
            return self._job

    def running(self) -> bool:
        job = self.current()
        return job is not None and job.status == RUNNING

    def start(
        self,
        cfg: TrainConfig,
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
        if cfg.pen_writers and cfg.pen_copies and (pen is None or not Path(pen).is_file()):
            raise JobError(
                f"This run adds pen-drawn digits, but {pendigits.missing_file_message(pen)} "
                "Or train without pen-drawn digits."
            )
        with self._lock:
            if self._job is not None and self._job.status == RUNNING:
                other = self._job
                started = time.strftime("%H:%M:%S", time.localtime(other._started_wall))
                raise JobBusy(
                    f"A training run is already in progress on this server ({other.config.architecture}, "
                    f"started {started}); wait for it to finish or cancel it."
                )
            self._count += 1
            job = TrainingJob(cfg, f"{time.strftime('%Y%m%d-%H%M%S')}-{self._count}")
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
        def check_cancel() -> None:
            if job.cancel_event.is_set():
                raise Cancelled

        def before_save() -> None:
            check_cancel()
            job._set(phase=SAVING)

        try:
            if mnist is None:
                mnist = data.load_mnist(data_dir)
            check_cancel()
            result = training.train(
                job.config,
                mnist,
                callbacks=[job.progress_callback()],
                cancel=job.cancel_event,
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
            job._set(phase=EVALUATING)
            saved = runs.evaluate_and_save(
                result,
                mnist,
                runs.new_model_path(job.config.architecture, models_dir),
                command=runs.cli_command(job.config) + "  # started from the app",
                pendigits_path=pen,
                measure_drawn=measure_drawn,
                before_save=before_save,
            )
            job._set(
                status=FINISHED,
                phase=DONE,
                model_path=str(saved.path),
                test_accuracy=saved.test_accuracy,
                drawn_accuracy=saved.drawn_accuracy,
                notes=notes + saved.notes,
            )
        except Cancelled:
            job._set(status=CANCELLED, phase=DONE, notes=["Cancelled; nothing was saved."])
        except Exception as exc:  # the page shows it; the server must survive any failure
            log.exception("training run %s failed", job.id)
            job._set(status=FAILED, phase=DONE, error=f"{type(exc).__name__}: {exc}")
