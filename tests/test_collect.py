"""The capture tool: real video files written by the test, real JPEGs, pygame's dummy driver."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import gesture_clip, write_video
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
    assert captured.err.rstrip().endswith("scissors: 3 saved (Ctrl-C to stop)")  # ...and the total


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
        == 1
    )
    assert "no such file" in capsys.readouterr().err
    assert run(["--label", "rock", "--out", str(tmp_path), "--source", "99", "--headless"]) == 1
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
