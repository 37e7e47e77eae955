"""Personalisation's checks, on real photos and real subprocesses: captures filed under the
wrong class are refused before training; the landmark head personalises where PyTorch cannot be
imported (the Pi's install) and the kinds that need it say so first; SIGTERM and SIGKILL leave
no half-written model; the per-class report and its contact sheet say what the recogniser
cannot see; a candidate under the floor is not installed."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

from tests.helpers import DATASETS, ROOT, dataset_images
from training import capturereport, personalize
from vision.labels import CLASS_ORDER, Gesture

pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="needs ../shared/datasets")

#: The train extra's modules, made unimportable in a subprocess as on the Pi's install.
NO_TRAIN_EXTRA = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = {"torch", "torchvision", "albumentations", "onnx", "onnxsim", "pnnx", "matplotlib",
           "tqdm", "tflite2onnx", "onnxruntime"}


class NoTrainExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTrainExtra())
"""


def captures(folder: Path, per_class: int = 10, fill: dict[str, str] | None = None) -> Path:
    """best-of-one's first ``per_class`` photos a class in ``folder``; ``fill`` files a class
    folder with another class's photos instead (``{"rock": "paper"}``: paper photos in rock/)."""
    fill = fill or {}
    for g in CLASS_ORDER:
        (folder / g.value).mkdir(parents=True)
        source = fill.get(g.value, g.value)
        start = 20 if source != g.value else 0  # other photos than its own folder's
        for src in dataset_images("best-of-one", source, per_class, start):
            shutil.copy(src, folder / g.value / f"{g.value}_{src.name}")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def run_training(home: Path, *argv: str, pythonpath: Path | None = None, **kwargs):
    env = {**os.environ, "RPS_ROBOT_HOME": str(home), "SDL_VIDEODRIVER": "dummy"}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (pythonpath, ROOT) if p is not None)
    return subprocess.run(
        [sys.executable, "-m", "training", *argv], cwd=ROOT, capture_output=True, text=True,
        env=env, stdin=subprocess.DEVNULL, timeout=240, **kwargs,
    )  # fmt: skip


@pytest.fixture
def no_train_extra(tmp_path) -> Path:
    folder = tmp_path / "no-train-extra"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(NO_TRAIN_EXTRA)
    return folder


def test_a_class_filed_under_another_is_refused_before_training(tmp_path):
    """The issue's new user: asked for rock, showed paper. The shipped recogniser reads the
    rock folder as paper: exit 2 with what to do, nothing trained or installed, captures kept."""
    data = captures(tmp_path / "captures", fill={"rock": "paper"})
    before = snapshot(data)
    home = tmp_path / "home"
    done = run_training(home, "personalize", str(data), "--kind", "landmarks")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "your rock captures look like paper (10 of 10 read as paper): check the label, "
        "or move them to the paper folder" in done.stderr
    )
    assert f"collect --label rock --out {data.resolve()}" in done.stderr
    assert "paper captures look like" not in done.stderr  # the right folders are not named
    assert "captures: " not in done.stderr  # no landmarks extracted for training
    models = home / "models"
    assert not models.exists() or not any(models.iterdir())  # nothing installed, no staging
    assert snapshot(data) == before  # captures untouched, nothing written into their folder
    sheet = capturereport.sheet_path(data)
    assert sheet.parent == data.parent and cv2.imread(str(sheet)) is not None


