"""Frame sources: real OpenCV on real files written here; a camera that fails on purpose."""

from __future__ import annotations

import sys
import types

import cv2
import numpy as np
import pytest
from helpers import write_video

from vision.camera import CameraSource, picamera_opener
from vision.errors import SourceError
from vision.sources import (
    EndOfStream,
    Frame,
    ImageFolderSource,
    MemorySource,
    VideoFileSource,
    open_source,
)


def numbered_frames(n: int, size=(160, 120)) -> list[np.ndarray]:
    """Frames whose brightness encodes their number (survives MJPG): 10, 30, 50, ..."""
    w, h = size
    return [np.full((h, w, 3), 10 + 20 * i, np.uint8) for i in range(n)]


def brightness_number(image: np.ndarray) -> int:
    return round((float(image.mean()) - 10) / 20)


class FakeClock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi", numbered_frames(8), fps=20)


def test_video_file_frames_in_order_then_end_of_stream(video):
    with open_source(str(video)) as src:
        assert isinstance(src, VideoFileSource) and src.fps == pytest.approx(20)
        assert not src.live
        frames = [src.read() for _ in range(8)]
        with pytest.raises(EndOfStream):
            src.read()
    assert [f.index for f in frames] == list(range(8))
    assert [brightness_number(f.image) for f in frames] == list(range(8))
    assert all(f.image.dtype == np.uint8 and f.image.shape == (120, 160, 3) for f in frames)
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)
    assert src.closed


def test_video_file_loops_with_growing_index(video):
    with open_source(video, loop=True) as src:
        frames = [src.read() for _ in range(20)]
    assert [f.index for f in frames] == list(range(20))
    assert [brightness_number(f.image) for f in frames] == [i % 8 for i in range(20)]


def test_realtime_video_skips_frames_that_are_past_due(video):
    clock = FakeClock()
    src = VideoFileSource(video, realtime=True, clock=clock, sleep=clock.sleep)
    assert src.live
    first = src.read()
    clock.t += 0.16  # a slow consumer: 3.2 frame periods at 20 fps
    later = src.read()
    after = src.read()  # nothing due yet: waits (on the fake clock) for the next one
    assert (first.index, later.index, after.index) == (0, 3, 4)
    assert brightness_number(later.image) == 3
    assert clock.t == pytest.approx(100.2)
    src.close()


def test_slow_realtime_folder_never_blocks_a_read_for_long(tmp_path):
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), numbered_frames(2)[i])
    clock = FakeClock()
    src = ImageFolderSource(tmp_path, fps=0.5, realtime=True, clock=clock, sleep=clock.sleep)
    assert src.read().index == 0
    waits = 0
    while (frame := src.read()) is None:
        waits += 1
    assert frame.index == 1 and waits in (19, 20)  # 2 s away, in reads of at most 0.1 s
    assert clock.t == pytest.approx(102.0)


def test_folder_source_natural_order_loop_and_unreadable_files(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), numbered_frames(11)[i])
    (tmp_path / "img5.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path, loop=True)
    assert isinstance(src, ImageFolderSource)
    assert [p.name for p in src.files] == ["img1.png", "img2.png", "img5.png", "img10.png"]
    numbers = [brightness_number(src.read().image) for _ in range(7)]
    assert numbers == [1, 2, 10, 1, 2, 10, 1]
    src.close()
    once = open_source(tmp_path)
    assert [brightness_number(once.read().image) for _ in range(3)] == [1, 2, 10]
    with pytest.raises(EndOfStream):
        once.read()


def test_single_image_file_is_a_one_frame_source(tmp_path):
    path = tmp_path / "hand.jpg"
    cv2.imwrite(str(path), numbered_frames(3)[2])
    with open_source(path) as src:
        assert brightness_number(src.read().image) == 2
        with pytest.raises(EndOfStream):
            src.read()


def test_memory_source_and_frame_fields():
    images = numbered_frames(3)
    src = MemorySource(images, loop=True)
    frames = [src.read() for _ in range(5)]
    assert isinstance(frames[0], Frame)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[3].image is images[0]
    with pytest.raises(EndOfStream):
        once = MemorySource(images)
        for _ in range(4):
            once.read()


@pytest.mark.parametrize(
    "spec, match",
    [
        ("/no/such/clip.avi", "no such file"),
        ("/dev/video-none", "no camera device"),
        (3.5, "bad source"),
        ("", "empty source"),
    ],
)
def test_bad_specs_raise_source_error_saying_what_to_pass(spec, match):
    with pytest.raises(SourceError, match=match) as info:
        open_source(spec)
    assert "camera index" in str(info.value)
    assert isinstance(info.value, OSError)


def test_empty_folder_and_unreadable_video_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="no images"):
        open_source(tmp_path)
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match="cannot read the video"):
        open_source(bad)


