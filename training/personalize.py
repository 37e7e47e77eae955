"""Teach it your hand: personalise the gesture model on your own captures and install it.

``python -m training personalize DATA`` checks the captures in ``DATA`` (one folder per class, as
``python -m training collect`` writes them). The model in use reads every capture as the game
would: per class, how many it finds a hand in and reads right, with advice (hold the hand closer,
keep it in the box, more light, check the label), the worst few drawn in ``DATA-report.png``
beside the folder; where it confidently reads most of a class as another class, it stops before
training (check the label; ``--trust-labels`` goes on). It holds back the *last* captures of each
class (the latest fifth, in capture order): a random split would test on near-twins of the
training frames.
A recogniser kind (``--kind``: the fused default refits the landmark head and fine-tunes its
CNN part, ``landmarks`` refits the head alone in seconds, ``cnn`` fine-tunes the CNN from the
shipped weights) trains a candidate on the rest and exports it; the candidate and the model in
use now (the active personal model, else the shipped one) both read the held-back images as the
game reads a hand, and the candidate is installed only if it reads at least as many of them
right and at least ``ACCURACY_FLOOR`` (0.8) of them; a class it still cannot read is named. The
``fused`` and ``cnn`` kinds need PyTorch (``pip install -e ".[train]"``); without it the default
kind is ``landmarks`` (numpy, the Pi's install) and the others stop at once. The model it
replaces is kept as the previous one. ``--reset`` goes back to the shipped model, ``--rollback``
swaps the active and previous models. ``python -m training`` alone is a guided session: check the
camera, capture each class, then personalise.

Nothing the user captured is ever moved, changed or deleted, whatever happens; nothing is written
into the capture folder.

Exit status: 0 installed (or --reset/--rollback done), 2 the captures or the command need fixing
(the message says what to capture next; wrong labels; a kind this install cannot train), 3
trained but not installed (worse than the model in use on the held-back captures, or under the
floor), 130 interrupted, 143 SIGTERM (nothing half-written is left; a killed run's is removed by
the next run).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from training import data as datasets
from training.collect import (
    CAPTURE_ORDER,
    class_counts,
    default_data_dir,
    difference,
    format_counts,
    near_identical_warning,
    thumbnail,
)
from training.config import positive_float, positive_int
from training.evaluate import predict_classes
from vision import paths
from vision.diskspace import disk_full, is_disk_full
from vision.errors import DatasetError, ModelError, RPSError, SourceError
from vision.labels import CLASS_ORDER, Gesture, class_subfolders
from vision.preprocess import Preprocessing
from vision.signals import on_sigterm

log = logging.getLogger(__name__)

#: Fewer readable images than this in any class and personalisation refuses to start.
MIN_IMAGES_PER_CLASS = 10
#: How many images per class the guided capture asks for, and the messages suggest.
SUGGESTED_IMAGES_PER_CLASS = 50
DEFAULT_EPOCHS = 40  # 43 s on 2 cores for 50 images per class; 12 gave 0.88 vs 0.91 on rps-sxsw
DEFAULT_LR = 0.01
DEFAULT_BATCH_SIZE = 32
#: The latest share of each class's captures (in capture order) held back to check the model.
HOLD_BACK_FRACTION = 0.2
#: Leading parts of the network kept frozen while fine-tuning (faster; keeps general features).
FROZEN_PARTS = ("conv1", "stage2")
#: The network's parts in order (what ``--freeze`` accepts).
PARTS = ("conv1", "stage2", "stage3", "stage4", "conv5")
#: The shipped model's PyTorch weights, the starting point of every personalisation.
BASE_CHECKPOINT = paths.SHIPPED_MODEL_DIR / "model.pt"
REPORT_NAME = "personalization.json"
PLOT_NAME = "confusion_before_after.png"
#: Images are kept in memory at this multiple of the input size for augmentation.
CACHE_SCALE = 1.25
#: Exit status when the new model scored worse than the one in use and was not installed.
EXIT_NOT_INSTALLED = 3
#: A candidate is installed only if it reads at least this share of the held-back captures
#: right (besides reading at least as many right as the model in use). A model that cannot
#: read one of the four classes at all reads at most 0.75; 0.8 is two captures above that at
#: 40 held back (50 a class), so every class must be partly read.
ACCURACY_FLOOR = 0.8
#: After personalising, a class whose held-back captures the new model reads right less often
#: than this is named, with the figure.
CLASS_FLOOR = 0.5
#: The install's half-written model folders are ``<models>/.incoming-<pid>-*``.
STAGING_PREFIX = ".incoming-"

Item = tuple[Path, int]


class NotEnoughDataError(DatasetError):
    """The captures are not enough to personalise; the message says what to capture next."""


class WrongLabelError(DatasetError):
    """A class's captures look like another class: checked before training, nothing installed."""


class Terminated(Exception):
    """SIGTERM arrived: stop, leave nothing half-written behind."""


def collect_command(label: Gesture, data_dir: str | Path, count: int) -> str:
    """The exact command that captures ``count`` more images of ``label`` into ``data_dir``."""
    return f"python -m training collect --label {label.value} --out {data_dir} --count {count}"


# --- the user's captures -----------------------------------------------------------------------


def capture_key(path: Path) -> list:
    """Sort key for capture order: the name with its numbers compared as numbers.

    ``collect`` names files ``rock_<date>-<time>_0001.jpg``, so name order is the order they
    were taken; ``2.jpg`` comes before ``10.jpg`` for folders numbered another way.
    """
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.as_posix())]


