"""Read a drawing: one digit, a number of several, something that is not a digit, or nothing.

One call per drawing, for the Draw page and the CLI alike:

    reading = read_drawing(pixels, predictors, strokes=strokes, source="canvas", mode="digit")
    reading.status                   # "digit" | "number" | "not a digit" | "empty"
    reading.models["cnn"].text       # "7", "2026", or None when it reads no digit
    reading.models["cnn"].digits[0]  # digit, confidence, probabilities, sure, x0/x1

How: digitdraw.segment splits the ink into digits, left to right (the pen's strokes help where
digits touch); each digit is preprocessed exactly like a single one; every model reads all the
digits in one call, with the calibrated probabilities and the not-a-digit detector its card
stores (Predictor.from_file, `digitdraw calibrate`).

Statuses, per model:
- "empty": no readable ink (nothing drawn, or only marks too small to read);
- "not a digit": the model's detector refuses at least one piece (a word split into letters
  is refused as a whole); `text` is None, and `guess` keeps what it would have read, as a hint;
- "digit": one digit; "number": several, read left to right.
The drawing's status is the lead model's: the cnn when it is asked (the better reader and the
better refuser on bench/honest.py), else the first model. Segmentation is shared, so the models
can differ only on "not a digit".

Modes: "digit" (the square canvas) and "number" (the wide one) read the same way, but for how
readily two pieces side by side are taken for one digit (_JOIN_OVERLAP). A user who writes "17"
on the square canvas means seventeen: reading it as one digit ("7, 100% sure") was the fault
issue 14 names, and refusing it would lose what they wrote. So several digits are read as a
number in either mode; in "digit" mode `message` also says that the number mode is meant for
numbers. `mode_for` picks the mode for a picture that comes with none (the CLI).

Confidence: each digit's `confidence` is its calibrated top probability and it is `sure` from
config.CONFIDENCE_THRESHOLD up; a number's confidence is the product of its digits' (the
chance that every digit is right, if their errors are independent).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from digitdraw import config, predict, preprocess, segment, skips
from digitdraw.predict import Predictor

DIGIT, NUMBER, NOT_A_DIGIT, EMPTY = "digit", "number", "not a digit", "empty"
STATUSES = (DIGIT, NUMBER, NOT_A_DIGIT, EMPTY)
Source = Literal["canvas", "image"]
Mode = Literal["digit", "number"]

# What the user is told when there is no ink at all, by where the pixels came from.
NO_INK_IMAGE = preprocess.NO_INK_REASON
EMPTY_REASONS = {"canvas": preprocess.EMPTY_REASON, "image": NO_INK_IMAGE}
# "Draw it bigger" is no advice for a photo: a small digit in a large photo is read once cropped.
TOO_SMALL_IMAGE = "The writing is too small in this image to read — crop it closer to the digits."
NOT_A_DIGIT_MESSAGE = "That doesn't look like a digit."
LEFT_OUT_MESSAGE = "A dot or small mark was left out: only digits are read (no decimal points or signs)."
# "Smaller" alone was odd advice for a small digit drawn in a corner (qa28).
AT_EDGE_MESSAGE = (
    "The drawing touches the canvas's edge: if any of it ran off, draw it a little smaller or further in."
)
CUT_OFF_MESSAGE = (
    "Ink cut off by the photo's edge was left out: take the photo with some paper round the digits."
)
MENDED_MESSAGE = "Read with the gaps closed where the pen seems to have skipped."
CLOSER_MESSAGE = "The writing is small in this photo: it was read from a crop round it."
# A photo is read shrunk (preprocess._PHOTO_SIDE); a number 1 cm tall on a whole page is then too
# small to read there, but not in the photo itself (qa24). Where all of a photo's digits are too small
# and they stand in one row, that row is read again from a crop of the photo: the row and this many
# times its height of paper round it. Not where the tallest piece is under CLOSER_MIN of the photo's
# size (a speck, not writing), nor where marks at least OTHERS as tall as the row stand elsewhere
# (which of them was meant is not known: the message asks for a crop).
CLOSER_MARGIN = 1.0
CLOSER_MIN = 0.02
CLOSER_OTHERS = 0.5
# A drawing whose every piece is under this fraction of its longer side is too small to read.
MIN_EXTENT = preprocess._MIN_EXTENT
# Neighbouring pieces sharing at least this much of the narrower one's width may be one digit (see
# _join_where_one_reads_better), by mode; all chosen on writers 1-24. Number mode: the 4s it joined
# shared 0.31-0.79, the one pair of touching digits it wrongly joined ("77" read "7") 0.30. Digit
# mode, where one digit is meant: pieces that touch or overlap side to side at all. Of 5,996 single
# pen digits drawn on the square canvas, 19 were split (fours whose stem stands apart from the bar
# read "11" or "61", zeros cut at the canvas's edge); joined from 0, 15 of them read right, and
# none of 600 numbers written with gaps lost a digit (docs/experiments.md, thirteenth session).
_JOIN_OVERLAP: dict[str, float] = {"digit": 0.0, "number": 0.35}
# On the square canvas a bar drawn apart from its digit (a 5's flag lifted off beside its top, a gap
# between them) may be one digit with it too: a piece at most _BAR_TALL of its neighbour's height
# and at least twice as wide as tall, in the top third of it, no further from it side to side than
# _BAR_GAP of its height. A minus sign sits at mid-height and stays apart. (A tester's 5s with the flag
# 0.3-0.6 of their height to the right: 3 of 30 were read as "51" and refused, each a gap of 9-16 px
# at 280 px; joined, all 3 read 5 at 0.999: docs/experiments.md, twentieth session.)
_BAR_TALL = 0.3
_BAR_GAP = 0.25
# A picture no wider than this for its height is read as the square canvas is (the CLI: mode_for).
SQUARE_RATIO = 1.5
# A stroke with more than this share of its points in a digit's box reaches into that digit; one
# that leaves more than this share outside the digit it belongs to is shared (strokes_of).
_SHARED = 0.1
# A blob (hardly longer than its pen is wide) under this fraction is a tap, not a filled shape.
FILLED_EXTENT = preprocess._FILLED_EXTENT


@dataclass(frozen=True)
class DigitAnswer:
    """One model's answer for one digit of the drawing."""

    digit: int
    confidence: float  # calibrated top probability
    probabilities: np.ndarray  # (10,) calibrated, sums to 1
    sure: bool  # confidence >= the threshold
    not_a_digit: bool  # the model's detector refused this piece
    x0: int  # the piece's ink, columns x0..x1-1 of the drawing
    x1: int
    pen_path: bool = False  # read from the pen's strokes too, not the pixels alone (digitdraw.penpath)

    def as_dict(self) -> dict:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "sure": self.sure,
            "not_a_digit": self.not_a_digit,
            "x0": self.x0,
            "x1": self.x1,
            "pen_path": self.pen_path,
        }


