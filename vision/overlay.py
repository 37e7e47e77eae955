"""Draw the region of interest and the stable gesture on a frame (for videos and previews)."""

from __future__ import annotations

import cv2
import numpy as np

from .labels import Gesture
from .preprocess import to_bgr

COLOURS = {  # BGR
    Gesture.ROCK: (60, 60, 230),
    Gesture.PAPER: (230, 160, 40),
    Gesture.SCISSORS: (40, 200, 60),
    Gesture.NONE: (160, 160, 160),
}


def draw_overlay(
    image: np.ndarray,
    roi: tuple[int, int, int, int],
    gesture: Gesture,
    confidence: float,
    fps: float | None = None,
    state: str = "ok",
) -> np.ndarray:
    """A BGR copy of ``image`` with the ROI box, ``gesture confidence`` and fps drawn on it."""
    out = to_bgr(image).copy()
    x, y, w, h = roi
    colour = COLOURS.get(gesture, COLOURS[Gesture.NONE])
    thick = max(2, out.shape[0] // 160)
    cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, thick)
    scale = max(0.5, out.shape[0] / 480)
    text = f"{gesture.value} {confidence:.2f}" if state == "ok" else f"{gesture.value} [{state}]"
    org = (x + 8, max(y, 0) + int(30 * scale))
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    if fps:
        corner = (8, out.shape[0] - 10)
        cv2.putText(
            out,
            f"{fps:.0f} fps",
            corner,
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.6,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out