def ordered_images(folder: Path) -> list[Path]:
    """The image files under ``folder`` in capture order."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in datasets.IMAGE_EXTS]
    return sorted(
        (p for p in files if p.is_file()), key=lambda p: capture_key(p.relative_to(folder))
    )


def _capture_folders(data_dir: Path) -> dict[Gesture, Path]:
    """The class folders there are (maybe none); raises if ``data_dir`` is missing or ambiguous."""
    hint = f"capture with: {collect_command(Gesture.ROCK, data_dir, SUGGESTED_IMAGES_PER_CLASS)}"
    if not data_dir.is_dir():
        raise NotEnoughDataError(f"{data_dir} does not exist: {hint} (and the same for each class)")
    try:
        return datasets.class_folders(data_dir)
    except DatasetError:
        if class_subfolders(data_dir):
            raise  # e.g. both rock/ and 1/: the message says which to merge
        return {}


def _what(g: Gesture) -> str:
    return "an empty scene, no hand" if g is Gesture.NONE else f"your hand showing {g.value}"


def _require_counts(
    data_dir: Path, counts: dict[Gesture, int], min_per_class: int, unreadable: int = 0
) -> None:
    short = [g for g in CAPTURE_ORDER if counts.get(g, 0) < min_per_class]
    if not short:
        return
    lines = []
    for g in short:
        have = counts.get(g, 0)
        want = max(min_per_class, SUGGESTED_IMAGES_PER_CLASS) - have
        lines.append(
            f"  {g.value}: {have} image(s), need at least {min_per_class}; capture {_what(g)}:\n"
            f"    {collect_command(g, data_dir, want)}"
        )
    skipped = (
        f" ({unreadable} unreadable image(s) were skipped; they are left where they are)"
        if unreadable
        else ""
    )
    raise NotEnoughDataError(
        f"not enough images in {data_dir} to personalise{skipped}:\n" + "\n".join(lines)
    )


def hold_back_count(n: int, fraction: float = HOLD_BACK_FRACTION) -> int:
    """How many of a class's ``n`` captures are held back: at least 1, never all."""
    return max(0, min(n - 1, max(1, math.ceil(n * fraction))))


@dataclass
class Captures:
    """The user's captures in capture order; the last ones of each class are held back."""

    root: Path
    train: list[Item]
    heldback: list[Item]
    unreadable: int = 0

    def counts(self, items: Sequence[Item]) -> dict[Gesture, int]:
        out = {g: 0 for g in CLASS_ORDER}
        for _, label in items:
            out[CLASS_ORDER[label]] += 1
        return out


def split_captures(
    data_dir: str | Path,
    min_per_class: int = MIN_IMAGES_PER_CLASS,
    hold_back: float = HOLD_BACK_FRACTION,
) -> Captures:
    """Check the captures, drop unreadable ones, and hold back each class's latest ``hold_back``.

    Raises ``NotEnoughDataError`` (saying what to capture) when a class has too few readable
    images. Paths are absolute; nothing is written.
    """
    data_dir = Path(data_dir).resolve()
    folders = _capture_folders(data_dir)
    found = [(p, g.index) for g in CLASS_ORDER if g in folders for p in ordered_images(folders[g])]
    readable = datasets.drop_unreadable(found)
    captures = Captures(data_dir, [], [], unreadable=len(found) - len(readable))
    counts = captures.counts(readable)
    _require_counts(data_dir, counts, min_per_class, captures.unreadable)
    for g in CLASS_ORDER:
        mine = [item for item in readable if item[1] == g.index]  # still in capture order
        cut = len(mine) - hold_back_count(len(mine), hold_back)
        captures.train += mine[:cut]
        captures.heldback += mine[cut:]
    return captures


def variety_warnings(captures: Captures) -> list[str]:
    """A warning for each class whose training captures are near-identical."""
    warnings = []
    for g in CAPTURE_ORDER:
        thumbs = []
        for path, label in captures.train:
            if label == g.index:
                grey = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)
                if grey is not None:
                    thumbs.append(thumbnail(grey))
        text = near_identical_warning(g, difference(thumbs[-60:]), len(thumbs))
        if text:
            warnings.append(
                f"{text}: {collect_command(g, captures.root, SUGGESTED_IMAGES_PER_CLASS)}"
            )
    return warnings


