"""Evaluation: accuracy, per-class precision and recall, confusion matrix (text and PNG), curves.

A model is either a training checkpoint (run with PyTorch) or an exported ncnn model (run with
``vision.GestureClassifier``); both see images through ``vision.preprocess.prepare``, exactly as
at run time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data import Item, drop_unreadable, read_image, source_key
from vision.labels import CLASS_ORDER
from vision.preprocess import prepare, to_bgr

log = logging.getLogger(__name__)

NAMES = [g.value for g in CLASS_ORDER]


@dataclass(frozen=True)
class Report:
    confusion: np.ndarray  # rows: true class, columns: predicted class, in CLASS_ORDER

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.total) if self.total else float("nan")

    @property
    def support(self) -> dict[str, int]:
        return {n: int(s) for n, s in zip(NAMES, self.confusion.sum(1), strict=True)}

    @property
    def recall(self) -> dict[str, float | None]:
        rows = self.confusion.sum(1)
        return {
            n: (float(self.confusion[i, i] / rows[i]) if rows[i] else None)
            for i, n in enumerate(NAMES)
        }

    @property
    def precision(self) -> dict[str, float | None]:
        cols = self.confusion.sum(0)
        return {
            n: (float(self.confusion[i, i] / cols[i]) if cols[i] else None)
            for i, n in enumerate(NAMES)
        }

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy if self.total else None,  # JSON has no NaN
            "images": self.total,
            "precision": self.precision,
            "recall": self.recall,
            "support": self.support,
            "confusion": self.confusion.tolist(),
            "classes": NAMES,
        }


def compute_report(labels: Sequence[int], preds: Sequence[int]) -> Report:
    cm = np.zeros((len(NAMES), len(NAMES)), np.int64)
    for t, p in zip(labels, preds, strict=True):
        cm[int(t), int(p)] += 1
    return Report(cm)


def format_report(report: Report, title: str = "") -> str:
    """Accuracy, a per-class table and the confusion matrix as text."""

    def pct(v: float | None) -> str:
        return "   -  " if v is None else f"{v:6.3f}"

    if not report.total:
        return f"{title}no test images, so no accuracy (check the dataset's test list)"
    lines = [f"{title}accuracy {report.accuracy:.4f} on {report.total} images", ""]
    lines.append(f"{'class':<10}{'precision':>10}{'recall':>10}{'images':>8}")
    for n in NAMES:
        lines.append(
            f"{n:<10}{pct(report.precision[n]):>10}{pct(report.recall[n]):>10}"
            f"{report.support[n]:>8}"
        )
    lines += ["", "confusion (rows: true, columns: predicted)"]
    lines.append(" " * 10 + "".join(f"{n:>10}" for n in NAMES))
    for i, n in enumerate(NAMES):
        lines.append(f"{n:<10}" + "".join(f"{int(v):>10}" for v in report.confusion[i]))
    return "\n".join(lines)


# --- plots -------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_confusion_png(report: Report, path: str | Path, title: str = "") -> Path:
    """The confusion matrix with counts and row-normalised shading."""
    return _save(confusion_figure(report, title), path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    _pyplot().close(fig)
    return path


def confusion_figure(report: Report, title: str = ""):
    """The confusion matrix as a matplotlib figure; a class without images reads "n/a"."""
    plt = _pyplot()
    cm = report.confusion
    rows = cm.sum(1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=120)
    shown = np.ma.masked_array(share, np.broadcast_to(rows == 0, share.shape))
    cmap = plt.get_cmap("Blues").with_extremes(bad="#e6e6e6")  # no test images: grey, not 0%
    ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            colour = "white" if share[i, j] > 0.6 else "black"
            text = f"{cm[i, j]}\n{share[i, j]:.0%}" if rows[i, 0] else "n/a"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(len(NAMES)), NAMES)
    ax.set_yticks(range(len(NAMES)), [n if rows[i, 0] else f"{n}\n(no images)"
                                      for i, n in enumerate(NAMES)])  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}accuracy {report.accuracy:.3f} ({report.total} images)", fontsize=10)
    fig.tight_layout()
    return fig


def save_curves_png(history: Sequence[dict], path: str | Path) -> Path:
    """Training loss, test loss, accuracies and learning rate per epoch."""
    return _save(curves_figure(history), path)


def curves_figure(history: Sequence[dict]):
    """The training curves as a matplotlib figure, with whole-number epoch ticks."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]

    def series(key: str) -> list[float]:
        return [np.nan if r.get(key) is None else r[key] for r in history]

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    ax_loss.plot(epochs, series("train_loss"), label="train loss")
    ax_loss.plot(epochs, series("test_loss"), label="test loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend(loc="upper right")
    ax_lr = ax_loss.twinx()
    ax_lr.plot(epochs, series("lr"), color="grey", linestyle=":", label="lr")
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate (dotted)")
    ax_acc.plot(epochs, series("train_acc"), label="train accuracy (augmented)")
    ax_acc.plot(epochs, series("test_acc"), label="test accuracy")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylim(0, 1)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc):  # epochs are whole numbers: no "0.5" ticks
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    return fig


