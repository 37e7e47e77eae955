"""The recogniser kinds that can be personalised (``fused``, ``landmarks``, ``cnn``): each fits
a candidate on the captures and exports it; ``held_back_confusion`` scores one.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from training.personalize.captures import Item, cache_images
from training.personalize.finetune import (
    BASE_CHECKPOINT,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    FROZEN_PARTS,
    fine_tune,
    load_base_checkpoint,
)
from vision import paths

log = logging.getLogger(__name__)


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
    from training.hand.personal import SHIPPED_HAND, refit_landmarks

    return refit_landmarks(train, out_dir, options.seed, options.base_recogniser or SHIPPED_HAND)


def fit_fused(train: Sequence[Item], out_dir: Path, options: Options) -> dict:
    """The default recogniser: its landmark head refitted, and its CNN part fine-tuned on the
    captures (from the PyTorch weights beside it, ``model.pt``). Three candidates read the
    held-back captures: the refitted head with the base's CNN part and rule; with the fine-tuned
    CNN asked wherever the landmarks find no hand (the rule's presence floor keeps a CNN that
    never saw the room off its walls; this one has); and with the fine-tuned CNN behind the
    base's rule. The first (in that order) that reads them best is written.
    ``options.base_recogniser`` is the fused model to start from (default: the shipped one)."""
    from training.hand.personal import SHIPPED_DEFAULT, fused_part, refit_fused
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
    for name, meta in candidates.items():  # read in memory, their parts in ``out_dir``
        candidate = GestureClassifier.from_metadata(meta, out_dir)
        confusion = held_back_confusion(candidate, images, labels)
        scores[name] = accuracy_of(confusion) if images else 0.0
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


def accuracy_of(matrix: np.ndarray) -> float:
    return float(np.trace(matrix) / matrix.sum()) if matrix.sum() else 0.0


def held_back_confusion(classifier, images: Sequence[np.ndarray], labels: Sequence[int]):
    """Confusion matrix of an exported model (``GestureClassifier``) on the held-back images."""
    from training.evaluate import compute_report

    preds = [classifier(img).label.index for img in images]
    return compute_report(list(labels), preds).confusion
