"""Specification of training on more than one device (digitdraw.distribute, `train --distribute`).

TensorFlow splits the CPU into logical devices only before it sets up its devices, once per
process: the runs that split it happen in a fresh interpreter, as a user's `digitdraw train` does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digitdraw import cli, recipe
from digitdraw.recipe import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def python(*argv: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python ARGV...` in a fresh interpreter, from the repository root, with this package first."""
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_two_cpu_replicas_train_a_model_that_learns_and_loads_like_any_other(tmp_path, mnist_dir, mnist):
    from digitdraw import modelio
    from digitdraw.evaluate import evaluate
    from digitdraw.predict import Predictor

    out = tmp_path / "mirrored.keras"
    argv = ["--arch", "dense", "--preset", "quick", "--distribute", "--cpu-replicas", "2"]
    argv += ["--subset", "3000", "--epochs", "2", "--no-drawn", "--data-dir", str(mnist_dir), "--out", out]
    done = python("-m", "digitdraw", "train", *map(str, argv))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["test_accuracy"] > 0.8  # chance is 0.1

    # The card records the strategy and replicas, and a command that repeats the run.
    card = modelio.read_card(out)
    assert card["training"]["distribute"] is True and card["training"]["cpu_replicas"] == 2
    assert "--distribute --cpu-replicas 2" in card["command"]
    assert card["distribution"]["strategy"] == "MirroredStrategy"
    assert card["distribution"]["replicas"] == len(card["distribution"]["devices"]) == 2
    assert card["distribution"]["global_batch_size"] == 2 * card["distribution"]["per_replica_batch_size"]
    # The command says so before it trains, beside the recipe.
    said = next(line for line in done.stderr.splitlines() if line.startswith("Distribution: "))
    assert json.loads(said.removeprefix("Distribution: ")) == card["distribution"]

    # Loaded like any other model file, it reads MNIST as the card says.
    predictor = Predictor(modelio.load(out))
    again = evaluate(predictor, mnist.x_test, mnist.y_test)
    assert again.accuracy == pytest.approx(card["test_accuracy"], abs=1e-6)
    assert predictor.predict_one(mnist.x_test[0]).digit == mnist.y_test[0]


def test_the_global_batch_and_learning_rate_scale_with_the_replicas():
    # 4 logical CPUs in a fresh process: 4 replicas of batch 64 make a global batch of 256,
    # and the learning rate grows with it (the linear scaling rule).
    snippet = (
        "import json; from digitdraw import distribute; from digitdraw.recipe import TrainConfig; "
        "cfg = TrainConfig('dense', batch_size=64, learning_rate=1e-3, distribute=True, cpu_replicas=4); "
        "print(json.dumps(distribute.for_recipe(cfg).summary(cfg)))"
    )
    done = python("-c", snippet, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["strategy"] == "MirroredStrategy"
    assert (summary["replicas"], len(summary["devices"])) == (4, 4)
    assert (summary["per_replica_batch_size"], summary["global_batch_size"]) == (64, 256)
    assert summary["learning_rate"] == pytest.approx(4e-3)


def test_without_distribute_the_recipe_runs_as_written():
    from digitdraw import distribute

    cfg = TrainConfig("dense", batch_size=64, learning_rate=1e-3)
    plan = distribute.for_recipe(cfg)
    assert plan.replicas == 1 and plan.scaled(cfg) == cfg


def test_splitting_the_cpu_after_tensorflow_started_is_a_clear_error():
    import tensorflow as tf

    from digitdraw import distribute

    tf.constant(1.0) + 1  # TensorFlow has now set up its devices in this process
    replicas = len(tf.config.list_logical_devices("CPU")) + 1
    with pytest.raises(distribute.DistributeError, match="already set up its devices") as caught:
        distribute.split_cpu(replicas)
    assert f"--cpu-replicas {replicas}" in str(caught.value) and "fresh process" in str(caught.value)


# -- Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"cpu_replicas": 2}, ["--cpu-replicas 2", "add --distribute"]),
        ({"cpu_replicas": -1, "distribute": True}, ["--cpu-replicas", "0 or more", "-1"]),
    ],
)
def test_a_recipe_with_cpu_replicas_it_cannot_use_is_refused(changes, words):
    problems = recipe.recipe_problems(dataclasses.replace(TrainConfig("dense"), **changes))
    assert len(problems) == 1
    assert all(w in problems[0] for w in words), problems
    assert recipe.recipe_problems(TrainConfig("dense", distribute=True, cpu_replicas=2)) == []


@pytest.mark.parametrize("flags", [["--cpu-replicas", "2"], ["--distribute", "--cpu-replicas", "-2"]])
def test_train_refuses_cpu_replicas_it_cannot_use_and_writes_nothing(capsys, tmp_path, flags):
    code = cli.main(["train", "--arch", "dense", *flags, "--out", str(tmp_path / "m.keras")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("digitdraw: error:") and "--cpu-replicas" in err
    assert list(tmp_path.iterdir()) == []


def test_the_recorded_command_gives_back_a_distributed_recipe():
    from digitdraw import runs

    cfg = TrainConfig("cnn", distribute=True, cpu_replicas=3)
    words = runs.cli_command(cfg).split()
    args = cli.build_parser().parse_args(words[3:])
    assert recipe.config_from_flags(args, args.preset) == cfg
    assert "--distribute" not in runs.cli_command(TrainConfig("cnn"))
