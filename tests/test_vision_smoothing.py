"""Smoothing on label/probability sequences: plain Python, no thread, no camera."""

from __future__ import annotations

import numpy as np
import pytest

from vision.errors import ConfigError
from vision.labels import CLASS_ORDER, Gesture
from vision.smoothing import Smoother, SmoothingConfig

R, P, S, N = Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS, Gesture.NONE


def probs(gesture: Gesture, confidence: float = 0.9) -> np.ndarray:
    vec = np.full(len(CLASS_ORDER), (1 - confidence) / (len(CLASS_ORDER) - 1), np.float32)
    vec[CLASS_ORDER.index(gesture)] = confidence
    return vec


def run(sequence, config: SmoothingConfig | None = None) -> list[Gesture]:
    smoother = Smoother(config)
    return [
        smoother.update(probs(*item) if isinstance(item, tuple) else probs(item))[0]
        for item in sequence
    ]


def test_steady_gesture_is_taken_up_within_three_frames_and_held():
    out = run([R] * 20)
    assert out[2] is R
    assert out[2:] == [R] * 18


def test_confidence_is_the_average_over_the_frames_seen():
    smoother = Smoother()
    first = smoother.update(probs(R, 0.9))
    assert first == (N, pytest.approx(0.1))  # not yet confirmed: barely sure of "no throw"
    smoother.update(probs(R, 0.7))
    assert smoother.update(probs(R, 0.8)) == (R, pytest.approx(0.8))


def test_single_frame_glitch_never_changes_a_held_gesture():
    sequence = [R] * 6 + [P] + [R] * 4 + [S] + [R] * 4 + [N] + [R] * 4
    out = run(sequence)
    assert out[3:] == [R] * (len(sequence) - 3)


def test_real_change_is_reported_within_three_frames():
    for new in (P, S, N):
        out = run([R] * 8 + [new] * 6)
        assert out[7] is R
        assert out[8 + 2] is new, f"rock -> {new} took more than 3 frames: {out}"


def test_fast_changes_follow_each_gesture_held_three_frames():
    sequence = [R] * 3 + [P] * 3 + [S] * 3 + [R] * 3
    out = run(sequence)
    assert [out[i] for i in (2, 5, 8, 11)] == [R, P, S, R]


def test_alternating_labels_settle_on_nothing_rather_than_flicker():
    out = run([R, P] * 10)
    changes = sum(a is not b for a, b in zip(out, out[1:], strict=False))
    assert changes == 0 and out[-1] is N


def test_low_confidence_reads_as_none():
    smoother = Smoother()
    for _ in range(10):
        gesture, confidence = smoother.update(probs(R, 0.4))
    assert gesture is N
    assert confidence == pytest.approx(0.6)


def test_hysteresis_holds_a_gesture_whose_confidence_wavers_around_the_threshold():
    sequence = [(R, 0.9)] * 4 + [(R, 0.55), (R, 0.5), (R, 0.58), (R, 0.5), (R, 0.55)] * 3
    out = run(sequence)
    assert out[3:] == [R] * (len(sequence) - 3)
    without = run(sequence, SmoothingConfig(hysteresis=0.0))
    assert N in without[4:]


def test_confidence_drop_below_band_releases_the_gesture():
    out = run([(R, 0.9)] * 5 + [(R, 0.3)] * 5)
    assert out[4] is R and out[-1] is N


def test_label_confidence_pairs_and_probability_vectors_agree():
    a, b = Smoother(), Smoother()
    for g in [R, R, P, P, P, S]:
        (ga, ca), (gb, cb) = a.update((g.value, 0.8)), b.update(probs(g, 0.8))
        assert ga is gb and ca == pytest.approx(cb)


def test_window_setting_changes_how_long_a_glitch_must_last():
    glitch2 = [R] * 8 + [P] * 2 + [R] * 5
    assert P in run(glitch2, SmoothingConfig(window=3))
    assert P not in run(glitch2, SmoothingConfig(window=5))


def test_reset_forgets_history_and_classes_order_is_respected():
    order = (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS, Gesture.NONE)
    smoother = Smoother(classes=order)
    for _ in range(3):
        gesture, _ = smoother.update([0.05, 0.05, 0.85, 0.05])
    assert gesture is S
    smoother.reset()
    assert (smoother.gesture, smoother.confidence) == (N, 0.0)


@pytest.mark.parametrize(
    "kwargs", [{"window": 0}, {"threshold": 1.5}, {"hysteresis": -0.1}, {"hysteresis": 0.9}]
)
def test_bad_settings_say_what_to_use(kwargs):
    with pytest.raises(ConfigError, match="smoothing"):
        SmoothingConfig(**kwargs)


def test_confirm_setting_controls_how_many_frames_in_a_row_a_change_needs():
    sequence = [R] * 6 + [P, R, P, R, P, P, P]
    first_paper = {c: run(sequence, SmoothingConfig(confirm=c)).index(P) for c in (1, 2, 3)}
    assert first_paper == {1: 8, 2: 11, 3: 12}
    flicker = run(sequence, SmoothingConfig(confirm=1))
    assert flicker[8:11] == [P, R, P]


def test_wrong_probability_length_is_rejected():
    with pytest.raises(ValueError, match="expected 4"):
        Smoother().update([0.5, 0.5])
