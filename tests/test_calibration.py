"""Temperature scaling, calibration measures, and the not-a-digit threshold."""

from __future__ import annotations

import numpy as np
import pytest

from digitdraw import calibration as cal


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def overconfident(n: int, true_t: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A model whose logits are `true_t` times too large: labels drawn from softmax(z / true_t)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=4.0, size=(n, 10))
    truth = softmax(z / true_t)
    labels = np.array([rng.choice(10, p=p) for p in truth])
    return softmax(z), labels


def test_scaling_keeps_the_answer_and_temperature_one_changes_nothing():
    p, _ = overconfident(200, 2.0)
    np.testing.assert_allclose(cal.scale(p, 1.0), p, atol=1e-6)
    cooled = cal.scale(p, 2.0)
    np.testing.assert_array_equal(cooled.argmax(axis=1), p.argmax(axis=1))
    assert (cooled.max(axis=1) <= p.max(axis=1) + 1e-6).all()
    np.testing.assert_allclose(cooled.sum(axis=1), 1.0, atol=1e-5)


def test_scaling_probabilities_equals_scaling_the_logits():
    z = np.random.default_rng(1).normal(scale=5, size=(50, 10))
    np.testing.assert_allclose(cal.scale(softmax(z), 3.0), softmax(z / 3.0), atol=1e-6)


def test_the_fitted_temperature_recovers_the_true_one_and_lowers_nll_and_ece():
    p, y = overconfident(20000, 2.5)
    t = cal.fit_temperature(p, y)
    assert abs(t - 2.5) < 0.15
    assert cal.nll(cal.scale(p, t), y) < cal.nll(p, y)
    assert cal.ece(cal.scale(p, t), y) < 0.5 * cal.ece(p, y)


def test_ece_by_hand():
    # Four answers at 95%, all right (gap 0.05); two at 55%, one right (gap 0.05): ECE 0.05.
    p = np.array([[0.95, 0.05]] * 4 + [[0.55, 0.45]] * 2)
    y = np.array([0, 0, 0, 0, 0, 1])
    assert cal.ece(p, y) == pytest.approx(0.05)
    table = cal.reliability(p, y)
    assert len(table) == cal.BINS == 15 and sum(b.count for b in table) == 6
    (hi,) = [b for b in table if b.low < 0.95 <= b.high]
    assert hi.count == 4 and hi.accuracy == 1.0


def test_confident_accuracy_and_confidently_wrong_by_hand():
    p = np.array([[0.95, 0.05], [0.92, 0.08], [0.1, 0.9], [0.6, 0.4]])
    y = np.array([0, 1, 1, 1])
    acc, cover = cal.confident_accuracy(p, y)
    assert (acc, cover) == (pytest.approx(2 / 3), 0.75)
    assert cal.confidently_wrong(p, y) == 0.25  # the 92% one, of all four


def test_the_reliability_figure_carries_each_bin():
    p = np.array([[0.95, 0.05], [0.55, 0.45]])
    spec = cal.reliability_spec(cal.reliability(p, np.array([0, 1])), "cnn")
    values = spec["layer"][0]["data"]["values"]
    assert [v["count"] for v in values] == [1, 1] and [v["accuracy"] for v in values] == [0.0, 1.0]


def test_the_refusal_threshold_refuses_at_most_the_share_asked():
    scores = np.random.default_rng(2).random(1000)
    thr = cal.refusal_threshold(scores, 0.01)
    assert (scores > thr).sum() == 10
    assert (scores > cal.refusal_threshold(scores, 0.0)).sum() == 0


def test_mahalanobis_scores_far_points_higher_than_class_members():
    rng = np.random.default_rng(3)
    means = rng.normal(scale=5, size=(10, 8))
    y = np.repeat(np.arange(10), 100)
    f = means[y] + rng.normal(size=(1000, 8))
    maha = cal.Mahalanobis.fit(f, y)
    inside = maha.score(means + rng.normal(size=(10, 8)) * 0.5)
    outside = maha.score(rng.normal(scale=5, size=(10, 8)) + 40)
    assert outside.min() > inside.max()


def test_bad_input_gets_a_clear_error():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match="2 rows of probabilities but 3 labels"):
        cal.ece(p, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="labels must be 0..1"):
        cal.fit_temperature(p, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"expected \(n, classes\)"):
        cal.scale(np.array([0.5, 0.5]), 1.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        cal.scale(p, 0.0)
    with pytest.raises(ValueError, match="needs the scores of some real digits"):
        cal.refusal_threshold(np.array([]))
    with pytest.raises(ValueError, match="needs at least one"):
        cal.fit_temperature(np.zeros((0, 10)), np.zeros(0))


def test_the_not_a_digit_head_learns_which_side_is_which():
    rng = np.random.default_rng(4)
    digits = rng.normal(size=(300, 6))
    others = rng.normal(size=(300, 6)) + [3, 0, 0, 0, 0, 0]
    head = cal.NotDigitHead.fit(digits, others)
    assert ((head.score(others) > 0).mean() + (head.score(digits) < 0).mean()) / 2 > 0.9
    assert head.score(np.array([[6.0, 0, 0, 0, 0, 0]]))[0] > head.score(np.zeros((1, 6)))[0]
    with pytest.raises(ValueError, match="some digits and some non-digits"):
        cal.NotDigitHead.fit(digits, np.zeros((0, 6)))
