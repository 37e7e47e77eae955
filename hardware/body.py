"""What the game asks of the robot's body. The hardware issue fills it in with gpiozero devices."""

from __future__ import annotations

from typing import Protocol

from vision.labels import Gesture, Outcome


class RobotBody(Protocol):
    """The one small interface between the game and whatever shows the robot's throw."""

    def attract(self) -> None:
        """Idle between rounds (e.g. a slow LED pulse, servo at neutral)."""

    def countdown(self, step: int, total: int) -> None:
        """Beat ``step`` of ``total`` of "rock, paper, scissors, shoot" (1-based)."""

    def show_throw(self, gesture: Gesture) -> None:
        """Show the robot's throw."""

    def show_outcome(self, outcome: Outcome) -> None:
        """Show how the round ended, from the player's side."""

    def start_pressed(self) -> bool:
        """True once for each press of the start button since the last call."""

    def close(self) -> None:
        """Return to a safe state: servos neutral and detached, LEDs and buzzer off."""


class NullBody:
    """No hardware: every call does nothing (``--hardware none``)."""

    def attract(self) -> None:
        pass

    def countdown(self, step: int, total: int) -> None:
        pass

    def show_throw(self, gesture: Gesture) -> None:
        pass

    def show_outcome(self, outcome: Outcome) -> None:
        pass

    def start_pressed(self) -> bool:
        return False

    def close(self) -> None:
        pass
