"""Measure issue 21's last lever: a reader for hands neither finder finds (cut by the box's edge,
close up and blurred, far), fitted on the landmark network's embedding of the whole box.

The box pass already runs the landmark network on the whole box; its pooled features (the
``embedding``) come free. Where the shipped landmark recogniser (box pass, search crops, palm
detector and its corner tiles) reads ``none``, a softmax head on that embedding could still name
the throw. This reads the same far / cut / blur views as ``python -m training views`` (the same
photos and seeds) and empty scenes, keeps each view's shipped reading and box embedding, and then,
leave one set out, fits the head on the other six sets' views and empty scenes and reads the
held-out set's misses with it. Empty scenes are split by file: even-numbered scenes (and
procedural rooms) train, odd-numbered ones test.

    python scripts/measure_edge_reader.py [--per-set 150] [--empties 200] [--workers 2]

Prints per set and view kind the throws read right before and after (at several confidence
floors) and the empty scenes kept ``none``; the readings are cached in ``runs/edge-reader.npz``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.data import read_image  # noqa: E402
from training.hand.command import DEFAULT_SETS, load_sets  # noqa: E402
from training.hand.edge import Views, fit_softmax, softmax, trunk_features  # noqa: E402
from training.hand.edge import make_jobs as view_jobs  # noqa: E402
from training.hand.head import NONE_INDEX  # noqa: E402
from training.hand.landmarks import BLOBS, HAND_DIR  # noqa: E402
from training.hand.views import VIEW_KINDS as KINDS  # noqa: E402
from training.hand.views import sample  # noqa: E402

FLOORS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
ADOPT_FLOOR = 0.8  # the floor the summary reads at

_rec = None
_net = None
_views: Views | None = None


def _init() -> None:
    global _rec, _net, _views
    from vision.hand import LandmarkNet
    from vision.handrecogniser import LandmarkRecogniser

    cv2.setNumThreads(1)
    meta = json.loads((HAND_DIR / "model.json").read_text())
    meta.pop("edge", None)  # the recogniser as it was before the reader: what it leaves none
    _rec = LandmarkRecogniser(meta, HAND_DIR, threads=1)
    files = [str(HAND_DIR / f"hand_landmark_full.ncnn.{e}") for e in ("param", "bin")]
    _net = LandmarkNet(files[0], files[1], BLOBS, threads=1, embedding=True)
    _views = Views(Path("../shared/datasets"))


def _read(job: tuple[str, str, int]):
    from vision.hand import Crop

    view = _views.view(*job)
    if view is None:
        return None
    pred = _rec(view)
    h, w = view.shape[:2]
    box = _net(view, Crop.box(w, h))
    return pred.label.index, float(pred.confidence), float(box.presence), box.embedding


def make_jobs(args) -> tuple[list, list, list]:
    by_set = load_sets(
        [Path("../shared/datasets") / s for s in DEFAULT_SETS], "full", ROOT / "runs/hand-cache",
        3, args.workers,
    )  # fmt: skip
    empties = {"empty-train": args.empties * 2, "empty-test": args.empties}
    return view_jobs(by_set, args.per_set, args.seed, empties)


def read_all(args) -> dict:
    jobs, sets, labels = make_jobs(args)
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(args.workers, _init) as pool:
        out = pool.map(_read, jobs, chunksize=8)
    print(f"{len(jobs)} views read in {time.perf_counter() - t0:.0f} s", flush=True)
    keep = [i for i, r in enumerate(out) if r is not None]
    return {
        "set": np.array([sets[i] for i in keep]),
        "kind": np.array([jobs[i][1] for i in keep]),
        "path": np.array([jobs[i][0] for i in keep]),
        "seed": np.array([jobs[i][2] for i in keep]),
        "label": np.array([labels[i] for i in keep]),
        "pred": np.array([out[i][0] for i in keep]),
        "confidence": np.array([out[i][1] for i in keep], np.float32),
        "presence": np.array([out[i][2] for i in keep], np.float32),
        "embedding": np.stack([out[i][3] for i in keep]).astype(np.float32),
    }


def imagenet_features(d: dict, args) -> np.ndarray:
    """EfficientNet-Lite0's ImageNet features (pooled, 1280) of the same views."""
    views = Views(Path("../shared/datasets"))
    jobs = zip(d["path"], d["kind"], d["seed"], strict=True)
    return trunk_features([views.view(str(p), str(k), int(s)) for p, k, s in jobs], args.workers)


def analyse(d: dict, feature: str, dims: int, l2: float) -> dict:
    """Leave one set out: a softmax head on ``d[feature]``'s first ``dims`` principal
    directions (whitened), fitted on the other sets' views and the training empties, reads the
    held-out set's views that the shipped recogniser left ``none``."""
    sets = [s for s in DEFAULT_SETS if s in set(d["set"])]
    emb = d[feature]
    missed = d["pred"] == NONE_INDEX
    report = {}
    test_empty = d["set"] == "empty-test"
    fired_any = {f: np.zeros(test_empty.sum(), bool) for f in FLOORS}
    for held in sets:
        train = (d["set"] != held) & (d["set"] != "empty-test")
        mean, scale = emb[train].mean(0), emb[train].std(0) + 1e-6
        z = (emb - mean) / scale
        _, _, vt = np.linalg.svd(z[train], full_matrices=False)
        x = z @ vt[:dims].T
        x /= x[train].std(0) + 1e-6
        w, b = fit_softmax(x[train], d["label"][train], 4, l2)
        p = softmax(x @ w + b)
        top, sure = p.argmax(1), p.max(1)
        row = {}
        for kind in KINDS:
            m = (d["set"] == held) & (d["kind"] == kind)
            before = float((d["pred"][m] == d["label"][m]).mean())
            cell = {"n": int(m.sum()), "before": round(before, 3)}
            cell["missed"] = int((m & missed).sum())
            for f in FLOORS:
                fire = m & missed & (top != NONE_INDEX) & (sure >= f)
                right = int((fire & (top == d["label"])).sum())
                cell[f"{f}"] = [right, int(fire.sum()) - right]
            row[kind] = cell
        e = test_empty & missed
        for f in FLOORS:
            fired_any[f] |= (e & (top != NONE_INDEX) & (sure >= f))[test_empty]
        row["empty_fired"] = {
            f"{f}": int((e & (top != NONE_INDEX) & (sure >= f)).sum()) for f in FLOORS
        }
        report[held] = row
    report["empty"] = {
        "n": int(test_empty.sum()),
        "before_none": float((d["pred"][test_empty] == NONE_INDEX).mean()),
        "fired_in_any_fold": {f"{f}": int(v.sum()) for f, v in fired_any.items()},
    }
    return report


