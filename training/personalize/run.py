"""One personalisation from captures to an installed (or refused) model: read the captures with
the model in use (the per-class report and the wrong-label check), fit the kind's candidate,
compare both on the held-back captures, install it only if it is no worse and above the floor.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from training import data as datasets
from training.personalize.captures import (
    HOLD_BACK_FRACTION,
    MIN_IMAGES_PER_CLASS,
    Captures,
    split_captures,
    variety_warnings,
)
from training.personalize.check import read_with_model_in_use
from training.personalize.finetune import (
    BASE_CHECKPOINT,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    FROZEN_PARTS,
    PLOT_NAME,
    REPORT_NAME,
    plot_before_after,
    require_base_checkpoint,
)
from training.personalize.kinds import (
    DEFAULT_KIND,
    RECOGNISERS,
    Options,
    accuracy_of,
    held_back_confusion,
)
from training.personalize.store import (
    STAGING_PREFIX,
    clean_stale_staging,
    finishing,
    install_model,
    models_dir_of,
)
from vision import paths
from vision.errors import DatasetError, ModelError
from vision.labels import CLASS_ORDER

log = logging.getLogger(__name__)


#: Exit status when the new model scored worse than the one in use and was not installed.
EXIT_NOT_INSTALLED = 3
#: A candidate is installed only if it reads at least this share of the held-back captures
#: right (besides reading more of them right than the model in use). A model that cannot
#: read one of the four classes at all reads at most 0.75; 0.8 is two captures above that at
#: 40 held back (50 a class), so every class must be partly read.
ACCURACY_FLOOR = 0.8
#: After personalising, a class whose held-back captures the new model reads right less often
#: than this is named, with the figure.
CLASS_FLOOR = 0.5


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


def refusal_reason(before: np.ndarray, after: np.ndarray) -> str | None:
    """Why a candidate must not be installed: ``"worse"`` (it reads fewer held-back captures
    right than the model in use: compared in captures, the finest the count resolves),
    ``"floor"`` (under ``ACCURACY_FLOOR``), ``"no better"`` (exactly as many right: the
    held-back captures show no gain, and a tie is a change they cannot vouch for; measured on
    the far proxy, a tie installed cost rps-cv's player 0.977 -> 0.970 of their later frames),
    or None: it reads at least one capture more right, above the floor."""
    if np.trace(after) < np.trace(before):
        return "worse"
    if accuracy_of(after) < ACCURACY_FLOOR:
        return "floor"
    if np.trace(after) == np.trace(before):
        return "no better"
    return None


def weak_classes(confusion: np.ndarray) -> list[tuple[str, int, int]]:
    """``(class, right, of)`` for each class read right under ``CLASS_FLOOR`` of the time."""
    weak = []
    for g in CLASS_ORDER:
        right, total = int(confusion[g.index, g.index]), int(confusion[g.index].sum())
        if total and right < CLASS_FLOOR * total:
            weak.append((g.value, right, total))
    return weak


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
    base = models_dir_of(models_dir)
    clean_stale_staging(base)
    captures = split_captures(data_dir, min_per_class, hold_back)
    if kind == "cnn":  # a missing base is said before the captures are read, not after
        require_base_checkpoint(base_checkpoint)
    warnings = variety_warnings(captures)
    for text in warnings:
        log.warning("%s", text)
    check = read_with_model_in_use(captures, current_model, models_dir, trust_labels)
    compared_with = check.compared_with
    held_images, held_labels = read_held_back(captures)
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
        refused = refusal_reason(before, after)
        installed = force or refused is None
        report = {
            **run_report(kind, captures, details, compared_with, before, after),
            "installed": installed,
            "refused": refused,
            "forced": bool(force and refused is not None),
            "weak_classes": weak_classes(after),
            "captures_read": check.summary(),
            "train_seconds": round(train_seconds, 1),
            "warnings": warnings,
        }
        plot = write_report(staging, report, len(captures.heldback))
        with finishing():  # a SIGTERM now waits for the two renames: never half-installed
            target = install_model(staging, base) if installed else keep_rejected(staging, base)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return PersonalizeResult(
        model_dir=target, installed=installed, refused=refused, kind=kind,
        accuracy_before=accuracy_of(before), accuracy_after=accuracy_of(after),
        confusion_before=before, confusion_after=after, weak=report["weak_classes"],
        n_train=len(captures.train), n_test=len(captures.heldback),
        seconds=time.perf_counter() - start, train_seconds=train_seconds,
        parity=details.get("parity_max_prob_diff"),
        plot=target / PLOT_NAME if plot is not None else None, data_dir=captures.root,
        compared_with=compared_with, warnings=warnings, captures_report=check.lines(),
        sheet=check.sheet,
    )  # fmt: skip


def read_held_back(captures: Captures) -> tuple[list[np.ndarray], list[int]]:
    """The held-back captures' images (decoded once) and labels."""
    images = [datasets.read_image(p) for p, _ in captures.heldback]
    if any(img is None for img in images):
        raise DatasetError(f"images in {captures.root} changed while reading them: run this again")
    return images, [lab for _, lab in captures.heldback]


def run_report(
    kind: str,
    captures: Captures,
    details: dict,
    compared_with: str,
    before: np.ndarray,
    after: np.ndarray,
) -> dict:
    """What ``personalization.json`` records of a run before the install decision."""
    return {
        "personalized": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "data": str(captures.root),
        **details,
        "train_images": len(captures.train),
        "test_images": len(captures.heldback),
        "held_back": "the latest captures of each class",
        "held_back_files": [p.relative_to(captures.root).as_posix() for p, _ in captures.heldback],
        "compared_with": compared_with,
        "accuracy_before": round(accuracy_of(before), 4),
        "accuracy_after": round(accuracy_of(after), 4),
        "accuracy_floor": ACCURACY_FLOOR,
        "confusion_before": before.tolist(),
        "confusion_after": after.tolist(),
    }


def write_report(staging: Path, report: dict, n_held_back: int) -> Path | None:
    """The before/after plot, ``personalization.json`` and its summary in the candidate's
    metadata, all written into the staging folder; returns the plot (None without matplotlib)."""
    before, after = np.array(report["confusion_before"]), np.array(report["confusion_after"])
    compared_with = report["compared_with"]
    plot = plot_before_after(
        before, after, staging / PLOT_NAME,
        f"your latest {n_held_back} captures (held back from training)",
        (f"in use now ({compared_with.replace('your current ', '')})", "personalised"),
    )  # fmt: skip
    (staging / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
    meta_path = staging / paths.METADATA_NAME
    meta = json.loads(meta_path.read_text())
    summary = {
        k: v for k, v in report.items() if k not in ("held_back_files", "warnings", "captures_read")
    }
    meta["personalization"] = {**meta.get("personalization", {}), **summary}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return plot


def keep_rejected(staging: Path, base: Path) -> Path:
    """A refused candidate, kept as ``<models>/rejected`` (only the latest, for a look; never
    loaded)."""
    target = base / "rejected"
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target
