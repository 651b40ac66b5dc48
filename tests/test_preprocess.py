"""Specification of the preprocessing: anything drawn or photographed -> an MNIST-style 28x28."""

from __future__ import annotations

import io
import os
import struct
import threading
import timeit
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ONE, SEVEN, needs_pendigits
from PIL import Image

from digitdraw import preprocess as pp
from digitdraw import segment
from digitdraw.pendigits import TUNE_WRITERS, load_pendigits, render
from digitdraw.preprocess import (
    REASONS,
    ImageError,
    Preprocessed,
    Status,
    ink_map,
    load_image_file,
    preprocess,
)

# More hand-written strokes in the tablet's 500x500 box, y down (SEVEN and ONE: conftest).
TWO = [
    np.array(
        [[120, 150], [170, 80], [260, 60], [350, 100], [370, 180], [320, 260], [120, 440], [400, 440]],
        float,
    )
]
FOUR = [np.array([[300, 50], [80, 320], [420, 320]], float), np.array([[330, 180], [330, 460]], float)]
ZERO = [np.stack([250 + 140 * np.cos(t), 250 + 200 * np.sin(t)], 1) for t in [np.linspace(0, 2 * np.pi, 60)]]


def read(pixels: np.ndarray, **kwargs) -> np.ndarray:
    result = preprocess(pixels, **kwargs)
    assert result.image is not None, result.reason
    return result.image


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    total = img.sum()
    return float((img * ys).sum() / total), float((img * xs).sum() / total)


def extent(img: np.ndarray, level: float = 0.1) -> tuple[int, int]:
    ys, xs = np.nonzero(img > level)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def gray_on_black(rgba: np.ndarray) -> np.ndarray:
    """The same drawing as an opaque grey image, white ink on black (uint8)."""
    return rgba[..., 3].copy()


# ----------------------------------------------------------------- output contract


@pytest.mark.parametrize("strokes", [SEVEN, ONE, TWO, FOUR, ZERO], ids=["7", "1", "2", "4", "0"])
def test_output_is_mnist_shaped(strokes):
    result = preprocess(render(strokes))
    assert isinstance(result, Preprocessed) and not result.empty and result.reason is None
    img = result.image
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0
    # white digit on black: bright strokes, a black frame round a 20 px digit (centring by mass
    # may push a lopsided digit such as a 7 near an edge, as in MNIST)
    assert img.max() > 0.8
    frame = img.sum() - img[2:-2, 2:-2].sum()
    assert frame < 0.08 * img.sum()
    assert 0.03 < img.mean() < 0.4


@pytest.mark.parametrize("strokes", [SEVEN, ONE, TWO, FOUR, ZERO], ids=["7", "1", "2", "4", "0"])
def test_centre_of_mass_is_at_14_14(strokes):
    for centre in [(140, 140), (90, 200), (200, 80)]:
        img = read(render(strokes, height=150, centre=centre))
        cy, cx = centre_of_mass(img)
        assert abs(cy - 14) < 0.5 and abs(cx - 14) < 0.5


@pytest.mark.parametrize("strokes", [SEVEN, TWO, FOUR, ZERO], ids=["7", "2", "4", "0"])
def test_longer_side_is_20_px(strokes):
    h, w = extent(read(render(strokes)))
    assert 19 <= max(h, w) <= 22


def test_a_one_stays_a_thin_vertical_bar():
    # MNIST's convention: the 1's height goes to 20 px and its width stays narrow.
    h, w = extent(read(render(ONE, stroke_width=16)))
    assert 19 <= h <= 22 and w <= 6


def test_steps_are_ordered_displayable_images():
    result = preprocess(render(SEVEN))
    names = list(result.steps)
    assert names[0] == "ink" and names[-1] == "centred 28x28"
    assert "crop" in names and "fit 20x20" in names
    for step in result.steps.values():
        assert step.ndim == 2 and step.dtype == np.float32
        assert step.min() >= 0 and step.max() <= 1
    assert max(result.steps["fit 20x20"].shape) == 20
    assert np.array_equal(result.steps["centred 28x28"], result.image)


# ----------------------------------------------------------------- polarity and colours