@dataclass(frozen=True)
class ModelReading:
    """What one model reads in the whole drawing."""

    model: str
    status: str
    digits: tuple[DigitAnswer, ...]

    @property
    def guess(self) -> str:
        """The digits it would read, left to right, whatever its status ("" when empty)."""
        return "".join(str(d.digit) for d in self.digits)

    @property
    def text(self) -> str | None:
        """The digits it reads ("7", "2026"); None when it reads no digit (empty, not a digit)."""
        return self.guess if self.status in (DIGIT, NUMBER) else None

    @property
    def confidence(self) -> float:
        """The chance that every digit is right: the product of their confidences (0 when none)."""
        return float(np.prod([d.confidence for d in self.digits])) if self.digits else 0.0

    @property
    def sure(self) -> bool:
        return bool(self.digits) and all(d.sure for d in self.digits)

    def as_dict(self) -> dict:
        out: dict = {"status": self.status, "text": self.text}
        # The single-digit keys predict has always printed, for every drawing of one piece: for one
        # this model refuses they hold its guess (`status` and `text` say it reads no digit), so that
        # a reader of `digit` meets the key in every answer to a single digit.
        if len(self.digits) == 1 and self.status in (DIGIT, NOT_A_DIGIT):
            out["digit"] = self.digits[0].digit
            out["probabilities"] = [round(float(p), 6) for p in self.digits[0].probabilities]
        if self.status == NOT_A_DIGIT:
            out["guess"] = self.guess
        out["confidence"] = round(self.confidence, 6)
        out["digits"] = [d.as_dict() for d in self.digits]
        return out


