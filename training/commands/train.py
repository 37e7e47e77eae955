"""``python -m training train``: train a network on datasets' train lists.

Tests on their test lists every epoch and checkpoints every epoch into --out (last.pt, best.pt,
history.csv/json); --resume continues an interrupted run.
"""

from __future__ import annotations

import argparse

from training.commands.common import (
    add_data_arguments,
    check_out,
    data_info,
    is_main_process,
    load_datasets,
)
from training.config import add_train_arguments, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_arguments(p)
    add_train_arguments(p)


def main(args: argparse.Namespace) -> int:
    from training.train import train

    config = config_from_args(args)
    check_out(config.out)
    datasets = load_datasets(args.data, args.splits)
    train_items = [it for _, _, tr, _ in datasets for it in tr]
    test_items = [it for _, _, _, te in datasets for it in te]
    result = train(config, train_items, test_items, data_info=data_info(datasets))
    if not is_main_process():
        return 0
    best = "-" if result.best_acc is None else f"{result.best_acc:.4f}"
    print(f"checkpoints in {result.out_dir} (best test accuracy {best}, epoch {result.best_epoch})")
    return 0
