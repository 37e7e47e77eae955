"""``python -m training personalize``'s flags, exit status and printed result."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
from pathlib import Path
from typing import TextIO

from training.collect import (
    default_data_dir,
)
from training.config import positive_float, positive_int
from training.personalize.captures import MIN_IMAGES_PER_CLASS, collect_command
from training.personalize.finetune import (
    BASE_CHECKPOINT,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    FROZEN_PARTS,
    PARTS,
    format_minutes,
)
from training.personalize.kinds import DEFAULT_KIND, RECOGNISERS
from training.personalize.run import (
    ACCURACY_FLOOR,
    CLASS_FLOOR,
    EXIT_NOT_INSTALLED,
    PersonalizeResult,
    personalize,
)
from training.personalize.store import (
    Terminated,
    model_size,
    models_dir_of,
    reset_model,
    rollback_model,
    stop_on_sigterm,
)
from vision.diskspace import disk_full, is_disk_full
from vision.errors import RPSError
from vision.labels import CLASS_ORDER, Gesture

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m training personalize``."""
    parser.add_argument(
        "data", nargs="?", type=Path,
        help="folder of class folders (default: <user data>/captures, where collect writes)",
    )  # fmt: skip
    parser.add_argument(
        "--kind", choices=tuple(RECOGNISERS), default=None,
        help="which recogniser to personalise: fused (the default recogniser: its landmark "
        "head refitted and its CNN part fine-tuned: one to three minutes on two cores; needs "
        "PyTorch), landmarks (the head alone: reading the captures takes a minute or two, the "
        "refit seconds; numpy only, runs on the Pi) or cnn (the CNN alone, fine-tuned, a "
        "minute or two; needs PyTorch). Default: fused, or landmarks where PyTorch is not "
        "installed",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="default %(default)s"
    )
    parser.add_argument("--lr", type=positive_float, default=DEFAULT_LR, help="default %(default)s")
    parser.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help="default %(default)s"
    )
    parser.add_argument(
        "--min-images", type=positive_int, default=MIN_IMAGES_PER_CLASS,
        help="fewest images per class to start (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--base-checkpoint", type=Path, default=BASE_CHECKPOINT,
        help="PyTorch weights to start from (default: the shipped assets/models/model.pt)",
    )  # fmt: skip
    parser.add_argument(
        "--model-dir", type=Path, default=None,
        help="folder that holds the active/ and previous/ models (default: <user data>/models, "
        "the one the game looks in)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="install the new model even if it does no better than the model in use on your "
        f"held-back images, or reads under {round(ACCURACY_FLOOR * 100)}%% of them right",
    )  # fmt: skip
    parser.add_argument(
        "--trust-labels", action="store_true",
        help="train even where the model in use reads most of a class's captures as another "
        "class (by default that stops before training: check the labels first)",
    )  # fmt: skip
    parser.add_argument(
        "--freeze", nargs="*", choices=PARTS, default=list(FROZEN_PARTS), metavar="PART",
        help=f"network parts kept fixed ({', '.join(PARTS)}; default: {' '.join(FROZEN_PARTS)})",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--reset", action="store_true",
        help="go back to the shipped model (the personal one is kept as the previous model)",
    )  # fmt: skip
    which.add_argument(
        "--rollback", action="store_true", help="swap the active and the previous model"
    )


