"""Simulated players for the strategy benchmark and tests: each has a habit a robot can learn."""

from __future__ import annotations

import random

from vision.labels import THROWS, Gesture, Outcome, judge


class SimulatedPlayer:
    """``throw()`` the next gesture, ``record(player, robot)`` after the round.

    ``noise``: the chance of a uniformly random throw instead of the habit.
    """

    name = "player"

    def __init__(self, seed: int | None = None, noise: float = 0.0):
        self.rng = random.Random(seed)
        self.noise = noise
        self.history: list[tuple[Gesture, Gesture]] = []

    def throw(self) -> Gesture:
        if self.noise and self.rng.random() < self.noise:
            return self.rng.choice(THROWS)
        return self.habit()

    def habit(self) -> Gesture:
        raise NotImplementedError

    def record(self, player: Gesture, robot: Gesture) -> None:
        self.history.append((player, robot))


class RandomPlayer(SimulatedPlayer):
    name = "random"

    def habit(self) -> Gesture:
        return self.rng.choice(THROWS)


class BiasedPlayer(SimulatedPlayer):
    """Favours one throw: 50% the favourite, 30% the next, 20% the last (order set by the seed)."""

    name = "biased 50/30/20"

    def __init__(self, seed: int | None = None, noise: float = 0.0, weights=(0.5, 0.3, 0.2)):
        super().__init__(seed, noise)
        self.order = list(THROWS)
        self.rng.shuffle(self.order)
        self.weights = weights

    def habit(self) -> Gesture:
        return self.rng.choices(self.order, weights=self.weights)[0]


class CyclicPlayer(SimulatedPlayer):
    """Rock, paper, scissors, rock, ... (or the reverse order), from a random start."""

    name = "cyclic"

    def __init__(self, seed: int | None = None, noise: float = 0.0, step: int | None = None):
        super().__init__(seed, noise)
        self.step = step if step is not None else self.rng.choice((1, 2))
        self.next = self.rng.randrange(3)

    def habit(self) -> Gesture:
        return THROWS[self.next]

    def record(self, player: Gesture, robot: Gesture) -> None:
        super().record(player, robot)
        self.next = (THROWS.index(player) + self.step) % 3


class WinStayLoseShiftPlayer(SimulatedPlayer):
    """Keeps a winning throw; after a loss or a draw, plays what would have beaten the robot."""

    name = "win-stay/lose-shift"

    def habit(self) -> Gesture:
        if not self.history:
            return self.rng.choice(THROWS)
        player, robot = self.history[-1]
        return player if judge(player, robot) is Outcome.WIN else robot.beaten_by


class CopyRobotPlayer(SimulatedPlayer):
    """Plays whatever the robot played last."""

    name = "copy the robot"

    def habit(self) -> Gesture:
        return self.history[-1][1] if self.history else self.rng.choice(THROWS)


class BeatLastPlayer(SimulatedPlayer):
    """Plays what would have beaten the robot's last throw."""

    name = "beat the robot's last"

    def habit(self) -> Gesture:
        return self.history[-1][1].beaten_by if self.history else self.rng.choice(THROWS)


PLAYERS: dict[str, type[SimulatedPlayer]] = {
    "biased": BiasedPlayer,
    "cyclic": CyclicPlayer,
    "wsls": WinStayLoseShiftPlayer,
    "copy": CopyRobotPlayer,
    "beat-last": BeatLastPlayer,
    "random": RandomPlayer,
}
