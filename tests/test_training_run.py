"""Training for real on a few rps-cv photos: end to end through export and parity, and resume."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from training.checkpoint import load_checkpoint
from training.cli import main
from training.config import TrainConfig
from training.data import UNLABELLED, load_split
from training.export import export_checkpoint
from training.train import train
from vision.classifier import GestureClassifier
from vision.errors import ConfigError, ModelError
from vision.paths import METADATA_NAME

ROOT = Path(__file__).resolve().parent.parent
PER_CLASS = 5
TINY = {"input_size": (64, 64), "batch_size": 4, "workers": 0, "progress": False}


@pytest.fixture(scope="module")
def mini_cv(tmp_path_factory, datasets_dir) -> Path:
    """A few real rps-cv photos per class (no none/ class), shrunk to 75x50."""
    root = tmp_path_factory.mktemp("data") / "rps-mini"
    for label in ("rock", "paper", "scissors"):
        (root / label).mkdir(parents=True)
        for src in sorted((datasets_dir / "rps-cv" / label).glob("*.jpg"))[:PER_CLASS]:
            img = cv2.resize(cv2.imread(str(src)), (75, 50), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(root / label / src.name), img)
    return root


@pytest.fixture(scope="module")
def run_all(mini_cv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    args = ["all", str(mini_cv), "--out", str(out), "--epochs", "1", "--input-size", "64"]
    assert main([*args, "--batch-size", "4", "--workers", "0", "--no-progress"]) == 0
    return out


def test_all_splits_trains_evaluates_and_exports_a_model_that_runs(run_all, mini_cv):
    assert not (mini_cv / "train.txt").exists()  # the dataset folder is never written
    test_lines = (run_all / "splits" / "rps-mini" / "test.txt").read_text().splitlines()
    assert len(test_lines) == 3 and {line.split()[1] for line in test_lines} == {"0", "1", "2"}
    rows = list(csv.DictReader(open(run_all / "train" / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1"] and float(rows[0]["train_loss"]) > 0
    assert (run_all / "eval" / "confusion_rps-mini.png").stat().st_size > 1000
    assert (run_all / "eval" / "curves.png").stat().st_size > 1000
    meta = json.loads((run_all / "model" / METADATA_NAME).read_text())
    assert meta["classes"] == ["scissors", "rock", "paper", "none"]
    assert meta["input_size"] == [64, 64] and meta["color"] == "RGB"
    assert meta["recipe"]["lr"] == 0.01 and meta["recipe"]["milestones"] == [35, 40]
    assert meta["data"][0]["name"] == "rps-mini" and meta["data"][0]["test"] == 3
    assert "rps-mini" in meta["accuracy"]
    assert meta["parity"]["images"] == 3 and meta["parity"]["max_prob_diff"] <= 1e-3
    clf = GestureClassifier(run_all / "model")
    pred = clf(cv2.imread(str(next((mini_cv / "rock").glob("*.jpg")))))
    assert pred.probs.shape == (4,) and abs(float(pred.probs.sum()) - 1) < 1e-4


def test_checkpoints_load_with_weights_only_and_carry_their_recipe(run_all):
    ckpt = torch.load(run_all / "train" / "last.pt", weights_only=True)
    for key in ("model", "optimizer", "scheduler", "epoch", "best_acc", "config", "history"):
        assert key in ckpt
    assert ckpt["epoch"] == 1 and ckpt["model_name"] == "liteconv"
    assert ckpt["preprocessing"]["input_size"] == [64, 64]
    assert (run_all / "train" / "best.pt").is_file()
    assert not list((run_all / "train").glob("*.tmp*"))  # atomic_write's temporaries are gone


def test_evaluate_a_checkpoint_and_its_ncnn_export_agree(run_all, mini_cv, capsys):
    splits = str(run_all / "splits")
    ckpt_out, ncnn_out = run_all / "eval-ckpt", run_all / "eval-ncnn"
    args = [str(mini_cv), "--splits", splits]
    assert main(["evaluate", "--checkpoint", str(run_all / "train" / "last.pt"), *args,
                 "--out", str(ckpt_out)]) == 0  # fmt: skip
    assert main(["evaluate", "--model-dir", str(run_all / "model"), *args,
                 "--out", str(ncnn_out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "confusion (rows: true, columns: predicted)" in printed and "recall" in printed
    a = json.loads((ckpt_out / "report.json").read_text())["datasets"]["rps-mini"]
    b = json.loads((ncnn_out / "report.json").read_text())["datasets"]["rps-mini"]
    assert a["images"] == b["images"] == 3
    assert a["confusion"] == b["confusion"]
    assert (ckpt_out / "curves.png").is_file()


def test_export_that_fails_parity_leaves_no_model(run_all, mini_cv, tmp_path):
    out = tmp_path / "model"
    images = sorted((mini_cv / "paper").glob("*.jpg"))[:2]
    with pytest.raises(ModelError, match="disagree"):
        export_checkpoint(run_all / "train" / "last.pt", out, images, tol=-1.0)
    assert not out.exists() or not any(out.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model-")]
    with pytest.raises(ModelError, match="real test images"):
        export_checkpoint(run_all / "train" / "last.pt", out, [])


def _items(mini_cv):
    train_items, test_items = [], []
    for label, index in (("scissors", 0), ("rock", 1), ("paper", 2)):
        files = sorted((mini_cv / label).glob("*.jpg"))
        train_items += [(f, index) for f in files[:4]]
        test_items += [(f, index) for f in files[4:]]
    return train_items, test_items


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(mini_cv, tmp_path):
    train_items, test_items = _items(mini_cv)
    common = dict(TINY, epochs=2, milestones=(1,), seed=7)
    full = train(TrainConfig(**common, out=str(tmp_path / "full")), train_items, test_items)
    first = TrainConfig(**{**common, "epochs": 1}, out=str(tmp_path / "split"))
    train(first, train_items, test_items)
    resumed = TrainConfig(**common, out=str(tmp_path / "split"), resume="auto")
    again = train(resumed, train_items, test_items)
    a, b = full.model.state_dict(), again.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ca, cb = (load_checkpoint(p / "last.pt") for p in (tmp_path / "full", tmp_path / "split"))
    assert ca["epoch"] == cb["epoch"] == 2
    assert ca["scheduler"]["last_epoch"] == cb["scheduler"]["last_epoch"] == 2
    moms = [(ca["optimizer"]["state"][i], cb["optimizer"]["state"][i]) for i in range(3)]
    assert all(torch.equal(x["momentum_buffer"], y["momentum_buffer"]) for x, y in moms)
    assert [r["train_loss"] for r in ca["history"]] == [r["train_loss"] for r in cb["history"]]
    assert full.history[-1]["lr"] == pytest.approx(0.001)  # the milestone applied


def test_resume_refuses_a_different_model(mini_cv, tmp_path):
    train_items, test_items = _items(mini_cv)
    train(TrainConfig(**TINY, epochs=1, out=str(tmp_path)), train_items, test_items)
    other = TrainConfig(**TINY, epochs=2, out=str(tmp_path), resume="auto", model="csp")
    with pytest.raises(ConfigError, match="--model liteconv"):
        train(other, train_items, test_items)
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(TrainConfig(**TINY, out=str(tmp_path / "x"), resume="auto"), train_items, [])


def test_train_api_takes_arrays_unlabelled_images_and_a_loss(mini_cv, tmp_path):
    train_items, test_items = _items(mini_cv)
    rng = np.random.default_rng(0)
    extra = [(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), 3) for _ in range(3)]
    extra += [(rng.integers(0, 256, (48, 64), dtype=np.uint8), UNLABELLED) for _ in range(2)]
    seen = []

    def loss_fn(logits, images, labels):
        seen.append((tuple(images.shape[1:]), labels.tolist()))
        return torch.nn.functional.cross_entropy(logits, labels.clamp(min=0))

    cfg = TrainConfig(**TINY, epochs=1, out=str(tmp_path))
    result = train(cfg, train_items, test_items, extra_train_items=extra, loss_fn=loss_fn)
    labels = sorted(x for _, batch in seen for x in batch)
    assert seen[0][0] == (3, 64, 64) and UNLABELLED in labels and 3 in labels
    assert result.model(torch.rand(1, 3, 64, 64)).shape == (1, 4)
    assert 0.0 <= result.best_acc <= 1.0


def test_load_split_reads_what_all_wrote(run_all, mini_cv):
    train_items, test_items = load_split(mini_cv, run_all / "splits")
    assert len(train_items) == 12 and len(test_items) == 3


def test_evaluate_every_image_of_a_dataset_without_lists(run_all, mini_cv, tmp_path, capsys):
    model = str(run_all / "model")
    assert main(["evaluate", "--model-dir", model, str(mini_cv), "--split", "all",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    report = json.loads((tmp_path / "report.json").read_text())["datasets"]["rps-mini"]
    assert report["images"] == 3 * PER_CLASS and report["support"]["none"] == 0
    missing = str(tmp_path / "missing.pt")
    assert main(["evaluate", "--checkpoint", missing, str(mini_cv), "--split", "all"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_init_from_starts_from_a_checkpoints_weights(run_all, mini_cv, tmp_path):
    train_items, test_items = _items(mini_cv)
    start = load_checkpoint(run_all / "train" / "last.pt")["model"]
    cfg = TrainConfig(
        **TINY, epochs=1, lr=1e-12, out=str(tmp_path), init_from=str(run_all / "train" / "last.pt")
    )
    tuned = train(cfg, train_items, test_items).model.state_dict()
    assert torch.allclose(tuned["fc.weight"], start["fc.weight"], atol=1e-6)
    assert torch.allclose(tuned["conv1.0.weight"], start["conv1.0.weight"], atol=1e-6)


def test_a_class_without_images_is_warned_about_and_written_in_the_model_card(
    run_all, mini_cv, tmp_path, caplog
):
    meta = json.loads((run_all / "model" / METADATA_NAME).read_text())
    assert meta["train_counts"]["none"] == 0 and meta["train_counts"]["rock"] == 4
    assert len(meta["warnings"]) == 1 and "no 'none' images" in meta["warnings"][0]
    assert "'no hand'" in meta["warnings"][0]
    train_items, test_items = _items(mini_cv)
    with caplog.at_level("WARNING", logger="training.train"):
        train(TrainConfig(**TINY, epochs=1, out=str(tmp_path)), train_items, test_items)
    assert caplog.text.count("no 'none' images") == 1


def test_export_finds_pnnx_without_an_activated_venv_and_prints_only_real_paths(
    run_all, mini_cv, tmp_path
):
    """``.venv/bin/python -m training export ...`` with a PATH that lacks the venv's bin/."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != bin_dir
    )
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": path}
    out = tmp_path / "exported"
    cmd = [sys.executable, "-m", "training", "export", "--checkpoint",
           str(run_all / "train" / "last.pt"), "--out", str(out),
           "--test-images", str(mini_cv / "rock")]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout + done.stderr
    assert f"exported the ncnn model to {out}" in text
    for line in text.splitlines():  # every path printed still exists
        for word in line.replace("(", " ").replace(")", " ").split():
            if word.startswith("/"):
                assert Path(word.rstrip(":,")).exists(), line
    assert "no 'none' images" in done.stderr  # the export says what the model cannot do
    assert (out / METADATA_NAME).is_file()


