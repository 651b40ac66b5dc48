"""The pen's path as a second witness: where the strokes are known (the canvas, `predict --strokes`),
the cnn's answer pools its pixels' probabilities with a small network's reading of the path."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest
from conftest import CLOCKWISE_SIX, ONE, SEVEN, needs_pendigits

from digitdraw import modelio, pendigits, penpath, reading
from digitdraw.predict import Predictor

_T = np.linspace(0, 2 * np.pi, 40)
ZERO = [np.stack([250 + 110 * np.sin(_T), 250 - 200 * np.cos(_T)], axis=1)]
FOUR = [np.array([[200, 50], [120, 300], [380, 300]], float), np.array([[300, 150], [300, 450]], float)]
# A 6 in one stroke as the pen-digit writers draw it: down the stem, then round the loop (left,
# bottom, right, top and back to the left) counter-clockwise on the screen (y down).
_LOOP = np.linspace(np.pi, -np.pi, 40)[1:]
SIX = [
    np.concatenate(
        [
            np.linspace([330, 40], [160, 330], 20),
            np.stack([250 + 90 * np.cos(_LOOP), 330 + 90 * np.sin(_LOOP)], axis=1),
        ]
    )
]


def turning(points: np.ndarray) -> float:
    """The signed area a closed line encloses: > 0 clockwise on a screen (y down), < 0 counter-clockwise."""
    x, y = points[:, 0], points[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2)


class Fixed(keras.layers.Layer):
    """A stand-in reader that always gives the same probabilities, whatever the path."""

    def __init__(self, probs, **kwargs):
        super().__init__(**kwargs)
        self.probs = np.asarray(probs, np.float32)

    def call(self, x):
        return keras.ops.zeros_like(x[:, 0, :1]) + keras.ops.convert_to_tensor(self.probs)[None, :]


def fixed_reader(probs, weight=1.0) -> penpath.PathReader:
    inputs = keras.Input((penpath.POINTS, penpath.FEATURES))
    return penpath.PathReader(keras.Model(inputs, Fixed(probs)(inputs)), weight)


def test_a_drawing_becomes_the_same_sequence_wherever_and_however_big_it_is_drawn():
    here = penpath.sequence(SEVEN)
    there = penpath.sequence([s * 0.3 + [40, 900] for s in SEVEN])
    assert here.shape == (penpath.POINTS, penpath.FEATURES)
    assert np.allclose(here, there, atol=1e-5)
    assert np.abs(here[:, :2]).max() <= 0.5 + 1e-6  # centred, the longer side one unit


def test_the_sequence_follows_the_pen_its_direction_and_its_lifts():
    seq = penpath.sequence(FOUR)
    assert np.allclose(np.linalg.norm(seq[:, 2:4], axis=1), 1, atol=1e-4)  # unit directions
    assert set(np.unique(seq[:, 4])) == {0.0, 1.0}  # the jump between the two strokes is pen up
    assert seq[0, 4] == 1 and seq[-1, 4] == 1
    assert (penpath.sequence(ONE)[:, 4] == 1).all()
    # Drawn the other way, the directions turn round: the path knows which way the pen went.
    back = penpath.sequence([s[::-1] for s in ONE])
    assert np.allclose(back[:, 3], -penpath.sequence(ONE)[:, 3])


def test_a_shaky_or_finely_sampled_stroke_gives_the_same_line():
    """A tablet reporting many points a second, or a shaky hand: the same seven, the same sequence."""
    rng = np.random.default_rng(0)
    clean = penpath.sequence(ZERO + SEVEN)
    for _ in range(5):
        shaky = penpath.shaken(ZERO + SEVEN, rng)
        assert sum(map(len, shaky)) > sum(map(len, ZERO + SEVEN)) or np.ptp(shaky[0]) > 0
        seq = penpath.sequence(shaky)
        assert np.abs(seq[:, :2] - clean[:, :2]).mean() < 0.05  # where the pen was
        agree = (seq[:, 2:4] * clean[:, 2:4]).sum(axis=1)  # cosine of the angle between directions
        # Every point's direction taken as given, 3 of 5 such drawings have fewer than half agreeing.
        assert (agree > 0.9).mean() > 0.75 and (seq[:, 4] == clean[:, 4]).mean() > 0.9


def test_points_closer_than_the_step_are_one_point_and_the_ends_stay():
    line = np.column_stack([np.linspace(0, 1, 101), np.zeros(101)])  # a point every 0.01
    kept = penpath.spaced(line, 0.05)
    assert kept[0].tolist() == [0, 0] and kept[-1].tolist() == [1, 0]
    assert np.diff(kept[:-1, 0]).min() >= 0.05 - 1e-9 and 15 <= len(kept) <= 21
    tiny = np.array([[0.0, 0.0], [0.01, 0.0], [0.02, 0.0]])  # a stroke shorter than one step
    assert penpath.spaced(tiny, 0.05).tolist() == [[0.0, 0.0], [0.02, 0.0]]


def test_a_tap_and_an_empty_drawing():
    assert penpath.sequence([np.array([[10.0, 10.0]])]).shape == (penpath.POINTS, penpath.FEATURES)
    with pytest.raises(ValueError, match="at least one stroke"):
        penpath.sequence([])


def test_a_tap_beside_the_strokes_is_left_out_of_the_path():
    # A finger that touches the screen again after the digit (qa27: a tap at a 9's start made it a 7):
    # the jump to the tap took points along the path from the digit itself.
    seven = [np.asarray(s, float) for s in SEVEN]
    start = seven[0][:1]
    for tap in (start, start + [3.0, 2.0], np.vstack([start, start + 2.0])):
        assert np.array_equal(penpath.sequence([*seven, tap]), penpath.sequence(seven))
        assert np.array_equal(penpath.sequence([tap, *seven]), penpath.sequence(seven))
    # A short stroke that is part of the digit (a 5's flag, a 4's bar) is no tap.
    flag = np.array([[200.0, 60.0], [320.0, 60.0]])
    assert not np.array_equal(penpath.sequence([*seven, flag]), penpath.sequence(seven))


def test_reordering_shuffles_and_reverses_strokes_as_other_writers_do():
    rng = np.random.default_rng(0)
    assert [s.tolist() for s in penpath.reordered(FOUR, rng, 0.0)] == [s.tolist() for s in FOUR]
    flipped = penpath.reordered(FOUR, rng, 1.0)
    assert sorted(s[::-1].tolist() for s in flipped) == sorted(s.tolist() for s in FOUR)


def test_a_loop_drawn_round_the_other_way_as_left_handed_writers_do():
    [six] = penpath.loops_reversed(SIX)
    i, j = penpath.loop_of(SIX[0], 290.0)
    assert turning(SIX[0][i : j + 1]) < 0 < turning(six[i : j + 1])  # clockwise now
    assert six[:i].tolist() == SIX[0][:i].tolist()  # the stem as it was, then the same points
    assert sorted(map(tuple, six.tolist())) == sorted(map(tuple, SIX[0].tolist()))
    [zero] = penpath.loops_reversed(ZERO)  # a whole 0 begun the other way
    assert zero.tolist() == ZERO[0][::-1].tolist()
    # No loop, nothing to turn: a 4's strokes, a 7.
    for strokes in (FOUR, SEVEN):
        assert [s.tolist() for s in penpath.loops_reversed(strokes)] == [
            np.asarray(s, float).tolist() for s in strokes
        ]
    # A line drawn there and back over itself encloses nothing: turned, it is the same line.
    there_and_back = np.concatenate([np.linspace([0, 0], [0, 100], 20), np.linspace([0, 100], [0, 0], 20)])
    np.testing.assert_allclose(penpath.loops_reversed([there_and_back])[0], there_and_back, atol=1e-9)


def test_a_six_drawn_by_hand_with_its_loop_clockwise_turns_into_the_pen_writers_way():
    """The hand-drawn 6 whose loop goes round clockwise (tests/data) is what `loops_reversed` makes
    of a pen writer's 6, and the other way round: the reader trained on both reads both."""
    [line] = json.loads(CLOCKWISE_SIX.read_text().splitlines()[0])["strokes"]
    drawn = np.asarray(line, float)
    i, j = penpath.loop_of(drawn, float(np.ptp(drawn, axis=0).max()))
    [turned] = penpath.loops_reversed([drawn])
    assert turning(drawn[i : j + 1]) > 0 > turning(turned[i : j + 1])  # the pen writers' way now


