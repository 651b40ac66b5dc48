"""The shipped models load, meet the product's targets, and their cards say what they are."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import CLOCKWISE_SIX, on_square_canvas

from digitdraw import (
    architectures,
    config,
    drawn,
    ensemble,
    modelio,
    pendigits,
    penpath,
    preprocess,
    reading,
    styles,
)
from digitdraw.evaluate import evaluate
from digitdraw.predict import Predictor

# Floors that the shipped models must keep: what they score now, rounded down, so that a
# retrained model that reads digits worse fails here. The issues' targets are MNIST test
# dense >= 98.2% (met: 99.08%) and cnn >= 99.5% (met: 99.52%); drawn digits of held-out
# writers dense >= 97.0% (met: 98.53%) and cnn >= 99.0% (met: 99.13%). See the README.
SHIPPED = {"dense": 0.985, "cnn": 0.995}
DRAWN_TARGETS = {"dense": 0.98, "cnn": 0.99}
# The styles split (the same held-out writers redrawn in handwriting conventions, digitdraw.styles),
# all styles together: what the models score now (dense 97.49%, cnn 98.89%), rounded down. Since the
# twenty-fourth session the split has fourteen styles (short-stemmed sixes and small-topped eights
# joined it); the models shipped before read it 91.9% / 94.9% (on the twelve: 98.46% / 99.12%).
# Issue 13 asks >= 99.0% for every style of the cnn (not met yet); docs/experiments.md has each.
STYLES_FLOORS = {"dense": 0.974, "cnn": 0.988}
# A drawing in any of those styles is a digit: the not-a-digit detector may refuse at most this
# share of each style's drawings (now at most 1.3%: cnn, slashed zeros; 4.2%, the dense's, before the
# twentieth session's detector; fitted without styled digits, it refused 72% of the slashed zeros
# and 17% of the open nines for the cnn).
MAX_STYLE_REFUSED = 0.05
# Drawn digits read with their strokes (the canvas, `predict --strokes`): each model's pixels pooled
# with its pen-path reader (digitdraw.penpath). What they score now (dense 99.53%, cnn 99.67%;
# styles split dense 99.36%, cnn 99.62%), rounded down. Issue 13 asks cnn >= 99.4%, dense >= 98.5%.
# The models trained with the two new styles (twenty-fourth session) read the plain split 1 and 2 drawings
# worse than those before them (99.57% / 99.73%), and short-stemmed sixes 100% where those read
# them 37% / 59% from their pixels: a trade made knowingly (docs/experiments.md).
WITH_STROKES_FLOORS = {"dense": 0.994, "cnn": 0.996}
WITH_STROKES_STYLES_FLOORS = {"dense": 0.992, "cnn": 0.996}
CARD_FIELDS = {
    "architecture",
    "api",
    "parameters",
    "data",
    "epochs",
    "batch_size",
    "seed",
    "training_seconds",
    "test_accuracy",
    "per_class_accuracy",
    "drawn_digit_accuracy",
    "styles_accuracy",
    "versions",
    "created",
    "command",
}
# An ensemble (digitdraw.ensemble) records each member's recipe, seed and data in `member_cards`.
ENSEMBLE_CARD_FIELDS = (CARD_FIELDS - {"data", "batch_size", "seed"}) | {"members", "member_cards"}


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def shipped(request):
    path = config.SHIPPED_MODELS_DIR / f"{request.param}.keras"
    model = modelio.load(path)
    return request.param, path, model, modelio.read_card(path)


def test_each_shipped_model_is_a_small_file_with_a_complete_card(shipped):
    name, path, model, card = shipped
    assert path.stat().st_size < 5 * 2**20
    assert card is not None, f"{path} has no model card"
    fields = ENSEMBLE_CARD_FIELDS if card.get("members") else CARD_FIELDS
    assert fields <= set(card), f"card lacks {fields - set(card)}"
    assert card["architecture"] == name
    assert card["parameters"] == model.count_params()
    assert len(card["per_class_accuracy"]) == 10
    if card.get("members"):  # trained members, each with its command and seed, then combined
        assert card["parameters"] == ensemble.build(name, card["members"]).count_params()
        assert card["command"].startswith("python -m digitdraw combine")
        commands = [member["command"] for member in card["member_cards"]]
        assert len(commands) == card["members"] and len({m["seed"] for m in card["member_cards"]}) > 1
    else:
        assert card["parameters"] == architectures.build(name, card["api"]).count_params()
        commands = [card["command"]]
    for command in commands:
        assert command.startswith("python -m digitdraw train") and f"--arch {name}" in command


def test_weights_file_loads_into_the_same_network(shipped):
    name, path, model, _ = shipped
    weights = path.with_name(f"{name}{modelio.WEIGHTS_SUFFIX}")
    x = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    reloaded = modelio.load(weights)
    np.testing.assert_allclose(reloaded(x).numpy(), model(x).numpy(), atol=1e-6)


def test_card_accuracy_is_what_the_model_scores_and_meets_the_target(shipped, mnist):
    name, _, model, card = shipped
    result = evaluate(Predictor(model), mnist.x_test, mnist.y_test)
    assert result.accuracy == pytest.approx(card["test_accuracy"], abs=2e-4)
    np.testing.assert_allclose(result.per_class, card["per_class_accuracy"], atol=2e-3)
    assert result.accuracy >= SHIPPED[name]


def test_card_records_drawn_digit_accuracy_on_held_out_writers(shipped, pendigits_file):
    name, _, model, card = shipped
    recorded = card["drawn_digit_accuracy"]
    assert recorded["writers"] == pendigits.HOLDOUT_WRITERS == "25-30"
    measured = drawn.drawn_evaluation(Predictor(model), pendigits_file)
    assert recorded["images"] == measured.confusion.sum() > 1000
    assert measured.accuracy == pytest.approx(recorded["accuracy"], abs=1e-3)
    assert measured.accuracy >= DRAWN_TARGETS[name]


def test_card_records_the_styles_split_beside_the_plain_one(shipped, pendigits_file):
    name, _, model, card = shipped
    recorded = card["styles_accuracy"]
    assert recorded["writers"] == card["drawn_digit_accuracy"]["writers"] == "25-30"
    measured = drawn.styles_evaluation(Predictor(model), pendigits_file)
    assert set(recorded["per_style"]) == set(styles.STYLES) == set(measured)
    for style, evaluation in measured.items():
        mine = recorded["per_style"][style]
        assert mine["digit"] == styles.STYLES[style].digit
        assert mine["images"] == evaluation.confusion.sum() > 200
        assert evaluation.accuracy == pytest.approx(mine["accuracy"], abs=1e-3), style
    assert recorded["images"] == sum(e.confusion.sum() for e in measured.values())
    assert recorded["accuracy"] >= STYLES_FLOORS[name]


def test_the_not_a_digit_detector_takes_every_handwriting_style_for_a_digit(shipped, pendigits_file):
    name, path, _, _ = shipped
    predictor = Predictor.from_file(path)  # with the detector its card stores
    assert predictor.detector is not None, f"{name} has no not-a-digit detector: run digitdraw calibrate"
    held = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    for style, (x, _) in drawn.styled_sets(pendigits_file).items():
        refused = float(predictor.outputs(x).not_a_digit.mean())
        assert refused <= MAX_STYLE_REFUSED, f"{name} refuses {refused:.1%} of the {style} drawings"
        strokes = [d.strokes for d in drawn.styled_digits_and_rng(held, style)[0]] * drawn.EVAL_COPIES
        refused = float(predictor.outputs(x, strokes).not_a_digit.mean())  # as the canvas reads them
        assert refused <= MAX_STYLE_REFUSED, f"{name} refuses {refused:.1%} of the {style} drawings"


def test_digits_slanted_far_or_a_narrow_slashed_zero_are_digits_to_the_detector(shipped, pendigits_file):
    """Writers 25-30's digits slanted by 40 degrees, and their zeros drawn half as wide with a slash
    (an engineer's): few refused. Now dense 1.3% and 5.1%, cnn 2.0% and 9.6%; before the detector learnt
    reshaped digits (calibrate_model.reshaped), dense 18% and 7.7%, cnn 6.0% and 20%."""
    from digitdraw.strokes import render_as_drawn

    name, path, _, _ = shipped
    predictors = {name: Predictor.from_file(path)}
    held = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    rng = np.random.default_rng(3)

    def reshaped(strokes, aspect: float, shear: float) -> list[np.ndarray]:
        pts = np.concatenate(strokes)
        mid = (pts.min(axis=0) + pts.max(axis=0)) / 2
        return [(s - mid) @ np.array([[aspect, shear], [0.0, 1.0]]).T + mid for s in strokes]

    def refused(drawings: list) -> float:
        out = []
        for strokes in drawings:
            paths = on_square_canvas(strokes)
            r = reading.read_drawing(
                render_as_drawn(paths, 18, background="transparent"), predictors, strokes=paths
            )
            out.append(r.models[name].status == reading.NOT_A_DIGIT)
        return float(np.mean(out))

    picked = [held[i] for i in rng.choice(len(held), 150, replace=False)]
    slanted = [reshaped(d.strokes, 1.0, 0.84 * rng.choice([-1, 1])) for d in picked]  # tan 40 degrees
    zeros = [d for d in held if d.label == 0]
    slashed = [styles.slashed_zero(reshaped(d.strokes, 0.5, 0.0), rng) for d in zeros]
    assert refused(slanted) <= 0.05 and refused(slashed) <= 0.12


def test_real_digits_read_with_their_strokes_are_rarely_refused(shipped, pendigits_file):
    """The detector also refuses where unsure pixels and the pen's path surely name different digits
    (penpath.disagree): writers 25-30's digits, drawn, stay under issue 14's 1% of real digits
    refused with their strokes as written, drawn backwards, or broken by a lift."""
    name, path, _, _ = shipped
    predictor = Predictor.from_file(path)
    held = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    x, _ = drawn.drawn_set(pendigits_file)
    rng = np.random.default_rng(6)
    ways = {
        "as written": [d.strokes for d in held],
        "backwards": [[s[::-1] for s in d.strokes][::-1] for d in held],
        "broken": [penpath.lifted(d.strokes, rng, 0.5) for d in held],
    }
    for way, strokes in ways.items():
        refused = predictor.outputs(x, strokes * drawn.EVAL_COPIES).not_a_digit.mean()
        assert refused <= 0.01, f"{name} refuses {refused:.2%} of real digits with strokes {way}"


def test_the_pen_path_refuses_more_non_digits_than_the_pixels_alone(shipped):
    from digitdraw.calibrate_model import draw_nondigits, flat, read_as_canvas

    name, path, _, _ = shipped
    predictor = Predictor.from_file(path)
    rows, paths = read_as_canvas(draw_nondigits("bench", 200, seed=0)[0])
    x, _ = flat(rows)
    pixels = predictor.outputs(x).not_a_digit
    both = predictor.outputs(x, [p for r in paths for p in r]).not_a_digit
    assert both[pixels].all() and both.sum() > pixels.sum()  # what the pixels refuse, and more


def test_each_shipped_model_has_a_pen_path_reader_the_cli_made(shipped):
    name, path, _, card = shipped
    entry = card["pen_path"]
    assert entry["command"].startswith("python -m digitdraw penpath ") and name in entry["command"].split()
    assert entry["writers"] == pendigits.TUNE_WRITERS and isinstance(entry["seed"], int)
    assert penpath.reader_file(path, entry).stat().st_size < 5 * 2**20
    reader = Predictor.from_file(path).pen_path
    assert reader is not None and reader.weight == entry["weight"]


def _with_strokes(predictor: Predictor, x: np.ndarray, digits: list) -> np.ndarray:
    """Each drawing's answer read with its strokes (drawn.EVAL_COPIES renderings of each digit)."""
    strokes = [d.strokes for d in digits] * drawn.EVAL_COPIES
    assert len(strokes) == len(x)
    return predictor.outputs(x, strokes).probabilities.argmax(axis=1)


def test_drawn_digits_read_with_their_strokes_meet_the_target(shipped, pendigits_file):
    name, path, _, _ = shipped
    predictor = Predictor.from_file(path)
    held = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    x, y = drawn.drawn_set(pendigits_file)
    pooled = float(np.mean(_with_strokes(predictor, x, held) == y))
    pixels = drawn.drawn_evaluation(predictor, pendigits_file).accuracy
    assert pooled >= WITH_STROKES_FLOORS[name] and pooled > pixels
    right = total = 0
    for style, (xs, ys) in drawn.styled_sets(pendigits_file).items():
        redrawn, _ = drawn.styled_digits_and_rng(held, style)
        right += int(np.sum(_with_strokes(predictor, xs, redrawn) == ys))
        total += len(ys)
    assert right / total >= WITH_STROKES_STYLES_FLOORS[name]


def test_strokes_from_a_shaky_hand_or_a_fine_grained_pen_read_as_well(shipped, pendigits_file):
    """The same drawings, their strokes given as a trembling hand or a fine-grained pen gives them:
    read as well as the steady strokes (pen-path readers that took every point's direction read
    writers 19-24 so given 630 times wrong in 1,500, from 13; docs/experiments.md)."""
    name, path, _, _ = shipped
    predictor = Predictor.from_file(path)
    held = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    x, y = drawn.drawn_set(pendigits_file)
    steady = float(np.mean(_with_strokes(predictor, x, held) == y))
    rng = np.random.default_rng(5)
    # 8 times the points, each moved by 1% of the digit's size: a trembling hand, a 200-point-a-second pen
    strokes = [penpath.shaken(d.strokes, rng, times=8, noise=0.01) for d in held] * drawn.EVAL_COPIES
    shaken = float(np.mean(predictor.outputs(x, strokes).probabilities.argmax(axis=1) == y))
    assert shaken >= steady - 0.002, (steady, shaken)


def test_loops_drawn_round_the_other_way_read_as_well(shipped, pendigits_file):
    """The same drawings, each stroke's loop going round the other way (a 6 or a 9 as many
    left-handed people draw them, penpath.loops_reversed): read as well as the strokes as written.
    Readers trained without such loops read writers 19-24 so 114-176 times wrong in 3,000 on their
    own, from 20-32 (docs/experiments.md, twentieth session)."""
    name, path, _, _ = shipped
    predictor = Predictor.from_file(path)
    held = pendigits.load_pendigits(pendigits_file, writers=pendigits.HOLDOUT_WRITERS)
    x, y = drawn.drawn_set(pendigits_file)
    steady = float(np.mean(_with_strokes(predictor, x, held) == y))
    turned = [penpath.loops_reversed(d.strokes) for d in held] * drawn.EVAL_COPIES
    other_way = float(np.mean(predictor.outputs(x, turned).probabilities.argmax(axis=1) == y))
    assert other_way >= steady - 0.002, (steady, other_way)


def test_the_reader_reads_a_six_drawn_by_hand_with_its_loop_clockwise():
    [line] = [json.loads(text) for text in CLOCKWISE_SIX.read_text().splitlines()[:1]]
    six = pendigits.PenDigit(6, 0, [np.asarray(s, float) for s in line["strokes"]])
    rng = np.random.default_rng(0)
    hand = [six.strokes] + [pendigits.distort(six, rng).strokes for _ in range(29)]  # as one hand varies
    reader = Predictor.from_file(config.SHIPPED_MODELS_DIR / "cnn.keras").pen_path
    assert (reader.probabilities(hand).argmax(axis=1) == 6).mean() >= 0.9


def test_mnist_upscaled_tenfold_reads_as_well_through_the_app_pipeline(shipped, mnist):
    """A digit drawn big on the canvas must read as well as the same digit at MNIST size."""
    _, _, model, _ = shipped
    n = 3000
    images, labels = mnist.x_test[:n], mnist.y_test[:n]
    predictor = Predictor(model)
    direct = evaluate(predictor, images, labels).accuracy
    through = []
    for image in images:
        canvas = cv2.resize(image, (280, 280), interpolation=cv2.INTER_CUBIC)
        result = preprocess.preprocess(canvas)
        assert not result.empty
        through.append(result.image)
    piped = evaluate(predictor, np.stack(through), labels).accuracy
    assert piped >= direct - 0.003, f"{direct:.4f} direct vs {piped:.4f} through the pipeline"
