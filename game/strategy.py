"""How the robot chooses its throw: ``random`` or ``adaptive`` (the default). Plain Python.

Usage::

    s = make_strategy("adaptive", seed=1)
    robot = s.choose()                      # before the round, never seeing the player's throw
    s.record(player="rock", robot=robot)    # after the round
    s.prediction()                          # what it expects the player to throw next, or None

Fairness: ``choose()`` takes no argument and the strategy only learns a throw through
``record()``, after that round has finished.

The adaptive strategy runs a panel of predictors over the history of finished rounds (throw
frequencies, Markov chains of several orders over the player's throws, both sides' throws and the
outcomes, win-stay/lose-shift and cycle detectors, and the longest matching history). Each
prediction is also second-guessed twice (the player may play what beats the prediction, or what
beats that), and every candidate keeps a decayed score of how it would have done. The robot
follows the best-scoring candidate and plays uniformly at random while none is clearly beating
chance, or while its own recent results are bad, so a player who reads it cannot do much better
than against a random robot.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from vision.labels import THROWS, Gesture

log = logging.getLogger(__name__)

# Throws as numbers: rock 0, paper 1, scissors 2; (m + 1) % 3 beats m.


def _num(gesture: Gesture | str) -> int:
    g = Gesture.parse(gesture)
    if not g.is_throw:
        raise ValueError("record() needs two throws (rock, paper or scissors), not 'none'")
    return THROWS.index(g)


def _beat(move: int) -> int:
    return (move + 1) % 3


def _score(robot: int, player: int) -> int:
    """+1 when the robot wins, -1 when it loses, 0 for a draw."""
    diff = (robot - player) % 3
    return 0 if diff == 0 else (1 if diff == 1 else -1)


class Strategy:
    """The interface every strategy has; also keeps the history of finished rounds."""

    name = "strategy"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)
        self.history: list[tuple[Gesture, Gesture]] = []  # (player, robot), finished rounds

    def choose(self) -> Gesture:
        """The robot's throw for the next round."""
        raise NotImplementedError

    def record(self, player: Gesture | str, robot: Gesture | str) -> None:
        """Learn a finished round."""
        self.history.append((THROWS[_num(player)], THROWS[_num(robot)]))

    def prediction(self) -> Gesture | None:
        """What the strategy expects the player to throw next (``None``: no idea)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rounds={len(self.history)})"


class RandomStrategy(Strategy):
    """Uniformly random throws: unbeatable on average, and never learns."""

    name = "random"

    def choose(self) -> Gesture:
        return self.rng.choice(THROWS)


@dataclass
class _History:
    player: list[int] = field(default_factory=list)
    robot: list[int] = field(default_factory=list)
    outcome: list[int] = field(default_factory=list)  # (player - robot) % 3: 0 draw, 1 win, 2 lose


class _Pattern:
    """A Markov-style predictor: a context of recent history -> decayed counts of the next value.

    ``frame`` says what is counted: the player's throw itself (``"abs"``), its shift from the
    player's previous throw (``"self"``: cycles, win-stay/lose-shift) or from the robot's previous
    throw (``"robot"``: copy the robot, beat the robot's last).
    """

    def __init__(self, name: str, context: Callable[[_History], Hashable | None], frame: str):
        self.name = name
        self.context = context
        self.frame = frame
        self.table: dict[Hashable, list[float]] = {}
        self.decay = 0.9

    def _base(self, h: _History) -> int | None:
        if self.frame == "abs":
            return 0
        seq = h.player if self.frame == "self" else h.robot
        return seq[-1] if seq else None

    def predict(self, h: _History) -> int | None:
        ctx, base = self.context(h), self._base(h)
        counts = self.table.get(ctx) if ctx is not None else None
        if counts is None or base is None or max(counts) <= 0:
            return None
        best = max(range(3), key=counts.__getitem__)
        if sorted(counts)[1] == counts[best]:
            return None  # a tie: no opinion
        return (base + best) % 3

    def learn(self, h: _History, player: int, robot: int) -> None:
        """Called before this round is appended to the history."""
        ctx, base = self.context(h), self._base(h)
        if ctx is None or base is None:
            return
        counts = self.table.setdefault(ctx, [0.0, 0.0, 0.0])
        for i in range(3):
            counts[i] *= self.decay
        counts[(player - base) % 3] += 1.0


class _Frequency:
    """The player's most frequent throw, with optional forgetting."""

    def __init__(self, name: str, decay: float):
        self.name, self.decay = name, decay
        self.counts = [0.0, 0.0, 0.0]

    def predict(self, h: _History) -> int | None:
        best = max(range(3), key=self.counts.__getitem__)
        if self.counts[best] <= 0 or sorted(self.counts)[1] == self.counts[best]:
            return None
        return best

    def learn(self, h: _History, player: int, robot: int) -> None:
        self.counts = [c * self.decay for c in self.counts]
        self.counts[player] += 1.0


class _HistoryMatch:
    """Find the longest recent stretch of history that happened before; predict what came next."""

    def __init__(self, name: str, pairs: bool, longest: int = 12, window: int = 240):
        self.name, self.pairs, self.longest, self.window = name, pairs, longest, window
        self.text = ""

    def predict(self, h: _History) -> int | None:
        s = self.text[-self.window :]
        for k in range(min(self.longest, len(s) - 1), 0, -1):
            at = s.rfind(s[-k:], 0, len(s) - 1)
            if at >= 0:
                code = ord(s[at + k]) - 48
                return code // 3 if self.pairs else code
        return None

    def learn(self, h: _History, player: int, robot: int) -> None:
        self.text += chr(48 + (3 * player + robot if self.pairs else player))


def _last(seq_name: str, k: int) -> Callable[[_History], Hashable | None]:
    def context(h: _History) -> Hashable | None:
        if k == 0:
            return ()
        seq = getattr(h, seq_name)
        return tuple(seq[-k:]) if len(seq) >= k else None

    return context


def _last_pairs(k: int) -> Callable[[_History], Hashable | None]:
    def context(h: _History) -> Hashable | None:
        if len(h.player) < k:
            return None
        return tuple(zip(h.player[-k:], h.robot[-k:], strict=True))

    return context


def _panel() -> list:
    return [
        _Frequency("frequency", 1.0),
        _Frequency("recent frequency", 0.8),
        _Pattern("repeat/cycle", _last("player", 0), "self"),
        _Pattern("follow the robot", _last("player", 0), "robot"),
        _Pattern("win-stay/lose-shift", _last("outcome", 1), "self"),
        _Pattern("answer the robot", _last("outcome", 1), "robot"),
        _Pattern("outcomes x2", _last("outcome", 2), "self"),
        _Pattern("markov 1", _last("player", 1), "abs"),
        _Pattern("markov 2", _last("player", 2), "abs"),
        _Pattern("markov 3", _last("player", 3), "abs"),
        _Pattern("pair markov 1", _last_pairs(1), "abs"),
        _Pattern("pair markov 2", _last_pairs(2), "abs"),
        _Pattern("robot markov 1", _last("robot", 1), "abs"),
        _HistoryMatch("history match", pairs=False),
        _HistoryMatch("pair history match", pairs=True),
    ]


class AdaptiveStrategy(Strategy):
    """Predict the player from the history and follow whichever predictor is scoring best lately.

    ``decay``: how quickly candidates' scores forget (closer to 1 = longer memory);
    ``threshold``: the decayed score a candidate needs before the robot trusts it over chance;
    ``panic``: below this decayed score of its own results the robot plays randomly until the
    score has faded back to half of it (its recent losses are forgotten).
    """

    name = "adaptive"

    def __init__(
        self,
        seed: int | None = None,
        *,
        decay: float = 0.98,
        threshold: float = 1.0,
        panic: float = -3.0,
    ):
        super().__init__(seed)
        self.decay, self.threshold, self.panic = decay, threshold, panic
        self._h = _History()
        self._predictors = _panel()
        self._guesses: list[int | None] = [None] * len(self._predictors)
        # one score per (predictor, second-guess level 0/1/2)
        self._scores = [[0.0, 0.0, 0.0] for _ in self._predictors]
        self._own = 0.0  # decayed score of the robot's results when it followed a prediction
        self.follows: str | None = None  # which candidate the last choice followed (for logs)
        self._followed: Gesture | None = None  # the throw chosen by following it
        self._panicking = False  # being read: random until the bad memory has faded

    def _best(self) -> tuple[int, int, float] | None:
        """(predictor index, level, score) of the best candidate with an opinion, or None."""
        best = None
        for i, guess in enumerate(self._guesses):
            if guess is None:
                continue
            for level in range(3):
                s = self._scores[i][level]
                if best is None or s > best[2]:
                    best = (i, level, s)
        return best

    def _trusted(self) -> tuple[int, int] | None:
        best = self._best()
        if best is None or best[2] < self.threshold or self._panicking:
            return None
        return best[0], best[1]

    def prediction(self) -> Gesture | None:
        trusted = self._trusted()
        if trusted is None:
            return None
        i, level = trusted
        return THROWS[(self._guesses[i] + level) % 3]

    def choose(self) -> Gesture:
        trusted = self._trusted()
        if trusted is None:
            self.follows = self._followed = None
            return self.rng.choice(THROWS)
        i, level = trusted
        self.follows = f"{self._predictors[i].name} (+{level})"
        self._followed = THROWS[_beat((self._guesses[i] + level) % 3)]
        return self._followed

    def record(self, player: Gesture | str, robot: Gesture | str) -> None:
        super().record(player, robot)
        p, r = _num(player), _num(robot)
        for i, guess in enumerate(self._guesses):
            row = self._scores[i]
            for level in range(3):
                row[level] *= self.decay
                if guess is not None:
                    row[level] += _score(_beat((guess + level) % 3), p)
        followed = self._followed is not None and r == THROWS.index(self._followed)
        self._own = self._own * self.decay + (_score(r, p) if followed else 0.0)
        self._followed = None
        if self._own < self.panic:
            self._panicking = True
        elif self._own >= self.panic / 2:
            self._panicking = False
        h = self._h
        for predictor in self._predictors:
            predictor.learn(h, p, r)
        h.player.append(p)
        h.robot.append(r)
        h.outcome.append((p - r) % 3)
        self._guesses = [predictor.predict(h) for predictor in self._predictors]


STRATEGIES: dict[str, type[Strategy]] = {
    "adaptive": AdaptiveStrategy,
    "random": RandomStrategy,
}


def make_strategy(name: str = "adaptive", seed: int | None = None) -> Strategy:
    """A strategy by name (``adaptive`` or ``random``); ``seed`` makes its random choices repeat."""
    try:
        cls = STRATEGIES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}") from None
    return cls(seed=seed)


def play_rounds(strategy: Strategy, player: Sequence[Gesture | str]) -> list[Gesture]:
    """The robot's throws against a fixed list of player throws (for quick experiments)."""
    throws = []
    for move in player:
        robot = strategy.choose()
        strategy.record(player=move, robot=robot)
        throws.append(robot)
    return throws