def test_polarity_and_colours_give_the_same_digit():
    rgba = render(TWO, stroke_width=14)
    alpha = rgba[..., 3].astype(np.float32)[..., None] / 255
    reference = read(rgba)

    def over(bg, ink):
        rgb = np.asarray(bg, np.float32) * (1 - alpha) + np.asarray(ink, np.float32) * alpha
        return np.round(rgb).astype(np.uint8)

    variants = {
        "white on black grey": gray_on_black(rgba),
        "black on white grey": 255 - gray_on_black(rgba),
        "black ink, transparent": render(TWO, stroke_width=14, ink=(0, 0, 0)),
        "opaque RGBA on white": np.dstack(
            [over((255, 255, 255), (0, 0, 0)), np.full((280, 280), 255, np.uint8)]
        ),
        "blue ink on cream": over((250, 240, 210), (20, 40, 160)),
        "yellow ink on blue": over((30, 60, 200), (250, 220, 0)),
        "red ink on blue (same brightness)": over((0, 0, 255), (140, 0, 0)),
        "float 0..1 dark on light": 1.0 - gray_on_black(rgba).astype(np.float32) / 255,
        "float 0..255": gray_on_black(rgba).astype(np.float64),
    }
    for name, pixels in variants.items():
        assert diff(read(pixels), reference) < 0.01, name


def test_ink_map_is_one_on_ink_zero_elsewhere():
    rgba = render(SEVEN, stroke_width=20)
    for pixels in (rgba, 255 - gray_on_black(rgba)):
        ink = ink_map(pixels)
        assert ink.shape == (280, 280) and ink.dtype == np.float32
        assert ink[rgba[..., 3] == 255].min() > 0.95
        assert ink[rgba[..., 3] == 0].max() < 0.05


@pytest.mark.parametrize("background", ["transparent", "black"])
@pytest.mark.parametrize("pen", [3, 12, 30])
def test_the_canvas_8_bit_shortcut_gives_the_general_ink_map_to_the_bit(background, pen):
    # The canvas's pictures take a shortcut through their 8-bit channels; the same levels given as
    # floats go the general way.
    rng = np.random.default_rng(pen)
    for strokes in (SEVEN, ONE, TWO):
        rgba = render(strokes, stroke_width=pen, background=background)
        faint = rng.integers(0, 3, rgba.shape[:2])  # noise where there is no ink
        rgba[..., 3] = np.where(rgba[..., 3] > 0, rgba[..., 3], faint)
        if background == "black":
            rgba[..., 3] = 255
        general = ink_map(rgba.astype(np.float32) / np.float32(255))
        assert np.array_equal(ink_map(rgba), general)
        rgb = rgba[..., :3]
        assert np.array_equal(ink_map(rgb), ink_map(rgb.astype(np.float32) / np.float32(255)))


@pytest.mark.parametrize("pen", [3, 12, 30])
def test_the_opaque_canvas_shortcut_gives_the_general_ink_map_to_the_bit_at_its_edges(pen, monkeypatch):
    # White on black as the Draw page sends it goes straight to the stretch while the border's
    # median is 0 (ink crossing the edge too); paper that is not black there goes the general way.
    shortcuts = []
    stretch_u8 = pp._stretch_u8
    monkeypatch.setattr(pp, "_stretch_u8", lambda *a, **k: shortcuts.append(1) or stretch_u8(*a, **k))
    rng = np.random.default_rng(pen)
    for strokes in (SEVEN, ONE):
        rgba = render(strokes, stroke_width=pen, background="black")
        rgba[..., 3] = 255
        crossing = rgba.copy()
        crossing[:, :40, :3] = np.maximum(crossing[:, :40, :3], 200)  # a band of ink along the left edge
        grey_paper = rgba.copy()
        noise = rng.integers(0, 6, (280, 280, 1)).astype(np.uint8)
        grey_paper[..., :3] = np.maximum(grey_paper[..., :3], noise)
        for pixels, shortcut in ((rgba, True), (crossing, True), (grey_paper, False)):
            general = ink_map(pixels.astype(np.float32) / np.float32(255))
            shortcuts.clear()
            assert np.array_equal(ink_map(pixels), general)
            assert bool(shortcuts) == shortcut


