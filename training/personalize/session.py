"""The guided session (``python -m training`` alone): check the camera, capture each class with
prompts and live feedback, then personalise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from training.collect import (
    CAPTURE_ORDER,
    class_counts,
    default_data_dir,
    format_counts,
)
from training.collect.command import add_source_argument
from training.config import arguments, positive_int
from training.personalize.captures import (
    SUGGESTED_IMAGES_PER_CLASS,
    capture_folders,
    collect_command,
    ordered_images,
)
from training.personalize.check import model_in_use, read_and_report
from training.personalize.command import add_arguments, choose_kind, main
from training.personalize.kinds import RECOGNISERS
from vision.errors import SourceError
from vision.labels import Gesture

log = logging.getLogger(__name__)


_PROMPTS = {
    Gesture.ROCK: "Make a fist (rock) inside the square.",
    Gesture.PAPER: "Show an open hand (paper) inside the square, fingers spread or together.",
    Gesture.SCISSORS: "Show two fingers (scissors) inside the square.",
    Gesture.NONE: "Take your hand away: an empty scene of your room.",
}
_VARIETY = (
    "While it captures, follow the prompts: move your hand around the box, nearer and farther, "
    "turn it, and switch hands; varied images teach the model far more than 50 of one pose."
)


def add_guided_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m training`` alone (the guided session)."""
    add_source_argument(parser)
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DATA",
        help="where the captures go (default: <user data>/captures)",
    )  # fmt: skip
    parser.add_argument(
        "--count", type=positive_int, default=SUGGESTED_IMAGES_PER_CLASS,
        help="images to capture per class (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--countdown", type=float, default=None, help="seconds before each capture starts"
    )
    parser.add_argument(
        "--kind", choices=tuple(RECOGNISERS), default=None,
        help="which recogniser to personalise after the capture (default: fused, or landmarks "
        "where PyTorch is not installed, as on the Pi); see personalize --help",
    )  # fmt: skip


def guided_steps(
    data_dir: Path, count: int = SUGGESTED_IMAGES_PER_CLASS, source: str = "0"
) -> list[str]:
    """The guided session as plain commands."""
    extra = f" --source {source}" if str(source) != "0" else ""
    return [collect_command(g, data_dir, count) + extra for g in CAPTURE_ORDER] + [
        f"python -m training personalize {data_dir}"
    ]


def check_source(source: str) -> str | None:
    """None if ``source`` opens (it is closed again at once), else the message to print."""
    from training.collect import source_hint
    from vision.sources import open_source

    try:
        opened = open_source(source)
    except SourceError as exc:
        return (
            f"error: {exc}\n{source_hint(source)} For example: python -m training --source clip.mp4"
        )
    opened.close()
    return None


def guided(
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    *,
    source: str = "0",
    countdown: float | None = None,
    data_dir: Path | None = None,
    count: int = SUGGESTED_IMAGES_PER_CLASS,
    kind: str | None = None,
) -> int:
    """``python -m training`` alone: check the camera, capture each class, then personalise.

    When stdin is not a terminal, prints the steps as commands and returns 0. ``source``,
    ``countdown``, ``data_dir`` and ``count`` are passed on to the capture (defaults: camera 0,
    the capture tool's countdown, ``<user data>/captures``, 50). ``kind``: the recogniser to
    personalise (``choose_kind``: a kind this install cannot train is refused before the first
    capture). After the capture the model in use reads every capture and says, per class, what
    it cannot see (and draws the worst beside the captures). Returns 2 when the source cannot
    be opened or the kind cannot be trained here (before asking anything), else what the last
    step returned.
    """
    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if not stdin.isatty():
        _print_steps(data_dir, count, source, out)
        return 0
    kind, note = choose_kind(kind)
    if kind is None:
        print(f"error: {note}", file=sys.stderr)
        return 2
    problem = check_source(source)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    print(
        "Teach the robot your hand. You will show rock, paper and scissors to the camera, then an\n"
        f"empty scene; {count} images each, about one a second. Then it trains for a few "
        f"minutes.\nYour images go to {data_dir}.\n{_VARIETY}",
        file=out,
    )
    if note:
        print(note, file=out)
    code = _capture_all(data_dir, count, source, countdown, stdin, out)
    if code is not None:
        return code
    for line in capture_feedback(data_dir, out):
        print(line, file=out)
    answer = _ask("\nAll captured. Press Enter to personalise now, q to quit: ", stdin, out)
    if answer == "q":
        print(f"Later: python -m training personalize {data_dir} --kind {kind}", file=out)
        return 0
    return main(arguments(add_arguments, data=data_dir, kind=kind))


def _print_steps(data_dir: Path, count: int, source: str, out: TextIO) -> None:
    """Without a terminal: the session as commands to run in turn."""
    print("Teach the robot your hand, step by step (run each command in turn):", file=out)
    for i, step in enumerate(guided_steps(data_dir, count, source), 1):
        print(f"  {i}. {step}", file=out)
    print(
        "Run 'python -m training' in a terminal for a guided session; "
        "'python -m training --help' lists every command.",
        file=out,
    )


def _capture_all(
    data_dir: Path, count: int, source: str, countdown: float | None, stdin, out
) -> int | None:
    """Each class in turn (Enter captures, s skips, q quits); the exit status to stop with
    (quit, a failed or terminated capture), or None to go on to personalise."""
    from training import collect

    for g in CAPTURE_ORDER:
        counts = class_counts(data_dir)
        print(f"\n{g.value.upper()}: {_PROMPTS[g]} (so far: {format_counts(counts)})", file=out)
        answer = _ask("Press Enter to start, s to skip, q to quit: ", stdin, out)
        if answer == "q":
            return 0
        if answer == "s":
            continue
        timing = {} if countdown is None else {"countdown": float(countdown)}
        args = arguments(collect.add_arguments, label=g, out=data_dir, count=count,
                         source=str(source), check=True, **timing)  # fmt: skip
        code, reason = collect.run(args)
        if code != 0 or reason == "terminated":
            return code
    return None


def capture_feedback(data_dir: Path, out: TextIO | None = None) -> list[str]:
    """After the capture: how the model in use reads the captures there are, per class, with
    advice and the contact sheet beside them (nothing when there are no captures yet)."""

    folders = capture_folders(Path(data_dir))
    items = [(p, g.index) for g, folder in folders.items() for p in ordered_images(folder)]
    if not items:
        return []
    classifier, compared_with = model_in_use()
    print(f"\nReading your {len(items)} captures as the game would...", file=out, flush=True)
    check = read_and_report(items, classifier, compared_with, Path(data_dir))
    lines = check.lines()
    lines += [f"WARNING: {text}" for _, text in check.problems]
    return lines


def _ask(prompt: str, stdin: TextIO, out: TextIO) -> str:
    print(prompt, end="", file=out, flush=True)
    try:
        line = stdin.readline()
    except KeyboardInterrupt:
        return "q"
    return "q" if not line else line.strip().lower()[:1]
