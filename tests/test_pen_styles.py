"""Specification of styled pen drawings in training (TrainConfig.pen_styles): each pen digit of the
training writers is redrawn in every handwriting style of its class (digitdraw.styles) and added,
rendered like the plain pen digits, to both phases' data; without them the data is as before.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from conftest import ONE, SEVEN

from digitdraw import styles, training
from digitdraw.recipe import TrainConfig

BASE = TrainConfig("dense", epochs=1, subset=200, batch_size=64, seed=5, pen_writers="1-10", pen_copies=1)


def pen_file(tmp_path):
    """Ten writers, each with a 1 and a 7 (two digits that have styles) and a 3 (that has none)."""
    three = [np.array([[100, 100], [400, 150], [200, 250], [400, 350], [100, 450]], float)]
    rows = [
        {"label": label, "writer": w, "strokes": [s.tolist() for s in strokes]}
        for w in range(1, 11)
        for label, strokes in ((1, ONE), (7, SEVEN), (3, three))
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def styles_of(digit: int) -> int:
    return sum(style.digit == digit for style in styles.STYLES.values())


def test_styled_drawings_follow_the_plain_ones_in_the_main_phase(mnist, tmp_path):
    path = pen_file(tmp_path)
    plain_x, plain_y = training.training_arrays(BASE, mnist, path)
    x, y = training.training_arrays(replace(BASE, pen_styles=2), mnist, path)
    # Without styles the data is what it was; the styled drawings come after it.
    np.testing.assert_array_equal(x[: len(plain_x)], plain_x)
    np.testing.assert_array_equal(y[: len(plain_y)], plain_y)
    extra_x, extra_y = x[len(plain_x) :], y[len(plain_y) :]
    # Every 1 and 7 of the ten writers, twice in each style of its digit; the 3s have no style.
    assert np.bincount(extra_y, minlength=10).tolist() == [
        10 * 2 * styles_of(d) if d in (1, 7) else 0 for d in range(10)
    ]
    assert extra_x.dtype == np.float32 and extra_x.shape[1:] == (28, 28)
    assert 0.0 <= extra_x.min() and extra_x.max() <= 1.0
    assert all(extra_x[i].sum() > 0 for i in range(len(extra_x)))  # real drawings, not blanks


def test_styled_drawings_are_new_ones_in_the_finetune_phase(mnist, tmp_path):
    path = pen_file(tmp_path)
    cfg = replace(BASE, pen_styles=1, finetune_epochs=1, finetune_mnist=30)
    main_x, _ = training.training_arrays(cfg, mnist, path)
    x, y = training.finetune_arrays(cfg, mnist, path)
    plain_x, _ = training.finetune_arrays(replace(cfg, pen_styles=0), mnist, path)
    styled = 10 * (styles_of(1) + styles_of(7))
    assert len(x) == len(plain_x) + styled
    assert set(np.unique(y[len(plain_x) :])) == {1, 7}
    # Other drawings than the main phase's styled ones (another seed).
    assert not np.array_equal(x[-styled:], main_x[-styled:])
