"""Every benchmark in bench/ can be asked what it measures: `--help` prints its purpose and options,
and runs nothing (some take an hour)."""

from __future__ import annotations

import ast
import subprocess
import sys

from digitdraw import config

BENCH = config.REPO_ROOT / "bench"
HELPERS = {"held_out.py"}  # imported by the benchmarks, not one itself


def test_every_benchmark_answers_help_with_its_purpose_without_running():
    scripts = sorted(p for p in BENCH.glob("*.py") if p.name not in HELPERS)
    assert len(scripts) >= 16
    runs = {
        p: subprocess.Popen(
            [sys.executable, str(p), "--help"],
            cwd=config.REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in scripts
    }
    for path, run in runs.items():
        out, err = run.communicate(timeout=300)
        purpose = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).splitlines()[0]
        assert run.returncode == 0, f"{path.name}: {err[-500:]}"
        # argparse may wrap the description: compared word for word.
        assert out.startswith("usage:") and " ".join(purpose.split()) in " ".join(out.split()), path.name