def cache_images(items: Sequence[Item], spec: Preprocessing) -> list[np.ndarray]:
    """Decode each image once and keep it in memory, shrunk to a little over the input size."""
    h, w = spec.input_size
    side = round(max(h, w) * CACHE_SCALE)
    out = []
    for path, _ in items:
        bgr = datasets.read_image(path)
        if bgr is None:
            raise DatasetError(f"cannot read {path} any more: was it changed while training?")
        ih, iw = bgr.shape[:2]
        scale = side / min(ih, iw)
        if scale < 1:
            size = (max(1, round(iw * scale)), max(1, round(ih * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        out.append(bgr)
    return out


# --- the model ---------------------------------------------------------------------------------


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

    augmenter = Augmenter(spec, augment) if augment != "none" else None
    dataset = datasets.GestureDataset(
        list(zip(images, labels, strict=True)), spec, augmenter, seed=seed
    )
    frozen_modules = _freeze(model, frozen)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4, nesterov=True)
    steps_per_epoch = max(1, -(-len(dataset) // batch_size))
    total = epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + np.cos(np.pi * min(step, total) / total))
    )
    counts = np.bincount(np.asarray(labels, int), minlength=len(CLASS_ORDER)).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(CLASS_ORDER), 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(weights, dtype=torch.float32), label_smoothing=0.1
    )
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
            model.train()
            for module in frozen_modules:
                module.eval()
            order = rng.permutation(len(dataset))
            epoch_loss = 0.0
            for start in range(0, len(order), batch_size):
                batch = [dataset[int(i)] for i in order[start : start + batch_size]]
                x = torch.from_numpy(np.stack([b[0] for b in batch]))
                y = torch.tensor([b[1] for b in batch])
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
                scheduler.step()
                epoch_loss += float(loss.detach()) * len(batch)
                bar.update(1)
                bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{float(loss.detach()):.3f}")
            losses.append(epoch_loss / len(dataset))
            elapsed = time.perf_counter() - started
            left = elapsed / (epoch + 1) * (epochs - epoch - 1)
            (log.debug if not bar.disable else log.info)(
                "epoch %d/%d: loss %.4f, %s so far, about %s left",
                epoch + 1, epochs, losses[-1], _minutes(elapsed), _minutes(left),
            )  # fmt: skip
    finally:
        bar.close()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return losses


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


# --- recogniser kinds --------------------------------------------------------------------------


@dataclass
class Options:
    """How to personalise; every recogniser kind takes what it needs from here."""

    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    batch_size: int = DEFAULT_BATCH_SIZE
    base_checkpoint: Path = BASE_CHECKPOINT
    frozen: tuple[str, ...] = FROZEN_PARTS
    seed: int = 0
    progress: bool = True
    #: The landmark recogniser whose head is refitted (default: the shipped one).
    base_recogniser: Path | None = None
    #: The held-back captures, read: ``(image, label)`` (the fused kind picks between its
    #: candidates on them).
    heldback: Sequence[tuple[np.ndarray, int]] = ()


#: ``fit(train_items, out_dir, options) -> details``: train a candidate on the training captures
#: and export it into ``out_dir`` as a model ``GestureClassifier`` loads (``model.json`` beside
#: its files); ``details`` (JSON-able) go into the report. The held-back check, the decision and
#: the install are the same for every kind.
Fit = Callable[[Sequence[Item], Path, Options], dict]


def fit_cnn(train: Sequence[Item], out_dir: Path, options: Options) -> dict:
    """The CNN: fine-tune the base checkpoint, export to ncnn and check it against PyTorch."""
    from training.export import check_parity, export_ncnn

    model, spec, base_info = load_base_checkpoint(options.base_checkpoint)
    log.info("reading %d training images", len(train))
    images = cache_images(train, spec)
    losses = fine_tune(
        model, images, [lab for _, lab in train], spec,
        epochs=options.epochs, lr=options.lr, batch_size=options.batch_size,
        seed=options.seed, progress=options.progress, frozen=options.frozen,
    )  # fmt: skip
    details = {
        "base": base_info,
        "epochs": options.epochs,
        "lr": options.lr,
        "frozen": list(options.frozen),
        "final_loss": round(losses[-1], 4) if losses else None,
    }
    meta_path = export_ncnn(
        model, out_dir, spec, {"model": base_info["model_name"], "personalization": details}
    )
    step = max(1, len(images) // 8)
    details["parity_max_prob_diff"] = check_parity(model, meta_path, images[::step][:8])
    return details


def fit_landmarks(train: Sequence[Item], out_dir: Path, options: Options) -> dict:
    """The landmark recogniser: refit its head on the captures' landmarks (seconds)."""
    from training.handpersonal import SHIPPED_HAND, refit_landmarks

    return refit_landmarks(train, out_dir, options.seed, options.base_recogniser or SHIPPED_HAND)


def fit_fused(train: Sequence[Item], out_dir: Path, options: Options) -> dict:
    """The default recogniser: its landmark head refitted, and its CNN part fine-tuned on the
    captures (from the PyTorch weights beside it, ``model.pt``). Three candidates read the
    held-back captures: the refitted head with the base's CNN part and rule; with the fine-tuned
    CNN asked wherever the landmarks find no hand (the rule's presence floor keeps a CNN that
    never saw the room off its walls; this one has); and with the fine-tuned CNN behind the
    base's rule. The first (in that order) that reads them best is written.
    ``options.base_recogniser`` is the fused model to start from (default: the shipped one)."""
    from training.handpersonal import SHIPPED_DEFAULT, fused_part, refit_fused
    from vision.classifier import GestureClassifier

    base = options.base_recogniser or SHIPPED_DEFAULT
    details = refit_fused(train, out_dir, options.seed, base)  # the head alone first
    checkpoint = fused_part(base, "cnn") / "model.pt"
    if not checkpoint.is_file():
        log.warning("no %s: the CNN part is not personalised, only the landmark head", checkpoint)
        return {**details, "cnn": None}
    head_only = json.loads((out_dir / paths.METADATA_NAME).read_text())
    cnn_details = fit_cnn(train, out_dir / "cnn", replace(options, base_checkpoint=checkpoint))
    both = {
        **head_only,
        "parts": {**head_only["parts"], "cnn": "cnn"},
        "personalization": {**details, "cnn": cnn_details},
    }
    # the CNN has now seen this room empty: it may also be asked wherever the landmarks miss
    everywhere = {**both, "rule": {**both["rule"], "min_presence": 0.0}}
    candidates = {"head only": head_only, "CNN asked everywhere": everywhere, "with the CNN": both}
    # the first candidate that reads the held-back captures best wins: the head alone on a tie
    # (the fine-tuned CNN, kept regardless, cost best-of-one 9 later walls), else a CNN that has
    # proved itself on this person is asked wherever the landmarks miss (it read rps-cv's
    # unfound hands: 0.982 on later frames, against 0.975 behind the shipped presence floor)
    images = [img for img, _ in options.heldback]
    labels = [lab for _, lab in options.heldback]
    scores = {}
    trial = out_dir / ".trial"  # a candidate seen from a folder beside the parts
    for name, meta in candidates.items():
        trial.mkdir()
        parts = {**meta["parts"], "landmarks": "../hand"}
        if parts["cnn"] == "cnn":
            parts["cnn"] = "../cnn"
        (trial / paths.METADATA_NAME).write_text(json.dumps({**meta, "parts": parts}))
        confusion = held_back_confusion(GestureClassifier(trial), images, labels)
        scores[name] = _accuracy(confusion) if images else 0.0
        shutil.rmtree(trial)
    chosen = max(candidates, key=lambda k: scores[k])  # the first of the best
    if chosen == "head only":
        shutil.rmtree(out_dir / "cnn")
    meta = candidates[chosen]
    (out_dir / paths.METADATA_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    choice = {"held_back": scores, "chosen": chosen}
    read = ", ".join(f"{name} {score:.3f}" for name, score in scores.items())
    log.info("the held-back captures read right: %s; chosen: %s", read, chosen)
    return {**details, "cnn": cnn_details if chosen != "head only" else None, **choice}


#: The recogniser kinds that can be personalised (``--kind``); the default is the default
#: recogniser's kind.
RECOGNISERS: dict[str, Fit] = {"fused": fit_fused, "landmarks": fit_landmarks, "cnn": fit_cnn}
DEFAULT_KIND = "fused"


# --- installing --------------------------------------------------------------------------------


def model_size(kind: str) -> int:
    """About how many bytes a personalised model of ``kind`` takes: its shipped folder's."""
    folder = {"cnn": paths.SHIPPED_MODEL_DIR, "landmarks": paths.SHIPPED_HAND_DIR}.get(
        kind, paths.SHIPPED_DEFAULT_DIR
    )
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _models_dir(models_dir: str | Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else paths.user_models_dir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def clean_stale_staging(models_dir: str | Path | None = None) -> list[Path]:
    """Remove the half-written model folders (``.incoming-<pid>-*``) that a killed run left in
    ``models_dir``; a running personalisation's own are left alone. Returns what was removed."""
    base = _models_dir(models_dir)
    removed = []
    if not base.is_dir():
        return removed
    for folder in base.iterdir():
        if not folder.is_dir() or not folder.name.startswith(STAGING_PREFIX):
            continue
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s, left half-written by a stopped run", folder)
        removed.append(folder)
    return removed


_FINISHING = False


@contextlib.contextmanager
def _finishing():
    """While installing: a SIGTERM waits for the renames (see ``stop_on_sigterm``)."""
    global _FINISHING
    _FINISHING = True
    try:
        yield
    finally:
        _FINISHING = False


@contextlib.contextmanager
def stop_on_sigterm():
    """SIGTERM raises ``Terminated`` in the main thread, so every ``finally`` cleans up (no
    ``.incoming-*`` folder is left); during the install's renames it is ignored (milliseconds
    later the run is done anyway)."""

    def handler(signum: int) -> None:
        if _FINISHING:
            log.info("SIGTERM while installing: finishing the install first")
            return
        raise Terminated()

    with on_sigterm(handler):
        yield


def install_model(staging: str | Path, models_dir: str | Path | None = None) -> Path:
    """Make ``staging`` (a finished export) the active model; the old active becomes previous.

    ``staging`` must be on the same file system (a folder inside ``models_dir``): the swap is
    two renames, and a failure puts the old model back, so there is never a half-installed model.
    """
    base = _models_dir(models_dir)
    active, previous = base / "active", base / "previous"
    staging = Path(staging)
    if not (staging / paths.METADATA_NAME).is_file():
        raise ModelError(f"{staging} holds no exported model: nothing installed")
    base.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=base))
    had_previous = previous.exists()
    moved_active = False
    try:
        if active.exists():
            if had_previous:
                os.replace(previous, trash / "previous")
            os.replace(active, previous)
            moved_active = True
        os.replace(staging, active)
    except OSError:
        if moved_active and not active.exists():
            os.replace(previous, active)
        if had_previous and not previous.exists():
            os.replace(trash / "previous", previous)
        shutil.rmtree(trash, ignore_errors=True)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    log.info("installed %s as the active model", active)
    return active


def reset_model(models_dir: str | Path | None = None) -> Path | None:
    """Go back to the shipped model: the active model becomes the previous one (for rollback).

    Returns where the deactivated model now is, or None if no personal model was active.
    """
    base = _models_dir(models_dir)
    active, previous = base / "active", base / "previous"
    if not active.exists():
        return None
    if previous.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=base))
        os.replace(previous, trash / "previous")
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(active, previous)
    log.info("deactivated the personal model (kept in %s)", previous)
    return previous


