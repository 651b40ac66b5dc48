"""Photos of digits on paper (synthetic, digitdraw.photos) are read like drawings on the canvas."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import needs_pendigits

from digitdraw import config, modelio, pendigits, reading, segment
from digitdraw.pendigits import HOLDOUT_WRITERS, TUNE_WRITERS, PenDigit, load_pendigits
from digitdraw.photos import CONDITIONS, PhotoSpec, random_spec, synthetic_photo
from digitdraw.predict import Predictor
from digitdraw.preprocess import Status, ink_map, ink_map_side, load_image_file, preprocess

# A 3 as a person writes it, in the tablet's 500x500 box, y down.
THREE = PenDigit(
    3,
    0,
    [
        np.array(
            [
                [130, 100],
                [200, 55],
                [290, 50],
                [355, 100],
                [350, 180],
                [270, 235],
                [215, 245],
                [290, 255],
                [365, 310],
                [375, 390],
                [310, 445],
                [210, 455],
                [120, 410],
            ],
            float,
        )
    ],
)
# The case: pencil on ruled paper, a soft shadow over the left third of the photo.
SHADOWED_RULED = PhotoSpec(width=480, height=400, ruled=0.08, shadow=(math.pi, 1 / 3, 0.55, 0.02))
DESK_STRIP = PhotoSpec(width=480, height=400, desk=("right", 0.18), gradient=0.3, gradient_angle=0.5)
BORDERS = PhotoSpec(width=480, height=400, desk=("top", 0.05), squared=0.05, rotation=5.0, jpeg=50)


@pytest.fixture(scope="module")
def cnn() -> Predictor:
    return Predictor(modelio.load(config.SHIPPED_MODELS_DIR / "cnn.keras"))


@pytest.mark.parametrize(
    "spec", [SHADOWED_RULED, DESK_STRIP, BORDERS], ids=["shadow+ruled", "desk", "borders"]
)
def test_a_pencil_three_in_a_hard_photo_reads_as_three(spec, cnn):
    photo = synthetic_photo(THREE, spec, np.random.default_rng(0))
    result = preprocess(photo, source="image")
    assert result.status is Status.OK, result.reason
    answer = cnn.predict_one(result.image)
    assert answer.digit == 3, answer
    # and it reads like the same 3 photographed on plain paper in even light
    plain = preprocess(
        synthetic_photo(THREE, PhotoSpec(width=480, height=400), np.random.default_rng(0)), source="image"
    )
    assert np.abs(result.image - plain.image).mean() < 0.06


def test_a_small_pencil_digit_on_a_whole_tilted_sheet_is_read_as_ink_not_the_paper_round_it(cnn):
    # A browser tester's photo of a whole sheet (tilted on a desk, a shadow over its right third, a pencil
    # 7 a seventh of its height; tests/data, shrunk to 640x480 as the app reads it). The strokes are
    # under 0.1% of the pixels: where the far 0.5% decided the ink's polarity, the paper's grain did,
    # the paper round the 7 became the "ink", and it read 0 or "not a digit".
    photo = load_image_file(
        (Path(__file__).parent / "data" / "photo_whole_sheet_small_seven.jpg").read_bytes()
    )
    ink = ink_map(photo, source="image")
    assert 0 < (ink > 0.25).mean() < 0.003  # strokes, not a filled region
    result = preprocess(photo, source="image")
    assert result.status is Status.OK, result.reason
    assert cnn.predict_one(result.image).digit == 7


def test_a_small_dark_digit_on_a_page_lit_brighter_in_the_middle_is_found(cnn):
    # A browser tester's photo (qa24): a pen 3 180 px tall on a 4000x3000 page, the light brighter in
    # the middle, read at 640x480 as the app reads a photo. Its strokes are 0.04% of the pixels: where
    # the darkest 0.05% decided the ink's polarity, the brighter paper passed for light ink.
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    light = 200 + 40 * np.exp(-3 * (((xx - 0.4 * w) / w) ** 2 + ((yy - 0.45 * h) / h) ** 2))
    page = np.stack([light, 0.97 * light, 0.9 * light], -1) + np.random.default_rng(5).normal(0, 1, (h, w, 3))
    pts = THREE.strokes[0]
    pen = (pts - pts.min(axis=0)) * 42 / np.ptp(pts[:, 1]) + (0.2 * w, 0.35 * h)
    cv2.polylines(
        page, [np.round(pen * 16).astype(np.int32).reshape(-1, 1, 2)], False, (30, 30, 60), 1, cv2.LINE_AA, 4
    )
    photo = np.clip(page, 0, 255).astype(np.uint8)
    assert (preprocess(photo, source="image").steps["ink"] > 0.5).mean() < 0.0005
    result = preprocess(photo, source="image")
    assert result.status is Status.OK, result.reason
    assert cnn.predict_one(result.image).digit == 3


def test_shadow_lines_and_desk_are_not_ink():
    rng = np.random.default_rng(1)
    spec = PhotoSpec(
        width=480, height=400, ruled=0.08, shadow=(math.pi, 1 / 3, 0.55, 0.02), desk=("right", 0.15)
    )
    photo = synthetic_photo(THREE, spec, rng)
    ink = ink_map(photo, source="image")
    # the same photo without the digit: whatever ink is found there is false
    empty = synthetic_photo(THREE, replace(spec, pencil_darkness=0.0), np.random.default_rng(1))
    assert preprocess(empty, source="image").status is Status.NO_INK
    assert (ink > 0.25).mean() > 0.01  # the digit is found ...
    assert (ink_map(empty, source="image") > 0.25).mean() < 0.001  # ... and nothing where it is absent


def test_photos_are_reproducible_and_every_condition_is_known():
    a = synthetic_photo(THREE, random_spec(np.random.default_rng(5), "everything"), np.random.default_rng(6))
    b = synthetic_photo(THREE, random_spec(np.random.default_rng(5), "everything"), np.random.default_rng(6))
    assert a.dtype == np.uint8 and a.ndim == 3 and np.array_equal(a, b)
    for condition in CONDITIONS:
        random_spec(np.random.default_rng(0), condition)
    with pytest.raises(ValueError, match="unknown condition"):
        random_spec(np.random.default_rng(0), "fog")


@needs_pendigits
def test_held_out_pen_digits_in_photos_are_read(cnn):
    # A small sample of what bench/photos.py measures in full (writers no model has seen).
    digits = load_pendigits(writers=HOLDOUT_WRITERS)
    rng = np.random.default_rng(7)
    right = total = 0
    for i in rng.choice(len(digits), size=40, replace=False):
        photo = synthetic_photo(digits[int(i)], random_spec(rng, "everything"), rng)
        result = preprocess(photo, source="image")
        total += 1
        right += int(result.image is not None and cnn.predict_one(result.image).digit == digits[int(i)].label)
    assert right / total >= 0.9


@needs_pendigits
@pytest.mark.parametrize("condition", ["squared", "ruled", "desk"])
def test_a_digit_on_lined_paper_or_beside_a_desk_is_found_as_one_digit(condition):
    # Printed lines are taken out without cutting the strokes that cross them (squared paper cut
    # 8 of these 60 digits in two, or joined a leftover line to them), and what a desk's edge
    # leaves beside the digit is not a second digit.
    digits = load_pendigits(writers=TUNE_WRITERS)
    rng = np.random.default_rng([3, 1])
    picks = rng.choice(len(digits), size=60, replace=False)
    photos = [synthetic_photo(digits[int(i)], random_spec(rng, condition), rng) for i in picks]
    found = [len(segment.segment(photo, source="image")) for photo in photos]
    assert found.count(1) >= 59, found


@pytest.mark.parametrize("shape", [(2, 24, 3), (24, 2), (20, 20000, 3), (3000, 12, 3)])
def test_a_photo_thinner_than_the_texture_blocks_is_read_without_an_error(shape):
    # Grainy pixels in a strip narrower than one block of the paper-texture measure: that measure
    # raised "cannot reshape array" (25 of 800 random images in a CLI fuzz run).
    grain = np.random.default_rng(0).uniform(150, 255, shape).astype(np.uint8)
    assert isinstance(segment.segment(grain, source="image"), list)
    assert preprocess(grain, source="image").status in set(Status)


# -- Photos of numbers --------------------------------------------------------------------------


def number_of(digits: list[PenDigit], gap: float = 0.3) -> PenDigit:
    """Pen digits written side by side as one drawing (each scaled to one height, `gap` of it apart)."""
    strokes, x = [], 0.0
    for d in digits:
        points = np.concatenate(d.strokes)
        lo, hi = points.min(axis=0), points.max(axis=0)
        scale = 400 / max(hi[1] - lo[1], 1)
        strokes += [(s - lo) * scale + [x, 0] for s in d.strokes]
        x += (hi[0] - lo[0]) * scale + 400 * gap
    return PenDigit(-1, 0, strokes)


def any_three(digits: list[PenDigit], rng: np.random.Generator) -> list[PenDigit]:
    return [digits[int(i)] for i in rng.choice(len(digits), 3, replace=False)]


@needs_pendigits
def test_a_photographed_number_beside_a_desk_is_split_into_its_digits_alone():
    # A desk's edge, its grain, or a sheet's edge was taken for another digit, or for one so tall
    # that every digit looked short and all were joined (10 of these 20 split right before).
    digits = load_pendigits(writers=TUNE_WRITERS)
    rng = np.random.default_rng(11)
    right = 0
    for _ in range(20):
        three = number_of(any_three(digits, rng))
        spec = replace(random_spec(rng, "desk"), width=900, height=600, digit_height=0.2)
        right += len(segment.segment(synthetic_photo(three, spec, rng), source="image")) == 3
    assert right >= 18, right


@needs_pendigits
def test_a_scrap_well_below_a_photographed_number_joins_none_of_its_digits():
    # A bit of a paper line under a photo's 7 joined it, and the tall "7" then swallowed "708".
    digits = load_pendigits(writers=TUNE_WRITERS)
    rng = np.random.default_rng(12)
    for _ in range(5):
        number = number_of(any_three(digits, rng))
        scrap = np.array([[60.0, 1000.0], [140.0, 1004.0]])  # under the first digit, 1.5 digits down
        photo = synthetic_photo(
            pendigits.PenDigit(-1, 0, [*number.strokes, scrap]), random_spec(rng, "ruled"), rng
        )
        segments = segment.segment(photo, source="image")
        digit_heights = sorted(s.y1 - s.y0 for s in segments)[-3:]
        assert len(segments) >= 3 and all(h < 1.3 * digit_heights[0] for h in digit_heights), [
            (s.x0, s.x1, s.y0, s.y1) for s in segments
        ]


@needs_pendigits
def test_digits_a_photo_s_edge_cuts_are_left_out_and_said_to_be():
    # A crop of "708" through its 7 and 0 read "8", and nothing said why the 7 and the 0 were gone.
    digits = load_pendigits(writers=TUNE_WRITERS)
    rng = np.random.default_rng(13)
    for _ in range(3):
        three = any_three(digits, rng)
        number = number_of(three)
        # The last digit written well above the other two, so that a crop can cut them and miss it.
        first_two = len(number.strokes) - len(three[-1].strokes)
        strokes = number.strokes[:first_two] + [s - [0, 220] for s in number.strokes[first_two:]]
        spec = replace(random_spec(rng, "gradient"), rotation=0.0, width=900, height=700, digit_height=0.3)
        photo = synthetic_photo(PenDigit(-1, 0, strokes), spec, rng)
        whole = segment.split(photo, source="image")
        assert len(whole.segments) == 3 and whole.cut_off == 0

        # Cropped just below the raised digit: through the middle of the other two.
        to_photo = max(photo.shape[:2]) / ink_map_side(photo.shape, "image")
        raised = whole.segments[-1]
        cropped = photo[: int((raised.y1 + 0.1 * (raised.y1 - raised.y0)) * to_photo)]
        cut = segment.split(cropped, source="image")
        assert len(cut.segments) == 1 and cut.cut_off == 2
        said = reading.Reading(reading.DIGIT, {}, source="image", cut_off=cut.cut_off).message
        assert reading.CUT_OFF_MESSAGE in said


def _page_with(marks: list[tuple[float, float, float]], width: int = 1024, height: int = 768) -> np.ndarray:
    """A photo of a page (light brighter in the middle, grain), as the app holds it once decoded, with
    a pen THREE at each (x, y, height) given in px."""
    yy, xx = np.mgrid[0:height, 0:width]
    light = 200 + 40 * np.exp(-3 * (((xx - 0.4 * width) / width) ** 2 + ((yy - 0.45 * height) / height) ** 2))
    noise = np.random.default_rng(7).normal(0, 3, (height, width, 3))
    page = np.stack([light, 0.97 * light, 0.9 * light], -1) + noise
    pts = THREE.strokes[0]
    for x, y, tall in marks:
        pen = (pts - pts.min(axis=0)) * tall / np.ptp(pts[:, 1]) + (x, y)
        line = np.round(pen * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(page, [line], False, (30, 30, 60), 3, cv2.LINE_AA, 4)
    return np.clip(page, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def readers() -> dict[str, Predictor]:
    return reading.load_predictors(["cnn"])


def test_a_number_written_small_on_a_whole_page_is_read_from_a_crop_round_it_and_said_to_be(readers):
    # A number 1 cm tall on a photo of a whole A4 page is under the size a photo's digits are read at
    # (640 px): "too small, crop closer" (qa24). In the photo itself it is 30 px tall: readable.
    photo = _page_with([(450, 340, 30), (478, 340, 30)])
    got = reading.read_drawing(photo, readers, source="image", mode="number")
    assert got.closer and got.models["cnn"].text == "33"
    assert reading.CLOSER_MESSAGE in got.message and got.as_dict()["closer"] is True
    # Written larger, it is read as it is.
    assert not reading.read_drawing(_page_with([(450, 300, 120)]), readers, source="image").closer


def test_small_writing_in_two_places_on_a_page_or_a_speck_is_still_too_small_to_read(readers):
    # Which of two small numbers was meant is not known; a speck is no writing. Both ask for a crop.
    apart = _page_with([(150, 100, 30), (700, 600, 30)])
    speck = _page_with([(500, 380, 6)])
    for photo in (apart, speck):
        got = reading.read_drawing(photo, readers, source="image")
        assert got.status == reading.EMPTY and reading.is_too_small(got.reason), got.reason
        assert not got.closer
