"""Specification of output whose encoding lacks a character (a model named in Chinese listed into a file on
Windows, where files are cp1252): the character is written as an escape and the command goes on, with no
UnicodeEncodeError traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from digitdraw import config, modelio


def test_list_into_an_ascii_output_escapes_a_name_it_cannot_encode(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shipped = modelio.resolve("dense")
    shutil.copyfile(shipped, folder / "数字.keras")
    shutil.copyfile(modelio.card_path(shipped), modelio.card_path(folder / "数字.keras"))
    env = {**os.environ, "PYTHONIOENCODING": "ascii", config.USER_MODELS_ENV: str(folder)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "digitdraw", "list"], env=env, capture_output=True, timeout=300
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    assert b"\\u6570\\u5b57\t" in result.stdout  # the name, escaped, in its column
