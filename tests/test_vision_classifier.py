"""The runtime wrapper with real ncnn and the shipped model (structure, not correctness)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from vision import GestureClassifier, Prediction
from vision.classifier import _area_shrink, fit_fast, load_metadata
from vision.errors import ModelError
from vision.labels import CLASS_ORDER, Gesture
from vision.paths import SHIPPED_MODEL_DIR
from vision.preprocess import BadFrameError, Preprocessing, fit, prepare, resize_to


@pytest.fixture(scope="module")
def classifier():
    return GestureClassifier()


def scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (5, 5), 2)


def test_metadata_drives_classes_and_preprocessing(classifier):
    meta, folder = load_metadata(SHIPPED_MODEL_DIR)
    assert classifier.classes == tuple(Gesture.parse(c) for c in meta["classes"])
    assert set(classifier.classes) == set(CLASS_ORDER)
    assert classifier.preprocessing == Preprocessing.from_metadata(meta)
    assert classifier.input_size == tuple(meta["input_size"])
    assert classifier.metadata["param"] == meta["param"] and folder == classifier.folder


@pytest.mark.parametrize(
    "image",
    [
        scene(480, 640),
        scene(37, 251),  # odd size, very wide
        scene(300, 40)[:, :, 0],  # grey
        np.dstack([scene(200, 200), np.full((200, 200), 255, np.uint8)]),  # BGRA
        scene(1, 1),
    ],
    ids=["vga", "odd-size", "grey", "bgra", "one-pixel"],
)
def test_any_image_gives_a_probability_vector(classifier, image):
    pred = classifier(image)
    assert isinstance(pred, Prediction)
    assert pred.label in classifier.classes
    assert pred.probs.shape == (len(classifier.classes),) and pred.probs.dtype == np.float32
    assert np.all(pred.probs >= 0) and pred.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert pred.confidence == pytest.approx(float(pred.probs.max()))
    assert pred.label is classifier.classes[int(np.argmax(pred.probs))]


def test_empty_image_is_a_bad_frame(classifier):
    with pytest.raises(BadFrameError, match="empty"):
        classifier(np.zeros((0, 0, 3), np.uint8))


def test_fast_path_matches_the_shared_preprocessing():
    exact = GestureClassifier(exact=True)
    image = scene(480, 640, seed=3)
    roi = image[:, 80:560]  # a view, as the stream passes it
    reference = prepare(roi, exact.preprocessing)
    np.testing.assert_allclose(exact.input_tensor(roi), reference, atol=1e-5)
    np.testing.assert_allclose(exact(roi).probs, exact.probabilities(reference), atol=1e-5)
    grey = image[:, :, 1]
    np.testing.assert_allclose(
        exact.input_tensor(grey), prepare(grey, exact.preprocessing), atol=1e-5
    )


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("size", [(160, 160), (48, 64)])
def test_whole_number_shrink_is_bit_exact_with_inter_area(k, size):
    h, w = size
    image = np.random.default_rng(k).integers(0, 256, (h * k, w * k, 3), np.uint8)
    np.testing.assert_array_equal(_area_shrink(image, size), resize_to(image, size))


def test_fit_fast_equals_fit_for_other_factors_and_modes():
    image = scene(400, 700)
    for mode in ("center_crop", "letterbox", "stretch"):
        spec = Preprocessing(resize=mode)
        np.testing.assert_array_equal(fit_fast(image, spec), fit(image, spec))


def test_probabilities_of_a_prepared_tensor(classifier):
    tensor = prepare(scene(160, 160), classifier.preprocessing)
    assert tensor.shape == (3, *classifier.input_size)
    probs = classifier.probabilities(tensor)
    assert probs.shape == (4,) and probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_model_from_metadata_path_and_thread_count(tmp_path):
    c = GestureClassifier(SHIPPED_MODEL_DIR / "model.json", threads=2)
    assert c.threads == 2
    assert c(scene(64, 64)).probs.shape == (4,)
    with pytest.raises(ValueError, match="threads"):
        GestureClassifier(threads=0)


def test_missing_or_broken_model_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="python -m training export"):
        GestureClassifier(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(SHIPPED_MODEL_DIR, broken)
    meta = json.loads((broken / "model.json").read_text())
    (broken / "model.json").write_text(json.dumps({**meta, "classes": ["rock", "lizard"]}))
    with pytest.raises(ModelError, match="bad classes"):
        GestureClassifier(broken)
    (broken / "model.json").write_text(json.dumps({**meta, "param": "missing.param"}))
    with pytest.raises(ModelError, match="re-export"):
        GestureClassifier(broken)


def test_active_user_model_is_preferred(tmp_path, monkeypatch):
    from vision.paths import active_model_dir

    active = active_model_dir()
    shutil.copytree(SHIPPED_MODEL_DIR, active)
    assert GestureClassifier().folder == active
