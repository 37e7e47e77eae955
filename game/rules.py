"""The score of a match: best of N (draws do not count) or endless, with streaks. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass

from vision.labels import Gesture, Outcome, judge


@dataclass(frozen=True)
class Play:
    """One scored round."""

    number: int
    player: Gesture
    robot: Gesture
    outcome: Outcome


class Match:
    """``Match(best_of=5)``: the first to win ``best_of // 2 + 1`` rounds wins; ``None``: endless.

    Draws are recorded but do not count towards the match, as in the playground game.
    """

    def __init__(self, best_of: int | None = 5):
        if best_of is not None and best_of < 1:
            raise ValueError(f"best_of must be a positive number of rounds, not {best_of}")
        self.best_of = best_of
        self.plays: list[Play] = []
        self.wins = 0
        self.losses = 0
        self.draws = 0
        self.streak = 0  # >0: the player's current winning streak, <0: the robot's
        self.best_win_streak = 0
        self.best_loss_streak = 0

    @property
    def endless(self) -> bool:
        return self.best_of is None

    @property
    def wins_needed(self) -> int | None:
        return None if self.best_of is None else self.best_of // 2 + 1

    @property
    def rounds(self) -> int:
        return len(self.plays)

    def record(self, player: Gesture, robot: Gesture) -> Play:
        """Score a finished round (both sides threw) and return it."""
        if self.is_over:
            raise RuntimeError("the match is over: start a new Match")
        outcome = judge(Gesture.parse(player), Gesture.parse(robot))
        play = Play(len(self.plays) + 1, Gesture.parse(player), Gesture.parse(robot), outcome)
        self.plays.append(play)
        if outcome is Outcome.WIN:
            self.wins += 1
            self.streak = self.streak + 1 if self.streak > 0 else 1
            self.best_win_streak = max(self.best_win_streak, self.streak)
        elif outcome is Outcome.LOSE:
            self.losses += 1
            self.streak = self.streak - 1 if self.streak < 0 else -1
            self.best_loss_streak = max(self.best_loss_streak, -self.streak)
        else:
            self.draws += 1  # a draw leaves the streak alone
        return play

    @property
    def is_over(self) -> bool:
        need = self.wins_needed
        return need is not None and (self.wins >= need or self.losses >= need)

    @property
    def winner(self) -> str | None:
        """``"player"``, ``"robot"`` or ``None`` (not over, or endless)."""
        if not self.is_over:
            return None
        return "player" if self.wins > self.losses else "robot"

    def describe_streak(self) -> str:
        if self.streak > 1:
            return f"you have won {self.streak} in a row"
        if self.streak < -1:
            return f"the robot has won {-self.streak} in a row"
        return ""

    def __repr__(self) -> str:
        kind = "endless" if self.endless else f"best of {self.best_of}"
        return f"Match({kind}: {self.wins}-{self.losses}, {self.draws} draws)"

    def __str__(self) -> str:
        """The score for people: ``you 1, robot 2, 1 draw (best of 5)``."""
        draws = f"{self.draws} draw" + ("" if self.draws == 1 else "s")
        kind = "" if self.endless else f" (best of {self.best_of})"
        return f"you {self.wins}, robot {self.losses}, {draws}{kind}"
