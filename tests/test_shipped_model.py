"""The shipped model in assets/models: it loads, fits its budget and reads real photos correctly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import DATASETS

from training import synth
from training.data import find_test_list, read_image, split_dataset
from vision import Gesture, GestureClassifier
from vision.paths import SHIPPED_DEFAULT_DIR, SHIPPED_MODEL_DIR

META = json.loads((SHIPPED_MODEL_DIR / "model.json").read_text())


def test_shipped_model_files_and_metadata():
    size = sum(p.stat().st_size for p in SHIPPED_MODEL_DIR.iterdir() if p.is_file())
    assert size <= 5 * 1024 * 1024, f"assets/models is {size / 1e6:.1f} MB, over 5 MB"
    assert "PLACEHOLDER" not in json.dumps(META), "the shipped model is still the placeholder"
    assert META["classes"] == ["scissors", "rock", "paper", "none"]
    assert META["model"] == "liteconv"
    assert META["parity"]["max_prob_diff"] <= 1e-3
    assert (SHIPPED_MODEL_DIR / "README.md").is_file(), "the model card is missing"
    clf = GestureClassifier(SHIPPED_MODEL_DIR)
    assert clf.kind == "cnn"
    assert tuple(clf.preprocessing.input_size) == tuple(META["input_size"])
    default = GestureClassifier()
    assert default.kind == "fused" and default.folder.resolve() == SHIPPED_DEFAULT_DIR.resolve()
    # the fused default's CNN part is the one its rule was chosen for (assets/default/cnn)
    assert default.recogniser.cnn.folder.resolve() == (SHIPPED_DEFAULT_DIR / "cnn").resolve()


def _test_photos(dataset: str, per_class: int) -> list[tuple[np.ndarray, Gesture]]:
    """Evenly spaced photos of each class from the dataset's test split (never trained on)."""
    root = DATASETS / dataset
    split = split_dataset(root, 0.2, seed=0, test_list=find_test_list(root))
    out = []
    for label in (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS):
        items = [rel for rel, lab in split.test if lab == label.index]
        step = max(1, len(items) // per_class)
        for rel in items[::step][:per_class]:
            out.append((read_image(root / rel), label))
    return out


@pytest.mark.parametrize(("dataset", "minimum"), [("rps-cv", 0.95), ("rps-sxsw", 0.65)])
def test_shipped_model_reads_real_test_photos(datasets_dir, dataset, minimum):
    clf = GestureClassifier(SHIPPED_MODEL_DIR)
    photos = _test_photos(dataset, per_class=20)
    predictions = [clf(img).label for img, _ in photos]
    correct = sum(p is label for p, (_, label) in zip(predictions, photos, strict=True))
    accuracy = correct / len(photos)
    assert accuracy >= minimum, f"{dataset}: {accuracy:.2f} on {len(photos)} test photos"


def test_shipped_model_calls_scenes_without_a_hand_none():
    clf = GestureClassifier(SHIPPED_MODEL_DIR)
    rng = np.random.default_rng(12345)  # other scenes than training's (seeded per view there)
    scenes = [synth.background(rng, (240, 320)) for _ in range(30)]
    nones = sum(clf(img).label is Gesture.NONE for img in scenes)
    assert nones >= 24, f"only {nones}/30 empty scenes read as none"
