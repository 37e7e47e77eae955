"""Variety while capturing: the prompts that change as the count grows, the near-identical
check on grey thumbnails, and each class's count.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import cv2
import numpy as np

from training.data import IMAGE_EXTS
from vision.labels import CLASS_ORDER, THROWS, Gesture, class_subfolders

log = logging.getLogger(__name__)


#: Capture order in guided mode and in messages: the three throws, then an empty scene.
CAPTURE_ORDER: tuple[Gesture, ...] = (*THROWS, Gesture.NONE)

#: Side of the grey thumbnails that the near-identical check compares.
THUMB_SIDE = 32
#: Captures whose thumbnails differ by less than this (median over all pairs of the mean absolute
#: difference, grey levels 0-255) are near-identical. Measured on ../shared/datasets: consecutive
#: frames of one webcam clip (best-of-one, in file order) differ by 0.3-3.3 (medians per class), an
#: unchanged empty wall by 0.4 over all 50; different poses of one person in one room differ by
#: 11-14 (best-of-one, all pairs of 50) to 20 (finger-counting), different people by 40-60.
NEAR_IDENTICAL_MAD = 5.0
#: The near-identical warning during capture looks at this many of the latest images.
RECENT = 6
ALIKE = "the last {n} images look the same: move your hand (or the camera)"


#: What to ask for while capturing, from the n-th image on (changes as the count grows).
HAND_PROMPTS = (
    (0, "hold it in the middle of the box"),
    (6, "move it around the box: left, right, top, bottom"),
    (14, "come nearer the camera, then go farther away"),
    (22, "turn it: palm, back of the hand, side on, tilted"),
    (30, "now the other hand"),
    (40, "mix it all: anywhere in the box, near and far, either hand"),
)
EMPTY_PROMPTS = (
    (0, "take your hand out of the box: just the room behind"),
    (10, "move the camera a little, or stand aside"),
    (25, "change the light if you can: a lamp on or off, curtains"),
    (40, "anything you might have behind you while playing (a chair, a door)"),
)


def variety_prompt(label: Gesture, saved: int) -> str:
    """What to do now, for the ``saved``-th image of ``label``."""
    steps = EMPTY_PROMPTS if label is Gesture.NONE else HAND_PROMPTS
    return [text for start, text in steps if saved >= start][-1]


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    """A small grey copy for the near-identical check (float32, THUMB_SIDE x THUMB_SIDE)."""
    grey = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    size = (THUMB_SIDE, THUMB_SIDE)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def difference(thumbs: list[np.ndarray]) -> float:
    """Median over all pairs of the mean absolute difference of thumbnails (inf for < 2)."""
    if len(thumbs) < 2:
        return float("inf")
    return float(np.median([np.abs(a - b).mean() for a, b in itertools.combinations(thumbs, 2)]))


def folder_difference(folder: Path, last: int = 60) -> tuple[float, int]:
    """``difference`` of the latest ``last`` readable images in a class folder, and their count."""
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_EXTS)[-last:]
    thumbs = []
    for path in files:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is not None:
            thumbs.append(thumbnail(img))
    return difference(thumbs), len(thumbs)


def near_identical_warning(label: Gesture, diff: float, n: int) -> str:
    """The warning for ``n`` images of ``label`` that differ by ``diff`` (empty if they vary)."""
    if n < 2 or diff >= NEAR_IDENTICAL_MAD:
        return ""
    if label is Gesture.NONE:
        how = "move the camera a little, stand aside, change the light"
    else:
        how = "move your hand around the box, nearer and farther, turn it, switch hands"
    return (
        f"your {n} {label.value} images are near-identical (they differ by {diff:.1f} grey levels; "
        f"varied ones differ by {NEAR_IDENTICAL_MAD:.0f} or more), so the model learns little "
        f"from them. Capture more while you {how}"
    )


def class_counts(out: Path) -> dict[Gesture, int]:
    """Images per class in a dataset folder (named or numeric class folders)."""
    counts = {g: 0 for g in CLASS_ORDER}
    if not out.is_dir():
        return counts
    for gesture, sub in class_subfolders(out):
        counts[gesture] += sum(1 for p in sub.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    return counts


def format_counts(counts: dict[Gesture, int]) -> str:
    """``rock 50, paper 12, scissors 0, none 0``."""
    return ", ".join(f"{g.value} {counts.get(g, 0)}" for g in CAPTURE_ORDER)


def what_to_show(label: Gesture) -> str:
    """The class as the player is asked for it: "rock", "an empty scene (no hand)"."""
    return "an empty scene (no hand)" if label is Gesture.NONE else label.value
