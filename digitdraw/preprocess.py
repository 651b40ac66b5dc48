"""Turn whatever the user drew or uploaded into an MNIST-style 28x28 image.

The models only ever saw MNIST: white digits on black, the digit's longer side fit to 20 px
(anti-aliased), pasted into 28x28 with its centre of mass at the centre. Everything here exists
to make a canvas drawing or a photo look like that, whatever its size, position, pen or colours.
Pure numpy/OpenCV/Pillow: no TensorFlow, no Streamlit, so it is cheap to test and to call.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Uploads larger than this are refused before decoding (memory, and decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000

MNIST_SIZE = 28
MNIST_BOX = 20  # the longer side of the digit in MNIST
EMPTY_REASON = "The canvas is empty — draw a digit."
NO_INK_REASON = "No ink found in this image."
TOO_SMALL_REASON = "That mark is too small to be a digit — draw it bigger."

# Pixels at or above this ink level count as "ink" for masks (components, bounding box).
_INK_LEVEL = 0.25
# Below this ink/background contrast (on a 0..1 scale) there is nothing to read.
_MIN_CONTRAST = 0.08
# A mark whose longer side is under this fraction of the image's longer side is too small.
_MIN_EXTENT = 0.06
# ... and so is a blob that is hardly longer than its pen is wide (a dot, a tap).
_MIN_EXTENT_PER_WIDTH = 2.0
# Stroke width is estimated and adjusted at this resolution (the digit's longer side, px).
_WORK_SIDE = 80
# MNIST's stroke width at _WORK_SIDE, measured on the MNIST test set with _stroke_width():
# median 11.1 px when the digit's longer side is 80 px (about 2.8 px of its 20 px box).
_MNIST_WIDTH = 11.1 / 80
# MNIST's own widths vary (10th-90th percentile 0.78x-1.35x the median): widths inside this band
# (relative to the median) are left alone, widths outside are brought to its nearer edge.
_WIDTH_BAND = (0.78, 1.35)


class ImageError(ValueError):
    """An uploaded file that cannot be used as an image; the message is fit to show the user."""


class Status(str, Enum):
    """What preprocessing made of the input: callers branch on this, and show `reason`."""

    OK = "ok"
    EMPTY = "empty"  # a canvas with nothing drawn
    NO_INK = "no ink"  # an image (upload, photo) with nothing written on it
    TOO_SMALL = "too small"  # a mark, but too small to be a digit


# The sentence shown for each status without an image (one home for the wording).
REASONS = {Status.EMPTY: EMPTY_REASON, Status.NO_INK: NO_INK_REASON, Status.TOO_SMALL: TOO_SMALL_REASON}

Source = Literal["canvas", "image"]


@dataclass(frozen=True)
class Preprocessed:
    """The 28x28 model input, or why there is none (status, and reason for the user), plus the steps."""

    image: np.ndarray | None  # (28, 28) float32 in [0, 1], white digit on black; None = nothing
    steps: dict[str, np.ndarray] = field(default_factory=dict)  # ordered, each 2-D float32 0..1
    reason: str | None = None  # a sentence for the user when image is None
    status: Status | None = None  # None: derived, OK with an image and EMPTY without

    def __post_init__(self) -> None:
        if self.status is None:
            object.__setattr__(self, "status", Status.OK if self.image is not None else Status.EMPTY)

    @property
    def empty(self) -> bool:
        return self.image is None


def _nothing(status: Status, steps: dict[str, np.ndarray]) -> Preprocessed:
    return Preprocessed(None, steps, REASONS[status], status)


# --------------------------------------------------------------------------- ink map


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    """Any numeric array -> float32 in [0, 1] (uint8/uint16 by their range, floats as 0..1 or 0..255)."""
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        top = 65535.0 if a.dtype.itemsize > 1 and a.max(initial=0) > 255 else 255.0
        return a.astype(np.float32) / np.float32(top)
    f = np.nan_to_num(a.astype(np.float32, copy=False))
    if f.size and f.max() > 1.0 + 1e-3:  # floats holding 0..255
        f = f / np.float32(255.0)
    return np.clip(f, 0.0, 1.0)


def _border(f: np.ndarray) -> np.ndarray:
    """The pixels of a thin frame round the image: mostly background, even when ink touches it."""
    h, w = f.shape[:2]
    b = max(1, round(0.03 * min(h, w)))
    return np.concatenate(
        [
            f[:b].reshape(-1, *f.shape[2:]),
            f[-b:].reshape(-1, *f.shape[2:]),
            f[b:-b, :b].reshape(-1, *f.shape[2:]),
            f[b:-b, -b:].reshape(-1, *f.shape[2:]),
        ]
    )


def _background_surface(f: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Smooth background (uneven lighting of a photo): a quadratic surface fit to the non-ink pixels.

    A low-order surface cannot follow strokes, however fat, so it models the light, not the digit.
    Fit on a small copy for speed, re-weighting away pixels that look like ink.
    """
    h, w = f.shape
    s = min(1.0, 64.0 / max(h, w))
    small = cv2.resize(f, (max(2, round(w * s)), max(2, round(h * s))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy, xx = yy / max(sh - 1, 1) * 2 - 1, xx / max(sw - 1, 1) * 2 - 1
    basis = np.stack([np.ones_like(xx), xx, yy, xx * xx, xx * yy, yy * yy], -1).reshape(-1, 6)
    values = small.reshape(-1)
    keep = np.ones(values.shape, bool)
    coef = np.zeros(6, np.float32)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(basis[keep], values[keep], rcond=None)
        resid = values - basis @ coef
        toward_ink = -resid if dark_ink else resid
        spread = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep]))) + 1e-3
        new_keep = toward_ink < max(0.03, 2.5 * spread)
        if new_keep.sum() < 12 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    fy, fx = np.mgrid[0:h, 0:w].astype(np.float32)
    fy, fx = fy / max(h - 1, 1) * 2 - 1, fx / max(w - 1, 1) * 2 - 1
    c = coef.astype(np.float32)
    return c[0] + c[1] * fx + c[2] * fy + c[3] * fx * fx + c[4] * fx * fy + c[5] * fy * fy


