"""Temperature scaling, calibration measures, and the not-a-digit threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import needs_pendigits

from digitdraw import calibration as cal
from digitdraw import config


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


def test_mahalanobis_score_is_the_squared_distance_to_the_nearest_class_mean():
    # d = 384, an ensemble's width: the per-class terms are precomputed, the result is unchanged.
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(10), 60)
    f = rng.normal(size=(600, 384)) + y[:, None]
    maha = cal.Mahalanobis.fit(f, y)
    x = rng.normal(size=(5, 384)) * 2
    direct = np.stack([np.einsum("nd,de,ne->n", x - m, maha.precision, x - m) for m in maha.means], axis=1)
    np.testing.assert_allclose(maha.score(x), direct.min(axis=1), rtol=1e-9)
    np.testing.assert_allclose(maha.score(x[:1]), direct[:1].min(axis=1), rtol=1e-9)


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


def test_the_head_has_a_hidden_layer_that_finds_what_a_line_cannot():
    # Non-digits on both sides of the digits: no single line separates them.
    rng = np.random.default_rng(3)
    digits = rng.normal(size=(400, 2))
    others = rng.normal(size=(400, 2)) + np.repeat([[4.0, 0.0], [-4.0, 0.0]], 200, axis=0)
    network, line = cal.NotDigitHead.fit(digits, others), cal.NotDigitHead.fit(digits, others, hidden=0)
    assert network.hidden is not None and network.hidden.shape == (3, cal.HEAD_HIDDEN)
    assert line.hidden is None

    def balanced(head: cal.NotDigitHead) -> float:
        return ((head.score(others) > 0).mean() + (head.score(digits) < 0).mean()) / 2

    assert balanced(network) > 0.95 and balanced(line) < 0.75
    # Seeded: the same fit twice gives the same head.
    np.testing.assert_array_equal(cal.NotDigitHead.fit(digits, others).weights, network.weights)


# -- the detector the app uses, and storing it with a model ------------------------------------


def test_the_detector_refuses_at_most_the_share_of_drawings_asked():
    rng = np.random.default_rng(5)
    digits, odd = rng.normal(size=(1000, 6)), rng.normal(size=(300, 6)) + [4, 0, 0, 0, 0, 0]
    maha = cal.Mahalanobis.fit(digits, np.arange(1000) % 10)
    head = cal.NotDigitHead.fit(digits, odd)
    det = cal.NotADigit.fit(maha, head, digits, max_refused=0.02)
    assert 0.015 <= det.refuses(digits).mean() <= 0.02
    assert det.refuses(odd).mean() > 0.5
    # Drawings of two digits each: a drawing is refused when either is; still at most 2%.
    owner = np.arange(1000) // 2
    per_drawing = cal.NotADigit.fit(maha, head, digits, owner, max_refused=0.02)
    refused = np.zeros(500, bool)
    np.logical_or.at(refused, owner, per_drawing.refuses(digits))
    assert 0.01 <= refused.mean() <= 0.02
    with pytest.raises(ValueError, match="max_refused"):
        cal.NotADigit.fit(maha, head, digits, max_refused=1.0)


def writers_digits(writers: range, per_writer: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Features of digits of several writers: ten class centres, each writer's own shift."""
    centres = np.random.default_rng(0).normal(scale=4.0, size=(10, 12))
    feats, labels, who = [], [], []
    for w in writers:
        shift = rng.normal(scale=0.8, size=12)
        y = rng.integers(10, size=per_writer)
        feats.append(centres[y] + shift + rng.normal(size=(per_writer, 12)))
        labels.append(y)
        who.append(np.full(per_writer, w))
    return np.concatenate(feats), np.concatenate(labels), np.concatenate(who)