def test_the_upper_quartile_of_counted_levels_is_numpys_to_the_bit():
    rng = np.random.default_rng(0)
    levels = np.arange(256, dtype=np.float32) / np.float32(255)
    for _ in range(2000):
        counts = np.zeros(256, np.int64)
        where = rng.choice(256, int(rng.integers(1, 6)), replace=False)
        counts[where] = rng.integers(1, int(rng.choice([3, 50, 5000])), len(where))
        assert pp._upper_quartile(levels, counts) == float(np.percentile(np.repeat(levels, counts), 75))


def test_an_ink_map_read_again_skips_the_work_only_where_the_work_would_change_nothing():
    # A digit's crop of the canvas's ink map is read again as a drawing (segment.read_piece): given
    # back as it is. Maps just either side of the conditions (a quarter of the ink full, the border
    # background) give what the general way gives (float64 input goes that way).
    rng = np.random.default_rng(1)
    skipped = 0
    for _ in range(600):
        h, w = rng.integers(3, 60, 2)
        f = np.zeros((h, w), np.float32)
        where = rng.choice(h * w, int(rng.integers(0, h * w)), replace=False)
        f.flat[where] = np.round(rng.random(len(where)) * 255).astype(np.float32) / np.float32(255)
        f.flat[where[: int(rng.uniform(0.15, 0.35) * len(where))]] = 1.0
        if rng.random() < 0.2:
            f[0, :] = rng.random(w)  # ink along the border
        skipped += pp._already_ink(f)
        assert np.array_equal(ink_map(f), ink_map(f.astype(np.float64)))
    assert 100 < skipped < 500  # both ways were taken

    for piece in segment.segment(render(SEVEN, stroke_width=12)) + segment.segment(
        render(TWO, stroke_width=30)
    ):
        assert pp._already_ink(piece.image) and np.array_equal(ink_map(piece.image), piece.image)


def test_ink_map_rejects_non_images():
    with pytest.raises(ValueError):
        ink_map(np.zeros((4, 4, 5), np.uint8))


# ----------------------------------------------------------------- invariances


@pytest.mark.parametrize("strokes", [SEVEN, TWO, FOUR], ids=["7", "2", "4"])
def test_where_the_digit_is_drawn_does_not_matter(strokes):
    reference = read(render(strokes, height=120, centre=(140, 140)))
    for centre in [(70, 70), (210, 200), (80, 210)]:
        assert diff(read(render(strokes, height=120, centre=centre)), reference) < 0.03


@pytest.mark.parametrize("strokes", [SEVEN, TWO, ZERO], ids=["7", "2", "0"])
def test_how_big_the_digit_is_drawn_does_not_matter(strokes):
    # the same drawing at another scale, pen scaled with it
    reference = read(render(strokes, height=200, stroke_width=20))
    for height in (80, 130, 250):
        assert diff(read(render(strokes, height=height, stroke_width=height / 10)), reference) < 0.04


@pytest.mark.parametrize("strokes", [SEVEN, TWO, FOUR, ZERO], ids=["7", "2", "4", "0"])
def test_thin_and_thick_pens_give_similar_digits(strokes):
    thin = read(render(strokes, stroke_width=5))
    thick = read(render(strokes, stroke_width=32))
    other = read(render(ONE if strokes is not ONE else SEVEN, stroke_width=5))
    assert diff(thin, thick) < 0.1
    assert diff(thin, thick) < diff(thin, other)  # closer than a different digit
    # the stroke-width normalisation is what does it
    as_drawn = diff(
        read(render(strokes, stroke_width=5), normalise_width=False),
        read(render(strokes, stroke_width=32), normalise_width=False),
    )
    assert diff(thin, thick) < 0.7 * as_drawn


@pytest.mark.parametrize("strokes", [SEVEN, TWO, FOUR, ZERO], ids=["7", "2", "4", "0"])
@pytest.mark.parametrize(("side", "pen"), [(500, 1), (1000, 2), (2000, 4)])
def test_a_hairline_on_a_big_image_reads_like_the_same_digit_drawn_with_a_pen(strokes, side, pen):
    # A digit rendered at 1000 px with a 2 px line (a plotting library's defaults) shrank to a faint
    # grey that no mask found: its 28x28 input peaked at 0.02, and both models guessed (qa27).
    hairline = 255 - render(strokes, canvas=side, height=0.65 * side, stroke_width=pen)[..., 3]
    normal = 255 - render(strokes, canvas=280, height=180, stroke_width=18)[..., 3]
    thin = read(hairline, source="image")
    assert thin.max() > 0.8, "the strokes are solid ink, not a faint grey"
    assert diff(thin, read(normal, source="image")) < 0.1


