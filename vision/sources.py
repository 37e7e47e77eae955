"""Frame sources behind one interface: cameras (OpenCV, picamera2), video files, image folders.

``open_source(spec)`` picks one from a spec; every source's ``read()`` returns the newest
:class:`Frame` (BGR uint8, capture time) or ``None`` when there is no new frame right now, and
raises :class:`EndOfStream` at the end of a file or folder that does not loop. A camera that stops
delivering is released and reopened with exponential back-off; while it is away ``read()``
returns ``None`` and ``state`` says ``"reconnecting"``. Nothing is opened at import.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import RPSError, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPEC_HELP = (
    "pass a camera index (0), a device (/dev/video0), 'picam' for the Raspberry Pi camera, "
    "a video file or a folder of images"
)


class EndOfStream(RPSError, EOFError):
    """A file or folder source has no more frames (and does not loop)."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR uint8
    timestamp: float  # time.monotonic() seconds at capture
    index: int  # counts up from 0 over the source's life (across loops and reconnects)


class FrameSource:
    """Base class: ``read() -> Frame | None``, ``close()``, a context manager.

    ``live`` sources (cameras, realtime files) run at their own pace, so a consumer that falls
    behind should take only the newest frame; other sources wait for the consumer.
    ``state`` is ``"ok"``, ``"reconnecting"`` or ``"closed"``; ``error`` the last problem.
    """

    name: str = "source"
    fps: float = 30.0
    live: bool = False
    state: str = "ok"
    error: str | None = None

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        self.state = "closed"

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.state}>"


