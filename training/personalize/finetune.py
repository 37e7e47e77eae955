"""The CNN's fine-tuning on the captures: the base checkpoint, the frozen parts, the loop, and
the before/after confusion plot (PyTorch; imported only by the kinds that need it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training import data as datasets
from training.evaluate import predict_classes
from vision import paths
from vision.errors import ModelError
from vision.labels import CLASS_ORDER, Gesture
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)


DEFAULT_EPOCHS = 40  # 43 s on 2 cores for 50 images per class; 12 gave 0.88 vs 0.91 on rps-sxsw
DEFAULT_LR = 0.01
DEFAULT_BATCH_SIZE = 32
#: Leading parts of the network kept frozen while fine-tuning (faster; keeps general features).
FROZEN_PARTS = ("conv1", "stage2")
#: The network's parts in order (what ``--freeze`` accepts).
PARTS = ("conv1", "stage2", "stage3", "stage4", "conv5")
#: The shipped model's PyTorch weights, the starting point of every personalisation.
BASE_CHECKPOINT = paths.SHIPPED_MODEL_DIR / "model.pt"
REPORT_NAME = "personalization.json"
PLOT_NAME = "confusion_before_after.png"


def require_base_checkpoint(path: str | Path) -> Path:
    """``path``, or a clear error where it is missing (checked before any capture is read)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"no base model at {path}: the shipped model's PyTorch weights are missing; "
            "reinstall the project or pass --base-checkpoint PATH"
        )
    return path


def load_base_checkpoint(path: str | Path = BASE_CHECKPOINT):
    """The shipped model as ``(float32 torch model, Preprocessing, checkpoint info)``.

    The checkpoint is ``{"model": state_dict, "model_name", "input_size": [h, w],
    "preprocessing": {...}}`` (fp32 or fp16 weights, or int8 ones with per-channel ``"scales"``
    as ``training.export.compact_state_dict`` writes them), loaded with ``weights_only=True``.
    """
    import torch

    from training.export import expand_state_dict
    from training.models import build_model

    path = require_base_checkpoint(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["model"]
    except Exception as exc:  # a corrupt or foreign file: say which and what to do
        raise ModelError(f"{path} is not a model checkpoint ({exc}): pass another one") from exc
    classes = ckpt.get("classes")
    if classes is not None and [Gesture.parse(c) for c in classes] != list(CLASS_ORDER):
        raise ModelError(f"{path} has classes {classes}, expected {[g.value for g in CLASS_ORDER]}")
    name = ckpt.get("model_name") or ckpt.get("config", {}).get("model") or "liteconv"
    model = build_model(name, num_classes=len(CLASS_ORDER))
    state = expand_state_dict(state, ckpt.get("scales"))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{path} does not fit the {name} network: {exc}") from exc
    meta = {**Preprocessing().to_metadata(), **(ckpt.get("preprocessing") or {})}
    if ckpt.get("input_size"):
        meta["input_size"] = list(ckpt["input_size"])
    spec = Preprocessing.from_metadata(meta)
    info = {"path": str(path), "model_name": name}
    return model.float().eval(), spec, info


def _freeze(model, parts: Sequence[str]) -> list:
    """Freeze the named top-level parts; returns the frozen modules (kept in eval mode)."""
    frozen = [getattr(model, name) for name in parts]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return frozen


def predict(model, images: Sequence[np.ndarray], spec: Preprocessing, batch_size: int = 64):
    """Predicted class indices for BGR images (prepared the run-time way)."""
    return predict_classes(model, images, spec, batch_size)


def fine_tune(
    model,
    images: Sequence[np.ndarray],
    labels: Sequence[int],
    spec: Preprocessing,
    *,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    frozen: Sequence[str] = FROZEN_PARTS,
    augment: str = "light",
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Fine-tune ``model`` in place on cached BGR images; returns the mean loss of each epoch.

    Early parts stay frozen (BatchNorm statistics too), the rest trains with SGD and a cosine
    learning rate; the loss weighs classes by inverse frequency, so uneven captures are fair.
    """
    import torch
    from tqdm import tqdm

    from training.augment import Augmenter
    from training.loop import train_one_epoch

    augmenter = Augmenter(spec, augment) if augment != "none" else None
    dataset = datasets.GestureDataset(
        list(zip(images, labels, strict=True)), spec, augmenter, seed=seed
    )
    frozen_modules = _freeze(model, frozen)
    steps_per_epoch = max(1, -(-len(dataset) // batch_size))
    total = epochs * steps_per_epoch
    optimizer, scheduler = _cosine_sgd(model, lr, total)
    loss_fn = _class_weighted_loss(labels)
    rng = np.random.default_rng(seed)
    losses = []
    log.info(
        "fine-tuning on %d images: %d epochs of %d steps, %s frozen",
        len(dataset), epochs, steps_per_epoch, ", ".join(frozen) or "nothing",
    )  # fmt: skip
    # the bar shows the time left; it turns itself off when stderr is not a terminal (logs),
    # and then one line an epoch gives the time left instead
    bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=None if progress else True)
    started = time.perf_counter()
    try:
        for epoch in range(epochs):
            dataset.set_epoch(epoch)
            stats = train_one_epoch(
                model, _batches(dataset, rng.permutation(len(dataset)), batch_size), optimizer,
                torch.device("cpu"), lambda logits, _images, y: loss_fn(logits, y),
                scheduler=scheduler, frozen=frozen_modules, bar=bar,
                on_step=lambda _step, _seen, _mean, loss, e=epoch: bar.set_postfix(
                    epoch=f"{e + 1}/{epochs}", loss=f"{loss:.3f}"
                ),
            )  # fmt: skip
            losses.append(stats["loss"])
            elapsed = time.perf_counter() - started
            left = elapsed / (epoch + 1) * (epochs - epoch - 1)
            (log.debug if not bar.disable else log.info)(
                "epoch %d/%d: loss %.4f, %s so far, about %s left",
                epoch + 1, epochs, losses[-1], format_minutes(elapsed), format_minutes(left),
            )  # fmt: skip
    finally:
        bar.close()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return losses


def _cosine_sgd(model, lr: float, total: int):
    """SGD (Nesterov momentum) on the parts that train, its learning rate falling along a cosine
    to 0 over ``total`` steps."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4, nesterov=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + np.cos(np.pi * min(step, total) / total))
    )
    return optimizer, scheduler


def _class_weighted_loss(labels: Sequence[int]):
    """Cross-entropy (label smoothing 0.1) weighing classes by inverse frequency, so uneven
    captures are fair; a class without captures weighs nothing."""
    import torch

    counts = np.bincount(np.asarray(labels, int), minlength=len(CLASS_ORDER)).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(CLASS_ORDER), 0.0)
    return torch.nn.CrossEntropyLoss(
        weight=torch.tensor(weights, dtype=torch.float32), label_smoothing=0.1
    )


