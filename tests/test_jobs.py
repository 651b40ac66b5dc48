"""Specification of the app's training runs (digitdraw.jobs, digitdraw.worker).

One run at a time per server, each in its own training process; progress is readable at any
moment; a finished run is evaluated and saved under a new name; a cancelled, failed or killed
run saves nothing; the time limit and Cancel cover the whole run, data loading included.
Runs on real MNIST use small subsets so the suite stays cheap on a shared CPU.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import write_idx, write_mnist_folder

from digitdraw import config, jobs, modelio, runs, training
from digitdraw.recipe import TrainConfig


def wait_for(predicate, timeout: float = 120.0, every: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(every)


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- A whole run -----------------------------------------------------------------------------


def test_a_finished_run_is_evaluated_and_saved_as_a_new_model_with_its_card(mnist_dir, tmp_path):
    cfg = TrainConfig("dense", epochs=1, subset=2000, batch_size=100)
    job = jobs.TrainingJobs().start(cfg, data_dir=mnist_dir, models_dir=tmp_path)
    assert job.wait(300), "the run did not end"
    snap = job.snapshot()

    assert snap.status == jobs.FINISHED, snap.error
    assert snap.fraction == 1.0 and snap.eta == 0.0
    # Progress was recorded batch by batch (a short epoch: every batch) and per epoch.
    assert [b["step"] for b in snap.progress.batches] == list(range(1, 21))
    assert all(0 <= b["accuracy"] <= 1 and b["loss"] > 0 for b in snap.progress.batches)
    assert [e["epoch"] for e in snap.progress.epoch_end] == [1]

    # A new, timestamped file in the user folder; never a shipped name.
    path = tmp_path / f"{snap.model_name}.keras"
    assert snap.model_path == str(path) and path.is_file()
    assert snap.model_name.startswith("dense-") and snap.model_name not in ("dense", "cnn")
    assert files_in(tmp_path) == sorted([path.name, f"{snap.model_name}.json"])

    card = json.loads((tmp_path / f"{snap.model_name}.json").read_text())
    assert card["architecture"] == "dense" and card["epochs"] == 1
    assert card["data"]["train_images"] == 2000
    assert len(card["history"]["loss"]) == 1
    assert card["test_accuracy"] == pytest.approx(snap.test_accuracy, abs=1e-6)
    assert snap.test_accuracy > 0.5  # a dense net learns this much from 2000 images in one epoch
    # Every run is bounded in time, even when the user set no budget.
    assert card["training"]["time_budget"] == config.MAX_TRAIN_SECONDS
    assert "digitdraw train --arch dense" in card["command"]
    pen = config.pendigits_path()
    if pen is not None and pen.is_file():
        assert 0 < snap.drawn_accuracy <= 1
        assert card["drawn_digit_accuracy"]["accuracy"] == pytest.approx(snap.drawn_accuracy, abs=1e-6)
    else:
        assert snap.drawn_accuracy is None and any("pendigits" in n for n in snap.notes)

    model = modelio.load(path)
    assert model.count_params() == card["parameters"]


def test_cancel_stops_after_the_current_batch_and_leaves_no_file_at_all(mnist_dir, tmp_path):
    # Big enough to take minutes if the cancel were ignored.
    cfg = TrainConfig("cnn", epochs=5, subset=20000, batch_size=32)
    runner = jobs.TrainingJobs()
    job = runner.start(cfg, data_dir=mnist_dir, models_dir=tmp_path)
    wait_for(lambda: job.snapshot().progress.batches or job.status != jobs.RUNNING)
    assert runner.cancel() is True
    asked = time.monotonic()
    assert job.wait(60), "training did not stop after the cancel"
    stopped_after = time.monotonic() - asked

    snap = job.snapshot()
    assert snap.status == jobs.CANCELLED and snap.cancel_requested
    assert snap.progress.epoch == 1, "stopped within the first epoch"
    assert all(e["partial"] for e in snap.progress.epoch_end)
    assert stopped_after < 10, f"took {stopped_after:.1f}s to stop"
    assert snap.model_path is None and snap.test_accuracy is None
    assert files_in(tmp_path) == []  # not even a temporary
    assert runner.cancel() is False  # nothing left to cancel


def test_a_second_start_while_a_run_is_in_progress_is_refused(mnist_dir, tmp_path):
    runner = jobs.TrainingJobs()
    cfg = TrainConfig("dense", epochs=3, subset=20000)
    first = runner.start(cfg, data_dir=mnist_dir, models_dir=tmp_path)
    try:
        with pytest.raises(jobs.JobBusy, match="already in progress"):
            runner.start(cfg, data_dir=mnist_dir, models_dir=tmp_path)
        assert runner.current() is first  # the refused start did not replace the run
    finally:
        runner.cancel()
        first.wait(60)
    # Once it has ended, a new run may start.
    second = runner.start(replace(cfg, epochs=1, subset=500), data_dir=mnist_dir, models_dir=tmp_path)
    runner.cancel()
    assert second.wait(60) and runner.current() is second


def test_a_failing_run_reports_failed_with_the_message(tmp_path):
    # The files are all there but one is cut short: only reading it, in the training process,
    # finds out; the run fails with the loader's message, and the server goes on.
    folder = write_mnist_folder(tmp_path / "mnist").folder
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(20, np.uint8), truncate=5)
    job = jobs.TrainingJobs().start(TrainConfig("dense", epochs=1), data_dir=folder, models_dir=tmp_path)
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED
    assert "DataError" in snap.error and "t10k-labels-idx1-ubyte" in snap.error and "truncated" in snap.error
    assert files_in(tmp_path) == ["mnist"]


def test_without_mnist_a_run_is_refused_before_it_starts_saying_how_to_provide_it(tmp_path):
    runner = jobs.TrainingJobs()
    with pytest.raises(jobs.JobError, match=f"no-such-folder does not exist.*{config.DATA_DIR_ENV}"):
        runner.start(
            TrainConfig("dense", epochs=1), data_dir=tmp_path / "no-such-folder", models_dir=tmp_path
        )
    assert runner.current() is None


def test_mnist_is_found_by_its_files_without_reading_them(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    assert "has neither the four IDX files nor mnist.npz" in jobs.mnist_problem(folder)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images.idx3-ubyte"):
        (folder / f"{stem}.gz").write_bytes(b"")  # not read: a broken file fails the run instead
    assert jobs.mnist_problem(folder) is not None
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"")
    assert jobs.mnist_problem(folder) is None
    # Nothing configured: Keras's earlier download is enough, else the operator is told what to set.
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert f"${config.DATA_DIR_ENV}" in jobs.mnist_problem()
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    (tmp_path / "keras" / "datasets" / "mnist.npz").write_bytes(b"")
    assert jobs.mnist_problem() is None


# -- The training process -------------------------------------------------------------------


def test_cancel_while_the_data_is_loading_ends_the_run_at_once(mnist_dir, tmp_path):
    job = jobs.TrainingJobs().start(TrainConfig("cnn", epochs=2), data_dir=mnist_dir, models_dir=tmp_path)
    assert job.snapshot().phase == jobs.PREPARING
    asked = time.monotonic()
    job.cancel_event.set()
    assert job.wait(15), "the run did not end after the cancel"
    assert time.monotonic() - asked < 6
    assert job.status == jobs.CANCELLED and files_in(tmp_path) == []
    assert job.process.returncode is not None  # the process is gone, not left behind


def test_the_time_limit_covers_starting_and_loading_too(mnist_dir, tmp_path):
    # Half a second is not even enough to start the training process: the server stops it at
    # the limit and says why, instead of training for as long as loading took plus the limit.
    job = jobs.TrainingJobs().start(
        TrainConfig("cnn", epochs=2, time_budget=0.5), data_dir=mnist_dir, models_dir=tmp_path
    )
    assert job.wait(15)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED and "time limit (0.5 s) ran out before training began" in snap.error
    assert snap.elapsed < 5
    assert files_in(tmp_path) == []


def test_the_time_limit_stops_training_counted_from_the_start_and_keeps_the_model(mnist_dir, tmp_path):
    budget = 25.0
    cfg = TrainConfig("cnn", epochs=5, subset=20000, batch_size=32, time_budget=budget)
    job = jobs.TrainingJobs().start(cfg, data_dir=mnist_dir, models_dir=tmp_path, measure_drawn=False)
    assert job.wait(240)
    snap = job.snapshot()
    if snap.status == jobs.FAILED:  # a very loaded machine: it could not even start in time
        assert "before training began" in snap.error
        return
    assert snap.status == jobs.FINISHED, snap.error
    assert any("Stopped by the time limit (25 s, loading the data included)" in n for n in snap.notes)
    # The last recorded batch ended by the limit, counted from the run's start, not from fit().
    last = snap.progress.batches[-1]
    fit_started = snap.progress.started - job._start
    assert fit_started + last["elapsed"] <= budget + 2
    assert snap.progress.done < 5 * snap.progress.steps  # stopped before the last epoch's end
    assert files_in(tmp_path) == sorted([f"{snap.model_name}.json", f"{snap.model_name}.keras"])
    # The card says it was stopped, and how far it got: a part of an epoch is not a whole one (qa26).
    card = json.loads((tmp_path / f"{snap.model_name}.json").read_text())
    assert card["stopped_by_time_budget"] is True
    trained = snap.progress.done / snap.progress.steps
    assert card["epochs"] == (round(trained, 2) if snap.progress.done % snap.progress.steps else int(trained))
    if snap.progress.done % snap.progress.steps:
        assert any(f"after batch {snap.progress.done % snap.progress.steps:,} of " in n for n in snap.notes)


def test_a_training_process_that_dies_marks_the_run_failed_and_leaves_no_file(mnist_dir, tmp_path):
    cfg = TrainConfig("dense", epochs=3, subset=20000, batch_size=32)
    job = jobs.TrainingJobs().start(cfg, data_dir=mnist_dir, models_dir=tmp_path)
    wait_for(lambda: job.snapshot().progress.batches or job.status != jobs.RUNNING)
    # As if it died while saving: the model written, its card and a temporary half way.
    job.out.write_bytes(b"partial")
    (tmp_path / f".{job.out.stem}.json.x1y2.tmp.json").write_text("{")
    os.kill(job.process.pid, signal.SIGKILL)
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED and "killed by signal 9" in snap.error
    assert snap.model_path is None
    assert files_in(tmp_path) == []


def test_the_training_process_keeps_tensorflows_start_up_lines_out_of_its_log():
    # A spec it cannot run: the process still loads TensorFlow, then reports the failure.
    env = {**os.environ, "PYTHONPATH": str(config.REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "digitdraw.worker", "{}"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "event": "end",
        "status": "failed",
        "error": "KeyError: 'config'",
    }
    assert "KeyError: 'config'" in done.stderr  # its own traceback is kept
    for chatter in ("absl::InitializeLog", "oneDNN", "cuda drivers", "cpu_feature_guard"):
        assert chatter not in done.stderr


def test_the_training_process_runs_at_a_lower_cpu_priority(mnist_dir, tmp_path):
    job = jobs.TrainingJobs().start(TrainConfig("dense", epochs=1), data_dir=mnist_dir, models_dir=tmp_path)
    try:
        wait_for(
            lambda: os.getpriority(os.PRIO_PROCESS, job.process.pid) > os.getpriority(os.PRIO_PROCESS, 0)
        )
    finally:
        job.cancel_event.set()
        job.wait(30)


# -- Limits ---------------------------------------------------------------------------------


def test_runs_beyond_the_server_limits_are_refused_before_they_start(monkeypatch, tmp_path):
    # Through the environment, as an operator sets them (config reads them when used).
    monkeypatch.setenv("DIGITDRAW_MAX_EPOCHS", "3")
    monkeypatch.setenv("DIGITDRAW_MAX_TRAIN_SECONDS", "60")
    runner = jobs.TrainingJobs()
    too_long = TrainConfig("dense", epochs=4)
    with pytest.raises(jobs.LimitError, match="between 1 and 3"):
        runner.start(too_long, models_dir=tmp_path)
    with pytest.raises(jobs.LimitError, match="between 0 and 60 s"):
        runner.start(TrainConfig("dense", epochs=1, time_budget=61), models_dir=tmp_path)
    with pytest.raises(jobs.LimitError, match="unknown architecture 'lstm'"):
        runner.start(TrainConfig("lstm", epochs=1), models_dir=tmp_path)
    assert runner.current() is None  # nothing was started


def test_cpu_replicas_are_refused_in_the_app_saying_why(tmp_path):
    # Logical CPUs only test the distributed path; the app offers the GPUs, the CLI the rest.
    runner = jobs.TrainingJobs()
    cfg = TrainConfig("dense", epochs=1, distribute=True, cpu_replicas=2)
    with pytest.raises(jobs.LimitError, match=r"CPU replicas .*--distribute --cpu-replicas 2` from a shell"):
        runner.start(cfg, models_dir=tmp_path)
    assert runner.current() is None and files_in(tmp_path) == []
    # Distributing over the GPUs (however many there are) is allowed.
    assert jobs.checked_config(replace(cfg, cpu_replicas=0)).distribute is True


@pytest.mark.parametrize(
    ("variable", "value"), [("DIGITDRAW_MAX_EPOCHS", "abc"), ("DIGITDRAW_MAX_TRAIN_SECONDS", "-5")]
)
def test_a_limit_set_to_something_unusable_refuses_runs_naming_the_variable(
    monkeypatch, tmp_path, variable, value
):
    monkeypatch.setenv(variable, value)
    runner = jobs.TrainingJobs()
    with pytest.raises(jobs.LimitError, match=rf"\${variable}='{value}' is not usable"):
        runner.start(TrainConfig("dense", epochs=1), models_dir=tmp_path)
    with pytest.raises(jobs.LimitError, match=rf"\${variable}"):
        jobs.checked_finetune(jobs.FinetuneConfig(base_model="dense", browser_id="b"))
    assert runner.current() is None


def test_a_run_with_pen_digits_is_refused_clearly_when_the_file_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(config.PENDIGITS_ENV, str(tmp_path / "missing.jsonl"))
    runner = jobs.TrainingJobs()
    cfg = TrainConfig("dense", epochs=1, pen_writers="1-24", pen_copies=2)
    message = (
        f"adds pen-drawn digits, but pendigits train.jsonl not found.*missing.jsonl.*{config.PENDIGITS_ENV}"
    )
    with pytest.raises(jobs.JobError, match=message):
        runner.start(cfg, models_dir=tmp_path)
    assert runner.current() is None


def test_the_recorded_command_repeats_the_pen_digits():
    cfg = TrainConfig("cnn", epochs=8, augment=True, pen_writers="1-24", pen_copies=2)
    command = runs.cli_command(cfg)
    assert command.startswith("python -m digitdraw train --arch cnn --api sequential --epochs 8")
    assert "--augment --seed 0" in command
    assert "--pen-writers 1-24 --pen-copies 2" in command
    assert "--mnist-piped 500" in runs.cli_command(replace(cfg, mnist_piped=500))
    assert "--pen-writers" not in runs.cli_command(replace(cfg, pen_writers=None, pen_copies=0))
    tuned = replace(cfg, pen_distort=True, finetune_epochs=3, finetune_mnist=3000, finetune_blend=0.5)
    assert runs.cli_command(tuned).endswith(
        "--pen-writers 1-24 --pen-copies 2 --pen-distort --finetune-epochs 3 --finetune-blend 0.5"
    )


def test_every_run_gets_a_time_budget_no_larger_than_the_servers(monkeypatch):
    monkeypatch.setenv("DIGITDRAW_MAX_TRAIN_SECONDS", "45")
    assert jobs.checked_config(TrainConfig(epochs=1)).time_budget == 45.0
    assert jobs.checked_config(TrainConfig(epochs=1, time_budget=10)).time_budget == 10
    for bad in (
        dict(batch_size=0),
        dict(subset=0),
        dict(learning_rate=0.0),
        dict(api="subclass"),
        dict(finetune_blend=1.5),
        dict(finetune_epochs=2, pen_writers=None),
        dict(time_budget=0.0),
    ):
        with pytest.raises(jobs.LimitError):
            jobs.checked_config(TrainConfig(epochs=1, **bad))


# -- Names and progress arithmetic ------------------------------------------------------------


def test_long_epochs_keep_about_forty_points_each_and_end_on_the_last_batch():
    progress = training.Progress()
    callback = training.ProgressCallback(progress)
    callback.set_params({"epochs": 1, "steps": 469, "verbose": 0})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    seen = []
    for batch in range(469):
        callback.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
        seen.append(progress.step)
    steps = [b["step"] for b in progress.batches]
    assert 40 <= len(steps) <= 45 and steps[-1] == 469  # the epoch's last batch is always there
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    # What the page shows never runs backwards, not even at the epoch's end (issue 12).
    assert seen == sorted(seen) and (progress.epoch, progress.step) == (1, 469)


def test_new_model_names_are_timestamped_and_never_reuse_a_file(tmp_path):
    now = dt.datetime(2026, 11, 22, 11, 30, 5)
    first = runs.new_model_path("cnn", tmp_path, now)
    assert first == tmp_path / "cnn-20261122-113005.keras"
    first.write_bytes(b"taken")
    second = runs.new_model_path("cnn", tmp_path, now)
    assert second == tmp_path / "cnn-20261122-113005-2.keras"
    (tmp_path / "cnn-20261122-113005-2.json").write_text("{}")  # a card alone also takes the name
    assert runs.new_model_path("cnn", tmp_path, now).name == "cnn-20261122-113005-3.keras"


def train_batches(job: jobs.TrainingJob, steps: int, batches: int, elapsed: float = 0.0, end_epoch=False):
    """Drive the job's progress callback as Keras would: `batches` of the first epoch of `steps`."""
    callback = job.progress_callback()
    callback.set_params({"epochs": job.config.epochs, "steps": steps, "verbose": 0})
    callback.on_train_begin()
    job.state.progress.started -= elapsed  # as if fit() had started `elapsed` seconds ago
    callback.on_epoch_begin(0)
    for batch in range(batches):
        callback.on_train_batch_end(batch, {"loss": 1.0 - batch / 100, "accuracy": 0.5})
    if end_epoch:
        callback.on_epoch_end(0, {"loss": 0.8, "accuracy": 0.6})