def test_tiny_digit_with_a_fat_brush_gets_mnist_strokes():
    # a small digit drawn with a fat brush comes out with strokes like MNIST's (~2-3 px of 20)
    fat = read(render(SEVEN, height=70, stroke_width=22))
    thin_huge = read(render(SEVEN, height=250, stroke_width=4))
    for img in (fat, thin_huge):
        ink_px = float(img.sum())  # ~ stroke width x stroke length (a 7 is ~50 px of line at 20 px)
        assert 40 < ink_px < 150  # as drawn: 155 (fat) and 14 (thin)


# ----------------------------------------------------------------- stray marks and edges


def with_dot(rgba: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    out = rgba.copy()
    alpha = np.ascontiguousarray(out[..., 3])
    cv2.circle(alpha, centre, radius, 255, -1, cv2.LINE_AA)
    out[..., 3] = alpha
    return out


@pytest.mark.parametrize("dot", [((260, 20), 4), ((30, 250), 9), ((250, 140), 6)])
def test_a_stray_dot_is_ignored(dot):
    clean = render(SEVEN, height=170, stroke_width=14, centre=(120, 130))
    dotted = with_dot(clean, *dot)
    assert diff(read(dotted), read(clean)) < 0.005
    # and it would have mattered: without speck removal the dot drags the digit
    assert diff(read(dotted, remove_specks=False), read(clean)) > 0.03


def test_a_second_stroke_is_not_a_speck():
    # the 4's detached downstroke is part of the digit
    four = read(render(FOUR, stroke_width=12))
    first_stroke_only = read(render(FOUR[:1], stroke_width=12))
    assert diff(four, first_stroke_only) > 0.05
    assert extent(four)[0] >= 19


def test_a_digit_touching_the_edge_is_still_read():
    inside = read(render(TWO, height=200, stroke_width=16, centre=(140, 140)))
    for centre in [(108, 140), (140, 108), (172, 172)]:  # flush against an edge
        rgba = render(TWO, height=200, stroke_width=16, centre=centre)
        img = read(rgba)
        cy, cx = centre_of_mass(img)
        assert abs(cy - 14) < 0.5 and abs(cx - 14) < 0.5
        assert diff(img, inside) < 0.03
    # cut off by the edge: still read, still MNIST-shaped
    clipped = read(render(TWO, height=200, stroke_width=16, centre=(70, 140), clip=True))
    assert 19 <= max(extent(clipped)) <= 22


# ----------------------------------------------------------------- nothing to read


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((280, 280, 4), np.uint8),
        np.full((280, 280, 4), 255, np.uint8),  # opaque white canvas
        np.zeros((280, 280), np.uint8),
        np.full((100, 120, 3), 200, np.uint8),
    ],
    ids=["transparent", "opaque white", "black grey", "flat grey RGB"],
)
def test_empty_canvas_is_not_a_digit(pixels):
    result = preprocess(pixels)
    assert result.empty and result.image is None
    assert result.reason == pp.EMPTY_REASON


def test_blank_photo_of_paper_is_empty():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:400]
    paper = 140 + 90 * xx / 400 + 20 * yy / 300 + rng.normal(0, 4, (300, 400))
    result = preprocess(jpeg_roundtrip(np.clip(paper, 0, 255).astype(np.uint8)))
    assert result.empty


@pytest.mark.parametrize(
    "strokes, kwargs",
    [
        ([np.array([[250.0, 250.0]])], {"stroke_width": 8}),  # a thin dot
        ([np.array([[250.0, 250.0]])], {"stroke_width": 40}),  # a fat brush tap
        (SEVEN, {"height": 10, "stroke_width": 3}),  # a tiny scribble
        ([np.array([[240.0, 250], [260, 250]])], {"height": 12, "stroke_width": 30}),  # a fat dab
    ],
    ids=["dot", "fat tap", "tiny 7", "dab"],
)
def test_a_tiny_mark_is_not_a_digit(strokes, kwargs):
    result = preprocess(render(strokes, **kwargs))
    assert result.empty and result.reason == pp.TOO_SMALL_REASON


