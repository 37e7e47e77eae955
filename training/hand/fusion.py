"""``python -m training fusion``: the default recogniser's rule, chosen leave-one-set-out.

For every photo of every shared set it takes the landmark recogniser's reading with a head fitted
without that set (the cached landmarks of ``python -m training hand``) and a CNN's probabilities,
then scores every rule of a grid: the landmark reading where it found the hand; where it did not,
the CNN's throw if some pass saw at least ``min_presence`` of a hand and the CNN is at least
``cnn_min_confidence`` sure; else ``none``; and, where the head is less than ``overrule_below``
sure of its throw, the CNN's other throw when it is that sure. A rule may not call more empty
scenes a throw than the goal allows (or than the landmarks alone do, if they already miss it);
of those, the best worst set wins, then the best mean (ranked on the sets the reading CNN never
saw). ``--write`` puts the chosen rule in the default's metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from training.config import positive_int
from training.data import read_image
from training.hand.command import add_data_argument, load_sets
from training.hand.head import NONE_INDEX, HeadConfig, held_out_fits, read_views, scores
from vision.classifier import GestureClassifier
from vision.errors import RPSError
from vision.metadata import load_metadata
from vision.paths import METADATA_NAME, SHIPPED_DEFAULT_DIR, atomic_write, atomic_write_text

log = logging.getLogger("training.hand.fusion")

#: Empty scenes read as ``none`` that a rule must keep (the recogniser's goal).
NONE_GOAL = 0.98
MIN_PRESENCE_GRID = (0.0, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
CONFIDENCE_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
OVERRULE_GRID = (0.0, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Rule:
    """When the landmark reading is ``none``, the CNN's throw counts if some landmark pass saw
    ``min_presence`` of a hand and the CNN is ``cnn_min_confidence`` sure of it. When the head
    read a throw but is less than ``overrule_below`` sure of it (its own probability among the
    throws), a CNN as sure as that overrules it with another throw."""

    min_presence: float
    cnn_min_confidence: float
    overrule_below: float = 0.0

    def apply(
        self, hand: np.ndarray, presence: np.ndarray, cnn: np.ndarray, head_conf: np.ndarray
    ) -> np.ndarray:
        """Numeric labels from the landmark labels, their presence, the head's confidence and
        the CNN's probabilities."""
        out = np.array(hand, np.int64)
        best = np.argmax(cnn, axis=1)
        throw = (best != NONE_INDEX) & (np.max(cnn, axis=1) >= self.cnn_min_confidence)
        missed = (out == NONE_INDEX) & (presence >= self.min_presence)
        unsure = (out != NONE_INDEX) & (head_conf < self.overrule_below)
        take = throw & (missed | unsure)
        out[take] = best[take]
        return out


LANDMARKS_ALONE = Rule(min_presence=2.0, cnn_min_confidence=2.0)  # never asks the CNN


def _digest(model_dir: Path) -> str:
    meta, folder = load_metadata(model_dir)
    h = hashlib.sha1((folder / meta["bin"]).read_bytes())
    return h.hexdigest()[:12]


def trained_on(model_dir: Path) -> set[str]:
    """The names of the datasets a CNN was trained on (its metadata's recipe)."""
    meta, _ = load_metadata(model_dir)
    return {Path(d).name for d in (meta.get("recipe") or {}).get("datasets", [])}


def cnn_probabilities(model_dir: Path, name: str, files: list[str], cache: Path) -> np.ndarray:
    """The CNN's class probabilities (N, 4) for each photo, cached per model and set."""
    path = cache / f"cnn-{name}-{_digest(model_dir)}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=True)
        if list(data["files"]) == list(files):
            return data["probs"]
    cnn = GestureClassifier(model_dir, threads=2)
    probs = np.stack([cnn(read_image(f)).probs for f in files])  # files the landmarks read
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: np.savez(tmp, files=np.array(files, dtype=object), probs=probs))
    log.info("%s: CNN read %d photos", name, len(files))
    return probs


@dataclass
class HeldOut:
    """One set's photos as the recogniser that never saw them reads them."""

    labels: np.ndarray
    hand: np.ndarray
    presence: np.ndarray
    cnn: np.ndarray
    head_conf: np.ndarray  # the head's probability of its throw (0 where no hand was found)


def held_out_readings(
    by_set: dict, cnn_dir: Path, cache: Path, cnn_for: dict[str, Path] | None = None
) -> dict[str, HeldOut]:
    """Each set read by a landmark head fitted without it and by ``cnn_for[set]`` (a CNN
    trained without it) where given, else by ``cnn_dir``."""
    out = {}
    for name, recipe, test in held_out_fits(by_set, HeadConfig()):
        files = [str(f) for f in test.files]
        hand, head_conf = read_views(recipe.head, recipe.threshold, test)
        out[name] = HeldOut(
            labels=test.labels,
            hand=hand,
            presence=test.presence,
            cnn=cnn_probabilities((cnn_for or {}).get(name, cnn_dir), name, files, cache),
            head_conf=head_conf,
        )
    return out


def evaluate(rule: Rule, data: dict[str, HeldOut]) -> dict:
    return {
        n: scores(rule.apply(d.hand, d.presence, d.cnn, d.head_conf), d.labels)
        for n, d in data.items()
    }


def _rank(report: dict) -> tuple[float, float]:
    throws = [r["throw_accuracy"] for r in report.values() if "throw_accuracy" in r]
    return min(throws), float(np.mean(throws))


