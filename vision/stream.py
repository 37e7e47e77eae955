"""The gesture stream: frames in, the latest stable gesture out, on background threads.

A reader thread takes frames from the source and keeps only the newest one (a live source's
stale frames are dropped, never queued; a recorded source waits for the worker). A worker
thread crops the region of interest, classifies it, smooths the predictions and publishes a
:class:`GestureReading`; ``latest()`` returns it at once. ``step()`` does one read-and-process
on the caller's thread, so tests drive the stream without threads or sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .errors import ConfigError, SourceError
from .labels import Gesture
from .smoothing import Smoother, SmoothingConfig
from .sources import EndOfStream, Frame, FrameSource

log = logging.getLogger(__name__)

STATES = ("starting", "ok", "reconnecting", "error", "ended")
JOIN_TIMEOUT = 1.0


@dataclass(frozen=True)
class GestureReading:
    gesture: Gesture = Gesture.NONE  # the stable (smoothed) gesture
    confidence: float = 0.0
    probs: np.ndarray | None = None  # this frame's raw probabilities, classifier.classes order
    timestamp: float = 0.0  # capture time of the frame (time.monotonic seconds)
    frame_index: int = -1
    fps: float = 0.0  # frames processed per second, over the last second or so
    state: str = "starting"  # one of STATES
    error: str | None = None
    raw: Gesture = Gesture.NONE  # this frame's top class, before smoothing
    seq: int = 0  # counts published readings; lets a waiter see a new one
    landmarks: np.ndarray | None = None  # (21, 3) frame pixels, when the recogniser placed a hand
    palm_box: tuple[float, float, float, float] | None = None  # frame pixels, the palm detector's


#: Slack for fractions that add up to 1 in decimal and a hair over it in binary (0.7 + 0.3).
_ROI_SLACK = 1e-6


def _check_roi(roi) -> tuple[float, float, float, float] | None:
    if roi is None:
        return None
    try:
        x, y, w, h = (float(v) for v in roi)
    except (TypeError, ValueError):
        raise ConfigError(f"roi must be (x, y, w, h) fractions of the frame, got {roi!r}") from None
    inside = 0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1
    if not inside or x + w > 1 + _ROI_SLACK or y + h > 1 + _ROI_SLACK:
        raise ConfigError(
            f"roi {roi!r} is outside the frame: use fractions with 0 <= x, y and x + w, y + h <= 1"
        )
    return x, y, w, h


def parse_roi(text: str) -> tuple[float, float, float, float]:
    """``--roi x,y,w,h``: four fractions of the frame, the box inside it (``0.5,0,0.5,1`` is the
    right half). The argparse type of every command that takes a box: play, capture, vision."""
    import argparse

    try:
        values = [float(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(
            f"use x,y,w,h fractions of the frame like 0.2,0.1,0.6,0.8, not {text!r}"
        )
    try:
        return _check_roi(values)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"{text}: the box must lie inside the frame (0 <= x, y; x + w and y + h at most 1)"
        ) from None


def roi_rect(
    frame_shape: tuple[int, ...], roi: tuple[float, float, float, float] | None = None
) -> tuple[int, int, int, int]:
    """The region of interest in pixels, ``(x, y, w, h)``: ``roi`` as fractions of the frame
    ``(x, y, w, h)``, or by default the centre square. Never empty. Capture and play share it."""
    fh, fw = int(frame_shape[0]), int(frame_shape[1])
    if roi is None:
        side = min(fw, fh)
        return (fw - side) // 2, (fh - side) // 2, side, side
    x, y, w, h = roi
    px, py = min(round(x * fw), fw - 1), min(round(y * fh), fh - 1)
    pw, ph = max(1, min(round(w * fw), fw - px)), max(1, min(round(h * fh), fh - py))
    return px, py, pw, ph


def _in_frame(landmarks: np.ndarray | None, x: int, y: int) -> np.ndarray | None:
    """Landmarks found in the region of interest, moved into frame pixels."""
    if landmarks is None:
        return None
    out = np.array(landmarks, dtype=np.float32)
    out[:, 0] += x
    out[:, 1] += y
    return out


def _box_in_frame(box, x: int, y: int) -> tuple[float, float, float, float] | None:
    """A box ``(x0, y0, x1, y1)`` found in the region of interest, moved into frame pixels."""
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return (x0 + x, y0 + y, x1 + x, y1 + y)


class GestureStream:
    """Classify a frame source's frames in the background; ``latest()`` never blocks.

    ``classifier``: any callable ``image -> Prediction`` with ``.classes`` (default
    ``GestureClassifier()``). ``roi``: ``(x, y, w, h)`` fractions of the frame, default the
    largest centred square. ``clock`` measures fps (inject one in tests).
    """

    def __init__(
        self,
        source: FrameSource,
        classifier=None,
        *,
        roi: tuple[float, float, float, float] | None = None,
        smoothing: SmoothingConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if classifier is None:
            from .classifier import GestureClassifier

            classifier = GestureClassifier()
        self.source = source
        self.classifier = classifier
        self.roi = _check_roi(roi)
        self.clock = clock
        self.smoother = Smoother(smoothing or SmoothingConfig(), classifier.classes)
        # recognisers that track (the landmark one) start each frame from the last frame's hand
        self._classify = classifier.track
        self._reset_tracking = classifier.reset_tracking
        self.frames_processed = 0
        self.frames_dropped = 0
        self.errors = 0
        self._reading = GestureReading()
        self._frame: Frame | None = None  # newest frame read
        self._pending: Frame | None = None  # newest frame not yet processed
        self._last_index = -1
        self._reader_done = False
        self._source_ended = False
        self._ended = False
        self._times: deque[float] = deque(maxlen=64)
        self._last_error: str | None = None
        self._stale_history = False
        self._published = threading.Condition()  # guards _reading
        self._handoff = threading.Condition()  # guards _pending and _reader_done
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._close_on_exit = False

    # ---- what consumers call -------------------------------------------------------------

    def latest(self) -> GestureReading:
        """The latest reading (never waits for a frame)."""
        return self._reading  # replaced whole, never mutated: a plain read is safe

    def latest_frame(self) -> Frame | None:
        """The newest frame read (for a preview); may be newer than the latest reading."""
        return self._frame

    def wait(self, after_seq: int = 0, timeout: float | None = None) -> GestureReading:
        """Block until a reading newer than ``after_seq`` is published (or timeout)."""
        with self._published:
            self._published.wait_for(
                lambda: self._reading.seq > after_seq or self._ended, timeout=timeout
            )
            return self._reading

    @property
    def ended(self) -> bool:
        """True once a file or folder source has run out and its last frame was processed."""
        return self._ended

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def roi_rect(self, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The region of interest in pixels, ``(x, y, w, h)``, for a frame of this shape."""
        return roi_rect(frame_shape, self.roi)

    # ---- one frame -------------------------------------------------------------------------

    def _publish(self, reading: GestureReading) -> None:
        with self._published:
            self._reading = replace(reading, seq=self._reading.seq + 1)
            self._published.notify_all()

    def _report(self, state: str, error: str | None) -> None:
        """Publish a state change without a new classification (from either thread)."""
        with self._published:
            if error and error != self._last_error:
                log.warning("%s: %s", self.source.name, error)
            self._last_error = error
            current = self._reading
            if state == "reconnecting":  # a frozen gesture would lie: none until frames return
                self._stale_history = True  # the worker resets its smoother (it owns it)
                current = replace(current, gesture=Gesture.NONE, confidence=0.0, probs=None)
            if current.state != state or current.error != error:
                self._reading = replace(current, state=state, error=error, seq=current.seq + 1)
                self._published.notify_all()

    def _read(self) -> Frame | None:
        """One read from the source, turning its problems into published states."""
        try:
            frame = self.source.read()
        except EndOfStream:
            raise
        except Exception as exc:  # a broken source is reported, never fatal
            self._report("error", f"reading {self.source.name} failed: {exc}")
            return None
        if frame is None:
            if self.source.state == "reconnecting":
                self._report("reconnecting", self.source.error)
            return None
        self._frame = frame
        return frame

    def process(self, frame: Frame) -> GestureReading:
        """Classify one frame, smooth, publish; a bad frame or classifier error is reported."""
        try:
            image = frame.image
            if not isinstance(image, np.ndarray) or image.ndim < 2 or image.size == 0:
                raise ValueError(f"empty or malformed frame {getattr(image, 'shape', image)!r}")
            x, y, w, h = self.roi_rect(image.shape)
            if self._stale_history:
                self._reset_tracking()
            prediction = self._classify(image[y : y + h, x : x + w])
        except Exception as exc:
            self.errors += 1
            log.debug("frame %d skipped", frame.index, exc_info=True)
            self._report("error", f"frame skipped: {type(exc).__name__}: {exc}")
            return self._reading
        if self._stale_history:
            self._stale_history = False
            self.smoother.reset()
        gesture, confidence = self.smoother.update(prediction.probs)
        now = self.clock()
        self._times.append(now)
        while len(self._times) > 2 and now - self._times[0] > 1.0:
            self._times.popleft()
        span = self._times[-1] - self._times[0]
        fps = (len(self._times) - 1) / span if span > 0 else 0.0
        self.frames_processed += 1
        self._last_error = None
        with self._published:
            self._reading = GestureReading(
                gesture,
                confidence,
                prediction.probs,
                frame.timestamp,
                frame.index,
                fps,
                "ok",
                None,
                prediction.label,
                self._reading.seq + 1,
                _in_frame(getattr(prediction, "landmarks", None), x, y),
                _box_in_frame(getattr(prediction, "palm_box", None), x, y),
            )
            self._published.notify_all()
            return self._reading

    def _finish(self) -> None:
        self._ended = True
        self._report("ended", None)

    def step(self) -> bool:
        """Read the next frame and process it here; False once the source has ended."""
        if self._ended:
            return False
        try:
            frame = self._read()
        except EndOfStream:
            self._finish()
            return False
        if frame is not None:
            self.process(frame)
        return True

    # ---- threads ---------------------------------------------------------------------------

    def _reader_loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    frame = self._read()
                except EndOfStream:
                    self._source_ended = True
                    break
                if frame is None:
                    self._stop.wait(0.02)
                    continue
                with self._handoff:
                    if not self.source.live:  # a recorded source waits for the worker
                        self._handoff.wait_for(lambda: self._pending is None or self._stop.is_set())
                    elif self._pending is not None:
                        self.frames_dropped += 1
                    self._pending = frame
                    self._handoff.notify_all()
        except Exception:
            log.exception("gesture reader stopped")
            self._report("error", "the frame reader crashed; see the log")
        finally:
            with self._handoff:
                self._reader_done = True
                self._handoff.notify_all()
            if self._close_on_exit:
                self.source.close()

    def _worker_loop(self) -> None:
        while True:
            with self._handoff:
                self._handoff.wait_for(
                    lambda: self._pending is not None or self._reader_done or self._stop.is_set()
                )
                if self._stop.is_set():
                    return
                frame, self._pending = self._pending, None
                self._handoff.notify_all()
            if frame is None:  # reader finished and nothing left
                if self._source_ended:
                    self._finish()
                return
            self.process(frame)

    def start(self) -> GestureStream:
        """Start the reader and worker threads (once)."""
        if self._threads:
            return self
        if self.source.closed:
            raise SourceError(f"{self.source.name} is closed: open a new source to start again")
        self._threads = [
            threading.Thread(target=self._reader_loop, name="gesture-reader", daemon=True),
            threading.Thread(target=self._worker_loop, name="gesture-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop the threads (joined within about a second) and close the source."""
        self._stop.set()
        with self._handoff:
            self._handoff.notify_all()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:  # blocked inside a camera read: the reader closes the source when it returns
            self._close_on_exit = True
            log.warning(
                "%s still busy after %.1f s; the source closes when it returns", stuck, JOIN_TIMEOUT
            )
        if not self._threads or not self._threads[0].is_alive():
            self.source.close()

    def __enter__(self) -> GestureStream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
