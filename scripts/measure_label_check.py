"""Measure the wrong-label check (``training.capturereport.label_problems``) on the shared sets.

For each set, the model in use (default: the shipped default recogniser) reads the first
``--captures`` (50) images of each class in file order, as ``personalize`` reads a player's
captures (sets without ``none`` get generated empty scenes, as ``measure_personalize.py`` does).
Then, from those readings, without reading anything twice:

- filed right: the largest share of a class read as one other class (for a throw: one other
  throw; a hand not found is a hand it cannot see, not a label) and how sure it was. The check
  must never fire here.
- one class's folder holding another class's captures (every ordered pair of classes but a
  throw's folder holding empty scenes, where no hand is found: the report says so instead):
  the smallest share read as one class other than the folder's. The check must fire on each.

    python scripts/measure_label_check.py                     # the six sets with a rock class
    python scripts/measure_label_check.py --sets rps-sxsw --captures 30
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from measure_personalize import generated_none, sessions  # noqa: E402

from training import capturereport as cr  # noqa: E402
from training.data import read_image  # noqa: E402
from vision.classifier import GestureClassifier  # noqa: E402
from vision.labels import CLASS_ORDER, Gesture  # noqa: E402

SETS = ("best-of-one", "rps-cv", "hands-subhih", "rps-sxsw", "finger-counting")


def set_readings(classifier, set_name: str, n: int) -> dict[Gesture, list[cr.Reading]]:
    """The first ``n`` images a class of the whole set, read (empty scenes generated if none)."""
    files: dict[Gesture, list[Path]] = {}
    for session in sessions(set_name).values():
        for g, paths in session.items():
            files.setdefault(g, []).extend(paths)
    out = {}
    for g in CLASS_ORDER:
        if g in files:
            items = [(p, g.index) for p in files[g][:n]]
            out[g] = cr.read_captures(classifier, items, read_image)
        elif g is Gesture.NONE:
            photos = [p for paths in files.values() for p in paths]
            images = generated_none(set_name, photos, n, 0)
            items = [(Path(f"generated-{i}"), g.index) for i in range(len(images))]
            out[g] = cr.read_captures(
                classifier, items, dict(zip((p for p, _ in items), images, strict=True)).get
            )
    return out


def refiled(readings: list[cr.Reading], folder: Gesture) -> list[cr.Reading]:
    """The readings as if the captures had been filed under ``folder``."""
    return [cr.Reading(r.path, folder, r.read, r.confidence, r.hand_found, r.brightness)
            for r in readings]  # fmt: skip


def worst_share(report: cr.ClassReport) -> tuple[float, float, str]:
    """The largest share of a class read as one other class (as ``label_problems`` counts it),
    the mean confidence of those reads, and that class."""
    read_as = report.read_as()
    if report.gesture is not Gesture.NONE:
        read_as.pop(Gesture.NONE, None)
    if not read_as:
        return 0.0, 0.0, "-"
    other, count = read_as.most_common(1)[0]
    sure = sum(r.confidence for r in report.readings if r.read is other) / count
    return count / report.n, sure, other.value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--captures", type=int, default=50, help="images a class (default 50)")
    parser.add_argument("--model", type=Path, default=None, help="default: the model in use")
    args = parser.parse_args(argv)
    classifier = GestureClassifier(args.model)
    print(f"rule: more than {cr.WRONG_LABEL_SHARE:.2f} of a class read as one other class, "
          f"{cr.WRONG_LABEL_CONFIDENCE:.2f} sure on average")  # fmt: skip
    print("| set | filed right: largest share (class as class, sure) | fired | one folder "
          "holding another's: smallest share (folder holds) | fired on all |")  # fmt: skip
    print("|---|---|---|---|---|")
    for set_name in args.sets:
        by_class = set_readings(classifier, set_name, args.captures)
        right = cr.class_reports([r for rs in by_class.values() for r in rs])
        share, sure, other = max(
            (worst_share(rep) + (g.value,) for g, rep in right.items()), key=lambda t: t[0]
        )[:3]
        worst = max(right, key=lambda g: worst_share(right[g])[0])
        fired = bool(cr.label_problems(right))
        swapped, all_fired = [], True
        for folder in by_class:
            for held in by_class:
                if folder is held or (held is Gesture.NONE and folder.is_throw):
                    continue  # empty scenes under a throw: no hand found, the advice says so
                reports = cr.class_reports(refiled(by_class[held], folder))
                all_fired &= bool(cr.label_problems(reports))
                swapped.append((worst_share(reports[folder])[0], folder.value, held.value))
        low = min(swapped)
        print(f"| `{set_name}` | {share:.2f} ({worst.value} as {other}, {sure:.2f}) | {fired} | "
              f"{low[0]:.2f} ({low[1]} holds {low[2]}) | {all_fired} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
