"""Headless play in-process: a best-of-N match, replays, the round log, the button, mock pins.

The gesture stream here is the real one (MemorySource, GestureStream, smoothing), fed solid
colour frames that a colour-code classifier reads: these tests are about the game flow, not the
model (tests/test_headless_command.py runs the shipped model on real photos).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import hardware
from game.headless import HeadlessGame, HeadlessSettings, run_headless, settings_from_args
from game.round import Timing
from game.roundlog import RoundLog, RoundRecord, Stats, default_log_path
from game.strategy import make_strategy
from hardware.config import parse_config
from vision.classifier import Prediction, Recogniser
from vision.labels import CLASS_ORDER, Gesture, Outcome, judge
from vision.sources import MemorySource
from vision.stream import GestureStream

COLOURS = {  # BGR
    Gesture.ROCK: (0, 0, 255),
    Gesture.PAPER: (255, 0, 0),
    Gesture.SCISSORS: (0, 255, 0),
    Gesture.NONE: (0, 0, 0),
}
BODY = {
    "servo": {"pin": 17, "min_pulse_ms": 0.5, "max_pulse_ms": 2.5},
    "throw_leds": {"rock": 22, "paper": 23, "scissors": 24},
    "outcome_leds": {"win": 25, "lose": 8, "draw": 7},
    "button": {"pin": 4, "bounce_ms": 0},
}
EXAMPLE = Path(hardware.__file__).parent / "example.toml"
OUTCOME_PINS = {Outcome.WIN: 25, Outcome.LOSE: 8, Outcome.DRAW: 7}


class ColourCode(Recogniser):
    """A classifier that reads a solid frame's colour (the game is under test, not the model)."""

    classes = CLASS_ORDER

    def __call__(self, image: np.ndarray) -> Prediction:
        bgr = tuple(int(v) for v in image.reshape(-1, 3).mean(axis=0).round())
        gesture = next(g for g, c in COLOURS.items() if c == bgr)
        probs = np.array([g is gesture for g in self.classes], np.float32)
        return Prediction(gesture, 1.0, probs)


def stream_of(*runs: tuple[Gesture, int]) -> GestureStream:
    """A looping stream: ``runs`` of (gesture, frames) at 15 fps, driven by ``step()``."""
    frames = [np.full((48, 64, 3), COLOURS[g], np.uint8) for g, n in runs for _ in range(n)]
    return GestureStream(MemorySource(frames, fps=15, loop=True), ColourCode())


@pytest.fixture
def body(pins):
    body = hardware.create_body(parse_config(BODY), settle_s=0.0)
    yield body
    body.close()


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rounds_are_scored_shown_and_logged(tmp_path, pins, body):
    log = RoundLog(tmp_path / "rounds.jsonl")
    game = HeadlessGame(
        body, stream_of((Gesture.PAPER, 30)), make_strategy("random", seed=3), log,
        HeadlessSettings(rounds=5, auto=True),
    )  # fmt: skip
    for pin in OUTCOME_PINS.values():
        pins.pin(pin).clear_states()
    played = game.play()
    rounds = lines(log.path)
    assert [r["round"] for r in rounds] == list(range(1, played + 1))
    for r in rounds:
        assert r["player"] == "paper" and r["confidence"] == 1.0 and r["replays"] == 0
        assert r["outcome"] == judge(Gesture.PAPER, Gesture(r["robot"])).value
        assert set(r) == {"time", "round", "robot", "player", "confidence", "outcome", "replays"}
    outcomes = [Outcome(r["outcome"]) for r in rounds]
    stats = Stats(outcomes.count(Outcome.WIN), outcomes.count(Outcome.LOSE))
    stats.draws = outcomes.count(Outcome.DRAW)
    assert game.stats == stats == log.stats()
    # best of 5, as on the screen: over when one side has 3 wins, draws do not count
    assert max(stats.wins, stats.losses) == 3 and played >= 3
    last = Outcome(rounds[-1]["outcome"])
    assert last is not Outcome.DRAW and (stats.wins == 3) == (last is Outcome.WIN)
    assert game.over.reason == ("won" if stats.wins == 3 else "lost")
    for outcome, pin in OUTCOME_PINS.items():  # each outcome LED lit once per such round
        lit = sum(1 for s in pins.pin(pin).states if s.state)
        assert lit == outcomes.count(outcome)
    last_robot = Gesture(rounds[-1]["robot"])
    assert body.servo.servo.angle == pytest.approx(body.config.servo.angles[last_robot])