# --- predictors --------------------------------------------------------------------------------


class CheckpointPredictor:
    """``probs(images)`` of a training checkpoint, run with PyTorch on the CPU."""

    def __init__(self, checkpoint: str | Path):
        from training.checkpoint import load_checkpoint, model_from_checkpoint

        self.checkpoint = load_checkpoint(checkpoint)
        self.model, self.spec = model_from_checkpoint(self.checkpoint)
        self.name = str(checkpoint)

    def probs(self, images: Sequence[np.ndarray]) -> np.ndarray:
        from training.export import torch_probs

        return torch_probs(self.model, np.stack([prepare(img, self.spec) for img in images]))


class NcnnPredictor:
    """``probs(images)`` of an exported model, run with ncnn as on the robot."""

    def __init__(self, model_dir: str | Path, threads: int = 2):
        from vision.classifier import GestureClassifier

        self.classifier = GestureClassifier(model_dir, threads=threads)
        order = [g.value for g in self.classifier.classes]
        if order != NAMES:
            raise ValueError(f"{model_dir} has classes {order}; expected {NAMES}")
        self.spec = self.classifier.preprocessing
        self.name = str(model_dir)

    def probs(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self.classifier(img).probs for img in images])


def predict_probs(forward, images: Sequence[np.ndarray], spec, batch_size: int = 64) -> np.ndarray:
    """Class probabilities (N x classes) of a PyTorch ``forward`` (a model, or any callable from an
    input batch to logits) on BGR images, prepared exactly as at run time."""
    import torch

    if isinstance(forward, torch.nn.Module):
        forward.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = np.stack([prepare(img, spec) for img in images[i : i + batch_size]])
            probs.append(torch.softmax(forward(torch.from_numpy(x)).float(), 1).numpy())
    return np.concatenate(probs) if probs else np.zeros((0, len(NAMES)), np.float32)


def predict_classes(
    forward, images: Sequence[np.ndarray], spec, batch_size: int = 64
) -> np.ndarray:
    """Predicted class indices of ``forward`` on BGR images (see ``predict_probs``)."""
    return predict_probs(forward, images, spec, batch_size).argmax(1)


def predict(predictor, items: Sequence[Item], batch: int = 64) -> tuple[np.ndarray, list[Item]]:
    """Probabilities for the readable items (unreadable ones are skipped with a warning)."""
    items = drop_unreadable(items)
    out = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        images = [
            to_bgr(img) if isinstance(img, np.ndarray) else read_image(img) for img, _ in chunk
        ]
        out.append(predictor.probs(images))
    probs = np.concatenate(out) if out else np.zeros((0, len(NAMES)), np.float32)
    return probs, items


def evaluate_items(predictor, items: Sequence[Item]) -> tuple[Report, np.ndarray, list[Item]]:
    probs, kept = predict(predictor, items)
    return compute_report([lab for _, lab in kept], probs.argmax(1)), probs, kept


def shared_source(test_items: Sequence[Item], train_items: Sequence[Item]) -> list[bool]:
    """For each test item: does a training item come from the same source photo?"""
    train_keys = {source_key(p) for p, _ in train_items if not isinstance(p, np.ndarray)}
    return [not isinstance(p, np.ndarray) and source_key(p) in train_keys for p, _ in test_items]


def write_report_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
