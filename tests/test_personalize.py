"""Personalisation: a real fine-tune on a few real photos through export, parity and install;
install, reset and rollback of the active model; what GestureClassifier() loads; bad captures."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import dataset_images, load
from training import personalize
from vision import paths
from vision.classifier import GestureClassifier
from vision.errors import ModelError
from vision.labels import CLASS_ORDER, Gesture
from vision.preprocess import Preprocessing

INPUT = 32  # a tiny network input keeps the fine-tune and the export fast


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    personalize.add_arguments(parser)
    return personalize.main(parser.parse_args(argv))


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint shaped like the shipped one: fp16 liteconv weights, name, preprocessing."""
    import torch

    from training.models import build_model

    torch.manual_seed(0)
    state = {
        k: v.half() if v.is_floating_point() else v
        for k, v in build_model("liteconv").state_dict().items()
    }
    spec = Preprocessing(input_size=(INPUT, INPUT))
    path = tmp_path_factory.mktemp("base") / "model.pt"
    torch.save(
        {
            "model": state,
            "model_name": "liteconv",
            "input_size": [INPUT, INPUT],
            "preprocessing": spec.to_metadata(),
        },
        path,
    )
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.jpg")}


def write_noise(folder: Path, n: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"img_{i:03d}.jpg"), rng.integers(0, 255, (40, 40, 3), np.uint8))


def fake_export(folder: Path, marker: str) -> Path:
    """A finished export: the shipped model's files plus a marker naming it."""
    folder.mkdir(parents=True)
    for name in ("model.json", "model.ncnn.param", "model.ncnn.bin"):
        shutil.copy(paths.SHIPPED_MODEL_DIR / name, folder / name)
    (folder / "marker.txt").write_text(marker)
    return folder


def marker(folder: Path) -> str:
    return (folder / "marker.txt").read_text()