def rollback_model(models_dir: str | Path | None = None) -> Path:
    """Swap the active and previous models (the previous one becomes active)."""
    base = _models_dir(models_dir)
    active, previous = base / "active", base / "previous"
    if not (previous / paths.METADATA_NAME).is_file():
        raise ModelError(f"there is no previous model in {previous} to go back to")
    if not active.exists():
        os.replace(previous, active)
        return active
    swap = Path(tempfile.mkdtemp(prefix=".swap-", dir=base)) / "model"
    os.replace(active, swap)
    os.replace(previous, active)
    os.replace(swap, previous)
    swap.parent.rmdir()
    return active


# --- the whole run -----------------------------------------------------------------------------


@dataclass
class PersonalizeResult:
    model_dir: Path
    installed: bool
    accuracy_before: float  # the model in use, on the held-back captures
    accuracy_after: float  # the new model (as exported), on the same images
    confusion_before: np.ndarray
    confusion_after: np.ndarray
    n_train: int
    n_test: int
    seconds: float
    train_seconds: float
    parity: float | None
    plot: Path | None
    data_dir: Path = Path()
    compared_with: str = "the shipped model"
    kind: str = "cnn"
    warnings: list[str] = field(default_factory=list)
    #: why it was not installed (None: installed on its merits): "worse" or "floor"
    refused: str | None = None
    #: classes the new model reads poorly on the held-back captures: (class, right, of)
    weak: list[tuple[str, int, int]] = field(default_factory=list)
    #: the model in use's reading of every capture, per class, with advice (lines)
    captures_report: list[str] = field(default_factory=list)
    sheet: Path | None = None  # the contact sheet of the worst captures, beside the captures


def _accuracy(matrix: np.ndarray) -> float:
    return float(np.trace(matrix) / matrix.sum()) if matrix.sum() else 0.0


def model_in_use(models_dir: str | Path | None = None):
    """``(GestureClassifier, description)`` of the model the game would load now."""
    from vision.classifier import GestureClassifier

    active = _models_dir(models_dir) / "active"
    if (active / paths.METADATA_NAME).is_file():
        try:
            return GestureClassifier(active), "your current personal model"
        except ModelError as exc:
            log.warning(
                "the active personal model does not load (%s): comparing with the shipped one", exc
            )
    return GestureClassifier(paths.SHIPPED_DEFAULT_DIR), "the shipped model"


def refusal_reason(before: np.ndarray, after: np.ndarray) -> str | None:
    """Why a candidate must not be installed: ``"worse"`` (it reads fewer held-back captures
    right than the model in use: compared in captures, the finest the count resolves),
    ``"floor"`` (under ``ACCURACY_FLOOR``), or None."""
    if np.trace(after) < np.trace(before):
        return "worse"
    if _accuracy(after) < ACCURACY_FLOOR:
        return "floor"
    return None


def weak_classes(confusion: np.ndarray) -> list[tuple[str, int, int]]:
    """``(class, right, of)`` for each class read right under ``CLASS_FLOOR`` of the time."""
    weak = []
    for g in CLASS_ORDER:
        right, total = int(confusion[g.index, g.index]), int(confusion[g.index].sum())
        if total and right < CLASS_FLOOR * total:
            weak.append((g.value, right, total))
    return weak


