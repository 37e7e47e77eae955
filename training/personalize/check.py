"""What the model in use reads in the player's captures, before anything is trained: per
class how many it finds a hand in and reads right (the report and the contact sheet), and the
label check (where the shipped default confidently reads a class's captures as another class,
``WrongLabelError`` stops the run before training).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import data as datasets
from training.personalize.captures import (
    SUGGESTED_IMAGES_PER_CLASS,
    Captures,
    Item,
    WrongLabelError,
    collect_command,
)
from training.personalize.store import (
    models_dir_of,
)
from vision import paths
from vision.errors import DatasetError, ModelError
from vision.labels import CLASS_ORDER, Gesture

log = logging.getLogger(__name__)


def model_in_use(models_dir: str | Path | None = None):
    """``(GestureClassifier, description)`` of the model the game would load now."""
    from vision.classifier import GestureClassifier

    active = models_dir_of(models_dir) / "active"
    if (active / paths.METADATA_NAME).is_file():
        try:
            return GestureClassifier(active), "your current personal model"
        except ModelError as exc:
            log.warning(
                "the active personal model does not load (%s): comparing with the shipped one", exc
            )
    return GestureClassifier(paths.SHIPPED_DEFAULT_DIR), "the shipped model"


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


def read_with_model_in_use(
    captures: Captures,
    current_model: str | Path | None,
    models_dir: str | Path | None,
    trust_labels: bool,
) -> CaptureCheck:
    """The model in use (or ``current_model``) reads every capture; the per-class report is
    logged, and ``WrongLabelError`` raised where the shipped default confidently reads most of
    a class as another class (unless ``trust_labels``)."""
    from vision.classifier import GestureClassifier

    if current_model is not None:
        current, compared_with = GestureClassifier(current_model), f"the model in {current_model}"
    else:
        current, compared_with = model_in_use(models_dir)
    check = check_captures_readable(captures, current, compared_with)
    for line in check.lines():
        log.info("%s", line)
    if check.problems and not trust_labels:
        raise WrongLabelError(check.refusal())
    return check
