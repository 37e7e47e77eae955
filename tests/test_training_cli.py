"""``python -m training``: help everywhere, bad arguments exit 2 with a message, split, wiring."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.cli import SUBCOMMANDS, main, subcommand_parser
from training.config import config_from_args

ROOT = Path(__file__).resolve().parent.parent


def make_dataset(root: Path, per_class: int = 5) -> Path:
    rng = np.random.default_rng(0)
    for label in ("rock", "paper", "none"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
            cv2.imwrite(str(root / label / f"{i}.png"), img)
    return root


def test_top_level_help_is_quick_and_imports_no_torch():
    code = (
        "import sys\nfrom training.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'torch' not in sys.modules and 'albumentations' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name in SUBCOMMANDS:
        assert name in run.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m training {command}") and len(out) > 300


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "invalid choice"),
        (["train"], "required: DATA"),
        (["train", "d", "--epochs", "0"], "must be at least 1"),
        (["train", "d", "--input-size", "16"], ">= 32"),
        (["train", "d", "--input-size", "64", "64", "64"], "one or two numbers"),
        (["train", "d", "--model", "resnet"], "invalid choice"),
        (["train", "d", "--lr", "-1"], "must be positive"),
        (["evaluate", "d"], "--checkpoint --model-dir"),
        (["export", "--checkpoint", "c.pt", "--out", "o"], "needs real images"),
        (["split", "d", "--test-fraction", "1.5"], "between 0 and 1"),
        (["info", "--input-size", "abc"], "not a whole number"),
    ],
)
def test_bad_arguments_exit_2_saying_what_to_fix(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_dataset_is_an_error_not_a_traceback(tmp_path, capsys):
    assert main(["split", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "run 'python -m training split" in capsys.readouterr().err


def test_split_writes_the_lists_into_the_dataset_or_elsewhere(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    assert main(["split", str(data), "--seed", "1"]) == 0
    lines = (data / "test.txt").read_text().splitlines()
    assert len(lines) == 3 and sorted(line.split()[1] for line in lines) == ["1", "2", "3"]
    assert main(["split", str(data), "--out", str(tmp_path / "lists"), "--seed", "1"]) == 0
    assert (tmp_path / "lists" / "test.txt").read_text().splitlines() == lines
    assert "12 images" in capsys.readouterr().out


@pytest.mark.skipif(os.name != "posix", reason="permission bits")
def test_split_of_a_read_only_dataset_asks_for_out(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    data.chmod(0o555)
    try:
        with pytest.raises(SystemExit) as exc:
            main(["split", str(data)])
    finally:
        data.chmod(0o755)
    assert exc.value.code == 2 and "--out DIR" in capsys.readouterr().err
    assert not (data / "train.txt").exists()


def test_split_uses_a_shipped_test_list(datasets_dir, tmp_path, capsys):
    assert main(["split", str(datasets_dir / "rps-sxsw"), "--out", str(tmp_path)]) == 0
    assert "original_testing_split.txt" in capsys.readouterr().out
    assert len((tmp_path / "test.txt").read_text().splitlines()) == 470
    assert len((tmp_path / "train.txt").read_text().splitlines()) == 2347 - 470


def test_no_arguments_runs_the_guided_mode_or_prints_the_overview(monkeypatch, capsys):
    import training.personalize as personalize

    monkeypatch.setattr(personalize, "guided", lambda: 7, raising=False)
    assert main([]) == 7
    monkeypatch.delattr(personalize, "guided", raising=False)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "rock/ paper/ scissors/ none/" in out and "all DATA... --out DIR" in out


def test_subcommands_are_imported_on_demand(monkeypatch, capsys):
    monkeypatch.setitem(SUBCOMMANDS, "collect", ("training.not_written_yet", "capture"))
    assert main(["collect"]) == 2
    assert "not available yet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["personalize", "--help"])
    assert exc.value.code == 0
    assert "usage: python -m training personalize" in capsys.readouterr().out


def test_parser_is_reusable():
    args = subcommand_parser("train").parse_args(
        ["d1", "d2", "--input-size", "96", "--epochs", "3"]
    )
    config = config_from_args(args)
    assert args.data == ["d1", "d2"]
    assert (config.input_size, config.epochs, config.lr, config.milestones) == (
        (96, 96),
        3,
        0.01,
        (35, 40),
    )
    assert (config.momentum, config.weight_decay, config.model) == (0.9, 1e-4, "liteconv")


@pytest.mark.parametrize("command", ["train", "all"])
def test_an_out_folder_that_cannot_be_written_exits_2_before_any_work(tmp_path, capsys, command):
    data = make_dataset(tmp_path / "data")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        for out, why in ((blocker / "run", "Not a directory"), (read_only, "is read-only")):
            with pytest.raises(SystemExit) as exc:
                main([command, str(data), "--out", str(out), "--epochs", "1"])
            err = capsys.readouterr().err
            assert exc.value.code == 2 and f"--out {out}" in err and why in err, err
            assert "pass a folder you can write to" in err
    finally:
        read_only.chmod(0o755)
    assert not list(read_only.iterdir())


def test_a_subcommand_s_arguments_are_built_without_argv():
    """The guided session hands capture and personalisation their arguments as values (no argv
    round trip): every other flag at its default, a misspelt name refused."""
    from training import collect, personalize
    from training.config import arguments
    from vision.labels import Gesture

    args = arguments(collect.add_arguments, label=Gesture.ROCK, out=Path("d"), count=5, check=True)
    assert (args.label, args.out, args.count, args.check) == (Gesture.ROCK, Path("d"), 5, True)
    assert args.interval == collect.DEFAULT_INTERVAL and args.source == "0" and args.roi is None
    assert vars(args).keys() == vars(collect.parse_args(["--label", "rock"])).keys()
    args = arguments(personalize.add_arguments, data=Path("d"), kind="landmarks")
    assert args.epochs == personalize.DEFAULT_EPOCHS and args.kind == "landmarks"
    with pytest.raises(TypeError, match="no such argument: lable"):
        arguments(collect.add_arguments, lable=Gesture.ROCK)
