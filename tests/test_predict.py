"""Specification of prediction: the Predictor gives the model's own answer, fast and thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import ONE, SEVEN

from digitdraw import architectures, calibration, modelio, predict, reading
from digitdraw.predict import Prediction, Predictor, weights_digest


@pytest.fixture(scope="module", params=["dense", "cnn"])
def model(request):
    keras.utils.set_random_seed(7)
    return architectures.build(request.param)


@pytest.fixture(scope="module")
def predictor(model):
    return Predictor(model)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)


def test_matches_calling_the_model(model, predictor, images):
    x = images.astype(np.float32) / 255.0
    expected = np.asarray(model(x, training=False))
    np.testing.assert_allclose(predictor.probabilities(images), expected, rtol=1e-5, atol=1e-6)


def test_trained_model_matches_too(trained_dense, mnist):
    model = trained_dense.model
    x = mnist.x_test[:100].astype(np.float32) / 255.0
    got = Predictor(model).probabilities(mnist.x_test[:100])
    np.testing.assert_allclose(got, np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)
    assert (got.argmax(1) == mnist.y_test[:100]).mean() > 0.8


def test_single_image(predictor, images):
    one = predictor.probabilities(images[5])
    assert one.shape == (1, 10) and one.dtype == np.float32
    np.testing.assert_allclose(one[0], predictor.probabilities(images)[5], rtol=1e-5, atol=1e-6)


def test_predict_one(predictor, images):
    p = predictor.predict_one(images[0])
    assert isinstance(p, Prediction)
    probs = predictor.probabilities(images[:1])[0]
    assert p.digit == int(np.argmax(probs)) and 0 <= p.digit <= 9
    assert p.confidence == pytest.approx(float(probs.max()))
    assert p.probabilities.shape == (10,)
    assert float(p.probabilities.sum()) == pytest.approx(1.0, abs=1e-5)
    d = p.as_dict()
    assert set(d) == {"digit", "probabilities"} and len(d["probabilities"]) == 10
    assert all(isinstance(v, float) for v in d["probabilities"])


def test_batch_larger_than_one_chunk(predictor):
    n = Predictor.BATCH + 37
    x = np.random.default_rng(1).random((n, 28, 28), dtype=np.float32)
    got = predictor.probabilities(x)
    assert got.shape == (n, 10)
    np.testing.assert_allclose(got[-37:], predictor.probabilities(x[-37:]), rtol=1e-5, atol=1e-6)


def test_empty_batch(predictor):
    assert predictor.probabilities(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uint8_and_float_in_0_1_give_the_same_answer(predictor, images, dtype):
    as_float = images.astype(dtype) / 255.0
    np.testing.assert_allclose(
        predictor.probabilities(images), predictor.probabilities(as_float), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("shape", [(28,), (28, 27), (2, 32, 32), (1, 28, 28, 1), (28, 28, 3)], ids=str)
def test_wrong_shape_is_a_value_error(predictor, shape):
    with pytest.raises(ValueError, match="28x28"):
        predictor.probabilities(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="28x28"):
        predictor.predict_one(np.zeros(shape, np.uint8))


def test_name_defaults_to_the_model_name(model):
    assert Predictor(model).name == model.name
    assert Predictor(model, name="mine").name == "mine"


def test_never_calls_model_predict(model, images, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("model.predict() was called")

    monkeypatch.setattr(model, "predict", forbidden)
    p = Predictor(model)
    p.predict_one(images[0])
    p.probabilities(images)


def test_eight_threads_give_the_sequential_answers(predictor, images):
    sequential = [predictor.predict_one(img) for img in images]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(predictor.predict_one, images))
        batches = list(pool.map(predictor.probabilities, [images] * 8))
    for s, c in zip(sequential, concurrent, strict=True):
        assert s.digit == c.digit
        np.testing.assert_allclose(s.probabilities, c.probabilities, rtol=1e-5, atol=1e-6)
    for batch in batches:
        np.testing.assert_allclose(batch, batches[0], rtol=1e-6, atol=1e-7)


def test_eight_threads_building_predictors_at_once(model, images):
    """Several sessions may open the same model at the same moment."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        predictors = list(pool.map(lambda _: Predictor(model), range(8)))
        answers = list(pool.map(lambda p: p.probabilities(images[:4]), predictors))
    for a in answers:
        np.testing.assert_allclose(a, answers[0], rtol=1e-6, atol=1e-7)