def _stretch(raw: np.ndarray, noise_floor: float) -> np.ndarray:
    """Raw ink evidence (0 = background) -> 0..1 ink, full strokes at 1, anti-aliased edges kept.

    Otsu separates ink from background; the typical level of the ink class maps to 1 and the
    background's noise floor to 0, so JPEG noise vanishes while soft edges stay soft.
    """
    top = float(raw.max(initial=0.0))
    if top < _MIN_CONTRAST:
        return np.zeros(raw.shape, np.float32)
    u8 = np.round(raw * (255.0 / top)).astype(np.uint8)
    t, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    inked = raw[u8 > t]
    hi = float(np.percentile(inked, 75)) if inked.size else top
    lo = min(noise_floor, 0.5 * t * top / 255.0)
    if hi - lo < _MIN_CONTRAST:
        return np.zeros(raw.shape, np.float32)
    return np.clip((raw - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def ink_map(pixels: np.ndarray, source: Source = "canvas") -> np.ndarray:
    """Any image -> 2-D float32 ink intensity in [0, 1] (1 = ink), background 0.

    - RGBA with a transparent background (the canvas): the ink is the alpha, whatever its colour.
    - Opaque images (grey, RGB, RGBA with opaque alpha), either polarity: the background is what
      the border shows; ink is whatever differs from it, by brightness, or by colour when the
      ink and paper differ in hue more than in brightness (red on blue). Uneven lighting (photos)
      is removed by fitting a smooth background surface.
    """
    a = np.asarray(pixels)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 2:  # grey + alpha
        a = np.concatenate([np.repeat(a[..., :1], 3, axis=2), a[..., 1:]], axis=2)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    f = _to_unit_float(a)

    if f.ndim == 3 and f.shape[2] == 4:
        alpha = f[..., 3]
        if float(np.median(_border(alpha))) < 0.5:
            # Transparent background: coverage is the ink. Pixels the canvas left fully
            # transparent carry no colour information worth trusting.
            return _stretch(alpha, noise_floor=0.0)
        f = f[..., :3]  # opaque: the colours carry the drawing

    if f.ndim == 3:
        # Decisions are taken on a thumbnail (fast; averaging also tames JPEG noise).
        thumb = _thumbnail(f)
        if float(np.abs(thumb - thumb[..., :1]).max()) < 2e-3 and np.array_equal(f[..., 0], f[..., 1]):
            f = f[..., 0]  # grey stored as colour (a black canvas with white ink)
        else:
            t_gray = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY)
            bg_colour = np.median(_border(thumb), axis=0)
            t_dist = np.sqrt(((thumb - bg_colour) ** 2).sum(-1) / 3.0)
            lum_contrast = np.percentile(np.abs(t_gray - np.median(_border(t_gray))), 99.5)
            if lum_contrast < 0.5 * np.percentile(t_dist, 99.5):
                # Ink and background differ in colour more than in brightness: use the distance.
                dist = np.sqrt(((f - bg_colour.astype(np.float32)) ** 2).sum(-1) / 3.0, dtype=np.float32)
                signed = dist - float(np.median(_border(dist)))
                return _stretch(np.maximum(signed, 0.0), noise_floor=_noise(_border(signed)))
            f = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)

    edge = _border(f)
    bg = float(np.median(edge))
    lo, hi = np.percentile(_thumbnail(f), [0.5, 99.5])
    dark_ink = (bg - lo) > (hi - bg)  # the ink is the extreme farther from the background
    # Uneven lighting shows as spread on the background's side of the border's median; ink
    # touching the edge only adds spread on the ink's side, and must not trigger the fit.
    p10, p90 = np.percentile(edge, [10, 90])
    uneven = (p90 - bg) if dark_ink else (bg - p10)
    background = _background_surface(f, dark_ink) if uneven > 0.02 else np.float32(bg)
    if dark_ink:
        # Dark ink on paper: light multiplies, so measure ink as the fraction of light it
        # absorbs; a stroke then reads the same in the bright and the shaded part of a photo.
        signed = (background - f) / np.maximum(background, 0.05)
    else:
        signed = f - background
    signed = signed.astype(np.float32)
    # The noise floor comes from the signed residual: clipped at 0 its median would be 0.
    return _stretch(np.maximum(signed, 0.0), noise_floor=_noise(_border(signed)))


