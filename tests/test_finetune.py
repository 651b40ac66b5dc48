"""Learning from corrections: a fine-tune of the shipped cnn on a writer it reads badly reads that
writer's corrected drawings better, saves a model that loads and answers, with a card saying what it
learned from and how it did on corrections it never saw; bad input is refused before any training.

The writer is pendigits writer 28, the held-out writer the shipped cnn reads worst. A small recipe
keeps the run short; bench/personal.py measures the full one.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from digitdraw import config, finetune, modelio, pendigits, penpath
from digitdraw.feedback import NOT_A_DIGIT, ImportLine, parse_jsonl, to_jsonl_line
from digitdraw.finetune import (
    FinetuneError,
    FinetuneSettings,
    UntilEnough,
    finetune_on_corrections,
    settings_with,
    split_corrections,
    training_targets,
)
from digitdraw.predict import Predictor
from digitdraw.preprocess import preprocess
from digitdraw.training import Progress

BASE = config.SHIPPED_MODELS_DIR / "cnn.keras"
WORST_WRITER = 28
SMALL = FinetuneSettings(copies=8, mnist_replay=1000, pen_replay=100, epochs=3)
SEED = 3


def correction(label: int, strokes=None, image=None) -> ImportLine:
    strokes = strokes if strokes is not None else [[[100.0, 100.0], [400.0, 100.0], [220.0, 450.0]]]
    return ImportLine(label, strokes, None, np.zeros((28, 28), np.float32) if image is None else image)


@pytest.fixture(scope="module")
def writer_corrections(pendigits_file):
    """Writer 28's digits drawn as people draw them; the base cnn's misreadings first, 60 in all.

    Each correction keeps the very input the base misread, as the app keeps the canvas input.
    """
    digits = pendigits.load_pendigits(pendigits_file, writers=[WORST_WRITER])
    rng = np.random.default_rng(SEED)
    drawn = [(d, preprocess(pendigits.random_render(d, rng)).image) for d in digits + digits]
    drawn = [(d, image) for d, image in drawn if image is not None]
    x, y = np.stack([image for _, image in drawn]), np.array([d.label for d, _ in drawn])
    wrong = Predictor(modelio.load(BASE)).probabilities(x).argmax(axis=1) != y
    order = np.concatenate([np.flatnonzero(wrong), np.flatnonzero(~wrong)])[:60]
    lines = [
        ImportLine(int(y[i]), [s.tolist() for s in drawn[i][0].strokes], WORST_WRITER, x[i]) for i in order
    ]
    return lines, int(wrong[order].sum())


@pytest.fixture(scope="module")
def run(writer_corrections, mnist, pendigits_file, tmp_path_factory):
    lines, _ = writer_corrections
    progress = Progress()
    out = tmp_path_factory.mktemp("finetuned") / "cnn-mine.keras"
    result = finetune_on_corrections(
        BASE, lines, mnist, pendigits_file, out=out, seed=SEED, settings=SMALL, progress=progress
    )
    return result, progress


def test_the_corrections_it_trained_on_are_read_better(run, writer_corrections):
    result, _ = run
    lines, misread = writer_corrections
    assert misread >= 5, "writer 28 should give the shipped cnn some trouble"
    trained = [i for i in range(len(lines)) if i not in set(result.held_out_indices)]
    x = np.stack([lines[i].image for i in trained])
    y = np.array([lines[i].label for i in trained])
    before = (Predictor(modelio.load(BASE)).probabilities(x).argmax(axis=1) == y).mean()
    after = (Predictor(modelio.load(result.path)).probabilities(x).argmax(axis=1) == y).mean()
    assert after > before
    # It learned most of what it got wrong, not one lucky digit.
    assert (1 - after) <= (1 - before) / 2


def test_the_saved_model_loads_and_reads_digits(run, mnist):
    result, _ = run
    model = modelio.load(result.path)
    probs = Predictor(model).probabilities(mnist.x_test[:500])
    assert probs.shape == (500, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (probs.argmax(axis=1) == mnist.y_test[:500]).mean() > 0.97


def test_the_card_says_what_it_learned_from_and_how_it_did(run):
    result, _ = run
    card = modelio.read_card(result.path)
    assert card == result.card
    assert card["base_model"]["name"] == "cnn"
    assert card["architecture"] == "cnn"
    got = card["corrections"]
    assert got["given"] == 60 and got["trained_on"] + got["held_out"] == 60
    assert got["held_out"] == len(result.held_out_indices)
    assert 8 <= got["held_out"] <= 16  # about 20% of each digit's corrections
    assert got["held_out_share"] == SMALL.hold_out
    assert got["held_out_accuracy_before"] == pytest.approx(result.before, abs=1e-6)
    assert got["held_out_accuracy_after"] == pytest.approx(result.after, abs=1e-6)
    assert card["seed"] == SEED and card["training"]["seed"] == SEED
    assert card["training"]["copies"] == SMALL.copies
    assert 0.9 < card["test_accuracy"] <= 1
    assert card["epochs"] == SMALL.epochs and not card["cancelled"]
    assert card["data"]["train_images"] > 0 and card["training_seconds"] > 0


def test_progress_is_reported_each_epoch(run):
    _, progress = run
    assert [e["epoch"] for e in progress.epoch_end] == list(range(1, SMALL.epochs + 1))
    assert progress.epoch == SMALL.epochs and progress.step == progress.steps > 0
    assert all(np.isfinite(e["loss"]) for e in progress.batches + progress.epoch_end)


def test_a_cancelled_run_saves_nothing(writer_corrections, mnist, pendigits_file, tmp_path):
    lines, _ = writer_corrections
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "cancelled.keras"
    few = FinetuneSettings(copies=1, mnist_replay=100, pen_replay=0, epochs=1)
    result = finetune_on_corrections(
        BASE, lines[:20], mnist, pendigits_file, out=out, seed=0, settings=few, cancel=cancel
    )
    assert result.cancelled and result.path is None
    assert not out.exists() and not modelio.card_path(out).exists()


def test_corrections_of_one_digit_only_teach_it_without_forgetting_the_others(
    mnist, pendigits_file, tmp_path
):
    """Accepted, not refused: the replayed MNIST and pen digits hold the other nine digits."""
    digits = pendigits.load_pendigits(pendigits_file, writers=[WORST_WRITER])
    ones = parse_jsonl(to_jsonl_line(1, [s.tolist() for s in d.strokes]) for d in digits if d.label == 1)
    assert len(ones) >= SMALL.min_corrections
    result = finetune_on_corrections(
        BASE, ones, mnist, pendigits_file, out=tmp_path / "one.keras", seed=SEED, settings=SMALL
    )
    assert result.card["test_accuracy"] > 0.98
    per_class = result.card["per_class_accuracy"]
    assert min(per_class) > 0.95, f"a digit was forgotten: {per_class}"


def test_split_holds_out_a_share_of_each_digit_seeded():
    labels = [d for d in range(10) for _ in range(10)] + [7]  # ten of each, eleven 7s
    train, held = split_corrections(labels, 0.2, seed=1)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(labels)))
    assert np.bincount(np.asarray(labels)[held], minlength=10).tolist() == [2] * 10
    again = split_corrections(labels, 0.2, seed=1)
    assert held.tolist() == again[1].tolist()
    assert held.tolist() != split_corrections(labels, 0.2, seed=2)[1].tolist()
    # A digit corrected once is learned, not spent on measuring.
    assert split_corrections([3, 5, 5, 5, 5, 5], 0.5, seed=0)[1].size == 2


# -- What trains ---------------------------------------------------------------------------------


def kernels(model, kind) -> list[np.ndarray]:
    return [w for layer in model.layers if isinstance(layer, kind) for w in layer.get_weights()]


def test_by_default_the_convolutions_keep_the_base_kernels_and_the_dense_layers_learn(run):
    import keras

    result, _ = run
    assert SMALL.freeze_convolutions
    base, tuned = modelio.load(BASE), modelio.load(result.path)
    for got, want in zip(
        kernels(tuned, keras.layers.Conv2D), kernels(base, keras.layers.Conv2D), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    moved = [
        np.abs(got - want).max()
        for got, want in zip(
            kernels(tuned, keras.layers.Dense), kernels(base, keras.layers.Dense), strict=True
        )
    ]
    assert min(moved) > 0


def test_the_convolutions_learn_too_when_asked(writer_corrections, mnist, pendigits_file, tmp_path):
    import keras

    lines, _ = writer_corrections
    every = FinetuneSettings(copies=1, mnist_replay=300, pen_replay=0, epochs=1, freeze_convolutions=False)
    result = finetune_on_corrections(
        BASE, lines, mnist, pendigits_file, out=tmp_path / "all.keras", seed=SEED, settings=every
    )
    base = modelio.load(BASE)
    moved = [
        np.abs(got - want).max()
        for got, want in zip(
            kernels(result.model, keras.layers.Conv2D), kernels(base, keras.layers.Conv2D), strict=True
        )
    ]
    assert min(moved) > 0


def test_the_shipped_ensemble_is_fine_tuned_and_saved_with_its_member_count(
    writer_corrections, mnist, pendigits_file, tmp_path
):
    """The shipped cnn is several cnns in one file (digitdraw.ensemble); saved as weights alone, the
    fine-tuned one is rebuilt from the member count its card keeps."""
    members = (modelio.read_card(BASE) or {}).get("members")
    assert members and members >= 2, "the shipped cnn should be an ensemble"
    lines, _ = writer_corrections
    tiny = FinetuneSettings(copies=1, mnist_replay=300, pen_replay=0, epochs=1, reader=False)
    result = finetune_on_corrections(
        BASE, lines, mnist, pendigits_file, out=tmp_path / "mine.weights.h5", seed=SEED, settings=tiny
    )
    assert result.card["members"] == members
    again = modelio.load(result.path)  # weights alone: rebuilt from the card's member count
    x = mnist.x_test[:200]
    np.testing.assert_allclose(
        Predictor(again).probabilities(x), Predictor(result.model).probabilities(x), atol=1e-5
    )
    assert (Predictor(again).probabilities(x).argmax(axis=1) == mnist.y_test[:200]).mean() > 0.97
    # Asked not to learn the strokes (reader=False), the base's pen-path reader goes with it as it is.
    assert result.card["pen_path"]["from_base"] == str(BASE)
    assert "finetuned" not in result.card["pen_path"]
    assert penpath.file_beside(result.path).read_bytes() == penpath.file_beside(BASE).read_bytes()
    assert Predictor.from_file(result.path).pen_path is not None


# -- The pen's path: a person's own way of drawing -------------------------------------------------


# A 7 drawn in an order no pen-digit writer uses: the stem first, from its foot up, then the bar.
SEVEN_STEM_FIRST = [
    np.array([[220, 450], [310, 275], [400, 100]], float),
    np.array([[100, 100], [250, 100], [400, 100]], float),
]


def stem_first_sevens(n: int, rng: np.random.Generator) -> list[pendigits.PenDigit]:
    """That 7 reshaped n times (pendigits.distort), as one person's hand varies."""
    seven = pendigits.PenDigit(7, 0, SEVEN_STEM_FIRST)
    return [pendigits.distort(seven, rng) for _ in range(n)]