def test_cross_fitted_thresholds_refuse_new_writers_no_more_than_asked_and_in_sample_ones_do():
    rng = np.random.default_rng(8)
    digits, labels, writers = writers_digits(range(12), 300, rng)
    new, _, _ = writers_digits(range(12, 24), 300, rng)
    odd = rng.normal(scale=4.0, size=(600, 12)) + 6.0
    crossed = cal.NotADigit.cross_fitted(digits, labels, writers % 4, odd, max_refused=0.01)
    # The same statistics, thresholds taken on the digits they were fitted on: they flatter.
    in_sample = cal.NotADigit.fit(crossed.mahalanobis, crossed.head, digits, max_refused=0.01)
    assert crossed.refuses(new).mean() <= 0.01 < in_sample.refuses(new).mean()
    assert crossed.refuses(odd).mean() > 0.5
    # Only some digits may fit the statistics (fit_mask); all are scored for the thresholds.
    masked = cal.NotADigit.cross_fitted(
        digits, labels, writers % 4, odd, max_refused=0.01, fit_mask=np.arange(len(digits)) % 2 == 0
    )
    assert masked.refuses(digits).mean() <= 0.01
    with pytest.raises(ValueError, match="at least two groups"):
        cal.NotADigit.cross_fitted(digits, labels, np.zeros(len(digits)), odd)
    with pytest.raises(ValueError, match="n labels and n groups"):
        cal.NotADigit.cross_fitted(digits, labels[:-1], writers, odd)


def test_the_detector_survives_storage(tmp_path):
    rng = np.random.default_rng(6)
    digits, odd = rng.normal(size=(500, 8)), rng.normal(size=(200, 8)) + 3
    det = cal.NotADigit.fit(
        cal.Mahalanobis.fit(digits, np.arange(500) % 10), cal.NotDigitHead.fit(digits, odd), digits
    )
    det.save_statistics(tmp_path / "m.ood.npz")
    entry = det.card_entry("m.ood.npz")
    back = cal.NotADigit.load(json.loads(json.dumps(entry)), tmp_path / "m.keras")
    probe = np.concatenate([digits, odd])
    np.testing.assert_array_equal(back.refuses(probe), det.refuses(probe))
    assert (tmp_path / "m.ood.npz").stat().st_size < 10_000


def test_the_share_refused_is_chosen_from_writers_left_out_and_within_the_limits(monkeypatch):
    # The choice, shown with a logistic head: on these toy features (Gaussian classes) its
    # thresholds carry over to the left-out writers, so each limit is met by some candidate.
    monkeypatch.setattr(cal, "HEAD_HIDDEN", 0)
    rng = np.random.default_rng(10)
    digits, labels, writers = writers_digits(range(16), 150, rng)
    odd = rng.normal(scale=4.0, size=(400, 12)) + 6.0
    candidates = (0.001, 0.005, 0.01, 0.05)
    chosen, figures = cal.choose_max_refused(digits, labels, writers % 4, odd, candidates=candidates)
    assert set(figures) == set(candidates)
    mean, worst = figures[chosen]
    assert mean <= 0.005 and worst < 0.01
    assert all(not (m <= 0.005 and w < 0.01) for r, (m, w) in figures.items() if r > chosen)
    # Looser limits let a larger share through; none met gives the smallest candidate.
    looser, _ = cal.choose_max_refused(
        digits, labels, writers % 4, odd, candidates=candidates, mean_limit=0.02, worst_limit=0.05
    )
    assert looser > chosen
    strict, _ = cal.choose_max_refused(
        digits, labels, writers % 4, odd, candidates=candidates, mean_limit=0.0
    )
    assert strict == min(candidates)
    # Refusing more of writers 1-24 refuses more of the left-out ones too.
    assert figures[0.05][0] > figures[0.005][0]
    with pytest.raises(ValueError, match="three groups"):
        cal.choose_max_refused(digits, labels, writers % 2, odd)


