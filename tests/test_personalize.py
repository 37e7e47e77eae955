"""Personalisation: a real fine-tune on a few real photos through export, parity and install;
install, reset and rollback of the active model; what GestureClassifier() loads; bad captures."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import DATASETS, ROOT, dataset_images, load
from training import collect, personalize
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
    return make_base_checkpoint(tmp_path_factory.mktemp("base"))


def make_base_checkpoint(folder: Path) -> Path:
    """A checkpoint shaped like the shipped one: fp16 liteconv weights, name, preprocessing."""
    import torch

    from training.models import build_model

    torch.manual_seed(0)
    state = {
        k: v.half() if v.is_floating_point() else v
        for k, v in build_model("liteconv").state_dict().items()
    }
    spec = Preprocessing(input_size=(INPUT, INPUT))
    path = folder / "model.pt"
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


def write_noise(folder: Path, n: int, seed: int = 0, names: list[str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        name = names[i] if names else f"img_{i:03d}.jpg"
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (40, 40, 3), np.uint8))


def fake_export(folder: Path, marker: str) -> Path:
    """A finished export: the shipped model's files plus a marker naming it."""
    folder.mkdir(parents=True)
    for name in ("model.json", "model.ncnn.param", "model.ncnn.bin"):
        shutil.copy(paths.SHIPPED_MODEL_DIR / name, folder / name)
    (folder / "marker.txt").write_text(marker)
    return folder


def marker(folder: Path) -> str:
    return (folder / "marker.txt").read_text()


def natural(path: Path) -> list:
    return personalize.capture_key(Path(path.name))


def person(dataset: str, label: str) -> list[Path]:
    """One person's photos of a class in capture (file) order."""
    return sorted((DATASETS / dataset / label).glob("*.jpg"), key=natural)


def accuracy(folder: Path, items: list[tuple[Path, Gesture]]) -> float:
    clf = GestureClassifier(folder)
    return float(np.mean([clf(load(path)).label is g for path, g in items]))