def test_personalize_fine_tunes_exports_and_installs(
    base_checkpoint, tmp_path, datasets_dir, capsys
):
    from training.synth import none_image

    data = tmp_path / "captures"
    for label in ("rock", "paper", "scissors"):
        (data / label).mkdir(parents=True)
        for src in dataset_images("rps-cv", label, 10):
            shutil.copy(src, data / label / src.name)
    rng = np.random.default_rng(0)
    (data / "none").mkdir()
    for i in range(10):
        cv2.imwrite(str(data / "none" / f"none_{i}.jpg"), none_image(rng, (120, 120)))
    before = snapshot(data)
    assert not (paths.active_model_dir() / paths.METADATA_NAME).exists()
    assert GestureClassifier().folder == paths.SHIPPED_MODEL_DIR

    code = run(
        [
            str(data),
            "--epochs",
            "1",
            "--force",
            "--no-progress",
            "--base-checkpoint",
            str(base_checkpoint),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Installed as the active model" in out and "shipped model" in out

    active = paths.active_model_dir()
    for name in (
        "model.json",
        "model.ncnn.param",
        "model.ncnn.bin",
        personalize.PLOT_NAME,
        personalize.REPORT_NAME,
    ):
        assert (active / name).is_file(), name
    report = json.loads((active / personalize.REPORT_NAME).read_text())
    assert report["train_images"] == 32 and report["test_images"] == 8
    assert np.sum(report["confusion_before"]) == np.sum(report["confusion_after"]) == 8
    assert report["parity_max_prob_diff"] <= 1e-3
    meta = json.loads((active / "model.json").read_text())
    assert meta["input_size"] == [INPUT, INPUT] and meta["personalization"]["epochs"] == 1
    plot = cv2.imread(str(active / personalize.PLOT_NAME))
    assert plot is not None and plot.std() > 10  # a drawn figure, not a blank image

    # the game's classifier now loads the personal model; an explicit path still wins
    clf = GestureClassifier()
    assert clf.folder == active and clf.preprocessing.input_size == (INPUT, INPUT)
    assert clf(load(dataset_images("rps-cv", "rock", 1)[0])).label in CLASS_ORDER
    assert GestureClassifier(paths.SHIPPED_MODEL_DIR).folder == paths.SHIPPED_MODEL_DIR

    # captures untouched; the split lists written beside them; no half-installed leftovers
    assert snapshot(data) == before
    train = (data / "train.txt").read_text().splitlines()
    test = (data / "test.txt").read_text().splitlines()
    assert len(train) == 32 and len(test) == 8 and not set(train) & set(test)
    assert sorted(p.name for p in paths.user_models_dir().iterdir()) == ["active"]

    # --reset: back to the shipped model, the personal one kept for rollback
    assert run(["--reset"]) == 0
    assert GestureClassifier().folder == paths.SHIPPED_MODEL_DIR
    assert (paths.previous_model_dir() / personalize.REPORT_NAME).is_file()
    assert "Back to the shipped model" in capsys.readouterr().out
    assert run(["--rollback"]) == 0
    assert GestureClassifier().folder == active


def test_install_keeps_the_previous_model_and_reset_and_rollback(tmp_path, capsys):
    models = paths.user_models_dir()
    models.mkdir(parents=True)
    personalize.install_model(fake_export(models / ".incoming-a", "A"))
    assert marker(paths.active_model_dir()) == "A" and not paths.previous_model_dir().exists()
    personalize.install_model(fake_export(models / ".incoming-b", "B"))
    assert marker(paths.active_model_dir()) == "B"
    assert marker(paths.previous_model_dir()) == "A"
    assert GestureClassifier().folder == paths.active_model_dir()

    assert personalize.rollback_model() == paths.active_model_dir()
    assert marker(paths.active_model_dir()) == "A" and marker(paths.previous_model_dir()) == "B"

    assert run(["--reset"]) == 0
    assert not paths.active_model_dir().exists()
    assert marker(paths.previous_model_dir()) == "A"
    assert GestureClassifier().folder == paths.SHIPPED_MODEL_DIR
    assert run(["--reset"]) == 0
    assert "already in use" in capsys.readouterr().out
    assert run(["--rollback"]) == 0
    assert marker(paths.active_model_dir()) == "A"
    assert sorted(p.name for p in models.iterdir()) == ["active"]


def test_a_failed_install_leaves_the_old_model_in_place(tmp_path, monkeypatch):
    models = paths.user_models_dir()
    models.mkdir(parents=True)
    personalize.install_model(fake_export(models / ".incoming-a", "A"))
    personalize.install_model(fake_export(models / ".incoming-b", "B"))
    with pytest.raises(ModelError):  # not a finished export
        personalize.install_model(models)
    staging = fake_export(models / ".incoming-c", "C")
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(src) == staging:
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(personalize.os, "replace", failing_replace)
    with pytest.raises(OSError):
        personalize.install_model(staging)
    assert marker(paths.active_model_dir()) == "B" and marker(paths.previous_model_dir()) == "A"
    assert GestureClassifier().folder == paths.active_model_dir()


def test_rollback_without_a_previous_model(capsys):
    assert run(["--rollback"]) == 1
    assert "no previous model" in capsys.readouterr().err


def test_too_few_images_says_what_to_capture(tmp_path, capsys):
    data = tmp_path / "data"
    for i, g in enumerate(CLASS_ORDER):
        write_noise(data / g.value, 12 if g is not Gesture.PAPER else 4, seed=i)
    before = snapshot(data)
    assert run([str(data), "--base-checkpoint", str(tmp_path / "unused.pt")]) == 1
    err = capsys.readouterr().err
    assert "paper: 4 image(s), need at least 10" in err
    assert f"python -m training collect --label paper --out {data.resolve()} --count 46" in err
    assert "rock" not in err
    assert snapshot(data) == before


def test_missing_class_and_missing_folder(tmp_path, capsys):
    data = tmp_path / "data"
    for g in THROWS_ONLY:
        write_noise(data / g.value, 10)
    assert run([str(data)]) == 1
    err = capsys.readouterr().err
    assert "none: 0 image(s)" in err and "--label none" in err and "empty scene" in err
    assert run([str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
    write_noise(data / "1", 10)  # rock twice: rock/ and 1/
    assert run([str(data)]) == 1
    assert "two folders for rock" in capsys.readouterr().err


THROWS_ONLY = (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS)


def test_unreadable_images_are_reported_and_kept(tmp_path, capsys):
    data = tmp_path / "data"
    for g in CLASS_ORDER:
        write_noise(data / g.value, 10)
    for i in range(3):
        (data / "rock" / f"broken_{i}.jpg").write_bytes(b"not a jpeg")
        (data / "rock" / f"img_{i:03d}.jpg").unlink()
    assert run([str(data)]) == 1
    err = capsys.readouterr().err
    assert "3 unreadable image(s) were skipped" in err and "rock: 7 image(s)" in err
    assert len(list((data / "rock").glob("broken_*.jpg"))) == 3


def test_missing_base_checkpoint(tmp_path, capsys):
    data = tmp_path / "data"
    for g in CLASS_ORDER:
        write_noise(data / g.value, 10)
    assert run([str(data), "--base-checkpoint", str(tmp_path / "missing.pt")]) == 1
    assert "no base model" in capsys.readouterr().err


def test_bad_arguments_exit_2():
    for argv in (["--epochs", "0"], ["--lr", "-1"], ["--reset", "--rollback"], ["--freeze", "x"]):
        with pytest.raises(SystemExit) as exc:
            run(argv)
        assert exc.value.code == 2


def test_guided_without_a_terminal_prints_the_steps():
    out = io.StringIO()
    assert personalize.guided(stdin=io.StringIO(""), out=out) == 0
    text = out.getvalue()
    data = personalize.default_data_dir()
    for g in ("rock", "paper", "scissors", "none"):
        assert f"python -m training collect --label {g} --out {data} --count 50" in text
    assert f"python -m training personalize {data}" in text
    assert text.index("--label rock") < text.index("--label none") < text.index("personalize")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_guided_session_captures_step_by_step(tmp_path, datasets_dir, capsys):
    from tests.helpers import gesture_clip

    clip = gesture_clip(tmp_path / "clip.avi", ["rock", "rock"], frames_each=31)
    data = tmp_path / "mine"
    answers = Terminal("\ns\n\ns\nq\n")  # rock, skip paper, scissors, skip none, quit
    out = io.StringIO()
    code = personalize.guided(answers, out, source=str(clip), countdown=0, data_dir=data)
    assert code == 0
    text = out.getvalue()
    assert (
        text.index("ROCK:") < text.index("PAPER:") < text.index("SCISSORS:") < text.index("NONE:")
    )
    assert f"Later: python -m training personalize {data}" in text
    assert len(list((data / "rock").glob("*.jpg"))) == 3  # frames 0, 30 and 60 of 62
    assert len(list((data / "scissors").glob("*.jpg"))) == 3
    assert not (data / "paper").exists() and not (data / "none").exists()
    assert "Saved 3 image(s) of rock" in capsys.readouterr().out