def show(report: dict) -> None:
    floors = "  ".join(f"{f:>9}" for f in FLOORS)
    print(f"{'set':16} {'kind':5} {'n':>4} {'before':>6} {'missed':>6}  {floors}   (right/wrong)")
    for held, row in report.items():
        if held == "empty":
            continue
        for kind in KINDS:
            c = row[kind]
            cells = "  ".join(f"{c[str(f)][0]:>4}/{c[str(f)][1]:<4}" for f in FLOORS)
            print(f"{held:16} {kind:5} {c['n']:>4} {c['before']:>6.3f} {c['missed']:>6}  {cells}")
        fired = "  ".join(f"{row['empty_fired'][str(f)]:>9}" for f in FLOORS)
        print(f"{held:16} {'empty':5} {'':>4} {'':>6} {'':>6}  {fired}   (empties fired)")
    print(f"throws right before -> after (floor {ADOPT_FLOOR}):")
    for kind in KINDS:
        cells, total, n = [], 0.0, 0
        for held, row in report.items():
            if held == "empty":
                continue
            c = row[kind]
            after = c["before"] + c[str(ADOPT_FLOOR)][0] / c["n"]
            cells.append(f"{held} {c['before']:.3f} -> {after:.3f}")
            total, n = total + after * c["n"], n + c["n"]
        print(f"  {kind}: " + "; ".join(cells) + f"; all {total / n:.3f}")
    e = report["empty"]
    print(f"empty test scenes {e['n']}, none before {e['before_none']:.3f}; fired in any fold:",
          e["fired_in_any_fold"])  # fmt: skip


def arm_views(args) -> None:
    """Hands pushed 75-90% out of the box at a random edge, a wrist or an arm left in view (the
    scenes of the views): how often the shipped recogniser, its edge reader included, reads a
    throw, and how often that throw came from the edge reader. No right answer: a player whose
    hand is out of the box is better read ``none`` (the round replays) than guessed."""
    from training.hand.views import cut_view
    from vision.classifier import GestureClassifier

    by_set = load_sets(
        [Path("../shared/datasets") / s for s in DEFAULT_SETS], "full", ROOT / "runs/hand-cache",
        3, args.workers,
    )  # fmt: skip
    rec = GestureClassifier(HAND_DIR).recogniser
    scenes = Views(Path("../shared/datasets")).scenes["all"]
    total = [0, 0, 0, 0]
    for name, marks in by_set.items():
        n = fired = edge = same = 0
        for i in sample(marks, args.arms, args.seed):
            photo = read_image(marks.files[i])
            if photo is None:
                continue
            rng = np.random.default_rng([args.seed, i])
            view = cut_view(photo, rng, scenes, shares=(0.75, 0.9))
            found = rec.find(view)
            p = rec.edge_still(view, found)
            n += 1
            if p.label.index != NONE_INDEX:
                fired += 1
                edge += found.label.index == NONE_INDEX
                same += p.label.index == int(marks.labels[i])
        print(f"arms {name:16} {n:4} views: a throw read in {fired} ({edge} by the edge reader), "
              f"{same} of them the photo's own")  # fmt: skip
        total = [t + v for t, v in zip(total, (n, fired, edge, same), strict=True)]
    print(f"arms all: {total[0]} views, a throw in {total[1]} ({total[2]} by the edge reader), "
          f"{total[3]} the photo's own")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-set", type=int, default=150)
    p.add_argument("--empties", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dims", type=int, default=64, help="principal directions the head reads")
    p.add_argument("--l2", type=float, default=1e-3)
    p.add_argument("--cache", type=Path, default=ROOT / "runs/edge-reader.npz")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--arms", type=int, default=0,
        help="also read this many photos a set pushed 75-90%% out of the box (an arm, no hand)",
    )  # fmt: skip
    args = p.parse_args()
    if args.arms:
        arm_views(args)
    if args.cache.is_file():
        data = dict(np.load(args.cache, allow_pickle=True))
    else:
        data = read_all(args)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, **data)
    if "imagenet" not in data:
        data["imagenet"] = imagenet_features(data, args)
        np.savez(args.cache, **data)
    reports = {}
    features = (
        ("embedding", "the landmark network's embedding of the box"),
        ("imagenet", "EfficientNet-Lite0's ImageNet features of the box"),
    )
    for feature, title in features:
        print(f"\n== a head on {title} ({args.dims} directions, l2 {args.l2}) ==")
        reports[feature] = analyse(data, feature, args.dims, args.l2)
        show(reports[feature])
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