def test_progress_fraction_and_eta_follow_the_reported_batches():
    job = jobs.TrainingJob(TrainConfig("dense", epochs=2, time_budget=1000), "t")
    snap = job.snapshot()
    assert snap.phase == jobs.PREPARING and snap.fraction == 0 and snap.eta is None

    train_batches(job, steps=10, batches=10, end_epoch=True)
    snap = job.snapshot()
    progress = snap.progress
    assert snap.phase == jobs.TRAINING and progress.epoch == 1 and progress.step == 10
    assert progress.batches[4]["x"] == 0.5
    assert [(e["epoch"], e["partial"], e["loss"], e["accuracy"]) for e in progress.epoch_end] == [
        (1, False, 0.8, 0.6)
    ]
    # Half the batches are done: half the run, and the rest takes about as long again.
    assert snap.fraction == pytest.approx(0.5, abs=0.01)
    trained = time.perf_counter() - job.state.progress.started
    assert snap.eta == pytest.approx(trained, abs=0.05)
    # The snapshot is a copy: the worker writing on does not change what a page already read.
    train_batches(job, steps=10, batches=3)
    assert len(progress.batches) == 10 and progress.step == 10


def test_the_time_left_counts_down_while_an_epoch_ends_and_no_batch_is_reported():
    # Keras evaluates the model at each epoch's end, and no batch is reported meanwhile: the estimate,
    # taken at the pace of the batches done, rose then (a tester saw it climb at every epoch's end).
    job = jobs.TrainingJob(TrainConfig("dense", epochs=2, time_budget=1000), "t")
    train_batches(job, steps=10, batches=10, elapsed=2.0)
    before = job.snapshot().eta
    assert before == pytest.approx(2.0, abs=0.1)  # half done in 2 s: 2 s to go
    time.sleep(0.3)
    assert job.snapshot().eta == pytest.approx(before - 0.3, abs=0.1)


def test_a_near_time_budget_shortens_the_estimate():
    job = jobs.TrainingJob(TrainConfig("dense", epochs=10, time_budget=2.0), "t")
    # One batch of 100 after 1.5 s; a stop mid-epoch (cancel, budget) still ends the epoch in
    # Keras: recorded as partial.
    train_batches(job, steps=100, batches=1, elapsed=1.5, end_epoch=True)
    snap = job.snapshot()
    progress = snap.progress
    assert progress.epoch_end[0]["partial"] and progress.epoch == 1 and progress.step == 1
    assert snap.eta <= 0.5 + 1e-6  # the budget ends the run long before the 999 batches left
    assert snap.fraction >= 0.75