def choose_rule(
    data: dict[str, HeldOut], rank_on: set[str] | None = None
) -> tuple[Rule, dict, dict]:
    """(best rule, its report, the landmarks alone's report). Every set's empty scenes must stay
    ``none`` (even where the CNN was trained on them: a CNN that calls walls it has seen a throw
    does worse on walls it has not); the throws of the ``rank_on`` sets (default: all) rank."""
    alone = evaluate(LANDMARKS_ALONE, data)
    floor = {n: min(NONE_GOAL, r["none_accuracy"]) for n, r in alone.items() if r["empty"]}
    ranked = set(data) if not rank_on else set(rank_on)

    def rank(report: dict) -> tuple[float, float]:
        return _rank({n: r for n, r in report.items() if n in ranked})

    best, best_report = LANDMARKS_ALONE, alone
    for p, c, o in itertools.product(MIN_PRESENCE_GRID, CONFIDENCE_GRID, OVERRULE_GRID):
        rule = Rule(p, c, o)
        report = evaluate(rule, data)
        if any(report[n]["none_accuracy"] < f - 1e-9 for n, f in floor.items()):
            continue
        if rank(report) > rank(best_report):
            best, best_report = rule, report
    return best, best_report, alone


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_argument(p)
    p.add_argument(
        "--cnn",
        type=Path,
        default=SHIPPED_DEFAULT_DIR / "cnn",
        help="the CNN part's model folder (default: the default recogniser's, %(default)s)",
    )
    p.add_argument(
        "--held-out-cnn",
        nargs="*",
        default=[],
        metavar="SET=DIR",
        help="a CNN trained without SET (e.g. by distill --cross SET) to read SET with; the "
        "rule is chosen on the sets whose CNN never saw them (its metadata's recipe)",
    )
    p.add_argument("--workers", type=positive_int, default=2)
    p.add_argument("--cache", type=Path, default=Path("runs/hand-cache"))
    p.add_argument(
        "--write",
        type=Path,
        nargs="?",
        const=SHIPPED_DEFAULT_DIR,
        default=None,
        metavar="DIR",
        help="put the chosen rule into DIR's fused metadata (default: assets/default)",
    )


def _line(name: str, r: dict) -> str:
    throws = f"{r['throw_accuracy']:.3f}" if "throw_accuracy" in r else "  -  "
    empty = f"{r['none_accuracy']:.3f}" if "none_accuracy" in r else "  -  "
    return f"{name:16s} throws {throws}  none {empty}"


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cnn_for = {}
    for spec in args.held_out_cnn:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            print(f"fusion: --held-out-cnn takes SET=DIR (e.g. rps-sxsw=runs/cross/export), "
                  f"not {spec!r}", file=sys.stderr)  # fmt: skip
            return 2
        cnn_for[name] = Path(folder)
    if len(args.data) < 2:
        print("fusion: give at least two dataset folders (each is held out in turn)",
              file=sys.stderr)  # fmt: skip
        return 2
    unknown = sorted(set(cnn_for) - {Path(d).name for d in args.data})
    if unknown:
        print(f"fusion: --held-out-cnn names sets not given: {', '.join(unknown)}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        by_set = load_sets(args.data, "full", args.cache, 3, args.workers)
        data = held_out_readings(by_set, args.cnn, args.cache, cnn_for)
    except (RPSError, OSError) as exc:
        print(f"fusion: {exc}", file=sys.stderr)
        return 2
    # only a CNN that never saw a set says honestly what the fusion does there
    cnns = {name: cnn_for.get(name, args.cnn) for name in data}
    strangers = {n: d for n, d in data.items() if n not in trained_on(cnns[n])}
    if not strangers:
        log.warning("every set was trained on by the CNN that reads it: the rule is chosen on "
                    "flattering figures (give --held-out-cnn SET=DIR)")  # fmt: skip
    rule, _, _ = choose_rule(data, set(strangers))
    report, alone = evaluate(rule, data), evaluate(LANDMARKS_ALONE, data)
    print(f"leave-one-set-out: landmarks alone | fused {asdict(rule)}")
    for name in report:
        seen = "" if name in strangers else "  (the CNN was trained on it)"
        print(f"{_line(name, alone[name])}  |  {_line('', report[name]).strip()}  "
              f"CNN {cnns[name]}{seen}")  # fmt: skip
    worst, mean = _rank(report)
    print(f"fused: worst set {worst:.3f}, mean {mean:.3f} "
          f"(landmarks alone {_rank(alone)[0]:.3f}, {_rank(alone)[1]:.3f})")  # fmt: skip
    if args.write is not None:
        path = args.write / METADATA_NAME
        meta = json.loads(path.read_text())
        if meta.get("kind") != "fused":
            print(f"fusion: {path} is not a fused recogniser's metadata", file=sys.stderr)
            return 2
        meta["rule"] = {
            "name": "landmarks where they find the hand; else the CNN's throw when a landmark "
            "pass saw min_presence of a hand and the CNN is cnn_min_confidence sure",
            **asdict(rule),
            "chosen_on": sorted(strangers),  # the sets the reading CNN never saw
            "leave_one_set_out": {
                n: {k: r[k] for k in r if k.endswith("accuracy")} for n, r in report.items()
            },
        }
        atomic_write_text(path, json.dumps(meta, indent=2) + "\n")
        print(f"wrote the rule into {path}")
    return 0