@pytest.mark.parametrize(
    "strokes, kwargs",
    [
        ([np.array([[100.0, 140], [180, 140]])], {"height": 0, "stroke_width": 150}),  # a fat blot
        ([np.array([[60.0, 60], [220, 220]])], {"height": 60, "stroke_width": 110}),  # a fat smear
    ],
    ids=["blot", "smear"],
)
def test_a_large_filled_shape_is_not_a_digit_and_not_called_small(strokes, kwargs):
    result = preprocess(render(strokes, **kwargs))
    assert result.status is Status.FILLED and result.reason == pp.FILLED_REASON


def test_a_filled_square_in_an_uploaded_image_is_called_a_filled_shape():
    image = np.zeros((280, 280, 3), np.uint8)
    image[60:220, 60:220] = 255  # white on black, like the canvas
    assert preprocess(image, source="image").reason == pp.FILLED_REASON
    paper = np.full((280, 280, 3), 235, np.uint8)
    paper[60:220, 60:220] = 20  # a black square on white paper
    assert preprocess(paper, source="image").reason == pp.FILLED_REASON


def test_small_but_real_digits_are_read():
    assert not preprocess(render(SEVEN, height=45, stroke_width=5)).empty
    assert not preprocess(render(ONE, height=60, stroke_width=20)).empty  # a short fat 1


def test_status_says_what_became_of_the_input():
    cases = {
        Status.OK: preprocess(render(SEVEN)),
        Status.EMPTY: preprocess(np.zeros((280, 280, 4), np.uint8)),
        Status.TOO_SMALL: preprocess(render(SEVEN, height=10, stroke_width=3)),
        Status.FILLED: preprocess(render([np.array([[140.0, 140]])], height=0, stroke_width=160)),
        Status.NO_INK: preprocess(np.full((300, 400, 3), 230, np.uint8), source="image"),
    }
    for status, result in cases.items():
        assert result.status is status
        assert result.empty == (status is not Status.OK)
        assert result.reason == REASONS.get(status)  # the sentence shown, None when there is an image


@pytest.mark.parametrize(
    "pixels",
    [
        np.full((300, 400, 3), 235, np.uint8),  # white paper
        np.zeros((280, 280, 4), np.uint8),  # a transparent PNG
        np.zeros((280, 280), np.uint8),  # black
    ],
    ids=["white", "transparent", "black"],
)
def test_a_blank_image_has_no_ink_not_an_empty_canvas(pixels):
    result = preprocess(pixels, source="image")
    assert result.status is Status.NO_INK and result.image is None
    assert result.reason == pp.NO_INK_REASON
    assert pp.NO_INK_REASON.startswith("No ink found in this image.")
    assert preprocess(pixels).reason == pp.EMPTY_REASON  # the same pixels from the canvas


def test_a_blank_photo_of_shaded_ruled_paper_has_no_ink():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:360, 0:480]
    light = 0.95 - 0.4 * xx / 480 - 0.35 / (1 + np.exp(-(yy - 200) / 15.0))  # gradient and a shadow
    paper = np.full((360, 480), 0.9) * light
    paper[20::30] *= 0.75  # ruled lines
    photo = np.clip(paper * 255 + rng.normal(0, 3, paper.shape), 0, 255).astype(np.uint8)
    assert preprocess(jpeg_roundtrip(photo), source="image").status is Status.NO_INK


def test_canvas_drawings_uploaded_as_images_read_the_same():
    # a PNG saved from the canvas, or a clean scan, is not harmed by the photo path
    rgba = render(TWO, stroke_width=14)
    alpha = rgba[..., 3].astype(np.float32)[..., None] / 255
    cream = np.round(np.float32([250, 240, 210]) * (1 - alpha) + np.float32([20, 40, 160]) * alpha)
    for name, pixels in {
        "transparent canvas": rgba,
        "white on black": gray_on_black(rgba),
        "black on white": 255 - gray_on_black(rgba),
        "blue ink on cream": cream.astype(np.uint8),
    }.items():
        assert diff(read(pixels, source="image"), read(rgba)) < 0.03, name
    # a thick brush too (MNIST upscaled to 280 px has strokes of about 30 px)
    thick = render(TWO, stroke_width=40)
    assert diff(read(255 - gray_on_black(thick), source="image"), read(thick)) < 0.03


