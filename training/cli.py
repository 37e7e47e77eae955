"""``python -m training``: split, train, evaluate and export the gesture model; see ``OVERVIEW``.

Every subcommand is a module with ``add_arguments(parser)`` and ``main(args) -> int`` whose
docstring is its ``--help`` text (``SUBCOMMANDS``); it is imported only when that subcommand
runs, so parsing and ``--help`` import no torch. A module raises ``UsageError`` for flags that do
not go together (exit 2 with its usage) and ``RPSError`` for a user's mistake found while running
(exit 2, one line); a full disk is one line too, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from training.commands.common import is_main_process
from vision.errors import RPSError, UsageError

log = logging.getLogger("training")

PROG = "python -m training"
OVERVIEW = f"""\
{PROG}: build the rock-paper-scissors gesture model offline (PyTorch -> ncnn).

A dataset is a folder with one subfolder per class: rock/ paper/ scissors/ none/
(or the write-up's numbers 0/ scissors, 1/ rock, 2/ paper, 3/ none).

subcommands:
  all DATA... --out DIR     split, train, evaluate and export in one go
  split DATA                write train.txt/test.txt (80/20 per class, fixed seed)
  train DATA...             train a network, checkpointing every epoch (--resume continues)
  evaluate --checkpoint|--model-dir M DATA...
                            accuracy, precision/recall, confusion matrix (text and PNG)
  export --checkpoint C --out DIR
                            ncnn model + metadata, checked against PyTorch on real images
  info                      MACs and parameters of every network
  collect                   capture your own photos with the camera
  personalize [DATA]        fine-tune the model on your captures and install it
  distill                   train the small network from a pretrained teacher
  landmarks                 fetch and convert MediaPipe's hand-landmark networks
  hand                      fit the landmark recogniser's head (leave-one-set-out figures)
  views                     leave-one-set-out on far, cut-off and blurred views
  edge                      fit the reader of hands no finder places (cut-off, blurred)
  fusion                    choose the default recogniser's rule (leave-one-set-out)

Run '{PROG} SUBCOMMAND --help' for a subcommand's options. '{PROG}' alone (or with
--source S, --out DATA, --count N) is a guided session: capture your hand, then personalise.
"""

#: Every subcommand: name -> (module, one-line help), in the order ``--help`` lists them.
SUBCOMMANDS = {
    "split": ("training.commands.split", "write train.txt/test.txt for a dataset"),
    "info": ("training.commands.info", "MACs and parameters of every network"),
    "train": ("training.commands.train", "train a network on datasets' train lists"),
    "evaluate": (
        "training.commands.evaluate",
        "accuracy, precision/recall and confusion matrix",
    ),
    "export": (
        "training.commands.export",
        "checkpoint -> ncnn model with metadata and parity check",
    ),
    "all": ("training.commands.all", "split, train, evaluate and export in one go"),
    "collect": ("training.collect", "capture your own photos of each gesture with the camera"),
    "personalize": ("training.personalize", "fine-tune the model on your captures and install it"),
    "distill": ("training.distill", "train the small network from a pretrained teacher"),
    "landmarks": (
        "training.hand.landmarks",
        "fetch MediaPipe's hand-landmark networks and convert them to ncnn (checked)",
    ),
    "hand": (
        "training.hand.command",
        "fit the landmark recogniser's gesture head on every set (leave-one-set-out figures)",
    ),
    "views": (
        "training.hand.views",
        "leave-one-set-out on far, cut-off and blurred views of each set (finding hands)",
    ),
    "edge": (
        "training.hand.edge",
        "fit the reader of hands no finder places (cut-off, blurred) and convert it to ncnn",
    ),
    "fusion": (
        "training.hand.fusion",
        "choose when the default recogniser asks the CNN (leave-one-set-out figures)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The top level: the subcommands' names and one-line help (each module parses its own)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build the gesture model: split datasets, train, evaluate, export to ncnn.",
        epilog=OVERVIEW.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, (_module, text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=text, description=text, add_help=False)
    return parser


def subcommand_parser(name: str, module=None) -> argparse.ArgumentParser:
    """``python -m training NAME``'s parser (imports its module; reusable in tests)."""
    module = module or importlib.import_module(SUBCOMMANDS[name][0])
    from vision.helptext import plain

    parser = argparse.ArgumentParser(
        prog=f"{PROG} {name}",
        description=plain(module.__doc__ or SUBCOMMANDS[name][1]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    return parser


def run_subcommand(name: str, argv: Sequence[str]) -> int:
    """Import NAME's module now, parse its arguments and run it; a user's mistake exits 2."""
    module_name, _text = SUBCOMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"{PROG} {name} is not available yet ({module_name} is missing)", file=sys.stderr)
        return 2
    parser = subcommand_parser(name, module)
    args = parser.parse_args(list(argv))
    try:
        return int(module.main(args) or 0)
    except UsageError as exc:  # flags that do not go together
        parser.error(str(exc))  # exits 2, with the usage
    except RPSError as exc:  # a user's mistake found while running (bad dataset, bad checkpoint)
        print(f"{PROG} {name}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk anywhere: one line, not a traceback
        from vision.diskspace import disk_full, is_disk_full

        if not is_disk_full(exc):
            raise
        where = Path(exc.filename).parent if exc.filename else Path.cwd()
        print(f"{PROG} {name}: error: {disk_full(where, None)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def guided(argv: Sequence[str] = ()) -> int:
    """``python -m training [--source S] [--out DATA] ...``: the guided personalisation."""
    try:
        from training import personalize
    except ImportError:
        personalize = None
    if not callable(getattr(personalize, "guided", None)):
        print(OVERVIEW)
        return 0
    if not argv:
        return int(personalize.guided() or 0)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Guided session: check the camera, capture rock, paper, scissors and an "
        f"empty scene, then personalise the model. '{PROG} --help' lists the subcommands.",
    )
    personalize.add_guided_arguments(parser)
    args = parser.parse_args(list(argv))
    return int(
        personalize.guided(
            source=args.source,
            data_dir=args.out,
            count=args.count,
            countdown=args.countdown,
            kind=args.kind,
        )
        or 0
    )


def _is_guided(argv: Sequence[str]) -> bool:
    """No subcommand: nothing at all, or only the guided session's flags (``--source 1``)."""
    return not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help"))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    level = logging.INFO if is_main_process() else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    if _is_guided(argv):
        return guided(argv)
    if argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    build_parser().parse_args(argv)  # --help, or an unknown subcommand: exits with the list
    return 2
