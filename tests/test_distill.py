"""The shipped model's recipe (training.distill) and its synthetic scenes, end to end but tiny."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import torch
from helpers import ROOT, dataset_images

from training import synth
from training.distill import DistillConfig, export_shipped, run
from training.export import compact_state_dict, expand_state_dict
from training.models import build_model
from training.personalize import load_base_checkpoint
from vision import Gesture, GestureClassifier


def tiny_dataset(tmp_path, per_class: int) -> str:
    """A dataset folder with ``per_class`` real rps-cv photos of each throw."""
    data = tmp_path / "data"
    for label in ("rock", "paper", "scissors"):
        (data / label).mkdir(parents=True)
        for path in dataset_images("rps-cv", label, per_class):
            shutil.copy(path, data / label)
    return str(data)


def test_synthetic_scenes_and_composites(datasets_dir):
    rng = np.random.default_rng(0)
    for make in (synth.room, synth.texture, synth.background):
        img = make(rng, (60, 80))
        assert img.shape == (60, 80, 3) and img.dtype == np.uint8 and img.std() > 0
    import cv2

    photo = cv2.imread(str(dataset_images("rps-cv", "rock", 1)[0]))
    assert synth.is_green_screen(photo)
    mask = synth.green_mask(photo)
    assert 0.05 < mask.mean() < 0.8  # a hand, not the whole frame and not nothing
    white = np.full_like(photo, 255)
    pasted = synth.composite(photo, white, rng)
    table = (mask < 0.01)[..., None]
    assert (pasted * table).max() == 255 and pasted.mean() > photo.mean()  # green table gone
    empty = synth.empty_table(photo, rng)
    assert (synth.green_mask(empty) > 0.5).mean() < 0.02  # the hand is gone
    assert synth.replace_background(white, rng) is white  # not a green-table photo: untouched


def test_compact_weights_round_trip():
    state = build_model("liteconv").state_dict()
    tensors, scales = compact_state_dict(state)
    assert all(t.dtype in (torch.int8, torch.float16, torch.int64) for t in tensors.values())
    back = expand_state_dict(tensors, scales)
    for name, value in state.items():
        if value.is_floating_point() and value.dim() >= 2:
            step = value.abs().amax() / 127
            assert (back[name] - value).abs().max() <= step, name


def test_tiny_recipe_trains_exports_and_personalisation_can_load_it(datasets_dir, tmp_path):
    cfg = DistillConfig(
        datasets=[tiny_dataset(tmp_path, 6)], out=str(tmp_path / "run"), input_size=(64, 64),
        views=1,
        epochs=1, alpha=0.0, batch_size=8, max_side=128,
    )  # fmt: skip
    result = run(cfg)
    assert result["views"] == result["train_images"] + result["synthetic_none"] > 0
    assert 0.0 <= result["student"]["data"] <= 1.0
    meta_path = export_shipped(tmp_path / "run" / "model.pt", tmp_path / "model", cfg, result)
    clf = GestureClassifier(meta_path)
    assert clf.metadata["parity"]["max_prob_diff"] <= 1e-3
    assert clf(np.zeros((48, 64, 3), np.uint8)).label in tuple(Gesture)
    model, spec, _ = load_base_checkpoint(tmp_path / "model" / "model.pt")
    assert spec.input_size == (64, 64) and not model.training


def test_tiny_recipe_with_the_pretrained_teacher(datasets_dir, tmp_path):
    """alpha > 0: the ImageNet teacher's late blocks train on cached trunk features and its
    logits on every view become the student's soft targets (kept for a resumed run); with
    mixup the student sees blended pairs of views and targets."""
    cfg = DistillConfig(
        datasets=[tiny_dataset(tmp_path, 4)], out=str(tmp_path / "run"), input_size=(64, 64),
        views=2,
        teacher_size=64, teacher_frozen=11, teacher_epochs=2, epochs=1, alpha=0.6,
        batch_size=8, max_side=128, mixup=0.4,
    )  # fmt: skip
    result = run(cfg)
    soft = np.load(tmp_path / "run" / "teacher_logits.npy")
    assert soft.shape == (result["views"], 4) and np.isfinite(soft).all() and soft.std() > 0
    assert 0.0 <= result["teacher"]["data"] <= 1.0 and result["teacher"]["seconds"] >= 0
    assert result["student"]["epoch"] == 1


def test_bad_dataset_folder_exits_2():
    done = subprocess.run(
        [sys.executable, "-m", "training", "distill", "/no/such/folder"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "training", "distill", str(ROOT), "--teacher-frozen", "17"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "0 to 16" in done.stderr
