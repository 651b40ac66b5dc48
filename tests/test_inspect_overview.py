"""The Inspect overview's training curves and how it says a model trained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from digitdraw.ui import inspect_page


def chart(values: list[float], metric: str) -> dict:
    frame = pd.DataFrame({metric: values, "epoch": np.arange(1, len(values) + 1)})
    return inspect_page._history_chart(frame, [metric], metric).to_dict()


def python_format(d3_format: str):
    """Vega-Lite's d3-format spec read through Python's format mini-language, which d3's copies
    (a "~", d3's "trim trailing zeros", only shortens a label; it never makes two labels equal)."""
    return lambda value: format(value, d3_format.replace("~", ""))


@pytest.mark.parametrize(
    "metric, values",
    [("loss", [0.0418, 0.0409, 0.0401]), ("accuracy", [0.9861, 0.9868, 0.9874])],
    ids=["a fine-tune's loss", "a good model's accuracy"],
)
def test_the_y_axis_ticks_of_a_narrow_curve_read_differently(metric, values):
    # Vega picks nice ticks 1, 2 or 5 x 10^k apart; over this range, 0.0001 to 0.001 apart.
    label = python_format(chart(values, metric)["encoding"]["y"]["axis"]["format"])
    for step in (0.0001, 0.0002, 0.0005, 0.001):
        ticks = np.arange(np.floor(min(values) / step), np.ceil(max(values) / step) + 1) * step
        labels = [label(t) for t in ticks]
        assert len(set(labels)) == len(labels), f"step {step}: {labels}"


def test_a_one_epoch_history_draws_its_point():
    # A line needs two points: one epoch alone is drawn as a point, or the chart is empty axes.
    spec = chart([0.31], "loss")
    assert spec["mark"]["type"] == "line" and spec["mark"]["point"] is True
    rows = next(iter(spec["datasets"].values()))
    assert [(r["epoch"], r["value"]) for r in rows] == [(1, 0.31)]


def test_one_epoch_is_said_in_the_singular():
    card = {"data": {"train_images": 1000}, "epochs": 1, "training_seconds": 3.5}
    assert inspect_page._trained(card) == "trained 1 epoch on 1,000 images in 3.5 s"
    assert inspect_page._trained(card | {"epochs": 2}) == "trained 2 epochs on 1,000 images in 3.5 s"
