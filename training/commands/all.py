"""``python -m training all``: split, train, evaluate and export in one go.

Splits each dataset (or reuses its lists), trains on all train lists together, evaluates on each
dataset's test list, and exports the final model to ncnn. Writes <out>/splits, <out>/train
(checkpoints, history), <out>/eval and <out>/model.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from training.commands.common import (
    add_split_arguments,
    check_out,
    check_test_fraction,
    data_info,
    dataset_names,
    is_main_process,
    load_datasets,
    spread,
)
from training.commands.evaluate import run_evaluation
from training.config import add_train_arguments, config_from_args

log = logging.getLogger("training")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="+", metavar="DATA", help="dataset folder(s) of class folders")
    add_split_arguments(p)
    p.add_argument(
        "--pick",
        choices=("last", "best"),
        default="last",
        help="which checkpoint to export (default last; best is picked on the test set)",
    )
    add_train_arguments(p, out_help="folder for the whole run (default %(default)s)")


def split_all(args: argparse.Namespace, splits: Path) -> None:
    """Write the lists of each dataset that has none yet under ``splits/<name>/``."""
    from training.data import find_test_list, split_dataset, write_split

    for name, root in zip(dataset_names(args.data), args.data, strict=True):
        if (splits / name / "test.txt").is_file() or (Path(root) / "test.txt").is_file():
            log.info("%s: reusing its existing train/test lists", name)
            continue
        test_list = find_test_list(root)
        split = split_dataset(root, args.test_fraction, args.split_seed, test_list)
        write_split(split, splits / name)
        how = f"test list {test_list.name}" if test_list else f"{args.test_fraction:.0%} per class"
        if is_main_process():
            print(f"{name}: {len(split.train)} train, {len(split.test)} test ({how})")


def main(args: argparse.Namespace) -> int:
    from training.evaluate import CheckpointPredictor
    from training.export import export_checkpoint
    from training.train import train

    check_test_fraction(args.test_fraction)
    run = Path(args.out)
    config = config_from_args(args)
    check_out(run)
    config.out = str(run / "train")
    splits = run / "splits"
    split_all(args, splits)
    datasets = load_datasets(args.data, str(splits))
    train_items = [it for _, _, tr, _ in datasets for it in tr]
    test_items = [it for _, _, _, te in datasets for it in te]
    result = train(config, train_items, test_items, data_info=data_info(datasets))
    if not is_main_process():
        return 0
    ckpt = result.last_checkpoint if args.pick == "last" else result.best_checkpoint
    sets = [(name, te, tr) for name, _, tr, te in datasets]
    results = run_evaluation(CheckpointPredictor(ckpt), sets, run / "eval", result.history)
    accuracy = {name: r["accuracy"] for name, r in results["datasets"].items()}
    for name, r in results["datasets"].items():
        if "accuracy_without_shared_source" in r:
            accuracy[f"{name} (no shared source)"] = r["accuracy_without_shared_source"]
    parity = spread([p for p, _ in test_items], 64)
    meta = export_checkpoint(ckpt, run / "model", parity, accuracy=accuracy)
    print(f"exported {meta}")
    return 0
