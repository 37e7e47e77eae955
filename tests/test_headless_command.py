"""``python -m game --headless`` as a user runs it: a real clip of real photos, the shipped model,
mock pins; and a clean stop on SIGTERM (systemd) and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import gesture_clip
from vision.labels import Gesture, judge

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "hardware" / "example.toml"
FIELDS = {"time", "round", "robot", "player", "confidence", "outcome", "replays"}


def game(*args: str) -> list[str]:
    return [sys.executable, "-m", "game", "--headless", *map(str, args)]


@pytest.fixture(scope="module")
def clip(datasets_dir, tmp_path_factory) -> Path:
    """Real rock photos, 15 frames each, looped by the game."""
    folder = tmp_path_factory.mktemp("headless")
    return gesture_clip(folder / "clip.avi", ["rock"] * 4, frames_each=15, size=(320, 240))


@pytest.fixture(scope="module")
def three_rounds(clip, tmp_path_factory):
    """The issue's command, run once for the tests below."""
    log = tmp_path_factory.mktemp("log") / "rounds.jsonl"
    cmd = game("--source", clip, "--rounds", 3, "--auto", "--pins", "mock", "--log", log)
    cmd += ["--seed", "1"]
    env = os.environ | {"RPS_ROBOT_HOME": str(log.parent)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return done, log


def test_best_of_three_exits_0_and_writes_a_line_a_round(three_rounds):
    """``--rounds 3`` is a best-of-3 match, as in the screen game: over when one side has 2 wins
    (the clip's fists are always seen: no void), and the last line names that side."""
    done, log = three_rounds
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = [json.loads(line) for line in log.read_text().splitlines()]
    outcomes = [r["outcome"] for r in rounds]
    wins, losses = outcomes.count("win"), outcomes.count("lose")
    assert "void" not in outcomes and max(wins, losses) == 2, outcomes
    assert min(wins, losses) < 2 and outcomes[-1] == ("win" if wins == 2 else "lose")
    for number, r in enumerate(rounds, 1):
        assert set(r) == FIELDS and r["round"] == number
        assert r["robot"] in ("rock", "paper", "scissors")
        assert r["outcome"] in ("win", "lose", "draw")
        assert 0.0 <= r["confidence"] <= 1.0
    end = "You win the match!" if wins == 2 else "The robot wins the match!"
    assert f"played {len(rounds)} rounds: {end}" in done.stderr
    assert "Traceback" not in done.stderr


def test_three_rounds_read_the_players_rock(three_rounds):
    """The shipped model reads real rock photos as rock, and each round is judged on that."""
    _, log = three_rounds
    rounds = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["player"] for r in rounds] == ["rock"] * len(rounds) and len(rounds) >= 2
    for r in rounds:
        assert r["outcome"] == judge(Gesture.ROCK, Gesture(r["robot"])).value
        assert r["confidence"] >= 0.55


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_stops_play_with_the_body_safe(clip, tmp_path, signum, code):
    log = tmp_path / "rounds.jsonl"
    cmd = game("--source", clip, "--endless", "--auto", "--pins", "mock", "--hardware", EXAMPLE)
    cmd += ["--log", log, "--speed", "0.5"]
    with open(tmp_path / "stderr.txt", "w+") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            # a shell's background job starts with SIGINT ignored, and so would the game:
            # give it the default disposition, as a terminal would
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 60
            while not (log.exists() and log.read_text().count("\n") >= 1):
                assert proc.poll() is None, Path(err.name).read_text()[-3000:]
                assert time.monotonic() < deadline, "no round was played within a minute"
                time.sleep(0.1)
            proc.send_signal(signum)
            assert proc.wait(timeout=30) == code
        finally:
            if proc.poll() is None:
                proc.kill()
        err.seek(0)
        text = err.read()
    stop = text.index("stopped by SIGTERM" if signum == signal.SIGTERM else "stopped by Ctrl-C")
    after = text[stop:]
    assert "GPIO18 (servo) -> low" in after  # the servo's pulses stopped (detached)
    assert "robot body closed: servos back to neutral and detached" in after
    assert after.rstrip().endswith("headless play exited cleanly")
    assert "Traceback" not in text
    for line in log.read_text().splitlines():  # every line written is whole
        assert set(json.loads(line)) == FIELDS


def test_a_mistake_exits_2_with_only_the_clean_message(tmp_path):
    """No gpiozero PinFactoryFallback noise before the message, no 'exited cleanly' after it."""
    cmd = game("--source", tmp_path, "--auto", "--hardware", EXAMPLE)  # --pins auto on a PC
    env = os.environ | {"GPIOZERO_PIN_FACTORY": ""}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        pytest.skip("this machine has real GPIO pins")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "no GPIO pins to drive here" in done.stderr and "--pins mock" in done.stderr
    assert "PinFactoryFallback" not in done.stderr and "warnings.warn" not in done.stderr
    assert "exited cleanly" not in done.stderr
    assert done.stderr.strip().startswith("error:"), done.stderr[-3000:]


def test_a_log_that_is_not_a_regular_file_is_not_read_back(clip, tmp_path):
    """``--log /dev/full``: reading it back would never end; writing warns, play goes on."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    cmd = game("--source", clip, "--rounds", 1, "--auto", "--pins", "mock", "--log", "/dev/full")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "/dev/full is not a regular file" in done.stderr
    assert done.stderr.count("cannot write the round log /dev/full") >= 1
    assert re.search(r"played \d+ rounds", done.stderr)  # a best-of-1 match, draws and all


def test_the_log_reads_in_words_not_reprs(three_rounds):
    """Each round in words with a rounded confidence; no ``Match(...)`` repr, no ``1 losses``."""
    done, _ = three_rounds
    assert "Match(" not in done.stderr and " 1 losses" not in done.stderr
    line = re.compile(
        r"round 1: robot (rock|paper|scissors), player (rock|paper|scissors|none) \(\d{1,3}% "
        r"sure\): (the player wins|the robot wins|a draw|no hand seen, not scored) \| match: "
        r"you \d, robot \d, \d draws? \(best of 3\) \| log: player \d wins?, \d loss(es)?, "
        r"\d draws?"
    )
    assert line.search(done.stderr), done.stderr[-3000:]
