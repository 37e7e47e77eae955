"""One round as a state machine driven by ``now``: beats, "shoot", a capture window, a decision.

Plain Python (no pygame, camera or pins). The robot's throw is given to the constructor, so it is
fixed before the countdown even starts; the player's throw is read only from readings taken at or
after "shoot" (or from an explicit throw: a key or a tap).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from vision.labels import Gesture

BEAT_WORDS = ("Rock", "Paper", "Scissors", "Shoot!")


class Reading(Protocol):
    """What the round needs from a ``vision.stream.GestureReading``."""

    gesture: Gesture
    confidence: float
    timestamp: float
    frame_index: int


@dataclass(frozen=True)
class Timing:
    """How a round is paced, in seconds, and how sure the reading of a hand must be.

    ``beats`` beats of ``beat`` seconds: "rock", "paper", "scissors", "shoot"; the last beat is the
    shoot time. Readings from then until ``capture`` seconds later decide the player's throw: the
    throw seen most often among readings with ``confidence >= min_confidence``, if seen at least
    ``min_votes`` times.
    """

    beat: float = 0.55
    beats: int = 4
    capture: float = 0.9
    min_confidence: float = 0.55
    min_votes: int = 2

    def __post_init__(self):
        if self.beat <= 0 or self.capture <= 0 or self.beats < 1 or self.min_votes < 1:
            raise ValueError(f"bad round timing {self}: beats, beat and capture must be positive")

    def faster(self, speed: float) -> Timing:
        """The same round played ``speed`` times faster."""
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        return replace(self, beat=self.beat / speed, capture=self.capture / speed)


class Phase(StrEnum):
    COUNTDOWN = "countdown"
    CAPTURE = "capture"
    DONE = "done"


@dataclass(frozen=True)
class Beat:
    """Beat ``step`` of ``total`` has sounded (the last one is "shoot")."""

    step: int
    total: int

    @property
    def word(self) -> str:
        if self.step == self.total:
            return BEAT_WORDS[-1]
        return BEAT_WORDS[min(self.step, len(BEAT_WORDS) - 1) - 1]


@dataclass(frozen=True)
class Shoot:
    """Both throws are shown now; the robot's was fixed before the countdown began."""

    robot: Gesture


@dataclass(frozen=True)
class Decision:
    """The round's reading of the player: a throw, or ``Gesture.NONE`` (no hand: replay)."""

    player: Gesture
    votes: int
    readings: int
    confidence: float = 0.0  # mean confidence of the readings that voted for ``player``
    #: The frame that shows it best, for the result's still (the most confident vote's; for no
    #: hand, the newest frame read); not part of what was decided, so not compared.
    frame_index: int | None = field(default=None, compare=False)


class Round:
    """``Round(robot, start, timing)``; call ``update(now)`` often and ``observe(reading)`` for each
    new gesture reading; ``update`` returns the events that happened since the last call."""

    def __init__(self, robot: Gesture, start: float, timing: Timing | None = None):
        robot = Gesture.parse(robot)
        if not robot.is_throw:
            raise ValueError("the robot must throw rock, paper or scissors")
        self._robot = robot
        self.timing = timing or Timing()
        self.start = start
        self.shoot_time = start + (self.timing.beats - 1) * self.timing.beat
        self.end_time = self.shoot_time + self.timing.capture
        self.phase = Phase.COUNTDOWN
        self.beats_sounded = 0
        self.votes: Counter[Gesture] = Counter()
        self._confidence: Counter[Gesture] = Counter()
        self.readings_seen = 0
        self._frames: set[int] = set()
        self._best_frame: dict[Gesture, tuple[float, int]] = {}  # most confident vote's frame
        self._last_frame: int | None = None  # the newest frame read in the window
        self._explicit: Gesture | None = None
        self.decision: Decision | None = None

    @property
    def robot(self) -> Gesture:
        """The robot's throw; read-only and fixed at construction."""
        return self._robot

    @property
    def revealed(self) -> bool:
        return self.phase is not Phase.COUNTDOWN

    def beat_at(self, now: float) -> tuple[int, float]:
        """(current beat 1..beats, fraction 0..1 through it) for animations; beat 0 before start."""
        if now < self.start:
            return 0, 0.0
        t = (now - self.start) / self.timing.beat
        step = min(int(t + 1e-9) + 1, self.timing.beats)  # 1e-9: 0.3 / 0.1 is 2.999...
        return step, min(t - (step - 1), 1.0)

    def observe(self, reading: Reading) -> None:
        """Count a gesture reading if it was taken in the capture window (each frame once)."""
        if self.phase is Phase.DONE or reading.frame_index in self._frames:
            return
        if not self.shoot_time - 1e-9 <= reading.timestamp <= self.end_time:
            return
        self._frames.add(reading.frame_index)
        self._last_frame = reading.frame_index
        self.readings_seen += 1
        gesture = Gesture.parse(reading.gesture)
        if gesture.is_throw and reading.confidence >= self.timing.min_confidence:
            self.votes[gesture] += 1
            self._confidence[gesture] += float(reading.confidence)
            best = self._best_frame.get(gesture)
            if best is None or reading.confidence > best[0]:
                self._best_frame[gesture] = (float(reading.confidence), reading.frame_index)

    def throw(self, gesture: Gesture | str) -> None:
        """An explicit throw (key or tap), accepted any time before the round is decided."""
        if self.phase is not Phase.DONE:
            self._explicit = Gesture.parse(gesture)

    def update(self, now: float) -> list[Beat | Shoot | Decision]:
        events: list[Beat | Shoot | Decision] = []
        if self.phase is Phase.DONE:
            return events
        total = self.timing.beats
        step, _ = self.beat_at(now)
        while self.beats_sounded < step:
            self.beats_sounded += 1
            events.append(Beat(self.beats_sounded, total))
        if self.phase is Phase.COUNTDOWN and now >= self.shoot_time - 1e-9:
            self.phase = Phase.CAPTURE
            events.append(Shoot(self._robot))
        if self.phase is Phase.CAPTURE and (now >= self.end_time or self._explicit is not None):
            self.decision = self._decide()
            self.phase = Phase.DONE
            events.append(self.decision)
        return events

    def _decide(self) -> Decision:
        if self._explicit is not None:
            return Decision(self._explicit, 1, self.readings_seen, 1.0)
        if self.votes:
            # most votes; on a tie, the order of first sighting (Counter keeps insertion order)
            gesture, count = self.votes.most_common(1)[0]
            if count >= self.timing.min_votes:
                mean = self._confidence[gesture] / count
                frame = self._best_frame[gesture][1]
                return Decision(gesture, count, self.readings_seen, mean, frame)
        return Decision(Gesture.NONE, 0, self.readings_seen, frame_index=self._last_frame)