# -- one call: probabilities and features; calibration -------------------------------------------


def test_one_call_gives_the_probabilities_and_the_penultimate_features(model, predictor, images):
    out = predictor.outputs(images)
    features = keras.Model(model.inputs[0], model.get_layer("dense_128").output)
    x = images.astype(np.float32) / 255.0
    np.testing.assert_allclose(out.features, np.asarray(features(x, training=False)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.probabilities, out.raw, atol=0)  # no temperature: as the model says
    assert out.not_a_digit is None  # no detector


def test_a_temperature_is_applied_to_every_probability(model, images):
    plain, warm = Predictor(model), Predictor(model, temperature=3.0)
    raw = plain.probabilities(images)
    got = warm.probabilities(images)
    np.testing.assert_allclose(got, calibration.scale(raw, 3.0), atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(axis=1), raw.argmax(axis=1))
    one = warm.predict_one(images[0])
    assert one.confidence == pytest.approx(float(got[0].max()), abs=1e-6)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Predictor(model, temperature=0.0)


def test_the_card_calibration_round_trips_and_is_dropped_for_other_weights(model, images, tmp_path):
    path = modelio.save(model, tmp_path / "m.keras", card={"name": "m"})
    rng = np.random.default_rng(0)
    digits, odd = rng.normal(size=(300, 128)), rng.normal(size=(300, 128)) + 2
    # Sure answers for digits, flat ones for non-digits: the detector reads the confidence too.
    digit_p, odd_p = rng.dirichlet(np.full(10, 0.1), 300), rng.dirichlet(np.full(10, 5.0), 300)
    det = calibration.NotADigit.cross_fitted(
        digits, np.arange(300) % 10, np.arange(300) % 3, odd, probabilities=digit_p, other_probabilities=odd_p
    )
    assert det.reads_confidence
    det.save_statistics(tmp_path / "m.ood.npz")
    card = {
        "name": "m",
        "calibration": {"temperature": 2.0, "weights": weights_digest(model)},
        "not_a_digit": det.card_entry("m.ood.npz"),
    }
    modelio.write_json(modelio.card_path(path), card)
    loaded = Predictor.from_file(path)
    assert loaded.name == "m" and loaded.temperature == 2.0
    out = loaded.outputs(images)
    np.testing.assert_allclose(out.probabilities, calibration.scale(out.raw, 2.0), atol=1e-6)
    # The Predictor passes the model's raw probabilities to the detector with the features.
    np.testing.assert_array_equal(out.not_a_digit, det.refuses(out.features, out.raw))
    np.testing.assert_array_equal(loaded.detector.refuses(odd, odd_p), det.refuses(odd, odd_p))
    # Retrained (other weights) but not calibrated again: the stale calibration is not used.
    card["calibration"]["weights"] = "0" * 16
    modelio.write_json(modelio.card_path(path), card)
    stale = Predictor.from_file(path)
    assert stale.temperature == 1.0 and stale.detector is None
    # No calibration at all: the model's own probabilities.
    modelio.write_json(modelio.card_path(path), {"name": "m"})
    assert Predictor.from_file(path).temperature == 1.0


# ----------------------------------------------------------------- several models as one call


@pytest.fixture(scope="module")
def shipped() -> list[Predictor]:
    """The Draw page's two models: calibrated, with their detectors and the pen-path reader they share."""
    return list(reading.load_predictors(["dense", "cnn"]).values())


def same_outputs(a: predict.Outputs, b: predict.Outputs) -> bool:
    fields = ("probabilities", "raw", "features", "not_a_digit", "pen_path")
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)


def nearly_same_outputs(a: predict.Outputs, b: predict.Outputs) -> bool:
    """The same answers and refusals, the numbers equal but for float32's last bits (XLA's fused sums)."""
    # Probabilities to 1e-6; the features (ReLU outputs up to about 40) to 1e-4.
    tolerance = {"probabilities": 1e-6, "raw": 1e-6, "features": 1e-4}
    close = all(np.allclose(getattr(a, f), getattr(b, f), rtol=1e-5, atol=t) for f, t in tolerance.items())
    flags = all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("not_a_digit", "pen_path"))
    return close and flags and np.array_equal(a.probabilities.argmax(1), b.probabilities.argmax(1))


