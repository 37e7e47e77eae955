"""The landmark recogniser's plain-numpy parts: crops, the landmarks-to-crop step, features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vision.errors import ModelError
from vision.hand import INPUT_SIZE, Crop, crop_from_landmarks, crop_to_image, warp_crop
from vision.handfeatures import N_HAND_FEATURES, GestureHead, embedding_basis, hand_features


def _hand(rng: np.random.Generator) -> np.ndarray:
    """A plausible upright hand: wrist at the bottom, fingers fanned upwards, some depth."""
    pts = np.zeros((21, 3))
    pts[0] = (100, 200, 0)
    for f, base_x in enumerate((60, 80, 100, 120, 140)):
        for j in range(4):
            pts[1 + 4 * f + j] = (base_x + rng.normal(0, 3), 160 - 22 * j + rng.normal(0, 3), j)
    return pts


def _rotate(pts: np.ndarray, angle: float, centre=(100.0, 150.0)) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    out = pts.copy()
    x, y = pts[:, 0] - centre[0], pts[:, 1] - centre[1]
    out[:, 0] = centre[0] + c * x + s * y  # counter-clockwise on screen (y points down)
    out[:, 1] = centre[1] - s * x + c * y
    return out


def test_box_crop_maps_the_input_square_around_the_whole_image():
    crop = Crop.box(300, 200)
    m = crop.to_image()
    corners = np.array([[0, 0, 1], [INPUT_SIZE, INPUT_SIZE, 1]], float) @ m.T
    np.testing.assert_allclose(corners, [[0, -50], [300, 250]])


def test_warp_and_map_back_agree_on_a_marked_pixel():
    image = np.zeros((240, 320, 3), np.uint8)
    image[60:64, 200:204] = 255  # a white dot at about (201.5, 61.5)
    crop = Crop(190.0, 80.0, 120.0, math.radians(30))
    warped = warp_crop(image, crop)
    ys, xs = np.nonzero(warped[..., 0] > 128)
    back = crop_to_image(np.array([[xs.mean(), ys.mean(), 0.0]]), crop)
    np.testing.assert_allclose(back[0, :2], (201.5, 61.5), atol=1.0)


def test_upright_hand_gives_an_upright_crop_above_the_wrist_twice_the_palm():
    pts = _hand(np.random.default_rng(0))
    crop = crop_from_landmarks(pts)
    assert abs(crop.angle) < math.radians(6)
    assert crop.cy < pts[0, 1]  # shifted up, towards the fingers
    palm = pts[[0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18], :2]
    assert crop.size == pytest.approx(2.0 * np.ptp(palm, axis=0).max(), rel=0.15)


@pytest.mark.parametrize("degrees", [-120, -45, 30, 90, 180])
def test_crop_turns_with_the_hand(degrees):
    pts = _hand(np.random.default_rng(1))
    upright = crop_from_landmarks(pts)
    turned = crop_from_landmarks(_rotate(pts, math.radians(degrees)))
    diff = (turned.angle - upright.angle - math.radians(degrees) + math.pi) % (2 * math.pi)
    assert diff - math.pi == pytest.approx(0.0, abs=1e-9)
    assert turned.size == pytest.approx(upright.size, rel=1e-6)

    # the hand sits in the same place of its crop: the wrist maps to the same crop pixel
    def wrist_in_crop(crop: Crop, p: np.ndarray) -> np.ndarray:
        inv = np.linalg.inv(np.vstack([crop.to_image(), [0, 0, 1]]))
        return (inv @ np.array([p[0, 0], p[0, 1], 1.0]))[:2]

    np.testing.assert_allclose(
        wrist_in_crop(turned, _rotate(pts, math.radians(degrees))),
        wrist_in_crop(upright, pts),
        atol=1e-6,
    )


def test_features_ignore_rotation_scale_position_and_mirroring():
    rng = np.random.default_rng(2)
    pts = _hand(rng)
    base = hand_features(pts)
    moved = _rotate(pts, 1.1) * 0.5 + (13.0, -7.0, 0.0)
    moved[:, 2] = pts[:, 2] * 0.5  # depth scales with the image
    mirrored = pts * (-1.0, 1.0, 1.0)
    np.testing.assert_allclose(hand_features(moved), base, atol=1e-5)
    np.testing.assert_allclose(hand_features(mirrored), base, atol=1e-6)
    assert not np.allclose(hand_features(_hand(np.random.default_rng(3))), base, atol=1e-3)


def test_features_of_many_hands_match_one_at_a_time():
    hands = np.stack([_hand(np.random.default_rng(k)) for k in range(4)])
    np.testing.assert_allclose(hand_features(hands)[2], hand_features(hands[2]))
    with pytest.raises(ValueError, match="21, 3"):
        hand_features(np.zeros((20, 3)))


def test_head_round_trips_through_metadata_and_rejects_bad_shapes():
    rng = np.random.default_rng(4)
    f = hand_features(_hand(rng)).size
    head = GestureHead(
        classes=("scissors", "rock", "paper"),
        mean=rng.normal(size=f),
        scale=np.abs(rng.normal(size=f)) + 0.5,
        weights=(rng.normal(size=(f, 8)), rng.normal(size=(8, 3))),
        biases=(rng.normal(size=8), rng.normal(size=3)),
    )
    x = hand_features(_hand(rng))
    again = GestureHead.from_metadata(head.to_metadata())
    np.testing.assert_allclose(again.probabilities(x), head.probabilities(x))
    assert again.probabilities(x).sum() == pytest.approx(1.0)
    bad = head.to_metadata()
    bad["layers"][1]["weight"] = bad["layers"][1]["weight"][:-1]
    with pytest.raises(ModelError, match="bad gesture head"):
        GestureHead.from_metadata(bad, "x/model.json")


def test_a_head_that_reads_the_embedding_round_trips_and_reads_a_missing_one_as_the_mean():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(200, 16)) * np.linspace(3.0, 0.1, 16) + 2.0  # most spread on axis 0
    mean, basis = embedding_basis(emb, 3)
    np.testing.assert_allclose(mean, emb.mean(axis=0))
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-9)
    assert abs(basis[0, 0]) > 0.9, "the first direction is the most spread one"
    f = N_HAND_FEATURES + 3
    head = GestureHead(
        classes=("scissors", "rock", "paper"),
        mean=np.zeros(f),
        scale=np.ones(f),
        weights=(rng.normal(size=(f, 3)),),
        biases=(np.zeros(3),),
        embedding_mean=mean,
        embedding_basis=basis,
    )
    lm = np.stack([_hand(np.random.default_rng(k)) for k in range(3)])
    again = GestureHead.from_metadata(head.to_metadata())
    assert again.uses_embedding
    np.testing.assert_allclose(again.read(lm, emb[:3]), head.read(lm, emb[:3]))
    assert head.features(lm[0], emb[0]).shape == (f,)
    # a look without an embedding (None, or a row of NaN) reads as the mean: projection 0
    missing = emb[:3].copy()
    missing[1] = np.nan
    feats = head.features(lm, missing)
    assert np.all(feats[1, N_HAND_FEATURES:] == 0) and np.any(feats[0, N_HAND_FEATURES:] != 0)
    np.testing.assert_allclose(head.features(lm)[:, N_HAND_FEATURES:], 0.0)
    np.testing.assert_allclose(head.read(lm[1], emb.mean(axis=0)), head.read(lm[1]), atol=1e-9)
    with pytest.raises(ValueError, match="5 values, the head wants 16"):
        head.features(lm, np.zeros((3, 5)))
    # the inputs must be the landmark features plus one per direction
    bad = head.to_metadata()
    bad["embedding"]["basis"] = np.asarray(bad["embedding"]["basis"])[:, :2].tolist()
    with pytest.raises(ModelError, match="bad gesture head"):
        GestureHead.from_metadata(bad, "x/model.json")
