"""``python -m training collect``'s flags, the run, and its summary."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from pathlib import Path

from training.collect.loop import (
    DEFAULT_COUNTDOWN,
    DEFAULT_INTERVAL,
    CaptureResult,
    View,
    capture,
    model_judge,
)
from training.collect.variety import (
    class_counts,
    folder_difference,
    format_counts,
    near_identical_warning,
    what_to_show,
)
from training.collect.views import PreviewWindow, TerminalView, display_available
from training.collect.writer import CaptureError, ImageWriter, default_data_dir, label_folder
from training.config import positive_int
from training.data import IMAGE_EXTS
from vision.errors import SourceError
from vision.helptext import plain
from vision.labels import CLASS_ORDER, Gesture
from vision.signals import on_sigterm
from vision.stream import parse_roi

log = logging.getLogger(__name__)


def _gesture(text: str) -> Gesture:
    try:
        return Gesture.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 60 seconds")
    return value


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """``--source``: what capture reads (the guided session takes the same flag)."""
    parser.add_argument(
        "--source", default="0",
        help="camera index (0), /dev/videoN, picam, a video file or a folder of images "
        "(default %(default)s)",
    )  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m training collect``."""
    names = ", ".join(g.value for g in CLASS_ORDER)
    parser.add_argument(
        "--label", type=_gesture, required=True,
        help=f"what you show: {names} (an empty scene), or 0-3",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None,
        help="dataset folder; images go into OUT/<label>/ (default: <user data>/captures)",
    )  # fmt: skip
    parser.add_argument(
        "--interval", type=positive_int, default=DEFAULT_INTERVAL,
        help="save every N-th frame (default %(default)s, about one a second at 30 fps)",
    )  # fmt: skip
    parser.add_argument(
        "--count", type=positive_int, default=None,
        help="stop after this many images (default: until stopped or the source ends)",
    )  # fmt: skip
    add_source_argument(parser)
    parser.add_argument(
        "--countdown", type=_seconds, default=DEFAULT_COUNTDOWN,
        help="seconds before saving starts (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--roi", type=parse_roi, default=None, metavar="X,Y,W,H",
        help="region to save, as fractions of the frame (default: the centre square, "
        "as the game uses)",
    )  # fmt: skip
    parser.add_argument(
        "--headless", action="store_true",
        help="no preview window (automatic when there is no display)",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="read each saved image with the model in use, as the game would, and show live "
        "how many it reads right and finds a hand in (the guided session does)",
    )  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``collect`` flags on their own (guided mode and tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m training collect",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser.parse_args(argv)


_REASONS = {
    "count": "done",
    "end": "the source has no more frames",
    "stopped": "stopped",
    "interrupted": "interrupted",
    "terminated": "stopped by SIGTERM",
    "disk full": "the disk is full",
}


@contextlib.contextmanager
def stop_on_sigterm():
    """An Event set by SIGTERM for the block (main thread only), so the capture stops cleanly."""
    stop = threading.Event()
    with on_sigterm(lambda signum: stop.set()):
        yield stop


def source_hint(source: str) -> str:
    """What to do when ``source`` cannot be opened."""
    text = str(source).strip()
    if text.isdigit() or text.startswith("/dev/") or text == "picam":
        return (
            "Plug in a camera (or pick another with --source 1, --source /dev/video2), or "
            "capture from a recording: --source VIDEO or --source FOLDER of images."
        )
    return "Pass a camera index (0), /dev/videoN, picam, a video file or a folder of images."


def run(args: argparse.Namespace) -> tuple[int, str]:
    """``collect`` itself: ``(exit status, why it stopped)``; see ``main``."""
    from vision.sources import open_source

    label: Gesture = args.label
    out = args.out if args.out is not None else default_data_dir()
    try:
        writer = ImageWriter(label_folder(out, label), label)
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, "error"
    try:
        source = open_source(args.source)
    except SourceError as exc:
        print(f"error: {exc}\n{source_hint(args.source)}", file=sys.stderr)
        return 2, "error"
    counts = class_counts(out)
    judge = model_judge(label) if getattr(args, "check", False) else None
    headless = args.headless or not display_available()
    view: View = TerminalView() if headless else PreviewWindow(fps=getattr(source, "fps", 30.0))
    if headless:
        print(f"Show {what_to_show(label)} to the camera. Ctrl-C stops.", file=sys.stderr)
    try:
        with stop_on_sigterm() as stop:
            result = capture(
                source, writer, interval=args.interval, count=args.count,
                countdown=args.countdown, roi=args.roi, view=view, counts=counts, stop=stop,
                judge=judge,
            )  # fmt: skip
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1, "error"
    finally:
        view.close()
        source.close()
    print_summary(result, writer.folder, label, out)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 2, result.reason
    return (130 if result.reason == "interrupted" else 0), result.reason


def print_summary(result: CaptureResult, folder: Path, label: Gesture, out: Path) -> None:
    """What was saved where, how many each class has now, and a warning if they look alike."""
    total = sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    print(
        f"Saved {len(result.saved)} image(s) of {label.value} into {folder} "
        f"({_REASONS.get(result.reason, result.reason)}; {total} there now).",
        flush=True,
    )
    print(f"Images in {out}: {format_counts(class_counts(out))}.", flush=True)
    if result.saved:
        warning = near_identical_warning(label, *folder_difference(folder))
        if warning:
            print(f"WARNING: {warning}.", flush=True)


def main(args: argparse.Namespace) -> int:
    """``python -m training collect``: 0 done, stopped or SIGTERM (after the summary), 2 a
    source or folder that cannot be used or a full disk (the message says what to do), 1 a write
    that failed mid-way otherwise, 130 Ctrl-C. Everything saved before a stop is kept, and no
    empty or half-written image is left."""
    return run(args)[0]