def test_personalising_on_a_strangers_photos_raises_accuracy_on_their_later_frames(
    tmp_path, datasets_dir, capsys, caplog
):
    """best-of-one's person (never trained on): 12 captures a class, 3 epochs, the real base."""
    caplog.set_level(logging.INFO, logger="training.personalize")
    data = tmp_path / "captures"
    later = []
    for g in CLASS_ORDER:
        photos = person("best-of-one", g.value)
        (data / g.value).mkdir(parents=True)
        for src in photos[:12]:
            shutil.copy(src, data / g.value / src.name)
        later += [(path, g) for path in photos[75::6]]  # the same person, later frames
    before = snapshot(data)
    assert GestureClassifier().folder == paths.SHIPPED_DEFAULT_DIR
    # a user who plays with the CNN alone (the default recogniser already reads this person)
    shutil.copytree(paths.SHIPPED_MODEL_DIR, paths.active_model_dir())

    code = run([str(data), "--kind", "cnn", "--epochs", "3", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Installed as the active model" in out and "held back" in out
    assert "your current personal model 0.75 -> personalised" in out
    # the CNN in use reads this person's paper as scissors; the labels are checked by the
    # shipped default, which reads them right, so nothing is refused
    assert "and 48 of them with the shipped model, to check the labels" in caplog.text
    # without a terminal (no progress bar) every epoch's log line says the time left
    assert re.search(r"epoch 1/3: loss [\d.]+, \d+ s so far, about \d+ s left", caplog.text)

    active = paths.active_model_dir()
    names = ("model.json", "model.ncnn.param", "model.ncnn.bin", personalize.PLOT_NAME)
    for name in (*names, personalize.REPORT_NAME):
        assert (active / name).is_file(), name
    report = json.loads((active / personalize.REPORT_NAME).read_text())
    assert report["train_images"] == 36 and report["test_images"] == 12  # last 3 of each class
    held = {Path(f).name for f in report["held_back_files"]}
    assert held == {p.name for g in CLASS_ORDER for p in person("best-of-one", g.value)[9:12]}
    assert report["parity_max_prob_diff"] <= 1e-3 and report["installed"]
    assert report["accuracy_after"] >= report["accuracy_before"]
    meta = json.loads((active / "model.json").read_text())
    assert meta["personalization"]["epochs"] == 3 and meta["personalization"]["kind"] == "cnn"
    plot = cv2.imread(str(active / personalize.PLOT_NAME))
    assert plot is not None and plot.std() > 10  # a drawn figure, not a blank image

    # the person's later frames: the installed model reads them better than the shipped one
    shipped, personal = accuracy(paths.SHIPPED_MODEL_DIR, later), accuracy(active, later)
    assert shipped < 0.7 and personal > shipped + 0.05, (shipped, personal)
    assert GestureClassifier().folder == active  # the game now loads it

    # captures untouched, nothing written beside them, no half-installed leftovers
    assert snapshot(data) == before
    assert sorted(p.name for p in data.iterdir()) == sorted(g.value for g in CLASS_ORDER)
    assert sorted(p.name for p in paths.user_models_dir().iterdir()) == ["active", "previous"]

    # --reset: back to the shipped model, the personal one kept for rollback
    assert run(["--reset"]) == 0
    assert GestureClassifier().folder == paths.SHIPPED_DEFAULT_DIR
    assert (paths.previous_model_dir() / personalize.REPORT_NAME).is_file()
    assert "Back to the shipped model" in capsys.readouterr().out
    assert run(["--rollback"]) == 0
    assert GestureClassifier().folder == active


def rps_cv_captures(data: Path, n: int = 10) -> None:
    from training.synth import none_image

    for label in ("rock", "paper", "scissors"):
        (data / label).mkdir(parents=True)
        for src in dataset_images("rps-cv", label, n):
            shutil.copy(src, data / label / src.name)
    rng = np.random.default_rng(0)
    (data / "none").mkdir()
    for i in range(n):
        cv2.imwrite(str(data / "none" / f"none_{i}.jpg"), none_image(rng, (120, 120)))


def test_a_model_worse_than_the_one_in_use_is_not_installed(
    base_checkpoint, tmp_path, datasets_dir, capsys
):
    """An untrained base, one epoch: worse than the active model on the held-back captures."""
    models = paths.user_models_dir()
    models.mkdir(parents=True)
    personalize.install_model(fake_export(models / ".incoming-a", "A"))
    data = tmp_path / "captures"
    rps_cv_captures(data)
    before = snapshot(data)
    argv = [
        str(data),
        "--kind",
        "cnn",
        "--epochs",
        "1",
        "--no-progress",
        "--base-checkpoint",
        str(base_checkpoint),
    ]
    code = run(argv)
    out = capsys.readouterr().out
    assert code == personalize.EXIT_NOT_INSTALLED == 3, out
    assert "NOT installed" in out and "worse than your current personal model" in out
    assert "which stays active" in out and f"captures are kept in {data.resolve()}" in out
    assert "python -m training collect --label rock" in out
    assert marker(paths.active_model_dir()) == "A"  # the old model is still the one in use
    assert GestureClassifier().folder == paths.active_model_dir()
    assert not paths.previous_model_dir().exists()
    report = json.loads((models / "rejected" / personalize.REPORT_NAME).read_text())
    assert report["accuracy_after"] < report["accuracy_before"] and not report["installed"]
    assert report["compared_with"] == "your current personal model"
    assert snapshot(data) == before
    # --force installs it anyway (and keeps A as the previous model)
    assert run([*argv, "--force"]) == 0
    assert marker(paths.previous_model_dir()) == "A"
    assert json.loads((paths.active_model_dir() / personalize.REPORT_NAME).read_text())["forced"]


def test_the_latest_captures_of_each_class_are_held_back(tmp_path):
    data = tmp_path / "data"
    for i, g in enumerate(CLASS_ORDER):
        write_noise(data / g.value, 12, seed=i, names=[f"{g.value}_{k}.jpg" for k in range(1, 13)])
    (data / "rock" / "rock_13.jpg").write_bytes(b"torn")  # unreadable: skipped, kept
    captures = personalize.split_captures(data)
    held = {g: [p.name for p, lab in captures.heldback if lab == g.index] for g in CLASS_ORDER}
    train = [p.name for p, lab in captures.train if lab == Gesture.ROCK.index]
    # 12 a class: the last 3 (ceil 20%) in capture order, 10 after 9 (numbers, not letters)
    assert held[Gesture.ROCK] == ["rock_10.jpg", "rock_11.jpg", "rock_12.jpg"]
    assert train == [f"rock_{k}.jpg" for k in range(1, 10)]
    assert all(len(v) == 3 for v in held.values()) and len(captures.train) == 36
    assert captures.unreadable == 1 and (data / "rock" / "rock_13.jpg").is_file()
    assert sorted(p.name for p in data.iterdir()) == sorted(g.value for g in CLASS_ORDER)


def test_near_identical_captures_are_warned_about(tmp_path, datasets_dir):
    """A still wall (best-of-one's none) is near-identical; one person's varied rocks are not."""
    from training import collect

    wall, rocks = tmp_path / "none", tmp_path / "rock"
    for folder, photos in (
        (wall, person("best-of-one", "none")),
        (rocks, person("best-of-one", "rock")),
    ):
        folder.mkdir()
        for src in photos[:50]:
            shutil.copy(src, folder / src.name)
    diff, n = collect.folder_difference(wall)
    assert n == 50 and diff < collect.NEAR_IDENTICAL_MAD
    text = collect.near_identical_warning(Gesture.NONE, diff, n)
    assert "50 none images are near-identical" in text and "move the camera" in text
    diff, n = collect.folder_difference(rocks)
    assert diff > 2 * collect.NEAR_IDENTICAL_MAD
    assert collect.near_identical_warning(Gesture.ROCK, diff, n) == ""
    # personalize says so too, with the command to capture more
    data = tmp_path / "data"
    for g in CLASS_ORDER:
        (data / g.value).mkdir(parents=True)
        src = wall if g is Gesture.NONE else rocks
        for f in sorted(src.iterdir())[:12]:
            shutil.copy(f, data / g.value / f.name)
    warnings = personalize.variety_warnings(personalize.split_captures(data))
    assert any("none images are near-identical" in w and "--label none" in w for w in warnings)


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
    assert GestureClassifier().folder == paths.SHIPPED_DEFAULT_DIR
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

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        personalize.install_model(staging)
    assert marker(paths.active_model_dir()) == "B" and marker(paths.previous_model_dir()) == "A"
    assert GestureClassifier().folder == paths.active_model_dir()


def test_rollback_without_a_previous_model(capsys):
    assert run(["--rollback"]) == 2
    assert "no previous model" in capsys.readouterr().err


def test_too_few_images_says_what_to_capture(tmp_path, capsys):
    data = tmp_path / "data"
    for i, g in enumerate(CLASS_ORDER):
        write_noise(data / g.value, 12 if g is not Gesture.PAPER else 4, seed=i)
    before = snapshot(data)
    assert run([str(data), "--base-checkpoint", str(tmp_path / "unused.pt")]) == 2
    err = capsys.readouterr().err
    assert "paper: 4 image(s), need at least 10" in err
    assert f"python -m training collect --label paper --out {data.resolve()} --count 46" in err
    assert "rock" not in err
    assert snapshot(data) == before


def test_missing_class_and_missing_folder(tmp_path, capsys):
    data = tmp_path / "data"
    for g in THROWS_ONLY:
        write_noise(data / g.value, 10)
    assert run([str(data)]) == 2
    err = capsys.readouterr().err
    assert "none: 0 image(s)" in err and "--label none" in err and "empty scene" in err
    assert run([str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    write_noise(data / "1", 10)  # rock twice: rock/ and 1/
    assert run([str(data)]) == 2
    assert "two folders for rock" in capsys.readouterr().err


THROWS_ONLY = (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS)


def test_unreadable_images_are_reported_and_kept(tmp_path, capsys):
    data = tmp_path / "data"
    for g in CLASS_ORDER:
        write_noise(data / g.value, 10)
    for i in range(3):
        (data / "rock" / f"broken_{i}.jpg").write_bytes(b"not a jpeg")
        (data / "rock" / f"img_{i:03d}.jpg").unlink()
    assert run([str(data)]) == 2
    err = capsys.readouterr().err
    assert "3 unreadable image(s) were skipped" in err and "rock: 7 image(s)" in err
    assert len(list((data / "rock").glob("broken_*.jpg"))) == 3


def test_missing_base_checkpoint(tmp_path, capsys, caplog):
    """Said before any capture is read (reading them takes a while with a real model)."""
    caplog.set_level(logging.INFO, logger="training.personalize")
    data = tmp_path / "data"
    for g in CLASS_ORDER:
        write_noise(data / g.value, 10)
    assert run([str(data), "--kind", "cnn", "--base-checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "no base model" in capsys.readouterr().err
    assert "reading your" not in caplog.text


def test_bad_arguments_exit_2():
    for argv in (["--epochs", "0"], ["--lr", "-1"], ["--reset", "--rollback"], ["--freeze", "x"]):
        with pytest.raises(SystemExit) as exc:
            run(argv)
        assert exc.value.code == 2


def test_guided_without_a_terminal_prints_the_steps():
    out = io.StringIO()
    assert personalize.guided(stdin=io.StringIO(""), out=out) == 0
    text = out.getvalue()
    data = collect.default_data_dir()
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
    assert "move your hand around the box" in text  # asks for variety up front
    assert "(so far: rock 3, paper 0, scissors 0, none 0)" in text  # counts before paper
    assert f"Later: python -m training personalize {data} --kind fused" in text
    # after the capture the model in use reads every capture: the clip showed rock both times
    assert "rock: 3 of 3 read right, a hand found in 3" in text
    assert "scissors: 0 of 3 read right, a hand found in 3\n    - 3 read as rock" in text
    assert "WARNING: your scissors captures look like rock (3 of 3 read as rock)" in text
    sheet = tmp_path / "mine-report.png"  # beside the captures, not in them
    assert f"The worst of them: {sheet}" in text and cv2.imread(str(sheet)) is not None
    assert len(list((data / "rock").glob("*.jpg"))) == 3  # frames 0, 30 and 60 of 62
    assert len(list((data / "scissors").glob("*.jpg"))) == 3
    assert not (data / "paper").exists() and not (data / "none").exists()
    captured = capsys.readouterr()
    assert "Saved 3 image(s) of rock" in captured.out
    assert "rock: hold it in the middle of the box" in captured.err  # the prompts while capturing
    assert "Images in" in captured.out and "rock 3, paper 0, scissors 3, none 0" in captured.out
    assert "read right: 3 of 3, a hand found in 3" in captured.err  # live, while capturing


def test_guided_checks_the_camera_before_asking_anything(tmp_path, capsys):
    out = io.StringIO()
    code = personalize.guided(Terminal("\n\n\n\n\n"), out, source="97", data_dir=tmp_path)
    assert code == 2
    assert "Press Enter" not in out.getvalue()
    err = capsys.readouterr().err
    assert "Plug in a camera" in err and "python -m training --source clip.mp4" in err
    assert not any(tmp_path.iterdir())


def python_m(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", *argv], capture_output=True, text=True, env=env, cwd=ROOT,
        stdin=subprocess.DEVNULL, timeout=120, **kwargs,
    )  # fmt: skip


def test_data_problems_exit_2_with_what_to_capture(tmp_path):
    data = tmp_path / "data"
    for i, g in enumerate(CLASS_ORDER):
        if g is not Gesture.NONE:
            write_noise(data / g.value, 12 if g is not Gesture.PAPER else 4, seed=i)
    (data / "rock" / "broken.jpg").write_bytes(b"not a jpeg")
    before = snapshot(data)
    done = python_m("training", "personalize", str(data))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "paper: 4 image(s), need at least 10" in done.stderr
    assert f"collect --label none --out {data.resolve()} --count 50" in done.stderr
    assert "empty scene" in done.stderr and "1 unreadable image(s) were skipped" in done.stderr
    assert snapshot(data) == before and (data / "rock" / "broken.jpg").is_file()


def test_the_guided_command_accepts_source(tmp_path):
    done = python_m("training", "--source", "clip.avi", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"collect --label rock --out {tmp_path} --count 50 --source clip.avi" in done.stdout
    assert f"python -m training personalize {tmp_path}" in done.stdout
