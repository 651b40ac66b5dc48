"""Specification of decoding an uploaded or named image file (preprocess.load_image_file): what a phone or
a computer really sends is read or refused in one sentence that says what to do."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from digitdraw import preprocess as pp


def heif_file(brand: bytes) -> bytes:
    """The start of an ISO base media (HEIF) file: an `ftyp` box naming `brand`, then filler."""
    ftyp = b"ftyp" + brand + b"\x00\x00\x00\x00" + b"mif1" + brand
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + b"\x00" * 200


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"mif1"])
def test_an_iphone_heic_photo_is_refused_with_how_to_get_a_jpeg(brand):
    with pytest.raises(pp.ImageError) as exc:
        pp.load_image_file(heif_file(brand))
    message = str(exc.value)
    assert "HEIC" in message and "JPEG" in message and "Most Compatible" in message


def test_a_file_that_is_no_image_at_all_is_refused_naming_the_kinds_that_are_read():
    with pytest.raises(pp.ImageError, match="not an image we can read") as exc:
        pp.load_image_file(b"hello, this is a text file\n" * 20)
    assert pp.IMAGE_KINDS in str(exc.value)  # not "PNG or JPEG" alone: a WebP would have been read


def test_an_empty_file_says_which_kinds_of_image_to_send():
    with pytest.raises(pp.ImageError, match="empty") as exc:
        pp.load_image_file(b"")
    assert pp.IMAGE_KINDS in str(exc.value)


@pytest.mark.parametrize("extension", pp.IMAGE_EXTENSIONS)
def test_every_kind_the_messages_name_is_read(extension):
    Image.init()
    buf = io.BytesIO()
    digit = Image.new("L", (40, 60), 255)
    digit.paste(0, (15, 10, 25, 50))  # a dark bar: a 1
    digit.save(buf, format=Image.registered_extensions()["." + extension])
    pixels = pp.load_image_file(buf.getvalue())
    assert pixels.shape[:2] == (60, 40) and pixels.min() < 50


def png_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (width, height), 1).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("side", [13_000, 20_000])  # 169 MP: our limit; 400 MP: Pillow's own bomb limit too
def test_an_image_over_the_pixel_limit_is_refused_with_its_size_and_our_limit(side):
    with pytest.raises(pp.ImageError) as exc:
        pp.load_image_file(png_bytes(side, side))
    message = str(exc.value)
    # Its size, whoever refuses it: we from the header, or Pillow before we see it (its count, then).
    assert f"({side}x{side} pixels)" in message or f"({side * side // 10**6} megapixels)" in message
    assert message.startswith("The image is too large (")
    # Both limits: a PNG is refused far below the JPEG's 150 megapixels (it is decoded whole).
    assert (
        f"the limit is {pp.MAX_IMAGE_PIXELS // 1_000_000} megapixels for a JPEG and 16 for other" in message
    )
    assert "DOS" not in message and "decompression bomb" not in message


def test_a_png_just_under_the_decode_budget_is_read():
    side = int((pp.DECODE_BUDGET / 4) ** 0.5) - 1  # RGBA, 4 bytes a pixel
    buf = io.BytesIO()
    img = np.full((side, side, 4), 255, np.uint8)
    img[side // 4 : 3 * side // 4, side // 2 - 40 : side // 2 + 40, :3] = 0  # a thick dark bar
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    pixels = pp.load_image_file(buf.getvalue())
    assert max(pixels.shape[:2]) == pp.MAX_DECODED_SIDE


def test_a_shell_pattern_that_matched_nothing_is_named_as_such(tmp_path):
    with pytest.raises(pp.ImageError) as exc:
        pp.load_image_file(tmp_path / "IMG_*.jpg")
    assert str(exc.value) == f"No such file: {tmp_path / 'IMG_*.jpg'} (a pattern no file matched)"
    with pytest.raises(pp.ImageError) as exc:
        pp.load_image_file(tmp_path / "photo.jpg")
    assert str(exc.value) == f"No such file: {tmp_path / 'photo.jpg'}"
