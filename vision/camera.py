"""Cameras as frame sources: ``CameraSource`` over an opener (OpenCV's ``VideoCapture``, or
picamera2 on a Raspberry Pi), released and reopened with exponential back-off when the camera
stops delivering. picamera2 is imported only when a Pi camera is opened.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from .errors import SourceError
from .sources import SPEC_HELP, Frame, FrameSource

log = logging.getLogger(__name__)


class Capture(Protocol):
    """What a camera opener returns: ``cv2.VideoCapture`` has this shape."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


class CameraSource(FrameSource):
    """A camera opened by ``opener()``; lost cameras are released and reopened with back-off.

    ``opener`` returns a :class:`Capture` or raises; it is the seam for tests (a capture that
    fails on purpose). The first open happens in ``__init__`` and raises :class:`SourceError`;
    later failures never raise: ``read()`` returns ``None`` and ``state`` is ``"reconnecting"``
    until a reopen works. Reopens wait ``backoff`` seconds, doubling up to ``max_backoff``.
    """

    live = True

    def __init__(
        self,
        opener: Callable[[], Capture],
        *,
        name: str = "camera",
        fps: float = 30.0,
        failures_before_lost: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.opener, self.name, self.fps, self.clock = opener, name, float(fps), clock
        self.failures_before_lost = max(1, failures_before_lost)
        self.backoff, self.max_backoff = backoff, max_backoff
        self.reconnects = 0  # successful reopens
        self._delay = backoff
        self._retry_at = 0.0
        self._failures = 0
        self._index = 0
        self._lock = threading.Lock()  # read() and close() may come from different threads
        try:
            self._cap: Capture | None = opener()
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"cannot open camera {name}: {exc}; {SPEC_HELP}") from exc

    def _lose(self, why: str) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            except Exception:  # a broken driver must not stop the reconnect
                log.exception("releasing %s failed", self.name)
            self._cap = None
        self.state, self.error = "reconnecting", f"camera {self.name} lost: {why}"
        self._retry_at = self.clock() + self._delay
        log.warning("%s; retrying in %.2f s", self.error, self._delay)
        self._delay = min(self._delay * 2, self.max_backoff)

    def _reopen(self) -> bool:
        if self.clock() < self._retry_at:
            return False
        try:
            self._cap = self.opener()
        except Exception as exc:
            self._lose(f"reopen failed: {exc}")
            return False
        self._failures = 0
        self.reconnects += 1
        log.info("camera %s reopened", self.name)
        return True

    def read(self) -> Frame | None:
        with self._lock:
            if self.closed:
                raise SourceError(f"{self.name} is closed")
            if self._cap is None and not self._reopen():
                return None
            try:
                ok, image = self._cap.read()
            except Exception as exc:
                ok, image, why = False, None, f"read raised {exc}"
            else:
                why = "no frame"
            if not ok or image is None or not getattr(image, "size", 0):
                self._failures += 1
                if self._failures >= self.failures_before_lost:
                    self._lose(f"{why} {self._failures} times in a row")
                return None
            self._failures = 0
            self._delay = self.backoff
            self.state, self.error = "ok", None
            frame = Frame(image, self.clock(), self._index)
            self._index += 1
            return frame

    def close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            super().close()


@contextlib.contextmanager
def _opencv_quiet(cv2):
    """OpenCV logs only errors inside (its warnings for a camera that is not there)."""
    logging_ = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_ is None:
        yield
        return
    level = logging_.getLogLevel()
    logging_.setLogLevel(min(level, logging_.LOG_LEVEL_ERROR))
    try:
        yield
    finally:
        logging_.setLogLevel(level)


def opencv_opener(
    device: int | str, *, width: int = 640, height: int = 480, fps: float = 30
) -> Callable[[], Capture]:
    """An opener for a V4L2 camera (index or ``/dev/videoN``) or a stream URL through OpenCV."""

    def open_camera() -> Capture:
        import cv2

        backend = cv2.CAP_V4L2 if isinstance(device, int) or str(device).startswith("/dev/") else 0
        with _opencv_quiet(cv2):  # a missing camera is our SourceError, not OpenCV's WARN lines
            cap = cv2.VideoCapture(device, backend)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"OpenCV cannot open camera {device}: is it plugged in and free?")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # hand out fresh frames, not a queue of old ones
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, 1000)  # a hung camera reads as lost, not forever
        return cap

    return open_camera


class _PicameraCapture:
    """picamera2 as a :class:`Capture`: the low-res ``lores`` stream (YUV420) when configured."""

    def __init__(self, width: int, height: int, fps: float, lores: tuple[int, int] | None):
        from picamera2 import Picamera2  # Pi only: apt's python3-picamera2

        self._cam = Picamera2()
        streams = {"main": {"size": (width, height), "format": "RGB888"}}  # RGB888 is BGR order
        if lores:
            streams["lores"] = {"size": lores, "format": "YUV420"}
        config = self._cam.create_video_configuration(
            **streams, controls={"FrameRate": float(fps)}, buffer_count=2
        )
        self._cam.configure(config)
        self._cam.start()
        self._stream = "lores" if lores else "main"

    def read(self) -> tuple[bool, np.ndarray | None]:
        import cv2

        array = self._cam.capture_array(self._stream)
        if self._stream == "lores":
            return True, cv2.cvtColor(array, cv2.COLOR_YUV420p2BGR)
        return True, array[:, :, :3]

    def release(self) -> None:
        self._cam.stop()
        self._cam.close()


def picamera_opener(
    *,
    width: int = 640,
    height: int = 480,
    fps: float = 30,
    lores: tuple[int, int] | None = (320, 240),
) -> Callable[[], Capture]:
    """An opener for the Raspberry Pi camera via picamera2 (imported only when called)."""
    use_lores = lores if lores and lores[0] < width and lores[1] < height else None

    def open_picamera() -> Capture:
        try:
            return _PicameraCapture(width, height, fps, use_lores)
        except ImportError as exc:
            raise SourceError(
                "picamera2 is not installed: on Raspberry Pi OS run 'sudo apt install "
                "python3-picamera2' and create the venv with --system-site-packages"
            ) from exc

    return open_picamera
