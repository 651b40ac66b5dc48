"""Specification of the server limits read from the environment: a bad value names itself.

`DIGITDRAW_MAX_EPOCHS=abc` once crashed every command with a traceback at import; now the
limits are read when used, and a bad one says which variable and what it takes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from digitdraw import config

LIMITS = {"MAX_EPOCHS": "DIGITDRAW_MAX_EPOCHS", "MAX_TRAIN_SECONDS": "DIGITDRAW_MAX_TRAIN_SECONDS"}


@pytest.mark.parametrize("name", LIMITS)
def test_unset_limits_have_their_defaults(monkeypatch, name):
    monkeypatch.delenv(LIMITS[name], raising=False)
    assert getattr(config, name) == {"MAX_EPOCHS": 30, "MAX_TRAIN_SECONDS": 900}[name]


def test_limits_are_read_when_used(monkeypatch):
    monkeypatch.setenv("DIGITDRAW_MAX_EPOCHS", "5")
    monkeypatch.setenv("DIGITDRAW_MAX_TRAIN_SECONDS", "12.5")
    assert config.MAX_EPOCHS == 5 and isinstance(config.MAX_EPOCHS, int)
    assert config.MAX_TRAIN_SECONDS == 12.5


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("MAX_EPOCHS", "abc", "whole number"),
        ("MAX_EPOCHS", "2.5", "whole number"),
        ("MAX_EPOCHS", "0", "1 or more"),
        ("MAX_EPOCHS", "-3", "1 or more"),
        ("MAX_TRAIN_SECONDS", "ten", "seconds above 0"),
        ("MAX_TRAIN_SECONDS", "0", "seconds above 0"),
        ("MAX_TRAIN_SECONDS", "nan", "seconds above 0"),
    ],
)
def test_a_bad_limit_names_the_variable_and_what_it_takes(monkeypatch, name, value, expected):
    monkeypatch.setenv(LIMITS[name], value)
    with pytest.raises(config.ConfigError) as info:
        getattr(config, name)
    message = str(info.value)
    assert LIMITS[name] in message and repr(value) in message and expected in message


def test_a_bad_limit_no_longer_breaks_the_other_commands(tmp_path):
    env = {**os.environ, "DIGITDRAW_MAX_EPOCHS": "abc", "DIGITDRAW_MAX_TRAIN_SECONDS": "x"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_ROOT), env.get("PYTHONPATH")]))
    for argv in (["--help"], ["train", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "digitdraw", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0 and "usage: digitdraw" in result.stdout
        assert "Traceback" not in result.stderr, result.stderr


def test_unknown_attributes_are_still_attribute_errors():
    with pytest.raises(AttributeError):
        config.NO_SUCH_SETTING  # noqa: B018
