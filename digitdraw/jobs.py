"""Training runs started from the app: one run at a time per server, each in its own process.

Nothing here imports Streamlit (the app keeps one `TrainingJobs` per server with
st.cache_resource). A run is a child process (digitdraw.worker) at a lower CPU priority, so
visitors drawing on the server are not slowed by it, and whatever it allocates goes when it
ends. A supervising thread here reads its progress lines into a `TrainingJob` under its lock,
forwards a cancel, and enforces the run's time limit on the whole run (starting the process
and loading the data included); pages read consistent copies with `TrainingJob.snapshot()`,
so a page can poll as often as it likes and a run outlives the session (or page) that
started it.

A run is a fresh training run (a `TrainConfig`) or a fine-tune of a chosen model on one
browser's corrections (a `FinetuneConfig`, digitdraw.finetune); both go through the same
process, progress, cancel, time limit and one-run-per-server rules.

A run belongs to the session that started it (`owner`): only that session, or an operator,
may cancel it. It trains a fresh model (never one being served) and, only once it has
finished, evaluates it and saves it under a new, timestamped name in the user models folder
(digitdraw.runs, with modelio's atomic write; a fine-tune as "<base>-mine-YYYYmmdd-HHMMSS").
A cancelled, failed or killed run leaves no file at all.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from digitdraw import config, data, feedback, modelio, pendigits, recipe, runs, training, worker
from digitdraw.finetune import FinetuneSettings
from digitdraw.recipe import TrainConfig

log = logging.getLogger(__name__)

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
# Phases of a running job, in order; the page shows them.
PREPARING, TRAINING, EVALUATING, SAVING, DONE = "preparing", "training", "evaluating", "saving", "done"

# Seconds a run may take past its time limit to evaluate and save what it trained.
FINISH_GRACE = 120.0
# Seconds a training process has to stop after a cancel before it is terminated.
CANCEL_GRACE = 10.0
SUPERVISE_EVERY = 0.1  # seconds between the supervisor's looks at the process
TRAIN, FINETUNE = "train", "finetune"  # the kinds of run
# A fine-tune of a fine-tune is named after the first base: "cnn-mine-<stamp>", not "cnn-mine-<a>-mine-<b>".
_MINE_SUFFIX = re.compile(r"-mine-\d{8}-\d{6}(-\d+)?$")


class JobError(RuntimeError):
    """A run could not be started; the message says why and what to do."""


class JobBusy(JobError):
    """Another run is in progress on this server."""


class LimitError(JobError, ValueError):
    """The run asks for more than this server allows, or for something impossible."""


class NotOwner(JobError):
    """Someone other than the run's owner (and no operator) asked to cancel it."""


# -- Is there data to train on? ------------------------------------------------------------


def _keras_cached_mnist() -> Path | None:
    """Keras's downloaded mnist.npz, if an earlier download left it (keras.utils.get_file's folders)."""
    homes = [os.environ.get("KERAS_HOME") or Path.home() / ".keras", Path(tempfile.gettempdir()) / ".keras"]
    return next((p for h in homes if (p := Path(h) / "datasets" / "mnist.npz").is_file()), None)


def mnist_problem(data_dir: str | Path | None = None, needs: str = "Training needs") -> str | None:
    """Why training (or what `needs` names) cannot find MNIST here, in words for the operator; None
    when it can.

    Cheap: it looks for the files without reading them (a broken file still fails the run,
    with the loader's message).
    """
    folder = config.data_dir(data_dir)
    how = (
        f"The operator provides it by setting ${config.DATA_DIR_ENV} to a folder holding the four "
        "MNIST IDX files (gzipped or not) or Keras's mnist.npz, then restarting the app."
    )
    if folder is None:
        if _keras_cached_mnist() is not None:
            return None
        return f"{needs} the MNIST data set, and this server has none configured. {how}"
    if not folder.is_dir():
        return f"{needs} the MNIST data set: the folder {folder} does not exist. {how}"
    if data.mnist_files(folder) is not None:
        return None
    return f"{needs} the MNIST data set: {folder} has neither the four IDX files nor mnist.npz. {how}"


# -- Limits --------------------------------------------------------------------------------


def _limits() -> tuple[int, float]:
    """This server's (MAX_EPOCHS, MAX_TRAIN_SECONDS), read now (tests patch them); a LimitError
    naming the variable when one is set to something unusable."""
    try:
        return int(config.MAX_EPOCHS), float(config.MAX_TRAIN_SECONDS)
    except config.ConfigError as exc:
        raise LimitError(f"Cannot start a run: {exc}") from exc