@dataclass(frozen=True)
class Reading:
    """The drawing's reading: its status, and each model's."""

    status: str
    models: dict[str, ModelReading]
    mode: Mode = "digit"
    source: Source = "canvas"
    reason: str | None = None  # why it is empty, in words for the user
    segments: tuple[segment.Segment, ...] = ()  # the readable digits' ink, left to right
    inputs: tuple[np.ndarray, ...] = field(default=(), repr=False)  # their 28x28 model inputs
    steps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # a single digit's steps
    left_out: int = 0  # marks drawn on the canvas that no digit took (a decimal point, a stray dot)
    cut_off: int = 0  # pieces as tall as a digit that a photo's edge cut, left out (segment.Split)
    # Canvas only: digits whose ink reaches the canvas's edge, where a big digit may have run off it
    # (a tester's digits drawn past the edge were read right 12 times in 20).
    at_edge: int = 0
    # Each digit's strokes as its pen-path readers read them (strokes_of; None where not known).
    paths: tuple[list[np.ndarray] | None, ...] = field(default=(), repr=False)
    mended: int = 0  # gaps closed where the pen skipped (read_drawing, digitdraw.skips)
    closer: bool = False  # a photo's small writing read from a crop round it (CLOSER_MARGIN)

    @property
    def redrawn(self) -> bool:
        """Whether the models read the pen's strokes drawn again thinner (digitdraw.redraw)."""
        return any(s.redrawn for s in self.segments)

    @property
    def message(self) -> str:
        """One sentence for the user about the drawing as a whole."""
        if self.status == EMPTY:
            return self.reason or EMPTY_REASONS[self.source]
        if self.status == NOT_A_DIGIT:
            return NOT_A_DIGIT_MESSAGE
        said = []
        if self.status == NUMBER and self.mode == "digit":
            n = len(self.segments)
            said.append(f"That looks like {n} digits, read as a number; Number mode is made for numbers.")
        if self.left_out:
            said.append(LEFT_OUT_MESSAGE)
        if self.cut_off:
            said.append(CUT_OFF_MESSAGE)
        if self.at_edge:
            said.append(AT_EDGE_MESSAGE)
        if self.mended:
            said.append(MENDED_MESSAGE)
        if self.closer:
            said.append(CLOSER_MESSAGE)
        return " ".join(said)

    def as_dict(self) -> dict:
        out: dict = {"status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.left_out:
            out["left_out"] = self.left_out
        if self.cut_off:
            out["cut_off"] = self.cut_off
        if self.at_edge:
            out["at_edge"] = self.at_edge
        if self.redrawn:  # read from the strokes drawn again with a thinner pen (digitdraw.redraw)
            out["redrawn"] = True
        if self.mended:
            out["mended"] = self.mended
        if self.closer:
            out["closer"] = True
        out["models"] = {name: m.as_dict() for name, m in self.models.items()}
        return out


def mode_for(shape: Sequence[int]) -> Mode:
    """The mode for a picture that comes without one (`predict`): "digit", as the Draw page reads its
    square canvas, when it is at most SQUARE_RATIO times as wide as tall; else "number", as the
    wide Number canvas (2:1) is read."""
    h, w = shape[:2]
    return "digit" if w <= SQUARE_RATIO * h else "number"


def lead_model(names: Sequence[str]) -> str | None:
    """The model whose status is the drawing's: the cnn when asked, else the first."""
    for name in names:
        if name.lower() == "cnn":
            return name
    return names[0] if names else None


def _too_small(source: Source) -> str:
    return TOO_SMALL_IMAGE if source == "image" else preprocess.TOO_SMALL_REASON


def is_too_small(reason: str | None) -> bool:
    """The reason says the ink is too small to read (drawn, or in a photo)."""
    return reason in (preprocess.TOO_SMALL_REASON, TOO_SMALL_IMAGE)


def _why_not(piece: segment.Segment, result: preprocess.Preprocessed, longest: int) -> str | None:
    """Why a piece cannot be read, judged against the whole drawing: in its own crop even a tap is
    large, so a "filled shape" smaller than FILLED_EXTENT of the drawing is a mark too small."""
    extent = max(piece.x1 - piece.x0, piece.y1 - piece.y0)
    if result.status is preprocess.Status.FILLED and extent < FILLED_EXTENT * longest:
        return preprocess.TOO_SMALL_REASON
    return result.reason


def read_drawing(
    pixels: np.ndarray,
    predictors: Mapping[str, Predictor],
    *,
    strokes: Sequence[np.ndarray | Sequence] | None = None,
    source: Source = "canvas",
    mode: Mode = "digit",
    threshold: float = config.CONFIDENCE_THRESHOLD,
    mend: bool = True,
) -> Reading:
    """Canvas or photo pixels (any size and aspect ratio) -> the Reading (see the module doc).

    predictors: {name: Predictor}, in the order the page shows them; strokes: the pen's strokes
    in pixel coordinates, when the canvas gives them (they split touching digits).

    On the square canvas, strokes that show where the pen skipped (digitdraw.skips) are read with
    those gaps closed (`mended` counts them); not with mend=False.
    """
    if mend and mode == "digit" and source == "canvas" and strokes:
        fix = skips.mended(strokes)
        if fix.gaps:
            pixels = skips.bridged(pixels, strokes, fix.gaps)
            got = _read(pixels, predictors, fix.strokes, source, mode, threshold)
            return replace(got, mended=len(fix.gaps))
    return _read(pixels, predictors, strokes, source, mode, threshold)


def _read(
    pixels: np.ndarray,
    predictors: Mapping[str, Predictor],
    strokes: Sequence[np.ndarray | Sequence] | None,
    source: Source,
    mode: Mode,
    threshold: float,
    closer: bool = True,
) -> Reading:
    """read_drawing, the drawing as it is; a photo whose writing is too small, from a crop round it
    (unless closer=False: the crop itself)."""
    if source not in EMPTY_REASONS:
        raise ValueError(f"source must be 'canvas' or 'image', not {source!r}")
    if mode not in ("digit", "number"):
        raise ValueError(f"mode must be 'digit' or 'number', not {mode!r}")
    rows, marks, cut_off = segment.read_row(pixels, strokes, source)
    readable = [(s, p) for s, p in rows if p.image is not None]
    # Each piece is preprocessed in its own crop, where any mark fills the frame: a mark too
    # small to be a digit is judged against the whole drawing, as preprocess judges one digit.
    longest = preprocess.ink_map_side(np.shape(pixels), source)
    h, w = np.shape(pixels)[:2]
    # An image may be a long strip of paper with a number along it: there the digits' size is
    # judged against its shorter side (a 118 px 7 in a 3000x300 photo was "too small").
    size = longest * min(h, w) / max(h, w, 1) if source == "image" else longest
    if readable and all(max(s.x1 - s.x0, s.y1 - s.y0) < MIN_EXTENT * size for s, _ in readable):
        look = closer and source == "image"
        crop = _closer_look(pixels, [s for s, _ in readable], longest, size) if look else None
        if crop is not None:
            got = _read(crop, predictors, None, source, mode, threshold, closer=False)
            if got.status != EMPTY:
                return replace(got, closer=True)
        return _empty(predictors, mode, source, _too_small(source))
    if not readable:
        reason = next((_why_not(s, p, longest) for s, p in rows if p.reason), None) or EMPTY_REASONS[source]
        if reason == preprocess.TOO_SMALL_REASON:
            reason = _too_small(source)
        elif reason == NO_INK_IMAGE and preprocess.is_plain(pixels):
            reason = preprocess.PLAIN_IMAGE_REASON
        return _empty(predictors, mode, source, reason)
    readable = _join_where_one_reads_better(
        readable, predictors, threshold, _JOIN_OVERLAP[mode], bars=mode == "digit"
    )
    if mode == "number" and strokes is not None and source == "canvas":
        readable = _split_where_two_read_better(readable, pixels, strokes, predictors, threshold)
    segments = tuple(s for s, _ in readable)
    inputs = tuple(p.image for _, p in readable)
    x = np.stack(inputs)
    paths = strokes_of(segments, strokes) if strokes is not None and source == "canvas" else None
    models = {}
    together = predict.outputs_together(list(predictors.values()), x, paths)
    for name, out in zip(predictors, together, strict=True):
        refused = out.not_a_digit if out.not_a_digit is not None else np.zeros(len(x), bool)
        pen = out.pen_path if out.pen_path is not None else np.zeros(len(x), bool)
        answers = []
        for k, (s, probs) in enumerate(zip(segments, out.probabilities, strict=True)):
            digit = int(np.argmax(probs))
            conf = float(probs[digit])
            answers.append(
                DigitAnswer(digit, conf, probs, conf >= threshold, bool(refused[k]), s.x0, s.x1, bool(pen[k]))
            )
        if refused.any():
            status = NOT_A_DIGIT
        else:
            status = DIGIT if len(answers) == 1 else NUMBER
        models[name] = ModelReading(name, status, tuple(answers))
    lead = lead_model(list(models))
    status = models[lead].status if lead is not None else (DIGIT if len(inputs) == 1 else NUMBER)
    steps = readable[0][1].steps if len(readable) == 1 else {}
    # The segmenter's marks outside its pieces, less those a joined piece's box now takes in.
    left_out = sum(not segment.inside(m, segments) for m in marks)
    at_edge = sum(segment.at_edge(s, np.shape(pixels)) for s in segments) if source == "canvas" else 0
    return Reading(
        status,
        models,
        mode,
        source,
        None,
        segments,
        inputs,
        steps,
        left_out,
        cut_off,
        at_edge,
        tuple(paths or ()),
    )


def strokes_of(
    segments: Sequence[segment.Segment], strokes: Sequence[np.ndarray | Sequence]
) -> list[list[np.ndarray] | None]:
    """Each digit's strokes, in the order they were drawn, for its pen-path reading: a stroke
    belongs to the digit whose box holds most of its points (a dot no digit took belongs to none).
    None for a digit that shares a stroke with another (a pen that ran on from one digit into the
    next, in Number mode): its path would be partly its neighbour's, so it is read from its pixels."""
    out: list[list[np.ndarray] | None] = [[] for _ in segments]
    for stroke in strokes if segments else ():
        pts = np.asarray(stroke, np.float64).reshape(-1, 2)
        if not len(pts):
            continue
        shares = np.array([segment.box_share(pts, s, margin=2) for s in segments])
        best = int(np.argmax(shares))
        for k in np.flatnonzero(shares > _SHARED):  # the stroke reaches into these digits
            if k != best or shares[k] < 1 - _SHARED:
                out[k] = None
        if shares[best] >= 0.5 and out[best] is not None:
            out[best].append(pts)
    return out


def _join_where_one_reads_better(
    readable: list[tuple[segment.Segment, preprocess.Preprocessed]],
    predictors: Mapping[str, Predictor],
    threshold: float,
    overlap: float,
    bars: bool = False,
) -> list[tuple[segment.Segment, preprocess.Preprocessed]]:
    """Neighbouring pieces that overlap side to side (or, with `bars`, a bar beside the top of a digit:
    `_bar_beside`), joined where the lead model reads them surely as one digit and that is likelier
    than the two digits it reads them as.

    The segmenter cuts by shape: a 4 whose stem its pen drew apart from the bar (or touching it where
    their strokes do not meet) looks like a 1 beside an L. Digits written side by side rarely share
    more than a third of the narrower one's width, and a reader asked about both readings settles it.
    """
    lead = lead_model(list(predictors))
    if lead is None or len(readable) < 2:
        return readable
    out = list(readable)
    k = 0
    while k < len(out) - 1:
        (a, pa), (b, pb) = out[k], out[k + 1]
        shared = min(a.x1, b.x1) - max(a.x0, b.x0)
        if shared < overlap * min(a.x1 - a.x0, b.x1 - b.x0) and not (bars and _bar_beside(a, b)):
            k += 1
            continue
        one = segment.joined(a, b)
        whole = segment.read_piece(one)
        if whole.image is None:
            k += 1
            continue
        got = predictors[lead].outputs(np.stack([pa.image, pb.image, whole.image]))
        refused = got.not_a_digit if got.not_a_digit is not None else np.zeros(3, bool)
        pair, single = got.probabilities[:2].max(axis=1), float(got.probabilities[2].max())
        if not refused[2] and single >= threshold and single > float(np.prod(pair)):
            out[k : k + 2] = [(one, whole)]  # and look at the joined piece with the next one
        else:
            k += 1
    return out


def _bar_beside(a: segment.Segment, b: segment.Segment) -> bool:
    """Whether one of two pieces is a bar drawn apart from the top of the other (_BAR_TALL, _BAR_GAP)."""
    for bar, body in ((a, b), (b, a)):
        tall, wide, height = bar.y1 - bar.y0, bar.x1 - bar.x0, body.y1 - body.y0
        gap = max(bar.x0 - body.x1, body.x0 - bar.x1)
        if (
            tall <= _BAR_TALL * height
            and wide >= 2 * tall
            and (bar.y0 + bar.y1) / 2 < body.y0 + height / 3
            and gap <= _BAR_GAP * height
        ):
            return True
    return False


def _split_where_two_read_better(
    readable: list[tuple[segment.Segment, preprocess.Preprocessed]],
    pixels: np.ndarray,
    strokes: Sequence[np.ndarray],
    predictors: Mapping[str, Predictor],
    threshold: float,
) -> list[tuple[segment.Segment, preprocess.Preprocessed]]:
    """The other way round, on the wide canvas: a piece whose strokes the segmenter joined because
    one ends on another (a 4's bar on its stem; but also a 2 begun on the 1 before it) is cut in two
    where the lead model reads both sides surely and that is likelier than the one digit it reads."""
    lead = lead_model(list(predictors))
    if lead is None:
        return readable
    out = []
    for piece, read in readable:
        cuts = segment.apart(pixels, strokes, piece)
        if not cuts:
            out.append((piece, read))
            continue
        # One call: the whole piece, then both sides of each cut.
        got = predictors[lead].outputs(np.stack([read.image, *(p.image for cut in cuts for _, p in cut)]))
        n = len(got.probabilities)
        refused = got.not_a_digit if got.not_a_digit is not None else np.zeros(n, bool)
        top = got.probabilities.max(axis=1)
        best, best_p = [(piece, read)], float(top[0])
        for k, cut in enumerate(cuts):
            pair, no = top[1 + 2 * k : 3 + 2 * k], refused[1 + 2 * k : 3 + 2 * k]
            if not no.any() and pair.min() >= threshold and float(np.prod(pair)) > best_p:
                best, best_p = list(cut), float(np.prod(pair))
        out.extend(best)
    return out


def _closer_look(
    pixels: np.ndarray, pieces: Sequence[segment.Segment], longest: int, size: float
) -> np.ndarray | None:
    """The part of a photo round its one row of small digits, at the photo's own resolution (pieces
    are in the ink map's pixels, `longest` on its longer side); None where there is no such row."""
    pieces = sorted(pieces, key=lambda s: s.y1 - s.y0, reverse=True)
    first, rest = pieces[0], pieces[1:]
    tall = first.y1 - first.y0
    if max(first.x1 - first.x0, tall) < CLOSER_MIN * size:
        return None
    x0, y0, x1, y1 = first.x0, first.y0, first.x1, first.y1
    grown = True
    while grown:  # along the row: pieces beside it, less than a digit's height away
        grown = False
        for s in list(rest):
            if s.y0 < y1 and s.y1 > y0 and s.x0 - x1 < tall and x0 - s.x1 < tall:
                x0, y0, x1, y1 = min(x0, s.x0), min(y0, s.y0), max(x1, s.x1), max(y1, s.y1)
                rest.remove(s)
                grown = True
    if any(max(s.x1 - s.x0, s.y1 - s.y0) >= CLOSER_OTHERS * tall for s in rest):
        return None
    h, w = np.shape(pixels)[:2]
    scale, margin = max(h, w) / longest, CLOSER_MARGIN * (y1 - y0)
    top, bottom = max(0, int((y0 - margin) * scale)), min(h, int(np.ceil((y1 + margin) * scale)))
    left, right = max(0, int((x0 - margin) * scale)), min(w, int(np.ceil((x1 + margin) * scale)))
    return np.asarray(pixels)[top:bottom, left:right]


def _empty(predictors: Mapping[str, Predictor], mode: Mode, source: Source, reason: str) -> Reading:
    return Reading(EMPTY, {name: ModelReading(name, EMPTY, ()) for name in predictors}, mode, source, reason)


def load_predictors(specs: Sequence[str | os.PathLike], *, calibrated: bool = True) -> dict[str, Predictor]:
    """Model names or paths -> {name: Predictor}, with each card's calibration and detector (or, with
    calibrated=False, the bare model's probabilities).

    One key a model asked for: a file named like another model (the shipped `dense` and
    my/dense.keras) is keyed by its path as given, not silently put in the other's place; the same
    model asked twice is read once.
    """
    from digitdraw import modelio

    predictors: dict[str, Predictor] = {}
    paths: set[Path] = set()
    for spec in specs:
        path = modelio.resolve(spec)
        if path.resolve() in paths:
            continue
        paths.add(path.resolve())
        name = (modelio.model_name(spec) or str(spec)) if Path(spec).is_file() else str(spec)
        if name in predictors:
            name = str(spec)
        predictors[name] = (
            Predictor.from_file(path, name=name) if calibrated else Predictor(modelio.load(path))
        )
    return predictors