def test_the_landmark_head_personalises_without_pytorch_and_the_others_say_so_first(
    tmp_path, no_train_extra
):
    data = captures(tmp_path / "captures", per_class=8)  # few captures: a quick refit
    home = tmp_path / "home"
    blocked = subprocess.run(
        [sys.executable, "-c", "import torch"], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(no_train_extra)},
    )  # fmt: skip
    assert blocked.returncode != 0 and "No module named 'torch'" in blocked.stderr
    for kind in ("fused", "cnn"):
        done = run_training(
            home, "personalize", str(data), "--kind", kind, pythonpath=no_train_extra
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert f"--kind {kind} needs PyTorch" in done.stderr
        assert 'pip install -e ".[train]"' in done.stderr and "--kind landmarks" in done.stderr
        assert "reading your" not in done.stderr  # said before any work
    # capturing works there too, with the live reading of each saved image
    from tests.helpers import gesture_clip

    clip = gesture_clip(tmp_path / "clip.avi", ["rock", "rock"], frames_each=16)
    argv = ["collect", "--label", "rock", "--out", str(tmp_path / "more"), "--source", str(clip)]
    done = run_training(
        home, *argv, "--headless", "--countdown", "0", "--check", pythonpath=no_train_extra
    )
    assert done.returncode == 0, done.stderr
    assert "Saved 2 image(s) of rock" in done.stdout and "read right: 2 of 2" in done.stderr
    # no --kind: the landmark head, said so, refitted in numpy; the shipped model reads these
    # held-back captures all right, so the refit can only tie, and a tie is no gain: not installed
    argv = ["personalize", str(data), "--min-images", "8"]
    done = run_training(home, *argv, pythonpath=no_train_extra)
    assert done.returncode == personalize.EXIT_NOT_INSTALLED, done.stdout + done.stderr
    assert (
        "as many of your latest captures right as the shipped model (1.00); it already "
        "reads every one of them right" in done.stdout
    )
    assert not (home / "models" / "active").exists()
    done = run_training(home, *argv, "--force", pythonpath=no_train_extra)  # installed anyway
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PyTorch is not installed here" in done.stdout
    assert "Installed as the active model" in done.stdout
    assert "Before/after confusion matrices" not in done.stdout  # no matplotlib: no plot
    meta = json.loads((home / "models" / "active" / "model.json").read_text())
    assert meta["kind"] == "landmarks" and meta["personalization"]["kind"] == "landmarks"


def test_the_guided_session_says_before_the_first_capture_what_it_will_personalise(
    tmp_path, monkeypatch
):
    """Where the train extra is missing (a seam: ``missing_train_extra``): asked for the fused
    kind it stops before the camera and any capture; unasked it says it will refit the head."""
    from tests.helpers import gesture_clip

    clip = gesture_clip(tmp_path / "clip.avi", ["rock"], frames_each=2)
    monkeypatch.setattr(personalize.command, "missing_train_extra", lambda: "torch")
    out = io.StringIO()
    code = personalize.guided(Terminal("\n"), out, source=str(clip), data_dir=tmp_path / "d",
                              kind="fused")  # fmt: skip
    assert code == 2 and "Press Enter" not in out.getvalue()
    assert not (tmp_path / "d").exists()
    out = io.StringIO()
    code = personalize.guided(Terminal("q\n"), out, source=str(clip), data_dir=tmp_path / "d")
    text = out.getvalue()
    assert code == 0
    assert text.index("PyTorch is not installed here") < text.index("ROCK:")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _staging(models: Path) -> list[Path]:
    return sorted(models.glob(".incoming-*")) if models.is_dir() else []


def _kill_while_staging(home: Path, data: Path, sig: int) -> subprocess.CompletedProcess:
    """Start a personalisation, send ``sig`` once its model folder is being written."""
    env = {**os.environ, "RPS_ROBOT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    before = set(_staging(home / "models"))
    argv = ["personalize", str(data), "--kind", "landmarks", "--min-images", "8"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "training", *argv],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not set(_staging(home / "models")) - before and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigterm_leaves_no_half_written_model_and_a_killed_runs_is_cleaned_next_time(tmp_path):
    data = captures(tmp_path / "captures", per_class=8)
    home = tmp_path / "home"
    models = home / "models"
    killed = _kill_while_staging(home, data, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    stale = _staging(models)
    assert len(stale) == 1  # what a SIGKILL leaves: the next run cleans it
    done = _kill_while_staging(home, data, signal.SIGTERM)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "Stopped by SIGTERM: nothing was installed" in done.stderr
    assert "Traceback" not in done.stderr
    assert _staging(models) == [] and not (models / "active").exists()
    assert sorted(p.name for p in data.iterdir()) == sorted(g.value for g in CLASS_ORDER)


def test_a_sigterm_while_the_landmark_workers_start_is_raised_once_they_are_up():
    """Sent from a thread that was running before the hold (as ncnn's are, and the kernel may
    hand a process's SIGTERM to any of them), the signal still waits for the end of the block,
    and then reaches the caller's handler."""
    from vision.signals import sigterm_held

    class Stop(Exception):
        pass

    def stop(signum, frame):
        raise Stop()

    go = threading.Event()

    def send():
        go.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=send)
    sender.start()  # before the hold: a thread that does not block SIGTERM
    old = signal.signal(signal.SIGTERM, stop)
    steps = []
    try:
        with pytest.raises(Stop):
            with sigterm_held():
                go.set()
                sender.join()
                time.sleep(0.05)  # Python would run the caller's handler here
                steps.append("block finished")
        assert steps == ["block finished"]
    finally:
        go.set()
        sender.join()
        signal.signal(signal.SIGTERM, old)


def test_the_report_names_a_class_with_no_findable_hand_and_draws_the_worst(tmp_path):
    """rock/ holds empty walls: the report says no hand was found in any and what to do, the
    contact sheet beside the captures shows them; the refit has no rock to learn from."""
    data = captures(tmp_path / "captures", per_class=8, fill={"rock": "none"})
    before = snapshot(data)
    home = tmp_path / "home"
    done = run_training(home, "personalize", str(data), "--kind", "landmarks", "--min-images", "8")
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr
    assert "rock: 0 of 8 read right, a hand found in 0" in err
    assert "no hand found in any: if these are empty scenes, they belong in none/" in err
    assert "hold your fist closer to the camera, and keep the whole hand in the box" in err
    assert "paper: 8 of 8 read right, a hand found in 8" in err
    assert "none: 8 of 8 read right, no hand seen in any" in err
    assert "look like" not in err  # a hand it cannot see is not a wrong label
    assert "found too few of your hands to learn from (none in your rock captures)" in err
    sheet = capturereport.sheet_path(data)
    assert f"The worst of them: {sheet}" in err
    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[0] > 400 and image.shape[1] > 800
    assert image.std() > 20  # thumbnails and text, not a blank page
    assert snapshot(data) == before
    assert not (home / "models" / "active").exists() and _staging(home / "models") == []


def test_a_candidate_under_the_floor_is_not_installed(tmp_path):
    """The issue's failure: every class captured showing rock. The label check stops it; with
    the labels trusted the candidate cannot tell the classes apart and is kept out, and the
    message names the classes it cannot read."""
    data = tmp_path / "captures"
    for g in CLASS_ORDER:
        (data / g.value).mkdir(parents=True)
        for src in dataset_images("best-of-one", "rock", 8, 8 * g.index):
            shutil.copy(src, data / g.value / f"{g.value}_{src.name}")
    home = tmp_path / "home"
    argv = ["personalize", str(data), "--kind", "landmarks", "--min-images", "8"]
    # without --trust-labels the label check stops it first (as in the test above)
    done = run_training(home, *argv, "--trust-labels")
    assert done.returncode == personalize.EXIT_NOT_INSTALLED, done.stdout + done.stderr
    report = json.loads((home / "models" / "rejected" / personalize.REPORT_NAME).read_text())
    assert report["accuracy_after"] < personalize.ACCURACY_FLOOR and not report["installed"]
    assert "NOT installed" in done.stdout
    assert report["weak_classes"], report["confusion_after"]  # a class it cannot read is named
    for name, right, total in report["weak_classes"]:
        assert (
            f"The new model still cannot read your {name}: {right} of {total} held-back "
            "captures read right (under 50%)" in done.stdout
        )
    # a candidate that cannot tell the classes apart reads the held-back captures near chance,
    # 0.125-0.38 in runs measured (its head is fitted on near-identical fists: a near tie that
    # float rounding tips); where that is at least the model in use, the old rule ("at least as
    # well") installed it and only the floor refuses it (the rule itself: the test below)
    worse = report["accuracy_after"] < report["accuracy_before"]
    assert report["refused"] == ("worse" if worse else "floor")
    assert f"under the floor of {personalize.ACCURACY_FLOOR:.2f}" in done.stdout
    assert not (home / "models" / "active").exists()


def test_the_refusal_rule_counts_captures_and_the_floor():
    """The rule itself: one capture fewer is worse; a tie under the floor (0.25 and 0.25, as
    in the issue) and a gain that stays under it are refused; a tie above it is no better (the
    model in use stays); one capture more, above the floor, is installed."""
    import numpy as np

    quarter = np.diag([10, 0, 0, 0]) + np.array(
        [[0] * 4, [10, 0, 0, 0], [10, 0, 0, 0], [10, 0, 0, 0]]
    )
    assert personalize.refusal_reason(quarter, quarter) == "floor"
    better = quarter.copy()
    better[1, 0], better[1, 1] = 5, 5  # 0.375 against 0.25: better, and still under the floor
    assert personalize.refusal_reason(quarter, better) == "floor"
    good = np.diag([10, 10, 10, 10])
    one_less = good.copy()
    one_less[1, 1], one_less[1, 2] = 9, 1
    assert personalize.refusal_reason(good, one_less) == "worse"
    assert personalize.refusal_reason(one_less, good) is None
    assert personalize.refusal_reason(good, good) == "no better"
    assert personalize.weak_classes(quarter) == [
        (g.value, 0, 10) for g in CLASS_ORDER if g.index != 0
    ]


def test_the_guided_feedback_says_more_light_for_dark_captures(tmp_path):
    """best-of-one's rocks at a quarter of their light: the report says they are dark."""
    data = tmp_path / "captures"
    for g in CLASS_ORDER:
        (data / g.value).mkdir(parents=True)
        for src in dataset_images("best-of-one", g.value, 4):
            image = cv2.imread(str(src))
            if g.value == "rock":
                image = (image * 0.25).astype("uint8")
            cv2.imwrite(str(data / g.value / src.name), image)
    out = io.StringIO()
    lines = personalize.capture_feedback(data, out)
    text = "\n".join(lines)
    assert "rock: " in text and "4 of 4 are dark: more light" in text, text
    assert "paper: 4 of 4 read right, a hand found in 4" in text
    assert "Reading your 16 captures as the game would" in out.getvalue()
    assert capturereport.sheet_path(data).is_file()


def test_a_few_misread_captures_are_advice_to_personalise_not_a_wrong_label():
    """Most of a class read as one other class: check the label; a few: what personalising
    is for (the label is right; the shipped model reads this player's throw wrong)."""

    def report(wrong: int) -> list[str]:
        readings = [
            capturereport.Reading(
                Path(f"{k}.jpg"), Gesture.ROCK, Gesture.PAPER if k < wrong else Gesture.ROCK,
                0.8, True, 120.0,
            )
            for k in range(10)
        ]  # fmt: skip
        return capturereport.advise(capturereport.ClassReport(Gesture.ROCK, readings))

    assert report(7) == ["7 read as paper: check the label"]
    assert len(report(3)) == 1 and report(3)[0].startswith("3 read as paper: personalising")
    assert "check the label" not in report(3)[0]
    assert report(0) == []
