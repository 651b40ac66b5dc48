"""Specification of what `--help` tells a user who has not read the README: what goes in, what comes out."""

from __future__ import annotations

import re

import pytest

from digitdraw import cli
from digitdraw import preprocess as pp


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse's line wrapping undone


def test_predict_help_says_which_files_their_limit_and_the_exit_status(capsys):
    text = help_text(capsys, "predict")
    assert f"up to {pp.MAX_FILE_MB} MB" in text
    assert "PNG" in text and "JPEG" in text
    assert '"error"' in text and "exit status is then 1" in text


def test_feedback_list_help_names_its_columns(capsys):
    text = help_text(capsys, "feedback", "list")
    assert re.search(r"id, time saved \(UTC\), source, browser id, writer, label", text)
    assert "standard error" in text


def test_info_help_says_which_model_it_shows_by_default(capsys):
    assert "default: cnn" in help_text(capsys, "info")


@pytest.mark.parametrize(
    "argv, verbose",
    [
        (["feedback", "list"], False),
        (["feedback", "list", "-v"], True),
        (["feedback", "-v", "list"], True),
        (["feedback", "export", "--verbose"], True),
    ],
)
def test_verbose_goes_after_the_feedback_command_too(argv, verbose):
    # "Every command takes --verbose, after its name as people write it" (README).
    assert cli.build_parser().parse_args(argv).verbose is verbose


def test_evaluate_help_says_which_models_it_scores_by_default_and_what_pendigits_is_for(capsys):
    text = help_text(capsys, "evaluate")
    assert "(default: dense and cnn)" in text
    assert re.search(r"--pendigits PENDIGITS pendigits train\.jsonl, for --drawn", text)


def test_predict_help_names_folders_patterns_and_standard_input(capsys):
    text = help_text(capsys, "predict")
    assert "folders" in text and "'scans/*.png'" in text and "- reads one image from standard input" in text


def test_data_help_names_where_the_grid_goes_by_default(capsys):
    assert "(default: mnist_samples.png)" in help_text(capsys, "data")
