"""The runtime wrapper with real ncnn and the shipped model (structure, not correctness)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from helpers import broken_model_copy, dataset_images, load

from vision import GestureClassifier, Prediction
from vision.cnn import _area_shrink, fit_fast
from vision.errors import ModelError
from vision.labels import CLASS_ORDER, Gesture
from vision.metadata import load_metadata
from vision.paths import SHIPPED_DEFAULT_DIR, SHIPPED_MODEL_DIR
from vision.preprocess import BadFrameError, Preprocessing, fit, prepare, resize_to


@pytest.fixture(scope="module")
def classifier():
    return GestureClassifier(SHIPPED_MODEL_DIR)  # the CNN: these tests look at its insides


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


def model_with(tmp_path, **changes):
    """A copy of the shipped model whose metadata differs by ``changes``."""
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL_DIR, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta.update(changes)
    for key, value in changes.items():
        if value is None:
            del meta[key]
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("interpolation", ["pyramid", "area", None])
def test_fast_path_matches_the_shared_preprocessing(tmp_path, interpolation):
    exact = GestureClassifier(model_with(tmp_path, interpolation=interpolation), exact=True)
    assert exact.preprocessing.interpolation == (interpolation or "area")  # old metadata: area
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


def test_reused_buffers_keep_calls_independent_across_threads():
    """The resize reuses its arrays; results must not leak between calls or threads."""
    import threading

    exact = GestureClassifier(SHIPPED_MODEL_DIR, exact=True)
    frames = [scene(480, 640, seed=s)[:, 80:560] for s in range(4)]
    expected = [exact.probabilities(prepare(f, exact.preprocessing)) for f in frames]
    first = exact(frames[0]).probs.copy()
    exact(frames[1])
    np.testing.assert_allclose(first, expected[0], atol=1e-5)  # not overwritten by the next call
    failures = []

    def worker(offset: int) -> None:
        for n in range(40):
            i = (n + offset) % len(frames)
            if not np.allclose(exact(frames[i]).probs, expected[i], atol=1e-5):
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(o,)) for o in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_fit_fast_equals_fit_for_other_factors_and_modes():
    image = scene(400, 700)
    for mode in ("center_crop", "letterbox", "stretch"):
        for interpolation in ("pyramid", "area"):
            spec = Preprocessing(resize=mode, interpolation=interpolation)
            np.testing.assert_array_equal(fit_fast(image, spec), fit(image, spec))


@pytest.mark.parametrize("shape", [(480, 480), (481, 333), (1080, 1080), (200, 170), (90, 60)])
def test_pyramid_shrink_averages_like_area_and_reuses_buffers(shape):
    """Halving steps then bilinear: close to a full area average, never a sampled pixel."""
    rng = np.random.default_rng(shape[0])
    image = rng.integers(0, 256, (*shape, 3), np.uint8)  # noise: aliasing would show at once
    size = (160, 160)
    out = resize_to(image, size, "pyramid")
    assert out.shape == (160, 160, 3) and out.dtype == np.uint8
    area = resize_to(image, size, "area").astype(float)
    nearest = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST).astype(float)
    if min(shape) >= 320:  # a real shrink: pyramid stays near the area average
        assert np.abs(out - area).std() < np.abs(nearest - area).std() / 3
    cache: dict = {}

    def buffers(s):
        return cache.setdefault(s, np.empty(s, np.uint8))

    np.testing.assert_array_equal(resize_to(image, size, "pyramid", buffers), out)


def test_unknown_interpolation_is_refused(tmp_path):
    with pytest.raises(ValueError, match="pyramid or area"):
        Preprocessing(interpolation="cubic")
    with pytest.raises(ModelError, match="interpolation"):
        GestureClassifier(model_with(tmp_path, interpolation="cubic"))


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


BROKEN = {
    "empty-bin": r"model\.ncnn\.bin is empty",
    "truncated-bin": r"model\.ncnn\.bin: it is truncated",
    "missing-bin": r"model\.ncnn\.bin .*does not exist",
    "broken-param": r"ncnn cannot load .*model\.ncnn\.param: it is broken",
    "not-a-param": r"model\.ncnn\.param is not an ncnn \.param file",
    "invalid-json": r"model\.json is not valid JSON",
    "incomplete-json": r"model\.json: the field 'classes' .* is missing",
    "empty-folder": r"no model metadata at .*model\.json \(the folder is empty\)",
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_model_names_the_file_and_ncnn_stays_quiet(tmp_path, capfd, kind):
    folder = broken_model_copy(tmp_path, kind)
    with pytest.raises(ModelError, match=BROKEN[kind]) as caught:
        GestureClassifier(folder)
    assert str(folder) in str(caught.value)
    out, err = capfd.readouterr()
    assert "ModelBin" not in err and "layer" not in err and "failed" not in err, err


def test_a_broken_personal_model_falls_back_to_the_shipped_one(caplog):
    from vision.paths import active_model_dir

    active = active_model_dir()
    shutil.copytree(SHIPPED_MODEL_DIR, active)
    (active / "model.ncnn.bin").write_bytes(b"")
    with caplog.at_level("INFO", logger="vision.classifier"):
        clf = GestureClassifier()
    assert clf.origin == "shipped" and clf.folder == SHIPPED_DEFAULT_DIR
    assert clf(scene(64, 64)).probs.shape == (4,)
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) == 1 and "python -m training personalize --reset" in warning[0]
    assert "re-export" not in warning[0] and "model.ncnn.bin is empty" in warning[0]
    assert any("gesture model: shipped" in r.getMessage() for r in caplog.records)


def test_origin_says_which_model_runs(tmp_path):
    from vision.paths import active_model_dir

    assert GestureClassifier().origin == "shipped"
    explicit = tmp_path / "mine"
    shutil.copytree(SHIPPED_MODEL_DIR, explicit)
    assert GestureClassifier(explicit).origin == str(explicit)
    shutil.copytree(SHIPPED_MODEL_DIR, active_model_dir())
    assert GestureClassifier().origin == "personal"


def test_the_door_opens_every_kind_and_metadata_already_read():
    """One door for each kind the metadata names; metadata read in memory opens the same model
    (how personalisation reads its candidates without writing them); what only a CNN has is an
    error that names the kind asked."""
    from vision.classifier import recogniser_kinds
    from vision.metadata import KIND_NAMES

    assert tuple(recogniser_kinds()) == KIND_NAMES
    photo = load(dataset_images("best-of-one", "paper", 1)[0], (480, 480))
    door = GestureClassifier(SHIPPED_DEFAULT_DIR)
    again = GestureClassifier.from_metadata(*load_metadata(SHIPPED_DEFAULT_DIR))
    assert (door.kind, again.kind) == ("fused", "fused")
    a, b = door(photo), again(photo)
    assert a.label is b.label is Gesture.PAPER and np.array_equal(a.probs, b.probs)
    with pytest.raises(AttributeError, match="the fused recogniser .* has no 'input_size'"):
        _ = door.input_size
    cnn_meta, _ = load_metadata(SHIPPED_MODEL_DIR)
    assert GestureClassifier(SHIPPED_MODEL_DIR).input_size == tuple(cnn_meta["input_size"])