def test_mnist_sized_input_is_accepted():
    small = cv2.resize(gray_on_black(render(TWO)), (28, 28), interpolation=cv2.INTER_AREA)
    assert diff(read(small), read(render(TWO))) < 0.06


def test_fast_enough_for_the_canvas():
    # The issue asks for well under 5 ms; the bound here is loose so a busy machine does not fail it.
    rgba = render(TWO)
    per_call = min(timeit.repeat(lambda: preprocess(rgba), number=10, repeat=3)) / 10
    assert per_call < 0.025


# ----------------------------------------------------------------- photos and files


def jpeg_roundtrip(pixels: np.ndarray, quality: int = 70) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return load_image_file(buf.getvalue())


def test_photo_of_a_digit_on_paper_reads_as_that_digit():
    rng = np.random.default_rng(1)
    h, w = 300, 400
    yy, xx = np.mgrid[0:h, 0:w]
    light = 110 + 120 * xx / w + 30 * np.sin(yy / h * np.pi)  # uneven lighting, 110..260
    canvas = render(TWO, canvas=300, height=180, stroke_width=10, centre=(150, 150))
    ink = np.zeros((h, w), np.float32)
    ink[:, 60:360] = canvas[..., 3] / 255.0
    paper = light * (1 - 0.7 * ink) + rng.normal(0, 6, (h, w))
    rgb = np.dstack([paper, paper * 0.97, paper * 0.9])
    photo = jpeg_roundtrip(np.clip(rgb, 0, 255).astype(np.uint8), quality=60)
    assert photo.shape == (h, w, 3)
    img = read(photo)
    reference = read(render(TWO, height=180, stroke_width=10))
    assert diff(img, reference) < 0.05
    assert np.corrcoef(img.ravel(), reference.ravel())[0, 1] > 0.9
    # the ink map is clean: paper is black despite lighting and JPEG noise, and the stroke is
    # equally strong in the shade and in the light
    found = ink_map(photo)
    assert (found[ink < 0.01] > 0.05).mean() < 0.03
    left, right = found[:, :200][ink[:, :200] > 0.99], found[:, 200:][ink[:, 200:] > 0.99]
    assert abs(float(np.median(left)) - float(np.median(right))) < 0.1


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_load_image_file_round_trips_modes(tmp_path):
    rgba = render(SEVEN)
    assert np.array_equal(load_image_file(png_bytes(rgba)), rgba)
    grey = gray_on_black(rgba)
    path = tmp_path / "seven.png"
    path.write_bytes(png_bytes(grey))
    assert np.array_equal(load_image_file(path), grey)
    assert np.array_equal(load_image_file(str(path)), grey)


def test_load_image_file_applies_exif_orientation():
    img = Image.fromarray(np.zeros((10, 30, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert load_image_file(buf.getvalue()).shape[:2] == (30, 10)


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims enormous dimensions (a decompression-bomb shape) with no real data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"hello, this is not an image", "not an image"),
        (png_bytes(render(SEVEN))[:300], "damaged"),
        (huge_png_header(50_000, 50_000), "too large"),
    ],
    ids=["empty", "not an image", "truncated PNG", "too large"],
)
def test_load_image_file_errors_are_clear(data, message):
    with pytest.raises(ImageError, match=message):
        load_image_file(data)
    assert issubclass(ImageError, ValueError)


def test_image_size_limit_is_enforced(monkeypatch):
    monkeypatch.setattr(pp, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageError, match="too large"):
        load_image_file(png_bytes(np.zeros((20, 20), np.uint8)))


