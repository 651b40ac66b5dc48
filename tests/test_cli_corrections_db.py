"""Specification of how the CLI reaches the corrections database: `digitdraw finetune` only reads it, so it
never creates one, and a mistyped --db is named rather than taken for an empty one; the `feedback`
commands need no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from digitdraw import cli, config, feedback


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


def test_finetune_says_how_many_not_a_digit_corrections_it_left_out(capsys, tmp_path, mnist_dir):
    # The networks have ten outputs: a "not a digit" label teaches them nothing, and the fine-tune says
    # it set those aside rather than leave the count to the card.
    seven, one = [[[100, 100], [400, 100], [220, 450]]], [[[250, 50], [250, 450]]]
    lines = [{"label": label, "strokes": s} for label, s in [(7, seven), (1, one)] * 6]
    lines.append({"label": feedback.NOT_A_DIGIT, "strokes": [[[0, 0], [500, 500]], [[0, 500], [500, 0]]]})
    src = tmp_path / "mine.jsonl"
    src.write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = f"sqlite:///{tmp_path / 'mine.sqlite3'}"
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    tiny = ["--set", "copies=1", "--set", "mnist_replay=300", "--set", "pen_replay=0", "--set", "epochs=1"]
    code, out, err = run(
        capsys, "finetune", "--base", "dense", "--out", tmp_path / "f.keras", "--db", db, *tiny
    )
    assert code == 0, err
    assert "1 labelled 'not a digit' left out" in out


def test_the_feedback_commands_run_without_loading_tensorflow(tmp_path):
    # They only read and write the database (about 0.4 s), not the 3-4 s and 700 MB TensorFlow costs.
    db = f"sqlite:///{tmp_path / 'quick.sqlite3'}"
    src = tmp_path / "mine.jsonl"
    src.write_text(feedback.to_jsonl_line(1, [[[250, 50], [250, 450]]]) + "\n", encoding="utf-8")
    argvs = [
        ["feedback", "import", str(src), "--db", db],
        ["feedback", "list", "--db", db],
        ["feedback", "export", "--db", db, "--out", str(tmp_path / "out.jsonl")],
    ]
    probe = (
        "import sys\n"
        "from digitdraw import cli\n"
        f"codes = [cli.main(argv) for argv in {argvs!r}]\n"
        "print('CODES', codes, 'LOADED', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert "CODES [0, 0, 0] LOADED []" in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == src.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "argv", [["feedback", "list"], ["feedback", "export"], ["finetune", "--base", "dense"]]
)
def test_a_database_url_naming_a_folder_says_it_is_a_folder(capsys, tmp_path, argv):
    folder = tmp_path / "corrections"
    folder.mkdir()
    if argv[0] == "finetune":
        argv = [*argv, "--out", tmp_path / "mine.keras"]
    code, out, err = run(capsys, *argv, "--db", f"sqlite:///{folder}")
    assert code == 2 and out == ""
    assert err.startswith(f"digitdraw: error: no corrections database at {folder}: it is a folder")
    assert list(folder.iterdir()) == []