def _batches(dataset, order: np.ndarray, batch_size: int):
    """``(images, labels)`` tensors of the items in ``order``, ``batch_size`` at a time."""
    import torch

    for start in range(0, len(order), batch_size):
        batch = [dataset[int(i)] for i in order[start : start + batch_size]]
        yield torch.from_numpy(np.stack([b[0] for b in batch])), torch.tensor([b[1] for b in batch])


def plot_before_after(
    before: np.ndarray,
    after: np.ndarray,
    path: str | Path,
    note: str = "",
    titles: tuple[str, str] = ("model in use", "personalised"),
) -> Path | None:
    """Save the two confusion matrices side by side as a PNG; None (and nothing saved)
    without matplotlib (the Pi's install: the report holds both matrices)."""
    try:
        import matplotlib
    except ImportError:
        log.info("no matplotlib here: no confusion plot (%s has both matrices)", REPORT_NAME)
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [g.value for g in CLASS_ORDER]
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.6), constrained_layout=True)
    for ax, matrix, title in zip(axes, (before, after), titles, strict=True):
        total = matrix.sum()
        acc = np.trace(matrix) / total if total else 0.0
        rows = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
        ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        for (r, c), v in np.ndenumerate(matrix):
            colour = "white" if rows[r, c] > 0.5 else "black"
            ax.text(c, r, str(v), ha="center", va="center", color=colour)
        ax.set_xticks(range(len(names)), names)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: accuracy {acc:.2f} ({np.trace(matrix)}/{total})")
    if note:
        fig.suptitle(note)
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"
