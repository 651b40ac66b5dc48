"""Specification of Ctrl-C in any command: one line and status 130 (as a shell reports SIGINT), never a
traceback, whether it comes while TensorFlow loads or while the command works."""

from __future__ import annotations

import pytest

from digitdraw import cli, quiet


def interrupted(*_args, **_kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("where", ["loading TensorFlow", "in the command"])
def test_ctrl_c_anywhere_is_one_line_and_status_130(capsys, monkeypatch, where):
    if where == "loading TensorFlow":
        monkeypatch.setattr(quiet, "import_tensorflow", interrupted)
    else:
        monkeypatch.setitem(cli.COMMANDS, "info", interrupted)
    try:
        code = cli.main(["info", "dense"])  # a command that loads TensorFlow (`list` does not)
    except KeyboardInterrupt:  # escaping main is the traceback a user would see
        pytest.fail("Ctrl-C escaped cli.main")
    captured = capsys.readouterr()
    assert code == 130
    assert captured.err == "Cancelled.\n" and captured.out == ""
