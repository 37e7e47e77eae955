"""``python -m game``: the demo on a real video, no-camera fallback, bad arguments, --headless."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import broken_model_copy, gesture_clip

from game import cli

ROOT = Path(__file__).resolve().parent.parent


def run_game(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    return subprocess.run(
        [sys.executable, "-m", "game", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def screens(folder: Path) -> list[str]:
    return [p.stem.split("-", 1)[1] for p in sorted(folder.glob("*.png"))]


def test_demo_plays_a_whole_match_on_a_video_of_real_photos(datasets_dir, tmp_path):
    clip = gesture_clip(tmp_path / "clip.avi", ["rock", "paper", "scissors"], frames_each=6)
    shots, log = tmp_path / "shots", tmp_path / "rounds.jsonl"
    result = run_game(
        "--source", str(clip), "--rounds", "3", "--auto", "--speed", "4", "--seed", "1",
        "--max-replays", "3", "--screenshot-dir", str(shots), "--log", str(log),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    seen = screens(shots)
    assert seen[0] == "attract" and seen[-1] == "matchend"
    assert seen.count("countdown") >= 2 and seen.count("result") == seen.count("countdown")
    # the placeholder model's guesses mean nothing: the match ends won, lost or after replays
    rounds = [line for line in result.stderr.splitlines() if "game.referee: attempt" in line]
    assert len(rounds) == seen.count("result") >= 2
    assert all(("replay" in r) or any(o in r for o in ("win", "lose", "draw")) for r in rounds)
    if log.exists():
        for line in log.read_text().splitlines():
            assert json.loads(line)["outcome"] in ("win", "lose", "draw", "void")


@pytest.mark.skipif(Path("/dev/video0").exists(), reason="a camera 0 is plugged in here")
def test_no_default_camera_says_so_and_plays_with_the_keyboard(tmp_path):
    shots, log = tmp_path / "shots", tmp_path / "rounds.jsonl"
    result = run_game(
        "--auto", "--rounds", "1", "--speed", "8", "--mute",
        "--screenshot-dir", str(shots), "--log", str(log), "--seed", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no camera found" in result.stderr and "WARN:" not in result.stderr  # OpenCV's own
    seen = screens(shots)
    assert seen[:2] == ["nocamera", "attract"] and seen[-1] == "matchend"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all(r["outcome"] in ("win", "lose", "draw") for r in records)
    assert sum(r["outcome"] != "draw" for r in records) == 1  # best of 1: one decided round


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rounds", "0"], "--rounds"),
        (["--source", "no/such/clip.avi"], "no such file"),
        (["--strategy", "psychic"], "invalid choice"),
        (["--model", "/no/such/model"], "--model"),
        (["--hardware", "/no/such/body.toml"], "--hardware"),
        (["--hardware", "hardware"], "--hardware hardware: is a folder, not a file"),
        (["--speed", "0"], "--speed"),
        (["--pins", "gpio"], "invalid choice"),
    ],
)
def test_user_mistakes_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_headless_is_dispatched_with_the_parsed_arguments(monkeypatch):
    import game.headless

    seen = {}

    def fake_run_headless(args):
        seen["args"] = args
        return 7

    monkeypatch.setattr(game.headless, "run_headless", fake_run_headless)
    code = cli.main(["--headless", "--source", "keyboard", "--rounds", "3", "--pins", "mock"])
    assert code == 7
    args = seen["args"]
    assert (args.hardware, args.pins, args.rounds, args.log) == ("none", "mock", 3, None)
    assert args.strategy == "adaptive" and args.source == "keyboard"


def test_importing_the_game_opens_nothing():
    code = (
        "import sys, game, game.app, game.screens, game.cli, game.strategy, game.referee;"
        "import pygame; assert not pygame.display.get_init();"
        "assert 'torch' not in sys.modules and 'training' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_a_log_whose_folder_is_a_file_is_refused_before_playing(tmp_path):
    """(It used to warn and play on; a log that cannot be written later, on a full card, still
    only warns: see test_headless_play.)"""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    result = run_game(
        "--source", "keyboard", "--auto", "--rounds", "1", "--speed", "8", "--mute",
        "--log", str(blocker / "rounds.jsonl"), "--seed", "2",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"the folder {blocker} is a file: create the folder first" in result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_text() == "a file where the log's folder should be"


def _refused(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2 with a message, no traceback, no match played on invented throws."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "game.referee: attempt" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr[-3000:]


@pytest.mark.parametrize(
    "kind", ["truncated-bin", "broken-param", "incomplete-json", "empty-folder"]
)
def test_a_broken_model_asked_for_is_an_error_not_keyboard_play(tmp_path, kind):
    model = broken_model_copy(tmp_path, kind)
    result = run_game("--model", str(model), "--auto", "--rounds", "1", "--speed", "8", "--mute")
    _refused(result, f"--model {model}", str(model))
    assert "ModelBin" not in result.stderr.replace("(ncnn: ModelBin", "")  # no raw ncnn lines


@pytest.mark.parametrize("kind", ["not-a-video", "empty-folder", "camera-7", "picam"])
def test_a_source_asked_for_that_cannot_be_used_is_an_error(tmp_path, kind):
    if kind == "picam" and importlib.util.find_spec("picamera2") is not None:
        pytest.skip("picamera2 is installed here")
    source = {
        "not-a-video": str(ROOT / "README.md"),
        "empty-folder": str(tmp_path),
        "camera-7": "7",
        "picam": "picam",
    }[kind]
    if kind == "camera-7" and Path("/dev/video7").exists():
        pytest.skip("a camera 7 exists here")
    result = run_game("--source", source, "--auto", "--rounds", "1", "--speed", "8", "--mute")
    _refused(result, f"--source {source}", "--source keyboard")
    assert "WARN:" not in result.stderr  # OpenCV's own lines stay quiet


def test_an_unwritable_screenshot_dir_is_refused_up_front(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_game("--source", "keyboard", "--screenshot-dir", str(blocker / "shots"))
    _refused(result, "--screenshot-dir", "pass a folder you can write to")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        result = run_game("--source", "keyboard", "--screenshot-dir", str(read_only))
    finally:
        read_only.chmod(0o755)
    _refused(result, f"--screenshot-dir {read_only}: {read_only} is read-only")


def test_a_screenshot_that_cannot_be_written_warns_once_and_play_goes_on(tmp_path):
    from game.screens import SCREENS

    shots = tmp_path / "shots"
    for number in range(1, 40):  # every name a shot could take is a folder: each save fails
        for name in SCREENS:
            (shots / f"{number:03d}-{name}.png").mkdir(parents=True)
    result = run_game(
        "--source", "keyboard", "--auto", "--rounds", "1", "--speed", "8", "--mute",
        "--screenshot-dir", str(shots), "--seed", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("cannot save the screenshot") == 1, result.stderr[-3000:]
    assert "SDL_VIDEODRIVER" not in result.stderr and "Traceback" not in result.stderr
    assert "game.referee: attempt" in result.stderr


def test_a_broken_personal_model_plays_on_the_shipped_one_and_says_so(datasets_dir, tmp_path):
    import shutil

    from game.inputs import open_input
    from vision.paths import SHIPPED_MODEL_DIR, active_model_dir

    shutil.copytree(SHIPPED_MODEL_DIR, active_model_dir())
    (active_model_dir() / "model.ncnn.bin").write_bytes(b"")
    clip = gesture_clip(tmp_path / "clip.avi", ["rock"], frames_each=4)
    player_input = open_input(str(clip))
    assert player_input.camera and player_input.model == "shipped"
    assert "python -m training personalize --reset" in player_input.notice
    result = run_game("--source", str(clip), "--auto", "--rounds", "1", "--speed", "8", "--mute")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("YOUR PERSONAL MODEL IS BROKEN") == 1
    assert "personalize --reset" in result.stderr and "gesture model: shipped" in result.stderr
