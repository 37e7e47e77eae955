"""The gesture stream: real videos, real ncnn; step() without threads, then the threads."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from helpers import gesture_clip, write_video

from vision.camera import CameraSource
from vision.classifier import GestureClassifier, Prediction, Recogniser
from vision.errors import ConfigError, SourceError
from vision.labels import CLASS_ORDER, Gesture
from vision.smoothing import SmoothingConfig
from vision.sources import Frame, MemorySource, open_source
from vision.stream import GestureReading, GestureStream


@pytest.fixture(scope="module")
def classifier():
    return GestureClassifier()


class FakeClock:
    def __init__(self, t: float = 50.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class BrightnessClassifier(Recogniser):
    """Stands in for a trained model (the shipped one is a placeholder): dark rock, mid paper,
    bright scissors, so a test controls what each frame 'shows'."""

    classes = CLASS_ORDER

    def __call__(self, image: np.ndarray) -> Prediction:
        level = float(image.mean())
        gesture = Gesture.ROCK if level < 85 else Gesture.PAPER if level < 170 else Gesture.SCISSORS
        probs = np.full(4, 0.02, np.float32)
        probs[CLASS_ORDER.index(gesture)] = 0.94
        return Prediction(gesture, 0.94, probs)


LEVEL = {Gesture.ROCK: 40, Gesture.PAPER: 128, Gesture.SCISSORS: 220}


def frames_showing(gestures, size=(96, 72)) -> list[np.ndarray]:
    w, h = size
    return [np.full((h, w, 3), LEVEL[g], np.uint8) for g in gestures]


def test_step_through_a_real_video_with_the_real_model(tmp_path, classifier, datasets_dir):
    clip = gesture_clip(tmp_path / "clip.avi", ["rock", "paper"], frames_each=4)
    stream = GestureStream(open_source(clip), classifier)
    assert stream.latest().state == "starting" and stream.latest_frame() is None
    readings = []
    while stream.step():
        readings.append(stream.latest())
        assert stream.latest_frame().index == readings[-1].frame_index
    assert [r.frame_index for r in readings] == list(range(8))
    for r in readings:
        assert r.state == "ok" and r.error is None
        assert r.gesture in CLASS_ORDER and 0.0 <= r.confidence <= 1.0
        assert r.probs.shape == (4,) and r.probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert r.raw is classifier.classes[int(np.argmax(r.probs))]
    stamps = [r.timestamp for r in readings]
    assert stamps == sorted(stamps) and readings[-1].fps > 0
    assert stream.ended and stream.latest().state == "ended" and not stream.step()
    stream.stop()
    assert stream.source.closed


def test_smoothing_is_wired_in_a_single_odd_frame_is_ignored(tmp_path):
    shows = [Gesture.ROCK] * 5 + [Gesture.PAPER] + [Gesture.ROCK] * 3 + [Gesture.SCISSORS] * 4
    clip = write_video(tmp_path / "glitch.avi", frames_showing(shows))
    stream = GestureStream(open_source(clip), BrightnessClassifier())
    out = []
    while stream.step():
        out.append(stream.latest().gesture)
    assert out[1:9] == [Gesture.ROCK] * 8  # frame 5's paper never shows
    assert out[-3:] == [Gesture.SCISSORS] * 3  # the change shows by its 2nd frame
    assert out.index(Gesture.SCISSORS) - shows.index(Gesture.SCISSORS) <= 2


def test_roi_default_centre_square_and_fractions():
    stream = GestureStream(MemorySource(frames_showing([Gesture.ROCK])), BrightnessClassifier())
    assert stream.roi_rect((480, 640, 3)) == (80, 0, 480, 480)
    assert stream.roi_rect((640, 480)) == (0, 80, 480, 480)
    custom = GestureStream(
        MemorySource(frames_showing([Gesture.ROCK])),
        BrightnessClassifier(),
        roi=(0.5, 0.25, 0.5, 0.5),
    )
    assert custom.roi_rect((480, 640, 3)) == (320, 120, 320, 240)
    assert custom.roi_rect((2, 2)) == (1, 0, 1, 1)  # never empty
    for bad in [(0.5, 0.5, 0.6, 0.1), (0, 0, 0, 1), "centre", (1, 2)]:
        with pytest.raises(ConfigError, match="roi"):
            GestureStream(
                MemorySource(frames_showing([Gesture.ROCK])), BrightnessClassifier(), roi=bad
            )


def test_roi_is_what_gets_classified():
    left_dark = np.full((60, 120, 3), 220, np.uint8)
    left_dark[:, :60] = 30
    stream = GestureStream(MemorySource([left_dark]), BrightnessClassifier(), roi=(0, 0, 0.5, 1))
    stream.step()
    assert stream.latest().raw is Gesture.ROCK
    stream = GestureStream(MemorySource([left_dark]), BrightnessClassifier(), roi=(0.5, 0, 0.5, 1))
    stream.step()
    assert stream.latest().raw is Gesture.SCISSORS


def test_bad_frames_are_skipped_and_reported_then_the_stream_recovers(classifier, caplog):
    rng = np.random.default_rng(0)
    good = rng.integers(0, 256, (120, 160, 3), np.uint8)
    images = [
        good,
        np.zeros((0, 0, 3), np.uint8),  # empty
        good[:, :, 0].copy(),  # grey: fine
        np.dstack([good, good[:, :, :1]]),  # BGRA: fine
        np.zeros(5, np.uint8),  # 1-D nonsense
        good[:1, :3],  # tiny: fine
        None,
        good.astype(np.float64) / 255,  # float in 0..1: converted
    ]
    stream = GestureStream(MemorySource(images), classifier)
    states = []
    while stream.step():
        states.append((stream.latest().state, stream.latest().frame_index))
    assert states == [
        ("ok", 0),
        ("error", 0),
        ("ok", 2),
        ("ok", 3),
        ("error", 3),
        ("ok", 5),
        ("error", 5),
        ("ok", 7),
    ]
    assert stream.errors == 3 and stream.frames_processed == 5
    assert "frame skipped" in caplog.text


def test_classifier_errors_are_reported_not_fatal():
    calls = {"n": 0}
    inner = BrightnessClassifier()

    class Flaky(Recogniser):
        classes = CLASS_ORDER

        def __call__(self, image):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("ncnn fell over")
            return inner(image)

    stream = GestureStream(MemorySource(frames_showing([Gesture.PAPER] * 4)), Flaky())
    stream.step()
    stream.step()
    reading = stream.latest()
    assert reading.state == "error" and "ncnn fell over" in reading.error
    stream.step()
    assert stream.latest().state == "ok" and stream.latest().error is None


def test_camera_loss_reads_none_while_reconnecting_then_recovers(tmp_path):
    clip = write_video(tmp_path / "cam.avi", frames_showing([Gesture.PAPER] * 20))
    clock = FakeClock()
    plan = {"lives": [6, 100], "fail_reopens": 1}

    class Pulled:
        def __init__(self, lives):
            self.cap, self.lives = cv2.VideoCapture(str(clip)), lives

        def read(self):
            self.lives -= 1
            return self.cap.read() if self.lives >= 0 else (False, None)

        def release(self):
            self.cap.release()

    def opener():
        if len(plan["lives"]) == 1 and plan["fail_reopens"]:
            plan["fail_reopens"] -= 1
            raise OSError("not plugged in")
        return Pulled(plan["lives"].pop(0))

    camera = CameraSource(opener, name="usb", clock=clock, failures_before_lost=1, backoff=1.0)
    stream = GestureStream(camera, BrightnessClassifier(), clock=clock)
    for _ in range(6):
        stream.step()
        clock.t += 0.125
    assert stream.latest().gesture is Gesture.PAPER and stream.latest().state == "ok"
    stream.step()  # the camera is pulled
    lost = stream.latest()
    assert lost.state == "reconnecting" and "usb" in lost.error
    assert lost.gesture is Gesture.NONE and lost.probs is None
    states = set()
    for _ in range(40):  # 5 s of fake time: one failed reopen, then a good one
        clock.t += 0.125
        assert stream.step()
        states.add(stream.latest().state)
    assert states == {"reconnecting", "ok"}
    assert stream.latest().gesture is Gesture.PAPER and camera.reconnects == 1
    stream.stop()
    assert camera.closed


def test_threads_process_every_frame_of_a_file_then_end(tmp_path, classifier):
    clip = write_video(tmp_path / "t.avi", frames_showing([Gesture.ROCK] * 12, size=(160, 120)))
    before = threading.active_count()
    with GestureStream(open_source(clip), classifier) as stream:
        assert stream.running
        seen, seq = [], 0
        while not stream.ended:
            reading = stream.wait(seq, timeout=5)
            seq = reading.seq
            if reading.state == "ok" and (not seen or seen[-1] != reading.frame_index):
                seen.append(reading.frame_index)
    assert stream.frames_processed == 12 and stream.frames_dropped == 0  # a recorded source waits
    assert seen == sorted(set(seen))  # a waiter sees the latest readings, in order
    assert stream.latest().frame_index == 11
    assert stream.latest().state == "ended"
    assert not stream.running and threading.active_count() == before
    assert stream.source.closed


def test_live_source_drops_stale_frames_instead_of_queueing():
    inner = BrightnessClassifier()
    done = threading.Event()

    class Slow(Recogniser):
        classes = CLASS_ORDER

        def __call__(self, image):
            done.wait(0.01)  # a slow model: 10 ms a frame against a 1000 fps source
            return inner(image)

    source = MemorySource(frames_showing([Gesture.ROCK] * 4), loop=True, realtime=True, fps=1000)
    stream = GestureStream(source, Slow()).start()
    seq = 0
    while stream.frames_processed < 10:
        seq = stream.wait(seq, timeout=5).seq
    stream.stop()
    assert stream.frames_dropped > 0
    assert stream.latest().frame_index > stream.frames_processed  # it skipped ahead
    assert not stream.running and source.closed


def test_latest_never_waits_for_a_busy_classifier():
    entered, release = threading.Event(), threading.Event()
    inner = BrightnessClassifier()

    class Stuck(Recogniser):
        classes = CLASS_ORDER

        def __call__(self, image):
            entered.set()
            release.wait(5)
            return inner(image)

    stream = GestureStream(MemorySource(frames_showing([Gesture.PAPER] * 3)), Stuck()).start()
    assert entered.wait(5)
    reading = stream.latest()  # the worker is inside the classifier right now
    assert isinstance(reading, GestureReading) and reading.state == "starting"
    assert isinstance(stream.latest_frame(), Frame)
    release.set()
    stream.stop()
    assert not stream.running


def test_stop_returns_even_when_the_camera_read_hangs():
    unblock = threading.Event()
    released = threading.Event()

    class Hung:
        def read(self):
            unblock.wait(10)
            return False, None

        def release(self):
            released.set()

    camera = CameraSource(Hung, name="hung")
    stream = GestureStream(camera, BrightnessClassifier()).start()
    stream.stop()  # gives up joining after about a second
    assert stream.latest().state == "starting"
    assert not camera.closed  # not released under a read in progress
    unblock.set()
    assert released.wait(5)  # the reader closes it as soon as the read returns
    stream._threads[0].join(5)
    assert camera.closed and not stream.running


def test_stop_is_idempotent_and_a_stopped_stream_cannot_restart():
    stream = GestureStream(MemorySource(frames_showing([Gesture.ROCK] * 2)), BrightnessClassifier())
    stream.start()
    stream.stop()
    stream.stop()
    assert stream.source.closed
    fresh = GestureStream(stream.source, BrightnessClassifier())
    with pytest.raises(SourceError, match="closed"):
        fresh.start()


def test_default_classifier_is_the_shipped_model_and_smoothing_is_configurable():
    stream = GestureStream(
        MemorySource(frames_showing([Gesture.ROCK])), smoothing=SmoothingConfig(window=5)
    )
    assert isinstance(stream.classifier, GestureClassifier)
    assert stream.smoother.config.window == 5
    assert stream.smoother.classes == stream.classifier.classes