def drawn(digit: pendigits.PenDigit, rng: np.random.Generator) -> np.ndarray:
    """The model input the Draw page makes of a digit drawn on its canvas."""
    return preprocess(pendigits.random_render(digit, rng)).image


def test_the_reader_learns_a_persons_own_way_of_drawing_a_digit(
    writer_corrections, mnist, pendigits_file, tmp_path
):
    """The shipped pen-path reader takes most 7s begun at their foot for 5s; once their writer has corrected
    a dozen of them, their model's reader reads their new ones as 7, and other people's digits as before."""
    rng = np.random.default_rng(SEED)
    mine = [
        ImportLine(
            7, [s.tolist() for s in d.strokes], None, preprocess(pendigits.random_render(d, rng)).image
        )
        for d in stem_first_sevens(12, rng)
    ]
    lines, _ = writer_corrections
    settings = FinetuneSettings(copies=8, mnist_replay=300, pen_replay=500, epochs=3)
    result = finetune_on_corrections(
        BASE,
        lines[:40] + mine,
        mnist,
        pendigits_file,
        out=tmp_path / "mine.keras",
        seed=SEED,
        settings=settings,
    )
    entry = result.card["pen_path"]
    assert entry["file"] == penpath.file_beside(result.path).name
    assert entry["finetuned"]["corrections"] == result.trained_on
    # Its own entry: the shipped reader's command and figures are kept apart, as its base's.
    assert "holdout_accuracy" not in entry and "command" not in entry
    assert entry["base_reader"]["command"].startswith("python -m digitdraw penpath")
    base = Predictor.from_file(BASE).pen_path
    personal = Predictor.from_file(result.path).pen_path

    new_sevens = [d.strokes for d in stem_first_sevens(30, np.random.default_rng(SEED + 1))]
    # The reader retrained in the twenty-fourth session reads 40% of them (the one before, under 10%).
    assert (base.probabilities(new_sevens).argmax(axis=1) == 7).mean() < 0.5
    assert (personal.probabilities(new_sevens).argmax(axis=1) == 7).mean() > 0.9

    others = pendigits.load_pendigits(pendigits_file, writers=[25, 26])
    paths, labels = [d.strokes for d in others], np.array([d.label for d in others])
    before = (base.probabilities(paths).argmax(axis=1) == labels).mean()
    after = (personal.probabilities(paths).argmax(axis=1) == labels).mean()
    assert after >= before - 0.01, (before, after)