def test_the_joint_detector_survives_storage_with_its_one_threshold(tmp_path):
    rng = np.random.default_rng(9)
    digits, labels, writers = writers_digits(range(4), 200, rng)
    odd = rng.normal(scale=4.0, size=(300, 12)) + 6.0
    det = cal.NotADigit.cross_fitted(digits, labels, writers, odd, max_refused=0.02)
    assert det.joint and det.mahalanobis_threshold is None
    det.save_statistics(tmp_path / "m.ood.npz")
    entry = json.loads(json.dumps(det.card_entry("m.ood.npz")))
    assert entry["mahalanobis_threshold"] is None and "log Mahalanobis" in entry["method"]
    back = cal.NotADigit.load(entry, tmp_path / "m.keras")
    probe = np.concatenate([digits, odd])
    np.testing.assert_array_equal(back.refuses(probe), det.refuses(probe))


def test_confidence_input_is_low_for_a_sure_answer_and_high_for_a_flat_one():
    sure = np.array([[0.999] + [0.001 / 9] * 9])
    flat = np.full((1, 10), 0.1)
    c_sure, c_flat = cal.confidence_input(sure), cal.confidence_input(flat)
    assert c_sure.shape == (1, cal.CONFIDENCE_WIDTH)
    assert (c_flat > c_sure).all()
    assert c_flat[0] == pytest.approx([np.log(0.9), np.log(np.log(10))])


