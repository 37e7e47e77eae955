"""Measure the edge reader's personalisation on held-out people (issue 22's proxy).

For each set, a reader head fitted leave one set out (on the other sets' views in
``runs/edge-reader.npz``, written by ``scripts/measure_edge_reader.py``) stands for the shipped
one, a stranger to the person; ``training.hand.edgepersonal.refit_edge`` then refits its throws head
on the person's first 50 captures of each class (in capture order). Both read cut and blurred
views of the person's later frames (captures 75-174 of each class, empty ones as they are), the
reader alone on every view: sure throws right and wrong, and empty scenes read as a throw.

    python scripts/measure_edge_personal.py [--sets best-of-one rps-cv ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.hand.command import DEFAULT_SETS  # noqa: E402
from training.hand.edge import fit_head, head_metadata  # noqa: E402
from training.hand.edgepersonal import NONE, capture_views, refit_edge  # noqa: E402
from training.personalize import ordered_images  # noqa: E402
from vision.edge import EdgeReader  # noqa: E402
from vision.labels import CLASS_ORDER  # noqa: E402

HAND = ROOT / "assets" / "hand"
DATA = ROOT.parent / "shared" / "datasets"


def person(name: str) -> tuple[list, list]:
    caps, later = [], []
    for g in CLASS_ORDER:
        folder = DATA / name / g.value
        if folder.is_dir():
            files = ordered_images(folder)
            caps += [(p, g.index) for p in files[:50]]
            later += [(p, g.index) for p in files[75:175]]
    return caps, later


def sure(reader: EdgeReader, features: np.ndarray, labels: np.ndarray) -> str:
    p = np.stack([reader.read_features(f) for f in features])
    top = p.argmax(1)
    said = (p.max(1) >= reader.floor) & (top != NONE)
    hand = labels != NONE
    return (
        f"{hand.sum()} hands: sure right {(said & (top == labels)).sum()}, "
        f"wrong {(said & (top != labels) & hand).sum()}; {(~hand).sum()} empty, "
        f"read as a throw {(said & ~hand).sum()}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    p.add_argument("--cache", type=Path, default=ROOT / "runs/edge-reader.npz")
    args = p.parse_args()
    shipped = json.loads((HAND / "model.json").read_text())["edge"]
    d = np.load(args.cache, allow_pickle=True)
    for name in args.sets:
        keep = (d["set"] != name) & (d["set"] != "empty-test")
        head = head_metadata(*fit_head(d["imagenet"][keep], d["label"][keep]))
        stranger = {**shipped, "head": head}
        caps, later = person(name)
        personal = refit_edge(caps, stranger, HAND)
        print(name, personal["personalization"], flush=True)
        views, labels, _ = capture_views(later, 1)
        before, after = EdgeReader(stranger, HAND), EdgeReader(personal, HAND)
        features = np.stack([before.features(v) for v in views])
        print(f"  stranger head: {sure(before, features, labels)}")
        print(f"  personalised:  {sure(after, features, labels)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
