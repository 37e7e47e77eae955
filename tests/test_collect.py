"""The capture tool: real video files written by the test, real JPEGs, pygame's dummy driver."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, dataset_images, gesture_clip, load, write_video
from training import collect
from vision.labels import Gesture
from vision.sources import Frame, MemorySource


@pytest.fixture(scope="module")
def clip(tmp_path_factory, datasets_dir) -> Path:
    """90 frames of real photos (30 rock, 30 paper, 30 scissors), 640x480."""
    path = tmp_path_factory.mktemp("clip") / "hands.avi"
    return gesture_clip(path, ["rock", "paper", "scissors"], frames_each=30)


def run(argv: list[str]) -> int:
    return collect.main(collect.parse_args(argv))


def jpegs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jpg"))


def numbered_frames(n: int, size=(120, 160)) -> list[np.ndarray]:
    """Frames whose brightness encodes their number (frame i has value 2 * i)."""
    return [np.full((*size, 3), 2 * i, np.uint8) for i in range(n)]


class FakeClock:
    """A clock that moves only when ``sleep`` is called or ``step`` per read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)


def test_saves_every_interval_th_frame_as_the_roi_crop(clip, tmp_path):
    code = run(
        [
            "--label",
            "rock",
            "--out",
            str(tmp_path),
            "--source",
            str(clip),
            "--interval",
            "30",
            "--countdown",
            "0",
            "--headless",
        ]
    )
    assert code == 0
    files = jpegs(tmp_path / "rock")
    assert len(files) == 3  # frames 0, 30 and 60 of 90
    for f in files:
        img = cv2.imread(str(f))
        assert img.shape == (480, 480, 3)  # the centre square of a 640x480 frame
        assert f.name.startswith("rock_")


def test_interval_and_count(clip, tmp_path):
    assert (
        run(
            [
                "--label",
                "paper",
                "--out",
                str(tmp_path),
                "--source",
                str(clip),
                "--interval",
                "10",
                "--countdown",
                "0",
                "--headless",
            ]
        )
        == 0
    )
    assert len(jpegs(tmp_path / "paper")) == 9
    assert (
        run(
            [
                "--label",
                "paper",
                "--out",
                str(tmp_path),
                "--source",
                str(clip),
                "--interval",
                "10",
                "--count",
                "2",
                "--countdown",
                "0",
                "--headless",
            ]
        )
        == 0
    )
    assert len(jpegs(tmp_path / "paper")) == 11


def test_never_overwrites_and_running_twice_adds(clip, tmp_path):
    folder = tmp_path / "scissors"
    folder.mkdir()
    stamp = datetime(2025, 1, 2, 3, 4, 5)
    taken = folder / "scissors_20250102-030405_0001.jpg"
    taken.write_bytes(b"the user's own file")
    writer = collect.ImageWriter(folder, Gesture.SCISSORS, now=lambda: stamp)
    source = MemorySource(numbered_frames(3))
    result = collect.capture(source, writer, interval=1, countdown=0)
    assert result.reason == "end" and len(result.saved) == 3
    assert taken.read_bytes() == b"the user's own file"
    assert taken not in result.saved
    assert len(jpegs(folder)) == 4
    # the same session time again: still no collision
    writer2 = collect.ImageWriter(folder, Gesture.SCISSORS, now=lambda: stamp)
    collect.capture(MemorySource(numbered_frames(2)), writer2, interval=1, countdown=0)
    assert len(jpegs(folder)) == 6
    assert taken.read_bytes() == b"the user's own file"
    # through the command line too: a second run adds files
    args = [
        "--label",
        "scissors",
        "--out",
        str(tmp_path),
        "--source",
        str(clip),
        "--countdown",
        "0",
        "--headless",
    ]
    assert run(args) == 0 and run(args) == 0
    assert len(jpegs(folder)) == 12


