"""Temporal smoothing of per-frame predictions into a stable gesture: plain Python, no threads.

The last ``window`` frames' probabilities are averaged (frames not yet seen count as no evidence).
The held gesture changes to another class only when that class was the top class of the last
``confirm`` frames, its average reaches ``threshold`` and beats the held one by ``hysteresis``;
a held gesture whose average falls below ``threshold - hysteresis`` drops to ``none``. With the
defaults (window 3, confirm 2) a single odd frame never changes the reading, labels that
alternate every frame read as ``none`` instead of flickering, and a real change shows on the
2nd or 3rd frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .labels import CLASS_ORDER, Gesture


@dataclass(frozen=True)
class SmoothingConfig:
    window: int = 3  # frames averaged
    threshold: float = 0.6  # average probability needed to take up a gesture
    hysteresis: float = 0.15  # margin to switch; a held gesture lasts down to threshold - this
    confirm: int = 2  # a new gesture must top this many frames in a row

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"smoothing window must be a whole number >= 1, got {self.window!r}")
        if not isinstance(self.confirm, int) or not 1 <= self.confirm <= self.window:
            raise ConfigError(
                f"smoothing confirm must be a whole number in 1..window ({self.window}), "
                f"got {self.confirm!r}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"smoothing threshold must be in 0..1, got {self.threshold!r}")
        if not 0.0 <= self.hysteresis <= self.threshold:
            raise ConfigError(
                f"smoothing hysteresis must be in 0..threshold ({self.threshold}), "
                f"got {self.hysteresis!r}"
            )


class Smoother:
    """``update(probs)`` or ``update((label, confidence))`` -> the stable ``(Gesture, confidence)``.

    ``classes`` is the order of the probability vectors (the classifier's ``classes``).
    The confidence of a held class is its average over the window's frames; for ``none`` without
    a confident ``none`` class it is one minus the best throw's average.
    """

    def __init__(
        self, config: SmoothingConfig | None = None, classes: Sequence[Gesture] = CLASS_ORDER
    ):
        self.config = config or SmoothingConfig()
        self.classes = tuple(Gesture.parse(c) for c in classes)
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise ConfigError(f"classes must be distinct gestures, got {classes!r}")
        self._none = self.classes.index(Gesture.NONE) if Gesture.NONE in self.classes else None
        self.reset()

    def reset(self) -> None:
        """Forget the history: the reading becomes ``none``."""
        # plain floats, not numpy: four numbers a frame are cheaper in Python (per-frame path)
        self._history: deque[list[float]] = deque()
        self._tops: deque[int] = deque(maxlen=self.config.confirm)
        self._sum = [0.0] * len(self.classes)
        self._held: int | None = None  # index into classes; None = none by low confidence
        self.gesture, self.confidence = Gesture.NONE, 0.0

    @property
    def average(self) -> np.ndarray:
        """The window's average probabilities (unseen frames count as zeros)."""
        return np.asarray(self._sum, np.float64) / self.config.window

    def _vector(self, observation) -> list[float]:
        n = len(self.classes)
        if isinstance(observation, tuple) and len(observation) == 2:
            label, confidence = observation
            conf = min(max(float(confidence), 0.0), 1.0)
            vec = [(1.0 - conf) / (n - 1) if n > 1 else 0.0] * n
            vec[self.classes.index(Gesture.parse(label))] = conf
            return vec
        if isinstance(observation, np.ndarray) and observation.ndim == 1:
            vec = observation.tolist()  # one C call: the per-frame case
        else:
            vec = np.asarray(observation, dtype=np.float64).reshape(-1).tolist()
        if len(vec) != n:
            raise ValueError(f"expected {n} probabilities, got {len(vec)}")
        return vec

    def update(self, observation: np.ndarray | Sequence[float] | tuple) -> tuple[Gesture, float]:
        """Add one frame's probabilities (or ``(label, confidence)``); return the stable reading."""
        vec = self._vector(observation)
        n = len(vec)
        self._tops.append(vec.index(max(vec)))  # the first of equal maxima, as np.argmax
        self._history.append(vec)
        total = self._sum
        for i in range(n):
            total[i] += vec[i]
        cfg = self.config
        if len(self._history) > cfg.window:
            old = self._history.popleft()
            for i in range(n):
                total[i] -= old[i]
        avg = [v / cfg.window for v in total]
        held = self._held
        held_score = avg[held] if held is not None else 0.0
        best = avg.index(max(avg))
        confirmed = len(self._tops) == cfg.confirm and self._tops.count(best) == cfg.confirm
        if (
            best != held
            and confirmed
            and avg[best] >= cfg.threshold
            and avg[best] >= held_score + cfg.hysteresis
        ):
            held = best
        elif held is not None and held_score < cfg.threshold - cfg.hysteresis:
            held = None
        self._held = held
        seen = len(self._history)  # reported confidence: frames seen, unpadded
        if held is None:
            throws = [total[i] / seen for i in range(n) if i != self._none]
            self.gesture, self.confidence = Gesture.NONE, 1.0 - max(throws, default=0.0)
        else:
            self.gesture, self.confidence = self.classes[held], total[held] / seen
        self.confidence = float(min(max(self.confidence, 0.0), 1.0))
        return self.gesture, self.confidence
