"""Looking inside a model: the numbers behind the Inspect page, with no Streamlit in sight.

Layer tables, feature maps, filters, first-layer weights as images, saliency maps, and
where two models disagree. Images come back as float arrays; `tile_grid` and
`diverging_rgb` turn them into pictures.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from digitdraw import ensemble
from digitdraw.data import to_model_input


def _shape_text(shape) -> str:
    """(None, 14, 14, 32) -> "14 × 14 × 32"; the batch axis says nothing here."""
    dims = tuple(shape)[1:] if shape is not None else ()
    return " × ".join(str(d) for d in dims) or "scalar"


def _member(layer: keras.Layer) -> int | None:
    """The ensemble member a layer belongs to (m1_conv1 -> 1); None for a plain model's layers."""
    member = ensemble.member_of(layer.name)
    return member[0] if member else None


def _reading_order(model: keras.Model) -> list[keras.Layer]:
    """The layers as a person reads them: an ensemble's member by member (Keras orders them by depth)."""

    def group(layer: keras.Layer) -> int:
        if isinstance(layer, keras.layers.InputLayer):
            return -1
        member = _member(layer)
        return len(model.layers) if member is None else member  # what joins the members: last

    return sorted(model.layers, key=group)  # stable: depth order within a member


def layer_rows(model: keras.Model) -> list[dict]:
    """One row per layer: name, type, output shape (without the batch axis), parameters."""
    rows = []
    for layer in _reading_order(model):
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a layer never called has no output
            shape = None
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": _shape_text(shape),
                "parameters": int(layer.count_params()),
            }
        )
    return rows


def conv_layers(model: keras.Model) -> list[keras.layers.Conv2D]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


_BLOCK_ENDS = (
    keras.layers.Conv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.Flatten,
)


def _block_output(model: keras.Model, conv: keras.layers.Conv2D) -> keras.layers.Layer:
    """The layer whose output is `conv`'s feature map as the next block sees it: the first
    Activation/ReLU after it (past BatchNormalization), else the convolution itself.

    Walked in reading order, within `conv`'s own ensemble member: `model.layers` is in depth
    order across members (m0_conv1, m1_conv1, m0_bn1, ...), where the next ReLU is another's."""
    layers = _reading_order(model)
    for layer in layers[layers.index(conv) + 1 :]:
        if isinstance(layer, _BLOCK_ENDS) or _member(layer) != _member(conv):
            break
        if isinstance(layer, keras.layers.Activation | keras.layers.ReLU):
            return layer
    return conv


