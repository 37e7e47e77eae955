"""A real 0-frame video written by OpenCV is refused with a message and exit 2 everywhere a video
is read: the screen game, headless play and ``vision watch`` (it used to play 5 "No hand seen!"
rounds, exit 1 and exit 0 without a word)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import ROOT, empty_video, gesture_clip

from vision.errors import SourceError
from vision.sources import open_source


@pytest.fixture
def empty(tmp_path):
    return empty_video(tmp_path / "empty.avi")


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def assert_refused(done: subprocess.CompletedProcess, path) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"the video {path} has no frames" in done.stderr
    assert "Traceback" not in done.stderr


def test_open_source_refuses_a_video_without_frames(empty):
    with pytest.raises(SourceError, match="has no frames .* record it again or pass another file"):
        open_source(empty)


def test_a_video_with_frames_still_reads_its_first_frame_first(tmp_path, datasets_dir):
    clip = gesture_clip(tmp_path / "clip.avi", ["rock", "paper"], frames_each=2, size=(64, 48))
    with open_source(clip) as source:
        indexes = [source.read().index for _ in range(4)]
    assert indexes == [0, 1, 2, 3]


def test_the_screen_game_refuses_it(empty, tmp_path):
    shots = tmp_path / "shots"
    done = run("-m", "game", "--source", str(empty), "--auto", "--screenshot-dir", str(shots))
    assert_refused(done, empty)
    assert not list(shots.glob("*.png")), "no round is played"


def test_headless_play_refuses_it(empty, tmp_path):
    log = tmp_path / "rounds.jsonl"
    done = run("-m", "game", "--headless", "--source", str(empty), "--auto", "--log", str(log))
    assert_refused(done, empty)
    assert not log.exists()


def test_vision_watch_refuses_it(empty):
    done = run("-m", "vision", "watch", "--source", str(empty))
    assert_refused(done, empty)
    assert done.stdout == ""
