"""Training checkpoints: written whole or not at all, read back with ``weights_only=True``.

A checkpoint is a dict (``CHECKPOINT_FORMAT``): the model's, optimizer's and scheduler's state,
the epoch, the best test accuracy so far, the recipe, the preprocessing and class names, the
history and the data it was trained on, so ``--resume`` continues and ``export`` needs nothing
else.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from training.models import build_model
from vision.errors import ConfigError, ModelError
from vision.labels import CLASS_ORDER
from vision.paths import atomic_write
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "rps-robot-checkpoint/1"
LAST, BEST = "last.pt", "best.pt"


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


def load_init_weights(model: nn.Module, path: str | Path) -> None:
    state = load_checkpoint(path)["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConfigError(f"--init-from {path} does not fit this model: {exc}") from exc
    log.info("initialised weights from %s", path)
