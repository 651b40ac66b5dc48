"""Training on more than one device: the tf.distribute strategy a recipe asks for, and its scaling.

`--distribute` mirrors the model over every local GPU with `tf.distribute.MirroredStrategy`
(synchronous data parallelism: each replica takes a slice of every batch, and the gradients are
summed across replicas before each step). Without GPUs, `--cpu-replicas N` splits the CPU into N
logical devices, so the same code path runs (and is tested) on any machine.

A recipe's `batch_size` and `learning_rate` are per replica, as TensorFlow's distributed-training
guide puts it: the global batch is the per-replica batch times the replicas, and the learning rate
grows linearly with the global batch (the "linear scaling rule"), so a recipe keeps its meaning
on one device or eight. docs/scaling.md has the figures and what lies past one machine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import tensorflow as tf

from digitdraw.recipe import TrainConfig


class DistributeError(RuntimeError):
    """The devices a recipe asks for cannot be had in this process."""


@dataclass(frozen=True)
class Distribution:
    """The strategy a run trains under, and how many replicas share each batch."""

    strategy: tf.distribute.Strategy
    devices: tuple[str, ...]

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def scaled(self, config: TrainConfig) -> TrainConfig:
        """The recipe as the run executes it: global batch and learning rate for all replicas."""
        if self.replicas == 1:
            return config
        return dataclasses.replace(
            config,
            batch_size=config.batch_size * self.replicas,
            learning_rate=config.learning_rate * self.replicas,
        )

    def summary(self, config: TrainConfig) -> dict:
        """What a model card says of it: strategy, replicas, devices, and the scaled batch and rate."""
        run = self.scaled(config)
        return {
            "strategy": type(self.strategy).__name__,
            "replicas": self.replicas,
            "devices": list(self.devices),
            "per_replica_batch_size": config.batch_size,
            "global_batch_size": run.batch_size,
            "learning_rate": run.learning_rate,
        }


def split_cpu(replicas: int) -> None:
    """Split the CPU into `replicas` logical devices: must come before TensorFlow sets up its devices.

    Asking again for the split already made is fine; any other change once TensorFlow has run
    anything raises DistributeError, since TensorFlow cannot re-split devices in a live process.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == replicas:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError as exc:
        raise DistributeError(
            f"cannot split the CPU into {replicas} logical devices (--cpu-replicas {replicas}): "
            "TensorFlow has already set up its devices in this process. Ask for them before anything "
            "runs on TensorFlow: run `python -m digitdraw train ... --distribute --cpu-replicas "
            f"{replicas}` in a fresh process, or call digitdraw.distribute.split_cpu first."
        ) from exc


def for_recipe(config: TrainConfig) -> Distribution:
    """The strategy `config` trains under: TensorFlow's default (one device) unless it asks to distribute.

    With `cpu_replicas`, the CPU is split first (see `split_cpu`); otherwise every local GPU
    gets a replica, and a machine without one trains on its CPU as a single replica.
    """
    if not config.distribute:
        return Distribution(tf.distribute.get_strategy(), ())
    if config.cpu_replicas:
        split_cpu(config.cpu_replicas)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    else:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or ["/device:CPU:0"]
    return Distribution(tf.distribute.MirroredStrategy(devices=devices), tuple(devices))