# -- What each image is learned towards -----------------------------------------------------------


def test_only_the_corrections_stop_teaching_once_read_right_enough():
    y, own = np.array([3, 1, 4, 1, 5, 9, 2, 6]), 5
    got = training_targets(y, own, 10, enough=0.8)
    np.testing.assert_array_equal(got[:, :10].argmax(axis=1), y)
    np.testing.assert_array_equal(got[:, :10].sum(axis=1), 1)
    np.testing.assert_allclose(got[:own, 10], 0.8)
    assert (got[own:, 10] == 1).all()  # the replayed images learn their labels as in any training


def test_the_loss_is_cross_entropy_until_the_label_is_given_enough():
    rng = np.random.default_rng(0)
    pred = rng.dirichlet(np.ones(10), size=6).astype(np.float32)
    label = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 6)]

    def loss(p, enough):
        return float(
            UntilEnough()(np.concatenate([label, np.full((6, 1), enough)], axis=1).astype(np.float32), p)
        )

    assert loss(pred, 1.0) == pytest.approx(np.mean(-np.log((pred * label).sum(axis=1))), rel=1e-5)
    sure = 0.96 * label + 0.04 / 10  # the label at 0.964
    assert loss(sure, 0.9) == 0
    short_by = -np.log((pred * label).sum(axis=1)) + np.log(0.9)
    assert loss(pred, 0.9) == pytest.approx(np.mean(np.maximum(short_by, 0)), rel=1e-5)


