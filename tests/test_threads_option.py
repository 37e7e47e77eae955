"""``--threads`` above the core count is lowered to it with a one-line warning (more threads than
cores only slow ncnn: 13 s a round at 64 threads on 2 cores, no round in 40 s at 999)."""

from __future__ import annotations

import cv2
import numpy as np

from game import cli
from vision.__main__ import main as vision_main
from vision.cores import checked_threads, usable_cores


def test_the_core_count_is_what_this_process_may_use():
    assert 1 <= usable_cores() <= (__import__("os").cpu_count() or 1)


def test_threads_within_the_cores_are_kept(capsys):
    assert checked_threads(1) == 1
    assert capsys.readouterr().err == ""


def test_the_game_lowers_too_many_threads_to_the_cores_and_says_so(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["--source", "keyboard", "--threads", "999"])
    cli.check_args(parser, args)
    assert args.threads == usable_cores()
    err = capsys.readouterr().err.strip()
    assert err == (
        f"warning: --threads 999 is more than the {usable_cores()} CPU cores here: using "
        f"{usable_cores()} (more threads than cores only slows the recogniser down)"
    )


def test_vision_classify_lowers_them_too(tmp_path, capsys):
    image = tmp_path / "wall.jpg"
    cv2.imwrite(str(image), np.full((96, 96, 3), 128, np.uint8))
    assert vision_main(["classify", str(image), "--threads", "999"]) == 0
    captured = capsys.readouterr()
    assert "--threads 999 is more than the" in captured.err
    assert captured.out.startswith(str(image))
