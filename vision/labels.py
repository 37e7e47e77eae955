"""The project's shared vocabulary: gestures and round outcomes.

Imported by every package (game, vision, hardware, training); it depends on nothing.
The model's numeric labels follow the original write-up: 0 scissors, 1 rock, 2 paper, 3 none.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class Gesture(StrEnum):
    """What a hand shows; ``NONE`` means no hand (or no confident reading)."""

    SCISSORS = "scissors"
    ROCK = "rock"
    PAPER = "paper"
    NONE = "none"

    def __str__(self) -> str:
        return self.value

    @property
    def index(self) -> int:
        """The write-up's numeric label (0 scissors, 1 rock, 2 paper, 3 none)."""
        return CLASS_ORDER.index(self)

    @classmethod
    def from_index(cls, index: int) -> Gesture:
        return CLASS_ORDER[index]

    @classmethod
    def parse(cls, value: str | int | Gesture) -> Gesture:
        """Accept a Gesture, a name (``"rock"``, any case) or a numeric label (``1``, ``"1"``)."""
        if isinstance(value, Gesture):
            return value
        text = str(value).strip().lower()
        if text.isdigit() and int(text) < len(CLASS_ORDER):
            return CLASS_ORDER[int(text)]
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(g.value for g in CLASS_ORDER)
            raise ValueError(f"unknown gesture {value!r}: use one of {names} or 0-3") from None

    @property
    def is_throw(self) -> bool:
        return self is not Gesture.NONE

    def beats(self, other: Gesture) -> bool:
        """True when this throw beats ``other`` (``NONE`` beats nothing and loses to nothing)."""
        return BEATS.get(self) is other

    @property
    def beaten_by(self) -> Gesture:
        """The throw that beats this one."""
        if self is Gesture.NONE:
            raise ValueError("'none' is not a throw")
        return next(g for g, loser in BEATS.items() if loser is self)


#: Model output order = the write-up's numeric labels.
CLASS_ORDER: tuple[Gesture, ...] = (Gesture.SCISSORS, Gesture.ROCK, Gesture.PAPER, Gesture.NONE)
#: The three throws, in the order people say them.
THROWS: tuple[Gesture, ...] = (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS)
BEATS: dict[Gesture, Gesture] = {
    Gesture.ROCK: Gesture.SCISSORS,
    Gesture.PAPER: Gesture.ROCK,
    Gesture.SCISSORS: Gesture.PAPER,
}


class Outcome(StrEnum):
    """A finished round, from the player's side."""

    WIN = "win"  # the player won
    LOSE = "lose"  # the robot won
    DRAW = "draw"

    def __str__(self) -> str:
        return self.value


def judge(player: Gesture, robot: Gesture) -> Outcome:
    """Who won a round, seen from the player. Both must be throws."""
    if not (player.is_throw and robot.is_throw):
        raise ValueError("both sides must throw rock, paper or scissors")
    if player is robot:
        return Outcome.DRAW
    return Outcome.WIN if player.beats(robot) else Outcome.LOSE


def class_subfolders(root: str | Path) -> list[tuple[Gesture, Path]]:
    """The subfolders of ``root`` (a folder that exists) named for a class (``rock/`` or its
    number ``1/``, any case), in name order, each with its gesture; anything else is skipped.
    Two folders may name one class (``rock/`` and ``1/``): each caller decides what that means.
    Every class-folder scan (datasets, captures, ``python -m vision evaluate``) goes through it."""
    found = []
    for sub in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        try:
            found.append((Gesture.parse(sub.name), sub))
        except ValueError:
            continue
    return found
