"""Specification of where `digitdraw finetune` reads its corrections: it only reads them, so it never
creates a database, and a mistyped --db is named rather than taken for an empty one."""

from __future__ import annotations

import pytest

from digitdraw import cli, feedback


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_finetune_with_a_mistyped_database_is_an_error_and_creates_nothing(capsys, tmp_path):
    typo = tmp_path / "no" / "corections.sqlite3"
    out = tmp_path / "mine.keras"
    code, _, err = run(capsys, "finetune", "--base", "dense", "--out", out, "--db", f"sqlite:///{typo}")
    assert code == 2
    assert err.startswith(f"digitdraw: error: no corrections database at {typo} ")
    assert list(tmp_path.iterdir()) == []  # no database, no folder, no model


def test_finetune_before_anything_is_saved_says_so_and_creates_no_database(
    capsys, monkeypatch, tmp_path, mnist_dir
):
    monkeypatch.delenv(feedback.DB_URL_ENV, raising=False)
    default = tmp_path / "data" / feedback.DB_FILENAME
    monkeypatch.setattr(feedback, "default_db_url", lambda: f"sqlite:///{default}")
    code, _, err = run(capsys, "finetune", "--base", "dense", "--out", tmp_path / "mine.keras")
    assert code == 2
    assert err.startswith("digitdraw: error: No corrections to learn from")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("named_by", ["--db", "env"])
def test_finetune_reads_an_existing_database_named_either_way(
    capsys, monkeypatch, tmp_path, named_by, mnist_dir
):
    db = tmp_path / "mine.sqlite3"
    feedback.FeedbackStore(f"sqlite:///{db}").close()  # exists, but holds no corrections
    argv = ["finetune", "--base", "dense", "--out", tmp_path / "mine.keras", "--set", "pen_replay=0"]
    if named_by == "--db":
        argv += ["--db", f"sqlite:///{db}"]
    else:
        monkeypatch.setenv(feedback.DB_URL_ENV, f"sqlite:///{db}")
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("digitdraw: error: No corrections to learn from")