@functools.cache
def gpu_count() -> int:
    """The GPUs TensorFlow sees in this process (asked once: the answer does not change while it runs)."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def checked_config(cfg: TrainConfig) -> TrainConfig:
    """`cfg` made safe to run here: limits enforced, and a time budget always set.

    Refuses (LimitError) rather than silently clamping what the user asked for, except that
    a missing time budget becomes the server's maximum: every run must be able to end.
    """
    max_epochs, max_seconds = _limits()
    problems = recipe.recipe_problems(cfg)
    if cfg.cpu_replicas:
        # Logical CPUs exist to test the distributed code path: they make a run no faster, and
        # the server's CPU is shared with the people drawing. The page offers only the GPUs.
        problems.append(
            f"CPU replicas ({cfg.cpu_replicas} asked for) are not offered on this server: they split one "
            "CPU to test distributed training and make a run no faster. Train on all GPUs instead, or "
            f"run `python -m digitdraw train --distribute --cpu-replicas {cfg.cpu_replicas}` from a shell"
        )
    # recipe_problems already refuses epochs below 1 and budgets of 0 or less: only the caps here.
    if cfg.epochs > max_epochs:
        problems.append(_epochs_problem(cfg.epochs, max_epochs))
    if cfg.time_budget is not None and cfg.time_budget > max_seconds:
        problems.append(_budget_problem(cfg.time_budget, max_seconds))
    return _within_limits(cfg, problems, "this run", max_seconds)


def _epochs_problem(asked: int, max_epochs: int) -> str:
    return f"epochs must be between 1 and {max_epochs} on this server (asked for {asked})"


def _budget_problem(asked: float, max_seconds: float) -> str:
    return f"the time budget must be between 0 and {max_seconds:g} s on this server (asked for {asked:g} s)"


def _within_limits(cfg, problems: list[str], what: str, max_seconds: float):
    """LimitError naming every problem; else `cfg` with a time budget always set (the server's
    maximum when none was asked for: every run must be able to end)."""
    if problems:
        raise LimitError(f"Cannot start {what}: " + "; ".join(problems) + ".")
    if cfg.time_budget is None:
        cfg = dataclasses.replace(cfg, time_budget=float(max_seconds))
    return cfg


@dataclass(frozen=True)
class FinetuneConfig:
    """A fine-tune started from the app: a base model, on one browser's corrections.

    The database is the server's (feedback.db_url()): the process gets it in its environment.
    """

    base_model: str  # a model's name or file path
    browser_id: str  # whose corrections (corrections.browser_id()); never shown to other sessions
    settings: FinetuneSettings = field(default_factory=FinetuneSettings)
    seed: int = 0
    time_budget: float | None = None  # seconds for the whole run; None: the server's maximum

    @property
    def epochs(self) -> int:
        return self.settings.epochs


RunConfig = TrainConfig | FinetuneConfig
PRIVATE_FIELDS = ("browser_id",)  # kept out of snapshots: whoever has the id sees those drawings


def checked_finetune(cfg: FinetuneConfig) -> FinetuneConfig:
    """`cfg` within this server's limits (as `checked_config`), with a time budget always set."""
    max_epochs, max_seconds = _limits()
    problems = []
    if not 1 <= cfg.settings.epochs <= max_epochs:
        problems.append(_epochs_problem(cfg.settings.epochs, max_epochs))
    if cfg.time_budget is not None and not 0 < cfg.time_budget <= max_seconds:
        problems.append(_budget_problem(cfg.time_budget, max_seconds))
    return _within_limits(cfg, problems, "this fine-tune", max_seconds)


def finetune_model_path(base_path: Path, folder: Path | None = None) -> Path:
    """<folder>/<base>-mine-YYYYmmdd-HHMMSS.keras: a new name for a fine-tune of `base_path`."""
    base = _MINE_SUFFIX.sub("", modelio.model_name(base_path) or base_path.stem)
    return runs.new_model_path(f"{base}-mine", folder)


def _what(cfg: RunConfig) -> str:
    """The run in a few words, for messages."""
    if isinstance(cfg, FinetuneConfig):
        return f"a fine-tune of {modelio.model_name(cfg.base_model) or cfg.base_model}"
    return cfg.architecture


# -- The job record ------------------------------------------------------------------------


