"""Training: ``train(config, train_items, test_items) -> TrainResult`` (the loop itself is
``training.loop``, the checkpoints ``training.checkpoint``).

One checkpoint per epoch (``last.pt``, and ``best.pt`` when test accuracy improved), written to a
temporary file and moved into place, so a killed run loses at most the epoch in progress and never
leaves a broken checkpoint. Every epoch draws its shuffling and augmentation from ``seed + epoch``,
so ``--resume`` gives the same weights as an uninterrupted run. CPU by default, the GPU when there
is one, DDP under ``torchrun`` (only rank 0 writes).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from training.augment import Augmenter
from training.checkpoint import (
    BEST,
    CHECKPOINT_FORMAT,
    LAST,
    load_checkpoint,
    load_init_weights,
    save_checkpoint,
)
from training.config import TrainConfig
from training.data import (
    UNLABELLED,
    GestureDataset,
    Item,
    counts_text,
    drop_unreadable,
    label_counts,
)
from training.loop import LossFn, evaluate, train_one_epoch
from training.models import build_model
from vision.errors import ConfigError
from vision.labels import CLASS_ORDER
from vision.paths import atomic_write_text
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)

HISTORY_JSON, HISTORY_CSV = "history.json", "history.csv"


__all__ = ["TrainConfig", "TrainResult", "empty_class_warnings", "train"]


@dataclass
class TrainResult:
    model: nn.Module  # the final weights (CPU, eval mode)
    out_dir: Path
    best_acc: float | None
    best_epoch: int | None
    history: list[dict] = field(default_factory=list)

    @property
    def last_checkpoint(self) -> Path:
        return self.out_dir / LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.out_dir / BEST


# --- devices and processes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def dist_from_env() -> Dist:
    """The process's place in a ``torchrun`` job (a single process without one)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Dist(int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no GPU is available: use --device cpu")
    return device


def _worker_init(_worker_id: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


# --- the run -----------------------------------------------------------------------------------


def _write_history(out: Path, history: list[dict]) -> None:
    atomic_write_text(out / HISTORY_JSON, json.dumps(history, indent=1) + "\n")
    if history:
        with open(out / HISTORY_CSV, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)


def _resume_path(config: TrainConfig) -> Path:
    path = Path(config.out) / LAST if config.resume == "auto" else Path(config.resume)
    if not path.is_file():
        raise ConfigError(f"nothing to resume: {path} does not exist (drop --resume to start over)")
    return path


def _train_loader(dataset, config: TrainConfig, d: Dist, epoch: int, device) -> DataLoader:
    drop_last = len(dataset) > config.batch_size * d.world_size  # no 1-sample BatchNorm batches
    if d.enabled:
        sampler = DistributedSampler(
            dataset, d.world_size, d.rank, shuffle=True, seed=config.seed, drop_last=drop_last
        )
        sampler.set_epoch(epoch)
    else:
        gen = torch.Generator().manual_seed(config.seed + epoch)
        sampler = RandomSampler(dataset, generator=gen)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        worker_init_fn=_worker_init if config.workers else None,
        drop_last=drop_last,
        pin_memory=device.type == "cuda",
    )


def empty_class_warnings(counts: dict[str, int]) -> list[str]:
    """What a model trained on these class counts can never do, one sentence per empty class."""
    out = []
    for name, n in counts.items():
        if n:
            continue
        if name == "none":
            out.append(
                "no 'none' images (empty scenes) in the training data: the model can never say "
                "'no hand' and will call an empty scene rock, paper or scissors; add a none/ "
                "folder of photos without a hand"
            )
        else:
            out.append(
                f"no '{name}' images in the training data: the model can never read {name}; "
                f"add a {name}/ folder"
            )
    return out


