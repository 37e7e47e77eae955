"""Output meant for people: words, rounded numbers, the right complaint for the wrong input."""

from __future__ import annotations

import pytest
from helpers import dataset_images

from vision.__main__ import main as vision_main


def test_classify_a_folder_says_it_is_a_folder_and_what_to_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        vision_main(["classify", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "no such image" not in err
    assert err.strip().endswith(
        f"error: {tmp_path}: a folder, not an image: pass image files (for example DIR/*.jpg), "
        "or use 'python -m vision evaluate DIR' on class folders"
    )


def test_a_truncated_jpeg_is_not_classified(tmp_path, capsys, datasets_dir):
    photo = dataset_images("rps-cv", "rock", 1)[0]
    whole, cut = tmp_path / "whole.jpg", tmp_path / "cut.jpg"
    whole.write_bytes(photo.read_bytes())
    cut.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])  # a copy cut short
    assert vision_main(["classify", str(whole), str(cut)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{whole}\t") and str(cut) not in captured.out
    assert (
        f"{cut}: a truncated JPEG (its end is missing): not classified; copy or save it again"
        in captured.err
    )


def test_training_draws_no_progress_bar_into_a_log(capsys):
    """``training all`` into a file: tqdm's redraws were written there; only a terminal gets one."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from training.loop import train_one_epoch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    data = TensorDataset(torch.rand(8, 3, 8, 8), torch.tensor([0, 1, 2, 3] * 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss_fn(logits, images, labels):
        return torch.nn.functional.cross_entropy(logits, labels)

    stats = train_one_epoch(
        model, DataLoader(data, batch_size=4), optimizer, torch.device("cpu"), loss_fn,
        progress=True,
    )  # fmt: skip
    assert stats["loss"] > 0
    err = capsys.readouterr().err
    assert "batch" not in err and "\r" not in err, err


def test_personalise_on_a_terminal_shows_the_bar_not_a_line_an_epoch(monkeypatch, caplog):
    """On a real terminal (a pty) the bar gives the time left; the epoch lines are for logs."""
    import os
    import sys

    import numpy as np

    from tests.test_personalize import INPUT
    from training import personalize
    from training.models import build_model
    from vision.preprocess import Preprocessing

    caplog.set_level("INFO", logger="training.personalize")
    spec = Preprocessing(input_size=(INPUT, INPUT))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 40, 3), np.uint8) for _ in range(8)]
    labels = [0, 1, 2, 3] * 2
    import fcntl
    import struct
    import termios

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    terminal = os.fdopen(follower, "w")
    try:
        assert terminal.isatty()
        with monkeypatch.context() as patch:
            patch.setattr(sys, "stderr", terminal)
            personalize.fine_tune(build_model("liteconv"), images, labels, spec, epochs=2)
        terminal.flush()
        drawn = os.read(leader, 65536).decode(errors="replace")
    finally:
        terminal.close()
        os.close(leader)
    assert "fine-tuning" in drawn  # the bar, on the terminal
    assert "epoch 1/2" not in caplog.text
    caplog.clear()
    personalize.fine_tune(build_model("liteconv"), images, labels, spec, epochs=2)  # not a tty
    assert "epoch 1/2: loss" in caplog.text and "about" in caplog.text


@pytest.mark.parametrize(
    "command",
    [
        ["vision"],
        ["vision.soak"],
        ["training", "personalize"],
        ["training", "collect"],
        ["training"],
        ["game"],
    ],
)
def test_help_has_no_markup_and_no_internal_names(command):
    import subprocess
    import sys

    from helpers import ROOT

    done = subprocess.run(
        [sys.executable, "-m", *command, "--help"], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for leak in ("``", ":class:", "RECOGNISERS", "GestureClassifier", "GestureStream", "['"):
        assert leak not in text, f"{leak!r} in {' '.join(command)} --help"
    if command == ["training"]:
        assert "personalize [DATA]" in text  # the captures folder is optional


def test_an_empty_test_set_reads_no_accuracy_not_nan():
    import json

    from training.evaluate import compute_report, format_report

    report = compute_report([], [])
    text = format_report(report, "rps-cv: ")
    assert text == "rps-cv: no test images, so no accuracy (check the dataset's test list)"
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["accuracy"] is None


def test_split_prints_class_counts_in_words_not_a_dict(tmp_path, capsys):
    from tests.test_training_cli import make_dataset
    from training.cli import main as training_main

    data = make_dataset(tmp_path / "data")
    assert training_main(["split", str(data), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out
    assert f"{data / 'train.txt'}: 12 images (scissors 0, rock 4, paper 4, none 4)" in out
