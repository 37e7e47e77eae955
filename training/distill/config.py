"""The recipe's settings (``DistillConfig``), one dataclass the command line fills."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from vision.labels import Gesture

log = logging.getLogger(__name__)


NONE = Gesture.NONE.index


@dataclass
class DistillConfig:
    datasets: list[str]
    cross: list[str] = field(default_factory=list)
    out: str = "runs/distill"
    input_size: tuple[int, int] = (160, 160)
    teacher_size: int = 128
    views: int = 6
    none_fraction: float = 0.25
    teacher_frozen: int = 11  # EfficientNet-Lite0 blocks 0-10 stay as on ImageNet; 11-15 train
    teacher_epochs: int = 6
    epochs: int = 8
    batch_size: int = 96
    lr: float = 0.1
    weight_decay: float = 4e-5
    temperature: float = 3.0
    alpha: float = 0.6  # weight of the soft targets; 0 trains on hard labels alone, no teacher
    label_smoothing: float = 0.0
    mixup: float = 0.0  # Beta(m, m) weight of mixup between views and their targets; 0 is off
    seed: int = 0
    max_side: int = 320

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)
