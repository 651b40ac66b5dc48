"""The pen's path as a second witness: a drawing's strokes -> a short sequence, and the small
1-D convolutional network that reads it.

A picture loses what the pen knew: where each stroke began, which way it went, where the pen was
lifted. A 1 with a long flag and a 7, a 4 and a 9, an open 6 and a 0 often differ more in how
they were drawn than in their pixels. Where the Draw page or `predict --strokes` knows the
strokes, a model's answer is its probabilities pooled with this network's (`combine`: a weighted
product, one vote for the pixels and `weight` for the path; a sure pixel answer stands); an image
file or a photo has no strokes and is read from its pixels alone.

The sequence: the strokes joined into one line (the jumps between strokes marked "pen up"),
centred on their box, scaled by its longer side, thinned to points at least MIN_STEP apart (a shaky
hand's or a fine-grained pen's tremor is not the line's direction), and resampled to POINTS points
at equal steps along the line; each point holds x, y, the line's direction there (a unit vector)
and whether the pen was down. Nothing depends on where or how big the digit was drawn, with what
pen, or how many points a second it reported.

Trained by `digitdraw penpath` (digitdraw.cli) on the pen digits of writers 1-24, each also
reshaped (pendigits.distort), redrawn in every handwriting style of its class (digitdraw.styles),
and sometimes with its strokes in another order or direction or its loops round the other way, as
other people draw them, broken by a brief lift, or denser and shakier, as other hands and pens give
them. The shipped models share one reader, named in both cards.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from digitdraw import modelio, pendigits, styles

POINTS = 64
FEATURES = 5  # x, y, direction x, direction y, pen down
EPOCHS = 20
BATCH = 128
WEIGHT = 0.5  # the path's vote beside the pixels' one (chosen on writers 19-24; checked again in
# the twenty-ninth session, 0.25-1.5: docs/experiments.md)
REORDER = 0.3  # the chance a reshaped training digit's strokes are reordered (see `reordered`)
SHAKE = 0.5  # the chance a reshaped training digit is drawn denser and shakier (see `shaken`)
SHAKE_NOISE = 0.012  # the most noise `shaken` adds, a share of the drawing's size
LIFT = 0.3  # the chance a reshaped training digit's strokes are broken by brief lifts (see `lifted`)
LOOPS = 0.3  # the chance a reshaped training digit's loops go round the other way (see `loops_reversed`)
MIN_STEP = 0.03  # of the drawing's longer side: closer points are one point to the path (see `spaced`)
TAP = 0.01  # a stroke smaller than this share of the drawing's size (its longer side) is a tap
PIXELS_SURE = 0.95  # the pixels' answer at least this sure stands against the path (see combine;
# re-checked in the twenty-ninth session with two readers: from 0.9 to no gate, the cnn's errors on
# writers 19-24 within 8 and 14 of 19,176 drawings, 0.95 among the fewest, docs/experiments.md)
AGREE = 0.03  # unsure pixels and the path less likely than this to name the same digit: none (`disagree`)
SUFFIX = modelio.PENPATH_SUFFIX  # beside the model whose answers it joins


def sequence(strokes: Sequence[np.ndarray | Sequence]) -> np.ndarray:
    """One drawing's strokes (each (n, 2) points, in drawing order) -> (POINTS, FEATURES) float32.

    ValueError when no stroke has a point."""
    paths = pendigits.as_strokes(strokes, needs="the pen's path")
    # A tap beside the strokes (a finger that touched the screen again, a dot) is left out: the jump
    # to it and back took a share of the points along the path from the digit itself, and one tap at
    # the start of a 9, after it was drawn, made it a 7 (qa27). 3 of pendigits' 7,494 drawings have
    # one. Only taps: leaving out strokes under 4% of the size too (short pieces of strokes a pen
    # broke by skipping) read writers 1-24's skipped drawings 12 times worse in 47,968 readings; at
    # 1%, as many right as before (bench/whole_reading.py --writers 1-24).
    size = float(np.max(np.ptp(np.concatenate(paths), axis=0)))
    drawn = [p for p in paths if float(np.max(np.ptp(p, axis=0))) >= TAP * size]
    paths = drawn or paths
    # A tap alone is a stroke of one point: a dot half a unit long, so that it has a direction.
    paths = [np.vstack([p, p + 0.5]) if len(p) == 1 else p for p in paths]
    points = np.concatenate(paths)
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre, size = (lo + hi) / 2, max(float(np.max(hi - lo)), 1e-6)
    paths = [spaced((p - centre) / size, MIN_STEP) for p in paths]
    p = np.concatenate(paths)
    down = np.ones(len(p) - 1)  # per segment: drawn (1) or the jump to the next stroke (0)
    down[np.cumsum([len(q) for q in paths])[:-1] - 1] = 0.0
    step = np.maximum(np.linalg.norm(np.diff(p, axis=0), axis=1), 1e-6)
    along = np.concatenate([[0.0], np.cumsum(step)])
    t = np.linspace(0.0, along[-1], POINTS)
    seg = np.clip(np.searchsorted(along, t, side="right") - 1, 0, len(step) - 1)
    frac = (t - along[seg]) / step[seg]
    xy = p[seg] + (p[seg + 1] - p[seg]) * frac[:, None]
    direction = (p[seg + 1] - p[seg]) / step[seg][:, None]
    return np.concatenate([xy, direction, down[seg][:, None]], axis=1).astype(np.float32)


def spaced(points: np.ndarray, min_step: float) -> np.ndarray:
    """A stroke's points (n, 2) without those closer than `min_step` to the last one kept; its first and
    last points always kept. A shaky hand or a pen that reports 200 points a second then gives the same
    line as a steady, sparse one: the direction from one point to the next is the stroke's, not the
    tremor's (writers 19-24 given 8 times as many points, each shaken by 1% of the digit's size: 12
    errors in 1,500 read this way, 630 from every point; docs/experiments.md, sixteenth session)."""
    pts = points.tolist()
    kept = [pts[0]]
    limit = min_step * min_step
    for x, y in pts[1:]:
        if (x - kept[-1][0]) ** 2 + (y - kept[-1][1]) ** 2 >= limit:
            kept.append([x, y])
    if len(pts) > 1:
        if len(kept) > 1:
            kept[-1] = pts[-1]  # the stroke ends where the pen was lifted
        else:
            kept.append(pts[-1])
    return np.asarray(kept, dtype=np.float64)


def shaken(
    strokes: Sequence[np.ndarray],
    rng: np.random.Generator,
    times: int | None = None,
    noise: float | None = None,
) -> list[np.ndarray]:
    """The same strokes as a shakier hand or a finer-grained pen gives them: `times` as many points
    (default: 1-8 at random), each moved by Gaussian noise of `noise` of the drawing's size (default:
    up to SHAKE_NOISE, at random)."""
    arrays = [np.asarray(s, dtype=np.float64) for s in strokes]
    size = max(float(np.ptp(np.concatenate(arrays), axis=0).max()), 1e-6)
    k = int(rng.integers(1, 9)) if times is None else times
    sd = (rng.uniform(0.0, SHAKE_NOISE) if noise is None else noise) * size
    out = []
    for s in arrays:
        if len(s) > 1 and k > 1:
            t = np.linspace(0, len(s) - 1, (len(s) - 1) * k + 1)
            s = np.stack([np.interp(t, np.arange(len(s)), s[:, i]) for i in range(2)], axis=1)
        out.append(s + rng.normal(0.0, sd, s.shape))
    return out


def lifted(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, p: float = 0.5, lost: int = 2
) -> list[np.ndarray]:
    """The same strokes as a finger or a pen that leaves the surface for a moment gives them: each
    stroke of 6 points or more, with chance p, broken in two at a random place, up to `lost` points
    lost in the gap. A phone's glass, a worn stylus or a quick hand gives such breaks; the pixels
    barely change, but a reader that never saw one takes it for a second stroke (writers 19-24, half
    their strokes broken once: 9-14 errors of 1,500 became 32-36). Trained on without a gap
    (`training_set`): 12-16 (docs/experiments.md, seventeenth session)."""
    out = []
    for s in (np.asarray(s) for s in strokes):
        if len(s) >= 6 and rng.random() < p:
            cut = int(rng.integers(2, len(s) - 2))
            gap = int(rng.integers(0, lost + 1))
            out += [s[:cut], s[min(cut + gap, len(s) - 2) :]]
        else:
            out.append(s)
    return out


def loop_of(stroke: np.ndarray, size: float) -> tuple[int, int] | None:
    """(i, j): where one stroke's longest loop starts and ends (the pen back within a tenth of the
    drawing's `size` of where it was, after going at least 0.6 `size` along and 0.2 `size` away), or
    None for a stroke without one."""
    s = np.asarray(stroke, dtype=np.float64)
    if len(s) < 4:
        return None
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(s, axis=0), axis=1))])
    near = np.linalg.norm(s[:, None] - s[None], axis=2) < 0.1 * size
    long = (along[None] - along[:, None]) >= 0.6 * size  # so ends come after starts
    starts, ends = np.nonzero(near & long)
    for k in np.argsort(along[starts] - along[ends], kind="stable"):  # the longest first
        i, j = int(starts[k]), int(ends[k])
        if np.linalg.norm(s[i : j + 1] - s[i], axis=1).max() >= 0.2 * size:
            return i, j
    return None


def loops_reversed(strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The same strokes with each one's longest loop (`loop_of`) drawn round the other way, as many
    left-handed people draw them: a 6 whose loop goes round clockwise after its stem, a 9 whose head
    does, a 0 begun the other way. Every pen-digit writer draws a 6's loop one way; a reader that
    never saw the other took a 6 drawn so by hand for a 5, at 1.00 (docs/experiments.md, fifteenth
    session)."""
    arrays = [np.asarray(s, dtype=np.float64) for s in strokes]
    size = max(float(np.ptp(np.concatenate(arrays), axis=0).max()), 1e-6)
    out = []
    for s in arrays:
        loop = loop_of(s, size)
        if loop is not None:
            i, j = loop
            s = np.concatenate([s[:i], s[i : j + 1][::-1], s[j + 1 :]])
        out.append(s)
    return out