def test_no_hand_is_replayed_a_few_times_then_the_round_is_void_and_the_match_stops(tmp_path, body):
    log = RoundLog(tmp_path / "rounds.jsonl")
    game = HeadlessGame(
        body, stream_of((Gesture.NONE, 10)), make_strategy("adaptive", seed=1), log,
        HeadlessSettings(rounds=3, auto=True, max_replays=3),
    )  # fmt: skip
    assert game.play() == 1
    rounds = lines(log.path)
    assert [(r["player"], r["outcome"], r["replays"]) for r in rounds] == [("none", "void", 3)]
    assert game.referee.attempts == 4  # 1 + 3 replays
    assert game.stats == Stats(void=1) and game.over.reason == "no hand"


def test_endless_play_goes_on_after_a_void_round(tmp_path, body):
    log = RoundLog(tmp_path / "rounds.jsonl")
    game = HeadlessGame(
        body, stream_of((Gesture.NONE, 10)), make_strategy("adaptive", seed=1), log,
        HeadlessSettings(rounds=None, auto=True, max_replays=1),
    )  # fmt: skip
    for _ in range(2):
        assert game.play_round().outcome == "void" and game.over is None
    assert game.stats == Stats(void=2)


def test_a_replayed_round_is_scored_once_a_hand_shows_up(tmp_path, body):
    log = RoundLog(tmp_path / "rounds.jsonl")
    runs = ((Gesture.NONE, 45), (Gesture.ROCK, 400))  # no hand for the first countdown only
    game = HeadlessGame(
        body, stream_of(*runs), make_strategy("random", seed=5), log,
        HeadlessSettings(rounds=1, auto=True),
    )  # fmt: skip
    game.play()
    record = lines(log.path)[0]
    assert (record["player"], record["replays"]) == ("rock", 1)


def test_each_round_waits_for_the_button(tmp_path, pins, body):
    polls = []
    button = pins.pin(4)

    def sleep(_seconds: float) -> None:  # the game's idle wait: look at the body, then press
        polls.append(
            (
                round(body.servo.servo.angle),
                [pins.pin(p).state for p in (22, 23, 24)],
            )
        )
        if len(polls) % 3 == 0:
            button.drive_low()
            button.drive_high()

    log = RoundLog(tmp_path / "rounds.jsonl")
    game = HeadlessGame(
        body, stream_of((Gesture.SCISSORS, 30)), make_strategy("random", seed=2), log,
        HeadlessSettings(rounds=3, auto=False), sleep=sleep,
    )  # fmt: skip
    played = game.play()
    assert played >= 2 and max(game.match.wins, game.match.losses) == 2  # best of 3
    assert len(polls) == 3 * played  # three idle polls before each round
    assert all(angle == 0 and not any(leds) for angle, leds in polls)  # attract: all at rest
    assert [r["player"] for r in lines(log.path)] == ["scissors"] * played


def test_stats_and_the_strategy_survive_a_restart_and_a_torn_line(tmp_path, body):
    path = tmp_path / "rounds.jsonl"
    first = RoundLog(path)
    first.append(RoundRecord.scored(Gesture.ROCK, Gesture.PAPER, 0.9, Outcome.WIN, round=1))
    first.append(RoundRecord.scored(Gesture.ROCK, Gesture.ROCK, 0.8, Outcome.DRAW, round=2))
    with open(path, "ab") as f:
        f.write(b'{"time": "2025-01-01T00:00:00", "round": 3, "robot": "pa')  # power cut
    strategy = make_strategy("adaptive", seed=1)
    game = HeadlessGame(
        body, stream_of((Gesture.ROCK, 30)), strategy, RoundLog(path),
        HeadlessSettings(rounds=1, auto=True),
    )  # fmt: skip
    assert game.stats == Stats(wins=1, draws=1)
    assert len(strategy.history) == 2  # learned the rounds before the restart
    played = game.play()
    rounds = lines(path)  # the torn line is gone, the new ones are whole
    assert [r["round"] for r in rounds] == list(range(1, 3 + played))
    assert RoundLog(path).stats().rounds == 2 + played


def test_round_log_reads_tolerantly(tmp_path, caplog):
    path = tmp_path / "rounds.jsonl"
    log = RoundLog(path)
    assert log.records() == [] and log.stats() == Stats()
    log.append(RoundRecord.void(Gesture.PAPER, 0.31, replays=2, round=1))
    log.append(RoundRecord.scored(Gesture.PAPER, Gesture.SCISSORS, 0.87654, Outcome.WIN))
    raw = path.read_text()
    assert raw.endswith("\n") and raw.count("\n") == 2
    path.write_text(raw.replace("\n", "\nnot json\n", 1) + '{"outcome": "lo')
    records = log.records()
    assert [r["outcome"] for r in records] == ["void", "win"]
    assert records[1]["confidence"] == 0.8765
    assert log.stats() == Stats(wins=1, void=1)
    assert "torn last line" in caplog.text and ":2: ignoring" in caplog.text


