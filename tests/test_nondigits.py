"""Synthetic non-digit drawings: seeded, in the pendigits stroke format, two families kept apart."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitdraw import nondigits, pendigits, segment
from digitdraw.preprocess import preprocess

# Letters a fair reader could take for a digit (0, 1, 2, 5, 6, 7, 8, 9): never generated.
DIGIT_LOOKALIKES = "OoDQCUIlijJTLZzSsBGbagq"


def test_the_same_seed_gives_the_same_drawings_and_another_seed_others():
    a, b = nondigits.generate("bench", 10, seed=4), nondigits.generate("bench", 10, seed=4)
    assert [d.name for d in a] == [d.name for d in b]
    assert all(
        np.array_equal(s, t)
        for x, y in zip(a, b, strict=True)
        for s, t in zip(x.strokes, y.strokes, strict=True)
    )
    c = nondigits.generate("bench", 10, seed=5)
    assert not all(np.array_equal(x.strokes[0], y.strokes[0]) for x, y in zip(a, c, strict=True))


def test_the_families_share_no_letter_shape_or_picture():
    train = nondigits.generate("train", 200, seed=0)
    bench = nondigits.generate("bench", 200, seed=0)
    assert not set(nondigits.TRAIN_LETTERS) & set(nondigits.BENCH_LETTERS)
    named = {"letter", "shape", "sun", "ring with marks", "smiley"}
    assert not {d.name for d in train if d.kind in named} & {d.name for d in bench if d.kind in named}
    train_letters = {c for d in train if d.kind == "word" for c in d.name}
    bench_letters = {c for d in bench if d.kind == "word" for c in d.name}
    assert train_letters <= set(nondigits.TRAIN_LETTERS) and bench_letters <= set(nondigits.BENCH_LETTERS)


def test_a_ring_with_marks_has_two_to_five_marks_inside_the_ring_and_none_touching_it():
    # Never one mark alone: a ring with one stroke through it is a slashed zero.
    for seed in range(60):
        ring, *marks = nondigits._ring_with_marks(np.random.default_rng(seed))
        assert 2 <= len(marks) <= 10  # 2-5 marks; a cross is two strokes
        outline = (np.asarray(ring) * 1000).astype(np.float32).reshape(-1, 1, 2)
        for mark in marks:
            for x, y in mark:
                assert cv2.pointPolygonTest(outline, (float(x) * 1000, float(y) * 1000), True) > 20


def test_the_train_family_draws_rings_with_marks_and_the_bench_family_smileys():
    assert {d.kind for d in nondigits.generate("train", 100, seed=0) if d.kind not in nondigits.KINDS} == {
        "sun",
        "ring with marks",
    }
    assert {d.kind for d in nondigits.generate("bench", 100, seed=0) if d.kind not in nondigits.KINDS} == {
        "smiley"
    }


def test_train_scribbles_are_jagged_walks_and_smooth_curves_about_half_each():
    rng = np.random.default_rng(0)
    lengths = [len(nondigits._walk(rng)[0]) for _ in range(200)]
    jagged = sum(n <= 16 for n in lengths)  # a walk: one point per corner, 9-16 of them
    smooth = sum(n >= 12 * 8 for n in lengths)  # a spline: 12 points per span, 8 spans or more
    assert jagged + smooth == 200 and 70 <= jagged <= 130


def test_no_letter_that_looks_like_a_digit_is_drawn():
    assert not set(nondigits.LETTERS) & set(DIGIT_LOOKALIKES)


@pytest.mark.parametrize("family", ["train", "bench"])
def test_every_kind_comes_out_in_the_tablet_box_and_reads_as_a_drawing(family):
    drawings = nondigits.generate(family, 10, seed=1)
    kinds = [d.kind if d.kind in nondigits.KINDS else "picture" for d in drawings]
    assert kinds == list(nondigits.KINDS) * 2  # the kinds in turn, a picture being a sun, a smiley, ...
    for d in drawings:
        pts = np.concatenate(d.strokes)
        assert pts.shape[1] == 2 and pts.min() >= 0 and pts.max() <= 500
        img = pendigits.render(d.strokes)
        assert preprocess(img).image is not None


def test_a_word_splits_into_several_pieces():
    words = [d for d in nondigits.generate("train", 50, seed=2) if d.kind == "word"]
    for d in words:
        img, _ = segment.render_number([d.strokes], [], height=120)
        assert len(segment.segment(img)) >= 2, d.name


def test_bad_arguments_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="family must be one of"):
        nondigits.generate("test", 3)
    with pytest.raises(ValueError, match="n must be >= 0"):
        nondigits.generate("train", -1)
