"""Writing captures: the class folder, the box's crop, and the writer that never overwrites
(each name new, opened exclusively, so name order is capture order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from vision import paths
from vision.diskspace import disk_full, is_disk_full
from vision.errors import RPSError
from vision.labels import Gesture, class_subfolders

log = logging.getLogger(__name__)


JPEG_QUALITY = 95

Rect = tuple[int, int, int, int]  # x, y, width, height in pixels


class CaptureError(RPSError, OSError):
    """Images cannot be written where they were asked for."""


def default_data_dir() -> Path:
    """Where captures go when no folder is given: ``<user data>/captures``."""
    return paths.user_data_dir() / "captures"


def crop(frame: np.ndarray, rect: Rect) -> np.ndarray:
    x, y, w, h = rect
    return frame[y : y + h, x : x + w]


class ImageWriter:
    """Writes JPEGs named ``<label>_<session time>_<n>.jpg`` into a folder, never overwriting."""

    def __init__(
        self,
        folder: str | Path,
        label: Gesture,
        quality: int = JPEG_QUALITY,
        now: Callable[[], datetime] = datetime.now,
    ):
        self.folder = Path(folder)
        self.label = label
        self.quality = int(quality)
        self.stamp = now().strftime("%Y%m%d-%H%M%S")
        self._next = 1
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"cannot create {self.folder}: {exc}; pass another --out") from exc

    def write(self, bgr: np.ndarray) -> Path:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise CaptureError(f"OpenCV could not encode a {bgr.shape} frame as JPEG")
        while True:
            path = self.folder / f"{self.label.value}_{self.stamp}_{self._next:04d}.jpg"
            self._next += 1
            try:
                f = open(path, "xb")  # "x": fails if the file exists, never overwrites
            except FileExistsError:
                continue
            except OSError as exc:
                raise self._failed(path, exc, data.size) from exc
            try:
                with f:
                    f.write(data.tobytes())
            except OSError as exc:
                path.unlink(missing_ok=True)  # ours ("x"): no empty or half JPEG is left
                raise self._failed(path, exc, data.size) from exc
            return path

    def _failed(self, path: Path, exc: OSError, size: int) -> RPSError:
        if is_disk_full(exc):
            return disk_full(self.folder, size, "the next image")
        return CaptureError(f"cannot write {path}: {exc.strerror or exc}")


def label_folder(out: Path, label: Gesture) -> Path:
    """The existing class folder for ``label`` in ``out`` (named or numeric), or ``out/<name>``."""
    if out.is_dir():
        for gesture, sub in class_subfolders(out):
            if gesture is label:
                return sub
    return out / label.value
