"""Specification of digitdraw.introspect: the numbers the Inspect page draws.

Untrained models built from the registry are enough here (no data needed); where a value
must be exactly right, the weights are set by hand so the answer is known in advance.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitdraw import architectures, ensemble, introspect


@pytest.fixture(scope="module", params=architectures.APIS)
def cnn(request):
    return architectures.build("cnn", request.param)


@pytest.fixture(scope="module")
def dense():
    return architectures.build("dense")


def digit_like(seed: int = 0) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0  # a "1"
    image += np.random.default_rng(seed).random((28, 28)).astype(np.float32) * 0.05
    return image


def test_layer_table_lists_every_layer_with_shape_and_parameters(cnn, dense):
    rows = introspect.layer_rows(dense)
    assert [r["layer"] for r in rows] == ["flatten", "dense_128", "probabilities"]
    assert [r["output shape"] for r in rows] == ["784", "128", "10"]
    assert [r["parameters"] for r in rows] == [0, 784 * 128 + 128, 128 * 10 + 10]

    rows = {r["layer"]: r for r in introspect.layer_rows(cnn)}
    assert rows["conv1"]["type"] == "Conv2D" and rows["conv1"]["output shape"] == "28 × 28 × 32"
    assert rows["pool2"]["output shape"] == "7 × 7 × 64"
    assert sum(r["parameters"] for r in rows.values()) == cnn.count_params()


def test_feature_maps_are_taken_after_each_block_activation(cnn):
    maps = introspect.feature_maps(cnn, digit_like())
    assert {k: v.shape for k, v in maps.items()} == {
        "conv1 → relu1": (28, 28, 32),
        "conv2 → relu2": (14, 14, 64),
    }
    assert all((m >= 0).all() for m in maps.values())  # after a ReLU


def test_raw_feature_maps_equal_the_convolution_by_hand():
    model = architectures.build("cnn")
    conv1 = model.get_layer("conv1")
    kernel = np.zeros((3, 3, 1, 32), np.float32)
    kernel[1, 1, 0, 0] = 1.0  # filter 0: identity
    kernel[1, 2, 0, 1] = 1.0  # filter 1: each pixel takes its right-hand neighbour
    conv1.set_weights([kernel])
    image = digit_like()
    maps = introspect.feature_maps(model, image, after_activation=False)
    first = maps["conv1"]
    np.testing.assert_allclose(first[..., 0], image, atol=1e-6)
    shifted = np.zeros_like(image)
    shifted[:, :-1] = image[:, 1:]
    np.testing.assert_allclose(first[..., 1], shifted, atol=1e-6)
    assert not first[..., 2:].any()


def test_dense_models_have_no_feature_maps_or_filters(dense):
    assert introspect.feature_maps(dense, digit_like()) == {}
    assert introspect.first_layer_filters(dense) is None


def test_first_layer_filters_are_the_conv1_kernels(cnn):
    filters = introspect.first_layer_filters(cnn)
    kernel = cnn.get_layer("conv1").get_weights()[0]
    assert filters.shape == (32, 3, 3)
    np.testing.assert_array_equal(filters[7], kernel[:, :, 0, 7])


def test_dense_weight_tiles_show_each_units_pixel_weights(dense, cnn):
    tiles = introspect.dense_weight_tiles(dense)
    kernel = dense.get_layer("dense_128").get_weights()[0]
    assert tiles.shape == (128, 28, 28)
    np.testing.assert_array_equal(tiles[5].ravel(), kernel[:, 5])  # row-major, as Flatten reads
    assert introspect.dense_weight_tiles(cnn) is None  # its dense layers read feature maps


def test_saliency_lights_up_exactly_the_pixels_the_answer_depends_on():
    # A model whose digit-3 score reads only pixel (10, 20): the saliency must be that pixel alone.
    model = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    kernel = np.zeros((784, 10), np.float32)
    kernel[10 * 28 + 20, 3] = 5.0
    model.layers[-1].set_weights([kernel, np.zeros(10, np.float32)])
    image = np.zeros((28, 28), np.float32)
    image[10, 20] = 1.0

    sal, digit = introspect.saliency(model, image)
    assert digit == 3
    assert sal.shape == (28, 28) and sal.max() == 1.0
    assert sal[10, 20] == 1.0
    # Every other pixel only moves digit 3 through the softmax's shared denominator: zero here.
    others = sal.copy()
    others[10, 20] = 0
    assert others.max() == 0

    sal7, digit7 = introspect.saliency(model, image, digit=7)
    assert digit7 == 7 and sal7[10, 20] == 1.0  # digit 7 falls as pixel (10, 20) rises


def test_disagreements_are_where_the_answers_differ_surest_first():
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    b = np.array([[0.9, 0.1], [0.7, 0.3], [0.45, 0.55], [0.99, 0.01]])
    assert introspect.disagreements(a, b).tolist() == [3, 1, 2]
    assert introspect.disagreements(a, a).tolist() == []


def test_class_samples_and_counts():
    labels = np.array([0, 1, 1, 2, 2, 2], np.uint8)
    images = np.stack([np.full((28, 28), i, np.uint8) for i in range(6)])
    grid = introspect.class_samples(images, labels, per_class=2)
    assert grid.shape == (10, 2, 28, 28)
    assert set(grid[1, :, 0, 0]) == {1, 2}  # both ones
    assert set(grid[2, :, 0, 0]) <= {3, 4, 5}
    assert grid[0, 1].max() == 0 and grid[9].max() == 0  # missing examples stay black
    assert introspect.class_counts(labels).tolist() == [1, 2, 3, 0, 0, 0, 0, 0, 0, 0]


def test_pictures_tile_and_colour_as_documented():
    tiles = np.arange(3 * 2 * 2).reshape(3, 2, 2)
    grid = introspect.tile_grid(tiles, cols=2, pad=1, fill=-1)
    assert grid.shape == (5, 5)
    np.testing.assert_array_equal(grid[3:5, 0:2], tiles[2])
    assert grid[2].tolist() == [-1] * 5 and grid[3:, 3:].tolist() == [[-1, -1], [-1, -1]]

    rgb = introspect.diverging_rgb(np.array([[-2.0, 0.0, 1.0]]))
    assert rgb[0, 0].tolist() == [0, 0, 255]  # most negative: blue
    assert rgb[0, 1].tolist() == [255, 255, 255]  # zero: white
    assert rgb[0, 2].tolist() == [255, 128, 128]  # half the largest magnitude: light red

    np.testing.assert_allclose(
        introspect.normalize(np.array([-1.0, 0.0, 3.0]), symmetric=True), [0.5 - 1 / 6, 0.5, 1.0]
    )


def test_each_ensemble_members_feature_maps_are_its_own_block_outputs():
    # Keras orders an ensemble's layers by depth across members (m0_conv1, m1_conv1, m0_bn1, ...):
    # each member's row must still be that member's own conv -> batch norm -> ReLU.
    members = [architectures.build("cnn", "functional") for _ in range(2)]
    model = ensemble.combine(members, "cnn")
    image = digit_like()
    maps = introspect.feature_maps(model, image)
    assert list(maps) == [
        "m0_conv1 → m0_relu1",
        "m1_conv1 → m1_relu1",
        "m0_conv2 → m0_relu2",
        "m1_conv2 → m1_relu2",
    ]
    x = image.reshape(1, 28, 28)
    for i, member in enumerate(members):
        for block in (1, 2):
            alone = keras.Model(member.inputs[0], member.get_layer(f"relu{block}").output)(x, training=False)
            shown = maps[f"m{i}_conv{block} → m{i}_relu{block}"]
            np.testing.assert_allclose(shown, np.asarray(alone)[0], atol=1e-5)


def test_the_path_picture_shows_where_the_pen_began_and_ended_and_where_it_jumped():
    from digitdraw import penpath

    bar, stem = np.array([[0.0, 0], [100, 0]]), np.array([[100.0, 20], [100, 100]])  # drawn apart
    picture = introspect.path_picture(penpath.sequence([bar, stem]), side=168)
    assert picture.shape == (168, 168, 3) and picture.dtype == np.uint8
    seq = penpath.sequence([bar, stem])
    at = ((seq[:, :2] + 0.5) * (168 * 0.8) + 168 * 0.1).round().astype(int)
    (x0, y0), (x1, y1) = at[0], at[-1]
    start, end = picture[y0, x0].astype(int), picture[y1, x1].astype(int)
    assert start[2] > start[0] and end[0] > end[2]  # blue where it began, orange where it ended
    gap = at[np.flatnonzero(seq[:, 4] < 0.5)[0]]  # a point on the jump between the strokes
    assert (picture[gap[1], gap[0]] < 255).any()  # drawn, in grey
    assert (picture == 255).all(axis=2).mean() > 0.8  # mostly paper
