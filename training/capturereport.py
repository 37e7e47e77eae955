"""What the recogniser can and cannot see in the player's captures, class by class.

The model in use reads every capture as the game would. Per class: how many captures it finds
a hand in and how many it reads right, what to do about the rest (hold the hand closer and
keep it in the box, more light, check the label), and the worst few captures drawn in a
contact sheet PNG saved *beside* the capture folder (``<captures>-report.png``; nothing is
written into the capture folder). Where it confidently reads most of a class's captures as
one other class, the captures are probably filed under the wrong label: ``label_problems``
says so, and personalisation installs nothing.

Numpy and OpenCV only (no PyTorch): it runs on the Pi.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.labels import CLASS_ORDER, Gesture

log = logging.getLogger(__name__)

#: A class's captures look like another class when more than this share of them are read as
#: that one class (for a throw: as one other throw), with at least ``WRONG_LABEL_CONFIDENCE``
#: mean confidence. Measured with the shipped default on 50 captures a class of five shared sets
#: (``scripts/measure_label_check.py``): filed right, the largest share of a class read as one
#: other class was 0.00-0.07 on four sets and 0.36 on rps-sxsw (its strangers' rocks read as
#: paper, 0.71 sure); with one class's folder holding another class's captures, the smallest
#: share was 0.94-1.00 on four sets and 0.56 on rps-sxsw (README, "Wrong labels").
WRONG_LABEL_SHARE = 0.5
WRONG_LABEL_CONFIDENCE = 0.6
#: Mean grey level (0-255) under which a capture counts as dark. Of the 50 first captures a
#: class of the shared sets the darkest is 51.5 (finger-counting's empty office); best-of-one
#: at a third of its light (``tests/test_hand_personal.py``'s dim room) is about 45-50.
DARK_LEVEL = 50
#: A failure is worth advice when it hits at least this share of a class's captures.
ADVICE_SHARE = 0.1
#: Captures per class shown in the contact sheet (the worst first).
SHEET_WORST = 5
THUMB = 112
_FONT = cv2.FONT_HERSHEY_SIMPLEX

_CLOSER = {
    Gesture.ROCK: "hold your fist closer to the camera",
    Gesture.PAPER: "hold your open hand closer to the camera",
    Gesture.SCISSORS: "hold your two fingers closer to the camera",
}


@dataclass(frozen=True)
class Reading:
    """One capture as the recogniser read it."""

    path: Path
    label: Gesture  # the folder it was filed in
    read: Gesture
    confidence: float
    hand_found: bool | None  # None: the recogniser places no hands (a CNN alone)
    brightness: float  # mean grey level, 0-255

    @property
    def right(self) -> bool:
        return self.read is self.label

    @property
    def dark(self) -> bool:
        return self.brightness < DARK_LEVEL


def read_image(classifier, image: np.ndarray):
    """``(prediction, hand found or None)``: the game's reading of a still box, and whether the
    landmark network placed a hand in it (None for a recogniser that places none)."""
    rec = getattr(classifier, "recogniser", None)
    landmarks = getattr(rec, "landmarks", None)  # the fused recogniser's landmark part
    if landmarks is not None and hasattr(rec, "read"):
        prediction, hand = rec.read(image)
        return prediction, hand.presence >= landmarks.threshold
    prediction = classifier(image)
    if rec is not None and hasattr(rec, "threshold"):
        return prediction, prediction.presence >= rec.threshold
    return prediction, None


def read_captures(
    classifier, items: Sequence[tuple[Path, int]], read: Callable[[Path], np.ndarray | None]
) -> list[Reading]:
    """Every capture (``(path, class index)``, decoded by ``read``, one at a time) as
    ``classifier`` reads it; a capture that no longer decodes is left out."""
    out = []
    for path, label in items:
        image = read(path)
        if image is None:
            continue
        prediction, found = read_image(classifier, image)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        out.append(
            Reading(
                Path(path),
                CLASS_ORDER[label],
                prediction.label,
                float(prediction.confidence),
                None if found is None else bool(found),
                float(grey.mean()),
            )
        )
    return out


@dataclass
class ClassReport:
    """One class's captures as read: counts, what they were read as, advice."""

    gesture: Gesture
    readings: list[Reading]
    advice: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.readings)

    @property
    def right(self) -> int:
        return sum(r.right for r in self.readings)

    @property
    def found(self) -> int | None:
        if any(r.hand_found is None for r in self.readings):
            return None
        return sum(bool(r.hand_found) for r in self.readings)

    @property
    def dark(self) -> int:
        return sum(r.dark for r in self.readings)

    def read_as(self) -> Counter:
        """How many captures were read as each other class."""
        return Counter(r.read for r in self.readings if not r.right)

    def line(self) -> str:
        """``rock: 48 of 50 read right, a hand found in 49`` (the empty scene: no hand)."""
        text = f"{self.gesture.value}: {self.right} of {self.n} read right"
        found = self.found
        if found is not None:
            if self.gesture is Gesture.NONE:
                text += f", a hand seen in {found}" if found else ", no hand seen in any"
            else:
                text += f", a hand found in {found}"
        return text


