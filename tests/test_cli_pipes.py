"""Specification of the CLI's output going into a pipe that closes early (`digitdraw ... | head`): the
command stops quietly, with no traceback, as other command-line tools do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from digitdraw import config, feedback


@pytest.mark.parametrize("argv", [["feedback", "export"], ["feedback", "list"]])
def test_a_reader_that_stops_early_gets_no_traceback(tmp_path, argv):
    db = tmp_path / "many.sqlite3"
    src = tmp_path / "mine.jsonl"
    src.write_text(feedback.to_jsonl_line(1, [[[250, 50], [250, 450]]]) + "\n", encoding="utf-8")
    env = {**os.environ, feedback.DB_URL_ENV: f"sqlite:///{db}"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_ROOT), env.get("PYTHONPATH")]))
    subprocess.run([sys.executable, "-m", "digitdraw", "feedback", "import", src], env=env, check=True)
    reader, writer = os.pipe()
    os.close(reader)  # like `| head` that has already exited: every write meets a closed pipe
    try:
        result = subprocess.run(
            [sys.executable, "-m", "digitdraw", *argv],
            stdout=writer,
            stderr=subprocess.PIPE,
            env=env,
            cwd=config.REPO_ROOT,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode != 0  # the output did not all arrive: a script can tell


@pytest.mark.skipif(os.name != "posix", reason="closes the child's fd 1 in preexec_fn (POSIX)")
def test_a_command_started_with_standard_output_closed_runs_without_a_traceback(tmp_path):
    env = {**os.environ, feedback.DB_URL_ENV: f"sqlite:///{tmp_path / 'c.sqlite3'}"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_ROOT), env.get("PYTHONPATH")]))
    src = tmp_path / "mine.jsonl"
    src.write_text(feedback.to_jsonl_line(1, [[[250, 50], [250, 450]]]) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "digitdraw", "feedback", "import", src],
        preexec_fn=lambda: os.close(1),  # `digitdraw ... >&-`
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0
