"""``--log`` never destroys a file: content that is not a round log is refused (exit 2, file
untouched), a line it did not write is never cut, a second game on the same log is refused, and
only the log file itself is created (its folder must exist)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

from game.roundlog import RoundLog, RoundLogError, RoundRecord
from vision.labels import Gesture, Outcome

EXAMPLE = ROOT / "hardware" / "example.toml"
WIN = RoundRecord.scored(Gesture.ROCK, Gesture.PAPER, 0.9, Outcome.WIN, round=1)


def play(*args: str) -> subprocess.CompletedProcess:
    """A one-round keyboard demo on SDL's dummy screen."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    cmd = [sys.executable, "-m", "game", "--source", "keyboard", "--auto", "--rounds", "1"]
    cmd += ["--speed", "8", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_config_passed_as_the_log_is_refused_and_left_as_it_was(tmp_path):
    body = tmp_path / "body.toml"
    shutil.copy(EXAMPLE, body)
    before = body.read_bytes()
    done = play("--log", str(body))
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert (
        len(errors) == 1
        and f"--log: {body} is not a round log (line 1 is not a round: " in (errors[0])
    )
    assert "it was left as it was: pass a new file or an existing round log" in errors[0]
    assert body.read_bytes() == before
    assert "WARNING" not in done.stderr


def test_headless_play_refuses_it_too(tmp_path, datasets_dir):
    from helpers import gesture_clip

    clip = gesture_clip(tmp_path / "clip.avi", ["rock"], frames_each=3, size=(160, 120))
    body = tmp_path / "body.toml"
    shutil.copy(EXAMPLE, body)
    cmd = [sys.executable, "-m", "game", "--headless", "--source", str(clip), "--auto"]
    cmd += ["--pins", "mock", "--log", str(body)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"error: {body} is not a round log" in done.stderr
    assert body.read_bytes() == EXAMPLE.read_bytes()


def test_notes_without_a_last_newline_keep_their_last_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("buy batteries\ncall Sam")
    with pytest.raises(RoundLogError, match="line 1 is not a round: 'buy batteries'"):
        RoundLog(notes).claim()
    assert notes.read_text() == "buy batteries\ncall Sam"
    RoundLog(notes).append(WIN)  # even a direct append only ends the line, never cuts it
    assert notes.read_text().startswith("buy batteries\ncall Sam\n{")


def test_a_torn_line_of_its_own_is_still_cut(tmp_path):
    path = tmp_path / "rounds.jsonl"
    path.write_bytes(WIN.to_json().encode() + b'\n{"time": "2025-01-01T00:00:00", "rou')
    log = RoundLog(path).claim()
    log.append(WIN)
    log.close()
    assert path.read_text() == (WIN.to_json() + "\n") * 2


def test_a_second_game_on_the_same_log_is_refused(tmp_path):
    path = tmp_path / "rounds.jsonl"
    first = RoundLog(path).claim()
    try:
        done = play("--log", str(path))
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"another game is writing to {path}: stop it first, or give this one its own " in (
            done.stderr
        )
        first.append(WIN)
    finally:
        first.close()
    assert path.read_text() == WIN.to_json() + "\n"
    again = RoundLog(path).claim()  # free once the first game is done
    again.close()


def test_only_the_log_file_is_created_never_its_folder(tmp_path):
    path = tmp_path / "no-such-folder" / "rounds.jsonl"
    done = play("--log", str(path))
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"the folder {path.parent} does not exist: create the folder first" in done.stderr
    assert not path.parent.exists()
    with pytest.raises(RoundLogError):
        RoundLog(path).claim()
    assert not RoundLog(path).record(WIN)  # a direct append does not make it either
    assert not path.parent.exists()


def test_a_new_log_in_an_existing_folder_is_written(tmp_path):
    path = tmp_path / "rounds.jsonl"
    done = play("--log", str(path), "--seed", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert path.read_text().count("\n") >= 1
