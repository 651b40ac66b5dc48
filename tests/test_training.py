"""Specification of training: it learns, it repeats, and it stops when told to.

Every run here trains on a small subset of MNIST, so the suite stays quick on a 2-core CPU.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import keras
import numpy as np
import pytest
from conftest import ONE, SEVEN, TRAINED_SUBSET

from digitdraw import recipe, training
from digitdraw.evaluate import evaluate
from digitdraw.predict import Predictor
from digitdraw.recipe import TrainConfig
from digitdraw.training import train

SMALL = TrainConfig("dense", epochs=2, subset=640, batch_size=64, seed=3)  # 10 steps an epoch


def steps_trained(result: training.TrainResult) -> int:
    return int(result.model.optimizer.iterations.numpy())


def test_a_short_run_learns(trained_dense, mnist):
    """dense on 3000 images, 2 epochs: far above chance (10%) on the full test set."""
    accuracy = evaluate(Predictor(trained_dense.model), mnist.x_test, mnist.y_test).accuracy
    assert accuracy > 0.8
    assert trained_dense.train_size == TRAINED_SUBSET
    assert trained_dense.epochs_done == 2
    assert not trained_dense.cancelled and not trained_dense.stopped_by_budget
    losses = trained_dense.history["loss"]
    assert losses[-1] < losses[0]
    assert set(trained_dense.history) >= {"loss", "accuracy"}


def test_seeded_runs_repeat_exactly(mnist):
    a, b = train(SMALL, mnist), train(SMALL, mnist)
    assert a.history == b.history
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_another_seed_gives_another_run(mnist):
    a, b = train(replace(SMALL, epochs=1), mnist), train(replace(SMALL, epochs=1, seed=4), mnist)
    assert not np.array_equal(a.model.get_weights()[0], b.model.get_weights()[0])


def test_subset_is_a_seeded_sample(mnist):
    x1, y1 = training.training_arrays(SMALL, mnist)
    x2, _ = training.training_arrays(SMALL, mnist)
    assert x1.shape == (640, 28, 28) and x1.dtype == np.float32
    assert 0.0 <= x1.min() and x1.max() <= 1.0
    np.testing.assert_array_equal(x1, x2)
    assert len(np.unique(y1)) == 10  # a shuffled sample, not the first 640 in file order
    x3, _ = training.training_arrays(replace(SMALL, seed=4), mnist)
    assert not np.array_equal(x1, x3)


class SetAtBatch(keras.callbacks.Callback):
    """Sets `event` at the end of batch `at` (0-based), as a Cancel button pressed mid-batch would."""

    def __init__(self, event: threading.Event, at: int) -> None:
        super().__init__()
        self.event, self.at = event, at

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at:
            self.event.set()


def test_cancel_stops_after_the_current_batch(mnist):
    cancel = threading.Event()
    result = train(SMALL, mnist, cancel=cancel, callbacks=[SetAtBatch(cancel, at=2)])
    assert result.cancelled
    assert steps_trained(result) == 3  # batches 0, 1 and 2; not one more
    assert result.epochs_done == 1
    assert not result.stopped_by_budget


def test_cancel_set_before_the_start_still_leaves_a_usable_model(mnist):
    cancel = threading.Event()
    cancel.set()
    result = train(SMALL, mnist, cancel=cancel)
    assert result.cancelled and steps_trained(result) == 1
    assert Predictor(result.model).probabilities(mnist.x_test[:2]).shape == (2, 10)


def test_without_a_cancel_the_run_is_complete(mnist):
    result = train(SMALL, mnist, cancel=threading.Event())
    assert not result.cancelled
    assert steps_trained(result) == 20 and result.epochs_done == 2


def test_time_budget_stops_the_run(mnist):
    result = train(replace(SMALL, epochs=50, time_budget=1e-6), mnist)
    assert result.stopped_by_budget and not result.cancelled
    assert steps_trained(result) == 1
    assert result.epochs_done == 1


def test_progress_is_written_batch_by_batch_and_at_each_epoch_end(mnist):
    progress = training.Progress()
    callback = training.ProgressCallback(progress)
    result = train(replace(SMALL, subset=1280), mnist, callbacks=[callback])  # 20 steps an epoch
    # Epochs shorter than 40 steps keep every batch (a curve even for a tiny run).
    assert [(b["epoch"], b["step"]) for b in progress.batches] == [
        (ep, s) for ep in (1, 2) for s in range(1, 21)
    ]
    assert [b["x"] for b in progress.batches][:2] == [0.05, 0.1]
    assert [e["epoch"] for e in progress.epoch_end] == [1, 2]
    assert not any(e["partial"] for e in progress.epoch_end)
    for row in progress.batches + progress.epoch_end:
        assert row["elapsed"] >= 0
        assert np.isfinite(row["loss"]) and 0.0 <= row["accuracy"] <= 1.0
    assert [e["loss"] for e in progress.epoch_end] == pytest.approx(result.history["loss"])
    elapsed = [b["elapsed"] for b in progress.batches]
    assert elapsed == sorted(elapsed)
    # The end of the run leaves the count at its last batch: it never runs back to 0.
    assert (progress.epoch, progress.step, progress.steps) == (2, 20, 20)
    assert progress.done == 40


def test_augmentation_runs_and_still_learns(mnist):
    result = train(replace(SMALL, augment=True, subset=1280, epochs=2), mnist)
    assert result.epochs_done == 2
    assert all(np.isfinite(w).all() for w in result.model.get_weights())
    assert result.history["accuracy"][-1] > 0.3


def assert_one_sharp_resampling(before: np.ndarray, after: np.ndarray, centre_within: float) -> None:
    """Not a blur: the ink stays as bright and about as plentiful, and the digit near the centre."""
    assert after.shape == before.shape
    assert after.max(axis=(1, 2)).mean() > 0.95
    assert after.sum() == pytest.approx(before.sum(), rel=0.08)
    rows = np.arange(28)[None, :, None]
    centre_y = (after * rows).sum(axis=(1, 2)) / after.sum(axis=(1, 2))
    assert np.abs(centre_y - 14).max() < centre_within


def test_augmentation_moves_pixels_but_keeps_the_strokes_sharp(mnist):
    x = mnist.x_train[:64].astype(np.float32) / 255.0
    keras.utils.set_random_seed(0)
    y = np.asarray(training.augment(x))
    assert not np.allclose(x, y)
    # One resampling, and the digit stays near the centre, where the app's preprocessing puts it.
    assert_one_sharp_resampling(x, y, centre_within=2.5)


def test_presets_exist_for_both_architectures():
    for name in ("quick", "standard"):
        for arch in ("dense", "cnn"):
            cfg = recipe.preset(name, arch)
            assert cfg.architecture in (arch, f"{arch}_quick") and cfg.epochs >= 1
    with pytest.raises(KeyError):
        recipe.preset("nonexistent", "dense")


@pytest.mark.parametrize("arch", ["dense", "cnn"])
def test_the_quick_presets_still_learn(mnist, arch):
    # The quick recipe as the app and `digitdraw train --preset quick` run it, on a subset.
    cfg = replace(recipe.preset("quick", arch), subset=3000)
    result = train(cfg, mnist)
    accuracy = evaluate(Predictor(result.model), mnist.x_test[:1000], mnist.y_test[:1000]).accuracy
    assert accuracy > 0.8, f"{cfg.architecture}: {accuracy:.1%} after {cfg.epochs} epochs on 3,000 images"


def test_the_quick_cnn_is_the_lighter_cnn_unless_the_cnn_is_asked_for_by_name():
    import argparse

    assert recipe.preset("quick", "cnn").architecture == "cnn_quick"
    assert recipe.preset("standard", "cnn").architecture == "cnn"  # the full cnn beyond quick runs
    parser = argparse.ArgumentParser()
    recipe.add_flags(parser)
    assert recipe.config_from_flags(parser.parse_args([]), "quick").architecture == "cnn_quick"
    # An explicit --arch wins, so the shipped models' recorded commands still train `cnn`.
    explicit = recipe.config_from_flags(parser.parse_args(["--arch", "cnn"]), "quick")
    assert explicit == replace(recipe.preset("quick", "cnn"), architecture="cnn")
    assert (explicit.batch_size, explicit.learning_rate) == (128, 3e-3)


def test_functional_api_trains_too(mnist):
    result = train(replace(SMALL, api="functional", epochs=1), mnist)
    assert not isinstance(result.model, keras.Sequential)
    assert steps_trained(result) == 10


def test_integer_labels_train_with_the_sparse_loss(mnist):
    # No one-hot copy of the labels: the dataset carries MNIST's integer labels as they are.
    x, y = training.training_arrays(SMALL, mnist)
    assert y.ndim == 1 and y.dtype == np.uint8
    result = train(replace(SMALL, epochs=1), mnist)
    assert result.model.loss == "sparse_categorical_crossentropy"
    assert np.isfinite(result.history["loss"][0])


def tiny_pendigits(tmp_path):
    """A pendigits file of 20 digits (a 1 and a 7 each, ten writers): enough to train on."""
    rows = [
        {"label": label, "writer": w, "strokes": [s.tolist() for s in strokes]}
        for w in range(1, 11)
        for label, strokes in ((1, ONE), (7, SEVEN))
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_finetune_phase_follows_on_pen_digits_and_some_mnist(mnist, tmp_path):
    cfg = replace(
        SMALL,
        epochs=1,
        pen_writers="1-10",
        pen_copies=2,
        pen_distort=True,
        finetune_epochs=2,
        finetune_mnist=88,
    )
    x, y = training.finetune_arrays(cfg, mnist, tiny_pendigits(tmp_path))
    assert len(x) == 2 * 20 + 88 and x.shape[1:] == (28, 28)
    result = train(cfg, mnist, pendigits_path=tiny_pendigits(tmp_path))
    assert result.epochs_done == 3 and len(result.history["loss"]) == 3  # 1 main + 2 finetune epochs
    assert steps_trained(result) == 2 * int(np.ceil(len(x) / 64))  # a fresh optimizer for the phase


def test_a_cancelled_run_skips_the_finetune_phase(mnist, tmp_path):
    cancel = threading.Event()
    cfg = replace(SMALL, pen_writers="1-10", pen_copies=1, finetune_epochs=2)
    result = train(
        cfg,
        mnist,
        cancel=cancel,
        callbacks=[SetAtBatch(cancel, at=2)],
        pendigits_path=tiny_pendigits(tmp_path),
    )
    assert result.cancelled and result.epochs_done == 1


def test_mnist_through_the_pipeline_adds_the_same_digits_as_the_app_sees_them(mnist):
    cfg = replace(SMALL, subset=100, mnist_piped=10)
    x, y = training.training_arrays(cfg, mnist)
    assert x.shape == (110, 28, 28) and len(y) == 110
    assert np.array_equal(y[100:], y[:10])  # the first ten again ...
    piped, raw = x[100:], x[:10]
    assert piped.max() <= 1.0 and not np.array_equal(piped, raw)  # ... as the pipeline made them
    for a, b in zip(piped, raw, strict=True):  # still the same digit, in about the same place
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.6


class WeightsAtEnd(keras.callbacks.Callback):
    """Keeps the weights as each fit() leaves them, before anything after it changes them."""

    def __init__(self) -> None:
        super().__init__()
        self.at_end: list[list[np.ndarray]] = []

    def on_train_end(self, logs=None):
        self.at_end.append(self.model.get_weights())


@pytest.mark.parametrize("blend", [0.0, 0.5])
def test_the_finetune_blend_ends_between_the_weights_before_and_after_the_phase(mnist, tmp_path, blend):
    cfg = replace(
        SMALL,
        epochs=1,
        pen_writers="1-10",
        pen_copies=1,
        finetune_epochs=1,
        finetune_mnist=64,
        finetune_blend=blend,
    )
    spy = WeightsAtEnd()
    result = train(cfg, mnist, callbacks=[spy], pendigits_path=tiny_pendigits(tmp_path))
    before, after = spy.at_end  # the main phase's end, the fine-tune phase's end
    assert any(not np.allclose(b, a) for b, a in zip(before, after, strict=True))  # the phase did learn
    for final, b, a in zip(result.model.get_weights(), before, after, strict=True):
        np.testing.assert_allclose(final, (1 - blend) * b + blend * a, rtol=1e-5, atol=1e-6)
