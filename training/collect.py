"""Capture your own training images: ``python -m training collect --label rock --out DATA``.

A preview window (pygame) shows the camera with the region of interest, a countdown, then saves
every ``--interval``-th frame's ROI crop as a JPEG into ``DATA/<label>/`` and counts them. Without
a display (or with ``--headless``) the countdown and the counter run in the terminal. Esc or Q in
the window, or Ctrl-C anywhere, stops; everything saved so far is kept. Files are never
overwritten: each name is new (``rock_20250101-120000_0001.jpg``) and opened exclusively, so
name order is capture order. While it captures it asks for variety (prompts that change as the
count grows), shows how many images each class has, and warns when the latest images are
near-identical. SIGTERM stops like Esc: the summary is printed and the exit status is 0.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TextIO

import cv2
import numpy as np

from training.config import positive_int
from training.data import IMAGE_EXTS
from vision import paths
from vision.diskspace import DiskFull, disk_full, is_disk_full
from vision.errors import RPSError, SourceError
from vision.helptext import plain
from vision.labels import CLASS_ORDER, THROWS, Gesture, class_subfolders
from vision.ncnnnet import captured_stderr
from vision.signals import on_sigterm
from vision.stream import parse_roi, roi_rect

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30  # frames: about one image a second from a 30 fps camera
DEFAULT_COUNTDOWN = 3.0  # seconds before saving starts
JPEG_QUALITY = 95
#: Preview window size limit (the frame is scaled down to fit).
MAX_WINDOW = (960, 720)

Rect = tuple[int, int, int, int]  # x, y, width, height in pixels
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
_ALIKE = "the last {n} images look the same: move your hand (or the camera)"


class CaptureError(RPSError, OSError):
    """Images cannot be written where they were asked for."""


def default_data_dir() -> Path:
    """Where captures go when no folder is given: ``<user data>/captures``."""
    return paths.user_data_dir() / "captures"


# --- region of interest ------------------------------------------------------------------------


def crop(frame: np.ndarray, rect: Rect) -> np.ndarray:
    x, y, w, h = rect
    return frame[y : y + h, x : x + w]


# --- variety ------------------------------------------------------------------------------------

#: What to ask for while capturing, from the n-th image on (changes as the count grows).
_HAND_PROMPTS = (
    (0, "hold it in the middle of the box"),
    (6, "move it around the box: left, right, top, bottom"),
    (14, "come nearer the camera, then go farther away"),
    (22, "turn it: palm, back of the hand, side on, tilted"),
    (30, "now the other hand"),
    (40, "mix it all: anywhere in the box, near and far, either hand"),
)
_EMPTY_PROMPTS = (
    (0, "take your hand out of the box: just the room behind"),
    (10, "move the camera a little, or stand aside"),
    (25, "change the light if you can: a lamp on or off, curtains"),
    (40, "anything you might have behind you while playing (a chair, a door)"),
)


def variety_prompt(label: Gesture, saved: int) -> str:
    """What to do now, for the ``saved``-th image of ``label``."""
    steps = _EMPTY_PROMPTS if label is Gesture.NONE else _HAND_PROMPTS
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


# --- writing -----------------------------------------------------------------------------------


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


# --- the capture loop --------------------------------------------------------------------------


@dataclass
class CaptureState:
    """What the views show."""

    label: Gesture
    target: int | None
    phase: str = "countdown"  # "countdown", then "capturing"
    seconds_left: float = 0.0
    saved: int = 0
    frames: int = 0
    just_saved: bool = False
    status: str = ""  # e.g. "camera lost: reconnecting"
    prompt: str = ""  # what to vary now (changes as the count grows)
    warning: str = ""  # e.g. the latest images are near-identical
    #: Images of each class in the dataset before this capture (this label's grows with saved).
    counts: dict[Gesture, int] = field(default_factory=dict)
    #: With a judge (``--check``): of the images saved, how many the model in use read right
    #: and found a hand in (None: its recogniser places no hands).
    judged: int = 0
    read_right: int = 0
    hands_found: int | None = None

    def total(self, label: Gesture) -> int:
        return self.counts.get(label, 0) + (self.saved if label is self.label else 0)

    def judged_text(self) -> str:
        """``read right: 12 of 14, a hand found in 13`` ('' before any image was judged)."""
        if not self.judged:
            return ""
        text = f"read right: {self.read_right} of {self.judged}"
        if self.hands_found is not None:
            noun = "a hand seen in" if self.label is Gesture.NONE else "a hand found in"
            text += f", {noun} {self.hands_found}"
        return text


#: ``judge(saved image) -> (read right, hand found or None)``: the model in use reads a capture.
Judge = Callable[[np.ndarray], tuple[bool, bool | None]]


def model_judge(label: Gesture, model: str | Path | None = None) -> Judge:
    """A judge that reads each saved image with the model the game loads (or ``model``)."""
    from training.capturereport import read_image
    from vision.classifier import GestureClassifier

    classifier = GestureClassifier(model)

    def judge(image: np.ndarray) -> tuple[bool, bool | None]:
        prediction, found = read_image(classifier, image)
        return prediction.label is label, found

    return judge


@dataclass
class CaptureResult:
    saved: list[Path] = field(default_factory=list)
    frames: int = 0  # frames seen while capturing
    #: "count", "end", "stopped" (key or window), "interrupted" (Ctrl-C), "terminated" (SIGTERM),
    #: "disk full"
    reason: str = ""
    warning: str = ""  # the last near-identical warning, if the images were still alike at the end
    error: str = ""  # why it stopped early (a full disk)


class View(Protocol):
    def update(self, frame: np.ndarray | None, rect: Rect | None, state: CaptureState) -> bool:
        """Show the state; False when the user asked to stop."""
        ...

    def close(self) -> None: ...


def capture(
    source,
    writer: ImageWriter,
    *,
    interval: int = DEFAULT_INTERVAL,
    count: int | None = None,
    countdown: float = DEFAULT_COUNTDOWN,
    roi: tuple[float, float, float, float] | None = None,
    view: View | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    counts: dict[Gesture, int] | None = None,
    stop: threading.Event | None = None,
    judge: Judge | None = None,
) -> CaptureResult:
    """Read ``source`` (a ``vision.sources.FrameSource``) and save every ``interval``-th ROI crop.

    The first saved frame is the first one after the countdown. A live source keeps streaming
    during the countdown; a recorded one waits on its first frame. Stops after ``count`` images,
    at the end of the source, when the view says so, when ``stop`` is set (SIGTERM), or on
    Ctrl-C; returns what was saved. ``counts`` (images per class already there) is shown;
    with ``judge`` each saved image is read as the game would and the counts are shown live.
    """
    from vision.sources import EndOfStream

    if interval < 1:
        raise ValueError(f"interval must be at least 1 frame, not {interval}")
    state = CaptureState(writer.label, count, seconds_left=countdown, counts=dict(counts or {}))
    state.prompt = variety_prompt(writer.label, 0)
    result = CaptureResult()
    recent: list[np.ndarray] = []  # thumbnails of the latest saved images
    start = clock()
    frame = held = None
    live = bool(getattr(source, "live", False))
    try:
        while True:
            if stop is not None and stop.is_set():
                result.reason = "terminated"
                break
            if state.phase == "countdown":
                state.seconds_left = max(0.0, countdown - (clock() - start))
                if state.seconds_left <= 0:
                    state.phase = "capturing"
            if state.phase == "countdown" and not live and frame is not None:
                sleep(min(0.05, state.seconds_left))  # a recorded source waits for the countdown
            elif state.phase == "capturing" and held is not None:
                frame, held = held, None  # ...and its first frame is the first one saved
            else:
                try:
                    got = source.read()
                except EndOfStream:
                    result.reason = "end"
                    break
                if got is None:  # no new frame yet, or the camera is reconnecting
                    lost = getattr(source, "state", "ok") == "reconnecting"
                    state.status = "camera lost: reconnecting..." if lost else ""
                    if view is not None and not view.update(frame, None, state):
                        result.reason = "stopped"
                        break
                    sleep(0.005)
                    continue
                frame, state.status = got.image, ""
                if state.phase == "countdown" and not live:
                    held = frame
            rect = roi_rect(frame.shape, roi)
            state.just_saved = False
            if state.phase == "capturing":
                if result.frames % interval == 0:
                    image = crop(frame, rect)
                    try:
                        result.saved.append(writer.write(image))
                    except DiskFull as exc:  # keep what was saved; the summary says where
                        result.reason, result.error = "disk full", str(exc)
                        break
                    state.saved, state.just_saved = len(result.saved), True
                    if judge is not None:
                        right, found = judge(image)
                        state.judged += 1
                        state.read_right += bool(right)
                        if found is not None:
                            state.hands_found = (state.hands_found or 0) + bool(found)
                    state.prompt = variety_prompt(writer.label, state.saved)
                    recent = [*recent, thumbnail(image)][-RECENT:]
                    alike = len(recent) == RECENT and difference(recent) < NEAR_IDENTICAL_MAD
                    state.warning = _ALIKE.format(n=RECENT) if alike else ""
                result.frames += 1
                state.frames = result.frames
            if view is not None and not view.update(frame, rect, state):
                result.reason = "stopped"
                break
            if count is not None and len(result.saved) >= count:
                result.reason = "count"
                break
    except KeyboardInterrupt:
        result.reason = "interrupted"
    result.warning = state.warning
    log.debug("saved %d image(s) of %s (%s)", len(result.saved), writer.label, result.reason)
    return result


# --- views -------------------------------------------------------------------------------------


class TerminalView:
    """Headless: the countdown and the counter as text (Ctrl-C stops)."""

    def __init__(self, out: TextIO | None = None):
        self.out = out if out is not None else sys.stderr
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self._last_second: int | None = None
        self._last_saved = -1
        self._status = ""
        self._prompt = ""
        self._warning = ""
        self._printed = -1
        self._text = ""

    def update(self, frame: np.ndarray | None, rect: Rect | None, state: CaptureState) -> bool:
        if state.status != self._status:
            self._status = state.status
            if state.status:
                self._line(state.status)
        if state.prompt != self._prompt:
            self._prompt = state.prompt
            self._line(f"{state.label.value}: {state.prompt}")
        if state.warning != self._warning:
            self._warning = state.warning
            if state.warning:
                self._line(f"WARNING: {state.warning}")
        if state.phase == "countdown":
            second = int(np.ceil(state.seconds_left))
            if second != self._last_second and second > 0:
                self._last_second = second
                self._line(f"{state.label.value}: saving starts in {second}...")
        elif state.saved != self._last_saved:
            self._last_saved = state.saved
            target = f"/{state.target}" if state.target else ""
            text = f"{state.label.value}: {state.saved}{target} saved (Ctrl-C to stop)"
            if state.judged:
                text += f"; {state.judged_text()}"
            if state.counts:
                text += f"; in all: {format_counts({g: state.total(g) for g in CLASS_ORDER})}"
            if self.tty:
                print(f"\r{text}", end="", file=self.out, flush=True)
            elif state.saved == 1 or state.saved % 10 == 0 or state.saved == state.target:
                self._line(text)
                self._printed = state.saved
            self._text = text
        return True

    def _line(self, text: str) -> None:
        prefix = "\n" if self.tty and self._last_saved > 0 else ""
        print(f"{prefix}{text}", file=self.out, flush=True)

    def close(self) -> None:
        if self.tty and self._last_saved > 0:
            print(file=self.out, flush=True)
        elif self._last_saved > 0 and self._printed != self._last_saved:
            self._line(self._text)  # the final count


def display_available() -> bool:
    """True when SDL can open a window someone can see (not the dummy or offscreen driver)."""
    if os.environ.get("SDL_VIDEODRIVER", "").lower() in ("dummy", "offscreen"):
        return False
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame

        with captured_stderr():  # SDL prints its probing failures (no X, no Wayland) to stderr
            pygame.display.init()
        ok = pygame.display.get_driver() not in ("dummy", "offscreen")
    except Exception:  # no pygame, no video device: headless
        return False
    if not ok:
        pygame.display.quit()
    return ok


class PreviewWindow:
    """A pygame window with the frame, the ROI, the countdown and the counter; Esc or Q stops."""

    def __init__(self, title: str = "RPS Robot - capture", fps: float = 30.0):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self.pg = pygame
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption(title)
        self.screen = None
        self.fps = fps
        self.clock = pygame.time.Clock()
        self.font = pygame.font.Font(None, 32)
        self.big = pygame.font.Font(None, 200)

    def _window(self, frame_size: tuple[int, int]):
        w, h = frame_size
        scale = min(1.0, MAX_WINDOW[0] / w, MAX_WINDOW[1] / h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if self.screen is None or self.screen.get_size() != size:
            self.screen = self.pg.display.set_mode(size)
        return scale

    def update(self, frame: np.ndarray | None, rect: Rect | None, state: CaptureState) -> bool:
        pg = self.pg
        for event in pg.event.get():
            if event.type == pg.QUIT:
                return False
            if event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q):
                return False
        if frame is None:
            if self.screen is None:
                self._window((640, 480))
            self.screen.fill((20, 20, 20))
        else:
            scale = self._window((frame.shape[1], frame.shape[0]))
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
            image = pg.image.frombuffer(rgb.tobytes(), (frame.shape[1], frame.shape[0]), "RGB")
            self.screen.blit(pg.transform.smoothscale(image, self.screen.get_size()), (0, 0))
            if rect is not None:
                x, y, w, h = (round(v * scale) for v in rect)
                shade = pg.Surface(self.screen.get_size(), pg.SRCALPHA)
                shade.fill((0, 0, 0, 110))  # dim what will not be saved
                shade.fill((0, 0, 0, 0), (x, y, w, h))
                self.screen.blit(shade, (0, 0))
                colour = (255, 210, 0) if state.phase == "countdown" else (0, 220, 90)
                width = 3
                if state.just_saved:
                    colour, width = (255, 255, 255), 8
                pg.draw.rect(self.screen, colour, (x, y, w, h), width)
        self._draw_text(state)
        pg.display.flip()
        self.clock.tick(self.fps)
        return True

    def _draw_text(self, state: CaptureState) -> None:
        sw, sh = self.screen.get_size()
        bar = self.pg.Surface((sw, 40), self.pg.SRCALPHA)
        bar.fill((0, 0, 0, 160))
        self.screen.blit(bar, (0, 0))
        target = f" / {state.target}" if state.target else ""
        left = f"{state.label.value.upper()}   {state.saved}{target} saved"
        self.screen.blit(self.font.render(left, True, (255, 255, 255)), (10, 8))
        hint = self.font.render("Esc or Q: stop", True, (200, 200, 200))
        self.screen.blit(hint, (sw - hint.get_width() - 10, 8))
        lines = []
        if state.counts:
            lines.append((format_counts({g: state.total(g) for g in CLASS_ORDER}), (200, 200, 200)))
        if state.judged:
            good = state.read_right == state.judged
            lines.append((state.judged_text(), (120, 230, 120) if good else (255, 170, 60)))
        if state.phase == "capturing" and state.prompt:
            lines.append((state.prompt, (255, 255, 255)))
        if state.warning:
            lines.append((state.warning, (255, 120, 60)))
        y = sh - 10
        for text, colour in reversed(lines):
            surface = self._fit(text, sw - 20, colour)
            y -= surface.get_height() + 6
            back = self.pg.Surface((surface.get_width() + 12, surface.get_height() + 6))
            back.set_alpha(170)
            back.fill((0, 0, 0))
            self.screen.blit(back, (4, y - 3))
            self.screen.blit(surface, (10, y))
        if state.phase == "countdown" and state.seconds_left > 0:
            number = self.big.render(str(int(np.ceil(state.seconds_left))), True, (255, 210, 0))
            self.screen.blit(number, number.get_rect(center=(sw // 2, sh // 2)))
            ready = self.font.render(f"get ready: {_what(state.label)}", True, (255, 210, 0))
            self.screen.blit(ready, ready.get_rect(center=(sw // 2, sh // 2 + 90)))
        if state.status:
            text = self._fit(state.status, sw - 20, (255, 90, 90))
            self.screen.blit(text, text.get_rect(center=(sw // 2, 60)))

    def _fit(self, text: str, width: int, colour):
        """The text rendered, scaled down if it is wider than ``width``."""
        surface = self.font.render(text, True, colour)
        if surface.get_width() > width:
            scale = width / surface.get_width()
            size = (width, max(1, round(surface.get_height() * scale)))
            surface = self.pg.transform.smoothscale(surface, size)
        return surface

    def close(self) -> None:
        self.pg.display.quit()


# --- command line ------------------------------------------------------------------------------


def _gesture(text: str) -> Gesture:
    try:
        return Gesture.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 60 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m training collect``."""
    names = ", ".join(g.value for g in CLASS_ORDER)
    parser.add_argument(
        "--label", type=_gesture, required=True,
        help=f"what you show: {names} (an empty scene), or 0-3",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None,
        help="dataset folder; images go into OUT/<label>/ (default: <user data>/captures)",
    )  # fmt: skip
    parser.add_argument(
        "--interval", type=positive_int, default=DEFAULT_INTERVAL,
        help="save every N-th frame (default %(default)s, about one a second at 30 fps)",
    )  # fmt: skip
    parser.add_argument(
        "--count", type=positive_int, default=None,
        help="stop after this many images (default: until stopped or the source ends)",
    )  # fmt: skip
    parser.add_argument(
        "--source", default="0",
        help="camera index (0), /dev/videoN, picam, a video file or a folder of images "
        "(default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--countdown", type=_seconds, default=DEFAULT_COUNTDOWN,
        help="seconds before saving starts (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--roi", type=parse_roi, default=None, metavar="X,Y,W,H",
        help="region to save, as fractions of the frame (default: the centre square, "
        "as the game uses)",
    )  # fmt: skip
    parser.add_argument(
        "--headless", action="store_true",
        help="no preview window (automatic when there is no display)",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="read each saved image with the model in use, as the game would, and show live "
        "how many it reads right and finds a hand in (the guided session does)",
    )  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``collect`` flags on their own (guided mode and tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m training collect",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser.parse_args(argv)


_REASONS = {
    "count": "done",
    "end": "the source has no more frames",
    "stopped": "stopped",
    "interrupted": "interrupted",
    "terminated": "stopped by SIGTERM",
    "disk full": "the disk is full",
}


@contextlib.contextmanager
def _stop_on_sigterm():
    """An Event set by SIGTERM for the block (main thread only), so the capture stops cleanly."""
    stop = threading.Event()
    with on_sigterm(lambda signum: stop.set()):
        yield stop


def source_hint(source: str) -> str:
    """What to do when ``source`` cannot be opened."""
    text = str(source).strip()
    if text.isdigit() or text.startswith("/dev/") or text == "picam":
        return (
            "Plug in a camera (or pick another with --source 1, --source /dev/video2), or "
            "capture from a recording: --source VIDEO or --source FOLDER of images."
        )
    return "Pass a camera index (0), /dev/videoN, picam, a video file or a folder of images."


def run(args: argparse.Namespace) -> tuple[int, str]:
    """``collect`` itself: ``(exit status, why it stopped)``; see ``main``."""
    from vision.sources import open_source

    label: Gesture = args.label
    out = args.out if args.out is not None else default_data_dir()
    try:
        writer = ImageWriter(label_folder(out, label), label)
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, "error"
    try:
        source = open_source(args.source)
    except SourceError as exc:
        print(f"error: {exc}\n{source_hint(args.source)}", file=sys.stderr)
        return 2, "error"
    counts = class_counts(out)
    judge = model_judge(label) if getattr(args, "check", False) else None
    headless = args.headless or not display_available()
    view: View = TerminalView() if headless else PreviewWindow(fps=getattr(source, "fps", 30.0))
    if headless:
        print(f"Show {_what(label)} to the camera. Ctrl-C stops.", file=sys.stderr)
    try:
        with _stop_on_sigterm() as stop:
            result = capture(
                source, writer, interval=args.interval, count=args.count,
                countdown=args.countdown, roi=args.roi, view=view, counts=counts, stop=stop,
                judge=judge,
            )  # fmt: skip
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1, "error"
    finally:
        view.close()
        source.close()
    print_summary(result, writer.folder, label, out)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 2, result.reason
    return (130 if result.reason == "interrupted" else 0), result.reason


def print_summary(result: CaptureResult, folder: Path, label: Gesture, out: Path) -> None:
    """What was saved where, how many each class has now, and a warning if they look alike."""
    total = sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    print(
        f"Saved {len(result.saved)} image(s) of {label.value} into {folder} "
        f"({_REASONS.get(result.reason, result.reason)}; {total} there now).",
        flush=True,
    )
    print(f"Images in {out}: {format_counts(class_counts(out))}.", flush=True)
    if result.saved:
        warning = near_identical_warning(label, *folder_difference(folder))
        if warning:
            print(f"WARNING: {warning}.", flush=True)


def main(args: argparse.Namespace) -> int:
    """``python -m training collect``: 0 done, stopped or SIGTERM (after the summary), 2 a
    source or folder that cannot be used or a full disk (the message says what to do), 1 a write
    that failed mid-way otherwise, 130 Ctrl-C. Everything saved before a stop is kept, and no
    empty or half-written image is left."""
    return run(args)[0]


def _what(label: Gesture) -> str:
    return "an empty scene (no hand)" if label is Gesture.NONE else label.value