@dataclass
class JobState:
    """What the supervisor writes of a run, under the job's lock."""

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
    """A consistent copy of a job's state, safe to read while the run goes on."""

    id: str
    kind: str  # TRAIN or FINETUNE
    owner: str | None  # the session that started it; None: started outside the app
    config: dict  # the TrainConfig or FinetuneConfig as a dict, less PRIVATE_FIELDS
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
    """One run: its configuration, owner, cancel event and state, behind a lock."""

    def __init__(self, cfg: RunConfig, job_id: str, owner: str | None = None) -> None:
        self.config = cfg
        self.id = job_id
        self.owner = owner
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.process: subprocess.Popen | None = None
        self.out: Path | None = None  # where the model will be saved
        self.errors = None  # a temporary file: the process's stderr
        self.lock = threading.Lock()
        self.state = JobState()
        self._start = time.perf_counter()
        self._started_wall = time.time()
        self._ended: float | None = None
        self._end_message: dict | None = None

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def kind(self) -> str:
        return FINETUNE if isinstance(self.config, FinetuneConfig) else TRAIN

    def may_cancel(self, owner: str | None, operator: bool = False) -> bool:
        """Whether `owner` (a session's id) may cancel this run: its owner, or an operator."""
        return operator or self.owner is None or owner == self.owner

    def progress_callback(self) -> training.ProgressCallback:
        """A Keras callback that writes this job's progress (under its lock), for a run in this process."""
        return training.ProgressCallback(self.state.progress, self.lock)

    def _set(self, **changes) -> None:
        """The supervisor's writes of anything but progress."""
        with self.lock:
            for key, value in changes.items():
                setattr(self.state, key, value)
            if self.state.status != RUNNING and self._ended is None:
                self._ended = time.perf_counter()

    def _apply(self, message: dict) -> None:
        """One line from the training process (digitdraw.worker's protocol)."""
        event = message.get("event")
        if event == "progress":
            with self.lock:
                p = self.state.progress
                p.epoch, p.step, p.steps = message["epoch"], message["step"], message["steps"]
                if p.started is None:  # on this process's clock
                    p.started = time.perf_counter() - message["trained"]
                p.measured = p.started + message["trained"]
                p.batches.extend(message["batches"])
                p.epoch_end.extend(message["epoch_end"])
        elif event == "phase":
            self._set(phase=message["phase"])
        elif event == "end":
            self._end_message = message

    def training_began(self) -> bool:
        with self.lock:
            return self.state.progress.started is not None

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
                # The time limit counts from the run's start (data loading included).
                used = max(trained, now - self._start)
                budget = cfg.time_budget or float("inf")
                # The run ends at the last epoch or at the budget, whichever comes first.
                fraction = min(1.0, max(done / total, used / budget))
                # At the pace measured with the last batch done, less the time since: the estimate
                # counts down while an epoch's evaluation runs, where `trained / done` rose then.
                measured = progress.measured if progress.measured is not None else now
                left = (measured - progress.started) / done * (total - done) - (now - measured)
                eta = max(0.0, min(left, budget - used))
            copied = {f.name: getattr(state, f.name) for f in dataclasses.fields(JobState)}
            # Preparing (data, renderings, the model) lasts until fit() starts the callback's clock.
            phase = TRAINING if state.phase == PREPARING and progress.started is not None else state.phase
            shown = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in PRIVATE_FIELDS}
            return JobSnapshot(
                **{**copied, "phase": phase, "progress": progress, "notes": list(state.notes)},
                id=self.id,
                kind=self.kind,
                owner=self.owner,
                config=shown,
                started=self._started_wall,
                elapsed=now - self._start,
                epochs=cfg.epochs,
                fraction=fraction,
                eta=eta,
                cancel_requested=self.cancel_event.is_set(),
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (tests, benchmarks); True if it has."""
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
        owner: str | None = None,
        data_dir: str | Path | None = None,
        models_dir: Path | None = None,
        pendigits_path: Path | None = None,
        measure_drawn: bool = True,
    ) -> TrainingJob:
        """Start `cfg` in a training process and return its job at once.

        Raises JobBusy if a run is in progress, LimitError if `cfg` breaks this server's limits,
        and JobError when the data it needs is not here. `owner` (a session's id) is the one
        who may cancel it besides an operator.
        """
        cfg = checked_config(cfg)
        pen = pendigits_path if pendigits_path is not None else config.pendigits_path(data=data_dir)
        if cfg.pen_writers and cfg.pen_copies and (pen is None or not Path(pen).is_file()):
            raise JobError(
                f"This run adds pen-drawn digits, but {pendigits.missing_file_message(pen)} "
                "Or train without pen-drawn digits."
            )
        problem = mnist_problem(data_dir)
        if problem:
            raise JobError(problem)

        def spec(job: TrainingJob) -> str:
            job.out = runs.new_model_path(cfg.architecture, models_dir)
            return worker.run_spec(
                cfg,
                out=job.out,
                deadline=job._started_wall + cfg.time_budget,
                data_dir=config.data_dir(data_dir),
                pendigits_path=pen,
                measure_drawn=measure_drawn,
            )

        return self._launch(cfg, owner, spec)

    def start_finetune(
        self,
        cfg: FinetuneConfig,
        *,
        owner: str | None = None,
        data_dir: str | Path | None = None,
        models_dir: Path | None = None,
        pendigits_path: Path | None = None,
        db_url: str | None = None,
    ) -> TrainingJob:
        """Start a fine-tune of `cfg.base_model` on `cfg.browser_id`'s corrections; returns its job at once.

        The same refusals as `start` (JobBusy, LimitError, JobError), and JobError for a base model
        that is unknown or broken. `db_url`: the corrections database (default: feedback.db_url()).
        Too few corrections fail the run with digitdraw.finetune's message.
        """
        cfg = checked_finetune(cfg)
        try:
            base = modelio.resolve(cfg.base_model)
        except modelio.ModelFileError as exc:
            raise JobError(f"Cannot fine-tune {cfg.base_model!r}: {exc}") from exc
        broken = next((e for e in modelio.available_models() if e.path == base and e.broken), None)
        if broken is not None:
            raise JobError(f"Cannot fine-tune {broken.name!r}: {broken.problem}")
        pen = pendigits_path if pendigits_path is not None else config.pendigits_path(data=data_dir)
        if cfg.settings.pen_replay and (pen is None or not Path(pen).is_file()):
            raise JobError(
                f"This fine-tune replays pen-drawn digits, but {pendigits.missing_file_message(pen)} "
                "Or fine-tune without them (pen_replay=0)."
            )
        problem = mnist_problem(data_dir)
        if problem:
            raise JobError(problem)

        def spec(job: TrainingJob) -> str:
            job.out = finetune_model_path(base, models_dir)
            return worker.finetune_spec(
                base_model=base,
                browser_id=cfg.browser_id,
                settings=cfg.settings,
                seed=cfg.seed,
                out=job.out,
                deadline=job._started_wall + cfg.time_budget,
                data_dir=config.data_dir(data_dir),
                pendigits_path=pen if cfg.settings.pen_replay else None,
            )

        return self._launch(cfg, owner, spec, env={feedback.DB_URL_ENV: feedback.db_url(db_url)})

    def _launch(self, cfg: RunConfig, owner: str | None, spec, env: dict | None = None) -> TrainingJob:
        """Register a job for `cfg` and start its process (`spec(job)` sets job.out, returns the SPEC)."""
        with self._lock:
            if self._job is not None and self._job.status == RUNNING:
                other = self._job
                started = time.strftime("%H:%M:%S", time.localtime(other._started_wall))
                raise JobBusy(
                    f"A training run is already in progress on this server ({_what(other.config)}, "
                    f"started {started}); wait for it to finish or cancel it."
                )
            self._count += 1
            job = TrainingJob(cfg, f"{time.strftime('%Y%m%d-%H%M%S')}-{self._count}", owner)
            job.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the supervisor
            job.process = _spawn(spec(job), job.errors, env)
            self._job = job
        job.thread = threading.Thread(
            target=_supervise, name=f"digitdraw-train-{job.id}", daemon=True, args=(job,)
        )
        job.thread.start()
        return job

    def cancel(self, owner: str | None = None, *, operator: bool = False) -> bool:
        """Ask the run in progress to stop (after its current batch); nothing will be saved.

        False when no run is in progress; NotOwner when `owner` may not cancel it.
        """
        job = self.current()
        if job is None or job.status != RUNNING:
            return False
        if not job.may_cancel(owner, operator):
            raise NotOwner("Only the visitor who started this run (or an operator) can cancel it.")
        job.cancel_event.set()
        return True


# -- The training process --------------------------------------------------------------------


def _spawn(spec: str, errors, extra_env: dict | None = None) -> subprocess.Popen:
    package_root = str(Path(__file__).resolve().parent.parent)  # this copy of digitdraw, whatever the cwd
    env = {
        **os.environ,
        **(extra_env or {}),
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "digitdraw.worker", spec],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,  # read back when the process dies without a word
        text=True,
        env=env,
    )


def _read_lines(job: TrainingJob) -> None:
    for line in job.process.stdout:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            job._apply(message)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate, then kill what does not go within a few seconds."""
    proc.terminate()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _supervise(job: TrainingJob) -> None:
    """Follow the training process until it ends; cancel, time limit and failures are decided here."""
    proc = job.process
    reader = threading.Thread(target=_read_lines, args=(job,), name=f"{job.id}-reader", daemon=True)
    reader.start()
    budget = job.config.time_budget
    deadline = job._start + budget
    cancel_sent: float | None = None
    stopped: str | None = None  # why the server stopped the process, if it did
    try:
        while proc.poll() is None:
            now = time.perf_counter()
            if job.cancel_event.is_set() and cancel_sent is None:
                if not job.training_began():
                    stopped = "cancel"  # nothing to keep yet: no need to wait for the data
                    _stop(proc)
                    break
                cancel_sent = now
                try:
                    proc.stdin.write("cancel\n")
                    proc.stdin.flush()
                except OSError:
                    pass  # it is ending anyway
            if cancel_sent is not None and now - cancel_sent > CANCEL_GRACE:
                stopped = "cancel"
            elif now > deadline and not job.training_began():
                stopped = "limit before training"
            elif now > deadline + FINISH_GRACE:
                stopped = "limit"
            if stopped:
                _stop(proc)
                break
            time.sleep(SUPERVISE_EVERY)
        proc.wait()
        reader.join(10)
        _finish(job, stopped)
    except Exception as exc:  # the server must survive anything; the page shows it
        log.exception("supervising training run %s failed", job.id)
        if proc.poll() is None:
            _stop(proc)
        _finish(job, None, f"{type(exc).__name__}: {exc}")
    finally:
        for stream in (proc.stdin, proc.stdout, job.errors):
            if stream is not None:
                stream.close()


def _finish(job: TrainingJob, stopped: str | None, error: str | None = None) -> None:
    """Record how the run ended; remove every file of a run that did not finish."""
    end = job._end_message or {}
    budget = job.config.time_budget
    if error is None and stopped is None and end.get("status") == FINISHED:
        notes = list(end.get("notes", []))
        if job.cancel_event.is_set():  # it reached the run while it was already saving: kept, and said so
            notes.append("The cancel came too late: the model was already being saved.")
        job._set(
            status=FINISHED,
            phase=DONE,
            model_path=end["model_path"],
            test_accuracy=end["test_accuracy"],
            drawn_accuracy=end["drawn_accuracy"],
            notes=notes,
        )
        return
    _remove_partial(job.out)
    if error is None and (stopped == "cancel" or end.get("status") == CANCELLED):
        job._set(status=CANCELLED, phase=DONE, notes=["Cancelled; nothing was saved."])
        return
    if error is None:
        if stopped == "limit before training":
            error = (
                f"The time limit ({budget:g} s) ran out before training began: starting the run and "
                "preparing the data took longer. Nothing was saved; allow more time or use fewer "
                "training images."
            )
        elif stopped == "limit":
            error = (
                f"The run was stopped {FINISH_GRACE:g} s past its time limit ({budget:g} s) while "
                "measuring or saving the model. Nothing was saved."
            )
        elif end.get("status") == FAILED:
            error = end.get("error") or "unknown error"
        else:
            code = job.process.returncode
            why = (
                f"was killed by signal {-code} (out of memory, or stopped by someone on the server)"
                if code < 0
                else f"ended unexpectedly (exit status {code}){_last_words(job.errors)}"
            )
            error = f"The training process {why}. Nothing was saved."
    job._set(status=FAILED, phase=DONE, error=error)


def _last_words(errors) -> str:
    """The last line the process wrote to stderr, as ": ..." (a traceback's last line says most)."""
    try:
        errors.seek(0)
        lines = [line.strip() for line in errors.read().decode(errors="replace").splitlines()]
    except (OSError, ValueError, AttributeError):
        return ""
    lines = [line for line in lines if line]
    return f": {lines[-1][:300]}" if lines else ""


def _remove_partial(out: Path | None) -> None:
    """The model, its card and any temporary of theirs (modelio's ".<name>.*" files)."""
    if out is None:
        return
    for path in [out, out.with_suffix(".json"), *out.parent.glob(f".{out.stem}.*")]:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove %s", path)
