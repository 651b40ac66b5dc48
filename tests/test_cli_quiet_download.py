"""Specification: `digitdraw data` without an MNIST folder (Keras's download) shows TensorFlow's start-up
log lines only with --verbose, like every other command, and writes nothing on standard output."""

from __future__ import annotations

import os
import subprocess
import sys

from digitdraw import config


def test_data_without_a_folder_hides_tensorflows_log_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (config.DATA_DIR_ENV, config.PENDIGITS_ENV)}
    env.update(
        HOME=str(tmp_path),
        KERAS_HOME=str(tmp_path / "keras"),  # nothing cached: the download is tried
        HTTPS_PROXY="http://127.0.0.1:9",  # and fails at once, offline or not
        https_proxy="http://127.0.0.1:9",
        PYTHONPATH=os.pathsep.join(filter(None, [str(config.REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    result = subprocess.run(
        [sys.executable, "-m", "digitdraw", "data", "--grid", str(tmp_path / "g.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "MNIST is not available" in result.stderr
    assert result.stdout == ""  # Keras's "Downloading data from ..." too goes to standard error
    assert "I0000" not in result.stderr and "absl" not in result.stderr, result.stderr[:500]