def print_result(result: PersonalizeResult, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    per_class = result.n_test // len(CLASS_ORDER)
    print(
        f"Personalised on {result.n_train} of your images in {format_minutes(result.seconds)} "
        f"(training {format_minutes(result.train_seconds)}).",
        file=out,
    )
    print(
        f"Accuracy on your latest {result.n_test} captures (about {per_class} a class, held back "
        f"from training): {result.compared_with} {result.accuracy_before:.2f} -> personalised "
        f"{result.accuracy_after:.2f}",
        file=out,
    )
    if result.plot is not None:
        print(f"Before/after confusion matrices: {result.plot}", file=out)
    if result.sheet is not None:
        print(f"What the model in use could not read in your captures: {result.sheet}", file=out)
    for name, right, total in result.weak:
        print(
            f"The new model still cannot read your {name}: {right} of {total} held-back "
            f"captures read right (under {CLASS_FLOOR:.0%}). Capture it again as the advice "
            f"above says: {collect_command(Gesture.parse(name), result.data_dir, 30)}",
            file=out,
        )
    for text in result.warnings:
        print(f"WARNING: {text}", file=out)
    if result.installed:
        print(f"Installed as the active model: {result.model_dir}", file=out)
        print(
            "The game uses it from now on. Back to the shipped model: "
            "python -m training personalize --reset",
            file=out,
        )
        return
    if result.refused == "floor":
        why = (
            f"the new model read only {result.accuracy_after:.2f} of your latest captures "
            f"right, under the floor of {ACCURACY_FLOOR:.2f} (a model that cannot read one "
            f"class reads at most 0.75); {result.compared_with} ({result.accuracy_before:.2f}) "
            "stays active"
        )
    elif result.refused == "no better":
        every = "; it already reads every one of them right" if result.accuracy_before >= 1 else ""
        why = (
            f"the new model read as many of your latest captures right as "
            f"{result.compared_with} ({result.accuracy_before:.2f}){every}, so they show no gain "
            "to change models for; it stays active"
        )
    else:
        floor = (
            f"; it also reads under the floor of {ACCURACY_FLOOR:.2f}"
            if result.accuracy_after < ACCURACY_FLOOR
            else ""
        )
        why = (
            f"the new model scored {result.accuracy_after:.2f} on your latest captures, worse "
            f"than {result.compared_with} ({result.accuracy_before:.2f}), which stays active"
            f"{floor}"
        )
    print(
        f"NOT installed: {why}. Your captures are kept in {result.data_dir}. Capture more, "
        "varied images (move your hand around the box, nearer and farther, turn it, use both "
        "hands; change the light), for example:\n  "
        f"{collect_command(Gesture.ROCK, result.data_dir, 30)}\n"
        "and the same for the other classes, then run this again (--force installs it anyway). "
        f"The rejected model is in {result.model_dir}.",
        file=out,
    )


#: What ``--kind fused`` and ``--kind cnn`` need beyond the Pi's install (the ``train`` extra).
TRAIN_MODULES = ("torch", "tqdm", "albumentations")
NEEDS_TRAIN_EXTRA = ("fused", "cnn")


def missing_train_extra() -> str | None:
    """The first module of the ``train`` extra that is not installed, else None."""
    for name in TRAIN_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def choose_kind(kind: str | None) -> tuple[str | None, str]:
    """``(kind, message)``: the kind to personalise (None: cannot, the message says why and
    what to do); an unasked kind is the default one, or ``landmarks`` without PyTorch."""
    missing = missing_train_extra()
    if kind is None:
        if missing is None:
            return DEFAULT_KIND, ""
        return "landmarks", (
            f"PyTorch is not installed here ({missing} is missing): personalising the landmark "
            "head only (--kind landmarks, numpy, seconds); for the whole default recogniser "
            'run this on a PC with pip install -e ".[train]"'
        )
    if kind in NEEDS_TRAIN_EXTRA and missing is not None:
        return None, (
            f"--kind {kind} needs PyTorch, which is not installed here ({missing} is missing): "
            'pip install -e ".[train]" (a PC, or a 64-bit Pi OS), or use --kind landmarks '
            "(refits the landmark head with numpy, on the Pi too)"
        )
    return kind, ""


def main(args: argparse.Namespace) -> int:
    """``python -m training personalize``: 0 installed or done, 2 captures or command to fix,
    3 not installed (worse than the model in use), 130 interrupted."""
    models_dir = args.model_dir
    with stop_on_sigterm():
        return _main(args, models_dir)


def _main(args: argparse.Namespace, models_dir: Path | None) -> int:
    try:
        if args.reset:
            moved = reset_model(models_dir)
            if moved is None:
                print("No personal model is active: the shipped model is already in use.")
            else:
                print(f"Back to the shipped model. Your personal model is kept in {moved}")
                print("(python -m training personalize --rollback brings it back).")
            return 0
        if args.rollback:
            active = rollback_model(models_dir)
            print(f"Rolled back: {active} now holds the previous model.")
            return 0
        kind, note = choose_kind(args.kind)
        if kind is None:
            print(f"error: {note}", file=sys.stderr)
            return 2
        if note:
            print(note)
        data_dir = args.data if args.data is not None else default_data_dir()
        result = personalize(
            data_dir,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            base_checkpoint=args.base_checkpoint,
            models_dir=models_dir,
            min_per_class=args.min_images,
            seed=args.seed,
            force=args.force,
            progress=not args.no_progress,
            frozen=tuple(args.freeze),
            kind=kind,
            trust_labels=args.trust_labels,
        )
    except RPSError as exc:  # bad captures, a bad base model: the message says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        needed = model_size(args.kind or DEFAULT_KIND)  # nothing of it is left (staging)
        error = disk_full(models_dir_of(models_dir), needed, "the personalised model")
        print(f"error: {error} (the model in use is unchanged)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopped: nothing was installed, your captures are untouched.", file=sys.stderr)
        return 130
    except Terminated:
        print(
            "Stopped by SIGTERM: nothing was installed, your captures are untouched.",
            file=sys.stderr,
        )
        return 128 + signal.SIGTERM
    print_result(result)
    return 0 if result.installed else EXIT_NOT_INSTALLED