def reordered(strokes: Sequence[np.ndarray], rng: np.random.Generator, p: float) -> list[np.ndarray]:
    """The same strokes as another writer may draw them: with chance p their order shuffled, and
    each stroke, with chance p, drawn the other way (a 0 clockwise, a 7's bar right to left)."""
    out = [np.asarray(s) for s in strokes]
    if len(out) > 1 and rng.random() < p:
        out = [out[i] for i in rng.permutation(len(out))]
    return [s[::-1] if rng.random() < p else s for s in out]


def varied(
    strokes: Sequence[np.ndarray],
    rng: np.random.Generator,
    reorder: float = REORDER,
    lift: float = LIFT,
    shake: float = SHAKE,
    loops: float = LOOPS,
) -> list[np.ndarray]:
    """The same strokes as other hands and pens may give them, as the reader is trained: reordered
    with chance `reorder` (see `reordered`), their loops drawn round the other way with chance
    `loops` (see `loops_reversed`), broken by brief lifts with chance `lift` (see `lifted`; no point
    lost: with gaps the reader took some two-stroke fours for nines) and drawn shakier with chance
    `shake` (see `shaken`)."""
    paths = reordered(strokes, rng, reorder)
    if loops and rng.random() < loops:
        paths = loops_reversed(paths)
    if lift and rng.random() < lift:
        paths = lifted(paths, rng, lost=0)
    return shaken(paths, rng) if rng.random() < shake else paths


