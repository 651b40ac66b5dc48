"""Specification of training recipes (digitdraw.recipe): one list of fields, from which the CLI's
flags, the recorded command and the Train page's form and caption are all derived.
"""

from __future__ import annotations

import dataclasses
import json
import shlex

import pytest

from digitdraw import architectures, cli, config, pendigits, recipe, runs
from digitdraw.recipe import TrainConfig


def parse_command(command: str) -> TrainConfig:
    """A recorded `python -m digitdraw train ...` command, read back by the CLI's own parser."""
    words = shlex.split(command.split("  #")[0])
    assert words[:3] == ["python", "-m", "digitdraw"]
    args = cli.build_parser().parse_args(words[3:])
    return recipe.config_from_flags(args, args.preset)


CUSTOM = [
    TrainConfig("dense", epochs=7, batch_size=32, learning_rate=1 / 3000, seed=11, subset=1234),
    TrainConfig("cnn", api="functional", augment=True, time_budget=42.5, mnist_piped=500),
    TrainConfig("cnn", pen_writers="1-3,7", pen_copies=0),  # writers kept, no renderings
    TrainConfig(
        "cnn",
        pen_writers="1-24",
        pen_copies=4,
        pen_distort=True,
        finetune_epochs=3,
        finetune_mnist=20000,
        finetune_blend=0.5,
    ),
    TrainConfig("cnn", pen_writers="1-24", pen_copies=4, pen_distort=True, pen_styles=2, finetune_epochs=1),
]


@pytest.mark.parametrize(
    "cfg",
    [recipe.preset(name, arch) for name in recipe.PRESETS for arch in architectures.ARCHITECTURES] + CUSTOM,
    ids=lambda c: f"{c.architecture}-{c.epochs}ep",
)
def test_the_recorded_command_gives_back_the_recipe(cfg):
    assert parse_command(runs.cli_command(cfg)) == cfg
    # Also as the app records it, with its comment after the command.
    assert parse_command(runs.cli_command(cfg) + "  # started from the app") == cfg


def test_every_field_has_a_flag_and_help_and_every_flag_reads_back():
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest: a for a in train._actions}
    for f in recipe.FIELDS:
        assert f.metadata["help"], f.name
        assert dests[f.name].option_strings[0] == recipe.flag(f.name)
    assert recipe.flag("learning_rate") == "--lr" and recipe.flag("architecture") == "--arch"


def test_flags_override_the_preset_and_writers_alone_mean_one_copy():
    argv = ["train", "--preset", "standard", "--arch", "dense", "--epochs", "3"]
    args = cli.build_parser().parse_args(argv)
    cfg = recipe.config_from_flags(args, args.preset)
    assert cfg == dataclasses.replace(recipe.preset("standard", "dense"), epochs=3)
    args = cli.build_parser().parse_args(["train", "--pen-writers", "1-5"])
    assert recipe.config_from_flags(args).pen_copies == 1


def test_the_shipped_cards_commands_still_read_back_as_their_recipes():
    # Cards written before the unkept options were removed still carry them, at their no-op
    # values; everything else they record is what their command gives back today.
    # An ensemble's card holds each member's card: each member's command gives its recipe back.
    for name in config.DEFAULT_MODELS:
        card = json.loads((config.SHIPPED_MODELS_DIR / f"{name}.json").read_text())
        trained = card.get("member_cards") or [card]
        assert len(trained) == card.get("members", 1)
        for member in trained:
            recorded = dict(member["training"])
            for unkept in ("elastic", "label_smoothing", "weight_decay"):
                assert recorded.pop(unkept, 0.0) == 0.0
            assert dataclasses.asdict(parse_command(member["command"])) == {
                **dataclasses.asdict(TrainConfig()),
                **recorded,
            }


def test_recipe_from_choices_starts_from_the_preset_and_adds_the_forms_choices():
    cfg = recipe.recipe_from_choices(
        "standard", "cnn", "functional", train_images=60000, pen_digits=True, time_budget=300
    )
    assert cfg == dataclasses.replace(recipe.preset("standard", "cnn"), api="functional", time_budget=300.0)
    assert cfg.subset is None and cfg.pen_writers == pendigits.TUNE_WRITERS

    quick = recipe.recipe_from_choices(
        "quick", "dense", "sequential", train_images=1000, pen_digits=False, time_budget=60
    )
    expected = (recipe.preset("quick", "dense").epochs, 1000, None, 0)
    assert (quick.epochs, quick.subset, quick.pen_writers, quick.pen_copies) == expected
    # The quick recipe with pen digits gets the app's number of renderings.
    with_pen = recipe.recipe_from_choices(
        "quick", "dense", "sequential", train_images=1000, pen_digits=True, time_budget=60
    )
    assert (with_pen.pen_writers, with_pen.pen_copies) == (pendigits.TUNE_WRITERS, recipe.PEN_COPIES)


def test_a_custom_recipe_takes_the_forms_numbers_and_the_presets_ignore_them():
    custom = {"epochs": 5, "batch_size": 256, "learning_rate": 1e-3, "augment": True}
    cfg = recipe.recipe_from_choices(
        "custom", "cnn", "sequential", train_images=5000, pen_digits=False, time_budget=90, custom=custom
    )
    assert (cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.augment) == (5, 256, 1e-3, True)
    assert (cfg.subset, cfg.time_budget) == (5000, 90.0)
    standard = recipe.recipe_from_choices(
        "standard", "cnn", "sequential", train_images=5000, pen_digits=False, time_budget=90, custom=custom
    )
    assert standard.epochs == recipe.preset("standard", "cnn").epochs


def test_describe_says_the_recipe_in_one_line():
    cfg = dataclasses.replace(recipe.preset("standard", "cnn"), time_budget=300.0)
    assert recipe.describe(cfg) == (
        "8 epochs · batch 128 · learning rate 0.003 · augmentation on · 60,000 MNIST images · "
        "time limit 300 s · pen digits of writers 1-24 · 2 drawings of each"
    )
    small = TrainConfig("dense", epochs=1, subset=2000, finetune_epochs=2, pen_writers="1-5", pen_copies=0)
    assert recipe.describe(small) == (
        "1 epoch · batch 128 · learning rate 0.003 · augmentation off · 2,000 MNIST images · "
        "then 2 fine-tune epochs"
    )


def test_styled_drawings_read_in_the_recipe_line_and_need_pen_writers():
    cfg = TrainConfig("cnn", epochs=1, pen_writers="1-24", pen_copies=2, pen_styles=1)
    assert recipe.describe(cfg).endswith(
        "pen digits of writers 1-24 · 2 drawings of each · 1 drawing of each in every style of its class "
        "(digitdraw.styles)"
    )
    assert "--pen-styles 1" in runs.cli_command(cfg)
    assert "--pen-styles" not in runs.cli_command(dataclasses.replace(cfg, pen_styles=0))
    assert recipe.recipe_problems(cfg) == []
    (alone,) = recipe.recipe_problems(TrainConfig("cnn", pen_styles=1))
    assert "--pen-styles" in alone and "--pen-writers" in alone
    (negative,) = recipe.recipe_problems(dataclasses.replace(cfg, pen_styles=-1))
    assert "--pen-styles" in negative and "asked for -1" in negative
