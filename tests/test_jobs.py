"""Specification of the app's training worker (digitdraw.jobs).

One run at a time per server, in a background thread; progress is readable at any moment;
a finished run is evaluated and saved under a new name; a cancelled or failed run saves
nothing. Runs on real MNIST use small subsets so the suite stays cheap on a shared CPU.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from digitdraw import config, jobs, modelio, training


def wait_for(predicate, timeout: float = 120.0, every: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(every)


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- A whole run -----------------------------------------------------------------------------


def test_a_finished_run_is_evaluated_and_saved_as_a_new_model_with_its_card(mnist, tmp_path):
    cfg = training.TrainConfig("dense", epochs=1, subset=2000, batch_size=100)
    job = jobs.TrainingJobs().start(cfg, mnist=mnist, models_dir=tmp_path)
    assert job.wait(300), "the run did not end"
    snap = job.snapshot()

    assert snap.status == jobs.FINISHED, snap.error
    assert snap.fraction == 1.0 and snap.eta == 0.0
    # Progress was recorded batch by batch (a short epoch: every batch) and per epoch.
    assert [b["step"] for b in snap.batches] == list(range(1, 21))
    assert all(0 <= b["accuracy"] <= 1 and b["loss"] > 0 for b in snap.batches)
    assert [e["epoch"] for e in snap.epoch_end] == [1]

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
    if config.pendigits_path() is not None:
        assert 0 < snap.drawn_accuracy <= 1
        assert card["drawn_digit_accuracy"]["accuracy"] == pytest.approx(snap.drawn_accuracy, abs=1e-6)
    else:
        assert snap.drawn_accuracy is None and any("pendigits" in n for n in snap.notes)

    model = modelio.load(path)
    assert model.count_params() == card["parameters"]


def test_cancel_stops_after_the_current_batch_and_leaves_no_file_at_all(mnist, tmp_path):
    # Big enough to take minutes if the cancel were ignored.
    cfg = training.TrainConfig("cnn", epochs=5, subset=20000, batch_size=32)
    runner = jobs.TrainingJobs()
    job = runner.start(cfg, mnist=mnist, models_dir=tmp_path)
    wait_for(lambda: job.snapshot().batches or job.status != jobs.RUNNING)
    assert runner.cancel() is True
    asked = time.monotonic()
    assert job.wait(60), "training did not stop after the cancel"
    stopped_after = time.monotonic() - asked

    snap = job.snapshot()
    assert snap.status == jobs.CANCELLED and snap.cancel_requested
    assert snap.epoch == 0, "stopped within the first epoch"
    assert all(e["partial"] for e in snap.epoch_end)
    assert stopped_after < 10, f"took {stopped_after:.1f}s to stop"
    assert snap.model_path is None and snap.test_accuracy is None
    assert files_in(tmp_path) == []  # not even a temporary
    assert runner.cancel() is False  # nothing left to cancel


def test_a_second_start_while_a_run_is_in_progress_is_refused(mnist, tmp_path):
    runner = jobs.TrainingJobs()
    cfg = training.TrainConfig("dense", epochs=3, subset=20000)
    first = runner.start(cfg, mnist=mnist, models_dir=tmp_path)
    try:
        with pytest.raises(jobs.JobBusy, match="already in progress"):
            runner.start(cfg, mnist=mnist, models_dir=tmp_path)
        assert runner.current() is first  # the refused start did not replace the run
    finally:
        runner.cancel()
        first.wait(60)
    # Once it has ended, a new run may start.
    second = runner.start(cfg.replace(epochs=1, subset=500), mnist=mnist, models_dir=tmp_path)
    runner.cancel()
    assert second.wait(60) and runner.current() is second


def test_a_failing_run_reports_failed_with_the_message(tmp_path):
    # The data is loaded inside the worker, so a missing folder fails the run, not the page.
    job = jobs.TrainingJobs().start(
        training.TrainConfig("dense", epochs=1), data_dir=tmp_path / "no-such-folder", models_dir=tmp_path
    )
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED
    assert "DataError" in snap.error and "no-such-folder" in snap.error and "does not exist" in snap.error
    assert files_in(tmp_path) == []


# -- Limits ---------------------------------------------------------------------------------


def test_runs_beyond_the_server_limits_are_refused_before_they_start(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "MAX_EPOCHS", 3)
    monkeypatch.setattr(config, "MAX_TRAIN_SECONDS", 60.0)
    runner = jobs.TrainingJobs()
    too_long = training.TrainConfig("dense", epochs=4)
    with pytest.raises(jobs.LimitError, match="between 1 and 3"):
        runner.start(too_long, models_dir=tmp_path)
    with pytest.raises(jobs.LimitError, match="between 0 and 60 s"):
        runner.start(training.TrainConfig("dense", epochs=1, time_budget=61), models_dir=tmp_path)
    with pytest.raises(jobs.LimitError, match="unknown architecture 'lstm'"):
        runner.start(training.TrainConfig("lstm", epochs=1), models_dir=tmp_path)
    assert runner.current() is None  # nothing was started


def test_a_run_with_pen_digits_is_refused_clearly_when_the_file_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(config.PENDIGITS_ENV, str(tmp_path / "missing.jsonl"))
    runner = jobs.TrainingJobs()
    cfg = training.TrainConfig("dense", epochs=1, pen_writers="1-24", pen_copies=2)
    with pytest.raises(jobs.JobError, match=f"pendigits file is not here.*{config.PENDIGITS_ENV}"):
        runner.start(cfg, models_dir=tmp_path)
    assert runner.current() is None


def test_the_recorded_command_repeats_the_pen_digits():
    cfg = training.TrainConfig("cnn", epochs=8, augment=True, pen_writers="1-24", pen_copies=2)
    command = jobs.cli_command(cfg)
    assert "--pen-writers 1-24 --pen-copies 2" in command
    assert "--mnist-piped 500" in jobs.cli_command(cfg.replace(mnist_piped=500))
    assert "--augment --elastic 34 --seed" in jobs.cli_command(cfg.replace(elastic=34.0))
    assert "--elastic" not in jobs.cli_command(cfg.replace(augment=False, elastic=34.0))
    assert "--pen-writers" not in jobs.cli_command(cfg.replace(pen_writers=None, pen_copies=0))
    tuned = cfg.replace(pen_distort=True, finetune_epochs=3, finetune_mnist=3000, finetune_blend=0.5)
    assert jobs.cli_command(tuned).endswith(
        "--pen-distort --finetune-epochs 3 --finetune-mnist 3000 --finetune-blend 0.5"
    )


def test_every_run_gets_a_time_budget_no_larger_than_the_servers(monkeypatch):
    monkeypatch.setattr(config, "MAX_TRAIN_SECONDS", 45.0)
    assert jobs.checked_config(training.TrainConfig(epochs=1)).time_budget == 45.0
    assert jobs.checked_config(training.TrainConfig(epochs=1, time_budget=10)).time_budget == 10
    for bad in (
        dict(batch_size=0),
        dict(subset=0),
        dict(learning_rate=0.0),
        dict(api="subclass"),
        dict(finetune_blend=1.5),
        dict(elastic=-2.0, augment=True),
        dict(elastic=10.0, augment=False),
        dict(finetune_epochs=2, pen_writers=None),
        dict(time_budget=0.0),
    ):
        with pytest.raises(jobs.LimitError):
            jobs.checked_config(training.TrainConfig(epochs=1, **bad))


# -- Names and progress arithmetic ------------------------------------------------------------


def test_long_epochs_report_about_forty_points_each():
    events = []
    reporter = training.ProgressReporter(events.append)
    reporter.set_params({"epochs": 1, "steps": 469, "verbose": 0})
    reporter.on_train_begin()
    for batch in range(469):
        reporter.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
    steps = [e["step"] for e in events]
    assert 40 <= len(steps) <= 45 and steps[-1] == 469  # the epoch's last batch is always there


def test_the_servers_run_survives_streamlit_re_importing_the_module():
    # Streamlit drops project modules from sys.modules when a source file changes; the next
    # page run imports digitdraw.jobs afresh and must still see (and guard) the running job.
    import importlib
    import sys

    job = jobs.TrainingJob(jobs.checked_config(training.TrainConfig("dense", epochs=1)), "t")
    jobs.JOBS._job = job
    old = sys.modules.pop("digitdraw.jobs")
    try:
        fresh = importlib.import_module("digitdraw.jobs")
        assert fresh is not old and fresh.JOBS is not old.JOBS
        assert fresh.JOBS.current() is job
        with pytest.raises(fresh.JobBusy):
            fresh.JOBS.start(training.TrainConfig("dense", epochs=1))
    finally:
        import digitdraw

        sys.modules["digitdraw.jobs"] = digitdraw.jobs = old  # the import rebound the package attribute
        jobs.JOBS._job = None


def test_new_model_names_are_timestamped_and_never_reuse_a_file(tmp_path):
    now = dt.datetime(2026, 11, 22, 11, 30, 5)
    first = jobs.new_model_path("cnn", tmp_path, now)
    assert first == tmp_path / "cnn-20261122-113005.keras"
    first.write_bytes(b"taken")
    second = jobs.new_model_path("cnn", tmp_path, now)
    assert second == tmp_path / "cnn-20261122-113005-2.keras"
    (tmp_path / "cnn-20261122-113005-2.json").write_text("{}")  # a card alone also takes the name
    assert jobs.new_model_path("cnn", tmp_path, now).name == "cnn-20261122-113005-3.keras"


def test_progress_fraction_and_eta_follow_the_reported_batches():
    job = jobs.TrainingJob(training.TrainConfig("dense", epochs=2, time_budget=1000), "t")
    snap = job.snapshot()
    assert snap.phase == jobs.PREPARING and snap.fraction == 0 and snap.eta is None

    job._report(
        {"kind": "batch", "epoch": 0, "step": 5, "steps": 10, "elapsed": 0.0, "loss": 1.0, "accuracy": 0.5}
    )
    job._report(
        {"kind": "batch", "epoch": 0, "step": 10, "steps": 10, "elapsed": 0.0, "loss": 0.8, "accuracy": 0.6}
    )
    job._report(
        {"kind": "epoch", "epoch": 0, "step": 10, "steps": 10, "elapsed": 0.0, "loss": 0.8, "accuracy": 0.6}
    )
    snap = job.snapshot()
    assert snap.phase == jobs.TRAINING and snap.epoch == 1 and snap.step == 0
    assert snap.batches[0]["x"] == 0.5
    assert snap.epoch_end == [{"epoch": 1, "partial": False, "elapsed": 0.0, "loss": 0.8, "accuracy": 0.6}]
    # Half the batches are done: half the run, and the rest takes about as long again.
    assert snap.fraction == pytest.approx(0.5, abs=0.01)
    trained = time.perf_counter() - job._train_start
    assert snap.eta == pytest.approx(trained, abs=0.05)


def test_a_near_time_budget_shortens_the_estimate():
    job = jobs.TrainingJob(training.TrainConfig("dense", epochs=10, time_budget=2.0), "t")
    job._report(
        {"kind": "batch", "epoch": 0, "step": 1, "steps": 100, "elapsed": 1.5, "loss": 1.0, "accuracy": 0.5}
    )
    # A stop mid-epoch (cancel, budget) still ends the epoch in Keras: recorded as partial.
    job._report(
        {"kind": "epoch", "epoch": 0, "step": 100, "steps": 100, "elapsed": 1.5, "loss": 1.0, "accuracy": 0.5}
    )
    snap = job.snapshot()
    assert snap.epoch_end[0]["partial"] and snap.epoch == 0 and snap.step == 1
    assert snap.eta <= 0.5 + 1e-6  # the budget ends the run long before the 999 batches left
    assert snap.fraction >= 0.75
