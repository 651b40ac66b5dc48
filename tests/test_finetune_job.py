"""Specification of the fine-tune on corrections outside digitdraw.finetune itself: the
`digitdraw finetune` command (every stored correction) and the app's fine-tune job (one browser's
corrections, in the training process, with the same progress, limits and one-run-per-server rule).

The corrections are pendigits writer 28's digits, imported as the app would store them; small
settings (--set / FinetuneSettings) keep each run to seconds. bench/personal.py measures the full one.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from digitdraw import cli, config, feedback, jobs, modelio, pendigits
from digitdraw.feedback import FeedbackStore
from digitdraw.finetune import FinetuneSettings

WRITER = 28
N = 40
SMALL = FinetuneSettings(copies=2, mnist_replay=500, pen_replay=100, epochs=1)
SMALL_FLAGS = [
    "--set",
    "copies=2",
    "--set",
    "mnist_replay=500",
    "--set",
    "pen_replay=100",
    "--set",
    "epochs=1",
]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def writer_jsonl(pendigits_file, tmp_path):
    """40 digits of one writer in the pendigits JSONL format `digitdraw feedback import` reads."""
    digits = pendigits.load_pendigits(pendigits_file, writers=[WRITER])[:N]
    path = tmp_path / "writer28.jsonl"
    path.write_text(
        "".join(
            feedback.to_jsonl_line(d.label, [s.tolist() for s in d.strokes], WRITER) + "\n" for d in digits
        )
    )
    return path


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'corrections.sqlite3'}"


# -- The command ----------------------------------------------------------------------------------


def test_finetune_command_trains_on_every_stored_correction_and_prints_the_figures(
    capsys, writer_jsonl, db, mnist_dir, pendigits_file, tmp_path
):
    code, _, err = run(capsys, "feedback", "import", writer_jsonl, "--db", db)
    assert code == 0, err
    out = tmp_path / "dense-mine.keras"
    argv = ["finetune", "--base", "dense", "--out", out, "--db", db, "--seed", 1, *SMALL_FLAGS]
    code, stdout, err = run(capsys, *argv, "--data-dir", mnist_dir, "--pendigits", pendigits_file)
    assert code == 0, err

    summary = json.loads(stdout.strip().splitlines()[-1])
    card = modelio.read_card(out)
    assert summary["model"] == str(out) and out.is_file() and card is not None
    assert card["base_model"]["name"] == "dense" and card["seed"] == 1
    got = card["corrections"]
    assert got["given"] == N and got["trained_on"] + got["held_out"] == N and got["held_out"] > 0
    assert card["training"]["copies"] == 2 and card["epochs"] == 1
    assert summary["held_out_before"] == pytest.approx(got["held_out_accuracy_before"], abs=1e-6)
    assert summary["held_out_after"] == pytest.approx(got["held_out_accuracy_after"], abs=1e-6)
    assert summary["test_accuracy"] == card["test_accuracy"] > 0.9
    assert summary["training_seconds"] == card["training_seconds"] > 0
    assert "python -m digitdraw finetune --base dense" in card["command"]
    lines = stdout.splitlines()
    assert not [line for line in lines if "━" in line], "Keras's progress bar in a log (not a terminal)"
    before, after = got["held_out_accuracy_before"], got["held_out_accuracy_after"]
    assert (
        f"{got['trained_on']} corrections trained on, {got['held_out']} held out; "
        f"held-out accuracy {before:.1%} -> {after:.1%}"
    ) in lines
    base_test = modelio.read_card(config.SHIPPED_MODELS_DIR / "dense.keras")["test_accuracy"]
    assert f"MNIST test {base_test:.2%} -> {card['test_accuracy']:.2%}" in lines
    assert modelio.load(out).count_params() == card["parameters"]


def test_finetune_command_refuses_too_few_corrections_with_the_reason(capsys, db, mnist_dir, tmp_path):
    store = FeedbackStore(db)
    store.import_lines(
        feedback.parse_jsonl([feedback.to_jsonl_line(7, [[[100, 100], [400, 100], [220, 450]]])])
    )
    store.close()
    out = tmp_path / "x.keras"
    code, _, err = run(
        capsys, "finetune", "--base", "dense", "--out", out, "--db", db, "--data-dir", mnist_dir
    )
    assert code == 2
    assert (
        err.startswith("digitdraw: error: Fine-tuning needs at least 10 corrections") and "there are 1" in err
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--db", "not a url"], "is not a database URL"),
        (["--set", "colour=red"], "--set colour=red: use NAME=VALUE with NAME one of copies"),
        (["--set", "epochs=many"], "--set epochs=many: 'many' is not a valid epochs"),
        (["--base", "no-such-model"], "No model named 'no-such-model'"),
    ],
)
def test_finetune_command_bad_input_is_one_error_line(capsys, db, tmp_path, argv, message):
    out = tmp_path / "x.keras"
    base = [] if "--base" in argv else ["--base", "dense"]
    db_flag = [] if "--db" in argv else ["--db", db]
    store = FeedbackStore(db)  # enough corrections that only the bad flag can be the reason
    line = feedback.to_jsonl_line(1, [[[250, 50], [250, 450]]])
    store.import_lines(feedback.parse_jsonl([line] * 12))
    store.close()
    code, _, err = run(capsys, "finetune", *base, "--out", out, *db_flag, *argv)
    assert code == 2 and err.startswith("digitdraw: error:") and message in err, err
    assert not out.exists()


# -- The app's job --------------------------------------------------------------------------------


def test_a_finetune_job_learns_one_browsers_corrections_in_the_training_process(
    writer_jsonl, db, mnist_dir, pendigits_file, tmp_path
):
    store = FeedbackStore(db)
    mine = feedback.new_browser_id()
    store.import_jsonl(writer_jsonl, browser_id=mine)
    store.import_jsonl(writer_jsonl, browser_id=feedback.new_browser_id())  # someone else's: not used
    store.close()
    models = tmp_path / "user_models"
    cfg = jobs.FinetuneConfig(base_model="dense", browser_id=mine, settings=SMALL)
    runner = jobs.TrainingJobs()
    job = runner.start_finetune(
        cfg, owner="me", data_dir=mnist_dir, models_dir=models, pendigits_path=pendigits_file, db_url=db
    )
    with pytest.raises(jobs.JobBusy, match="already in progress.*a fine-tune of dense"):
        runner.start_finetune(cfg, data_dir=mnist_dir, models_dir=models, db_url=db)
    assert job.wait(300), "the fine-tune did not end"
    snap = job.snapshot()

    assert snap.status == jobs.FINISHED, snap.error
    assert snap.kind == jobs.FINETUNE and snap.owner == "me"
    assert "browser_id" not in snap.config  # other sessions read snapshots too
    assert snap.config["base_model"] == "dense" and snap.epochs == 1
    assert snap.progress.batches and [e["epoch"] for e in snap.progress.epoch_end] == [1]
    assert snap.model_name.startswith("dense-mine-") and snap.model_path == str(
        models / f"{snap.model_name}.keras"
    )
    card = modelio.read_card(snap.model_path)
    assert card["corrections"]["given"] == N  # this browser's, not everyone's
    assert card["base_model"]["name"] == "dense"
    assert snap.test_accuracy == card["test_accuracy"] > 0.9
    assert card["data"]["train_images"] > 0
    assert "started from the app" in card["command"] and mine not in card["command"]
    assert modelio.load(snap.model_path).count_params() == card["parameters"]


def test_a_finetune_job_with_too_few_corrections_fails_with_the_reason_and_saves_nothing(
    db, mnist_dir, tmp_path
):
    store = FeedbackStore(db)
    me = feedback.new_browser_id()
    store.import_lines(feedback.parse_jsonl([feedback.to_jsonl_line(1, [[[250, 50], [250, 450]]])] * 3), me)
    store.close()
    models = tmp_path / "user_models"
    cfg = jobs.FinetuneConfig(base_model="dense", browser_id=me, settings=replace(SMALL, pen_replay=0))
    job = jobs.TrainingJobs().start_finetune(cfg, data_dir=mnist_dir, models_dir=models, db_url=db)
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED
    assert snap.error.startswith("Fine-tuning needs at least 10 corrections with a digit label; there are 3")
    assert not models.exists() or not list(models.iterdir())


def test_a_finetune_is_refused_before_it_starts_for_an_unknown_base_or_beyond_the_limits(
    monkeypatch, tmp_path
):
    runner = jobs.TrainingJobs()
    me = feedback.new_browser_id()
    with pytest.raises(jobs.JobError, match="Cannot fine-tune 'no-such-model': No model named"):
        runner.start_finetune(jobs.FinetuneConfig("no-such-model", me), models_dir=tmp_path)
    monkeypatch.setenv("DIGITDRAW_MAX_EPOCHS", "2")
    monkeypatch.setenv("DIGITDRAW_MAX_TRAIN_SECONDS", "60")
    with pytest.raises(jobs.LimitError, match="epochs must be between 1 and 2"):
        runner.start_finetune(jobs.FinetuneConfig("dense", me, replace(SMALL, epochs=3)), models_dir=tmp_path)
    with pytest.raises(jobs.LimitError, match="between 0 and 60 s"):
        runner.start_finetune(jobs.FinetuneConfig("dense", me, SMALL, time_budget=61), models_dir=tmp_path)
    assert jobs.checked_finetune(jobs.FinetuneConfig("dense", me, SMALL)).time_budget == 60.0
    monkeypatch.setenv(config.PENDIGITS_ENV, str(tmp_path / "missing.jsonl"))
    with pytest.raises(jobs.JobError, match="replays pen-drawn digits, but pendigits train.jsonl not found"):
        runner.start_finetune(jobs.FinetuneConfig("dense", me, SMALL), models_dir=tmp_path)
    assert runner.current() is None


def test_a_finetune_of_a_finetune_is_named_after_the_first_base(tmp_path):
    first = jobs.finetune_model_path(config.SHIPPED_MODELS_DIR / "cnn.keras", tmp_path)
    assert first.parent == tmp_path and first.name.startswith("cnn-mine-") and first.suffix == ".keras"
    again = jobs.finetune_model_path(tmp_path / "cnn-mine-20261125-201500-2.keras", tmp_path)
    assert again.name.startswith("cnn-mine-") and "-mine-" not in again.name.removeprefix("cnn-mine-")


def test_a_cancelled_finetune_stops_in_training_and_leaves_no_file(
    writer_jsonl, db, mnist_dir, pendigits_file, tmp_path
):
    store = FeedbackStore(db)
    me = feedback.new_browser_id()
    store.import_jsonl(writer_jsonl, browser_id=me)
    store.close()
    models = tmp_path / "user_models"
    # Minutes of training if the cancel were ignored.
    slow = FinetuneSettings(copies=20, mnist_replay=20000, pen_replay=0, epochs=5, batch_size=16)
    runner = jobs.TrainingJobs()
    job = runner.start_finetune(
        jobs.FinetuneConfig("cnn", me, slow), owner="me", data_dir=mnist_dir, models_dir=models, db_url=db
    )
    end = time.monotonic() + 120
    while not job.snapshot().progress.batches and job.status == jobs.RUNNING and time.monotonic() < end:
        time.sleep(0.05)
    with pytest.raises(jobs.NotOwner):
        runner.cancel("someone else")
    assert runner.cancel("me")
    assert job.wait(60), "the fine-tune did not stop after the cancel"
    snap = job.snapshot()
    assert snap.status == jobs.CANCELLED, snap.error
    assert snap.progress.epoch == 1 and snap.model_path is None
    assert not models.exists() or not list(models.iterdir())


def test_the_time_limit_covers_a_finetune_from_its_start(db, mnist_dir, tmp_path):
    cfg = jobs.FinetuneConfig(
        "dense", feedback.new_browser_id(), replace(SMALL, pen_replay=0), time_budget=0.5
    )
    job = jobs.TrainingJobs().start_finetune(cfg, data_dir=mnist_dir, models_dir=tmp_path, db_url=db)
    assert job.wait(15)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED and "time limit (0.5 s) ran out before training began" in snap.error