def test_a_brief_lift_breaks_a_stroke_in_two_and_loses_at_most_two_points():
    rng = np.random.default_rng(0)
    assert [s.tolist() for s in penpath.lifted(ZERO + FOUR, rng, 0.0)] == [s.tolist() for s in ZERO + FOUR]
    for _ in range(20):
        (first, second), rest = penpath.lifted(ZERO, rng, 1.0), penpath.lifted(FOUR, rng, 1.0)
        assert [s.tolist() for s in rest] == [s.tolist() for s in FOUR]  # 3 and 2 points: too short
        assert first.tolist() == ZERO[0][: len(first)].tolist() and len(first) >= 2
        assert second.tolist() == ZERO[0][-len(second) :].tolist() and len(second) >= 2
        assert len(ZERO[0]) - 2 <= len(first) + len(second) <= len(ZERO[0])
    first, second = penpath.lifted(ZERO, rng, 1.0, lost=0)  # as the reader is trained: no gap
    assert np.concatenate([first, second]).tolist() == ZERO[0].tolist()


def test_varied_strokes_are_the_same_line_reordered_broken_or_shaken_as_asked():
    rng = np.random.default_rng(0)
    same = penpath.varied(ZERO + FOUR, rng, reorder=0.0, lift=0.0, shake=0.0, loops=0.0)
    assert [s.tolist() for s in same] == [s.tolist() for s in ZERO + FOUR]
    # Broken with no point lost, in the same order and direction: the same points, more strokes.
    broken = penpath.varied(ZERO, np.random.default_rng(1), reorder=0.0, lift=1.0, shake=0.0, loops=0.0)
    assert len(broken) == 2 and np.concatenate(broken).tolist() == ZERO[0].tolist()
    shaky = penpath.varied(ZERO, rng, reorder=0.0, lift=0.0, shake=1.0, loops=0.0)
    assert len(shaky) == 1 and not np.array_equal(shaky[0][: len(ZERO[0])], ZERO[0])
    turned = penpath.varied(SIX, rng, reorder=0.0, lift=0.0, shake=0.0, loops=1.0)
    assert [s.tolist() for s in turned] == [s.tolist() for s in penpath.loops_reversed(SIX)]