def worst_first(readings: Sequence[Reading]) -> list[Reading]:
    """The wrong readings, most telling first: no hand found, then read as another class most
    confidently; right ones are left out."""
    wrong = [r for r in readings if not r.right]
    return sorted(wrong, key=lambda r: (r.hand_found is not False, -r.confidence))


def advise(report: ClassReport) -> list[str]:
    """What to do about a class's failures, by their kind."""
    g, n = report.gesture, max(report.n, 1)
    advice = []
    wrong = [r for r in report.readings if not r.right]
    if g is not Gesture.NONE:
        missed = [r for r in wrong if r.hand_found is False or r.read is Gesture.NONE]
        if len(missed) == report.n:
            advice.append(
                f"no hand found in any: if these are empty scenes, they belong in none/; "
                f"else {_CLOSER[g]}, and keep the whole hand in the box"
            )
        elif len(missed) >= max(1, ADVICE_SHARE * n):
            advice.append(
                f"no hand found in {len(missed)} of {report.n}: {_CLOSER[g]}, "
                "and keep the whole hand in the box"
            )
    elif len(wrong) >= max(1, ADVICE_SHARE * n):
        advice.append(
            f"{len(wrong)} of {report.n} empty scenes read as a hand: take anything hand-like "
            "out of the box, or point the camera elsewhere"
        )
    if report.dark >= max(1, ADVICE_SHARE * n):
        advice.append(f"{report.dark} of {report.n} are dark: more light")
    others = Counter(r.read for r in wrong if r.read is not Gesture.NONE and g is not Gesture.NONE)
    for other, count in others.most_common(1):
        if count > WRONG_LABEL_SHARE * n:
            advice.append(f"{count} read as {other.value}: check the label")
        elif count >= max(1, ADVICE_SHARE * n):
            # a minority misread is what personalising teaches, not a wrong label
            advice.append(
                f"{count} read as {other.value}: personalising teaches it your {g.value}; "
                "show it plainly, from the angle you play at"
            )
    return advice


def class_reports(readings: Sequence[Reading]) -> dict[Gesture, ClassReport]:
    """Each class's readings and advice, in the capture order of the classes."""
    reports = {}
    for g in (Gesture.ROCK, Gesture.PAPER, Gesture.SCISSORS, Gesture.NONE):
        mine = [r for r in readings if r.label is g]
        if mine:
            report = ClassReport(g, mine)
            report.advice = advise(report)
            reports[g] = report
    return reports


