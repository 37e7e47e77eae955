"""``python -m training export``: a checkpoint -> an ncnn model with metadata, parity checked.

Exports to ncnn (ONNX, onnxsim, pnnx) with the model's metadata, then runs ncnn and PyTorch on
real test images; fails, leaving no model behind, unless top-1 agrees on all and probabilities
differ by at most 1e-3.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from training.commands.common import check_out, load_datasets, spread
from vision.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a training checkpoint")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the ncnn model")
    p.add_argument(
        "--test-images",
        nargs="+",
        metavar="PATH",
        help="images (or folders of images) for the parity check",
    )
    p.add_argument(
        "--data",
        nargs="+",
        metavar="DATA",
        help="take parity images from these datasets' test lists",
    )
    p.add_argument("--splits", metavar="DIR", help="where the datasets' lists are")
    p.add_argument(
        "--max-images", type=int, default=64, help="parity images at most (default %(default)s)"
    )


def parity_images(paths: Sequence[str]) -> list[Path]:
    """The images named, and those inside the folders named."""
    from training.data import IMAGE_EXTS

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
        elif p.is_file():
            out.append(p)
    return out


def main(args: argparse.Namespace) -> int:
    from training.export import export_checkpoint

    if not args.test_images and not args.data:
        raise UsageError(
            "the parity check needs real images: pass --test-images PATH... or --data DATA"
        )
    images: list = parity_images(args.test_images or [])
    if args.data:
        for _, _, _, te in load_datasets(args.data, args.splits):
            images += [p for p, _ in te]
    if not images:
        raise UsageError("no images found for the parity check in --test-images/--data")
    check_out(args.out)
    meta = export_checkpoint(args.checkpoint, args.out, spread(images, args.max_images))
    print(f"exported {meta} (ncnn and PyTorch agree on {min(len(images), args.max_images)} images)")
    return 0
