"""A full disk is one line naming the path and the space needed, exit 2, and nothing
half-written: on a real full filesystem (a small tmpfs in a private mount namespace)."""

from __future__ import annotations

import errno
import re
import sys

import pytest

from tests.helpers import gesture_clip, on_a_full_disk
from vision.diskspace import DiskFull, disk_full, size_text


def test_sizes_read_as_people_write_them():
    assert [size_text(n) for n in (0, 10, 12_345, 3_400_000, 1_234_000_000)] == [
        "0 KB", "1 KB", "12 KB", "3.4 MB", "1.2 GB",
    ]  # fmt: skip


def test_the_message_names_the_path_and_the_space(tmp_path):
    exc = disk_full(tmp_path, 30_000, "the next image")
    assert isinstance(exc, DiskFull) and isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    assert re.fullmatch(
        rf"the disk is full at {tmp_path}: the next image needs about 30 KB free, [\d.]+ [KMG]B "
        r"free; free some space \(or use a folder on another disk\) and run this again",
        str(exc),
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory, datasets_dir):
    path = tmp_path_factory.mktemp("clip") / "hands.avi"
    return gesture_clip(path, ["rock", "paper", "scissors"], frames_each=10)


def test_collect_on_a_full_card_keeps_what_fit_and_leaves_no_empty_jpeg(clip, tmp_path):
    out = tmp_path / "card"
    command = [sys.executable, "-m", "training", "collect", "--label", "rock", "--source",
               str(clip), "--out", str(out), "--interval", "1", "--countdown", "0",
               "--headless"]  # fmt: skip
    after = (
        'echo "jpegs=$(find "$DIR" -name "*.jpg" | wc -l)"; '
        'echo "empty=$(find "$DIR" -name "*.jpg" -size 0 | wc -l)"'
    )
    done = on_a_full_disk(out, 120, command, after)
    assert "exit=2" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "empty=0" in done.stdout
    saved = int(re.search(r"jpegs=(\d+)", done.stdout)[1])
    assert 0 < saved < 30, "some fit, not all"
    assert f"Saved {saved} image(s) of rock into {out / 'rock'} (the disk is full;" in done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: the disk is full at {out / 'rock'}: the next image needs about "
    ), done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def test_personalize_on_a_full_disk_keeps_the_model_in_use(tmp_path, datasets_dir):
    """A real (tiny, one-epoch) fine-tune whose export does not fit beside the active model."""
    from tests.test_personalize import fake_export, make_base_checkpoint, rps_cv_captures
    from vision import paths

    checkpoint = make_base_checkpoint(tmp_path)
    active = fake_export(tmp_path / "A", "A")
    data = tmp_path / "captures"
    rps_cv_captures(data)
    models = paths.user_models_dir()
    size_kb = sum(p.stat().st_size for p in active.iterdir()) // 1024 + 600
    personalize = (
        f"cp -r {active} {models}/active && exec {sys.executable} -m training personalize "
        f"{data} --kind cnn --epochs 1 --no-progress --base-checkpoint {checkpoint}"
    )
    after = 'cat "$DIR/active/marker.txt"; echo; echo "left=$(ls -A "$DIR" | tr "\\n" " ")"'
    done = on_a_full_disk(models, size_kb, ["sh", "-c", personalize], after)
    assert "exit=2" in done.stdout, done.stdout + done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: the disk is full at {models}: the personalised model needs about 4.7 MB free, "
    ), done.stderr[-3000:]
    assert errors[0].endswith("and run this again (the model in use is unchanged)")
    assert "Traceback" not in done.stderr
    assert "\nA\n" in done.stdout and "left=active \n" in done.stdout  # no half model left


def test_training_split_on_a_full_disk_leaves_no_half_list(tmp_path):
    from tests.test_training_cli import make_dataset

    data = make_dataset(tmp_path / "data", per_class=100)  # lists of a few KB
    out = tmp_path / "lists"
    code = (
        "import sys; from pathlib import Path; d = Path(sys.argv[1])\n"
        "try:\n    (d / 'filler').write_bytes(b'x' * 20_000)\nexcept OSError:\n    pass\n"
        "from training.cli import main\n"
        "sys.exit(main(['split', sys.argv[2], '--out', sys.argv[1]]))"
    )
    after = 'echo "left=$(ls -A "$DIR" | grep -v filler | tr "\\n" " ")"'
    done = on_a_full_disk(out, 20, [sys.executable, "-c", code, str(out), str(data)], after)
    assert "exit=2" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "left= \n" in done.stdout or "left=\n" in done.stdout  # no list, no temporary file
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(
        f"python -m training split: error: the disk is full at {out}: writing train.txt needs "
        "about "
    ), done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def test_watch_overlay_on_a_full_disk_stops_with_one_line_and_a_playable_video(clip, tmp_path):
    """OpenCV's video writer drops frames silently when the disk fills: watch stops before a
    frame no longer fits, says so in one line (exit 2), and what it wrote still plays."""
    out = tmp_path / "card"
    command = [sys.executable, "-m", "vision", "watch", "--model", "assets/models", "--source",
               str(clip), "--overlay-out", str(out / "overlay.avi")]  # fmt: skip
    after = (
        f"{sys.executable} -c \"import cv2; c = cv2.VideoCapture('$DIR/overlay.avi'); "
        "n = 0\nwhile c.read()[0]: n += 1\nprint('frames=%d' % n)\""
    )
    done = on_a_full_disk(out, 400, command, after)
    assert "exit=2" in done.stdout, done.stdout + done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "the disk is full at" in lines[0] and "overlay.avi" in lines[0]
    assert "Traceback" not in done.stderr
    frames = int(re.search(r"frames=(\d+)", done.stdout)[1])
    assert 0 < frames < 30, "it kept what fit and stopped before the end of the clip"