def test_train_prints_its_best_accuracy_rounded(mini_cv, tmp_path, capsys):
    args = ["train", str(mini_cv), "--splits", str(tmp_path / "none-here"), "--out",
            str(tmp_path / "run"), "--epochs", "1", "--input-size", "64", "--batch-size", "4",
            "--workers", "0", "--no-progress"]  # fmt: skip
    assert main(["split", str(mini_cv), "--out", str(tmp_path / "lists")]) == 0
    args[3] = str(tmp_path / "lists")
    assert main(args) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if "best test accuracy" in x][0]
    assert re.search(r"best test accuracy \d\.\d{4}, epoch 1\)$", line), line


def test_pictures_show_whole_epochs_and_an_empty_class_as_not_applicable():
    from training.evaluate import compute_report, confusion_figure, curves_figure

    history = [
        {"epoch": e, "train_loss": 1 / e, "test_loss": 1.1 / e, "train_acc": 0.3, "lr": 0.01,
         "test_acc": 1 / 3} for e in (1, 2)
    ]  # fmt: skip
    fig = curves_figure(history)
    fig.canvas.draw()
    for ax in fig.axes[:2]:  # the loss and the accuracy axes
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    report = compute_report([0, 0, 1, 2], [0, 1, 1, 2])  # no "none" images at all
    texts = [t.get_text() for t in confusion_figure(report).axes[0].texts]
    assert texts[-4:] == ["n/a"] * 4 and texts[0] == "1\n50%"
    assert all(t != "0\n0%" for t in texts[-4:])
