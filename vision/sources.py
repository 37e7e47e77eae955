"""Frame sources behind one interface: cameras (``vision.camera``: OpenCV, picamera2), video
files, image folders.

``open_source(spec)`` picks one from a spec; every source's ``read()`` returns the newest
:class:`Frame` (BGR uint8, capture time) or ``None`` when there is no new frame right now, and
raises :class:`EndOfStream` at the end of a file or folder that does not loop. A camera that stops
delivering is released and reopened with exponential back-off; while it is away ``read()``
returns ``None`` and ``state`` says ``"reconnecting"``. Nothing is opened at import.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    from .camera import CameraSource, opencv_opener, picamera_opener

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
