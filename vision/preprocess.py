"""Image preparation shared by training (evaluation) and run time, driven by the model's metadata.

numpy and OpenCV only: the Pi runs this without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import RPSError

INTERPOLATIONS = ("pyramid", "area")


class BadFrameError(RPSError, ValueError):
    """An image that cannot be classified (empty, wrong dtype or shape)."""


@dataclass(frozen=True)
class Preprocessing:
    """How a model wants its input: size as (height, width), colour order, normalisation.

    A pixel value ``v`` (0-255) becomes ``(v - mean[c]) * norm[c]``, channels in ``color`` order,
    the same convention as ncnn's ``substract_mean_normalize``. ``interpolation`` names how
    images shrink (``resize_to``): ``pyramid`` for new models, ``area`` for metadata without it.
    """

    input_size: tuple[int, int] = (160, 160)
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    norm: tuple[float, float, float] = (1 / 58.395, 1 / 57.12, 1 / 57.375)
    color: str = "RGB"
    resize: str = "center_crop"
    interpolation: str = "pyramid"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"unknown interpolation {self.interpolation!r}: use {' or '.join(INTERPOLATIONS)}"
            )

    @classmethod
    def from_metadata(cls, meta: dict) -> Preprocessing:
        h, w = meta["input_size"]
        return cls(
            input_size=(int(h), int(w)),
            mean=tuple(float(v) for v in meta["mean"]),
            norm=tuple(float(v) for v in meta["norm"]),
            color=str(meta.get("color", "RGB")).upper(),
            resize=str(meta.get("resize", "center_crop")),
            interpolation=str(meta.get("interpolation", "area")),  # models exported before it
        )

    def to_metadata(self) -> dict:
        return {
            "input_size": list(self.input_size),
            "mean": list(self.mean),
            "norm": list(self.norm),
            "color": self.color,
            "resize": self.resize,
            "interpolation": self.interpolation,
        }


def as_bgr(image: np.ndarray) -> np.ndarray:
    """3-channel uint8 images pass through untouched (views stay views); others are converted
    (``to_bgr``)."""
    if (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.size
    ):
        return image
    return to_bgr(image)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any 8-bit image (grey, BGR, BGRA) as contiguous 3-channel BGR uint8."""
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise BadFrameError("empty frame: expected a non-empty numpy image")
    if image.dtype != np.uint8:
        if image.dtype.kind == "f" and image.max(initial=0) <= 1.0:
            image = (image * 255.0).round()
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3:
        raise BadFrameError(f"frame has shape {image.shape}: expected HxW, HxWx3 or HxWx4")
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return np.ascontiguousarray(image)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise BadFrameError(f"frame has {channels} channels: expected 1, 3 or 4")


def center_crop(image: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """The largest centred region whose width/height is ``aspect``."""
    h, w = image.shape[:2]
    if w / h > aspect:
        cw, ch = max(1, round(h * aspect)), h
    else:
        cw, ch = w, max(1, round(w / aspect))
    x, y = (w - cw) // 2, (h - ch) // 2
    return image[y : y + ch, x : x + cw]


def resize_to(
    image: np.ndarray, size: tuple[int, int], interpolation: str = "area", buffers=None
) -> np.ndarray:
    """Resize to (height, width); growing is always bilinear.

    Shrinking with ``area`` averages every source pixel (OpenCV's INTER_AREA). ``pyramid`` halves
    with 2x2 averages while the image is at least twice the target, then finishes bilinearly:
    nearly as free of aliasing (the last step shrinks by less than 2) and about twice as fast for
    a camera frame (INTER_AREA has a SIMD path only for halving), which keeps the per-frame path
    close to the model's own latency. ``buffers`` (a
    ``shape -> uint8 array`` callable) lets a caller reuse memory from frame to frame.
    """
    h, w = size
    if interpolation == "pyramid":
        while image.shape[0] >= 2 * h and image.shape[1] >= 2 * w:
            half = (image.shape[0] // 2, image.shape[1] // 2)
            dst = buffers((*half, *image.shape[2:])) if buffers else None
            image = cv2.resize(image, half[::-1], dst=dst, interpolation=cv2.INTER_AREA)
        if image.shape[:2] == (h, w):
            return image
        dst = buffers((h, w, *image.shape[2:])) if buffers else None
        return cv2.resize(image, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)
    if interpolation != "area":
        raise ValueError(f"unknown interpolation {interpolation!r}: use {INTERPOLATIONS}")
    shrink = image.shape[0] > h or image.shape[1] > w
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def fit(bgr: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """Crop/letterbox and resize a BGR image to the model's input size (still BGR uint8)."""
    h, w = spec.input_size
    if spec.resize == "center_crop":
        return resize_to(center_crop(bgr, w / h), spec.input_size, spec.interpolation)
    if spec.resize == "letterbox":
        scale = min(w / bgr.shape[1], h / bgr.shape[0])
        nw, nh = max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale))
        canvas = np.zeros((h, w, 3), np.uint8)
        y, x = (h - nh) // 2, (w - nw) // 2
        canvas[y : y + nh, x : x + nw] = resize_to(bgr, (nh, nw), spec.interpolation)
        return canvas
    if spec.resize == "stretch":
        return resize_to(bgr, spec.input_size, spec.interpolation)
    raise ValueError(f"unknown resize mode {spec.resize!r}: use center_crop, letterbox or stretch")


def normalize(fitted_bgr: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """BGR uint8 HxWx3 at input size -> float32 3xHxW tensor in the model's colour order."""
    img = fitted_bgr[:, :, ::-1] if spec.color == "RGB" else fitted_bgr
    x = img.astype(np.float32)
    x -= np.asarray(spec.mean, np.float32)
    x *= np.asarray(spec.norm, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def prepare(image: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """Any 8-bit image -> the model's float32 3xHxW input."""
    return normalize(fit(to_bgr(image), spec), spec)