def test_pooling_multiplies_in_the_path_by_its_weight():
    pixels = np.array([[0.6, 0.4] + [0.0] * 8])
    path = np.array([[0.2, 0.8] + [0.0] * 8])
    assert penpath.combine(pixels, path, 1.0)[0, :2] == pytest.approx([0.12 / 0.44, 0.32 / 0.44], abs=1e-6)
    half = penpath.combine(pixels, path, 0.5)[0]
    assert half.sum() == pytest.approx(1.0) and half.argmax() == 1
    assert penpath.combine(pixels, path, 1e-9)[0] == pytest.approx(pixels[0], abs=1e-6)


def test_the_pixels_sure_answer_stands_against_the_path():
    pixels = np.full((2, 10), 0.001)
    pixels[0, 6], pixels[0, 5] = 0.96, 0.032  # sure of a 6
    pixels[1, 6], pixels[1, 5] = 0.60, 0.392  # not sure
    path = np.full((2, 10), 1e-6)
    path[:, 5] = 1 - 9e-6  # the path is sure it is a 5 (a 6 whose loop went round the other way)
    got = penpath.combine(pixels, path, 0.5)
    assert got[0].argmax() == 6 and got[0] == pytest.approx(pixels[0])
    assert got[1].argmax() == 5
    agreed = penpath.combine(pixels, np.roll(path, 1, axis=1), 0.5)  # the path says 6 too: surer
    assert agreed[0].argmax() == 6 and agreed[0, 6] > pixels[0, 6]


def test_unsure_pixels_and_a_path_that_surely_name_different_digits_disagree():
    def sure(digit: int, p: float) -> np.ndarray:
        out = np.full(10, (1 - p) / 9)
        out[digit] = p
        return out

    unsure = np.full(10, 0.1)
    pixels = np.stack([sure(1, 0.9), sure(1, 0.999), sure(1, 0.9), unsure, sure(4, 0.6)])
    path = np.stack([sure(0, 0.999), sure(0, 0.999), sure(1, 0.999), sure(0, 0.999), sure(9, 0.6)])
    # A 1 the pen drew as a 0: no digit; unless the pixels are sure (they stand, as in `combine`);
    # the same 1 both ways; pixels that know nothing; a 4 or a 9.
    assert penpath.disagree(pixels, path).tolist() == [True, False, False, False, False]