def test_empty_file_on_disk(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image_file(path)


# ----------------------------------------------------------------- real pen digits


@needs_pendigits
def test_real_pen_digits_satisfy_the_mnist_recipe():
    digits = load_pendigits(writers=TUNE_WRITERS)[::40]
    for digit in digits:
        for width, height in [(6, 80), (30, 240)]:
            img = read(render(digit, stroke_width=width, height=height))
            cy, cx = centre_of_mass(img)
            assert abs(cy - 14) < 0.6 and abs(cx - 14) < 0.6, digit
            assert 19 <= max(extent(img)) <= 23, digit


@needs_pendigits
def test_real_pen_digits_survive_a_stray_dot():
    digits = load_pendigits(writers=TUNE_WRITERS)[5::97]
    for digit in digits:
        clean = render(digit, height=150, stroke_width=12, centre=(150, 150))
        assert diff(read(with_dot(clean, (20, 20), 6)), read(clean)) < 0.005, digit


# ----------------------------------------------------------------- large and hostile files


def jpeg_bytes(array: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_a_phone_sized_photo_is_decoded_downscaled():
    # 8000x6000 (48 MP, a current phone's full resolution): accepted, and never decoded in full
    # (JPEG's scaled decoding), so the result is MAX_DECODED_SIDE on its longer side.
    photo = Image.new("L", (8000, 6000), 230)
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=50)
    pixels = load_image_file(buf.getvalue())
    assert max(pixels.shape[:2]) == pp.MAX_DECODED_SIDE
    assert pixels.shape[:2] == (768, 1024)


def test_a_large_png_comes_back_downscaled_and_still_reads(tmp_path):
    # a 3000x3000 scan of a dark 7 on white: within the decode budget, returned at 1024 px
    big = cv2.resize(255 - gray_on_black(render(SEVEN, stroke_width=16)), (3000, 3000))
    path = tmp_path / "scan.png"
    path.write_bytes(png_bytes(big))
    pixels = load_image_file(path)
    assert pixels.shape == (1024, 1024)
    assert diff(read(pixels, source="image"), read(render(SEVEN, stroke_width=16))) < 0.05


@pytest.mark.parametrize("mode", ["RGBA", "1"])
def test_a_png_too_big_to_decode_safely_is_refused_from_its_header(tmp_path, mode):
    # 186 KB / 12 KB files that would decode to 160 MB / 140 MB (issue 12): refused unread
    side = 6300 if mode == "RGBA" else 12000
    im = Image.new(mode, (side, side), 0)
    path = tmp_path / "bomb.png"
    im.save(path, format="PNG")
    assert path.stat().st_size < 300_000
    with pytest.raises(ImageError, match="too large to open") as exc:
        load_image_file(path)
    # in words a person knows: the size, the limit, what to send instead
    assert f"({side}x{side} pixels); a PNG can be at most 16 megapixels. Send a JPEG" in str(exc.value)
    assert "decoding" not in str(exc.value)


def test_absurd_pixel_counts_are_refused_even_for_jpeg():
    assert 50_000 * 50_000 > pp.MAX_IMAGE_PIXELS > 108_000_000  # 108 MP phones still pass
    with pytest.raises(ImageError, match="too large"):
        load_image_file(huge_png_header(50_000, 50_000))


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in (tmp_path, fifo, Path("/dev/zero")):
        if path.exists():
            with pytest.raises(ImageError, match="not a regular file"):
                load_image_file(path)
    with pytest.raises(ImageError, match="No such file"):
        load_image_file(tmp_path / "missing.png")


def test_files_over_the_size_limit_are_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(np.full((64, 64), 200, np.uint8)))
    monkeypatch.setattr(pp, "MAX_FILE_MB", 0)
    with pytest.raises(ImageError, match="the limit is 0 MB"):
        load_image_file(path)
    with pytest.raises(ImageError, match="the limit is 0 MB"):
        load_image_file(path.read_bytes())


def test_decodes_wait_for_a_free_slot(monkeypatch):
    # at most a fixed number of decodes run at once, whatever the number of uploads
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(pp, "_DECODING", slots)
    data = png_bytes(render(SEVEN))
    slots.acquire()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (load_image_file(data), done.set()))
    worker.start()
    assert not done.wait(0.3)  # blocked while the only slot is taken
    slots.release()
    assert done.wait(5)
    worker.join()


def test_the_inks_polarity_is_read_from_the_images_extremes_whatever_its_size():
    from digitdraw.preprocess import _extremes

    rng = np.random.default_rng(0)
    for shape in [(1, 1), (3, 5), (28, 28), (480, 640)]:
        f = rng.random(shape).astype(np.float32)
        lo, hi = _extremes(f, 24)
        assert f.min() <= lo <= np.median(f) <= hi <= f.max()
    page = np.ones((480, 640), np.float32)
    page.ravel()[:30] = 0.1  # 30 dark pixels: more than the 24 that decide, so the darkest are ink
    assert _extremes(page, 24) == (pytest.approx(0.1), 1.0)