def unsure_others(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Non-digits whose features look like digits' but whose probabilities are flat, as an
    ensemble's are where its members disagree; the digits' probabilities are sure."""
    p_digits = np.full((len(digits), 10), 0.02 / 9)
    p_digits[np.arange(len(digits)), labels] = 0.98
    others = digits[rng.permutation(len(digits))[:400]] + rng.normal(scale=0.3, size=(400, digits.shape[1]))
    p_others = rng.dirichlet(np.ones(10), size=400)
    return p_digits, others, p_others


def test_a_detector_that_reads_the_confidence_refuses_what_the_features_alone_cannot_tell():
    rng = np.random.default_rng(11)
    digits, labels, writers = writers_digits(range(8), 200, rng)
    p_digits, others, p_others = unsure_others(rng, digits, labels)
    blind = cal.NotADigit.cross_fitted(digits, labels, writers % 4, others, max_refused=0.01)
    seeing = cal.NotADigit.cross_fitted(
        digits,
        labels,
        writers % 4,
        others,
        max_refused=0.01,
        probabilities=p_digits,
        other_probabilities=p_others,
    )
    assert seeing.reads_confidence and not blind.reads_confidence
    assert seeing.refuses(others, p_others).mean() > 0.9 > 0.5 > blind.refuses(others).mean()
    assert seeing.refuses(digits, p_digits).mean() <= 0.01
    with pytest.raises(ValueError, match="reads the model's probabilities too"):
        seeing.refuses(digits)
    with pytest.raises(ValueError, match="of both the digits and the non-digits"):
        cal.NotADigit.cross_fitted(digits, labels, writers % 4, others, probabilities=p_digits)
    with pytest.raises(ValueError, match="one row of probabilities for each row"):
        cal.NotADigit.cross_fitted(
            digits, labels, writers % 4, others, probabilities=p_digits[1:], other_probabilities=p_others
        )


def test_the_detector_that_reads_the_confidence_survives_storage(tmp_path):
    rng = np.random.default_rng(12)
    digits, labels, writers = writers_digits(range(4), 200, rng)
    p_digits, others, p_others = unsure_others(rng, digits, labels)
    det = cal.NotADigit.cross_fitted(
        digits,
        labels,
        writers,
        others,
        max_refused=0.02,
        probabilities=p_digits,
        other_probabilities=p_others,
    )
    det.save_statistics(tmp_path / "m.ood.npz")
    entry = json.loads(json.dumps(det.card_entry("m.ood.npz")))
    assert "confidence" in entry["method"]
    back = cal.NotADigit.load(entry, tmp_path / "m.keras")
    assert back.reads_confidence
    probe, p_probe = np.concatenate([digits, others]), np.concatenate([p_digits, p_others])
    np.testing.assert_array_equal(back.refuses(probe, p_probe), det.refuses(probe, p_probe))


def test_the_detector_also_learns_digits_written_narrower_wider_or_more_slanted():
    """calibrate_model.reshaped: the same digit and writer, its width scaled within RESHAPED_ASPECT
    and slanted within RESHAPED_SHEAR, its height as it was."""
    from digitdraw import calibrate_model as cm
    from digitdraw import pendigits

    seven = pendigits.PenDigit(7, 3, [np.array([[100, 100], [400, 100], [220, 450]], float)])
    out = cm.reshaped([seven], np.random.default_rng(0), 200)
    assert len(out) == 200 and {(d.label, d.writer) for d in out} == {(7, 3)}
    widths = np.array([np.ptp(d.strokes[0][:2, 0]) for d in out]) / 300  # the bar's width, was 300
    lo, hi = cm.RESHAPED_ASPECT
    assert lo - 1e-9 <= widths.min() < 0.5 and 1.3 < widths.max() <= hi + 1e-9
    heights = [np.ptp(d.strokes[0][:, 1]) for d in out]
    np.testing.assert_allclose(heights, 350.0)
    # How far the foot moved sideways beyond the width's scaling: the slant, over the 350 high.
    slants = np.array([d.strokes[0][2, 0] - d.strokes[0][0, 0] for d in out]) - 120 * widths
    assert np.abs(slants).max() <= cm.RESHAPED_SHEAR * 350 + 1e-6 and np.abs(slants).max() > 100


@needs_pendigits
def test_calibrate_adds_its_two_entries_to_the_card_and_can_run_again(tmp_path, pendigits_file):
    import keras

    from digitdraw import architectures, calibrate_model, modelio
    from digitdraw.predict import Predictor, weights_digest

    keras.utils.set_random_seed(0)
    model = architectures.build("dense")
    card = {"name": "m", "architecture": "dense", "test_accuracy": 0.5, "zz": [1, 2]}
    path = modelio.save(model, tmp_path / "m.keras", card)
    for _ in range(2):  # re-runnable: the second run replaces what the first wrote
        calibrate_model.calibrate_file(path, pendigits_file, every=15, train_nondigits=60)
        stored = modelio.read_card(path)
        assert list(stored) == [*card, "calibration", "not_a_digit"]
        assert {k: stored[k] for k in card} == card
        c = stored["calibration"]
        assert set(c) >= {"temperature", "fitted_on", "ece_before", "ece_after"} and c["temperature"] > 0
        assert c["weights"] == weights_digest(model) and "writers 25-30" in c["fitted_on"]
        nd = stored["not_a_digit"]
        assert nd["max_refused"] in calibrate_model.MAX_REFUSED_CANDIDATES
        assert nd["refused_on_fit"] <= nd["max_refused"] and "left-out writers" in nd["max_refused_chosen_by"]
        # The thresholds never see the writers the benchmark reports on.
        assert "writers 1-24" in stored["not_a_digit"]["thresholds_fitted_on"]
        assert "distorted" in stored["not_a_digit"]["thresholds_fitted_on"]
        # Digits in every handwriting style count as digits (a slashed zero is no ring with a mark).
        assert "in each handwriting style" in stored["not_a_digit"]["thresholds_fitted_on"]
        assert (tmp_path / "m.ood.npz").is_file()
    loaded = Predictor.from_file(path)
    assert loaded.temperature == pytest.approx(stored["calibration"]["temperature"])
    assert loaded.detector is not None and loaded.detector.reads_confidence


def test_calibrate_without_pendigits_says_where_it_looked(tmp_path, capsys, monkeypatch):
    from digitdraw import cli

    monkeypatch.delenv(config.PENDIGITS_ENV, raising=False)
    code = cli.main(["calibrate", "dense", "--pendigits", str(tmp_path / "none.jsonl")])
    assert code == 2 and "calibrate needs the pendigits file" in capsys.readouterr().err
