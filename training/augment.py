"""Training augmentation with albumentations and OpenCV (torchvision does not import here).

``Augmenter(spec)(bgr, rng) -> bgr`` at the model's input size: background variation, random
resized crop, flips, wide rotation (hands enter from the side), colour and lighting jitter,
greyscale, blur, noise and JPEG artefacts. The result is still BGR uint8; the dataset normalises
it with ``vision.preprocess.normalize``, exactly as at run time. All randomness comes from the
``rng`` passed in, so a sample's augmentation is reproducible.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import cv2
import numpy as np

from vision.preprocess import Preprocessing, fit

log = logging.getLogger(__name__)

STRENGTHS = ("none", "light", "full")
DEFAULT_STRENGTH = "full"


def _albumentations():
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network check at import
    import albumentations as A

    return A


def build_pipeline(input_size: tuple[int, int], strength: str = DEFAULT_STRENGTH):
    """The albumentations ``Compose`` for RGB uint8 images (output at ``input_size``)."""
    if strength not in STRENGTHS or strength == "none":
        raise ValueError(f"augmentation strength must be 'light' or 'full', not {strength!r}")
    A = _albumentations()
    h, w = input_size
    reflect = cv2.BORDER_REFLECT_101
    if strength == "light":
        steps = [
            A.RandomResizedCrop(size=(h, w), scale=(0.6, 1.0), ratio=(0.8, 1.25)),
            A.HorizontalFlip(p=0.5),
            A.Rotate(limit=15, border_mode=reflect, p=0.5),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=0.5),
        ]
    else:
        steps = [
            A.RandomRotate90(p=0.35),  # hands entering from the side or the top
            A.Rotate(limit=30, border_mode=reflect, p=0.6),
            A.RandomResizedCrop(size=(h, w), scale=(0.3, 1.0), ratio=(0.75, 1.333)),
            A.HorizontalFlip(p=0.5),
            A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.5, hue=0.06, p=0.8),
            A.RandomGamma(gamma_limit=(70, 150), p=0.3),
            A.ToGray(p=0.1),
            A.OneOf(
                [A.GaussianBlur(blur_limit=(3, 7)), A.MotionBlur(blur_limit=(3, 9))],
                p=0.25,
            ),
            A.GaussNoise(std_range=(0.01, 0.06), p=0.15),
            A.ImageCompression(quality_range=(35, 95), p=0.3),
        ]
    return A.Compose(steps, seed=0)


def background_replacer() -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
    """``training.synth.replace_background`` if it exists, else None (with a warning)."""
    try:
        from training import synth
    except ImportError:
        synth = None
    fn = getattr(synth, "replace_background", None)
    if fn is None:
        log.warning("training.synth.replace_background is not available: no background variation")
    return fn


class Augmenter:
    """``(bgr, rng) -> bgr`` at ``spec.input_size``; pickles into ``DataLoader`` workers."""

    def __init__(
        self,
        spec: Preprocessing,
        strength: str = DEFAULT_STRENGTH,
        background_p: float = 0.3,
    ):
        self.spec = spec
        self.strength = strength
        self.background_p = float(background_p) if strength == "full" else 0.0
        self.pipeline = None if strength == "none" else build_pipeline(spec.input_size, strength)
        self.replace_background = background_replacer() if self.background_p > 0 else None

    def __call__(self, bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.pipeline is None:
            return fit(bgr, self.spec)
        if self.replace_background is not None and rng.random() < self.background_p:
            bgr = self.replace_background(bgr, rng)
        self.pipeline.set_random_seed(int(rng.integers(2**31 - 1)))
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])  # albumentations' colour ops expect RGB
        out = self.pipeline(image=rgb)["image"]
        return np.ascontiguousarray(out[:, :, ::-1])
