"""Test helpers: real photos from ../shared/datasets and real video files written with OpenCV."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "assets" / "models"
DATASETS = ROOT.parent / "shared" / "datasets"


def dataset_images(dataset: str, label: str, n: int, start: int = 0) -> list[Path]:
    """The first ``n`` photo paths (sorted) of ``label`` in a shared dataset."""
    files = sorted((DATASETS / dataset / label).glob("*.jpg"))
    return files[start : start + n]


def load(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"could not read {path}"
    if size is not None:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 15.0) -> Path:
    """Write BGR frames (all the same size) as an MJPG .avi that OpenCV reads back."""
    writer = None
    count = 0
    for frame in frames:
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
            assert writer.isOpened(), f"cannot write {path}"
        writer.write(frame)
        count += 1
    assert writer is not None and count, "no frames"
    writer.release()
    return path


def gesture_clip(path: Path, labels: Iterable[str], frames_each: int = 10, size=(640, 480)):
    """A video of real photos: ``frames_each`` frames of one photo per label, in order."""

    def frames():
        for i, label in enumerate(labels):
            photo = dataset_images("rps-cv", label, 1, start=i)[0]
            img = load(photo, size)
            for _ in range(frames_each):
                yield img

    return write_video(path, frames())


def broken_model_copy(tmp_path: Path, kind: str) -> Path:
    """A copy of the shipped model broken one way, as a user's disk or a bad export leaves it."""
    folder = tmp_path / kind
    shutil.copytree(SHIPPED_MODEL, folder)
    meta = json.loads((folder / "model.json").read_text())
    binary, param = folder / meta["bin"], folder / meta["param"]
    if kind == "empty-bin":
        binary.write_bytes(b"")
    elif kind == "truncated-bin":
        binary.write_bytes(binary.read_bytes()[:100_000])
    elif kind == "missing-bin":
        binary.unlink()
    elif kind == "broken-param":
        lines = param.read_text().splitlines()
        param.write_text("\n".join(lines[:2] + lines[5:]) + "\n")
    elif kind == "not-a-param":
        param.write_text("hello\n")
    elif kind == "invalid-json":
        (folder / "model.json").write_text('{"classes": [')
    elif kind == "incomplete-json":
        del meta["classes"]
        (folder / "model.json").write_text(json.dumps(meta))
    elif kind == "empty-folder":
        shutil.rmtree(folder)
        folder.mkdir()
    return folder


def empty_video(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A real MJPG .avi with no frames: the writer opened and released with nothing written."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, size)
    assert writer.isOpened(), f"cannot write {path}"
    writer.release()
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened() and not capture.grab(), f"{path} should open and hold no frame"
    capture.release()
    return path


def on_a_full_disk(
    folder: Path, size_kb: int, command: list[str], after: str = "", timeout: float = 300
):
    """Run ``command`` (from the repository root) with a real ``size_kb`` tmpfs at ``folder``,
    in a private mount namespace (``unshare``), so the mount dies with it. ``after`` is a shell
    line run inside once the command is done (``$DIR`` is the folder; look there, it vanishes
    with the namespace); the command's status is printed as ``exit=N`` before it. Skips the test
    where this machine allows no such namespace."""
    import subprocess

    import pytest

    if shutil.which("unshare") is None:
        pytest.skip("no unshare here to mount a small full filesystem")
    script = (
        'DIR="$1"; shift; mount -t tmpfs -o size="$0"k tmpfs "$DIR" || exit 97; '
        f'"$@"; echo "exit=$?"; {after}'
    )
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, str(size_kb), str(folder), *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode in (1, 97) and "exit=" not in done.stdout:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()[-200:]}")
    return done


def shipped_hand_meta() -> dict:
    """The shipped landmark recogniser's metadata with every file named ``shipped:``, so that a
    changed copy in another folder opens the shipped networks."""
    meta = json.loads((ROOT / "assets" / "hand" / "model.json").read_text())
    for key in ("param", "bin", "search_param", "search_bin"):
        meta[key] = f"shipped:hand/{meta[key]}"
    for part in ("detector", "edge"):
        if part in meta:
            for key in ("param", "bin"):
                meta[part][key] = f"shipped:hand/{meta[part][key]}"
    return meta


def break_ncnn_part(folder: Path, part: str, broken: str) -> str:
    """Break the ncnn files that ``part`` of ``folder/model.json`` names (``missing-param``,
    ``truncated-bin`` or ``not-ncnn``); returns the name of the file an error should name."""
    meta = json.loads((folder / "model.json").read_text())[part]
    param, binary = folder / meta["param"], folder / meta["bin"]
    if broken == "missing-param":
        param.unlink()
        return param.name
    if broken == "truncated-bin":
        binary.write_bytes(binary.read_bytes()[:100_000])
        return binary.name
    param.write_text("not a param file\n")
    return param.name
