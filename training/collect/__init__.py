"""Capture your own training images: ``python -m training collect --label rock --out DATA``.

A preview window (pygame) shows the camera with the region of interest, a countdown, then saves
every ``--interval``-th frame's ROI crop as a JPEG into ``DATA/<label>/`` and counts them. Without
a display (or with ``--headless``) the countdown and the counter run in the terminal. Esc or Q in
the window, or Ctrl-C anywhere, stops; everything saved so far is kept. Files are never
overwritten: each name is new (``rock_20250101-120000_0001.jpg``) and opened exclusively, so
name order is capture order. While it captures it asks for variety (prompts that change as the
count grows), shows how many images each class has, and warns when the latest images are
near-identical. SIGTERM stops like Esc: the summary is printed and the exit status is 0.
"""

# The package's modules: ``writer`` (folders, crops, never overwriting), ``variety`` (prompts, the
# near-identical check, counts), ``loop`` (the capture loop and its state), ``views`` (terminal and
# preview window) and ``command`` (the subcommand). It keeps the command's name, so ``python -m
# training collect`` and ``from training import collect`` read as before.

from training.collect.command import (
    add_arguments,
    main,
    parse_args,
    print_summary,
    run,
    source_hint,
    stop_on_sigterm,
)
from training.collect.loop import (
    DEFAULT_COUNTDOWN,
    DEFAULT_INTERVAL,
    CaptureResult,
    CaptureState,
    capture,
    model_judge,
)
from training.collect.variety import (
    ALIKE,
    CAPTURE_ORDER,
    HAND_PROMPTS,
    NEAR_IDENTICAL_MAD,
    class_counts,
    difference,
    folder_difference,
    format_counts,
    near_identical_warning,
    thumbnail,
    variety_prompt,
)
from training.collect.views import PreviewWindow, TerminalView, display_available
from training.collect.writer import (
    CaptureError,
    ImageWriter,
    crop,
    default_data_dir,
    label_folder,
)
from vision.stream import parse_roi, roi_rect

__all__ = [
    "ALIKE",
    "CAPTURE_ORDER",
    "DEFAULT_COUNTDOWN",
    "DEFAULT_INTERVAL",
    "HAND_PROMPTS",
    "NEAR_IDENTICAL_MAD",
    "CaptureError",
    "CaptureResult",
    "CaptureState",
    "ImageWriter",
    "PreviewWindow",
    "TerminalView",
    "add_arguments",
    "capture",
    "class_counts",
    "crop",
    "default_data_dir",
    "difference",
    "display_available",
    "folder_difference",
    "format_counts",
    "label_folder",
    "main",
    "model_judge",
    "near_identical_warning",
    "parse_args",
    "parse_roi",
    "print_summary",
    "roi_rect",
    "run",
    "source_hint",
    "stop_on_sigterm",
    "thumbnail",
    "variety_prompt",
]
