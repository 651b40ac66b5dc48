"""Training recipes as plain data: `TrainConfig`, the presets, their checks, and their CLI form.

`TrainConfig`'s fields are the one list of what decides a run. Each field's metadata holds its
help text (and its flag, where that is not the field's name), and everything else is derived
from it: the `digitdraw train` flags, reading them back, and the command a model card records.

No Keras here: the CLI builds its parser from this module, and `--help` must stay fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field

from digitdraw import architectures, pendigits


def _option(default, help: str, **metadata):
    """A recipe field: its default, and what the CLI (and a reader) needs to know of it."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class TrainConfig:
    """Everything that decides a training run; stored in the model card as is."""

    architecture: str = _option(
        "cnn", "the network to train", flag="--arch", choices=lambda: list(architectures.ARCHITECTURES)
    )
    api: str = _option(
        "sequential", "the Keras API that builds it (the same layers either way)", choices=architectures.APIS
    )
    epochs: int = _option(2, "epochs of the main phase", show="{} epoch{s}")
    batch_size: int = _option(128, "images a batch", show="batch {}")
    learning_rate: float = _option(
        3e-3, "peak learning rate (warm-up, then cosine decay)", flag="--lr", show="learning rate {:g}"
    )
    augment: bool = _option(
        False,
        "random slant, rotation, scale and 1 px shift (training.augment)",
        show=("augmentation off", "augmentation on"),
    )
    seed: int = _option(0, "seed of the shuffling, the augmentation and the renderings")
    subset: int | None = _option(
        None, "train on this many MNIST images (default: all 60,000)", show="{:,} MNIST images"
    )
    time_budget: float | None = _option(
        None, "stop after the batch that crosses this many seconds of training", show="time limit {:g} s"
    )
    pen_writers: str | None = _option(
        None,
        f'add rendered pen digits of these writers, e.g. "{pendigits.TUNE_WRITERS}"',
        show="pen digits of writers {}",
    )
    pen_copies: int = _option(
        0,
        "renderings of each pen digit (random size, place, width; 1 when only writers are given)",
        show="{} drawing{s} of each",
    )
    pen_distort: bool = _option(
        False, "re-shape each pen rendering first: slant, rotation, aspect, a smooth warp (pendigits.distort)"
    )
    # The model then reads a digit the same whether it is MNIST-sized or drawn big on the canvas.
    mnist_piped: int = _option(
        0,
        "also this many MNIST images enlarged 10x and sent through the app's preprocessing",
        show="{:,} MNIST images through the app's preprocessing",
    )
    # A last, gentle phase: it settles the network on drawn digits without forgetting MNIST.
    finetune_epochs: int = _option(
        0,
        "then this many epochs on new renderings of the pen digits plus a little MNIST, "
        "at a tenth of the learning rate (needs --pen-writers)",
        show="then {} fine-tune epoch{s}",
    )
    finetune_mnist: int = _option(3000, "MNIST images mixed into that last phase, so MNIST is not forgotten")
    # A blend keeps MNIST as the main phase left it and takes most of what the pen digits taught (WiSE-FT).
    finetune_blend: float = _option(
        1.0, "end with weights this far from those before that phase to those after it (0-1; 1: after)"
    )
    # Conventions that MNIST and the tuning writers barely contain (a slashed zero, an open nine).
    pen_styles: int = _option(
        0,
        "also draw each pen digit this many times in every handwriting style of its class "
        "(digitdraw.styles), in both phases (needs --pen-writers)",
        show="{} drawing{s} of each in every style of its class (digitdraw.styles)",
    )
    # More than one device (digitdraw.distribute): batch_size and learning_rate stay per replica,
    # and the run scales both by the replicas, so a recipe means the same on one device or eight.
    distribute: bool = _option(
        False, "train with tf.distribute.MirroredStrategy over all local GPUs (or the --cpu-replicas)"
    )
    cpu_replicas: int = _option(
        0,
        "with --distribute: split the CPU into this many logical devices, one replica each (for testing)",
        show="{} CPU replica{s}",
    )


FIELDS = dataclasses.fields(TrainConfig)
_TYPES = typing.get_type_hints(TrainConfig)
# What `digitdraw train` always writes out, even at the default: the recipe a reader looks for.
_ALWAYS_WRITTEN = ("architecture", "api", "epochs", "batch_size", "learning_rate", "augment", "seed")


def flag(name: str) -> str:
    """The `digitdraw train` flag of a TrainConfig field: "--lr" for learning_rate."""
    f = next(f for f in FIELDS if f.name == name)
    return f.metadata.get("flag", "--" + name.replace("_", "-"))


