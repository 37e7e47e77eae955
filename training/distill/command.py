"""``python -m training distill``'s flags, and the export of the shipped model."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from training.config import (
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    share,
)
from training.distill.config import DistillConfig
from training.distill.data import dataset_split
from training.distill.recipe import run
from vision.labels import CLASS_ORDER

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train the shipped model: an ImageNet-pretrained EfficientNet-Lite0 teacher distilled "
        "into liteconv, on cached augmented views with synthetic 'none' scenes."
    )
    d = DistillConfig(datasets=[])
    parser.add_argument("datasets", nargs="+", help="dataset folders to train on")
    parser.add_argument(
        "--cross",
        nargs="*",
        default=[],
        metavar="DATA",
        help="datasets only tested on (cross-domain accuracy)",
    )
    parser.add_argument("--out", default=d.out, help="output folder (default %(default)s)")
    parser.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="export the student to ncnn here when done (e.g. assets/models), "
        "with a parity check and a compact PyTorch copy for fine-tuning",
    )
    parser.add_argument(
        "--input-size", type=positive_int, nargs=2, default=d.input_size, metavar=("H", "W"),
        help="student's input, height and width (default 160 160)",
    )  # fmt: skip
    counts = ("teacher_size", "views", "teacher_epochs", "epochs", "batch_size")
    types = {name: positive_int for name in counts}
    types |= {"teacher_frozen": non_negative_int, "seed": non_negative_int}
    types |= {"lr": positive_float, "temperature": positive_float}
    types |= {"weight_decay": non_negative_float}
    types |= {"none_fraction": share, "alpha": fraction, "label_smoothing": fraction}
    types |= {"mixup": non_negative_float}
    helps = {
        "teacher_size": "teacher's input side in pixels",
        "views": "augmented views cached per training photo",
        "teacher_epochs": "epochs of the teacher's late blocks on cached trunk features",
        "epochs": "student epochs over the cached views",
        "batch_size": "student batch size",
        "teacher_frozen": "EfficientNet-Lite0 blocks (of 16) kept as on ImageNet",
        "seed": "seed of splits, views and training",
        "lr": "student's peak learning rate (cosine decay)",
        "temperature": "softening of both distributions in the distillation loss",
        "weight_decay": "student's weight decay",
        "none_fraction": "share of synthetic no-hand scenes among the views",
        "alpha": "weight of the teacher's soft targets; 0 trains on hard labels only, no teacher",
        "label_smoothing": "label smoothing of the hard-label loss",
        "mixup": "Beta(N, N) mixup of view pairs with their labels and soft targets; 0 is off",
    }
    for name, kind in types.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=getattr(d, name),
            metavar="N",
            help=helps[name] + " (default %(default)s)",
        )
    # fmt: skip


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    names = {f for f in DistillConfig.__dataclass_fields__}
    cfg = DistillConfig(**{k: v for k, v in vars(args).items() if k in names})
    if not 0 <= cfg.teacher_frozen <= 16:
        print("error: --teacher-frozen counts EfficientNet-Lite0 blocks: give 0 to 16",
              file=sys.stderr)  # fmt: skip
        return 2
    for root in [*cfg.datasets, *cfg.cross]:
        if not Path(root).is_dir():
            print(f"error: dataset folder {root} does not exist: pass folders of class folders "
                  "(rock/ paper/ scissors/ [none/] or 0/ 1/ 2/ [3/])", file=sys.stderr)  # fmt: skip
            return 2
    result = run(cfg)
    if args.export:
        export_shipped(Path(cfg.out) / "model.pt", Path(args.export), cfg, result)
    return 0


def export_shipped(checkpoint: Path, out_dir: Path, cfg: DistillConfig, result: dict) -> Path:
    """ncnn model + metadata (parity-checked on real test photos) and ``model.pt`` for fine-tuning.

    ``model.pt`` holds the student's weights for fine-tuning, compacted to int8 with per-channel
    scales (``compact_state_dict``) so that the model folder stays under 5 MB; ``personalize``
    expands them back to float32.
    """
    import torch

    from training.checkpoint import save_checkpoint
    from training.export import compact_state_dict, export_checkpoint

    tests = [dataset_split(root, cfg.seed)[1] for root in cfg.datasets]
    probe = [path for items in tests for path, _ in items[:: max(1, len(items) // 32)]]
    bookkeeping = ("epoch", "loss", "lr", "seconds")
    student = {k: v for k, v in result["student"].items() if k not in bookkeeping}
    data = {
        "datasets": [Path(d).name for d in cfg.datasets],
        "train_images": result["train_images"],
        "synthetic_none": result["synthetic_none"],
        "views": result["views"],
        "teacher": f"EfficientNet-Lite0 (ImageNet), blocks {cfg.teacher_frozen}-15 fine-tuned"
        if cfg.alpha > 0
        else "none (hard labels only)",
    }
    meta_path = export_checkpoint(checkpoint, out_dir, probe, accuracy=student, data=data)
    ckpt = torch.load(checkpoint, weights_only=True)
    tensors, scales = compact_state_dict(ckpt["model"])
    compact = {
        "model": tensors,
        "scales": scales,
        "model_name": ckpt["model_name"],
        "input_size": ckpt["input_size"],
        "preprocessing": ckpt["preprocessing"],
        "classes": [g.value for g in CLASS_ORDER],
    }
    save_checkpoint(compact, out_dir / "model.pt")
    log.info("exported %s and %s", meta_path, out_dir / "model.pt")
    return meta_path