# -- Refusals: each before any data is read or a second trained ----------------------------------


def refuse(tmp_path, corrections, match: str, base=BASE, out="mine.keras", settings=None):
    with pytest.raises((FinetuneError, modelio.ModelFileError), match=match):
        finetune_on_corrections(base, corrections, None, None, out=tmp_path / out, settings=settings)  # type: ignore[arg-type]
    assert not (tmp_path / out).exists()


def test_refuses_no_corrections(tmp_path):
    refuse(tmp_path, [], "No corrections to learn from")


def test_refuses_too_few_corrections(tmp_path):
    refuse(
        tmp_path, [correction(d) for d in range(5)], "at least 10 corrections with a digit label; there are 5"
    )


def test_refuses_when_all_say_not_a_digit(tmp_path):
    refuse(tmp_path, [correction(NOT_A_DIGIT)] * 12, "12 of them say 'not a digit'")


def test_refuses_an_unknown_base_model(tmp_path):
    many = [correction(d % 10) for d in range(20)]
    refuse(tmp_path, many, "No model named 'no-such-model'", base="no-such-model")
    refuse(tmp_path, many, "no such model file", base=tmp_path / "missing.keras")


def test_refuses_to_overwrite_the_base_or_write_a_non_model(tmp_path):
    many = [correction(d % 10) for d in range(20)]
    copy = tmp_path / "base.keras"
    copy.write_bytes(BASE.read_bytes())
    with pytest.raises(FinetuneError, match="the base model's file; choose another name"):
        finetune_on_corrections(copy, many, None, None, out=copy)  # type: ignore[arg-type]
    assert copy.read_bytes() == BASE.read_bytes()
    refuse(tmp_path, many, "ends in .keras", out="mine.h5")


