"""Fit a model's calibration and not-a-digit detector on pen digits, and store them with the model.

What `digitdraw calibrate MODEL` runs; bench/honest.py measures the result. Every drawing goes
the app's way (digitdraw.reading): rendered like the canvas, split into digits, each digit
preprocessed like a single one, then the model.

- Temperature: fitted (minimum NLL) on writers 25-30 rendered with seed FIT_SEED, the drawings
  read as one digit. Writers 25-30 are the only pen writers the models never trained on; the
  benchmark reports on other renderings of them (seed 2024, drawn.EVAL_SEED).
- Not a digit: from writers 1-24 only (writers 25-30 are what the benchmark reports on), their
  digits drawn FIT_COPIES times like the canvas (seed FIT_SEED), and DISTORTED_COPIES times
  through pendigits.distort (seed FIT_SEED + 1), and STYLED_COPIES times in each handwriting
  style of its class (digitdraw.styles, seed FIT_SEED + 2), all read the app's way. The networks trained
  on writers 1-24, so their features find those writers' digits more digit-like than a new
  writer's; the distorted copies are shapes they never trained on, which keeps the head and the
  thresholds from resting on what the networks memorised. Mahalanobis class means and
  covariance from the drawings read as one digit; the head (calibration.NotDigitHead) on those
  (their features, log distance and the model's confidence, calibration.confidence_input) and on FIT_NONDIGITS
  drawings of digitdraw.nondigits' "train" family (the "bench" family stays unseen). The
  thresholds: each drawing scored by a detector fitted without its writer (FOLDS folds of
  writers), at most max_refused of the drawings refused, itself chosen within writers 1-24
  (MAX_REFUSED_CANDIDATES) (calibration.NotADigit.cross_fitted); the detector kept is fitted on
  all of them.

Stored: card["calibration"] = {temperature, fitted_on, ece_before, ece_after, weights} and
card["not_a_digit"] = the thresholds and how they were fitted; the statistics (class means,
precision matrix, head weights; float32, about 60 kB compressed) in `<name>.ood.npz` beside the
model. `weights` fingerprints the weights fitted to: a retrained model's stale calibration is
ignored (Predictor.from_file) until this runs again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitdraw import calibration as cal
from digitdraw import modelio, nondigits, pendigits, reading, segment, styles
from digitdraw.predict import FEATURE_LAYER, Predictor, weights_digest

FIT_SEED = 11
FIT_COPIES = 2
DISTORTED_COPIES = 1
# Each digit of writers 1-24 also redrawn once in every handwriting style of its class
# (digitdraw.styles: a slashed zero, an open nine, ...), which the models train on too: without
# them the head learnt that a ring with a stroke through it is no digit, and refused most
# slashed zeros (docs/experiments.md, "Honest answers, round 5").
STYLED_COPIES = 1
# Digits written much narrower, wider or more slanted than the pen writers' own (an engineer's narrow
# slashed zero, a wide 8, a 40-degree slant): the networks read them, and the detector refused them
# (a tester's narrow slashed zeros: 23 of 30 by the cnn; docs/experiments.md, twentieth session).
RESHAPED_COPIES = 1
RESHAPED_ASPECT = (0.35, 1.6)  # width times this, log-uniform
RESHAPED_SHEAR = 0.8  # slant: x moves with y by up to this (about 39 degrees)
FIT_NONDIGITS = 12000
# The share of writers 1-24's drawings (each scored by a detector fitted without its writer) the
# threshold may refuse: chosen per model, within writers 1-24 (calibration.choose_max_refused):
# the largest of these whose whole procedure, run without each fold of writers in turn, refused
# at most 0.5% of the left-out writers' drawings on average and under 1% of the worst fold's.
# (For the 3-member dense, drawn and distorted drawings pooled: 0.25% -> 0.19% mean, 0.29% worst;
# 0.5% -> 0.40%, 0.49%; 1% -> 0.84%, 0.94%. Writers 25-30 then gave 1.00%: the estimate is
# still low for a model that trained on these writers; docs/experiments.md, "Honest answers,
# round 4".)
MAX_REFUSED_CANDIDATES = (0.0025, 0.005, 0.01)
FOLDS = 4  # writer % FOLDS: the groups left out in turn when the thresholds' scores are taken
OOD_SUFFIX = ".ood.npz"


# --------------------------------------------------------------------------- drawings


def read_drawings(drawings: list[pendigits.CanvasDrawing]) -> list[list[np.ndarray]]:
    """Each drawing -> the 28x28 inputs of the digits it holds (unreadable ones dropped), read from
    its pixels alone, as an image file or a photo is: the calibration serves those too, and fitted
    on the canvas's way (strokes, digitdraw.redraw) it refused fewer non-digits on the benchmark
    (docs/experiments.md, "Twelfth session"). The canvas's way: read_as_canvas.
    """
    return [[p.image for _, p in segment.read_row(d.pixels)[0] if p.image is not None] for d in drawings]


def read_as_canvas(
    drawings: list[pendigits.CanvasDrawing],
) -> tuple[list[list[np.ndarray]], list[list[list[np.ndarray]]]]:
    """Each drawing read as the Draw page reads it: (the inputs of the digits it holds, and each
    digit's strokes, reading.strokes_of, which a model's pen-path reader reads beside its pixels)."""
    rows, paths = [], []
    for d in drawings:
        pieces = [(s, p) for s, p in segment.read_row(d.pixels, d.paths)[0] if p.image is not None]
        rows.append([p.image for _, p in pieces])
        paths.append(reading.strokes_of([s for s, _ in pieces], d.paths))
    return rows, paths


def draw_digits(
    digits: list[pendigits.PenDigit], seed: int, copies: int, distorted: bool = False
) -> tuple[list[pendigits.CanvasDrawing], np.ndarray, np.ndarray]:
    """Each digit drawn `copies` times like the canvas: (drawings, labels, writers). distorted: each
    copy through pendigits.distort first (another hand's shape of it)."""
    drawn = list(pendigits.random_drawings(digits, np.random.default_rng(seed), copies, distorted))
    labels = np.array([d.label for d, _ in drawn], dtype=np.int64)
    return [drawing for _, drawing in drawn], labels, np.array([d.writer for d, _ in drawn], dtype=np.int64)


def reshaped(
    digits: list[pendigits.PenDigit], rng: np.random.Generator, copies: int
) -> list[pendigits.PenDigit]:
    """Each digit `copies` times as a hand far from the pen writers' might write it: its width times
    RESHAPED_ASPECT (log-uniform) and slanted by up to RESHAPED_SHEAR, either way."""
    out = []
    for _ in range(copies):
        for d in digits:
            pts = np.concatenate(d.strokes)
            mid = (pts.min(axis=0) + pts.max(axis=0)) / 2
            aspect = pendigits._log_uniform(rng, *RESHAPED_ASPECT)
            shear = rng.uniform(-RESHAPED_SHEAR, RESHAPED_SHEAR)
            matrix = np.array([[aspect, shear], [0.0, 1.0]])
            out.append(pendigits.PenDigit(d.label, d.writer, [(s - mid) @ matrix.T + mid for s in d.strokes]))
    return out


def render_digits(
    digits: list[pendigits.PenDigit],
    seed: int,
    copies: int,
    distorted: bool = False,
) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    """draw_digits, each drawing read (see read_drawings): (rows, labels, writers)."""
    drawings, labels, writers = draw_digits(digits, seed, copies, distorted)
    return read_drawings(drawings), labels, writers


def draw_nondigits(
    family: nondigits.Family, n: int, seed: int
) -> tuple[list[pendigits.CanvasDrawing], list[nondigits.NonDigit]]:
    """`n` non-digits of the family, each drawn like the canvas: (drawings, what each one is)."""
    odd = nondigits.generate(family, n, seed=seed)
    rng = np.random.default_rng(seed)
    return [pendigits.random_drawing(pendigits.PenDigit(-1, 0, d.strokes), rng) for d in odd], odd


def render_nondigits(family: nondigits.Family, n: int, seed: int) -> tuple[list, list[nondigits.NonDigit]]:
    drawings, odd = draw_nondigits(family, n, seed)
    return read_drawings(drawings), odd


def flat(rows: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """All digit inputs stacked, and for each the index of its drawing."""
    images = [im for r in rows for im in r]
    owner = np.array([i for i, r in enumerate(rows) for _ in r], dtype=np.int64)
    stack = np.stack(images) if images else np.zeros((0, 28, 28), np.float32)
    return stack, owner


def single(rows: list[list[np.ndarray]], labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The drawings read as exactly one digit: (their inputs, their labels)."""
    keep = [i for i, r in enumerate(rows) if len(r) == 1]
    x = np.stack([rows[i][0] for i in keep]) if keep else np.zeros((0, 28, 28), np.float32)
    return x, labels[keep]


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class Fitted:
    calibration: dict  # the card's "calibration" entry
    detector: cal.NotADigit
    not_a_digit: dict  # the card's "not_a_digit" entry, less the statistics' file name


def fit(
    model_predictor: Predictor,
    pendigits_path: str | os.PathLike,
    *,
    seed: int = FIT_SEED,
    copies: int = FIT_COPIES,
    train_nondigits: int = FIT_NONDIGITS,
    max_refused: float | None = None,
    every: int = 1,
    distorted_copies: int = DISTORTED_COPIES,
    styled_copies: int = STYLED_COPIES,
    reshaped_copies: int = RESHAPED_COPIES,
) -> Fitted:
    """Fit the temperature and the detector for the model behind `model_predictor` (raw outputs used).

    every: use every n-th pen digit only (a quick fit, for tests). max_refused: None chooses it
    within writers 1-24 (calibration.choose_max_refused).
    """
    if not model_predictor.has_features:
        raise ValueError(f"{model_predictor.name}: no {FEATURE_LAYER} layer for the not-a-digit detector")
    held = pendigits.load_pendigits(pendigits_path, writers=pendigits.HOLDOUT_WRITERS)[::every]
    tune = pendigits.load_pendigits(pendigits_path, writers=pendigits.TUNE_WRITERS)[::every]
    rows, labels, _ = render_digits(held, seed, copies)

    x1, y1 = single(rows, labels)
    raw = model_predictor.outputs(x1).raw
    t = cal.fit_temperature(raw, y1)
    fitted_on = (
        f"pendigits writers {pendigits.HOLDOUT_WRITERS}, {copies} canvas renderings each (seed {seed}), "
        f"split and preprocessed like the app: {len(y1)} of {len(rows)} drawings read as one digit"
        + (f" (every {every}th digit)" if every > 1 else "")
    )
    calibration = {
        "temperature": round(t, 6),
        "fitted_on": fitted_on,
        "ece_before": round(cal.ece(raw, y1), 6),
        "ece_after": round(cal.ece(cal.scale(raw, t), y1), 6),
        "weights": weights_digest(model_predictor.model),
    }

    # Not a digit: statistics and thresholds from writers 1-24 only, each drawing read the app's way,
    # as drawn, distorted (shapes the networks never trained on) and in each handwriting style.
    style_rng = np.random.default_rng(seed + 2)
    redrawn = [d for n in styles.STYLES for d in styles.styled_digits(tune, n, style_rng, styled_copies)]
    parts = [
        render_digits(tune, seed, copies),
        render_digits(tune, seed + 1, distorted_copies, distorted=True),
        render_digits(redrawn, seed + 2, 1),
        render_digits(reshaped(tune, np.random.default_rng(seed + 3), reshaped_copies), seed + 3, 1),
    ]
    tune_rows = [row for rows, _, _ in parts for row in rows]
    tune_labels = np.concatenate([y for _, y, _ in parts])
    tune_writers = np.concatenate([w for _, _, w in parts])
    x_tune, t_owner = flat(tune_rows)
    out_tune = model_predictor.outputs(x_tune)
    f_tune, p_tune = out_tune.features, out_tune.raw
    one_piece = np.bincount(t_owner, minlength=len(tune_rows))[t_owner] == 1  # its label is sure
    odd_rows, _ = render_nondigits("train", train_nondigits, 0)
    out_odd = model_predictor.outputs(flat(odd_rows)[0])
    f_odd, p_odd = out_odd.features, out_odd.raw
    folds = tune_writers[t_owner] % FOLDS
    figures: dict[float, tuple[float, float]] = {}
    probabilities = {"probabilities": p_tune, "other_probabilities": p_odd}
    if max_refused is None:
        max_refused, figures = cal.choose_max_refused(
            f_tune,
            tune_labels[t_owner],
            folds,
            f_odd,
            t_owner,
            one_piece,
            MAX_REFUSED_CANDIDATES,
            **probabilities,
        )
    detector = cal.NotADigit.cross_fitted(
        f_tune, tune_labels[t_owner], folds, f_odd, t_owner, max_refused, fit_mask=one_piece, **probabilities
    )
    # What the thresholds do on the drawings the full detector was fitted on (flattered: seen).
    refused = np.zeros(len(tune_rows), bool)
    np.logical_or.at(refused, t_owner, detector.refuses(f_tune, p_tune))
    not_a_digit = {
        "max_refused": max_refused,
        "max_refused_chosen_by": "the largest of "
        + ", ".join(
            f"{r:g} (left-out writers refused {mean:.2%} on average, {worst:.2%} the worst fold)"
            for r, (mean, worst) in figures.items()
        )
        + " within 0.5% on average and under 1% for the worst fold (writers 1-24, each fold left out)"
        if figures
        else "given",
        "refused_on_fit": round(float(refused.mean()), 6),
        "thresholds_fitted_on": f"pendigits writers {pendigits.TUNE_WRITERS}, {copies} canvas renderings "
        f"each (seed {seed}), {distorted_copies} distorted (pendigits.distort, seed {seed + 1}) and "
        f"{styled_copies} in each handwriting style of its class (digitdraw.styles, seed {seed + 2}), "
        f"{reshaped_copies} reshaped (calibrate_model.reshaped, seed {seed + 3}), "
        f"{len(tune_rows)} drawings, each scored by a detector fitted without its writer ({FOLDS} folds "
        "of writers); a drawing is refused when any digit in it is",
        "statistics_fitted_on": f"Mahalanobis: those drawings read as one digit ({int(one_piece.sum())}); "
        f"head: those and {len(f_odd)} pieces of {train_nondigits} 'train' family non-digits "
        "(digitdraw.nondigits, seed 0)",
    }
    return Fitted(calibration, detector, not_a_digit)


def ood_path(model_path: str | os.PathLike) -> Path:
    """models/cnn.keras -> models/cnn.ood.npz."""
    path = Path(model_path)
    return path.with_name((modelio.model_name(path) or path.stem) + OOD_SUFFIX)


def calibrate_file(model_path: str | os.PathLike, pendigits_path: str | os.PathLike, **kwargs) -> dict:
    """Fit, then write the statistics beside the model and the two entries into its card.

    Re-runnable: it replaces only the card's "calibration" and "not_a_digit" entries (the
    other keys, and their order, stay as they were). Returns the updated card.
    """
    model_path = Path(model_path)
    card = modelio.read_card(model_path)
    if card is None:
        raise modelio.ModelFileError(f"{model_path}: no model card beside it to store the calibration in.")
    fitted = fit(Predictor(modelio.load(model_path)), pendigits_path, **kwargs)
    stats = ood_path(model_path)
    tmp = stats.with_name(f".{stats.name}.tmp")
    fitted.detector.save_statistics(tmp)
    os.replace(tmp, stats)
    card["calibration"] = fitted.calibration
    card["not_a_digit"] = {**fitted.detector.card_entry(stats.name), **fitted.not_a_digit}
    modelio.write_json(modelio.card_path(model_path), card)
    return card
