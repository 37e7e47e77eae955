"""The student: liteconv trained on the cached views with hard labels and the teacher's soft
targets (Hinton et al., 2015), through the one training loop (``training.loop``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from functools import partial
from pathlib import Path

import numpy as np

from training.distill.config import DistillConfig
from training.distill.data import to_tensor_batch
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)


def student_batches(views: np.ndarray, y_all, soft_all, spec: Preprocessing, cfg, rng):
    """One epoch of the student's batches: ``(images, (labels, soft targets, mixup weight,
    mixup partners))``, shuffled, half of them flipped, mixed up when ``cfg.mixup`` is set."""
    import torch
    import torch.nn.functional as F

    order = rng.permutation(len(views))
    for i in range(0, len(order), cfg.batch_size):
        idx = np.sort(order[i : i + cfg.batch_size])
        batch = views[idx]
        flip = rng.random(len(idx)) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        x = to_tensor_batch(batch, spec.mean, spec.norm)
        y, target = y_all[idx], F.softmax(soft_all[idx] / cfg.temperature, 1)
        lam, perm = 1.0, None
        if cfg.mixup > 0:  # blend pairs of views, and their labels and soft targets alike
            lam = float(rng.beta(cfg.mixup, cfg.mixup))
            perm = torch.from_numpy(rng.permutation(len(idx)))
            x = lam * x + (1 - lam) * x[perm]
            target = lam * target + (1 - lam) * target[perm]
        yield x, (y, target, lam, perm)


def student_loss(logits, _images, labels, cfg):
    """Hard labels (mixed up as the views were) and, at ``cfg.alpha``, the teacher's soft
    targets at temperature ``cfg.temperature``."""
    import torch.nn.functional as F

    y, target, lam, perm = labels
    hard = lam * F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    if perm is not None:
        hard = hard + (1 - lam) * F.cross_entropy(
            logits, y[perm], label_smoothing=cfg.label_smoothing
        )
    if cfg.alpha <= 0:
        return hard
    T = cfg.temperature
    kd = F.kl_div(F.log_softmax(logits / T, 1), target, reduction="batchmean")
    return cfg.alpha * kd * T * T + (1 - cfg.alpha) * hard


def train_student(views, labels, soft, cfg: DistillConfig, out: Path, evaluate_fn):
    import torch

    from training.checkpoint import save_checkpoint
    from training.loop import train_one_epoch
    from training.models import build_model

    torch.manual_seed(cfg.seed)
    model = build_model("liteconv")
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    steps_per_epoch = math.ceil(len(views) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    warm = steps_per_epoch // 2

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    spec = Preprocessing(input_size=cfg.input_size)
    start, history = 0, []
    last = out / "student_last.pt"
    if last.exists():
        ck = torch.load(last, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start, history = ck["epoch"], json.loads(ck["history"])
        log.info("resuming the student at epoch %d", start)
    y_all = torch.from_numpy(labels.astype(np.int64))
    soft_all = torch.from_numpy(soft.astype(np.float32))
    loss_fn = partial(student_loss, cfg=cfg)
    for epoch in range(start, cfg.epochs):
        t0 = time.time()

        def show(step: int, seen: int, mean: float, _loss: float, e=epoch, t0=t0) -> None:
            if step % 50 == 0:
                log.info("student epoch %d: %d/%d loss %.3f (%.0f img/s)", e + 1, seen,
                         len(views), mean, seen / (time.time() - t0))  # fmt: skip

        rng = np.random.default_rng([cfg.seed, epoch])
        batches = student_batches(views, y_all, soft_all, spec, cfg, rng)
        stats = train_one_epoch(model, batches, opt, torch.device("cpu"), loss_fn,
                                scheduler=sched, progress=False, on_step=show)  # fmt: skip
        scores = evaluate_fn(model)
        history.append({"epoch": epoch + 1, "loss": stats["loss"],
                        "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0),
                        **scores})  # fmt: skip
        log.info("student epoch %d done in %.0f s: %s", epoch + 1, time.time() - t0, history[-1])
        save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "epoch": epoch + 1,
                         "history": json.dumps(history)}, last)  # fmt: skip
    return model, history


def accuracy(predict, items_images, labels) -> float:
    preds = predict(items_images)
    return float(np.mean(np.asarray(preds) == np.asarray(labels))) if labels else float("nan")
