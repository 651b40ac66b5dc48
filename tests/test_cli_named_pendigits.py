"""Specification of a pendigits file the user names (--pendigits, $DIGITDRAW_PENDIGITS) that is not there:
train, combine and finetune, which would use it, refuse before any work with the name given, instead of
passing over it (train measured no drawn-digit accuracy and said to set the variable; combine said
nothing). A bogus --data-dir shows the order: the pendigits file is named before MNIST is read."""

from __future__ import annotations

import pytest

from digitdraw import cli, config


def argv_for(command: str, tmp_path) -> list:
    no_mnist = ["--data-dir", tmp_path / "no-mnist"]
    if command == "train":
        return ["train", "--arch", "dense", "--epochs", "1", "--out", tmp_path / "m.keras", *no_mnist]
    if command == "combine":
        return ["combine", "a.keras", "b.keras", "--out", tmp_path / "c.keras", *no_mnist]
    return ["finetune", "--base", "dense", "--out", tmp_path / "f.keras", *no_mnist]


@pytest.mark.parametrize("command", ["train", "combine", "finetune"])
@pytest.mark.parametrize("named_by", ["--pendigits", "env"])
def test_a_named_pendigits_file_that_is_missing_is_refused_before_any_work(
    capsys, tmp_path, monkeypatch, command, named_by
):
    typo = tmp_path / "pendigts" / "train.jsonl"
    argv = argv_for(command, tmp_path)
    if named_by == "--pendigits":
        argv += ["--pendigits", typo]
    else:
        monkeypatch.setenv(config.PENDIGITS_ENV, str(typo))
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    where = "--pendigits" if named_by == "--pendigits" else f"${config.PENDIGITS_ENV}"
    assert err == f"digitdraw: error: {where} {typo} does not exist; name pendigits' train.jsonl.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_train_that_needs_no_pen_digits_is_not_stopped_by_a_missing_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(config.PENDIGITS_ENV, str(tmp_path / "gone.jsonl"))
    argv = ["train", "--arch", "dense", "--epochs", "1", "--no-drawn", "--out", tmp_path / "m.keras"]
    argv += ["--data-dir", tmp_path / "no-mnist"]
    code = cli.main([str(a) for a in argv])
    assert code == 2
    assert "MNIST" in capsys.readouterr().err  # it went on to read MNIST (absent here)