@dataclass
class CaptureCheck:
    """The model in use's reading of every capture (per class, the sheet) and the shipped
    default's (the label check: a weak or specialised personal model in use, e.g. a CNN alone
    that reads a stranger's paper as scissors, must not call right labels wrong)."""

    readings: list
    reports: dict
    compared_with: str
    root: Path
    sheet: Path | None = None
    #: the shipped default's reports, where it is not the model in use (else ``reports``)
    label_reports: dict | None = None

    @property
    def problems(self) -> list[tuple[Gesture, str]]:
        from training.capturereport import label_problems

        return label_problems(self.label_reports or self.reports)

    def lines(self) -> list[str]:
        from training.capturereport import format_reports

        head = f"How {self.compared_with} reads your captures (the game reads them this way):"
        tail = [f"  The worst of them: {self.sheet}"] if self.sheet is not None else []
        return [head, *format_reports(self.reports), *tail]

    def refusal(self) -> str:
        """The message that refuses to train on mislabelled captures, with the report."""
        first = self.problems[0][0]
        who = "" if self.label_reports is None else "Read by the shipped model: "
        return (
            who
            + "\n".join(text for _, text in self.problems)
            + f"\nNothing was trained or installed; your captures are untouched in {self.root}. "
            "Move the captures to the right class folder, or capture that class again, e.g.\n  "
            + collect_command(first, self.root, SUGGESTED_IMAGES_PER_CLASS)
            + "\nthen run this again (--trust-labels trains on them as they are)."
            + (f"\nThe worst of them: {self.sheet}" if self.sheet is not None else "")
        )

    def held_back_confusion(self, heldback: Sequence[Item]) -> np.ndarray:
        """The model in use's confusion matrix on the held-back captures (already read)."""
        from training.evaluate import compute_report

        by_path = {r.path: r for r in self.readings}
        labels, preds = [], []
        for path, label in heldback:
            labels.append(label)
            preds.append(by_path[Path(path)].read.index)
        return compute_report(labels, preds).confusion

    def summary(self) -> dict:
        return {
            g.value: {"captures": r.n, "read_right": r.right, "hand_found": r.found,
                      "dark": r.dark, "advice": r.advice}
            for g, r in self.reports.items()
        }  # fmt: skip


def check_captures_readable(captures: Captures, classifier, compared_with: str) -> CaptureCheck:
    """The model in use reads every capture; per class report, contact sheet beside the
    captures (``capturereport.sheet_path``; a folder it cannot write to only loses the sheet)."""
    items = captures.train + captures.heldback
    check = read_and_report(items, classifier, compared_with, captures.root)
    if len(check.readings) != len(items):
        raise DatasetError(f"images in {captures.root} changed while reading them: run this again")
    return check


def _is_shipped_default(classifier) -> bool:
    folder = getattr(classifier, "folder", None)
    return folder is not None and Path(folder).resolve() == paths.SHIPPED_DEFAULT_DIR.resolve()


#: Where a personal model is in use, the shipped default reads at most this many captures of
#: each class (evenly spread) for the label check: a share to 5%, in a third of the time of 50.
LABEL_SAMPLE = 20


def label_sample(items: Sequence[Item], per_class: int = LABEL_SAMPLE) -> list[Item]:
    """At most ``per_class`` items of each class, evenly spread over its captures."""
    out = []
    for g in CLASS_ORDER:
        mine = [item for item in items if item[1] == g.index]
        step = max(1, len(mine) / per_class)
        out += [mine[int(i * step)] for i in range(min(per_class, len(mine)))]
    return out


def read_and_report(
    items: Sequence[Item], classifier, compared_with: str, root: Path
) -> CaptureCheck:
    """``classifier`` (the model in use) reads ``items``: the per-class report and the contact
    sheet beside ``root``; the shipped default reads them too for the label check, unless it is
    the model in use."""
    from training import capturereport as cr
    from vision.classifier import GestureClassifier

    log.info("reading your %d captures with %s", len(items), compared_with)
    readings = cr.read_captures(classifier, items, datasets.read_image)
    check = CaptureCheck(readings, cr.class_reports(readings), compared_with, root)
    if not _is_shipped_default(classifier):
        sample = label_sample(items)
        log.info("and %d of them with the shipped model, to check the labels", len(sample))
        shipped = GestureClassifier(paths.SHIPPED_DEFAULT_DIR)
        check.label_reports = cr.class_reports(
            cr.read_captures(shipped, sample, datasets.read_image)
        )
    try:
        check.sheet = cr.contact_sheet(
            check.reports, cr.sheet_path(root), f"{compared_with}: {root}"
        )
    except OSError as exc:
        log.warning("no contact sheet (%s)", exc)
    return check


def held_back_confusion(classifier, images: Sequence[np.ndarray], labels: Sequence[int]):
    """Confusion matrix of an exported model (``GestureClassifier``) on the held-back images."""
    from training.evaluate import compute_report

    preds = [classifier(img).label.index for img in images]
    return compute_report(list(labels), preds).confusion