def describe(cfg: TrainConfig) -> str:
    """The recipe in one line for a person, from each field's `show` (fields at 0 or None left out):
    "8 epochs · batch 128 · learning rate 0.003 · augmentation on · 60,000 MNIST images · ...".
    """
    parts = []
    for f in FIELDS:
        show, value = f.metadata.get("show"), getattr(cfg, f.name)
        if f.name == "subset" and value is None:
            value = FULL_MNIST
        if show is None or (not isinstance(value, bool) and not value):
            continue
        if f.name.startswith("pen_") and not (cfg.pen_writers and cfg.pen_copies):
            continue  # writers without renderings (or renderings without writers) add nothing
        plural = "" if value == 1 else "s"  # "1 epoch", "2 epochs"
        parts.append(show[value] if isinstance(show, tuple) else show.format(value, s=plural))
    return " · ".join(parts)


SEED_MAX = 2**32 - 1


def recipe_problems(cfg: TrainConfig) -> list[str]:
    """What makes a recipe impossible to run, in words for a person; empty when it can run.

    The one check shared by the CLI and the app's jobs (which add the server's own limits).
    """
    problems = []
    if cfg.architecture not in architectures.ARCHITECTURES:
        known = ", ".join(architectures.ARCHITECTURES)
        problems.append(f"unknown architecture {cfg.architecture!r} (choose from {known})")
    if cfg.api not in architectures.APIS:
        problems.append(f"unknown API {cfg.api!r} (choose from {', '.join(architectures.APIS)})")
    if cfg.epochs < 1:
        problems.append(f"epochs must be at least 1 (asked for {cfg.epochs})")
    if cfg.batch_size < 1:
        problems.append(f"batch size must be positive (asked for {cfg.batch_size})")
    if cfg.subset is not None and cfg.subset < 1:
        problems.append(f"the training-set size must be positive (asked for {cfg.subset})")
    if not cfg.learning_rate > 0:
        problems.append(f"the learning rate must be positive (asked for {cfg.learning_rate})")
    if cfg.time_budget is not None and not cfg.time_budget > 0:
        problems.append(f"the time budget must be positive (asked for {cfg.time_budget:g} s)")
    if cfg.finetune_epochs and not cfg.pen_writers:
        problems.append(
            "a fine-tune phase (--finetune-epochs) trains on pen digits: give pen writers (--pen-writers)"
        )
    if not 0 <= cfg.seed <= SEED_MAX:  # what keras.utils.set_random_seed takes
        problems.append(f"the seed must be from 0 to {SEED_MAX} (asked for {cfg.seed})")
    if cfg.pen_copies < 0:
        problems.append(f"pen renderings (--pen-copies) cannot be negative (asked for {cfg.pen_copies})")
    if cfg.mnist_piped < 0:
        problems.append(f"piped MNIST (--mnist-piped) cannot be negative (asked for {cfg.mnist_piped})")
    if cfg.pen_styles < 0:
        problems.append(f"styled drawings (--pen-styles) cannot be negative (asked for {cfg.pen_styles})")
    if cfg.pen_styles and not cfg.pen_writers:
        problems.append("styled drawings (--pen-styles) redraw pen digits: give pen writers (--pen-writers)")
    if not 0 <= cfg.finetune_blend <= 1:
        problems.append(
            f"the fine-tune blend (--finetune-blend) must be from 0 to 1 (asked for {cfg.finetune_blend:g})"
        )
    if cfg.cpu_replicas < 0:
        problems.append(f"the CPU replicas (--cpu-replicas) must be 0 or more (asked for {cfg.cpu_replicas})")
    elif cfg.cpu_replicas and not cfg.distribute:
        problems.append(
            f"CPU replicas (--cpu-replicas {cfg.cpu_replicas}) split the CPU for a distributed run: "
            "add --distribute"
        )
    return problems


PEN_COPIES = 2  # renderings of each pen digit in the app's recipes (the shipped models used 3)

# What the standard recipes add to the quick ones, whatever the architecture.
_STANDARD = {"augment": True, "pen_writers": pendigits.TUNE_WRITERS, "pen_copies": PEN_COPIES}

