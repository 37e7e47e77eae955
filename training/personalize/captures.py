"""The player's captures: their class folders in capture order, the checks before training
(enough of each class, variety), the held-back latest fifth, and the images kept in memory.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training import data as datasets
from training.collect import (
    CAPTURE_ORDER,
    difference,
    near_identical_warning,
    thumbnail,
)
from vision.errors import DatasetError
from vision.labels import CLASS_ORDER, Gesture, class_subfolders
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)


#: Fewer readable images than this in any class and personalisation refuses to start.
MIN_IMAGES_PER_CLASS = 10
#: How many images per class the guided capture asks for, and the messages suggest.
SUGGESTED_IMAGES_PER_CLASS = 50
#: The latest share of each class's captures (in capture order) held back to check the model.
HOLD_BACK_FRACTION = 0.2
#: Images are kept in memory at this multiple of the input size for augmentation.
CACHE_SCALE = 1.25

Item = tuple[Path, int]


class NotEnoughDataError(DatasetError):
    """The captures are not enough to personalise; the message says what to capture next."""


class WrongLabelError(DatasetError):
    """A class's captures look like another class: checked before training, nothing installed."""


def collect_command(label: Gesture, data_dir: str | Path, count: int) -> str:
    """The exact command that captures ``count`` more images of ``label`` into ``data_dir``."""
    return f"python -m training collect --label {label.value} --out {data_dir} --count {count}"


def capture_key(path: Path) -> list:
    """Sort key for capture order: the name with its numbers compared as numbers.

    ``collect`` names files ``rock_<date>-<time>_0001.jpg``, so name order is the order they
    were taken; ``2.jpg`` comes before ``10.jpg`` for folders numbered another way.
    """
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.as_posix())]


def ordered_images(folder: Path) -> list[Path]:
    """The image files under ``folder`` in capture order."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in datasets.IMAGE_EXTS]
    return sorted(
        (p for p in files if p.is_file()), key=lambda p: capture_key(p.relative_to(folder))
    )


def capture_folders(data_dir: Path) -> dict[Gesture, Path]:
    """The class folders there are (maybe none); raises if ``data_dir`` is missing or ambiguous."""
    hint = f"capture with: {collect_command(Gesture.ROCK, data_dir, SUGGESTED_IMAGES_PER_CLASS)}"
    if not data_dir.is_dir():
        raise NotEnoughDataError(f"{data_dir} does not exist: {hint} (and the same for each class)")
    try:
        return datasets.class_folders(data_dir)
    except DatasetError:
        if class_subfolders(data_dir):
            raise  # e.g. both rock/ and 1/: the message says which to merge
        return {}


def _what(g: Gesture) -> str:
    return "an empty scene, no hand" if g is Gesture.NONE else f"your hand showing {g.value}"


def _require_counts(
    data_dir: Path, counts: dict[Gesture, int], min_per_class: int, unreadable: int = 0
) -> None:
    short = [g for g in CAPTURE_ORDER if counts.get(g, 0) < min_per_class]
    if not short:
        return
    lines = []
    for g in short:
        have = counts.get(g, 0)
        want = max(min_per_class, SUGGESTED_IMAGES_PER_CLASS) - have
        lines.append(
            f"  {g.value}: {have} image(s), need at least {min_per_class}; capture {_what(g)}:\n"
            f"    {collect_command(g, data_dir, want)}"
        )
    skipped = (
        f" ({unreadable} unreadable image(s) were skipped; they are left where they are)"
        if unreadable
        else ""
    )
    raise NotEnoughDataError(
        f"not enough images in {data_dir} to personalise{skipped}:\n" + "\n".join(lines)
    )


def hold_back_count(n: int, fraction: float = HOLD_BACK_FRACTION) -> int:
    """How many of a class's ``n`` captures are held back: at least 1, never all."""
    return max(0, min(n - 1, max(1, math.ceil(n * fraction))))


@dataclass
class Captures:
    """The user's captures in capture order; the last ones of each class are held back."""

    root: Path
    train: list[Item]
    heldback: list[Item]
    unreadable: int = 0

    def counts(self, items: Sequence[Item]) -> dict[Gesture, int]:
        out = {g: 0 for g in CLASS_ORDER}
        for _, label in items:
            out[CLASS_ORDER[label]] += 1
        return out


def split_captures(
    data_dir: str | Path,
    min_per_class: int = MIN_IMAGES_PER_CLASS,
    hold_back: float = HOLD_BACK_FRACTION,
) -> Captures:
    """Check the captures, drop unreadable ones, and hold back each class's latest ``hold_back``.

    Raises ``NotEnoughDataError`` (saying what to capture) when a class has too few readable
    images. Paths are absolute; nothing is written.
    """
    data_dir = Path(data_dir).resolve()
    folders = capture_folders(data_dir)
    found = [(p, g.index) for g in CLASS_ORDER if g in folders for p in ordered_images(folders[g])]
    readable = datasets.drop_unreadable(found)
    captures = Captures(data_dir, [], [], unreadable=len(found) - len(readable))
    counts = captures.counts(readable)
    _require_counts(data_dir, counts, min_per_class, captures.unreadable)
    for g in CLASS_ORDER:
        mine = [item for item in readable if item[1] == g.index]  # still in capture order
        cut = len(mine) - hold_back_count(len(mine), hold_back)
        captures.train += mine[:cut]
        captures.heldback += mine[cut:]
    return captures


def variety_warnings(captures: Captures) -> list[str]:
    """A warning for each class whose training captures are near-identical."""
    warnings = []
    for g in CAPTURE_ORDER:
        thumbs = []
        for path, label in captures.train:
            if label == g.index:
                grey = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)
                if grey is not None:
                    thumbs.append(thumbnail(grey))
        text = near_identical_warning(g, difference(thumbs[-60:]), len(thumbs))
        if text:
            warnings.append(
                f"{text}: {collect_command(g, captures.root, SUGGESTED_IMAGES_PER_CLASS)}"
            )
    return warnings


def cache_images(items: Sequence[Item], spec: Preprocessing) -> list[np.ndarray]:
    """Decode each image once and keep it in memory, shrunk to a little over the input size."""
    h, w = spec.input_size
    side = round(max(h, w) * CACHE_SCALE)
    out = []
    for path, _ in items:
        bgr = datasets.read_image(path)
        if bgr is None:
            raise DatasetError(f"cannot read {path} any more: was it changed while training?")
        ih, iw = bgr.shape[:2]
        scale = side / min(ih, iw)
        if scale < 1:
            size = (max(1, round(iw * scale)), max(1, round(ih * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        out.append(bgr)
    return out