def test_a_reader_must_read_paths():
    inputs = keras.Input((28, 28))
    with pytest.raises(ValueError, match="not a pen-path reader"):
        penpath.PathReader(keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs))), 0.5)
    with pytest.raises(ValueError, match="weight"):
        fixed_reader(np.full(10, 0.1), weight=0)


def test_the_predictor_pools_only_where_the_strokes_are_known(trained_dense):
    path_says_three = np.full(10, 0.001)
    path_says_three[3] = 1 - 0.009
    predictor = Predictor(trained_dense.model, "dense", pen_path=fixed_reader(path_says_three, weight=5.0))
    images = np.zeros((2, 28, 28), np.float32)
    images[:, 4:24, 13:15] = 1.0  # a stroke
    if Predictor(trained_dense.model).outputs(images[:1]).probabilities.max() >= penpath.PIXELS_SURE:
        images[:, 4:24, 9:12] = 0.6  # a smudge beside it: the pixels unsure, so the path's 3 outvotes them
    assert Predictor(trained_dense.model).outputs(images[:1]).probabilities.max() < penpath.PIXELS_SURE
    out = predictor.outputs(images, [ONE, None])
    assert out.pen_path.tolist() == [True, False]
    assert out.probabilities[0].argmax() == 3
    assert np.allclose(
        out.probabilities[1], Predictor(trained_dense.model).outputs(images[1:]).probabilities[0]
    )
    assert np.allclose(
        out.raw, Predictor(trained_dense.model).outputs(images).raw
    )  # the model's own, unpooled
    assert predictor.outputs(images).pen_path is None  # no strokes given: pixels alone
    with pytest.raises(ValueError, match="2 images"):
        predictor.outputs(images, [ONE])


def test_each_digit_of_a_number_gets_its_own_strokes():
    drawing = pendigits.render_drawing(SEVEN, stroke_width=14, height=150, centre=(70, 140))
    other = pendigits.render_drawing(ONE, stroke_width=14, height=150, centre=(210, 140))
    pixels = np.maximum(drawing.pixels, other.pixels)
    strokes = [*drawing.paths, *other.paths, np.array([[5.0, 5.0]])]  # and a dot far from both
    from digitdraw import segment

    pieces = [s for s, _ in segment.read_row(pixels, strokes)[0]]
    assert len(pieces) == 2
    mine = reading.strokes_of(pieces, strokes)
    assert [len(m) for m in mine] == [len(drawing.paths), len(other.paths)]
    assert np.array_equal(mine[1][0], other.paths[0])


def test_a_stroke_that_runs_from_one_digit_into_the_next_keeps_both_to_their_pixels():
    from digitdraw.segment import Segment

    left = Segment(np.zeros((4, 4), np.float32), x0=0, x1=100, y0=0, y1=200)
    right = Segment(np.zeros((4, 4), np.float32), x0=120, x1=220, y0=0, y1=200)
    own = np.array([[50.0, 10], [50, 190]])  # a 1, wholly the left digit's
    joined = np.array([[130.0, 20], [210, 20], [150, 190], [60, 100]])  # a 7 whose pen ran back left
    assert [len(m) for m in reading.strokes_of([left, right], [own])] == [1, 0]
    assert reading.strokes_of([left, right], [own, joined]) == [None, None]
    dot = np.array([[110.0, 195]])  # between them, in neither box: no one's
    assert [len(m) for m in reading.strokes_of([left, right], [own, dot])] == [1, 0]


def test_the_reading_says_which_answers_used_the_path(trained_dense):
    drawing = pendigits.render_drawing(SEVEN, stroke_width=14, height=150)
    says = np.full(10, 0.001)
    says[7] = 1 - 0.009
    predictors = {
        "cnn": Predictor(trained_dense.model, "cnn", pen_path=fixed_reader(says)),
        "dense": Predictor(trained_dense.model),
    }
    canvas = reading.read_drawing(drawing.pixels, predictors, strokes=drawing.paths, source="canvas")
    assert canvas.models["cnn"].digits[0].pen_path and not canvas.models["dense"].digits[0].pen_path
    assert json.loads(json.dumps(canvas.as_dict()))["models"]["cnn"]["digits"][0]["pen_path"] is True
    pixels_only = reading.read_drawing(drawing.pixels, predictors, source="canvas")
    assert not pixels_only.models["cnn"].digits[0].pen_path


