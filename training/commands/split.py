"""``python -m training split``: write a dataset's train.txt and test.txt.

One 'relative/path label' a line, numeric labels (0 scissors, 1 rock, 2 paper, 3 none): 80/20
stratified per class with a fixed seed, or the dataset's own test list
(original_testing_split.txt) when it has one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.commands.common import add_split_arguments, check_test_fraction, writable
from vision.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA", help="dataset folder of class folders")
    p.add_argument("--out", metavar="DIR", help="write the lists here (default: into DATA)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--test-list", metavar="FILE", help="use these images as the test set")
    group.add_argument(
        "--no-test-list",
        action="store_true",
        help="ignore a test list shipped with the dataset; split at random",
    )
    add_split_arguments(p, seed_flag="--seed")


def main(args: argparse.Namespace) -> int:
    from training.data import counts_text, find_test_list, label_counts, split_dataset, write_split

    root = Path(args.data)
    check_test_fraction(args.test_fraction)
    out = Path(args.out) if args.out else root
    if not args.out and root.is_dir() and not writable(root):
        raise UsageError(f"{root} is read-only: pass --out DIR for the lists (then --splits DIR)")
    test_list = args.test_list
    if test_list is None and not args.no_test_list and root.is_dir():
        test_list = find_test_list(root)
        if test_list:
            print(f"using the dataset's own test list {test_list} (--no-test-list to ignore it)")
    if test_list is not None and not Path(test_list).is_file():
        raise UsageError(f"--test-list {test_list} does not exist")
    split = split_dataset(root, args.test_fraction, args.seed, test_list)
    train_path, test_path = write_split(split, out)
    print(f"{train_path}: {len(split.train)} images ({counts_text(label_counts(split.train))})")
    print(f"{test_path}: {len(split.test)} images ({counts_text(label_counts(split.test))})")
    return 0
