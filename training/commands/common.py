"""What the pipeline's subcommands share: dataset arguments and lists, ``--out`` checks."""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from vision.errors import UsageError


def is_main_process() -> bool:
    """False in the other ranks of a ``torchrun`` job (they train, but print and write nothing)."""
    return os.environ.get("RANK", "0") == "0"


def writable(folder: Path) -> bool:
    """Writable, and not marked read-only (root ignores the mode bits, we do not)."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return os.access(folder, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def check_out(folder: str | Path, flag: str = "--out") -> None:
    """``UsageError`` before any work where ``folder`` cannot be written (read-only, full...)."""
    from vision.paths import unwritable_reason

    if is_main_process() and (problem := unwritable_reason(folder)):
        raise UsageError(f"{flag} {folder}: {problem}; pass a folder you can write to")


def check_test_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise UsageError(f"--test-fraction must be between 0 and 1, not {fraction}")


def add_data_arguments(p: argparse.ArgumentParser, nargs: str = "+") -> None:
    p.add_argument("data", nargs=nargs, metavar="DATA", help="dataset folder(s) of class folders")
    p.add_argument(
        "--splits",
        metavar="DIR",
        help="where the train.txt/test.txt lists are (DIR/<dataset name>/ or DIR); "
        "default: inside each dataset folder",
    )


def add_split_arguments(p: argparse.ArgumentParser, seed_flag: str = "--split-seed") -> None:
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of each class for test (default %(default)s)",
    )
    p.add_argument(
        seed_flag, type=int, default=0, help="seed of the random split (default %(default)s)"
    )


def dataset_names(roots: Sequence[str | Path]) -> list[str]:
    """A distinct short name per dataset folder (its folder name, numbered if repeated)."""
    names: list[str] = []
    for root in roots:
        base = Path(root).resolve().name or "data"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def load_datasets(roots: Sequence[str], splits: str | None):
    """``[(name, root, train_items, test_items)]`` for each dataset."""
    from training.data import load_split

    out = []
    for name, root in zip(dataset_names(roots), roots, strict=True):
        lists = Path(splits) / name if splits and (Path(splits) / name).is_dir() else splits
        train_items, test_items = load_split(root, lists)
        out.append((name, Path(root), train_items, test_items))
    return out


def data_info(datasets) -> list[dict]:
    """What a checkpoint records of the datasets it was trained on."""
    from training.data import label_counts

    return [
        {
            "name": name,
            "root": str(root.resolve()),
            "train": len(tr),
            "test": len(te),
            "train_counts": label_counts(tr),
            "test_counts": label_counts(te),
        }
        for name, root, tr, te in datasets
    ]


def spread(items: Sequence, n: int) -> list:
    """``n`` items spread over the list (all classes of a sorted list get some)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]