def test_a_models_reader_lives_beside_it_and_is_not_a_model_of_its_own(tmp_path, model_files):
    model = tmp_path / "mine.keras"
    shutil.copy(model_files["dense"], model)
    shutil.copy(modelio.card_path(model_files["dense"]), modelio.card_path(model))
    assert penpath.file_beside(model) == tmp_path / "mine.penpath.keras"
    modelio.save_companion(penpath.build_model(), penpath.file_beside(model))
    assert modelio.model_name(penpath.file_beside(model)) is None
    assert [e.name for e in modelio.list_models(tmp_path)] == ["mine"]
    card = json.loads(modelio.card_path(model).read_text())
    card["pen_path"] = {"weight": 0.5}
    modelio.write_json(modelio.card_path(model), card)
    assert Predictor.from_file(model).pen_path.weight == 0.5


def test_a_missing_or_broken_reader_leaves_the_model_reading_pixels(tmp_path, model_files, caplog):
    model = tmp_path / "mine.keras"
    shutil.copy(model_files["dense"], model)
    card = json.loads(modelio.card_path(model_files["dense"]).read_text())
    card["pen_path"] = {"weight": 0.5}
    modelio.write_json(modelio.card_path(model), card)
    assert Predictor.from_file(model).pen_path is None
    assert "pen-path reader unusable" in caplog.text
    penpath.file_beside(model).write_bytes(b"not a keras file")
    assert Predictor.from_file(model).pen_path is None
    card["pen_path"] = {"weight": 0.5, "file": "../elsewhere.penpath.keras"}  # only a name in its folder
    modelio.write_json(modelio.card_path(model), card)
    assert Predictor.from_file(model).pen_path is None
    card["pen_path"] = "mine.penpath.keras"  # a card edited by hand: the entry is an object
    modelio.write_json(modelio.card_path(model), card)
    assert Predictor.from_file(model).pen_path is None


@needs_pendigits
def test_the_cli_trains_one_reader_for_the_models_that_share_it(tmp_path, model_files, pendigits_file):
    from digitdraw.cli import main

    models = [tmp_path / "mine.keras", tmp_path / "other.keras"]
    for model in models:
        shutil.copy(model_files["dense"], model)
        shutil.copy(modelio.card_path(model_files["dense"]), modelio.card_path(model))
    args = [
        "penpath",
        *map(str, models),
        "--writers",
        "1",
        "--epochs",
        "1",
        "--pendigits",
        str(pendigits_file),
    ]
    assert main(args) == 0
    for model in models:
        entry = json.loads(modelio.card_path(model).read_text())["pen_path"]
        assert entry["file"] == "mine.penpath.keras"  # beside the first, named in each card
        assert entry["writers"] == "1" and entry["weight"] == penpath.WEIGHT and entry["seed"] == 0
        assert entry["command"].startswith(f"python -m digitdraw penpath {models[0]} {models[1]}")
        assert 0.1 < entry["holdout_accuracy"] <= 1
    assert penpath.file_beside(models[0]).is_file() and not penpath.file_beside(models[1]).exists()
    readers = [Predictor.from_file(m).pen_path for m in models]
    assert readers[0]._traced is readers[1]._traced  # one network in memory for both


def test_models_that_share_a_reader_ask_it_once_per_drawing(monkeypatch):
    reader = fixed_reader(np.full(10, 0.1))
    calls = []
    fn = reader._traced._fn
    reader._traced._fn = lambda x: calls.append(len(x)) or fn(x)
    other = penpath.PathReader(reader.model, 1.0, traced=reader._traced)
    first = reader.probabilities([SEVEN])
    assert np.array_equal(other.probabilities([SEVEN]), first) and calls == [1]
    other.probabilities([ONE])
    assert calls == [1, 1]
    made = []
    sequence = penpath.sequence
    monkeypatch.setattr(penpath, "sequence", lambda strokes: made.append(1) or sequence(strokes))
    # The same drawing again, as another list of new arrays: its points are not made again.
    again = [[np.array(s, np.float64) for s in ONE]]
    assert np.array_equal(reader.probabilities(again), other.probabilities(again)) and made == []
    reader.probabilities([SEVEN])
    assert made == [1] and calls == [1, 1, 1]
    with pytest.raises(ValueError):
        first[0, 0] = 1.0  # shared: nobody may change it