def personalize(
    data_dir: str | Path,
    *,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    base_checkpoint: str | Path = BASE_CHECKPOINT,
    models_dir: str | Path | None = None,
    min_per_class: int = MIN_IMAGES_PER_CLASS,
    hold_back: float = HOLD_BACK_FRACTION,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    frozen: Sequence[str] = FROZEN_PARTS,
    kind: str = DEFAULT_KIND,
    current_model: str | Path | None = None,
    base_recogniser: str | Path | None = None,
    trust_labels: bool = False,
) -> PersonalizeResult:
    """Hold back the latest captures, train a candidate of ``kind``, compare, install if no worse.

    First the model in use reads every capture (``check_captures_readable``: the per-class
    report and sheet); where the shipped default confidently reads most of a class as another
    class, ``WrongLabelError`` is raised before training (``trust_labels=True`` goes on).
    The candidate is installed unless it reads fewer held-back captures right than the model in
    use, or fewer than ``ACCURACY_FLOOR`` of them (``force=True`` installs it anyway);
    ``result.installed`` and ``result.refused`` say which. A rejected
    candidate is kept in ``<models>/rejected`` for a look; the model in use stays active.
    ``current_model`` (an exported model's folder) is the one to beat instead of the one in use.
    """
    from vision.classifier import GestureClassifier

    if kind not in RECOGNISERS:
        raise ModelError(f"unknown recogniser kind {kind!r}: pick one of {', '.join(RECOGNISERS)}")
    start = time.perf_counter()
    base = _models_dir(models_dir)
    clean_stale_staging(base)
    captures = split_captures(data_dir, min_per_class, hold_back)
    if kind == "cnn":  # a missing base is said before the captures are read, not after
        require_base_checkpoint(base_checkpoint)
    warnings = variety_warnings(captures)
    for text in warnings:
        log.warning("%s", text)
    if current_model is not None:
        current, compared_with = GestureClassifier(current_model), f"the model in {current_model}"
    else:
        current, compared_with = model_in_use(models_dir)
    check = check_captures_readable(captures, current, compared_with)
    for line in check.lines():
        log.info("%s", line)
    if check.problems and not trust_labels:
        raise WrongLabelError(check.refusal())
    held_images = [datasets.read_image(p) for p, _ in captures.heldback]
    if any(img is None for img in held_images):
        raise DatasetError(f"images in {captures.root} changed while reading them: run this again")
    held_labels = [lab for _, lab in captures.heldback]
    before = check.held_back_confusion(captures.heldback)
    options = Options(
        epochs, lr, batch_size, Path(base_checkpoint), tuple(frozen), seed, progress,
        Path(base_recogniser) if base_recogniser is not None else None,
        list(zip(held_images, held_labels, strict=True)),
    )  # fmt: skip
    base.mkdir(parents=True, exist_ok=True)
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=base))
        staging.chmod(0o755)  # mkdtemp makes it private; a model folder is ordinary
        t_train = time.perf_counter()
        details = RECOGNISERS[kind](captures.train, staging, options)
        train_seconds = time.perf_counter() - t_train
        after = held_back_confusion(GestureClassifier(staging), held_images, held_labels)
        acc_before, acc_after = _accuracy(before), _accuracy(after)
        refused = refusal_reason(before, after)
        installed = force or refused is None
        weak = weak_classes(after)
        report = {
            "personalized": datetime.now(UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "data": str(captures.root),
            **details,
            "train_images": len(captures.train),
            "test_images": len(captures.heldback),
            "held_back": "the latest captures of each class",
            "held_back_files": [
                p.relative_to(captures.root).as_posix() for p, _ in captures.heldback
            ],
            "compared_with": compared_with,
            "accuracy_before": round(acc_before, 4),
            "accuracy_after": round(acc_after, 4),
            "accuracy_floor": ACCURACY_FLOOR,
            "confusion_before": before.tolist(),
            "confusion_after": after.tolist(),
            "installed": installed,
            "refused": refused,
            "forced": bool(force and refused is not None),
            "weak_classes": weak,
            "captures_read": check.summary(),
            "train_seconds": round(train_seconds, 1),
            "warnings": warnings,
        }
        plot = plot_before_after(
            before, after, staging / PLOT_NAME,
            f"your latest {len(captures.heldback)} captures (held back from training)",
            (f"in use now ({compared_with.replace('your current ', '')})", "personalised"),
        )  # fmt: skip
        (staging / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
        meta_path = staging / paths.METADATA_NAME
        meta = json.loads(meta_path.read_text())
        summary = {
            k: v
            for k, v in report.items()
            if k not in ("held_back_files", "warnings", "captures_read")
        }
        meta["personalization"] = {**meta.get("personalization", {}), **summary}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        with _finishing():  # a SIGTERM now waits for the two renames: never half-installed
            if installed:
                target = install_model(staging, base)
            else:
                target = base / "rejected"  # only the latest, for a look; never loaded
                shutil.rmtree(target, ignore_errors=True)
                os.replace(staging, target)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return PersonalizeResult(
        model_dir=target,
        installed=installed,
        accuracy_before=acc_before,
        accuracy_after=acc_after,
        confusion_before=before,
        confusion_after=after,
        n_train=len(captures.train),
        n_test=len(captures.heldback),
        seconds=time.perf_counter() - start,
        train_seconds=train_seconds,
        parity=details.get("parity_max_prob_diff"),
        plot=target / PLOT_NAME if plot is not None else None,
        data_dir=captures.root,
        compared_with=compared_with,
        kind=kind,
        warnings=warnings,
        refused=refused,
        weak=weak,
        captures_report=check.lines(),
        sheet=check.sheet,
    )


# --- command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m training personalize``."""
    parser.add_argument(
        "data", nargs="?", type=Path,
        help="folder of class folders (default: <user data>/captures, where collect writes)",
    )  # fmt: skip
    parser.add_argument(
        "--kind", choices=tuple(RECOGNISERS), default=None,
        help="which recogniser to personalise: fused (the default recogniser: its landmark "
        "head refitted and its CNN part fine-tuned: one to three minutes on two cores; needs "
        "PyTorch), landmarks (the head alone: reading the captures takes a minute or two, the "
        "refit seconds; numpy only, runs on the Pi) or cnn (the CNN alone, fine-tuned, a "
        "minute or two; needs PyTorch). Default: fused, or landmarks where PyTorch is not "
        "installed",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="default %(default)s"
    )
    parser.add_argument("--lr", type=positive_float, default=DEFAULT_LR, help="default %(default)s")
    parser.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help="default %(default)s"
    )
    parser.add_argument(
        "--min-images", type=positive_int, default=MIN_IMAGES_PER_CLASS,
        help="fewest images per class to start (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--base-checkpoint", type=Path, default=BASE_CHECKPOINT,
        help="PyTorch weights to start from (default: the shipped assets/models/model.pt)",
    )  # fmt: skip
    parser.add_argument(
        "--model-dir", type=Path, default=None,
        help="folder that holds the active/ and previous/ models (default: <user data>/models, "
        "the one the game looks in)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="install the new model even if it does worse than the model in use on your "
        f"held-back images, or reads under {round(ACCURACY_FLOOR * 100)}%% of them right",
    )  # fmt: skip
    parser.add_argument(
        "--trust-labels", action="store_true",
        help="train even where the model in use reads most of a class's captures as another "
        "class (by default that stops before training: check the labels first)",
    )  # fmt: skip
    parser.add_argument(
        "--freeze", nargs="*", choices=PARTS, default=list(FROZEN_PARTS), metavar="PART",
        help=f"network parts kept fixed ({', '.join(PARTS)}; default: {' '.join(FROZEN_PARTS)})",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--reset", action="store_true",
        help="go back to the shipped model (the personal one is kept as the previous model)",
    )  # fmt: skip
    which.add_argument(
        "--rollback", action="store_true", help="swap the active and the previous model"
    )


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def print_result(result: PersonalizeResult, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    per_class = result.n_test // len(CLASS_ORDER)
    print(
        f"Personalised on {result.n_train} of your images in {_minutes(result.seconds)} "
        f"(training {_minutes(result.train_seconds)}).",
        file=out,
    )
    print(
        f"Accuracy on your latest {result.n_test} captures (about {per_class} a class, held back "
        f"from training): {result.compared_with} {result.accuracy_before:.2f} -> personalised "
        f"{result.accuracy_after:.2f}",
        file=out,
    )
    if result.plot is not None:
        print(f"Before/after confusion matrices: {result.plot}", file=out)
    if result.sheet is not None:
        print(f"What the model in use could not read in your captures: {result.sheet}", file=out)
    for name, right, total in result.weak:
        print(
            f"The new model still cannot read your {name}: {right} of {total} held-back "
            f"captures read right (under {CLASS_FLOOR:.0%}). Capture it again as the advice "
            f"above says: {collect_command(Gesture.parse(name), result.data_dir, 30)}",
            file=out,
        )
    for text in result.warnings:
        print(f"WARNING: {text}", file=out)
    if result.installed:
        print(f"Installed as the active model: {result.model_dir}", file=out)
        print(
            "The game uses it from now on. Back to the shipped model: "
            "python -m training personalize --reset",
            file=out,
        )
        return
    if result.refused == "floor":
        why = (
            f"the new model read only {result.accuracy_after:.2f} of your latest captures "
            f"right, under the floor of {ACCURACY_FLOOR:.2f} (a model that cannot read one "
            f"class reads at most 0.75); {result.compared_with} ({result.accuracy_before:.2f}) "
            "stays active"
        )
    else:
        why = (
            f"the new model scored {result.accuracy_after:.2f} on your latest captures, worse "
            f"than {result.compared_with} ({result.accuracy_before:.2f}), which stays active"
        )
    print(
        f"NOT installed: {why}. Your captures are kept in {result.data_dir}. Capture more, "
        "varied images (move your hand around the box, nearer and farther, turn it, use both "
        "hands; change the light), for example:\n  "
        f"{collect_command(Gesture.ROCK, result.data_dir, 30)}\n"
        "and the same for the other classes, then run this again (--force installs it anyway). "
        f"The rejected model is in {result.model_dir}.",
        file=out,
    )


#: What ``--kind fused`` and ``--kind cnn`` need beyond the Pi's install (the ``train`` extra).
TRAIN_MODULES = ("torch", "tqdm", "albumentations")
NEEDS_TRAIN_EXTRA = ("fused", "cnn")


def missing_train_extra() -> str | None:
    """The first module of the ``train`` extra that is not installed, else None."""
    for name in TRAIN_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def choose_kind(kind: str | None) -> tuple[str | None, str]:
    """``(kind, message)``: the kind to personalise (None: cannot, the message says why and
    what to do); an unasked kind is the default one, or ``landmarks`` without PyTorch."""
    missing = missing_train_extra()
    if kind is None:
        if missing is None:
            return DEFAULT_KIND, ""
        return "landmarks", (
            f"PyTorch is not installed here ({missing} is missing): personalising the landmark "
            "head only (--kind landmarks, numpy, seconds); for the whole default recogniser "
            'run this on a PC with pip install -e ".[train]"'
        )
    if kind in NEEDS_TRAIN_EXTRA and missing is not None:
        return None, (
            f"--kind {kind} needs PyTorch, which is not installed here ({missing} is missing): "
            'pip install -e ".[train]" (a PC, or a 64-bit Pi OS), or use --kind landmarks '
            "(refits the landmark head with numpy, on the Pi too)"
        )
    return kind, ""


def main(args: argparse.Namespace) -> int:
    """``python -m training personalize``: 0 installed or done, 2 captures or command to fix,
    3 not installed (worse than the model in use), 130 interrupted."""
    models_dir = args.model_dir
    with stop_on_sigterm():
        return _main(args, models_dir)


def _main(args: argparse.Namespace, models_dir: Path | None) -> int:
    try:
        if args.reset:
            moved = reset_model(models_dir)
            if moved is None:
                print("No personal model is active: the shipped model is already in use.")
            else:
                print(f"Back to the shipped model. Your personal model is kept in {moved}")
                print("(python -m training personalize --rollback brings it back).")
            return 0
        if args.rollback:
            active = rollback_model(models_dir)
            print(f"Rolled back: {active} now holds the previous model.")
            return 0
        kind, note = choose_kind(args.kind)
        if kind is None:
            print(f"error: {note}", file=sys.stderr)
            return 2
        if note:
            print(note)
        data_dir = args.data if args.data is not None else default_data_dir()
        result = personalize(
            data_dir,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            base_checkpoint=args.base_checkpoint,
            models_dir=models_dir,
            min_per_class=args.min_images,
            seed=args.seed,
            force=args.force,
            progress=not args.no_progress,
            frozen=tuple(args.freeze),
            kind=kind,
            trust_labels=args.trust_labels,
        )
    except RPSError as exc:  # bad captures, a bad base model: the message says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        needed = model_size(args.kind or DEFAULT_KIND)  # nothing of it is left (staging)
        error = disk_full(_models_dir(models_dir), needed, "the personalised model")
        print(f"error: {error} (the model in use is unchanged)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopped: nothing was installed, your captures are untouched.", file=sys.stderr)
        return 130
    except Terminated:
        print(
            "Stopped by SIGTERM: nothing was installed, your captures are untouched.",
            file=sys.stderr,
        )
        return 128 + signal.SIGTERM
    print_result(result)
    return 0 if result.installed else EXIT_NOT_INSTALLED


# --- guided mode -------------------------------------------------------------------------------

_PROMPTS = {
    Gesture.ROCK: "Make a fist (rock) inside the square.",
    Gesture.PAPER: "Show an open hand (paper) inside the square, fingers spread or together.",
    Gesture.SCISSORS: "Show two fingers (scissors) inside the square.",
    Gesture.NONE: "Take your hand away: an empty scene of your room.",
}
_VARIETY = (
    "While it captures, follow the prompts: move your hand around the box, nearer and farther, "
    "turn it, and switch hands; varied images teach the model far more than 50 of one pose."
)


def add_guided_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m training`` alone (the guided session)."""
    parser.add_argument(
        "--source", default="0",
        help="camera index (0), /dev/videoN, picam, a video file or a folder of images "
        "(default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DATA",
        help="where the captures go (default: <user data>/captures)",
    )  # fmt: skip
    parser.add_argument(
        "--count", type=positive_int, default=SUGGESTED_IMAGES_PER_CLASS,
        help="images to capture per class (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--countdown", type=float, default=None, help="seconds before each capture starts"
    )
    parser.add_argument(
        "--kind", choices=tuple(RECOGNISERS), default=None,
        help="which recogniser to personalise after the capture (default: fused, or landmarks "
        "where PyTorch is not installed, as on the Pi); see personalize --help",
    )  # fmt: skip


def guided_steps(
    data_dir: Path, count: int = SUGGESTED_IMAGES_PER_CLASS, source: str = "0"
) -> list[str]:
    """The guided session as plain commands."""
    extra = f" --source {source}" if str(source) != "0" else ""
    return [collect_command(g, data_dir, count) + extra for g in CAPTURE_ORDER] + [
        f"python -m training personalize {data_dir}"
    ]


def check_source(source: str) -> str | None:
    """None if ``source`` opens (it is closed again at once), else the message to print."""
    from training.collect import source_hint
    from vision.sources import open_source

    try:
        opened = open_source(source)
    except SourceError as exc:
        return (
            f"error: {exc}\n{source_hint(source)} For example: python -m training --source clip.mp4"
        )
    opened.close()
    return None


def guided(
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    *,
    source: str = "0",
    countdown: float | None = None,
    data_dir: Path | None = None,
    count: int = SUGGESTED_IMAGES_PER_CLASS,
    kind: str | None = None,
) -> int:
    """``python -m training`` alone: check the camera, capture each class, then personalise.

    When stdin is not a terminal, prints the steps as commands and returns 0. ``source``,
    ``countdown``, ``data_dir`` and ``count`` are passed on to the capture (defaults: camera 0,
    the capture tool's countdown, ``<user data>/captures``, 50). ``kind``: the recogniser to
    personalise (``choose_kind``: a kind this install cannot train is refused before the first
    capture). After the capture the model in use reads every capture and says, per class, what
    it cannot see (and draws the worst beside the captures). Returns 2 when the source cannot
    be opened or the kind cannot be trained here (before asking anything), else what the last
    step returned.
    """
    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if not stdin.isatty():
        print("Teach the robot your hand, step by step (run each command in turn):", file=out)
        for i, step in enumerate(guided_steps(data_dir, count, source), 1):
            print(f"  {i}. {step}", file=out)
        print(
            "Run 'python -m training' in a terminal for a guided session; "
            "'python -m training --help' lists every command.",
            file=out,
        )
        return 0
    from training import collect

    kind, note = choose_kind(kind)
    if kind is None:
        print(f"error: {note}", file=sys.stderr)
        return 2
    problem = check_source(source)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    print(
        "Teach the robot your hand. You will show rock, paper and scissors to the camera, then an\n"
        f"empty scene; {count} images each, about one a second. Then it trains for a few "
        f"minutes.\nYour images go to {data_dir}.\n{_VARIETY}",
        file=out,
    )
    if note:
        print(note, file=out)
    for g in CAPTURE_ORDER:
        counts = class_counts(data_dir)
        print(f"\n{g.value.upper()}: {_PROMPTS[g]} (so far: {format_counts(counts)})", file=out)
        answer = _ask("Press Enter to start, s to skip, q to quit: ", stdin, out)
        if answer == "q":
            return 0
        if answer == "s":
            continue
        argv = ["--label", g.value, "--out", str(data_dir), "--count", str(count)]
        argv += ["--source", source, "--check"]
        if countdown is not None:
            argv += ["--countdown", str(countdown)]
        code, reason = collect.run(collect.parse_args(argv))
        if code != 0 or reason == "terminated":
            return code
    for line in capture_feedback(data_dir, out):
        print(line, file=out)
    answer = _ask("\nAll captured. Press Enter to personalise now, q to quit: ", stdin, out)
    later = f"python -m training personalize {data_dir} --kind {kind}"
    if answer == "q":
        print(f"Later: {later}", file=out)
        return 0
    parser = argparse.ArgumentParser(prog="python -m training personalize")
    add_arguments(parser)
    return main(parser.parse_args([str(data_dir), "--kind", kind]))


def capture_feedback(data_dir: Path, out: TextIO | None = None) -> list[str]:
    """After the capture: how the model in use reads the captures there are, per class, with
    advice and the contact sheet beside them (nothing when there are no captures yet)."""

    folders = _capture_folders(Path(data_dir))
    items = [(p, g.index) for g, folder in folders.items() for p in ordered_images(folder)]
    if not items:
        return []
    classifier, compared_with = model_in_use()
    print(f"\nReading your {len(items)} captures as the game would...", file=out, flush=True)
    check = read_and_report(items, classifier, compared_with, Path(data_dir))
    lines = check.lines()
    lines += [f"WARNING: {text}" for _, text in check.problems]
    return lines


def _ask(prompt: str, stdin: TextIO, out: TextIO) -> str:
    print(prompt, end="", file=out, flush=True)
    try:
        line = stdin.readline()
    except KeyboardInterrupt:
        return "q"
    return "q" if not line else line.strip().lower()[:1]