class FlakyCamera:
    """A real OpenCV capture of a video file that dies after ``lives`` frames (a camera pulled)."""

    def __init__(self, path, lives: int):
        self.cap = cv2.VideoCapture(str(path))
        self.lives = lives
        self.released = False

    def read(self):
        if self.lives <= 0:
            return False, None
        self.lives -= 1
        return self.cap.read()

    def release(self):
        self.released = True
        self.cap.release()


def test_lost_camera_is_reported_and_reopened_with_backoff(video):
    clock = FakeClock()
    opened: list[FlakyCamera] = []
    attempts: list[float] = []
    failures = iter([False, True, True, False])  # open works, two reopens fail, then one works

    def opener():
        attempts.append(clock.t)
        if next(failures, False):
            raise OSError("device busy")
        opened.append(FlakyCamera(video, lives=2))
        return opened[-1]

    cam = CameraSource(opener, name="flaky", clock=clock, failures_before_lost=2, backoff=0.5)
    assert cam.live
    assert [cam.read().index for _ in range(2)] == [0, 1]
    assert cam.read() is None and cam.state == "ok"  # one bad read is not yet a loss
    assert cam.read() is None and cam.state == "reconnecting"
    lost_at = clock.t
    assert opened[0].released and "lost" in cam.error
    assert cam.read() is None and len(attempts) == 1  # back-off: no reopen attempted yet
    frame = None
    while frame is None and clock.t - lost_at < 30:
        clock.t += 0.125  # exact in binary, so the back-off edges are hit exactly
        frame = cam.read()
    assert cam.state == "ok" and cam.error is None and cam.reconnects == 1
    waits = np.diff([lost_at, *attempts[1:]]).round(2).tolist()
    assert waits == [0.5, 1.0, 2.0]  # doubling back-off across the failed reopens
    assert frame.index == 2 and brightness_number(frame.image) == 0  # the new capture's first
    cam.close()
    assert opened[-1].released and cam.closed
    with pytest.raises(SourceError, match="closed"):
        cam.read()


def test_camera_that_cannot_open_at_start_is_a_source_error():
    def opener():
        raise RuntimeError("no such device")

    with pytest.raises(SourceError, match="cannot open camera"):
        CameraSource(opener, name="ghost")


def test_camera_read_exceptions_count_as_failures():
    class Exploding:
        def read(self):
            raise RuntimeError("driver crashed")

        def release(self):
            pass

    cam = CameraSource(Exploding, failures_before_lost=1, clock=FakeClock())
    assert cam.read() is None
    assert cam.state == "reconnecting" and "driver crashed" in cam.error


def test_picamera_uses_the_lores_stream_as_bgr(monkeypatch):
    calls = {}

    class FakePicamera2:  # no Pi here: the smallest stand-in for picamera2's API
        def create_video_configuration(self, **streams):
            calls["config"] = streams
            return streams

        def configure(self, config):
            pass

        def start(self):
            calls["started"] = True

        def capture_array(self, stream):
            calls["stream"] = stream
            w, h = calls["config"]["lores"]["size"]
            return np.full((h * 3 // 2, w), 128, np.uint8)  # YUV420: grey

        def stop(self):
            calls["stopped"] = True

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    with CameraSource(picamera_opener(width=640, height=480), name="picam") as cam:
        frame = cam.read()
    assert calls["stream"] == "lores" and calls["stopped"]
    assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
    assert abs(int(frame.image.mean()) - 128) <= 2


def test_picamera_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="apt install python3-picamera2"):
        open_source("picam")