def train(
    config: TrainConfig,
    train_items: Sequence[Item],
    test_items: Sequence[Item],
    *,
    extra_train_items: Sequence[Item] | None = None,
    loss_fn: LossFn | None = None,
    model: nn.Module | None = None,
    data_info: dict | list | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``train_items`` (+ ``extra_train_items``), testing every epoch.

    Items are ``(path or BGR array, numeric label)``; ``UNLABELLED`` (-1) labels are allowed with
    a ``loss_fn`` that does not need them. ``model`` replaces the freshly built network (its
    architecture must still be ``config.model``). ``data_info`` is stored in the checkpoints.
    """
    d = dist_from_env()
    own_group, device, out = _start(config, d)
    spec = Preprocessing(input_size=config.input_size, resize=config.resize)

    train_set, test_loader, counts = _datasets(
        config, spec, train_items, test_items, extra_train_items, d.main
    )
    torch.manual_seed(config.seed)
    net = model if model is not None else build_model(config.model, dropout=config.dropout)
    if config.init_from and not config.resume:
        load_init_weights(net, config.init_from)
    net.to(device)
    optimizer, scheduler, loss_fn = _recipe_parts(net, config, loss_fn)

    start, best_acc, best_epoch, history = 0, None, None, []
    if config.resume:
        start, best_acc, best_epoch, history = _resume(
            config, spec, net, optimizer, scheduler, device
        )
    saver = _Saver(out, config, spec, data_info, counts)
    ddp = (
        nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
        if d.enabled
        else net
    )

    for epoch in range(start, config.epochs):
        t0 = time.monotonic()
        torch.manual_seed(config.seed + epoch)  # dropout and anything else drawn from torch
        train_set.set_epoch(epoch)
        loader = _train_loader(train_set, config, d, epoch, device)
        lr = optimizer.param_groups[0]["lr"]
        stats = train_one_epoch(
            ddp,
            loader,
            optimizer,
            device,
            loss_fn,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            progress=config.progress and d.main,
        )
        scheduler.step()
        if d.enabled:
            dist.barrier()
        if not d.main:
            continue
        test = evaluate(net, test_loader, device) if test_loader else None
        test_acc = test["acc"] if test else None
        row = _epoch_row(epoch, stats, lr, test, time.monotonic() - t0)
        history.append(row)
        improved = test_acc is None or best_acc is None or test_acc > best_acc
        if improved:
            best_acc, best_epoch = test_acc, epoch + 1
        _log_epoch(row, config.epochs, stats, test_acc)
        saver.save(net, optimizer, scheduler, epoch + 1, (best_acc, best_epoch, test_acc), history,
                   best=improved)  # fmt: skip
    if d.enabled:
        dist.barrier()
    if own_group:
        dist.destroy_process_group()
    return TrainResult(net.cpu().eval(), out, best_acc, best_epoch, history)


@dataclass
class _Saver:
    """Rank 0's checkpoints: ``last.pt`` every epoch, ``best.pt`` when the test accuracy
    improved, and the history beside them."""

    out: Path
    config: TrainConfig
    spec: Preprocessing
    data_info: dict | list | None
    counts: dict

    def save(self, net, optimizer, scheduler, epoch: int, scores: tuple, history, best: bool):
        best_acc, best_epoch, test_acc = scores
        state = {
            "format": CHECKPOINT_FORMAT,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "best_acc": best_acc,
            "best_epoch": best_epoch,
            "test_acc": test_acc,
            **_recipe(self.config, self.spec),
            "history": history,
            "data": self.data_info,
            "train_counts": self.counts,
        }
        save_checkpoint(state, self.out / LAST)
        if best:
            save_checkpoint(state, self.out / BEST)
        _write_history(self.out, history)


def _start(config: TrainConfig, d: Dist) -> tuple[bool, torch.device, Path]:
    """The process group (when this process starts one under torchrun), the device, and the
    output folder (made by rank 0)."""
    own_group = d.enabled and not dist.is_initialized()
    if own_group:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = resolve_device(config.device, d.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    out = Path(config.out)
    if d.main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the output folder {out}: {exc}") from exc
    return own_group, device, out


def _recipe_parts(net: nn.Module, config: TrainConfig, loss_fn: LossFn | None):
    """The write-up's SGD with momentum, its multistep schedule, and the loss (cross-entropy
    with label smoothing that skips ``UNLABELLED``, unless ``loss_fn`` replaces it)."""
    optimizer = torch.optim.SGD(
        net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, list(config.milestones), config.gamma
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, ignore_index=UNLABELLED)
    return (
        optimizer,
        scheduler,
        loss_fn or (lambda logits, _images, labels: criterion(logits, labels)),
    )


def _epoch_row(epoch: int, stats: dict, lr: float, test: dict | None, seconds: float) -> dict:
    """An epoch's line of the history (``history.json`` / ``.csv``)."""
    return {
        "epoch": epoch + 1,
        "train_loss": round(stats["loss"], 6),
        "train_acc": round(stats["acc"], 6),
        "lr": lr,
        "test_loss": round(test["loss"], 6) if test else None,
        "test_acc": round(test["acc"], 6) if test else None,
        "seconds": round(seconds, 2),
    }


def _datasets(config, spec, train_items, test_items, extra_train_items, main: bool):
    """The training set (augmented), the test loader (rank 0 only) and the class counts; the
    unreadable images dropped with a warning, empty classes warned about."""
    train_items = drop_unreadable(list(train_items)) + list(extra_train_items or [])
    test_items = drop_unreadable(list(test_items))
    if not train_items:
        raise ConfigError("no training images: check the dataset and its train list")
    counts = label_counts(train_items)
    log.info("training on %d images (%s), testing on %d", len(train_items), counts_text(counts),
             len(test_items))  # fmt: skip
    for warning in empty_class_warnings(counts):
        log.warning("warning: %s", warning)
    augment = Augmenter(spec, config.augment, config.background_p)
    train_set = GestureDataset(train_items, spec, augment, seed=config.seed)
    test_loader = None
    if test_items and main:
        test_set = GestureDataset(test_items, spec, cache=True)
        test_loader = DataLoader(test_set, batch_size=config.batch_size * 2)
    return train_set, test_loader, counts


def _resume(config, spec, net, optimizer, scheduler, device) -> tuple[int, float, int, list]:
    """Load ``--resume``'s checkpoint into the network, optimizer and scheduler; returns the
    epoch it ended, the best accuracy and its epoch, and the history."""
    path = _resume_path(config)
    ckpt = load_checkpoint(path, map_location=device)
    name, size = ckpt["model_name"], list(ckpt["input_size"])
    if name != config.model or size != list(spec.input_size):
        raise ConfigError(
            f"{path} was trained as {name} at {size}: resume with "
            f"--model {name} --input-size {size[0]} {size[1]}"
        )
    net.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    log.info("resuming %s after epoch %d", path, ckpt["epoch"])
    return ckpt["epoch"], ckpt["best_acc"], ckpt["best_epoch"], list(ckpt.get("history", []))


def _recipe(config: TrainConfig, spec: Preprocessing) -> dict:
    """What a checkpoint records of how its network was built and fed."""
    return {
        "config": config.to_dict(),
        "model_name": config.model,
        "input_size": list(spec.input_size),
        "preprocessing": spec.to_metadata(),
        "classes": [g.value for g in CLASS_ORDER],
    }


def _log_epoch(row: dict, epochs: int, stats: dict, test_acc: float | None) -> None:
    log.info(
        "epoch %d/%d  loss %.4f  train acc %.3f  lr %.2g  test acc %s  (%.0f s)",
        row["epoch"], epochs, stats["loss"], stats["acc"], row["lr"],
        "-" if test_acc is None else f"{test_acc:.4f}", row["seconds"],
    )  # fmt: skip
