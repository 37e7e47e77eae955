"""Measure a lever for hands that neither finder finds: a reader of the whole box's embedding.

Cut-off and close-up, blurred hands show no palm, so neither the box pass nor the palm detector
places them. This fits a logistic regression on the landmark network's pooled features of the
whole box (the 1152 values of its first pass, ``LandmarkNet(embedding=True)``) over the cut and
blur views (``training.handviews``) and empty scenes of six sets, and reads the seventh set's
views that the recogniser (its fold's head, with the palm detector) left ``none``: how many it
would read right at each confidence bar, against how many empty scenes it would call a throw.

    python scripts/measure_box_reader.py --per-set 120 --empties 150
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.data import read_image  # noqa: E402
from training.handcmd import load_sets  # noqa: E402
from training.handdata import Landmarks  # noqa: E402
from training.handhead import NONE_INDEX, HeadConfig, train_recipe  # noqa: E402
from training.handviews import fold_metadata, make_view, sample, scene_files  # noqa: E402
from training.landmarks import HAND_DIR  # noqa: E402
from vision.hand import Crop  # noqa: E402

_rec = None
_scenes: list = []


def _init(meta: dict, scene_paths: list[str]) -> None:
    global _rec, _scenes
    import cv2

    from vision.handrecogniser import LandmarkRecogniser

    cv2.setNumThreads(1)
    _rec = LandmarkRecogniser(meta, HAND_DIR, threads=1)
    _scenes = [img for img in (read_image(p) for p in scene_paths) if img is not None]


def _read(job):
    path, kind, seed = job
    photo = read_image(path) if path else None
    rng = np.random.default_rng([seed, zlib.crc32(f"{path}|{kind}".encode())])
    view = make_view(kind, photo, rng, _scenes)
    label = _rec(view).label.index
    box = _rec.net(view, Crop.box(view.shape[1], view.shape[0]))
    return label, box.embedding


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int = 4, epochs: int = 300) -> tuple:
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    w = np.zeros((z.shape[1], classes))
    b = np.zeros(classes)
    onehot = np.eye(classes)[y]
    counts = np.bincount(y, minlength=classes).astype(float)
    weight = (len(y) / (classes * np.maximum(counts, 1)))[y][:, None]
    for _ in range(epochs):
        logits = z @ w + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) * weight / len(y)
        w -= 0.5 * (z.T @ g + 1e-3 * w)
        b -= 0.5 * g.sum(0)
    return mean, std, w, b


def read(model: tuple, x: np.ndarray) -> np.ndarray:
    mean, std, w, b = model
    logits = ((x - mean) / std) @ w + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-set", type=int, default=120)
    ap.add_argument("--empties", type=int, default=150)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("runs/hand-cache"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    datasets = ROOT.parent / "shared" / "datasets"
    sets = [
        "rps-sxsw", "rps-cv", "best-of-one", "hands-subhih",
        "finger-counting", "sign-digits", "roboflow-hands",
    ]  # fmt: skip
    by_set = load_sets([datasets / s for s in sets], "full", args.cache, 3, args.workers)
    base = json.loads((HAND_DIR / "model.json").read_text())
    scenes = [str(p) for p in scene_files(datasets)]
    rows = {}
    for held in by_set:  # the recogniser of each fold reads its own set's views
        train = [m for name, m in by_set.items() if name != held]
        recipe = train_recipe(Landmarks.concat(train), HeadConfig())
        meta = fold_metadata(base, recipe, "lite", True)
        picks = sample(by_set[held], args.per_set, 0)
        jobs = [(str(by_set[held].files[i]), k, 0) for k in ("cut", "blur") for i in picks]
        jobs += [("", "empty", 1000 * (1 + sets.index(held)) + k) for k in range(args.empties)]
        labels = [int(by_set[held].labels[i]) for _ in ("cut", "blur") for i in picks]
        labels += [NONE_INDEX] * args.empties
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.workers, _init, (meta, scenes)) as pool:
            got = pool.map(_read, jobs, chunksize=8)
        rows[held] = {
            "labels": np.array(labels),
            "found": np.array([g[0] for g in got]),
            "emb": np.stack([g[1] for g in got]).astype(np.float32),
        }
        print(held, "views", len(jobs), flush=True)
    report = {}
    for held, row in rows.items():
        x = np.concatenate([r["emb"] for n, r in rows.items() if n != held])
        y = np.concatenate([r["labels"] for n, r in rows.items() if n != held])
        model = fit_logistic(x, y)
        probs = read(model, row["emb"])
        guess, sure = probs.argmax(1), probs.max(1)
        hand = row["labels"] != NONE_INDEX
        missed = hand & (row["found"] == NONE_INDEX)
        empty = ~hand & (row["found"] == NONE_INDEX)
        out = {
            "hand_views": int(hand.sum()),
            "finder_right": int((row["found"][hand] == row["labels"][hand]).sum()),
            "missed": int(missed.sum()),
            "empty": int(empty.sum()),
        }
        for bar in (0.6, 0.7, 0.8, 0.9):
            said = (guess != NONE_INDEX) & (sure >= bar)
            out[f"bar{bar}"] = {
                "missed_read_right": int((said & missed & (guess == row["labels"])).sum()),
                "missed_read_wrong": int((said & missed & (guess != row["labels"])).sum()),
                "empty_called_throw": int((said & empty).sum()),
            }
        report[held] = out
        print(held, json.dumps(out), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