def training_set(
    digits: Sequence[pendigits.PenDigit],
    rng: np.random.Generator,
    copies: int = 8,
    style_copies: int = 2,
    reorder: float = REORDER,
    shake: float = SHAKE,
    lift: float = LIFT,
    loops: float = LOOPS,
) -> tuple[np.ndarray, np.ndarray]:
    """(sequences (n, POINTS, FEATURES), labels): each digit as written, `copies` times reshaped
    (pendigits.distort), and `style_copies` times in each style of its class, reshaped too; the
    reshaped ones `varied` as other hands and pens give them."""
    xs = [sequence(d.strokes) for d in digits]
    ys = [d.label for d in digits]
    shaped = [pendigits.distort(d, rng) for _ in range(copies) for d in digits]
    for name in styles.STYLES:
        shaped += [pendigits.distort(d, rng) for d in styles.styled_digits(digits, name, rng, style_copies)]
    xs += [sequence(varied(d.strokes, rng, reorder, lift, shake, loops)) for d in shaped]
    ys += [d.label for d in shaped]
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def build_model():
    """Convolutions along the path (what a short piece of it looks like, then longer ones), pooled
    over the whole path: which digit it draws."""
    import keras
    from keras import layers

    inputs = keras.Input((POINTS, FEATURES), name="pen_path")
    x = inputs
    layout = ((64, 5, False), (64, 5, True), (128, 3, False), (128, 3, True), (256, 3, False))
    for filters, width, pool in layout:
        x = layers.Conv1D(filters, width, padding="same", activation="relu")(x)
        if pool:
            x = layers.MaxPooling1D(2)(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="penpath")


