"""MediaPipe's palm detector on ncnn (``vision.palm``), as the landmark recogniser's finder of hands
the box pass misses: real ncnn models on real photos from ../shared/datasets."""

from __future__ import annotations

import json
import math
import shutil

import cv2
import numpy as np
import pytest
from helpers import DATASETS, break_ncnn_part, dataset_images, load, shipped_hand_meta

from vision.classifier import GestureClassifier
from vision.errors import ModelError
from vision.hand import INPUT_SIZE as CROP_SIZE
from vision.hand import (
    TILED_MIN_PRESENCE,
    Crop,
    HandPass,
    LandmarkNet,
    best_pass,
    reached,
    tiles,
    warp_crop,
)
from vision.labels import Gesture
from vision.palm import ANCHORS, Palm, PalmDetector, decode, ssd_anchors, weighted_nms
from vision.paths import ASSETS_DIR

HAND_DIR = ASSETS_DIR / "hand"
pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="needs ../shared/datasets")


def test_anchors_match_mediapipes_count_and_layout():
    """SsdAnchorsCalculator in palm_detection_cpu.pbtxt: 4 layers, strides 8/16/16/16 on a
    192 input, 2 anchors a layer, fixed size, offset 0.5: a 24x24 grid with 2 anchors a cell,
    then a 12x12 grid with 6, each cell's anchors in a row."""
    assert ANCHORS.shape == (2016, 2)
    first, second = ANCHORS[:1152], ANCHORS[1152:]
    np.testing.assert_allclose(first[0], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(first[1], first[0])  # two anchors share the first cell
    np.testing.assert_allclose(first[2], [1.5 / 24, 0.5 / 24])  # then x moves on
    np.testing.assert_allclose(first[2 * 24], [0.5 / 24, 1.5 / 24])  # a row later, y
    np.testing.assert_allclose(second[:6], [[0.5 / 12, 0.5 / 12]] * 6)
    np.testing.assert_allclose(second[-1], [11.5 / 12, 11.5 / 12])
    assert len(ssd_anchors(192, (8, 16, 32))) == 24 * 24 * 2 + 12 * 12 * 2 + 6 * 6 * 2


def test_decoding_and_weighted_suppression():
    """Two overlapping detections become one whose box is their score-weighted mean, keeping the
    surer score; one far away stays; scores below 0.5 are dropped."""
    raw = np.zeros((2016, 18), np.float32)
    logits = np.full(2016, -10.0, np.float32)
    cell = 24 * 12 + 12  # anchor centre (12.5/24, 12.5/24)
    for k, (dx, logit) in enumerate(((0.0, 3.0), (9.6, 1.0))):
        raw[2 * cell + k, :4] = [dx, 0.0, 48.0, 48.0]
        logits[2 * cell + k] = logit
    raw[0, :4] = [0, 0, 20, 20]
    logits[0] = 2.0
    logits[5] = -0.5  # 0.38: below the bar
    scores, values = decode(raw, logits)
    assert len(scores) == 3
    merged = weighted_nms(scores, values)
    assert len(merged) == 2
    score, box = merged[0]
    assert score == pytest.approx(1 / (1 + math.exp(-3)))
    w1, w2 = 1 / (1 + math.exp(-3)), 1 / (1 + math.exp(-1))
    expect_x = 12.5 / 24 + (w2 * 9.6 / 192) / (w1 + w2)
    assert box[0] == pytest.approx(expect_x)


@pytest.fixture(scope="module")
def detector():
    meta = json.loads((HAND_DIR / "model.json").read_text())["detector"]
    return PalmDetector(HAND_DIR / meta["param"], HAND_DIR / meta["bin"], meta["blobs"])


def _on_wall(photo: np.ndarray, side: int = 400, frac: float = 0.3, corner=(0, 0)):
    wall = load(DATASETS / "best-of-one" / "none" / "107.jpg", (side, side))
    small = cv2.resize(photo, (int(side * frac), int(side * frac)), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    y = 0 if corner[0] == 0 else side - h
    x = 0 if corner[1] == 0 else side - w
    wall[y : y + h, x : x + w] = small
    return wall, (x, y, x + w, y + h)


def test_the_detector_finds_a_small_hand_in_a_corner(detector):
    photo = load(dataset_images("hands-subhih", "paper", 1, start=3)[0])
    scene, (x0, y0, x1, y1) = _on_wall(photo, corner=(0, 1))
    palms = detector(scene)
    assert palms and palms[0].score >= 0.5
    px0, py0, px1, py1 = palms[0].box
    cx, cy = (px0 + px1) / 2, (py0 + py1) / 2
    assert x0 <= cx <= x1 and y0 <= cy <= y1, "the palm lies in the pasted photo"


def test_a_detections_crop_is_upright_for_a_hand_turned_90_degrees(detector):
    """Turned a quarter, the palm's crop turns with it, so that the landmark network sees the
    hand fingers up: the wrist below the middle finger's base in the crop."""
    photo = load(dataset_images("best-of-one", "paper", 1, start=2)[0], (400, 400))
    net_meta = json.loads((HAND_DIR / "model.json").read_text())
    net = LandmarkNet(HAND_DIR / net_meta["param"], HAND_DIR / net_meta["bin"], net_meta["blobs"])
    angles = []
    for turned in (photo, np.rot90(photo).copy(), np.rot90(photo, -1).copy()):
        palm = detector(turned)[0]
        crop = palm.crop()
        angles.append(crop.angle)
        points, presence, _ = net.run_pixels(warp_crop(turned, crop))
        assert presence > 0.9
        wrist, middle_base = points[0, :2], points[9, :2]
        assert wrist[1] - middle_base[1] > 0.15 * CROP_SIZE, "fingers up in the crop"
    # np.rot90 turns counter-clockwise: the crop turns a quarter each way from the upright one
    assert angles[1] - angles[0] == pytest.approx(math.pi / 2, abs=0.35)
    assert angles[2] - angles[0] == pytest.approx(-math.pi / 2, abs=0.35)


def test_a_palm_crop_follows_mediapipes_rule():
    """Box centre shifted half the box towards the fingers, its long side times 2.6, turned so
    that wrist -> middle finger's base points up."""
    keypoints = np.zeros((7, 2))
    keypoints[0] = [100, 100]  # wrist
    keypoints[2] = [140, 100]  # middle finger's base: the hand points right
    crop = Palm(0.9, (80.0, 70.0, 140.0, 110.0), keypoints).crop()
    assert crop.size == pytest.approx(60 * 2.6)
    assert crop.angle == pytest.approx(-math.pi / 2)
    up = -crop.axes()[1]
    np.testing.assert_allclose(up, [1.0, 0.0], atol=1e-9)
    # shifted by half the box's height along the crop's up: towards the fingers
    assert crop.cx == pytest.approx(110 + 0.5 * 40) and crop.cy == pytest.approx(90)


@pytest.fixture(scope="module")
def hand():
    return GestureClassifier(HAND_DIR)


def _variant(folder, change) -> GestureClassifier:
    """The shipped landmark recogniser with its metadata changed by ``change(meta)``."""
    meta = shipped_hand_meta()
    change(meta)
    (folder / "model.json").write_text(json.dumps(meta))
    return GestureClassifier(folder)


@pytest.fixture(scope="module")
def no_detector(tmp_path_factory):
    """The shipped recogniser as older metadata wrote it: no palm detector."""
    return _variant(tmp_path_factory.mktemp("hand-no-detector"), lambda m: m.pop("detector"))


@pytest.fixture(scope="module")
def no_tiles(tmp_path_factory):
    """The shipped recogniser with a detector that looks at the whole box only."""
    return _variant(
        tmp_path_factory.mktemp("hand-no-tiles"), lambda m: m["detector"].update(tile=0.0)
    )


@pytest.mark.parametrize(
    ("label", "start", "corner"),
    [("paper", 3, (0, 1)), ("rock", 2, (0, 0)), ("scissors", 1, (1, 1))],
)
def test_a_hand_shrunk_into_a_corner_is_found_and_read_only_with_the_detector(
    hand, no_detector, label, start, corner
):
    photo = load(dataset_images("hands-subhih", label, 1, start=start)[0])
    scene, (x0, y0, x1, y1) = _on_wall(photo, corner=corner)
    assert no_detector(scene).label is Gesture.NONE, "the box pass and search miss it"
    p = hand(scene)
    assert p.label is Gesture(label)
    assert p.palm_box is not None and p.landmarks is not None
    assert x0 - 20 <= p.landmarks[:, 0].mean() <= x1 + 20
    assert y0 - 20 <= p.landmarks[:, 1].mean() <= y1 + 20


def test_tiles_are_the_boxs_four_corner_squares():
    region = Crop(200.0, 150.0, 400.0)
    squares = tiles(region, 0.6)
    assert [t.size for t in squares] == pytest.approx([240.0] * 4)
    corners = [(t.cx - 120, t.cy - 120, t.cx + 120, t.cy + 120) for t in squares]
    assert corners[0] == pytest.approx((0, -50, 240, 190)), "top left first"
    assert corners[3] == pytest.approx((160, 110, 400, 350)), "bottom right last"
    # a turned region's tiles turn with it: its top-left corner square stays at its top left
    turned = tiles(Crop(0.0, 0.0, 100.0, math.pi / 2), 0.6)[0]
    assert (turned.cx, turned.cy, turned.angle) == pytest.approx((-20, 20, math.pi / 2))


def test_a_hand_placed_from_a_tiles_palm_counts_only_when_surer():
    crop, marks = Crop(0.0, 0.0, 1.0), np.zeros((21, 3), np.float32)
    box = HandPass(marks, 0.3, 0.5, crop)
    unsure = HandPass(marks, TILED_MIN_PRESENCE - 0.1, 0.5, crop, tiled=True)
    sure = HandPass(marks, TILED_MIN_PRESENCE + 0.05, 0.5, crop, tiled=True)
    assert best_pass([box, unsure]) is box
    assert best_pass([box, sure]) is sure
    assert not reached([box, unsure], 0.5) and reached([box, sure], 0.5)


@pytest.mark.parametrize(
    ("folder", "label", "start", "corner"),
    [("best-of-one", "rock", 2, (0, 0)), ("best-of-one", "scissors", 2, (1, 1))],
)
def test_a_hand_too_small_for_the_whole_box_is_found_through_a_corner_tile(
    hand, no_tiles, folder, label, start, corner
):
    """At an eighth of the box its palm is smaller than the detector's smallest anchor: the
    whole box's look misses it, the corner tile's (magnified) look finds it."""
    assert hand.recogniser.tile > 0, "the shipped recogniser looks in tiles"
    photo = load(dataset_images(folder, label, 1, start=start)[0])
    scene, (x0, y0, x1, y1) = _on_wall(photo, frac=0.12, corner=corner)
    assert no_tiles(scene).label is Gesture.NONE, "the whole box's look misses it"
    p = hand(scene)
    assert p.label is Gesture(label)
    assert x0 - 20 <= p.landmarks[:, 0].mean() <= x1 + 20
    assert y0 - 20 <= p.landmarks[:, 1].mean() <= y1 + 20


def test_empty_scenes_stay_none_with_the_detector(hand, detector):
    """The detector's score alone is not enough: on best-of-one's wall 196 it sees a "palm"
    (0.65), and the landmark pass on its crop finds no hand there."""
    assert detector(load(DATASETS / "best-of-one" / "none" / "196.jpg"))
    for folder in ("best-of-one", "finger-counting"):
        for photo in [*dataset_images(folder, "none", 6), DATASETS / folder / "none" / "196.jpg"]:
            if not photo.is_file():
                continue
            p = hand(load(photo))
            assert p.label is Gesture.NONE, photo.name
            assert p.palm_box is None and p.landmarks is None


def test_the_stream_finds_the_hand_again_after_it_left_the_box(hand, no_detector):
    """Tracked, then gone (an empty wall), then back small in a corner: the detector and one
    pass on its palm's crop find it again, and tracking resumes from there (one pass a frame)."""
    rock = load(dataset_images("best-of-one", "rock", 1, start=2)[0], (400, 400))
    wall = load(DATASETS / "best-of-one" / "none" / "107.jpg", (400, 400))
    far, _ = _on_wall(load(dataset_images("hands-subhih", "rock", 1, start=2)[0]))
    rec = GestureClassifier(HAND_DIR).recogniser
    detector_before = rec.detector.passes
    readings, passes = [], []
    for frame in (rock, rock, wall, wall, far, far, far):
        before = rec.passes
        readings.append(rec.track(frame))
        passes.append(rec.passes - before)
    labels = [r.label for r in readings]
    assert labels[:2] == [Gesture.ROCK] * 2 and labels[2:4] == [Gesture.NONE] * 2
    assert labels[4:] == [Gesture.ROCK] * 3
    assert readings[4].palm_box is not None, "found again by the detector"
    assert passes[2:4] == [2, 1], "the lost track's crop, then the box (and the detector)"
    assert passes[4] == 1, "one pass on the palm's crop: no box pass"
    assert passes[5:] == [1, 1], "then tracked"
    # on lost frames only: the first, the two empty ones and the far hand's first
    assert rec.detector.passes - detector_before == 4
    # without a detector the same stream does not find it
    old = no_detector.recogniser
    old.reset_tracking()
    assert all(old.track(far).label is Gesture.NONE for _ in range(3))


def test_the_stream_finds_a_tiny_hand_through_one_tile_every_other_lost_frame(hand, no_tiles):
    """Lost frames alternate the whole box and one corner tile (one detector pass a frame
    either way), so a hand too small for the whole box's look is found within eight frames."""
    tiny, _ = _on_wall(load(dataset_images("best-of-one", "rock", 1, start=2)[0]), frac=0.12)
    rec = GestureClassifier(HAND_DIR).recogniser
    before = rec.detector.passes
    labels = [rec.track(tiny).label for _ in range(8)]
    assert Gesture.ROCK in labels
    first = labels.index(Gesture.ROCK)
    assert rec.detector.passes - before == first + 1, "one detector look a lost frame"
    assert labels[first:] == [Gesture.ROCK] * (8 - first), "then tracked"
    still = no_tiles.recogniser
    still.reset_tracking()
    assert all(still.track(tiny).label is Gesture.NONE for _ in range(8))


@pytest.mark.parametrize("broken", ["missing-param", "truncated-bin", "not-ncnn"])
def test_a_missing_or_corrupt_detector_names_the_file_and_the_command(tmp_path, broken):
    folder = tmp_path / "hand"
    shutil.copytree(HAND_DIR, folder)
    expect = break_ncnn_part(folder, "detector", broken)
    with pytest.raises(ModelError) as info:
        GestureClassifier(folder)
    assert expect in str(info.value)
    assert "python -m training landmarks" in str(info.value)


def test_older_metadata_without_a_detector_loads_and_reads_as_before(no_detector):
    rec = no_detector.recogniser
    assert rec.detector is None
    photo = load(dataset_images("best-of-one", "scissors", 1, start=1)[0])
    p = no_detector(photo)
    assert p.label is Gesture.SCISSORS and p.palm_box is None


def test_the_fused_default_finds_a_far_hand_through_its_landmark_part():
    fused = GestureClassifier(ASSETS_DIR / "default")
    assert fused.kind == "fused"
    photo = load(dataset_images("hands-subhih", "paper", 1, start=3)[0])
    scene, _ = _on_wall(photo, corner=(0, 1))
    p = fused(scene)
    assert p.label is Gesture.PAPER and p.landmarks is not None


def test_the_conversion_writes_pnnxs_resize_as_ncnns_bilinear_interp(tmp_path):
    from training.hand.palm import _interp_layers

    param = tmp_path / "p.ncnn.param"
    param.write_text(
        "7767517\n3 3\nInput in0 0 1 in0\n"
        "Resize                   Resize_105               1 1 159 160\n"
        "Convolution conv 1 1 160 out0 0=1\n"
    )
    assert _interp_layers(param) == 1
    lines = param.read_text().splitlines()
    assert lines[3].split()[:6] == ["Interp", "Resize_105", "1", "1", "159", "160"]
    assert lines[3].split()[6:] == ["0=2", "1=2.000000e+00", "2=2.000000e+00", "6=0"]
    assert lines[4].startswith("Convolution")


def test_a_detector_that_disagrees_with_its_reference_is_refused():
    from training.hand.palm import check

    check("lite", {"tflite": {"max_box_px": 0.001, "max_score_logit": 1e-4}})
    with pytest.raises(ModelError) as info:
        check("lite", {"tflite": {"max_box_px": 0.5, "max_score_logit": 1e-4}})
    assert "disagrees with tflite" in str(info.value) and "nothing written" in str(info.value)
