"""The capture loop: frames in, every ``interval``-th box saved, the state a view shows, and
what the model in use reads in each saved image (``--check``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from training.collect.variety import (
    ALIKE,
    NEAR_IDENTICAL_MAD,
    RECENT,
    difference,
    thumbnail,
    variety_prompt,
)
from training.collect.writer import ImageWriter, Rect, crop
from vision.diskspace import DiskFull
from vision.labels import Gesture
from vision.stream import roi_rect

log = logging.getLogger(__name__)


DEFAULT_INTERVAL = 30  # frames: about one image a second from a 30 fps camera
DEFAULT_COUNTDOWN = 3.0  # seconds before saving starts


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


class Checker:
    """Reads each saved capture with a ``judge`` on a thread of its own, so the preview never
    waits on it: a still box of the fused default takes 0.4-0.9 s on a Pi 4 (projected), and
    the preview froze that long once a second when it read them in turn. ``submit`` a saved
    image; ``fold`` adds the readings done so far to the state; ``finish`` waits for the rest.
    A judge that fails is reported once and the capture goes on unchecked."""

    #: how long ``finish`` waits for the last readings (a Pi 4 reads one in under a second)
    FINISH_S = 30.0

    def __init__(self, judge: Judge):
        self.judge = judge
        self.todo: queue.Queue[np.ndarray | None] = queue.Queue()
        self.done: queue.Queue[tuple[bool, bool | None]] = queue.Queue()
        self.failed = ""
        self.thread = threading.Thread(target=self._run, name="capture-check", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (image := self.todo.get()) is not None:
            if self.failed:
                continue
            try:
                self.done.put(self.judge(image))
            except Exception as exc:  # a broken model must not stop the capture
                self.failed = f"{type(exc).__name__}: {exc}"
                log.warning("reading the captures stopped (%s); capturing goes on", exc)

    def submit(self, image: np.ndarray) -> None:
        self.todo.put(image)

    def fold(self, state: CaptureState) -> None:
        while True:
            try:
                right, found = self.done.get_nowait()
            except queue.Empty:
                return
            state.judged += 1
            state.read_right += bool(right)
            if found is not None:
                state.hands_found = (state.hands_found or 0) + bool(found)

    def finish(self, state: CaptureState, wait: bool = True) -> None:
        """Stop taking images; with ``wait`` read the ones still waiting (up to ``FINISH_S``)."""
        self.todo.put(None)
        if wait:
            self.thread.join(self.FINISH_S)
        self.fold(state)


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
    with ``judge`` each saved image is read as the game would (beside the preview, ``Checker``)
    and the counts are shown live; the view gets the state once more when the last are read.
    """
    if interval < 1:
        raise ValueError(f"interval must be at least 1 frame, not {interval}")
    state = CaptureState(writer.label, count, seconds_left=countdown, counts=dict(counts or {}))
    state.prompt = variety_prompt(writer.label, 0)
    result = CaptureResult()
    recent: list[np.ndarray] = []  # thumbnails of the latest saved images
    start = clock()
    frame = held = None
    live = bool(getattr(source, "live", False))
    checker = Checker(judge) if judge is not None else None
    rect = None
    try:
        while True:
            if stop is not None and stop.is_set():
                result.reason = "terminated"
                break
            if state.phase == "countdown":
                state.seconds_left = max(0.0, countdown - (clock() - start))
                if state.seconds_left <= 0:
                    state.phase = "capturing"
            step, frame, held = _next_frame(source, state, frame, held, live, view, sleep)
            if step == "again":
                continue
            if step is not None:
                result.reason = step
                break
            rect = roi_rect(frame.shape, roi)
            state.just_saved = False
            if state.phase == "capturing":
                if result.frames % interval == 0:
                    try:
                        recent = _keep(crop(frame, rect), writer, state, result, checker, recent)
                    except DiskFull as exc:  # keep what was saved; the summary says where
                        result.reason, result.error = "disk full", str(exc)
                        break
                result.frames += 1
                state.frames = result.frames
            if checker is not None:
                checker.fold(state)
            if view is not None and not view.update(frame, rect, state):
                result.reason = "stopped"
                break
            if count is not None and len(result.saved) >= count:
                result.reason = "count"
                break
    except KeyboardInterrupt:
        result.reason = "interrupted"
    if checker is not None:
        _last_readings(checker, state, result, view, frame, rect)
    result.warning = state.warning
    log.debug("saved %d image(s) of %s (%s)", len(result.saved), writer.label, result.reason)
    return result


def _last_readings(checker: Checker, state: CaptureState, result: CaptureResult, view,
                   frame, rect) -> None:  # fmt: skip
    """The readings of the last saved images (not waited for when stopped by Ctrl-C or
    SIGTERM), shown once more."""
    stopping = result.reason in ("interrupted", "terminated")
    try:
        checker.finish(state, wait=not stopping)
    except KeyboardInterrupt:
        result.reason = "interrupted"
        return
    if view is not None and frame is not None and not stopping:
        view.update(frame, rect, state)


def _next_frame(source, state: CaptureState, frame, held, live: bool, view, sleep):
    """``(step, frame, held)``: the frame to show and maybe save next. ``step`` is None to go
    on with ``frame``, ``"again"`` when no new frame came (the view was updated), or why to
    stop (``"end"`` of a recorded source, ``"stopped"`` by the view). During the countdown a
    recorded source waits on its first frame (``held``), which is then the first one saved."""
    from vision.sources import EndOfStream

    if state.phase == "countdown" and not live and frame is not None:
        sleep(min(0.05, state.seconds_left))
        return None, frame, held
    if state.phase == "capturing" and held is not None:
        return None, held, None
    try:
        got = source.read()
    except EndOfStream:
        return "end", frame, held
    if got is None:  # no new frame yet, or the camera is reconnecting
        lost = getattr(source, "state", "ok") == "reconnecting"
        state.status = "camera lost: reconnecting..." if lost else ""
        if view is not None and not view.update(frame, None, state):
            return "stopped", frame, held
        sleep(0.005)
        return "again", frame, held
    frame, state.status = got.image, ""
    if state.phase == "countdown" and not live:
        held = frame
    return None, frame, held


def _keep(
    image: np.ndarray,
    writer: ImageWriter,
    state: CaptureState,
    result: CaptureResult,
    checker: Checker | None,
    recent: list[np.ndarray],
) -> list[np.ndarray]:
    """Save one box (``DiskFull`` passes up, nothing counted), hand it to ``checker``, and move
    the prompt and the near-identical warning on; returns the latest saved images' thumbnails."""
    result.saved.append(writer.write(image))
    state.saved, state.just_saved = len(result.saved), True
    if checker is not None:
        checker.submit(image)
    state.prompt = variety_prompt(writer.label, state.saved)
    recent = [*recent, thumbnail(image)][-RECENT:]
    alike = len(recent) == RECENT and difference(recent) < NEAR_IDENTICAL_MAD
    state.warning = ALIKE.format(n=RECENT) if alike else ""
    return recent