# Short runs that the app and the benchmark offer (figures in docs/experiments.md, bench/train_speed.py).
# A preset is written for an architecture and may train another: the quick cnn is the lighter
# `cnn_quick` (99% in a third of the time). The quick batch size and learning rate are what the
# shipped models' recorded commands (models/*.json, which name --arch) leave to the preset.
PRESETS: dict[str, dict[str, TrainConfig]] = {
    "quick": {
        "dense": TrainConfig("dense", epochs=3, batch_size=128, learning_rate=5e-3),
        "cnn": TrainConfig("cnn_quick", epochs=2, batch_size=128, learning_rate=3e-3),
    },
    # Standard adds rendered pen digits of the training writers: they, more than epochs, make a
    # model read what people draw (docs/experiments.md). Without the pendigits file the app
    # offers the same recipe on MNIST alone.
    "standard": {
        "dense": TrainConfig("dense", epochs=15, learning_rate=2e-3, **_STANDARD),
        "cnn": TrainConfig("cnn", epochs=8, learning_rate=3e-3, **_STANDARD),
    },
}
FULL_MNIST = 60000  # MNIST's training images: a subset this large is no subset


def preset(name: str, architecture: str) -> TrainConfig:
    """A named recipe for an architecture, with the architecture the recipe trains (the quick
    cnn is `cnn_quick`); architectures without one get the cnn's recipe, on themselves."""
    recipes = PRESETS[name]
    if architecture in recipes:
        return dataclasses.replace(recipes[architecture])
    return dataclasses.replace(recipes["cnn"], architecture=architecture)


def recipe_from_choices(
    recipe: str,
    architecture: str,
    api: str,
    *,
    train_images: int,
    pen_digits: bool,
    time_budget: float,
    custom: dict | None = None,
) -> TrainConfig:
    """The recipe the Train page's form describes: a preset ("custom" starts from quick) with the
    form's choices on top. `custom` holds the fields a custom recipe sets (epochs, batch_size,
    learning_rate, augment); the presets ignore it.
    """
    cfg = preset("quick" if recipe == "custom" else recipe, architecture)
    if recipe == "custom":  # your own recipe trains the architecture you chose
        cfg = dataclasses.replace(cfg, architecture=architecture, **(custom or {}))
    if pen_digits:
        cfg = dataclasses.replace(
            cfg, pen_writers=pendigits.TUNE_WRITERS, pen_copies=cfg.pen_copies or PEN_COPIES
        )
    else:
        cfg = dataclasses.replace(cfg, pen_writers=None, pen_copies=0)
    subset = None if train_images >= FULL_MNIST else int(train_images)
    return dataclasses.replace(cfg, api=api, subset=subset, time_budget=float(time_budget))


# -- The CLI form of a recipe ------------------------------------------------------------------


def _value_type(name: str) -> type:
    """int for `int | None`, and so on: what a flag's text is parsed as."""
    kind = _TYPES[name]
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args else kind


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag for each TrainConfig field; each defaults to None: "as the preset has it"."""
    for f in FIELDS:
        kind = _value_type(f.name)
        extra: dict = {"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}
        choices = f.metadata.get("choices")
        if choices is not None:
            extra["choices"] = list(choices() if callable(choices) else choices)
        parser.add_argument(flag(f.name), dest=f.name, default=None, help=f.metadata["help"], **extra)


def config_from_flags(args: argparse.Namespace, preset_name: str = "quick") -> TrainConfig:
    """The recipe `add_flags`'s flags describe: the preset for the architecture, then each flag given."""
    arch = args.architecture if args.architecture is not None else TrainConfig.architecture
    given = {f.name: getattr(args, f.name) for f in FIELDS if getattr(args, f.name) is not None}
    cfg = dataclasses.replace(preset(preset_name, arch), **given)
    if cfg.pen_writers and not cfg.pen_copies and args.pen_copies is None:
        cfg = dataclasses.replace(cfg, pen_copies=1)  # writers alone: each of their digits once
    return cfg


def _text(value) -> str:
    if isinstance(value, float):
        short = f"{value:g}"  # 0.003, 300: as a person writes them, when that loses nothing
        return short if float(short) == value else repr(value)
    return str(value)


def to_flags(cfg: TrainConfig) -> list[str]:
    """The flags that give back `cfg` through `add_flags` and `config_from_flags` (with --preset quick).

    The main recipe is always written out, so the command reads on its own; the other fields
    only where they differ from TrainConfig's defaults.
    """
    out: list[str] = []
    for f in FIELDS:
        value = getattr(cfg, f.name)
        # pen copies go with the writers even when 0: read back alone, writers would mean 1 copy.
        with_writers = f.name == "pen_copies" and bool(cfg.pen_writers)
        needed = f.name in _ALWAYS_WRITTEN or value != f.default or with_writers
        if value is None or not needed:
            continue
        if isinstance(value, bool):
            out.append(flag(f.name) if value else "--no-" + flag(f.name)[2:])
        else:
            out += [flag(f.name), _text(value)]
    return out
