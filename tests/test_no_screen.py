"""No screen: the game says so and exits 2, offering --headless, instead of running invisibly on
SDL's ``offscreen`` driver until killed (over SSH, or Pi OS Lite before KMS is set)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from helpers import ROOT


def run_game(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "game", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - start


def test_no_real_screen_is_a_clear_error_and_exit_2(tmp_path):
    """X11 is asked for where there is none, so SDL falls back to ``offscreen``, as it does on
    its own without a display (the list keeps a test machine's real screen out of it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"SDL_VIDEODRIVER": "x11,offscreen", "SDL_AUDIODRIVER": "dummy"}
    shots = tmp_path / "shots"
    done, seconds = run_game(
        env, "--source", "keyboard", "--auto", "--rounds", "1", "--screenshot-dir", str(shots)
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: no screen found (SDL's video driver: offscreen): play without a screen with "
        "--headless, or on a Pi without a desktop run with SDL_VIDEODRIVER=kmsdrm as a user in "
        "the video, input and render groups"
    ]
    assert not shots.exists() or not list(shots.iterdir()), "no game ran"
    assert seconds < 30


def test_a_driver_asked_for_by_name_is_used(tmp_path):
    """``SDL_VIDEODRIVER=dummy`` (tests, screenshots on a server) is meant: the game plays."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    shots = tmp_path / "shots"
    done, _ = run_game(
        env, "--source", "keyboard", "--auto", "--rounds", "1", "--speed", "8",
        "--screenshot-dir", str(shots),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (shots / "001-attract.png").exists()