def combine(
    pixels: np.ndarray, path: np.ndarray, weight: float, keep_above: float = PIXELS_SURE
) -> np.ndarray:
    """The pixels' probabilities (n, 10) pooled with the path's: proportional to
    pixels * path ** weight, each row summing to 1; except that where the pixels name a digit
    with at least `keep_above` and the pooled answer names another, the pixels' answer stands.

    The reader learnt the stroke orders of 24 writers and is as sure of an order it never saw (a
    6 whose loop goes round the other way reads to it as a 5) as of one it knows: it may settle
    what the pixels are unsure of, not overrule what they are sure of."""
    logp = np.log(np.clip(pixels, 1e-12, 1.0)) + weight * np.log(np.clip(path, 1e-12, 1.0))
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    p /= p.sum(axis=1, keepdims=True)
    overruled = (pixels.max(axis=1) >= keep_above) & (p.argmax(axis=1) != pixels.argmax(axis=1))
    p[overruled] = pixels[overruled]
    return p.astype(np.float32)


def disagree(
    pixels: np.ndarray, path: np.ndarray, below: float = AGREE, keep_above: float = PIXELS_SURE
) -> np.ndarray:
    """(n,) bool: where the pixels' probabilities (n, 10), not sure of a digit (under `keep_above`),
    and the path's so surely name different digits that the chance they name the same one (the sum
    over digits of pixels * path) is under `below`. A real digit's two witnesses agree; a letter's,
    a scribble's or a shape's often do not, each taking it for another digit. The model's
    not-a-digit detector, which reads the pixels alone, refuses these too (Predictor.outputs). A
    sure pixel answer is never refused this way, as it is never overruled (see `combine`): the reader
    is as sure of a stroke order or a broken stroke it never saw as of one it knows.

    Chosen on writers 1-24 (a cnn and reader trained on 1-18, scored on 19-24): of `below` 0.001-0.1,
    with and without sure pixels exempt, the one that refused most of the training family of
    non-digits (22%) while refusing at most 0.25% of the digits as drawn (none), 0.5% with half
    their strokes broken by a lift (0.03%) or every stroke drawn backwards in reverse order (0.07%),
    and 0.5% of any style (0.32%): docs/experiments.md, seventeenth session."""
    pixels, path = np.asarray(pixels), np.asarray(path)
    return ((pixels * path).sum(axis=1) < below) & (pixels.max(axis=1) < keep_above)


def file_beside(model_path: str | os.PathLike) -> Path:
    """models/cnn.keras -> models/cnn.penpath.keras: where `digitdraw penpath` stores a model's reader."""
    path = Path(model_path)
    return path.with_name((modelio.model_name(path) or path.stem) + SUFFIX)


def reader_file(model_path: str | os.PathLike, entry: dict) -> Path:
    """The reader a model's card names (`entry`, the card's "pen_path": its "file", in the model's
    folder; several models may share one), else the one beside it."""
    name = entry.get("file")
    if name is not None and (
        not isinstance(name, str) or Path(name).name != name or not name.endswith(SUFFIX)
    ):
        raise ValueError(f"a pen-path reader's file is a {SUFFIX} name in the model's folder, not {name!r}")
    return Path(model_path).with_name(name) if name else file_beside(model_path)


