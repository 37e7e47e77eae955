"""Rules, rounds and the referee in plain Python with a fake clock: whole matches in ms."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import pytest

from game.referee import MatchOver, Referee, RoundResult
from game.round import Beat, Decision, Phase, Round, Shoot, Timing
from game.rules import Match
from game.strategy import Strategy, make_strategy
from hardware.body import NullBody
from vision.labels import Gesture, Outcome

R, P, S, N = Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS, Gesture.NONE
TICK = 0.02


@dataclass(frozen=True)
class FakeReading:
    gesture: Gesture
    confidence: float
    timestamp: float
    frame_index: int


class Camera:
    """Scripted gestures: ``show(g)`` until the next call; a reading per tick, like the stream."""

    def __init__(self):
        self.gesture = N
        self.confidence = 0.9
        self.index = 0

    def reading(self, now: float) -> FakeReading:
        self.index += 1
        return FakeReading(self.gesture, self.confidence, now, self.index)


def play_round(ref: Referee, camera: Camera, now: float, before: Gesture, after: Gesture):
    """One attempt: ``before`` shown during the countdown, ``after`` from "shoot" on."""
    rnd = ref.new_round(now)
    events = []
    while ref.round is not None:
        camera.gesture = after if now >= rnd.shoot_time else before
        ref.observe(camera.reading(now))
        events += ref.update(now)
        now += TICK
    return now, events


# ---- Match ------------------------------------------------------------------------------------


def test_best_of_five_needs_three_wins_and_draws_do_not_count():
    m = Match(best_of=5)
    for player, robot in [(R, S), (R, R), (P, S), (S, P), (P, P), (R, S)]:
        assert not m.is_over
        m.record(player, robot)
    assert (m.wins, m.losses, m.draws) == (3, 1, 2)
    assert m.is_over and m.winner == "player" and m.rounds == 6
    with pytest.raises(RuntimeError):
        m.record(R, S)


def test_streaks_and_endless():
    m = Match(best_of=None)
    for player, robot in [(R, P), (R, P), (R, R), (R, P), (P, R), (P, R)]:
        m.record(player, robot)
    assert m.best_loss_streak == 3  # the draw does not break a streak
    assert m.streak == 2 and m.best_win_streak == 2
    assert "2 in a row" in m.describe_streak()
    assert not m.is_over and m.winner is None and m.wins_needed is None


def test_bad_match_and_bad_throws():
    with pytest.raises(ValueError, match="positive"):
        Match(best_of=0)
    with pytest.raises(ValueError):
        Match().record(N, R)


# ---- Round ------------------------------------------------------------------------------------


def test_round_beats_shoot_and_only_readings_after_shoot_count():
    timing = Timing(beat=0.5, beats=4, capture=0.6)
    rnd = Round(S, start=10.0, timing=timing)
    assert rnd.shoot_time == pytest.approx(11.5) and rnd.end_time == pytest.approx(12.1)
    events = rnd.update(10.0)
    assert events == [Beat(1, 4)] and events[0].word == "Rock"
    # a confident rock before "shoot" must not count
    for i, t in enumerate((10.6, 11.0, 11.4)):
        rnd.observe(FakeReading(R, 0.99, t, i))
    assert rnd.update(11.49) == [Beat(2, 4), Beat(3, 4)]
    assert not rnd.revealed
    events = rnd.update(11.5)
    assert events == [Beat(4, 4), Shoot(S)] and events[0].word == "Shoot!"
    rnd.observe(FakeReading(P, 0.9, 11.55, 10))
    rnd.observe(FakeReading(P, 0.9, 11.55, 10))  # the same frame twice counts once
    rnd.observe(FakeReading(S, 0.3, 11.6, 11))  # not confident
    rnd.observe(FakeReading(P, 0.8, 11.7, 12))
    assert rnd.update(12.0) == []
    (decision,) = rnd.update(12.2)
    assert decision.player is P and decision.votes == 2 and decision.readings == 3
    assert decision.confidence == pytest.approx(0.85)
    assert rnd.phase is Phase.DONE and rnd.update(13.0) == []


def test_round_without_a_confident_hand_is_none():
    rnd = Round(R, 0.0, Timing(beat=0.1, capture=0.2))
    rnd.update(0.3)
    rnd.observe(FakeReading(P, 0.9, 0.31, 1))  # one vote is not enough (min_votes=2)
    rnd.observe(FakeReading(N, 0.99, 0.32, 2))
    events = rnd.update(0.6)
    assert events == [Decision(N, 0, 2)]


def test_explicit_throw_decides_at_shoot_not_before():
    rnd = Round(P, 0.0, Timing(beat=0.1, capture=5.0))
    rnd.update(0.0)
    rnd.throw("scissors")
    assert rnd.update(0.15) == [Beat(2, 4)]  # still counting down
    events = rnd.update(0.3)
    assert events[-2:] == [Shoot(P), Decision(S, 1, 0, 1.0)]


def test_robot_throw_is_fixed_and_must_be_a_throw():
    rnd = Round("rock", 0.0)
    with pytest.raises(AttributeError):
        rnd.robot = P
    with pytest.raises(ValueError):
        Round(N, 0.0)
    with pytest.raises(ValueError):
        Timing(beat=0)
    assert Timing(beat=1.0, capture=2.0).faster(4).beat == 0.25


# ---- Referee: whole matches -------------------------------------------------------------------


class RecordingBody(NullBody):
    def __init__(self):
        self.calls = []

    def countdown(self, step, total):
        self.calls.append(("countdown", step, total))

    def show_throw(self, gesture):
        self.calls.append(("throw", gesture))

    def show_outcome(self, outcome):
        self.calls.append(("outcome", outcome))


def test_a_whole_match_with_scripted_gestures_and_a_fake_clock():
    body = RecordingBody()
    ref = Referee(make_strategy("adaptive", seed=3), Match(best_of=5), Timing(), body=body)
    camera, now, results = Camera(), 100.0, []
    script = [R, N, P, S, R, P, S, R, P, S, R, P]
    for gesture in script:
        now, events = play_round(ref, camera, now, before=N, after=gesture)
        results += [e for e in events if isinstance(e, RoundResult)]
        if ref.over is not None:
            assert isinstance(events[-1], MatchOver)
            break
    match = ref.match
    assert match.is_over and max(match.wins, match.losses) == 3
    assert [r.player for r in results] == script[: len(results)]
    assert results[1].replay and results[1].outcome is None  # no hand: replayed, never scored
    assert ref.replays == 1 and match.rounds == len(results) - 1
    assert ref.over.reason == ("won" if match.winner == "player" else "lost")
    # the body saw every beat, every throw at "shoot" and every scored outcome
    assert body.calls[:5] == [("countdown", i, 4) for i in (1, 2, 3, 4)] + [
        ("throw", results[0].robot)
    ]
    assert [c[1] for c in body.calls if c[0] == "outcome"] == [p.outcome for p in match.plays]
    assert [c[1] for c in body.calls if c[0] == "throw"] == [r.robot for r in results]


def test_no_hand_again_and_again_ends_the_match():
    ref = Referee(make_strategy("random", seed=1), Match(3), Timing(), max_replays=3)
    camera, now = Camera(), 0.0
    for _ in range(3):
        now, events = play_round(ref, camera, now, before=N, after=N)
    assert events[-1] == MatchOver("no hand") and "No hand" in events[-1].message
    assert ref.match.rounds == 0 and ref.replays == 3
    with pytest.raises(RuntimeError):
        ref.new_round(now)


def test_attempt_cap_bounds_a_match():
    ref = Referee(make_strategy("random", seed=1), Match(99), Timing(), max_attempts=4)
    camera, now = Camera(), 0.0
    for _ in range(4):
        now, _events = play_round(ref, camera, now, before=N, after=R)
    assert ref.over == MatchOver("time")


# ---- fairness ---------------------------------------------------------------------------------


class SpyStrategy:
    """Only the three strategy methods exist: anything else the referee touched would fail."""

    def __init__(self, log: list, clock: list):
        self._inner = make_strategy("adaptive", seed=5)
        self._log, self._clock = log, clock

    def choose(self, *args, **kwargs):
        assert not args and not kwargs, "choose() must not be given anything"
        throw = self._inner.choose()
        self._log.append(("choose", self._clock[0], throw))
        return throw

    def record(self, *, player, robot):
        self._log.append(("record", self._clock[0], Gesture(player), Gesture(robot)))
        self._inner.record(player=player, robot=robot)

    def prediction(self):
        return self._inner.prediction()


def test_strategy_never_sees_the_current_gesture():
    assert list(inspect.signature(Strategy.choose).parameters) == ["self"]
    log, clock = [], [0.0]
    ref = Referee(SpyStrategy(log, clock), Match(7), Timing())
    camera, now = Camera(), 0.0
    script = [R, R, N, P, S, S, R, P, P, S, R, R, P, S]
    finished: list[tuple[Gesture, Gesture]] = []
    for gesture in script:
        clock[0] = now
        rnd = ref.new_round(now)
        choose = log[-1]
        # chosen when the round starts, before "shoot", knowing only the finished rounds
        assert choose[0] == "choose" and choose[1] == now < rnd.shoot_time
        records = [e for e in log if e[0] == "record"]
        assert [(e[2], e[3]) for e in records] == finished
        while ref.round is not None:
            clock[0] = now
            camera.gesture = gesture if now >= rnd.shoot_time else (P if gesture is R else R)
            ref.observe(camera.reading(now))
            for event in ref.update(now):
                if isinstance(event, Shoot):
                    assert event.robot is choose[2]  # the throw shown is the one fixed earlier
                    assert log[-1] is choose  # nothing reached the strategy during the countdown
                if isinstance(event, RoundResult) and not event.replay:
                    assert log[-1] == ("record", now, gesture, choose[2])
                    finished.append((gesture, choose[2]))
            now += TICK
        if ref.over:
            break
    assert len(finished) >= 4
    assert sum(1 for e in log if e[0] == "choose") == ref.attempts


def test_judge_from_the_players_side():
    from vision.labels import judge

    assert judge(R, S) is Outcome.WIN and judge(R, P) is Outcome.LOSE
    assert judge(S, S) is Outcome.DRAW


def test_the_score_and_the_totals_read_as_words():
    from game.roundlog import Stats

    m = Match(best_of=3)
    m.record(player=Gesture.SCISSORS, robot=Gesture.ROCK)
    assert str(m) == "you 0, robot 1, 0 draws (best of 3)"
    assert str(Match(best_of=None)) == "you 0, robot 0, 0 draws"
    assert str(Stats(wins=1, losses=1, draws=1)) == "player 1 win, 1 loss, 1 draw"
    assert str(Stats(wins=2, losses=0, draws=3, void=2)) == (
        "player 2 wins, 0 losses, 3 draws, 2 void rounds"
    )
