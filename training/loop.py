"""The one training loop and its evaluation: ``train_one_epoch`` and ``evaluate``, called by
every recipe (``training.train``, personalisation's fine-tuning, distillation's student and its
teacher's head, the landmark recogniser's gesture head), as torchvision's reference scripts
do."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from training.data import UNLABELLED

#: ``loss_fn(logits, images, labels) -> scalar``: replaces cross-entropy (e.g. distillation).
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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
