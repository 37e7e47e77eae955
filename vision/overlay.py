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
    landmarks: np.ndarray | None = None,
    palm_box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """A BGR copy of ``image`` with the ROI box, ``gesture confidence``, fps and, when given,
    the hand's 21-point skeleton (``landmarks`` in image pixels) and the palm detector's box
    where it found that hand (``palm_box``, drawn only with a skeleton: a hand reported)."""
    out = to_bgr(image).copy()
    x, y, w, h = roi
    colour = COLOURS.get(gesture, COLOURS[Gesture.NONE])
    thick = max(2, out.shape[0] // 160)
    if landmarks is not None:
        if palm_box is not None:
            draw_palm_box(out, palm_box, colour, max(1, thick - 1))
        draw_skeleton(out, landmarks, colour, max(1, thick - 1))
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


def draw_skeleton(
    image: np.ndarray, landmarks: np.ndarray, colour=(255, 255, 255), thick: int = 2
) -> np.ndarray:
    """Draw the 21-point hand skeleton onto a BGR ``image`` in place (and return it)."""
    from .hand import HAND_CONNECTIONS

    pts = np.asarray(landmarks, dtype=np.float64)[:, :2].round().astype(np.int32)
    for a, b in HAND_CONNECTIONS:
        cv2.line(image, tuple(pts[a]), tuple(pts[b]), (255, 255, 255), thick + 2, cv2.LINE_AA)
        cv2.line(image, tuple(pts[a]), tuple(pts[b]), colour, thick, cv2.LINE_AA)
    for p in pts:
        cv2.circle(image, tuple(p), thick + 2, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(image, tuple(p), thick + 1, colour, -1, cv2.LINE_AA)
    return image


def draw_palm_box(
    image: np.ndarray, box: tuple[float, float, float, float], colour=(255, 255, 255), thick=2
) -> np.ndarray:
    """Draw the palm detector's box (dashed corners, so it reads apart from the ROI) in place."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    arm = max(4, min(x1 - x0, y1 - y0) // 4)
    for cx, cy, dx, dy in ((x0, y0, 1, 1), (x1, y0, -1, 1), (x0, y1, 1, -1), (x1, y1, -1, -1)):
        for end in ((cx + dx * arm, cy), (cx, cy + dy * arm)):
            cv2.line(image, (cx, cy), end, (255, 255, 255), thick + 2, cv2.LINE_AA)
            cv2.line(image, (cx, cy), end, colour, thick, cv2.LINE_AA)
    return image
