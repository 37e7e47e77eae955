"""The shipped landmark recogniser (MediaPipe's hand-landmark network on ncnn + the gesture head)
on real photos from ../shared/datasets, through the one door, ``GestureClassifier``."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from helpers import DATASETS, dataset_images, load, write_video

from vision.classifier import GestureClassifier
from vision.errors import ModelError
from vision.hand import (
    HINT_FLOOR,
    REFINED_MIN_PRESENCE,
    SEARCH,
    LandmarkNet,
    best_pass,
    embedding_blob,
    find_hand,
)
from vision.labels import Gesture
from vision.paths import ASSETS_DIR
from vision.sources import VideoFileSource
from vision.stream import GestureStream

HAND_DIR = ASSETS_DIR / "hand"
pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="needs ../shared/datasets")


@pytest.fixture(scope="module")
def hand():
    return GestureClassifier(HAND_DIR)


def test_metadata_names_the_landmark_kind_and_loads_behind_the_door(hand):
    assert hand.kind == "landmarks"
    assert hand.classes == (Gesture.SCISSORS, Gesture.ROCK, Gesture.PAPER, Gesture.NONE)
    assert 0.0 < hand.recogniser.threshold < 1.0


@pytest.mark.parametrize(
    ("dataset", "label"),
    [
        ("best-of-one", "rock"),
        ("best-of-one", "paper"),
        ("best-of-one", "scissors"),
        ("hands-subhih", "rock"),
        ("hands-subhih", "paper"),
        ("sign-digits", "scissors"),
    ],
)
def test_finds_the_hand_and_reads_the_gesture(hand, dataset, label):
    for photo in dataset_images(dataset, label, 3):
        p = hand(load(photo))
        assert p.label == Gesture(label), photo.name
        assert p.landmarks is not None and p.landmarks.shape == (21, 3)
        assert p.presence >= hand.recogniser.threshold
        h, w = load(photo).shape[:2]
        inside = (p.landmarks[:, 0] > -0.2 * w) & (p.landmarks[:, 0] < 1.2 * w)
        assert inside.all(), "landmarks are in the photo's pixels"
        assert abs(float(p.probs.sum()) - 1.0) < 1e-5


def _net(hand, **kw) -> LandmarkNet:
    meta = hand.recogniser.metadata
    files = (HAND_DIR / meta["param"], HAND_DIR / meta["bin"])
    return LandmarkNet(*files, meta["blobs"], **kw)


def test_the_bf16_network_reads_photos_as_the_exact_one_does(hand):
    """The recogniser runs its networks with bf16 storage (faster); an exact (fp32) net gives
    nearly the same landmarks and presence on real photos, and the same throw."""
    net = hand.recogniser.net
    assert net._net.opt.use_bf16_storage
    exact = _net(hand, exact=True)
    assert not exact._net.opt.use_bf16_storage
    for photo in dataset_images("hands-subhih", "scissors", 3) + dataset_images(
        "rps-cv", "rock", 2
    ):
        image = load(photo)
        crop = best_pass(find_hand(net, image, None, hand.recogniser.weak)).crop
        fast, full = net(image, crop), exact(image, crop)
        px = np.abs(fast.landmarks[:, :2] - full.landmarks[:, :2]).max() * 224 / crop.size
        assert px < 3.0 and abs(fast.presence - full.presence) < 0.02, photo.name
        head = hand.recogniser.head
        assert np.argmax(head.read(fast.landmarks, fast.embedding)) == np.argmax(
            head.read(full.landmarks, full.embedding)
        ), photo.name


def test_the_head_reads_the_networks_embedding_and_taking_it_changes_no_output(hand):
    """The shipped head reads the full network's pooled features (1152 values a pass, the vector
    its output layers read) besides the landmarks. Keeping them costs no extra work and leaves
    the landmarks and presence exactly as a net that does not keep them gives."""
    rec = hand.recogniser
    assert rec.head.uses_embedding and rec.head.embedding_basis.shape[0] == 1152
    assert embedding_blob(HAND_DIR / rec.metadata["param"], rec.metadata["blobs"]["presence"])
    plain = _net(hand, exact=True)
    keeping = _net(hand, exact=True, embedding=True)
    readings = []
    for photo in dataset_images("hands-subhih", "rock", 2) + dataset_images("rps-cv", "paper", 2):
        image = load(photo)
        crop = best_pass(find_hand(rec.net, image, None, rec.weak, rec.search_net)).crop
        a, b = plain(image, crop), keeping(image, crop)
        assert a.embedding is None and b.embedding.shape == (1152,)
        assert np.isfinite(b.embedding).all() and np.ptp(b.embedding) > 0
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        assert a.presence == b.presence
        with_it, without = rec.head.read(b.landmarks, b.embedding), rec.head.read(b.landmarks)
        assert not np.allclose(with_it, without, atol=1e-4), "the embedding counts"
        readings.append(b.embedding)
    assert not np.allclose(readings[0], readings[2], atol=1e-3), "photos differ"
    # the recogniser's own passes carry it
    p = rec.net(load(dataset_images("hands-subhih", "rock", 1)[0]), crop)
    assert p.embedding is not None and p.embedding.shape == (1152,)


@pytest.mark.parametrize("dataset", ["best-of-one", "finger-counting"])
def test_an_empty_scene_is_none(hand, dataset):
    for photo in dataset_images(dataset, "none", 4):
        p = hand(load(photo))
        assert p.label is Gesture.NONE, photo.name
        assert p.presence < hand.recogniser.threshold


def test_the_second_search_round_finds_a_small_hand_and_spares_an_empty_wall(hand):
    """A hand at the end of a long arm (finger-counting's scissors) that the box and the first
    round (turned a quarter, zoomed out) miss is found by the second round (zoomed in), and by
    the recogniser (its palm detector); an empty wall with no hint of a hand costs the first
    round only."""
    rec = hand.recogniser
    small = load(DATASETS / "finger-counting" / "scissors" / "Set1_two_48.jpg")
    first_round = find_hand(rec.net, small, None, rec.weak, rec.search_net, SEARCH[:1])
    assert max(p.presence for p in first_round) < rec.threshold
    searched = find_hand(rec.net, small, None, rec.weak, rec.search_net)  # no palm detector
    assert best_pass(searched).presence >= rec.threshold and len(searched) > len(first_round)
    p = hand(small)  # the palm detector runs before the search and finds it too
    assert p.label is Gesture.SCISSORS and p.presence >= rec.threshold

    wall = load(DATASETS / "best-of-one" / "none" / "107.jpg")
    passes = find_hand(rec.net, wall, None, rec.weak, rec.search_net)
    assert max(q.presence for q in passes) < HINT_FLOOR
    assert len(passes) == 1 + len(SEARCH[0])  # the box and the first round: no hint, no more
    assert hand(wall).label is Gesture.NONE


def test_a_weak_pass_is_placed_again_and_only_a_sure_refined_hand_counts(hand):
    """An rps-cv scissors the search leaves weak (0.39) is found when its crop is placed again
    from its own landmarks (0.98); an empty wall whose re-placed crop reaches 0.8 (above the
    presence threshold) stays ``none``: a refined pass must reach REFINED_MIN_PRESENCE."""
    rec = hand.recogniser
    weak = load(DATASETS / "rps-cv" / "scissors" / "3sHqqD2BAKmQp4dk.jpg")
    unrefined = find_hand(rec.net, weak, None, rec.weak, rec.search_net, refine=0)
    assert best_pass(unrefined).presence < rec.threshold
    passes = find_hand(rec.net, weak, None, rec.weak, rec.search_net)
    assert passes[-1].refined and best_pass(passes) is passes[-1]
    assert passes[-1].presence >= REFINED_MIN_PRESENCE
    p = hand(weak)
    assert p.label is Gesture.SCISSORS and p.landmarks is not None

    wall = load(DATASETS / "best-of-one" / "none" / "196.jpg")
    passes = find_hand(rec.net, wall, None, rec.weak, rec.search_net)
    refined = [q.presence for q in passes if q.refined]
    assert refined and rec.threshold <= max(refined) < REFINED_MIN_PRESENCE
    assert best_pass(passes).presence < rec.threshold
    assert hand(wall).label is Gesture.NONE


def test_a_found_hand_gets_a_mirrored_look_and_an_empty_wall_does_not(hand):
    """A still box with a hand costs one pass more than its search: the landmark-placed crop read
    mirrored, whose landmarks (flipped back) lie on the same hand; the head's throw is the mean
    of both readings. An empty wall gets no mirrored pass."""
    rec = hand.recogniser
    assert rec.mirror, "the shipped head was fitted and measured with the mirrored look"
    image = load(dataset_images("hands-subhih", "paper", 1, start=3)[0])
    passes = find_hand(rec.net, image, None, rec.weak, rec.search_net)
    plain = best_pass(passes)
    before, mirrored_before = rec.passes, rec.net.mirrored
    p = hand(image)
    assert p.passes == len(passes) + 1
    assert rec.passes - before == len(passes) + 1 and rec.net.mirrored - mirrored_before == 1
    mirrored = rec.net(image, plain.crop, mirror=True)
    size = np.ptp(plain.landmarks[:, :2], axis=0).max()
    assert np.abs(mirrored.landmarks[:, :2] - plain.landmarks[:, :2]).max() < 0.25 * size
    assert mirrored.presence >= rec.threshold
    both = rec.read_pass(plain, 0, mirrored)
    alone = rec.read_pass(plain, 0)
    np.testing.assert_allclose(p.probs, both.probs, atol=1e-6)
    assert not np.allclose(both.probs, alone.probs, atol=1e-6)  # the mirrored look counts

    wall = load(DATASETS / "best-of-one" / "none" / "107.jpg")
    mirrored_before = rec.net.mirrored
    assert hand(wall).label is Gesture.NONE and rec.net.mirrored == mirrored_before


def _turned(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_a_turned_or_mirrored_photo_reads_the_same(hand):
    """Turned 45 degrees either way (a tilted hand: the landmark-placed pass turns with it) or
    mirrored (a left hand for a right), a photo gives the same gesture."""
    for label in ("scissors", "paper", "rock"):
        image = load(dataset_images("best-of-one", label, 1, start=5)[0])
        variants = (image, _turned(image, 45), _turned(image, -45), image[:, ::-1])
        readings = [hand(x) for x in variants]
        assert {r.label for r in readings} == {Gesture(label)}, label


def test_tracking_follows_a_video_with_one_pass_a_frame(hand, tmp_path):
    """A clip of real photos (OpenCV-written MJPG): the hand is found once, then tracked with
    one pass a frame; a new gesture is read as the hand changes; an empty scene drops it."""
    rock = load(dataset_images("best-of-one", "rock", 1, start=2)[0], (480, 480))
    paper = load(dataset_images("best-of-one", "paper", 1, start=2)[0], (480, 480))
    empty = load(dataset_images("best-of-one", "none", 1, start=2)[0], (480, 480))

    def framed(img, dx=0):
        frame = np.zeros((480, 640, 3), np.uint8)
        frame[:, 80 + dx : 560 + dx] = img
        return frame

    frames = [framed(rock, dx) for dx in range(0, 16, 2)]
    frames += [framed(paper, -dx) for dx in range(0, 16, 2)]
    frames += [framed(empty)] * 4
    clip = write_video(tmp_path / "clip.avi", frames)
    recogniser = GestureClassifier(HAND_DIR)
    stream = GestureStream(VideoFileSource(clip), recogniser)
    raw, passes, marks, mirrored = [], [], [], []
    for _ in range(len(frames)):
        before, mirrored_before = recogniser.recogniser.passes, recogniser.recogniser.net.mirrored
        assert stream.step()
        passes.append(recogniser.recogniser.passes - before)
        mirrored.append(recogniser.recogniser.net.mirrored - mirrored_before)
        reading = stream.latest()
        raw.append(reading.raw)
        marks.append(reading.landmarks)
    assert raw[:8] == [Gesture.ROCK] * 8
    assert raw[9:16] == [Gesture.PAPER] * 7
    assert raw[-1] is Gesture.NONE and marks[-1] is None
    # an empty box costs the box and one search crop a frame (a different one each frame)
    assert all(1 <= n <= 3 for n in passes[-3:]) and min(passes[-3:]) <= 2
    assert passes[0] >= 2  # found from the box
    assert passes[1:8] == [1] * 7  # then tracked, one pass a frame
    assert mirrored[1:8] == [0, 1, 0, 1, 0, 1, 0], "every other tracked frame is read mirrored"
    assert sum(passes[9:16]) == 7
    # landmarks are in frame pixels: the wrist moves with the hand as the frame shifts
    assert marks[1] is not None and 80 <= marks[1][:, 0].mean() <= 560


@pytest.mark.parametrize("broken", ["truncated-bin", "missing-param", "empty-bin", "bad-head"])
def test_a_broken_landmark_model_names_the_file_and_what_to_run(tmp_path, broken):
    folder = tmp_path / "hand"
    shutil.copytree(HAND_DIR, folder)
    meta = json.loads((folder / "model.json").read_text())
    binary, param = folder / meta["bin"], folder / meta["param"]
    if broken == "truncated-bin":
        binary.write_bytes(binary.read_bytes()[:200_000])
        expect = binary.name
    elif broken == "missing-param":
        param.unlink()
        expect = param.name
    elif broken == "empty-bin":
        binary.write_bytes(b"")
        expect = binary.name
    else:
        del meta["head"]["layers"]
        (folder / "model.json").write_text(json.dumps(meta))
        expect = "model.json"
    with pytest.raises(ModelError) as info:
        GestureClassifier(folder)
    assert expect in str(info.value)
    assert "python -m training" in str(info.value)