@pytest.mark.parametrize("with_paths", [True, False], ids=["some with pen paths", "pixels alone"])
def test_models_read_as_one_call_answer_as_each_alone(shipped, images, with_paths, monkeypatch):
    x = images[:5]
    drawn = [[SEVEN[0] * 0.4], None, [ONE[0] * 0.4], [SEVEN[0] * 0.3, ONE[0] * 0.2], []]  # None, []: no path
    paths = drawn if with_paths else None
    first = paths[:1] if paths else None
    alone = [p.outputs(x, paths) for p in shipped]
    alone_first = [p.outputs(x[:1], first) for p in shipped]
    predict.prepare_together(shipped)
    for p in shipped:  # from here on, only the one call may run
        monkeypatch.setattr(p, "_fn", lambda _: pytest.fail("a model was called on its own"))
    # Several digits: the same to the bit.
    for got, expected in zip(predict.outputs_together(shipped, x, paths), alone, strict=True):
        assert same_outputs(got, expected)
    # One digit, through the call XLA compiled: the same answers, the numbers to float32's last bits.
    for got, expected in zip(predict.outputs_together(shipped, x[:1], first), alone_first, strict=True):
        assert nearly_same_outputs(got, expected)


@pytest.mark.parametrize("with_paths", [True, False], ids=["with its pen path", "pixels alone"])
def test_a_single_digit_goes_through_the_call_xla_compiled(shipped, images, with_paths, monkeypatch):
    predict.prepare_together(shipped)
    reader = predict._shared_reader(shipped) if with_paths else None
    key = (tuple(shipped), reader)
    single = predict._PREPARED[key].single
    assert single is not None, "this TensorFlow compiles with XLA on the CPU"
    fail = lambda *_: pytest.fail("the general call read a single digit")  # noqa: E731
    monkeypatch.setitem(predict._PREPARED, key, predict._Joint(fail, single))
    paths = [[SEVEN[0] * 0.4]] if with_paths else None
    got = predict.outputs_together(shipped, images[:1], paths)
    assert [g.probabilities.shape for g in got] == [(1, 10), (1, 10)]


def test_without_xla_a_single_digit_is_read_by_the_general_call(shipped, images, monkeypatch):
    # A TensorFlow build that cannot compile for this device: the page reads as before, not fails.
    real = predict._traced

    def no_xla(predictors, reader, batch, xla):
        if xla:
            raise tf.errors.InvalidArgumentError(None, None, "no XLA here")
        return real(predictors, reader, batch, xla)

    monkeypatch.setattr(predict, "_PREPARED", predict.OrderedDict())
    monkeypatch.setattr(predict, "_traced", no_xla)
    predict.prepare_together(shipped)
    assert all(joint.single is None for joint in predict._PREPARED.values())
    expected = [p.outputs(images[:1]) for p in shipped]
    got = predict.outputs_together(shipped, images[:1])
    assert all(same_outputs(g, e) for g, e in zip(got, expected, strict=True))


def test_models_not_prepared_together_are_each_called_on_their_own(shipped, images, monkeypatch):
    # The CLI reads one drawing and ends: tracing one call for it would cost more than it saves.
    others = shipped[::-1]  # another set: never prepared
    expected = [p.outputs(images[:2]) for p in others]
    calls = []
    for p in others:
        monkeypatch.setattr(p, "_fn", lambda x, fn=p._fn: calls.append(1) or fn(x))
    got = predict.outputs_together(others, images[:2])
    assert len(calls) == 2 and all(same_outputs(g, e) for g, e in zip(got, expected, strict=True))


def test_models_read_together_need_a_pen_path_for_each_image_or_none(shipped, images):
    predict.prepare_together(shipped)
    with pytest.raises(ValueError, match="pen paths for"):
        predict.outputs_together(shipped, images[:3], [[SEVEN[0]]])