def test_default_log_lives_in_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RPS_ROBOT_HOME", str(tmp_path))
    assert default_log_path() == tmp_path / "rounds.jsonl"
    assert RoundLog().path == tmp_path / "rounds.jsonl"


def args(**kw) -> argparse.Namespace:
    base = dict(
        source=None, rounds=3, strategy="adaptive", model=None, seed=1, auto=True, threads=1,
        endless=False, mute=True, headless=True, hardware=None, pins="mock", log=None,
    )  # fmt: skip
    return argparse.Namespace(**(base | kw))


def test_settings_from_args():
    assert settings_from_args(args(rounds=3)).rounds == 3
    assert settings_from_args(args(rounds=3, endless=True)).rounds is None
    assert settings_from_args(args(rounds=None, auto=False)) == HeadlessSettings()
    fast = settings_from_args(args(speed=2.0, max_replays=5))
    assert fast.max_replays == 5 and fast.timing == HeadlessSettings().timing.faster(2.0)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(auto=False), "needs a start button"),
        (dict(auto=False, hardware=str(EXAMPLE)), "with --pins mock nobody can press"),
        (dict(hardware="missing.toml"), "no hardware config at missing.toml"),
        (dict(source="keyboard"), "keyboard play needs the screen game"),
        (dict(source="no-such-clip.avi"), "no such file"),
    ],
)
def test_user_mistakes_exit_2_with_a_message(tmp_path, capsys, kw, message):
    assert run_headless(args(log=str(tmp_path / "r.jsonl"), **kw)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.jsonl").exists()


def test_a_camera_that_does_not_open_exits_1_for_a_retry(tmp_path, capsys):
    assert run_headless(args(source="/dev/video-nope", log=str(tmp_path / "r.jsonl"))) == 1
    err = capsys.readouterr().err
    assert "error: no camera device /dev/video-nope" in err and "Traceback" not in err


def test_a_live_source_plays_in_real_time_on_the_stream_thread(tmp_path, body):
    frames = [np.full((48, 64, 3), COLOURS[Gesture.ROCK], np.uint8)] * 5
    stream = GestureStream(MemorySource(frames, fps=30, loop=True, realtime=True), ColourCode())
    fast = Timing().faster(4.0)
    game = HeadlessGame(
        body, stream, make_strategy("random", seed=4), RoundLog(tmp_path / "r.jsonl"),
        HeadlessSettings(rounds=1, auto=True, timing=fast, hold=0.0),
    )  # fmt: skip
    with stream:
        played = game.play()
    records = lines(tmp_path / "r.jsonl")
    assert len(records) == played and records[-1]["outcome"] != "draw"  # best of 1
    assert all(r["player"] == "rock" and r["confidence"] == 1.0 for r in records)
    assert not stream.running


def test_an_unwritable_round_log_does_not_stop_play(tmp_path, body, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    game = HeadlessGame(
        body, stream_of((Gesture.PAPER, 30)), make_strategy("random", seed=1),
        RoundLog(blocker / "rounds.jsonl"), HeadlessSettings(rounds=2, auto=True),
    )  # fmt: skip
    assert game.play() == game.stats.rounds >= 2
    assert "cannot write the round log" in caplog.text


def test_a_torn_last_line_is_reported_once(tmp_path, body, caplog):
    path = tmp_path / "rounds.jsonl"
    RoundLog(path).append(RoundRecord.scored(Gesture.ROCK, Gesture.PAPER, 0.9, Outcome.WIN))
    with open(path, "ab") as f:
        f.write(b'{"time": "2025-01-01T00:00:00", "round": 2, "robot": "pa')  # power cut
    game = HeadlessGame(
        body, stream_of((Gesture.ROCK, 30)), make_strategy("adaptive", seed=1), RoundLog(path),
        HeadlessSettings(rounds=1, auto=True),
    )  # fmt: skip
    game.play()  # reads the stats, warms the strategy up, cuts the line, appends
    assert caplog.text.count("torn last line") == 1, caplog.text


def test_a_long_log_is_read_from_its_end_within_the_bound(tmp_path, caplog):
    path = tmp_path / "rounds.jsonl"
    line = RoundRecord.scored(Gesture.ROCK, Gesture.PAPER, 0.9, Outcome.WIN).to_json() + "\n"
    path.write_text(line * 1000)
    log = RoundLog(path, max_read=100 * len(line) + 7)  # not on a line boundary
    records = log.records()
    assert len(records) == 100 and all(r["outcome"] == "win" for r in records)
    assert "reading only its last" in caplog.text and "not a round" not in caplog.text


def test_a_device_as_the_log_reads_as_empty(caplog):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    log = RoundLog("/dev/zero")  # endless zeros: reading it whole would never end
    assert log.records() == [] and log.stats() == Stats()
    assert caplog.text.count("is not a regular file") == 1
