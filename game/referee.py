"""The referee runs a match round by round: strategy, rounds, score, replays and the robot's body.

Plain Python, shared by the screen game and the headless game::

    ref = Referee(make_strategy("adaptive", seed=1), Match(best_of=5), Timing(), body=NullBody())
    ref.new_round(now)                # the robot's throw is chosen here, before the countdown
    for event in ref.update(now):     # call often; feed ref.observe(reading) / ref.throw(gesture)
        ...                           # Beat, Shoot, RoundResult, MatchOver
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hardware.body import NullBody, RobotBody
from vision.labels import Gesture, Outcome

from .round import Beat, Decision, Reading, Round, Shoot, Timing
from .rules import Match, Play
from .strategy import Strategy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    """A finished round: scored (``play`` set) or to be replayed (no hand seen, ``play`` None)."""

    attempt: int
    robot: Gesture
    player: Gesture
    play: Play | None
    prediction: Gesture | None  # what the robot now expects the player to throw next
    confidence: float = 0.0  # how sure the reading of the player's throw was
    replays_before: int = 0  # no-hand replays just before this round

    @property
    def outcome(self) -> Outcome | None:
        return self.play.outcome if self.play else None

    @property
    def replay(self) -> bool:
        return self.play is None


@dataclass(frozen=True)
class MatchOver:
    """``reason``: ``"won"`` (the player), ``"lost"``, ``"no hand"`` (too many replays in a row)
    or ``"time"`` (``max_attempts`` rounds played)."""

    reason: str

    @property
    def message(self) -> str:
        return {
            "won": "You win the match!",
            "lost": "The robot wins the match!",
            "no hand": "No hand seen for a while: match stopped.",
            "time": "Time's up: match stopped.",
        }.get(self.reason, self.reason)


Event = Beat | Shoot | RoundResult | MatchOver


class Referee:
    """Drives one match. ``max_replays``: consecutive no-hand rounds before the match stops."""

    def __init__(
        self,
        strategy: Strategy,
        match: Match | None = None,
        timing: Timing | None = None,
        *,
        body: RobotBody | None = None,
        max_replays: int | None = 5,
        max_attempts: int | None = None,
    ):
        self.strategy = strategy
        self.match = match if match is not None else Match()
        self.timing = timing or Timing()
        self.body = body if body is not None else NullBody()
        self.max_replays = max_replays
        self.max_attempts = max_attempts  # a hard cap on rounds played, replays included
        self.round: Round | None = None
        self.attempts = 0
        self.replays_in_a_row = 0
        self.replays = 0
        self.results: list[RoundResult] = []
        self.over: MatchOver | None = None

    def new_round(self, now: float) -> Round:
        """Start a round at ``now``; the strategy picks the robot's throw here and only here."""
        if self.over is not None:
            raise RuntimeError("the match is over")
        if self.round is not None:
            raise RuntimeError("a round is already being played")
        robot = self.strategy.choose()
        self.attempts += 1
        self.round = Round(robot, now, self.timing)
        log.debug("round %d: robot throws %s", self.attempts, robot)
        return self.round

    def observe(self, reading: Reading) -> None:
        if self.round is not None:
            self.round.observe(reading)

    def throw(self, gesture: Gesture | str) -> None:
        if self.round is not None:
            self.round.throw(gesture)

    def update(self, now: float) -> list[Event]:
        if self.round is None:
            return []
        events: list[Event] = []
        for event in self.round.update(now):
            if isinstance(event, Beat):
                self.body.countdown(event.step, event.total)
                events.append(event)
            elif isinstance(event, Shoot):
                self.body.show_throw(event.robot)
                events.append(event)
            elif isinstance(event, Decision):
                events.extend(self._finish(self.round, event))
        return events

    def _finish(self, rnd: Round, decision: Decision) -> list[Event]:
        self.round = None
        play = None
        replays_before = self.replays_in_a_row
        if decision.player.is_throw:
            play = self.match.record(decision.player, rnd.robot)
            self.strategy.record(player=decision.player, robot=rnd.robot)
            self.body.show_outcome(play.outcome)
            self.replays_in_a_row = 0
        else:
            self.replays += 1
            self.replays_in_a_row += 1
        result = RoundResult(
            self.attempts,
            rnd.robot,
            decision.player,
            play,
            self.strategy.prediction(),
            decision.confidence,
            replays_before,
        )
        self.results.append(result)
        log.info(
            "attempt %d: player %s, robot %s -> %s",
            self.attempts,
            decision.player,
            rnd.robot,
            result.outcome or "replay",
        )
        events: list[Event] = [result]
        if self.match.is_over:
            self.over = MatchOver("won" if self.match.winner == "player" else "lost")
        elif self.max_replays is not None and self.replays_in_a_row >= self.max_replays:
            self.over = MatchOver("no hand")
        elif self.max_attempts is not None and self.attempts >= self.max_attempts:
            self.over = MatchOver("time")
        if self.over is not None:
            events.append(self.over)
        return events