class _Traced:
    """One reader network, traced once; it remembers its last drawings and answer, so that the models
    that share it (the Draw page's two) ask it once per drawing, and turn its strokes into points
    once."""

    def __init__(self, model) -> None:
        import tensorflow as tf

        if tuple(model.input_shape[1:]) != (POINTS, FEATURES) or model.output_shape[-1] != 10:
            raise ValueError(f"not a pen-path reader: input {model.input_shape}, output {model.output_shape}")
        self.model = model
        traced = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, POINTS, FEATURES], tf.float32)],
            autograph=False,  # no Python control flow to convert; AutoGraph warns it cannot read a lambda
        ).get_concrete_function()  # traced once, before any thread asks; called without re-dispatch
        self._fn = lambda x: traced(tf.constant(x, tf.float32))
        self._last: tuple[bytes, np.ndarray] | None = None

    def __call__(self, drawings: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        key = _key(drawings)
        last = self._last  # one read of the pair: threads may replace it meanwhile
        if last is not None and last[0] == key:
            return last[1]
        probs = np.asarray(self._fn(np.stack([sequence(d) for d in drawings])))
        probs.flags.writeable = False  # handed to every model that asks
        self._last = (key, probs)
        return probs


def _key(drawings: Sequence[Sequence[np.ndarray]]) -> bytes:
    """The drawings' strokes as one byte string, each stroke's point count before its points."""
    parts = []
    for strokes in drawings:
        parts.append(b"|")
        for stroke in strokes:
            pts = np.asarray(stroke, np.float64).reshape(-1, 2)
            parts += [len(pts).to_bytes(4, "little"), pts.tobytes()]
    return b"".join(parts)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> _Traced:
    import keras

    return _Traced(keras.saving.load_model(path, compile=False))


UNUSABLE = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
)  # what PathReader.beside raises for a reader it cannot use


class PathReader:
    """A trained pen-path network with the weight of its vote, ready for many small requests: one
    traced call (as digitdraw.predict.Predictor), safe from several threads. Readers loaded from
    the same file share the network (and its last answer)."""

    def __init__(self, model, weight: float, *, traced: _Traced | None = None) -> None:
        if not weight > 0:
            raise ValueError(f"a pen path's weight must be > 0, not {weight}")
        self._traced = traced if traced is not None else _Traced(model)
        self.model, self.weight = self._traced.model, float(weight)

    @classmethod
    def beside(cls, model_path: str | os.PathLike, entry: dict) -> PathReader:
        """The reader a model's card names (reader_file), with the weight it gives (`entry`, the card's
        "pen_path"). One of UNUSABLE when it cannot be used: OSError when the file is missing,
        ValueError when it is no reader, KeyError or TypeError for an entry without a proper weight."""
        if not isinstance(entry, dict):
            raise TypeError(f"a card's pen_path names the reader's file and weight, not {entry!r}")
        path = reader_file(model_path, entry)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing")
        traced = _load(str(path.resolve()), path.stat().st_mtime_ns)
        return cls(traced.model, float(entry["weight"]), traced=traced)

    def probabilities(self, drawings: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """Each drawing's strokes -> (n, 10) probabilities (read-only)."""
        return self._traced(drawings)


def train(
    digits: Sequence[pendigits.PenDigit],
    *,
    seed: int = 0,
    epochs: int = EPOCHS,
    lr: float = 3e-3,
    verbose: int = 0,
):
    """A pen-path reader trained on `digits` (training_set's sequences; Adam, cosine decay): (the model,
    how many sequences it trained on)."""
    import keras

    keras.utils.set_random_seed(seed)
    x, y = training_set(digits, np.random.default_rng(seed))
    model = build_model()
    steps = epochs * int(np.ceil(len(x) / BATCH))
    model.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=verbose)
    fresh = build_model()  # the weights alone, uncompiled: no optimizer state in the shipped file
    fresh.set_weights(model.get_weights())
    return fresh, len(x)
