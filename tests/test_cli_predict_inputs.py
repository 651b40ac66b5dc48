"""Specification of what `digitdraw predict` takes besides image paths: a folder reads its images, a
pattern the shell did not expand (Windows' cmd, or quoted) reads its matches, `-` reads one image
from standard input; and many files are read with numpy's BLAS on one thread, as the app server reads
drawings."""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import threadpoolctl
from PIL import Image

from digitdraw import cli, config, pendigits, reading

SEVEN = [np.array([[100, 100], [400, 100], [220, 450]], float)]
ONE = [np.array([[250, 50], [250, 450]], float)]


def run(capsys, *argv) -> tuple[int, list[dict], str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def save_digit(path, strokes) -> str:
    Image.fromarray(pendigits.render(strokes, background="black")).save(path)
    return str(path)


def texts(lines: list[dict]) -> list[str | None]:
    return [line["models"]["dense"]["text"] if "models" in line else None for line in lines]


class Stdin:
    """Standard input as a process gets it: bytes under .buffer, and whether it is a terminal."""

    def __init__(self, data: bytes, terminal: bool = False):
        self.buffer = io.BytesIO(data)
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def test_a_folder_reads_its_images_by_name_and_skips_other_files(capsys, tmp_path):
    folder = tmp_path / "my scans ü"
    folder.mkdir()
    seven = save_digit(folder / "b.png", SEVEN)
    one = save_digit(folder / "a one.PNG", ONE)
    (folder / "notes.txt").write_text("what I drew")
    (folder / "sub").mkdir()
    save_digit(folder / "sub" / "c.png", SEVEN)  # a subfolder's images are not read
    code, lines, err = run(capsys, "predict", "--model", "dense", folder)
    assert code == 0, err
    assert [line["file"] for line in lines] == [one, seven]
    assert texts(lines) == ["1", "7"]


def test_a_folder_without_images_is_one_error_line_and_the_other_files_are_read(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here")
    seven = save_digit(tmp_path / "seven.png", SEVEN)
    code, lines, _ = run(capsys, "predict", "--model", "dense", empty, seven)
    assert code == 1
    assert [line["file"] for line in lines] == [str(empty), seven]
    assert "no image files" in lines[0]["error"]
    assert texts(lines) == [None, "7"]


def test_a_pattern_no_shell_expanded_reads_its_matches_in_order(capsys, tmp_path):
    seven = save_digit(tmp_path / "x2.png", SEVEN)
    one = save_digit(tmp_path / "x1.png", ONE)
    save_digit(tmp_path / "y.png", ONE)
    code, lines, err = run(capsys, "predict", "--model", "dense", tmp_path / "x*.png")
    assert code == 0, err
    assert [line["file"] for line in lines] == [one, seven]
    assert texts(lines) == ["1", "7"]


def test_a_pattern_that_matches_nothing_is_still_said_to_be_one(capsys, tmp_path):
    code, lines, _ = run(capsys, "predict", "--model", "dense", tmp_path / "*.png")
    assert code == 1
    assert lines == [{"file": str(tmp_path / "*.png"), "error": lines[0]["error"]}]
    assert "a pattern no file matched" in lines[0]["error"]


def test_a_dash_reads_one_image_piped_into_standard_input(capsys, tmp_path, monkeypatch):
    png = io.BytesIO()
    Image.fromarray(pendigits.render(SEVEN, background="black")).save(png, "PNG")
    monkeypatch.setattr("sys.stdin", Stdin(png.getvalue()))
    code, lines, err = run(capsys, "predict", "--model", "dense", "-")
    assert code == 0, err
    assert lines[0]["file"] == "-"
    assert texts(lines) == ["7"]


@pytest.mark.parametrize("stdin", [Stdin(b"", terminal=True), None], ids=["terminal", "closed"])
def test_a_dash_on_a_terminal_or_a_closed_input_says_to_pipe_an_image(capsys, monkeypatch, stdin):
    monkeypatch.setattr("sys.stdin", stdin)
    code, lines, err = run(capsys, "predict", "--model", "dense", "-")
    assert code == 1 and "Traceback" not in err
    assert "pipe an image" in lines[0]["error"]


def test_images_are_read_with_one_blas_thread_and_the_limit_ends_with_predict(capsys, tmp_path, monkeypatch):
    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    if not before or before == {1}:
        pytest.skip("numpy's BLAS runs on one thread here already: nothing to limit")
    seen = []
    read_drawing = reading.read_drawing

    def recording(*args, **kwargs):
        seen.append(blas_threads())
        return read_drawing(*args, **kwargs)

    monkeypatch.setattr(reading, "read_drawing", recording)
    files = [save_digit(tmp_path / f"{i}.png", SEVEN) for i in range(2)]
    code, lines, err = run(capsys, "predict", "--model", "dense", *files)
    assert code == 0, err
    assert seen == [{1}, {1}]
    assert blas_threads() == before  # the rest of the process (and of this test run) is untouched


def test_a_literal_file_named_like_a_pattern_is_read_as_that_file(capsys, tmp_path):
    odd = save_digit(tmp_path / "scan[1].png", SEVEN)
    shutil.copyfile(odd, tmp_path / "scan1.png")  # what the pattern would match
    code, lines, err = run(capsys, "predict", "--model", "dense", odd)
    assert code == 0, err
    assert [line["file"] for line in lines] == [odd]


def test_an_empty_name_is_an_error_line_not_the_current_folder(capsys, tmp_path, monkeypatch):
    save_digit(tmp_path / "seven.png", SEVEN)  # in the current folder, but never asked for
    monkeypatch.chdir(tmp_path)
    code, lines, _ = run(capsys, "predict", "--model", "dense", "")
    assert code == 1
    assert [line["file"] for line in lines] == [""]
    assert "empty name" in lines[0]["error"]


def test_each_line_reaches_a_pipe_as_soon_as_its_image_is_read(tmp_path):
    # The second input is standard input, left open: the first line must arrive while predict waits.
    seven = save_digit(tmp_path / "seven.png", SEVEN)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # Python's own default
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitdraw", "predict", "--model", "dense", seven, "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        first = json.loads(proc.stdout.readline()) if ready else None
    finally:
        proc.stdin.close()
        proc.wait(timeout=120)
    assert first is not None, "no line before standard input was closed"
    assert first["file"] == seven and first["models"]["dense"]["text"] == "7"


def test_a_pattern_matching_folders_reads_their_images_as_a_shell_expanded_one_would(capsys, tmp_path):
    for name, strokes in (("day1", SEVEN), ("day2", ONE)):
        (tmp_path / name).mkdir()
        save_digit(tmp_path / name / "scan.png", strokes)
    code, lines, err = run(capsys, "predict", "--model", "dense", tmp_path / "day*")
    assert code == 0, err
    assert [line["file"] for line in lines] == [str(tmp_path / d / "scan.png") for d in ("day1", "day2")]
    assert texts(lines) == ["7", "1"]


def test_a_folder_that_cannot_be_listed_is_an_error_line_and_the_others_are_read(
    capsys, tmp_path, monkeypatch
):
    locked = tmp_path / "locked"
    locked.mkdir()
    seven = save_digit(tmp_path / "seven.png", SEVEN)
    listdir = Path.iterdir

    def iterdir(self):
        if self == locked:  # what a folder without read permission gives (root may read any)
            raise PermissionError(13, "Permission denied", str(self))
        return listdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    code, lines, err = run(capsys, "predict", "--model", "dense", locked, seven)
    assert code == 1 and "Traceback" not in err
    assert lines[0] == {"file": str(locked), "error": f"cannot list the folder {locked}: Permission denied"}
    assert texts(lines[1:]) == ["7"]