def feature_maps(
    model: keras.Model, image: np.ndarray, *, after_activation: bool = True
) -> dict[str, np.ndarray]:
    """{label: (h, w, channels)} for each convolution layer, for one 28x28 image.

    With `after_activation` each map is taken after the block's batch norm and ReLU
    ("conv1 → relu1"): what the next layer actually receives.
    """
    convs = conv_layers(model)
    if not convs:
        return {}
    taps = [_block_output(model, c) if after_activation else c for c in convs]
    # The single input tensor, not the list: a list-input model warns when called on a bare tensor.
    probe = keras.Model(model.inputs[0], [t.output for t in taps])
    outputs = probe(to_model_input(image).reshape(1, 28, 28), training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    maps = {}
    for conv, tap, out in zip(convs, taps, outputs, strict=True):
        label = conv.name if tap is conv else f"{conv.name} → {tap.name}"
        maps[label] = np.asarray(out)[0]
    return maps


def first_layer_filters(model: keras.Model) -> np.ndarray | None:
    """The first convolution's kernels as (filters, kh, kw) over the one input channel; None without one."""
    convs = conv_layers(model)
    if not convs:
        return None
    kernel = np.asarray(convs[0].get_weights()[0])  # (kh, kw, in, out)
    return np.moveaxis(kernel[:, :, 0, :], -1, 0)


def dense_weight_tiles(model: keras.Model) -> np.ndarray | None:
    """Weights of the first Dense layer that reads the raw pixels, as (units, 28, 28); else None.

    Each tile shows which pixels push that unit up (positive) or down (negative).
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return None  # its dense layers read feature maps, not pixels
        if isinstance(layer, keras.layers.Dense):
            kernel = np.asarray(layer.get_weights()[0])  # (784, units)
            if kernel.shape[0] != 28 * 28:
                return None
            return kernel.T.reshape(-1, 28, 28)
    return None


def saliency(model: keras.Model, image: np.ndarray, digit: int | None = None) -> tuple[np.ndarray, int]:
    """|d log p(digit) / d pixel| for one image, scaled to [0, 1]; `digit` defaults to the prediction.

    Returns (map (28, 28), digit). Bright pixels are those whose change would move the
    model's belief in that digit the most. The log keeps the gradient alive when the model
    is 100% sure, where the probability itself is flat and its gradient mostly noise.
    """
    x = tf.constant(to_model_input(image).reshape(1, 28, 28))
    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = model(x, training=False)
        if digit is None:
            digit = int(tf.argmax(probs[0]))
        target = tf.math.log(probs[0, digit] + 1e-12)
    grad = np.abs(np.asarray(tape.gradient(target, x))[0])
    top = grad.max()
    return (grad / top if top > 0 else grad).astype(np.float32), int(digit)


def disagreements(probs_a: np.ndarray, probs_b: np.ndarray) -> np.ndarray:
    """Indices where two models' answers differ, the ones they are surest about first."""
    a, b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    idx = np.flatnonzero(a != b)
    sureness = np.maximum(probs_a[idx, a[idx]], probs_b[idx, b[idx]])
    return idx[np.argsort(-sureness, kind="stable")]


def class_samples(images: np.ndarray, labels: np.ndarray, per_class: int = 10, seed: int = 0) -> np.ndarray:
    """(10, per_class, 28, 28): random examples of each digit (fewer classes than asked: zeros)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((10, per_class, *images.shape[1:]), images.dtype)
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        if len(idx):
            pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False)
            out[digit, : len(pick)] = images[pick]
    return out


def class_counts(labels: np.ndarray) -> np.ndarray:
    return np.bincount(np.asarray(labels).astype(int), minlength=10)


# -- Pictures ------------------------------------------------------------------------------


def normalize(a: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """Scale to [0, 1]; symmetric puts zero at 0.5 (weights, where the sign matters)."""
    a = np.asarray(a, np.float32)
    if symmetric:
        top = np.abs(a).max()
        return 0.5 + 0.5 * a / top if top > 0 else np.full_like(a, 0.5)
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def diverging_rgb(a: np.ndarray) -> np.ndarray:
    """Signed values -> uint8 RGB: negative blue, zero white, positive red (scaled by the largest |a|)."""
    a = np.asarray(a, np.float32)
    top = np.abs(a).max()
    t = a / top if top > 0 else np.zeros_like(a)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    r = 1 - neg
    g = 1 - np.maximum(pos, neg)
    b = 1 - pos
    return (np.stack([r, g, b], axis=-1) * 255).round().astype(np.uint8)


def tile_grid(tiles: np.ndarray, cols: int, pad: int = 1, fill: float | int = 0) -> np.ndarray:
    """(n, h, w[, c]) tiles -> one image with `cols` tiles a row and `pad` pixels between them."""
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    rows = max(1, -(-n // cols))
    shape = (rows * (h + pad) - pad, cols * (w + pad) - pad, *tiles.shape[3:])
    grid = np.full(shape, fill, tiles.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tiles[i]
    return grid


def saliency_overlay(image: np.ndarray, saliency_map: np.ndarray) -> np.ndarray:
    """uint8 RGB: the input dimmed in grey, the saliency on top in orange-red."""
    base = to_model_input(image).reshape(28, 28) * 0.45
    s = np.clip(np.asarray(saliency_map, np.float32), 0, 1)
    rgb = np.stack([np.maximum(base, s), np.maximum(base, s * 0.45), base * (1 - s)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


PATH_START, PATH_END = (0, 104, 201), (255, 135, 0)  # the page's two series colours: blue, orange


def path_picture(sequence: np.ndarray, side: int = 168) -> np.ndarray:
    """A pen-path reader's input (digitdraw.penpath.sequence: POINTS points of x, y, direction, pen
    down) -> a `side` x `side` uint8 RGB picture of it, white behind: each point a dot, joined where
    the pen was down in a colour going from blue (where it began, ringed) to orange (where it was
    lifted the last time), and by a thin grey line where it jumped to its next stroke."""
    import cv2  # the app's own dependency; only this picture draws lines

    seq = np.asarray(sequence, np.float32)
    n = len(seq)
    margin = side * 0.1
    xy = (seq[:, :2] + 0.5) * (side - 2 * margin) + margin  # the sequence spans -0.5..0.5
    pts = np.round(xy).astype(np.int32)
    shade = [
        tuple(int(round(a + (b - a) * i / max(n - 1, 1))) for a, b in zip(PATH_START, PATH_END, strict=True))
        for i in range(n)
    ]
    out = np.full((side, side, 3), 255, np.uint8)
    width = max(1, side // 56)
    for i in range(n - 1):
        a, b = tuple(map(int, pts[i])), tuple(map(int, pts[i + 1]))
        if seq[i, 4] > 0.5:
            cv2.line(out, a, b, shade[i], width + 1, cv2.LINE_AA)
        else:
            cv2.line(out, a, b, (190, 190, 190), 1, cv2.LINE_AA)
    for i in range(n):
        cv2.circle(out, tuple(map(int, pts[i])), width + 1, shade[i], -1, cv2.LINE_AA)
    cv2.circle(out, tuple(map(int, pts[0])), width * 4 + 2, PATH_START, width, cv2.LINE_AA)
    return out