def test_refuses_a_correction_without_strokes_or_input(tmp_path):
    many = [correction(d % 10) for d in range(20)]
    refuse(tmp_path, [*many, correction(4, strokes=[[]])], "correction 20 \\(a 4\\) has no strokes")
    refuse(tmp_path, [*many, correction(4, image=np.zeros((10, 10)))], "correction 20: its model input")
    refuse(tmp_path, [*many, correction(12)], "correction 20: label 12 is not a digit")


@pytest.mark.parametrize("enough", [0.0, -0.5, 1.5])
def test_refuses_an_enough_that_is_not_a_probability(tmp_path, enough):
    refuse(
        tmp_path,
        [correction(d % 10) for d in range(20)],
        f"enough must be a probability in \\(0, 1\\], got {enough}",
        settings=FinetuneSettings(enough=enough),
    )


def test_settings_are_changed_by_name_each_typed_like_its_default():
    got = settings_with(["epochs=1", "learning_rate=0.001", "freeze_convolutions=false", "time_budget=20"])
    assert got == FinetuneSettings(epochs=1, learning_rate=0.001, freeze_convolutions=False, time_budget=20.0)
    assert isinstance(got.epochs, int) and isinstance(got.time_budget, float)
    assert settings_with([]) == FinetuneSettings()
    assert settings_with(["copies=2"], SMALL) == FinetuneSettings(**{**SMALL.__dict__, "copies": 2})


@pytest.mark.parametrize(
    ("pair", "match"),
    [
        ("colour=red", "--set colour=red: use NAME=VALUE with NAME one of copies"),
        ("epochs", "--set epochs: use NAME=VALUE"),
        ("epochs=many", "--set epochs=many: 'many' is not a valid epochs"),
        ("augment=perhaps", "--set augment=perhaps: 'perhaps' is not a valid augment"),
    ],
)
def test_a_wrong_setting_is_named(pair, match):
    with pytest.raises(FinetuneError, match=match):
        settings_with([pair])


def test_the_digits_a_fine_tune_made_worse_on_mnist_are_named_worst_first():
    # A learner's open 9s drawn like 4s took the model's 4s from 99.6% to 82.9%; overall it fell 1.6
    # points, and nothing else said so (qa26).
    base = [0.99] * 10
    card = {"base_model": {"per_class_accuracy": base}, "per_class_accuracy": list(base)}
    card["per_class_accuracy"][4], card["per_class_accuracy"][7] = 0.829, 0.95
    card["per_class_accuracy"][1] = 0.975  # 1.5 points: within what a fine-tune moves anyway
    assert finetune.class_drops(card) == [(4, 0.99, 0.829), (7, 0.99, 0.95)]
    assert finetune.class_drops({"per_class_accuracy": base}) == []  # an older card: no base figures


def test_the_train_page_says_what_a_fine_tune_forgot(tmp_path):
    from digitdraw.ui import train_page

    path = tmp_path / "mine.keras"
    card = {"base_model": {"per_class_accuracy": [0.996] * 10}, "per_class_accuracy": [0.996] * 10}
    card["per_class_accuracy"][4] = 0.829
    modelio.card_path(path).write_text(json.dumps(card))
    said = train_page._forgotten(train_page._card(str(path)))
    assert "its 4s 99.6% → 82.9%" in said and "base model is unchanged" in said
    card["per_class_accuracy"][4] = 0.99
    modelio.card_path(path).write_text(json.dumps(card))
    assert train_page._forgotten(train_page._card(str(path))) is None