def test_countdown_waits_on_a_recorded_source(tmp_path):
    clock = FakeClock()
    writer = collect.ImageWriter(tmp_path, Gesture.ROCK)
    result = collect.capture(
        MemorySource(numbered_frames(10)),
        writer,
        interval=3,
        countdown=2.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.now >= 2.0
    values = [int(cv2.imread(str(p))[0, 0, 0]) for p in result.saved]
    assert values == pytest.approx([0, 6, 12, 18], abs=2)  # frames 0, 3, 6, 9: none skipped


class LiveSource:
    """A camera stand-in: 30 fps frames that keep coming while nobody saves them."""

    live = True
    fps = 30.0
    state = "ok"

    def __init__(self, clock: FakeClock, frames: int = 200, interrupt_at: int | None = None):
        self.clock, self.frames, self.interrupt_at = clock, frames, interrupt_at
        self.index = 0

    def read(self) -> Frame:
        from vision.sources import EndOfStream

        if self.index == self.interrupt_at:
            raise KeyboardInterrupt
        if self.index >= self.frames:
            raise EndOfStream("done")
        self.clock.now += 1 / 30
        frame = Frame(np.full((60, 80, 3), self.index % 256, np.uint8), self.clock.now, self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


def test_countdown_skips_live_frames_then_saves(tmp_path):
    clock = FakeClock()
    writer = collect.ImageWriter(tmp_path, Gesture.NONE)
    result = collect.capture(
        LiveSource(clock, frames=120),
        writer,
        interval=30,
        countdown=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    first = int(cv2.imread(str(result.saved[0]))[0, 0, 0])
    assert 28 <= first <= 31  # about one second of live frames went by first
    assert len(result.saved) == 3


def test_ctrl_c_keeps_what_was_saved(tmp_path):
    clock = FakeClock()
    writer = collect.ImageWriter(tmp_path, Gesture.PAPER)
    result = collect.capture(
        LiveSource(clock, interrupt_at=50),
        writer,
        interval=10,
        countdown=0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.reason == "interrupted"
    assert len(result.saved) == 5 and all(p.is_file() for p in result.saved)


def test_headless_is_automatic_without_a_display(clip, tmp_path, capsys):
    assert not collect.display_available()  # the tests run with SDL's dummy driver
    code = run(["--label", "0", "--out", str(tmp_path), "--source", str(clip), "--countdown", "0"])
    assert code == 0
    assert len(jpegs(tmp_path / "scissors")) == 3  # numeric labels name the gesture
    captured = capsys.readouterr()
    assert "Saved 3 image(s) of scissors" in captured.out
    assert "scissors: 1 saved" in captured.err  # the terminal counter...
    last = captured.err.rstrip().splitlines()[-1]  # ...and the total, with every class's count
    assert last == "scissors: 3 saved (Ctrl-C to stop); in all: rock 0, paper 0, scissors 3, none 0"


def test_terminal_countdown(tmp_path, capsys):
    clock = FakeClock()
    view = collect.TerminalView()
    writer = collect.ImageWriter(tmp_path, Gesture.ROCK)
    collect.capture(
        MemorySource(numbered_frames(2)),
        writer,
        interval=1,
        countdown=3,
        view=view,
        clock=clock,
        sleep=clock.sleep,
    )
    view.close()
    err = capsys.readouterr().err
    assert err.index("starts in 3") < err.index("starts in 2") < err.index("starts in 1")
    assert "rock: 2 saved" in err


def test_existing_numeric_folder_is_used(clip, tmp_path):
    (tmp_path / "1").mkdir()
    assert (
        run(
            [
                "--label",
                "rock",
                "--out",
                str(tmp_path),
                "--source",
                str(clip),
                "--count",
                "1",
                "--countdown",
                "0",
                "--headless",
            ]
        )
        == 0
    )
    assert len(jpegs(tmp_path / "1")) == 1 and not (tmp_path / "rock").exists()


def test_preview_window_draws_and_stops_on_escape(tmp_path):
    import pygame

    frames = [cv2.resize(np.full((48, 64, 3), (40, 120, 200), np.uint8), (640, 480))] * 20
    window = collect.PreviewWindow(fps=1000)
    writer = collect.ImageWriter(tmp_path, Gesture.ROCK)
    seen = []

    class Stopper(MemorySource):
        def read(self):
            frame = super().read()
            if frame.index == 12:
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
            seen.append(frame.index)
            return frame

    try:
        result = collect.capture(Stopper(frames), writer, interval=5, countdown=0, view=window)
        shot = pygame.surfarray.array3d(window.screen).transpose(1, 0, 2)
        pygame.image.save(window.screen, str(tmp_path / "preview.png"))
    finally:
        window.close()
    assert result.reason == "stopped"
    assert len(result.saved) == 3 and all(p.is_file() for p in result.saved)  # 0, 5, 10
    assert seen[-1] == 12
    x, y, w, h = collect.roi_rect((480, 640), None)
    assert tuple(shot[y + h // 2, x + 1]) == (0, 220, 90)  # the ROI's green outline
    assert tuple(shot[240, 320]) == pytest.approx((200, 120, 40), abs=3)  # the frame (RGB)


def test_bad_source_and_bad_arguments(tmp_path, capsys):
    assert (
        run(
            [
                "--label",
                "rock",
                "--out",
                str(tmp_path),
                "--source",
                str(tmp_path / "nope.avi"),
                "--headless",
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert run(["--label", "rock", "--out", str(tmp_path), "--source", "99", "--headless"]) == 2
    assert "Plug in a camera" in capsys.readouterr().err
    for argv in (
        ["--label", "lizard"],
        ["--label", "rock", "--interval", "0"],
        ["--label", "rock", "--roi", "0.5,0.5,0.8,0.2"],
        [],
    ):
        with pytest.raises(SystemExit) as exc:
            collect.parse_args(argv)
        assert exc.value.code == 2


def test_roi(tmp_path):
    assert collect.parse_roi("0.5,0,0.5,1") == (0.5, 0.0, 0.5, 1.0)
    assert collect.roi_rect((480, 640), (0.5, 0, 0.5, 1)) == (320, 0, 320, 480)
    assert collect.roi_rect((480, 640), None) == (80, 0, 480, 480)
    video = write_video(tmp_path / "v.avi", numbered_frames(4, (240, 320)))
    assert (
        run(
            [
                "--label",
                "none",
                "--out",
                str(tmp_path),
                "--source",
                str(video),
                "--interval",
                "1",
                "--roi",
                "0,0,0.25,0.5",
                "--countdown",
                "0",
                "--headless",
            ]
        )
        == 0
    )
    shapes = {cv2.imread(str(p)).shape for p in jpegs(tmp_path / "none")}
    assert shapes == {(120, 80, 3)}


class SigtermSource(LiveSource):
    """A camera stand-in that sends this process a real SIGTERM at frame ``at``."""

    def __init__(self, clock: FakeClock, at: int):
        super().__init__(clock, frames=1000)
        self.at = at

    def read(self) -> Frame:
        if self.index == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().read()


def test_sigterm_stops_the_capture_and_keeps_every_image(tmp_path):
    clock = FakeClock()
    writer = collect.ImageWriter(tmp_path, Gesture.ROCK)
    with collect.stop_on_sigterm() as stop:
        result = collect.capture(
            SigtermSource(clock, at=45), writer, interval=10, countdown=0, clock=clock,
            sleep=clock.sleep, stop=stop,
        )  # fmt: skip
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back afterwards
    assert result.reason == "terminated"
    assert len(result.saved) == 5  # frames 0, 10, 20, 30, 40
    assert all(cv2.imread(str(p)) is not None for p in result.saved)  # whole JPEGs


def test_sigterm_prints_the_summary_and_exits_0(clip, tmp_path):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)}
    argv = ["--label", "paper", "--out", str(tmp_path), "--source", str(clip), "--headless"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "training", "collect", *argv, "--countdown", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        for line in proc.stderr:
            if "saving starts in" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"Saved 0 image(s) of paper into {tmp_path / 'paper'} (stopped by SIGTERM" in out
    assert "Images in" in out and "paper 0" in out and "Traceback" not in err


def test_prompts_change_as_the_count_grows_and_counts_are_shown(tmp_path, capsys):
    (tmp_path / "paper").mkdir()
    cv2.imwrite(str(tmp_path / "paper" / "old.jpg"), np.zeros((8, 8, 3), np.uint8))
    view = collect.TerminalView()
    writer = collect.ImageWriter(tmp_path / "rock", Gesture.ROCK)
    frames = numbered_frames(40)
    collect.capture(
        MemorySource(frames), writer, interval=2, countdown=0, view=view,
        counts=collect.class_counts(tmp_path),
    )  # fmt: skip
    view.close()
    err = capsys.readouterr().err
    prompts = [t for _, t in collect.HAND_PROMPTS[:3]]
    assert err.index(prompts[0]) < err.index(prompts[1]) < err.index(prompts[2])
    assert "rock: 20 saved" in err and "in all: rock 20, paper 1, scissors 0, none 0" in err
    assert collect.variety_prompt(Gesture.NONE, 0) != collect.variety_prompt(Gesture.NONE, 30)


def test_near_identical_captures_are_warned_about_while_capturing(tmp_path, datasets_dir, capsys):
    """One photo held still: a warning after 6; real photos of different hands: none."""
    still = [load(dataset_images("rps-cv", "rock", 1)[0], (160, 120))] * 8
    view = collect.TerminalView()
    result = collect.capture(
        MemorySource(still), collect.ImageWriter(tmp_path / "a", Gesture.ROCK), interval=1,
        countdown=0, view=view,
    )  # fmt: skip
    assert "WARNING: the last 6 images look the same" in capsys.readouterr().err
    assert result.warning
    varied = [load(p, (160, 120)) for p in dataset_images("rps-sxsw", "rock", 8)]
    result = collect.capture(
        MemorySource(varied), collect.ImageWriter(tmp_path / "b", Gesture.ROCK), interval=1,
        countdown=0, view=collect.TerminalView(),
    )  # fmt: skip
    assert not result.warning and "look the same" not in capsys.readouterr().err
    # the summary of a command run says so too
    clip = write_video(tmp_path / "still.avi", [cv2.resize(still[0], (640, 480))] * 8)
    argv = ["--label", "rock", "--out", str(tmp_path / "c"), "--source", str(clip)]
    assert run([*argv, "--interval", "1", "--countdown", "0", "--headless"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: your 8 rock images are near-identical" in out and "move your hand" in out


def test_preview_window_shows_the_prompt_counts_and_warning(tmp_path):
    window = collect.PreviewWindow(fps=1000)
    state = collect.CaptureState(Gesture.PAPER, 50, phase="capturing", saved=31)
    state.counts = {Gesture.ROCK: 50, Gesture.PAPER: 0}
    state.prompt = collect.variety_prompt(Gesture.PAPER, 31)
    state.warning = collect.ALIKE.format(n=6)
    frame = cv2.resize(load(dataset_images("rps-cv", "paper", 1)[0]), (640, 480))
    try:
        window.update(frame, collect.roi_rect(frame.shape, None), state)
        import pygame

        pygame.image.save(window.screen, str(tmp_path / "preview.png"))
        shot = pygame.surfarray.array3d(window.screen).transpose(1, 0, 2)
    finally:
        window.close()
    bottom = shot[-90:]
    assert (np.abs(bottom.astype(int) - (255, 120, 60)).sum(axis=2) < 60).any()  # the warning
    assert (bottom == 255).all(axis=2).any()  # the white prompt


def test_the_check_reads_captures_beside_the_preview_and_never_holds_it_up(tmp_path):
    """A slow reading (a fused still box takes most of a second on a Pi 4) runs on its own
    thread: the preview keeps being drawn while the first saved image waits to be read, and
    once capturing ends the view is shown every reading (and a broken judge stops only the
    reading, not the capture)."""
    import threading

    release = threading.Event()
    on_main = []

    def slow_judge(image):
        release.wait(3)  # read only once the preview has gone on without it
        on_main.append(threading.current_thread() is threading.main_thread())
        return True, True

    class Preview:
        drawn_while_reading = 0
        last = None

        def update(self, frame, rect, state):
            if state.saved and not state.judged:
                self.drawn_while_reading += 1
                if self.drawn_while_reading > 5:
                    release.set()
            self.last = (state.saved, state.judged, state.read_right, state.hands_found)
            return True

        def close(self):
            pass

    view = Preview()
    writer = collect.ImageWriter(tmp_path / "a", Gesture.ROCK)
    source = MemorySource(numbered_frames(12))
    result = collect.capture(source, writer, interval=2, countdown=0, view=view, judge=slow_judge)
    assert len(result.saved) == 6 and view.drawn_while_reading > 5
    assert on_main == [False] * 6
    assert view.last == (6, 6, 6, 6)

    def broken(image):
        raise RuntimeError("the model file went away")

    writer = collect.ImageWriter(tmp_path / "b", Gesture.ROCK)
    result = collect.capture(MemorySource(numbered_frames(6)), writer, interval=2, countdown=0,
                             view=view, judge=broken)  # fmt: skip
    assert len(result.saved) == 3 and view.last[1] == 0


def test_check_reads_each_saved_image_live_with_the_model_in_use(clip, tmp_path, capsys):
    """``--check``: the real default recogniser reads every saved crop; the counter says how
    many it read right and found a hand in (the clip shows rock, then paper, then scissors)."""
    argv = ["--label", "rock", "--out", str(tmp_path), "--source", str(clip), "--headless"]
    assert run([*argv, "--countdown", "0", "--check"]) == 0
    err = capsys.readouterr().err
    found = re.findall(r"rock: 3/?\d* saved \(Ctrl-C to stop\); read right: (\d) of 3, "
                       r"a hand found in (\d)", err)  # fmt: skip
    assert found, err
    right, hands = map(int, found[-1])
    assert 1 <= right <= hands <= 3  # the rock photo at least; paper and scissors are not rock
    # the preview draws the same line, orange while some are not read right
    window = collect.PreviewWindow(fps=1000)
    state = collect.CaptureState(Gesture.ROCK, 50, phase="capturing", saved=4)
    state.judged, state.read_right, state.hands_found = 4, 2, 3
    assert state.judged_text() == "read right: 2 of 4, a hand found in 3"
    frame = cv2.resize(load(dataset_images("rps-cv", "rock", 1)[0]), (640, 480))
    try:
        window.update(frame, collect.roi_rect(frame.shape, None), state)
        import pygame

        shot = pygame.surfarray.array3d(window.screen).transpose(1, 0, 2)
    finally:
        window.close()
    bottom = shot[-60:]
    assert (np.abs(bottom.astype(int) - (255, 170, 60)).sum(axis=2) < 60).any()
