"""Specification of `digitdraw predict` and `evaluate` over many files and models: each file gets its own
line, whatever the others hold, the exit status says whether every one was read, and every model asked
answers under its own name."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from digitdraw import cli, modelio, pendigits


def run(capsys, *argv) -> tuple[int, list[dict], str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


SEVEN = [np.array([[100, 100], [400, 100], [220, 450]], float)]


@pytest.fixture
def digit_file(tmp_path):
    """A 7 drawn like the app's canvas, saved as a PNG."""
    path = tmp_path / "seven.png"
    Image.fromarray(pendigits.render(SEVEN, background="black")).save(path)
    return path


def test_odd_images_each_get_an_error_line_and_the_good_one_is_still_read(capsys, tmp_path, digit_file):
    dead_pixel = np.zeros((300, 300), np.uint8)
    dead_pixel[150, 150] = 255  # a black photo with one hot pixel: a few specks, no digit
    specks = tmp_path / "dead_pixel.png"
    Image.fromarray(dead_pixel).save(specks)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    files = [specks, text, digit_file, tmp_path / "missing.png"]
    code, lines, err = run(capsys, "predict", "--model", "dense", *files)
    assert [line["file"] for line in lines] == [str(f) for f in files]
    assert [("error" in line) for line in lines] == [True, True, False, True]
    assert lines[2]["models"]["dense"]["text"] == "7"
    assert code == 1
    assert "Traceback" not in err


def test_two_models_of_one_name_both_answer_each_under_its_own_key(capsys, tmp_path, digit_file):
    mine = tmp_path / "dense.keras"  # my retrained dense, beside the shipped one
    shutil.copyfile(modelio.resolve("dense"), mine)
    code, lines, err = run(
        capsys, "predict", "--model", "dense", "--model", mine, "--model", "dense", digit_file
    )
    assert code == 0, err
    assert list(lines[0]["models"]) == ["dense", str(mine)]  # the shipped one asked twice: once


def test_evaluate_scores_two_models_of_one_name_each(capsys, tmp_path, mnist_dir):
    mine = tmp_path / "dense.keras"
    shutil.copyfile(modelio.resolve("dense"), mine)
    code, lines, err = run(capsys, "evaluate", "dense", mine, "--json")
    assert code == 0, err
    assert [line["model"] for line in lines] == ["dense", str(mine)]


def test_a_strokes_file_named_as_an_image_is_told_about_strokes(capsys, tmp_path):
    # --strokes forgotten: "not an image" alone left the person to guess.
    lines = tmp_path / "drawings.jsonl"
    lines.write_text(json.dumps({"strokes": [s.tolist() for s in SEVEN]}) + "\n")
    code, (line,), _ = run(capsys, "predict", lines)
    assert code == 1
    assert "not an image" in line["error"] and line["error"].endswith(cli.STROKES_HINT)
