"""Specification of an empty model name (`--model "$M"` with M unset): a usage error that says the name is
empty, for every command that takes a model, not "<nothing> is a folder; give a model file"."""

from __future__ import annotations

import pytest

from digitdraw import cli


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "--model", "", "x.png"],
        ["info", " "],
        ["evaluate", "dense", ""],
        ["export", "", "--format", "onnx", "--out", "x.onnx"],
        ["combine", "a.keras", "", "--out", "c.keras"],
        ["calibrate", ""],
        ["penpath", ""],
        ["finetune", "--base", "", "--out", "f.keras"],
    ],
)
def test_an_empty_model_name_is_a_usage_error_saying_so(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "a model's name or path cannot be empty" in err and "is a folder" not in err
