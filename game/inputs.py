"""Where the player's throw comes from: the gesture stream (camera or video file) or the keyboard.

``open_input(source, ...)``: only the default (no ``--source``, no ``--model``) falls back to the
keyboard when camera 0 or the model cannot be used, with a ``message`` that the game shows on
screen. A ``source`` or ``model`` the player asked for by name that cannot be used raises
(``RPSError`` or ``OSError``): the game must not pretend to see. A video file is played in real
time and looped, so a short clip never stalls a match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

KEYBOARD = "keyboard"


@dataclass
class PlayerInput:
    """Keyboard (and tap) play: no readings, no frames."""

    name: str = KEYBOARD
    message: str | None = None  # why we are here instead of on a camera, if we are
    mirror: bool = False
    model: str | None = None  # which gesture model reads the hand: GestureClassifier.origin
    notice: str | None = None  # a warning for the screen: the personal model fell back, say

    @property
    def camera(self) -> bool:
        return False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def reading(self):
        return None

    def frame(self):
        return None

    def roi_rect(self, shape) -> tuple[int, int, int, int] | None:
        return None


class StreamInput(PlayerInput):
    """Readings and preview frames from a ``vision.stream.GestureStream``."""

    def __init__(
        self, stream, name: str, mirror: bool, model: str | None = None, notice: str | None = None
    ):
        super().__init__(name=name, message=None, mirror=mirror, model=model, notice=notice)
        self.stream = stream

    @property
    def camera(self) -> bool:
        return True

    def start(self) -> None:
        self.stream.start()

    def stop(self) -> None:
        self.stream.stop()

    def reading(self):
        return self.stream.latest()

    def frame(self):
        return self.stream.latest_frame()

    def roi_rect(self, shape) -> tuple[int, int, int, int]:
        return self.stream.roi_rect(shape)


def is_live_spec(spec: str) -> bool:
    """A camera rather than a file: an index, a /dev device, picam or a URL."""
    text = spec.strip().lower()
    return text.isdigit() or text.startswith("/dev/") or "://" in text or text.startswith("picam")


def open_input(
    source: str | None,
    *,
    model: str | None = None,
    threads: int = 1,
    roi: tuple[float, float, float, float] | None = None,
    mirror: bool | None = None,
) -> PlayerInput:
    """The player's input for ``--source``; ``None`` tries camera 0, then the keyboard.

    ``roi``: the box the hand is read in (fractions of the frame; None the centre square);
    ``mirror``: show the preview mirrored (None: a camera is, a file is not). A ``model`` or
    ``source`` given by name that cannot be used raises ``RPSError`` (or ``OSError`` /
    ``ImportError``) instead of falling back.
    """
    if source is not None and source.strip().lower() == KEYBOARD:
        return PlayerInput()
    spec = "0" if source is None else source
    live = is_live_spec(spec)
    from vision.errors import RPSError

    try:
        from vision import GestureClassifier

        classifier = GestureClassifier(model, threads=threads)
    except (RPSError, OSError, ImportError) as exc:
        if model is not None or source is not None:
            raise
        log.warning("cannot load the gesture model (%s): playing with the keyboard", exc)
        return PlayerInput(message=f"Cannot load the gesture model: {exc}")
    try:
        from vision.sources import open_source
        from vision.stream import GestureStream

        frames = open_source(spec, loop=not live, realtime=not live)
        stream = GestureStream(frames, classifier, roi=roi)
    except (RPSError, OSError, ImportError) as exc:
        if source is not None:
            raise
        log.warning("no camera found (%s): playing with the keyboard", exc)
        return PlayerInput(message=f"No camera found: {exc}")
    return StreamInput(
        stream,
        frames.name,
        live if mirror is None else mirror,
        model=classifier.origin,
        notice=classifier.fallback,
    )
