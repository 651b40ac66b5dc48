"""Specification of prediction: the Predictor gives the model's own answer, fast and thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from digitdraw import architectures
from digitdraw.predict import Prediction, Predictor


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