@needs_pendigits
def test_the_cli_says_when_the_file_has_none_of_the_writers_and_changes_nothing(
    tmp_path, model_files, pendigits_file, capsys
):
    from digitdraw.cli import main

    model = tmp_path / "mine.keras"
    shutil.copy(model_files["dense"], model)
    shutil.copy(modelio.card_path(model_files["dense"]), modelio.card_path(model))
    card = modelio.card_path(model).read_text()
    assert main(["penpath", str(model), "--writers", "31-40", "--pendigits", str(pendigits_file)]) == 2
    assert f"{pendigits_file} has no pen digits of writers 31-40." in capsys.readouterr().err
    assert modelio.card_path(model).read_text() == card and not penpath.file_beside(model).exists()


def test_the_cli_keeps_a_shared_reader_in_one_folder(tmp_path, model_files, capsys):
    from digitdraw.cli import main

    models = [tmp_path / "a" / "mine.keras", tmp_path / "b" / "other.keras"]
    for model in models:
        model.parent.mkdir()
        shutil.copy(model_files["dense"], model)
        shutil.copy(modelio.card_path(model_files["dense"]), modelio.card_path(model))
    cards = [modelio.card_path(m).read_text() for m in models]
    assert main(["penpath", *map(str, models)]) == 2
    assert "must be in one folder" in capsys.readouterr().err
    assert [modelio.card_path(m).read_text() for m in models] == cards


def test_the_cli_refuses_a_weight_that_is_no_vote(capsys):
    from digitdraw.cli import main

    with pytest.raises(SystemExit):
        main(["penpath", "cnn", "--weight", "0"])
    assert "must be above 0" in capsys.readouterr().err


def test_a_renamed_model_keeps_its_own_reader(tmp_path, model_files, monkeypatch):
    """A fine-tuned model's reader lies beside it under its name: a rename moves it and the card
    names it anew, so the renamed model still reads the pen's path."""
    from digitdraw import config

    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    model = tmp_path / "mine.keras"
    shutil.copy(model_files["dense"], model)
    card = json.loads(modelio.card_path(model_files["dense"]).read_text())
    card["pen_path"] = {"file": "mine.penpath.keras", "weight": 0.5}
    modelio.write_json(modelio.card_path(model), card)
    modelio.save_companion(penpath.build_model(), penpath.file_beside(model))
    assert Predictor.from_file(model).pen_path is not None

    entry = modelio.rename_model("mine", "my digits")
    assert entry.card["pen_path"]["file"] == "my digits.penpath.keras"
    assert (tmp_path / "my digits.penpath.keras").is_file() and not penpath.file_beside(model).exists()
    assert Predictor.from_file(entry.path).pen_path is not None


def _two_sharing_one_reader(folder, model_files) -> None:
    """Models "a" and "b" in `folder`, both reading with "a.penpath.keras" (`digitdraw penpath a b`)."""
    card = json.loads(modelio.card_path(model_files["dense"]).read_text())
    card["pen_path"] = {"file": "a.penpath.keras", "weight": 0.5}
    for name in "ab":
        shutil.copy(model_files["dense"], folder / f"{name}.keras")
        modelio.write_json(folder / f"{name}.json", card)
    modelio.save_companion(penpath.build_model(), folder / "a.penpath.keras")


def _readers(folder) -> dict[str, bool]:
    """Each trained model's name -> whether it reads the pen's path."""
    return {e.name: Predictor.from_file(e.path).pen_path is not None for e in modelio.list_models(folder)}


def test_a_reader_two_models_share_follows_a_rename_of_the_one_it_is_named_for(
    tmp_path, model_files, monkeypatch
):
    from digitdraw import config

    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    _two_sharing_one_reader(tmp_path, model_files)
    modelio.rename_model("a", "mine")
    assert _readers(tmp_path) == {"b": True, "mine": True}
    assert json.loads((tmp_path / "b.json").read_text())["pen_path"]["file"] == "mine.penpath.keras"
    assert not (tmp_path / "a.penpath.keras").exists()


def test_a_reader_two_models_share_outlives_the_deletion_of_the_one_it_is_named_for(
    tmp_path, model_files, monkeypatch
):
    from digitdraw import config

    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    _two_sharing_one_reader(tmp_path, model_files)
    removed = modelio.delete_model("a")
    assert sorted(p.name for p in removed) == ["a.json", "a.keras", "a.penpath.keras"]
    assert _readers(tmp_path) == {"b": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "b.keras", "b.penpath.keras"]
    modelio.delete_model("b")  # the last one takes it with it
    assert list(tmp_path.iterdir()) == []
