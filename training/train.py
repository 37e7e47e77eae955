"""Training: ``train(config, train_items, test_items) -> TrainResult``.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from training.augment import Augmenter
from training.config import TrainConfig
from training.data import (
    UNLABELLED,
    GestureDataset,
    Item,
    counts_text,
    drop_unreadable,
    label_counts,
)
from training.models import build_model
from vision.errors import ConfigError, ModelError
from vision.labels import CLASS_ORDER
from vision.paths import atomic_write, atomic_write_text
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "rps-robot-checkpoint/1"
LAST, BEST = "last.pt", "best.pt"
HISTORY_JSON, HISTORY_CSV = "history.json", "history.csv"

#: ``loss_fn(logits, images, labels) -> scalar``: replaces cross-entropy (e.g. distillation).
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

__all__ = [
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_checkpoint",
    "model_from_checkpoint",
    "train",
    "train_one_epoch",
]


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


# --- checkpoints -------------------------------------------------------------------------------


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write to a temporary file beside ``path`` and move it into place (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint dict, loaded with ``weights_only=True``; ``ModelError`` if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for a broken file
        raise ModelError(f"{path} is not a readable checkpoint: {exc}") from exc
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_name" not in ckpt:
        raise ModelError(
            f"{path} is not a training checkpoint (python -m training train writes one)"
        )
    return ckpt


def model_from_checkpoint(ckpt: dict | str | Path) -> tuple[nn.Module, Preprocessing]:
    """The network (CPU, eval mode) and its preprocessing, from a checkpoint dict or path."""
    if not isinstance(ckpt, dict):
        ckpt = load_checkpoint(ckpt)
    dropout = float(ckpt.get("config", {}).get("dropout", 0.0))
    model = build_model(ckpt["model_name"], num_classes=len(CLASS_ORDER), dropout=dropout)
    model.load_state_dict(ckpt["model"])
    return model.eval(), Preprocessing.from_metadata(ckpt["preprocessing"])


def _load_init_weights(model: nn.Module, path: str | Path) -> None:
    state = load_checkpoint(path)["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConfigError(f"--init-from {path} does not fit this model: {exc}") from exc
    log.info("initialised weights from %s", path)


# --- one epoch ---------------------------------------------------------------------------------


def train_one_epoch(
    model: nn.Module,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    loss_fn: LossFn,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    frozen: Sequence[nn.Module] = (),
    desc: str = "train",
    progress: bool = True,
    bar=None,
    on_step: Callable[[int, int, float, float], object] | None = None,
) -> dict:
    """One pass of SGD steps over ``batches``; returns the mean loss and accuracy on the labelled
    samples. Every recipe trains through it: ``train`` (a ``DataLoader``, the scheduler stepped
    per epoch by the caller), personalisation's fine-tuning and distillation's student.

    ``batches`` yields ``(images, labels, ...)``; ``labels`` is a tensor of class indices
    (``UNLABELLED`` ones are not counted in the accuracy) or whatever ``loss_fn(logits, images,
    labels)`` reads (distillation's soft targets and mixup: the accuracy is then nan).
    ``scheduler`` steps after every batch (per-step schedules); ``frozen`` modules stay in eval
    mode (their BatchNorm statistics too). Progress: its own bar over ``batches`` (``desc``,
    shown on a terminal when ``progress``), or a caller's ``bar`` advanced one a step;
    ``on_step(step, seen, mean_loss, loss)`` after every step.
    """
    from tqdm import tqdm

    model.train()
    for module in frozen:
        module.eval()
    total_loss, seen, correct, labelled = 0.0, 0, 0, 0
    own_bar = bar is None
    if own_bar:  # on a terminal only: in a log or a pipe its redraws are noise (disable=None)
        off = None if progress else True
        bar = tqdm(batches, desc=desc, leave=False, disable=off, unit="batch")
    for step, batch in enumerate(bar if own_bar else batches):
        images, labels = batch[0].to(device, non_blocking=True), _to_device(batch[1], device)
        logits = model(images)
        loss = loss_fn(logits, images, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n, step_loss = images.shape[0], float(loss.detach())
        total_loss += step_loss * n
        seen += n
        if isinstance(labels, torch.Tensor):
            mask = labels != UNLABELLED
            labelled += int(mask.sum())
            correct += int((logits.detach().argmax(1)[mask] == labels[mask]).sum())
        if own_bar:
            bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        else:
            bar.update(1)
        if on_step is not None:
            on_step(step, seen, total_loss / seen, step_loss)
    return {
        "loss": total_loss / max(seen, 1),
        "acc": correct / labelled if labelled else float("nan"),
    }


def _to_device(labels, device: torch.device):
    """Labels, or a tuple holding tensors (distillation's targets), on ``device``."""
    if isinstance(labels, torch.Tensor):
        return labels.to(device)
    if isinstance(labels, tuple):
        return tuple(_to_device(v, device) for v in labels)
    return labels


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> dict:
    """Loss, accuracy, softmax probabilities and labels over ``loader``."""
    model.eval()
    probs, labels, total_loss = [], [], 0.0
    for batch in loader:
        x, y = batch[0].to(device), batch[1].to(device)
        logits = model(x)
        total_loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        probs.append(torch.softmax(logits.float(), 1).cpu())
        labels.append(y.cpu())
    if not probs:
        return {"loss": float("nan"), "acc": float("nan"), "probs": np.zeros((0, 4)), "labels": []}
    p, y = torch.cat(probs).numpy(), torch.cat(labels).numpy()
    return {
        "loss": total_loss / len(y),
        "acc": float((p.argmax(1) == y).mean()),
        "probs": p,
        "labels": y,
    }


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
    spec = Preprocessing(input_size=config.input_size, resize=config.resize)

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
    if test_items and d.main:
        test_set = GestureDataset(test_items, spec, cache=True)
        test_loader = DataLoader(test_set, batch_size=config.batch_size * 2)

    torch.manual_seed(config.seed)
    net = model if model is not None else build_model(config.model, dropout=config.dropout)
    if config.init_from and not config.resume:
        _load_init_weights(net, config.init_from)
    net.to(device)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, list(config.milestones), config.gamma
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, ignore_index=UNLABELLED)
    loss_fn = loss_fn or (lambda logits, _images, labels: criterion(logits, labels))

    start, best_acc, best_epoch, history = 0, None, None, []
    if config.resume:
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
        start, best_acc, best_epoch = ckpt["epoch"], ckpt["best_acc"], ckpt["best_epoch"]
        history = list(ckpt.get("history", []))
        log.info("resuming %s after epoch %d", path, start)
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
        row = {
            "epoch": epoch + 1,
            "train_loss": round(stats["loss"], 6),
            "train_acc": round(stats["acc"], 6),
            "lr": lr,
            "test_loss": round(test["loss"], 6) if test else None,
            "test_acc": round(test_acc, 6) if test else None,
            "seconds": round(time.monotonic() - t0, 2),
        }
        history.append(row)
        improved = test_acc is None or best_acc is None or test_acc > best_acc
        if improved:
            best_acc, best_epoch = test_acc, epoch + 1
        log.info(
            "epoch %d/%d  loss %.4f  train acc %.3f  lr %.2g  test acc %s  (%.0f s)",
            epoch + 1,
            config.epochs,
            stats["loss"],
            stats["acc"],
            lr,
            "-" if test_acc is None else f"{test_acc:.4f}",
            row["seconds"],
        )
        state = {
            "format": CHECKPOINT_FORMAT,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch + 1,
            "best_acc": best_acc,
            "best_epoch": best_epoch,
            "test_acc": test_acc,
            "config": config.to_dict(),
            "model_name": config.model,
            "input_size": list(spec.input_size),
            "preprocessing": spec.to_metadata(),
            "classes": [g.value for g in CLASS_ORDER],
            "history": history,
            "data": data_info,
            "train_counts": counts,
        }
        save_checkpoint(state, out / LAST)
        if improved:
            save_checkpoint(state, out / BEST)
        _write_history(out, history)
    if d.enabled:
        dist.barrier()
    if own_group:
        dist.destroy_process_group()
    return TrainResult(net.cpu().eval(), out, best_acc, best_epoch, history)
