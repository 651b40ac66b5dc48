"""Specification of --out in a folder nothing can be written in: said before any work, whoever runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digitdraw import cli

# /proc takes no new files, even from root (for whom os.access says yes): a folder no one can write in.
UNWRITABLE = Path("/proc")


@pytest.mark.skipif(not (UNWRITABLE / "self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--arch", "dense", "--epochs", "1", "--subset", "100", "--out", UNWRITABLE / "m.keras"],
        ["feedback", "export", "--out", UNWRITABLE / "mine.jsonl", "--db", "sqlite:///{db}"],
    ],
    ids=["train", "feedback export"],
)
def test_out_in_a_folder_that_takes_no_files_is_refused_before_any_work(capsys, tmp_path, argv):
    db = tmp_path / "c.sqlite3"
    db.touch()
    code = cli.main([str(a).replace("{db}", str(db)) for a in argv])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith(f"digitdraw: error: --out {UNWRITABLE}/")
    assert str(UNWRITABLE) in captured.err and captured.err.count("\n") == 1
    assert "epoch" not in captured.out + captured.err  # refused before training
    assert os.listdir(tmp_path) == ["c.sqlite3"]


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_export_to_a_folder_says_the_format_needs_a_file_not_force(capsys, tmp_path, fmt):
    # --force could not help: it would only be refused next for the same reason.
    folder = tmp_path / "exports"
    folder.mkdir()
    code = cli.main(["export", "dense", "--format", fmt, "--out", str(folder)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"ends in .{fmt}" in err and "--force" not in err
    assert list(folder.iterdir()) == []


def test_out_in_a_folder_not_there_yet_says_it_is_made_before_training(capsys, tmp_path, mnist_dir):
    # A mistyped folder was made in silence (qa26); the README's retraining commands need it made.
    out = tmp_path / "no" / "such" / "m.keras"
    code = cli.main(["train", "--arch", "dense", "--epochs", "0", "--out", str(out)])
    assert code == 2 and not out.parent.exists()  # refused for its epochs: nothing made
    code = cli.main(["train", "--arch", "dense", "--epochs", "1", "--subset", "100", "--out", str(out)])
    err = capsys.readouterr().err
    assert f"note: the folder {out.parent} does not exist; it is made for the model." in err
    assert code == 0 and out.exists()
    assert err.index("does not exist") < err.index("Training dense")