def _thumbnail(f: np.ndarray, side: int = 96) -> np.ndarray:
    h, w = f.shape[:2]
    s = side / max(h, w)
    if s >= 1:
        return f
    return cv2.resize(f, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _noise(values: np.ndarray) -> float:
    """A level that background noise rarely exceeds: median + 3 robust standard deviations."""
    med = float(np.median(values))
    return med + 3.0 * 1.4826 * float(np.median(np.abs(values - med)))


# --------------------------------------------------------------------------- preprocessing


def _remove_specks(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Drop stray marks: small components away from the digit, and pixel-sized noise anywhere.

    Multi-stroke digits (the bar of a 7, a 4 in two strokes, a 5's flag) are large or close to
    the main ink, so they stay; an accidental dot across the canvas would otherwise double the
    bounding box and shrink the digit.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 2:
        return ink
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas) + 1
    biggest = int(areas.max())
    x0, y0, w0, h0 = (int(v) for v in stats[order[0], :4])
    box = [x0, y0, x0 + w0, y0 + h0]
    kept = [int(order[0])]
    for lab in order[1:]:
        area = int(stats[lab, cv2.CC_STAT_AREA])
        x, y, w, h = (int(v) for v in stats[lab, :4])
        if area < max(4, 0.01 * biggest):  # noise, wherever it is
            continue
        size = max(box[2] - box[0], box[3] - box[1])
        gap = max(box[0] - (x + w), x - box[2], box[1] - (y + h), y - box[3], 0)
        # A dot (compact: fills much of its square, and small next to the digit) outside the
        # digit's box is a slip, not a stroke: digits are made of lines, none has a dot.
        dot = area > 0.4 * max(w, h) ** 2 and max(w, h) < 0.25 * size
        if dot and gap > 0:
            continue
        if area >= 0.15 * biggest or gap <= 0.3 * size:
            kept.append(int(lab))
            box = [min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
    if len(kept) == n - 1:
        return ink
    keep = np.isin(labels, kept).astype(np.uint8)
    keep = cv2.dilate(keep, np.ones((3, 3), np.uint8), iterations=2)  # keep the soft fringe
    return ink * keep


def _stroke_width(img: np.ndarray) -> float:
    """Typical stroke width in px: for a band of width w the mean distance to its edge is w/4."""
    mask = (img >= 0.5).astype(np.uint8)
    if not mask.any():
        return 0.0
    # Pad: distanceTransform measures to the nearest 0 pixel, and a crop's edge is ink's edge.
    mask = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dt = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    return 4.0 * float(dt[mask > 0].mean())


def _resize_long_side(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR  # area-average down, smooth up
    return cv2.resize(img, size, interpolation=interp)


def _bbox(img: np.ndarray, level: float) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(img.max(axis=1) > level)
    if rows.size == 0:
        return None
    cols = np.flatnonzero(img.max(axis=0) > level)
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _normalise_width(work: np.ndarray, width: float) -> np.ndarray:
    """Thin or thicken strokes towards MNIST's width for the digit's size (grey erode/dilate)."""
    median = _MNIST_WIDTH * max(work.shape)
    target = min(max(width, _WIDTH_BAND[0] * median), _WIDTH_BAND[1] * median)
    radius = round(abs(target - width) / 2)
    if radius < 1 or width <= 0:
        return work
    # Pad so a dilation is not cut off by the crop's edge.
    pad = radius + 1
    work = cv2.copyMakeBorder(work, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(work, kernel) if width < target else cv2.erode(work, kernel)


def preprocess(
    pixels: np.ndarray,
    *,
    source: Source = "canvas",
    remove_specks: bool = True,
    normalise_width: bool = True,
) -> Preprocessed:
    """Canvas / photo pixels -> MNIST-style 28x28 (see module doc), or why there is nothing to read.

    source: "canvas" for the drawing canvas, "image" for an uploaded file or photo (paper lines,
    shadows, a desk at the edge are looked for, and a blank one reports Status.NO_INK).
    remove_specks: drop stray dots and noise away from the digit before cropping.
    normalise_width: bring a stroke width outside MNIST's usual range (for the digit's size) to
    the edge of that range: a tiny digit drawn with a fat brush, a huge one with a thin pen.
    Measured on pen-drawn digits (writers 1-24): +1.0 points dense, +0.6 CNN; MNIST's own
    widths stay untouched, so upscaled MNIST keeps its accuracy (forcing every digit to the
    median width gained 0.3 more on pens but cost MNIST 0.2).
    """
    nothing = Status.EMPTY if source == "canvas" else Status.NO_INK
    ink = ink_map(pixels, source=source)
    steps: dict[str, np.ndarray] = {"ink": ink}
    mask = (ink >= _INK_LEVEL).astype(np.uint8)
    if not mask.any():
        return _nothing(nothing, steps)
    if remove_specks:
        ink = _remove_specks(ink, mask)
        steps["specks removed"] = ink
    box = _bbox(ink, _INK_LEVEL)
    if box is None:
        return _nothing(nothing, steps)
    y0, y1, x0, x1 = box
    # Include the anti-aliased fringe round the mask (1 px), within the image.
    y0, x0 = max(0, y0 - 1), max(0, x0 - 1)
    y1, x1 = min(ink.shape[0], y1 + 1), min(ink.shape[1], x1 + 1)
    crop = ink[y0:y1, x0:x1]
    steps["crop"] = crop

    extent = max(box[1] - box[0], box[3] - box[2])
    work = _resize_long_side(crop, _WORK_SIDE)
    width = _stroke_width(work) * extent / _WORK_SIDE  # in image px
    if extent < _MIN_EXTENT * max(ink.shape) or extent < _MIN_EXTENT_PER_WIDTH * width:
        return _nothing(Status.TOO_SMALL, steps)

    digit = crop
    if normalise_width:
        work = _normalise_width(work, _stroke_width(work))
        wbox = _bbox(work, 0.05)
        if wbox is None:  # thinned away entirely: fall back to the drawing as it was
            work = _resize_long_side(crop, _WORK_SIDE)
        else:
            work = work[wbox[0] : wbox[1], wbox[2] : wbox[3]]
        steps["stroke width"] = np.clip(work, 0, 1).astype(np.float32)
        digit = work

    fit = np.clip(_resize_long_side(digit, MNIST_BOX), 0.0, 1.0).astype(np.float32)
    steps["fit 20x20"] = fit
    image = _centre_by_mass(fit)
    steps["centred 28x28"] = image
    if float(image.max(initial=0.0)) <= 0.0:
        return _nothing(Status.TOO_SMALL, steps)
    return Preprocessed(image, steps, None, Status.OK)


def _centre_by_mass(fit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 with the centre of mass at pixel (14, 14), as MNIST did (sub-pixel shift)."""
    total = float(fit.sum())
    h, w = fit.shape
    if total > 0:
        cy = float((fit.sum(axis=1) * np.arange(h)).sum()) / total
        cx = float((fit.sum(axis=0) * np.arange(w)).sum()) / total
    else:
        cy, cx = (h - 1) / 2, (w - 1) / 2
    shift = np.float32([[1, 0, 14.0 - cx], [0, 1, 14.0 - cy]])
    out = cv2.warpAffine(
        fit,
        shift,
        (MNIST_SIZE, MNIST_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- files


def load_image_file(data: bytes | str | Path) -> np.ndarray:
    """Decode an uploaded image (PNG, JPEG, ...) to uint8 RGBA, RGB or L, upright per its EXIF.

    bytes are the file's content; str / Path name a file. Raises ImageError, with a message
    fit for the user, for empty or undecodable files and for images over MAX_IMAGE_PIXELS
    (checked from the header, before anything big is decoded).
    """
    if isinstance(data, (str, Path)):
        data = Path(data).read_bytes()
    data = bytes(data)
    if not data:
        raise ImageError("The file is empty — upload a PNG or JPEG image of a digit.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise ImageError(
                        f"The image is too large ({w}x{h} pixels); the limit is "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                    )
                if w < 1 or h < 1:
                    raise ImageError("The image has no pixels.")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_array(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"The image is too large to open safely ({exc}).") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("That file is not an image we can read — upload a PNG or JPEG.") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
        raise ImageError(f"The image file is damaged or incomplete ({exc}).") from exc


def _to_array(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image -> uint8 array in L, RGB or RGBA (other modes converted)."""
    if im.mode in ("L", "RGB", "RGBA"):
        return np.asarray(im, dtype=np.uint8).copy()
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return np.round(scaled).astype(np.uint8)
    if im.mode == "P":
        return np.asarray(im.convert("RGBA" if "transparency" in im.info else "RGB"), dtype=np.uint8)
    if im.mode in ("LA", "PA", "RGBa", "La"):
        return np.asarray(im.convert("RGBA"), dtype=np.uint8)
    if im.mode == "1":
        return np.asarray(im.convert("L"), dtype=np.uint8)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)
