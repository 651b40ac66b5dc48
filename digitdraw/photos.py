"""Synthetic phone photos of a digit written on paper, for measuring the photo path of preprocessing.

Real pen strokes (digitdraw.pendigits) drawn in pencil-grey on paper with texture, then the things
that make photos hard: ruled or squared paper, a strip of desk along an edge, uneven light, a soft
shadow, a small rotation of the sheet and JPEG compression. Pure functions of a PhotoSpec and a
seeded generator, so a benchmark or a test gets the same photo every time.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from digitdraw.pendigits import PenDigit, render

Side = Literal["left", "right", "top", "bottom"]
# The conditions a benchmark reports on, each one difficulty alone, and all of them at once.
CONDITIONS = ("plain", "gradient", "shadow", "ruled", "squared", "desk", "rotated", "jpeg", "everything")


@dataclass(frozen=True)
class PhotoSpec:
    """How one photo is taken. Fractions are of the photo's size; None = that difficulty is absent."""

    width: int = 480
    height: int = 400
    digit_height: float = 0.45  # of the photo's shorter side
    pencil_width: float = 0.04  # of the digit's height
    pencil_darkness: float = 0.6  # fraction of light the pencil absorbs
    paper: tuple[float, float, float] = (0.93, 0.92, 0.88)  # reflectance, RGB
    ruled: float | None = None  # line spacing (fraction of height)
    squared: float | None = None  # grid spacing (fraction of the shorter side)
    desk: tuple[Side, float] | None = None  # the side, and the strip's width (fraction)
    gradient: float = 0.0  # how much darker the far side is (0..1)
    gradient_angle: float = 0.0  # radians, direction of the darkening
    shadow: tuple[float, float, float, float] | None = None  # angle (rad), offset (-1..1), darkness, softness
    rotation: float = 0.0  # degrees
    jpeg: int | None = None  # quality
    light: float = 0.95  # overall exposure


def random_spec(rng: np.random.Generator, condition: str) -> PhotoSpec:
    """A random photo of one condition (see CONDITIONS): mild paper texture always, the rest as named."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; known: {', '.join(CONDITIONS)}")
    width = int(rng.integers(360, 640))
    spec = PhotoSpec(
        width=width,
        height=int(width * rng.uniform(0.75, 1.33)),
        digit_height=rng.uniform(0.3, 0.55),
        pencil_width=rng.uniform(0.025, 0.06),
        pencil_darkness=rng.uniform(0.4, 0.75),
        paper=tuple(float(v) for v in rng.uniform(0.86, 0.96) * rng.uniform([0.97, 0.96, 0.88], 1.0)),
        light=rng.uniform(0.8, 1.0),
    )
    every = condition == "everything"
    if condition == "gradient" or every:
        spec = replace(spec, gradient=rng.uniform(0.2, 0.5), gradient_angle=rng.uniform(0, 2 * math.pi))
    if condition == "shadow" or every:
        angle, offset = rng.uniform(0, 2 * math.pi), rng.uniform(-0.5, 0.3)
        shadow = (angle, offset, rng.uniform(0.35, 0.6), rng.uniform(0.01, 0.08))
        spec = replace(spec, shadow=shadow)
    if condition == "ruled" or (every and rng.random() < 0.5):
        spec = replace(spec, ruled=rng.uniform(0.06, 0.11))
    elif condition == "squared" or every:
        spec = replace(spec, squared=rng.uniform(0.04, 0.08))
    if condition == "desk" or every:
        side = ("left", "right", "top", "bottom")[int(rng.integers(4))]
        spec = replace(spec, desk=(side, rng.uniform(0.06, 0.22)))
    if condition == "rotated" or every:
        spec = replace(spec, rotation=rng.uniform(-8, 8))
    if condition == "jpeg" or every:
        spec = replace(spec, jpeg=int(rng.integers(35, 75)))
    return spec


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    noise = rng.normal(size=shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    return noise / (float(noise.std()) + 1e-6)


def _desk_mask(spec: PhotoSpec, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """1 on the desk, 0 on the paper: a strip along one side with a slightly slanted edge."""
    if spec.desk is None:
        return np.zeros((h, w), np.float32)
    side, frac = spec.desk
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    slant = math.tan(math.radians(rng.uniform(-3, 3)))
    if side in ("left", "right"):
        edge = frac * w + slant * (yy - h / 2)
        dist = edge - xx if side == "left" else xx - (w - edge)
    else:
        edge = frac * h + slant * (xx - w / 2)
        dist = edge - yy if side == "top" else yy - (h - edge)
    return np.clip(dist + 0.5, 0.0, 1.0)  # one pixel of anti-aliasing at the paper's edge


def _digit_alpha(digit: PenDigit, spec: PhotoSpec, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Pencil coverage 0..1 of the digit, placed on the paper away from the desk strip."""
    height = spec.digit_height * min(h, w)
    x_lo, x_hi, y_lo, y_hi = 0.25 * w, 0.75 * w, 0.3 * h, 0.7 * h
    if spec.desk is not None:
        side, frac = spec.desk
        shift = (frac + 0.02) / 2
        if side == "left":
            x_lo, x_hi = x_lo + shift * w, x_hi + shift * w
        elif side == "right":
            x_lo, x_hi = x_lo - shift * w, x_hi - shift * w
        elif side == "top":
            y_lo, y_hi = y_lo + shift * h, y_hi + shift * h
        else:
            y_lo, y_hi = y_lo - shift * h, y_hi - shift * h
    centre = (rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi))
    side = max(h, w)
    rgba = render(
        digit, canvas=side, stroke_width=spec.pencil_width * height, height=height, centre=centre, clip=True
    )
    alpha = rgba[:h, :w, 3].astype(np.float32) / 255.0
    # Graphite is grainy: the stroke's darkness varies along it.
    grain = 1.0 - 0.25 * np.clip(np.abs(_smooth_noise(rng, (h, w), 1.0)), 0, 2) / 2
    return alpha * grain


