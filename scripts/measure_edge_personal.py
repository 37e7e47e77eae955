"""Measure the edge reader's personalisation on held-out people (issue 22's proxy).

For each set, a reader head fitted leave one set out (on the other sets' far, cut and blurred
views and empty scenes, as the shipped head was: 150 throw photos a set, their features cached
in ``--cache``, built on the first run in a minute or two) stands for the shipped one, a
stranger to the person; ``training.hand.edgepersonal.refit_edge`` then refits its throws head
on the person's first 50 captures of each class (in capture order), once from the captures' cut
and blurred views only (as before far views were added) and once from all of
``edgepersonal.VIEWS``. They read views of the person's later frames (captures 75-174 of each
class; empty ones as they are), one kind at a time, the reader alone on every view: sure throws
right and wrong, and empty scenes read as a throw. For the far views the shipped recogniser's
finders (box pass, search, palm detector and its corner tiles) also read each view: the far
hands they miss are the ones the reader answers for in play, and its figures there are printed
too (``--no-finders`` skips that, a pass or more a view).

    python scripts/measure_edge_personal.py [--sets best-of-one rps-cv ...] [--views far cut blur]
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
from training.hand.edge import Views, fit_head, head_metadata  # noqa: E402
from training.hand.edgepersonal import NONE, VIEWS, capture_views, refit_edge  # noqa: E402
from training.hand.views import VIEW_KINDS  # noqa: E402
from training.personalize import ordered_images  # noqa: E402
from vision.classifier import GestureClassifier  # noqa: E402
from vision.edge import EdgeReader  # noqa: E402
from vision.labels import CLASS_ORDER, Gesture  # noqa: E402

HAND = ROOT / "assets" / "hand"
DATA = ROOT.parent / "shared" / "datasets"
#: the sets with 50 captures of every throw (a person, or many for rps-sxsw)
SETS = ("best-of-one", "rps-cv", "hands-subhih", "rps-sxsw")


def stranger_cache(path: Path, per_set: int = 150, empties: int = 400) -> dict:
    """Every set's views (``per_set`` throw photos a set, seeded, in each view kind) and
    ``empties`` training empty scenes: their set, label and the reader's trunk features."""
    if path.is_file():
        return dict(np.load(path))
    reader = EdgeReader(json.loads((HAND / "model.json").read_text())["edge"], HAND, threads=2)
    views = Views(DATA)
    rng = np.random.default_rng(0)
    sets, labels, feats = [], [], []
    for name in DEFAULT_SETS:
        photos = [(p, g.index) for g in CLASS_ORDER if g is not Gesture.NONE
                  and (DATA / name / g.value).is_dir()
                  for p in ordered_images(DATA / name / g.value)]  # fmt: skip
        for i in sorted(rng.choice(len(photos), min(per_set, len(photos)), replace=False)):
            for kind in VIEW_KINDS:
                view = views.view(str(photos[i][0]), kind, 0)
                if view is not None:
                    sets.append(name)
                    labels.append(photos[i][1])
                    feats.append(reader.features(view))
        print(f"cache: {name} read", flush=True)
    for k in range(empties):
        sets.append("empty-train")
        labels.append(NONE)
        feats.append(reader.features(views.view("", "empty-train", k)))
    d = {"set": np.array(sets), "label": np.array(labels), "imagenet": np.stack(feats)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)
    return d


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
    if not len(labels):
        return "no views"
    p = np.stack([reader.read_features(f) for f in features])
    top = p.argmax(1)
    said = (p.max(1) >= reader.floor) & (top != NONE)
    hand = labels != NONE
    text = (
        f"{hand.sum()} hands: sure right {(said & (top == labels)).sum()}, "
        f"wrong {(said & (top != labels) & hand).sum()}"
    )
    if (~hand).any():
        text += f"; {(~hand).sum()} empty, read as a throw {(said & ~hand).sum()}"
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=list(SETS))
    p.add_argument("--views", nargs="+", default=["far", "cut", "blur"], choices=VIEWS)
    p.add_argument("--no-finders", action="store_true")
    p.add_argument("--cache", type=Path, default=ROOT / "runs/edge-stranger.npz")
    args = p.parse_args()
    shipped = json.loads((HAND / "model.json").read_text())["edge"]
    finders = None if args.no_finders else GestureClassifier(HAND)
    d = stranger_cache(args.cache)
    for name in args.sets:
        keep = d["set"] != name
        head = head_metadata(*fit_head(d["imagenet"][keep], d["label"][keep]))
        stranger = {**shipped, "head": head}
        caps, later = person(name)
        readers = {"stranger head": EdgeReader(stranger, HAND)}
        for label, kinds in (("cut+blur", ("cut", "blur")), ("+far", VIEWS)):
            personal = refit_edge(caps, stranger, HAND, kinds=kinds)
            print(name, label, personal["personalization"], flush=True)
            readers[f"personal {label}"] = EdgeReader(personal, HAND)
        for kind in args.views:
            views, labels, _ = capture_views(later, 1, (kind,))
            features = np.stack([readers["stranger head"].features(v) for v in views])
            print(f"  {kind} views of later frames:")
            for who, reader in readers.items():
                print(f"    {who:24s} {sure(reader, features, labels)}", flush=True)
            if finders is None or kind != "far":
                continue
            hand = labels != NONE
            found = np.array([h and finders.find(v).label is not Gesture.NONE
                              for v, h in zip(views, hand, strict=True)])  # fmt: skip
            missed = hand & ~found
            print(f"  far views the finders miss: {missed.sum()} of {hand.sum()}")
            for who, reader in readers.items():
                print(f"    {who:24s} {sure(reader, features[missed], labels[missed])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
