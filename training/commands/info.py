"""``python -m training info``: multiply-accumulates and parameters of each network.

Every network ``--model`` can train, at one input size, beside ShuffleNetV2 1.0x.
"""

from __future__ import annotations

import argparse

from training.config import add_input_size_argument, input_size_of


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_input_size_argument(p, default=(224, 224))


def main(args: argparse.Namespace) -> int:
    import torch

    from training.models import MODELS, build_model, count_macs, count_params

    size = input_size_of(args)
    torch.set_num_threads(min(4, torch.get_num_threads()))
    rows = []
    for name in MODELS:
        model = build_model(name)
        rows.append((name, count_macs(model, size), count_params(model)))
    ref = dict((n, m) for n, m, _ in rows).get("shufflenet_v2_x1_0")
    print(f"input {size[0]}x{size[1]} (height x width), 4 classes")
    print(f"{'model':<20}{'MMACs':>10}{'params (M)':>12}{'MACs vs 1.0x':>14}")
    for name, macs, params in rows:
        ratio = f"{macs / ref:.2f}" if ref else "-"
        print(f"{name:<20}{macs / 1e6:>10.2f}{params / 1e6:>12.3f}{ratio:>14}")
    return 0