def _paper_lines(spec: PhotoSpec, h: int, w: int) -> np.ndarray:
    """How much light the printed lines absorb (0..1) per pixel and colour: (h, w, 3)."""
    out = np.zeros((h, w, 3), np.float32)
    if spec.ruled is not None:
        step = spec.ruled * h
        layer = np.zeros((h, w), np.float32)
        for y in np.arange(step * 0.7, h, step):
            cv2.line(layer, (0, round(y * 16)), ((w - 1) * 16, round(y * 16)), 1.0, 2, cv2.LINE_AA, 4)
        # Pale blue rules, and a red margin line.
        out += layer[..., None] * np.float32([0.45, 0.25, 0.05])
        margin = np.zeros((h, w), np.float32)
        x = round(0.3 * w)
        cv2.line(margin, (x, 0), (x, h - 1), 1.0, 2, cv2.LINE_AA)
        out += margin[..., None] * np.float32([0.05, 0.45, 0.4])
    if spec.squared is not None:
        step = spec.squared * min(h, w)
        layer = np.zeros((h, w), np.float32)
        for y in np.arange(step / 2, h, step):
            cv2.line(layer, (0, round(y * 16)), ((w - 1) * 16, round(y * 16)), 1.0, 1, cv2.LINE_AA, 4)
        for x in np.arange(step / 2, w, step):
            cv2.line(layer, (round(x * 16), 0), (round(x * 16), (h - 1) * 16), 1.0, 1, cv2.LINE_AA, 4)
        out += np.clip(layer, 0, 1)[..., None] * np.float32([0.35, 0.25, 0.15])
    return np.clip(out, 0.0, 0.9)


def _illumination(spec: PhotoSpec, h: int, w: int) -> np.ndarray:
    """Light falling on the scene, 0..1 per pixel: exposure x gradient x soft shadow."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx - w / 2) / max(h, w), (yy - h / 2) / max(h, w)  # about -0.5..0.5
    light = np.full((h, w), spec.light, np.float32)
    if spec.gradient:
        along = u * math.cos(spec.gradient_angle) + v * math.sin(spec.gradient_angle)
        light *= 1.0 - spec.gradient * np.clip(along + 0.5, 0.0, 1.0)
    if spec.shadow is not None:
        angle, offset, darkness, softness = spec.shadow
        dist = u * math.cos(angle) + v * math.sin(angle) - offset / 2
        inside = 1.0 / (1.0 + np.exp(-dist / max(softness, 1e-3)))
        light *= 1.0 - darkness * inside
    return light


def synthetic_photo(digit: PenDigit, spec: PhotoSpec, rng: np.random.Generator) -> np.ndarray:
    """A photo (uint8 RGB, spec.height x spec.width) of `digit` written in pencil on paper."""
    h, w = spec.height, spec.width
    # The sheet is laid out on a larger field, turned, and cropped, so lines and desk reach every edge.
    margin = int(0.2 * max(h, w))
    fh, fw = h + 2 * margin, w + 2 * margin
    texture = 0.015 * _smooth_noise(rng, (fh, fw), 6.0) + 0.008 * _smooth_noise(rng, (fh, fw), 0.7)
    reflect = np.float32(spec.paper)[None, None, :] * (1.0 + texture[..., None])
    reflect = reflect * (1.0 - _paper_lines(spec, fh, fw))
    alpha = np.zeros((fh, fw), np.float32)
    alpha[margin : margin + h, margin : margin + w] = _digit_alpha(digit, spec, h, w, rng)
    pencil = np.float32([0.36, 0.36, 0.38]) * spec.pencil_darkness / 0.36  # neutral grey graphite
    reflect = reflect * (1.0 - np.clip(alpha[..., None] * pencil, 0.0, 0.95))
    if spec.rotation:
        turn = cv2.getRotationMatrix2D((fw / 2, fh / 2), spec.rotation, 1.0)
        reflect = cv2.warpAffine(reflect, turn, (fw, fh), borderMode=cv2.BORDER_REFLECT)
    reflect = reflect[margin : margin + h, margin : margin + w]
    desk = _desk_mask(spec, h, w, rng)
    if spec.desk is not None:
        wood = np.float32([0.32, 0.22, 0.14]) * rng.uniform(0.5, 1.2)
        grain = 1.0 + 0.08 * _smooth_noise(rng, (h, w), 3.0)
        reflect = reflect * (1 - desk[..., None]) + (wood * grain[..., None]) * desk[..., None]
    photo = reflect * _illumination(spec, h, w)[..., None] * 255.0
    photo += rng.normal(0.0, 2.5, photo.shape).astype(np.float32)  # sensor noise
    photo = np.clip(np.round(photo), 0, 255).astype(np.uint8)
    if spec.jpeg is not None:
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, format="JPEG", quality=spec.jpeg)
        photo = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return photo