def label_problems(reports: dict[Gesture, ClassReport]) -> list[tuple[Gesture, str]]:
    """``(class, line)`` for each class whose captures the recogniser confidently reads as one other
    class (over ``WRONG_LABEL_SHARE`` of them, ``WRONG_LABEL_CONFIDENCE`` sure on average). A throw
    read as no hand is not counted: that is a hand it cannot see (``advise`` says what to do)."""
    problems = []
    for g, report in reports.items():
        read_as = report.read_as()
        if g is not Gesture.NONE:  # a hand not found is a hand it cannot see, not a label
            read_as.pop(Gesture.NONE, None)
        for other, count in read_as.most_common(1):
            sure = np.mean([r.confidence for r in report.readings if r.read is other])
            if count > WRONG_LABEL_SHARE * report.n and sure >= WRONG_LABEL_CONFIDENCE:
                name = "empty-scene (none)" if g is Gesture.NONE else g.value
                look = "an empty scene (none)" if other is Gesture.NONE else other.value
                problems.append(
                    (
                        g,
                        f"your {name} captures look like {look} ({count} of {report.n} read "
                        f"as {other.value}): check the label, or move them to the "
                        f"{other.value} folder",
                    )
                )
    return problems


def format_reports(reports: dict[Gesture, ClassReport]) -> list[str]:
    """The per-class lines with their advice, for a terminal."""
    lines = []
    for report in reports.values():
        lines.append(f"  {report.line()}")
        lines += [f"    - {text}" for text in report.advice]
    return lines


def sheet_path(data_dir: Path) -> Path:
    """Where the contact sheet goes: beside the capture folder, never inside it."""
    data_dir = Path(data_dir).resolve()
    return data_dir.parent / f"{data_dir.name}-report.png"


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale=0.45, colour=(20, 20, 20)):
    cv2.putText(img, text, org, _FONT, scale, colour, 1, cv2.LINE_AA)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _thumb(reading: Reading) -> np.ndarray:
    image = cv2.imread(str(reading.path), cv2.IMREAD_COLOR)
    if image is None:
        return np.full((THUMB, THUMB, 3), 200, np.uint8)
    h, w = image.shape[:2]
    scale = THUMB / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))
    out = np.full((THUMB, THUMB, 3), 235, np.uint8)
    y, x = (THUMB - small.shape[0]) // 2, (THUMB - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def _caption(reading: Reading) -> str:
    if reading.hand_found is False and reading.label is not Gesture.NONE:
        what = "no hand"
    elif reading.read is Gesture.NONE:
        what = "read none"
    else:
        what = f"{reading.read.value} {reading.confidence:.2f}"
    return f"{what}, dark" if reading.dark else what


def contact_sheet(
    reports: dict[Gesture, ClassReport], path: Path, title: str = "", worst: int = SHEET_WORST
) -> Path:
    """Draw each class's line, advice and worst few captures (with what they were read as)
    into a PNG at ``path``; returns ``path``."""
    label_w, cell, caption_h, top = 300, THUMB + 8, 22, 34
    row_h = THUMB + caption_h + 12
    width = label_w + worst * cell + 8
    sheet = np.full((top + row_h * len(reports) + 8, width, 3), 250, np.uint8)
    _text(sheet, title or "What the recogniser reads in your captures", (8, 22), 0.55)
    for i, report in enumerate(reports.values()):
        y0 = top + i * row_h
        cv2.line(sheet, (0, y0), (width, y0), (200, 200, 200), 1)
        ok = report.right == report.n
        colour = (30, 120, 30) if ok else (20, 20, 170)
        _text(sheet, report.line(), (8, y0 + 20), 0.45, colour)
        lines = [wrapped for text in report.advice for wrapped in _wrap(f"- {text}", 42)]
        for k, text in enumerate(lines[:6]):
            _text(sheet, text, (8, y0 + 42 + 17 * k), 0.4)
        shown = worst_first(report.readings)[:worst]
        if not shown:
            _text(sheet, "all read right", (label_w, y0 + 20 + THUMB // 2), 0.5, (30, 120, 30))
        for k, reading in enumerate(shown):
            x = label_w + k * cell
            sheet[y0 + 8 : y0 + 8 + THUMB, x : x + THUMB] = _thumb(reading)
            _text(sheet, _caption(reading), (x, y0 + 8 + THUMB + 16), 0.4, (20, 20, 170))
    path = Path(path)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"cannot write {path}")
    return path