class _Pacer:
    """Realtime pacing for recorded frames: which frame is due now, skipping past-due ones."""

    def __init__(self, fps: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.period = 1.0 / fps
        self.clock, self.sleep = clock, sleep
        self.start: float | None = None

    max_wait = 0.1  # seconds: a read never blocks longer (a slow fps must not delay stop())

    def due(self, position: int) -> int | None:
        """Wait until a frame at ``position`` or later is due and return its position;
        None when it is more than ``max_wait`` away (after waiting that long)."""
        now = self.clock()
        if self.start is None:
            self.start = now - position * self.period
        due = int((now - self.start) / self.period)
        if due >= position:
            return due
        wait = self.start + position * self.period - now
        self.sleep(min(wait, self.max_wait))
        return position if wait <= self.max_wait else None


class MemorySource(FrameSource):
    """Frames from a list of images (tests, benchmarks, soak); ``realtime`` paces them to fps."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        *,
        fps: float = 30.0,
        loop: bool = False,
        realtime: bool = False,
        name: str = "memory",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not len(images):
            raise SourceError("MemorySource needs at least one image")
        self.images = list(images)
        self.name, self.fps, self.loop, self.live = name, float(fps), loop, realtime
        self.clock = clock
        self._pacer = _Pacer(self.fps, clock, sleep) if realtime else None
        self._position = 0  # frames handed out or skipped

    def read(self) -> Frame | None:
        if self.closed:
            raise SourceError(f"{self.name} is closed")
        position = self._pacer.due(self._position) if self._pacer else self._position
        if position is None:
            return None
        if not self.loop and position >= len(self.images):
            raise EndOfStream(self.name)
        self._position = position + 1
        return Frame(self.images[position % len(self.images)], self.clock(), position)


class VideoFileSource(FrameSource):
    """A video file read by OpenCV; ``loop`` rewinds at the end; ``realtime`` paces to its fps."""

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float | None = None,
        loop: bool = False,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        import cv2

        self.path = Path(path)
        self.name = str(path)
        self._cv2 = cv2
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SourceError(f"OpenCV cannot read the video {path}: {SPEC_HELP}")
        self._primed = self._cap.grab()  # the first frame, grabbed now to refuse an empty file
        if not self._primed:
            self._cap.release()
            raise SourceError(
                f"the video {path} has no frames (an empty or unfinished recording): "
                "record it again or pass another file"
            )
        self.fps = float(fps or self._cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self.loop, self.live, self.clock = loop, realtime, clock
        self._pacer = _Pacer(self.fps, clock, sleep) if realtime else None
        self._index = 0  # next frame number over the source's life
        self._in_file = 0  # next frame number inside the file

    def _grab(self) -> bool:
        if self._primed:  # the frame grabbed when the file was opened
            self._primed = False
            self._in_file += 1
            return True
        if self._cap.grab():
            self._in_file += 1
            return True
        if not self.loop or self._in_file == 0:
            return False
        self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
        self._in_file = 0
        return self._grab()

    def read(self) -> Frame | None:
        if self.closed:
            raise SourceError(f"{self.name} is closed")
        target = self._pacer.due(self._index) if self._pacer else self._index
        if target is None:
            return None
        while True:  # skip past-due frames without decoding them
            if not self._grab():
                raise EndOfStream(self.name)
            if self._index >= target:
                break
            self._index += 1
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            raise EndOfStream(f"{self.name}: frame {self._in_file - 1} cannot be decoded")
        frame = Frame(image, self.clock(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._cap.release()
        super().close()


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageFolderSource(FrameSource):
    """A folder's images in natural order (``img2`` before ``img10``), or a list of files."""

    def __init__(
        self,
        folder: str | Path | Sequence[Path],
        *,
        fps: float = 30.0,
        loop: bool = False,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        import cv2

        self._cv2 = cv2
        if isinstance(folder, str | Path):
            folder = Path(folder)
            files = (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            self.files = sorted((p for p in files if p.is_file()), key=_natural_key)
        else:
            self.files = [Path(p) for p in folder]
            folder = self.files[0].parent if self.files else Path(".")
        if not self.files:
            suffixes = ", ".join(IMAGE_SUFFIXES)
            raise SourceError(f"no images ({suffixes}) in {folder}: {SPEC_HELP}")
        self.name, self.fps, self.loop, self.live = str(folder), float(fps), loop, realtime
        self.clock = clock
        self._pacer = _Pacer(self.fps, clock, sleep) if realtime else None
        self._position = 0

    def read(self) -> Frame | None:
        if self.closed:
            raise SourceError(f"{self.name} is closed")
        for _ in range(len(self.files)):  # skip unreadable files, at most one lap
            position = self._pacer.due(self._position) if self._pacer else self._position
            if position is None:
                return None
            if not self.loop and position >= len(self.files):
                raise EndOfStream(self.name)
            self._position = position + 1
            path = self.files[position % len(self.files)]
            image = self._cv2.imread(str(path), self._cv2.IMREAD_COLOR)
            if image is not None:
                return Frame(image, self.clock(), position)
            log.warning("skipping %s: not a readable image", path)
        raise SourceError(f"none of the images in {self.name} can be read")


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


def open_source(
    spec: int | str | Path,
    *,
    width: int = 640,
    height: int = 480,
    fps: float = 30,
    loop: bool = False,
    realtime: bool = False,
) -> FrameSource:
    """A frame source for ``spec``: camera index, ``/dev/videoN``, ``picam``, URL, video, folder.

    ``width``/``height``/``fps`` apply to cameras (``fps`` also paces folders); ``loop`` and
    ``realtime`` apply to files and folders. A bad spec raises :class:`SourceError`.
    """
    if isinstance(spec, bool) or not isinstance(spec, int | str | Path):
        raise SourceError(f"bad source {spec!r}: {SPEC_HELP}")
    text = str(spec).strip()
    if not text:
        raise SourceError(f"empty source: {SPEC_HELP}")
    if isinstance(spec, int) or text.isdigit():
        index = int(text)
        return CameraSource(
            opencv_opener(index, width=width, height=height, fps=fps),
            name=f"camera {index}",
            fps=fps,
        )
    if text.lower() in ("picam", "picamera", "picamera2"):
        return CameraSource(
            picamera_opener(width=width, height=height, fps=fps), name="picamera", fps=fps
        )
    if "://" in text:
        return CameraSource(
            opencv_opener(text, width=width, height=height, fps=fps), name=text, fps=fps
        )
    path = Path(text).expanduser()
    if text.startswith("/dev/"):
        if not path.exists():
            raise SourceError(f"no camera device {text}: check 'ls /dev/video*' or {SPEC_HELP}")
        return CameraSource(
            opencv_opener(text, width=width, height=height, fps=fps), name=text, fps=fps
        )
    if path.is_dir():
        return ImageFolderSource(path, fps=fps, loop=loop, realtime=realtime)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFolderSource([path], fps=fps, loop=loop, realtime=realtime)
        return VideoFileSource(path, loop=loop, realtime=realtime)
    raise SourceError(f"no such file, folder or camera: {text!r}: {SPEC_HELP}")
