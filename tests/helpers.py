"""Test helpers: real photos from ../shared/datasets and real video files written with OpenCV."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"


def dataset_images(dataset: str, label: str, n: int, start: int = 0) -> list[Path]:
    """The first ``n`` photo paths (sorted) of ``label`` in a shared dataset."""
    files = sorted((DATASETS / dataset / label).glob("*.jpg"))
    return files[start : start + n]


def load(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"could not read {path}"
    if size is not None:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 15.0) -> Path:
    """Write BGR frames (all the same size) as an MJPG .avi that OpenCV reads back."""
    writer = None
    count = 0
    for frame in frames:
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
            assert writer.isOpened(), f"cannot write {path}"
        writer.write(frame)
        count += 1
    assert writer is not None and count, "no frames"
    writer.release()
    return path


def gesture_clip(path: Path, labels: Iterable[str], frames_each: int = 10, size=(640, 480)):
    """A video of real photos: ``frames_each`` frames of one photo per label, in order."""

    def frames():
        for i, label in enumerate(labels):
            photo = dataset_images("rps-cv", label, 1, start=i)[0]
            img = load(photo, size)
            for _ in range(frames_each):
                yield img

    return write_video(path, frames())
