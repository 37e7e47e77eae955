"""``python -m training views``: leave-one-set-out on views that look like a stranger's box.

Nearly every shared photo is a tight crop of a hand, so the plain leave-one-set-out table cannot
show hands that are never found: small and far, in a corner, cut by the box's edge, close up and
blurred. This builds such views of each held-out photo and reads them with the landmark
recogniser whose head was fitted without that set (the same folds as ``python -m training
hand``), beside the plain table:

- ``far``: the photo shrunk to 20-50% of the box side at a random place (a corner or the top edge
  half of the time) on a real empty scene (best-of-one's walls, finger-counting's offices) or a
  procedural room; a quarter of them on the photo's own scene instead (the photo mirrored and
  blurred to the box), so that the seam's contrast is not the cue;
- ``cut``: the photo at box size, shifted so that 20-45% of it leaves the box at a random edge (the
  hand fills the shared crops, so about as much of the hand leaves), a scene filling the rest;
- ``blur``: zoomed in 1.3-1.8x and blurred along a random direction;
- ``empty``: the scenes alone (``none`` must stay ``none``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing as mp
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from training import synth
from training.config import positive_int
from training.data import read_image
from training.hand.command import TILE, add_data_argument, detector_metadata, load_sets
from training.hand.data import Landmarks
from training.hand.head import NONE_INDEX, HeadConfig, predict, train_recipe
from training.hand.landmarks import HAND_DIR
from vision.errors import RPSError

log = logging.getLogger("training.views")

BOX = 320
VIEW_KINDS = ("far", "cut", "blur")
FAR_SIDE = (0.2, 0.5)
CUT_SHARE = (0.2, 0.45)
ZOOM = (1.3, 1.8)
BLUR_PX = (7, 21)
SCENE_FOLDERS = ("best-of-one/none", "finger-counting/none")


def scene_files(datasets: Path) -> list[Path]:
    """The real empty scenes the views are placed on."""
    files = []
    for rel in SCENE_FOLDERS:
        folder = datasets / rel
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    return files


def scene(rng: np.random.Generator, scenes: list[np.ndarray], side: int = BOX) -> np.ndarray:
    """A ``side`` square of an empty scene: a random square of a real one (2 in 3) or a room."""
    if not scenes or rng.random() < 1 / 3:
        return synth.room(rng, (side, side)).astype(np.uint8)
    img = scenes[int(rng.integers(len(scenes)))]
    h, w = img.shape[:2]
    s = int(min(h, w) * rng.uniform(0.6, 1.0))
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    return cv2.resize(img[y : y + s, x : x + s], (side, side), interpolation=cv2.INTER_AREA)


def _own_scene(photo: np.ndarray, side: int) -> np.ndarray:
    """The photo's own colours and light as a scene: mirrored both ways and blurred to a box."""
    big = cv2.resize(cv2.flip(photo, -1), (side, side), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(big, (0, 0), side / 12)


def _paste(bg: np.ndarray, img: np.ndarray, x: int, y: int) -> np.ndarray:
    """``img`` over ``bg`` with its top-left corner at (x, y), clipped to ``bg``."""
    out = bg.copy()
    h, w = img.shape[:2]
    bh, bw = bg.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, bw), min(y + h, bh)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = img[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def _fit(photo: np.ndarray, long_side: int) -> np.ndarray:
    h, w = photo.shape[:2]
    k = long_side / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)


def far_view(
    photo: np.ndarray, rng: np.random.Generator, scenes: list[np.ndarray], side: int = BOX
) -> np.ndarray:
    small = _fit(photo, int(side * rng.uniform(*FAR_SIDE)))
    h, w = small.shape[:2]
    bg = _own_scene(photo, side) if rng.random() < 0.25 else scene(rng, scenes, side)
    spot = rng.integers(4)  # 0, 1: anywhere; 2: a corner; 3: the top edge
    x, y = int(rng.integers(0, side - w + 1)), int(rng.integers(0, side - h + 1))
    if spot == 2:
        x = 0 if rng.random() < 0.5 else side - w
        y = 0 if rng.random() < 0.5 else side - h
    elif spot == 3:
        y = 0
    return _paste(bg, small, x, y)


def cut_view(
    photo: np.ndarray,
    rng: np.random.Generator,
    scenes: list[np.ndarray],
    side: int = BOX,
    shares: tuple[float, float] = CUT_SHARE,
) -> np.ndarray:
    img = _fit(photo, side)
    h, w = img.shape[:2]
    x, y = (side - w) // 2, (side - h) // 2
    share = rng.uniform(*shares)
    edge = int(rng.integers(4))
    if edge == 0:
        x -= round(share * w)
    elif edge == 1:
        x += round(share * w)
    elif edge == 2:
        y -= round(share * h)
    else:
        y += round(share * h)
    return _paste(scene(rng, scenes, side), img, x, y)


def motion_blur(img: np.ndarray, length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), math.degrees(angle), 1)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    return cv2.filter2D(img, -1, kernel / max(float(kernel.sum()), 1e-6))


def blur_view(photo: np.ndarray, rng: np.random.Generator, side: int = BOX) -> np.ndarray:
    h, w = photo.shape[:2]
    s = max(8, int(min(h, w) / rng.uniform(*ZOOM)))
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    close = cv2.resize(photo[y : y + s, x : x + s], (side, side), interpolation=cv2.INTER_LINEAR)
    return motion_blur(close, int(rng.integers(BLUR_PX[0], BLUR_PX[1] + 1)), rng.uniform(0, np.pi))


def make_view(
    kind: str, photo: np.ndarray | None, rng: np.random.Generator, scenes: list[np.ndarray]
) -> np.ndarray:
    if kind == "far":
        return far_view(photo, rng, scenes)
    if kind == "cut":
        return cut_view(photo, rng, scenes)
    if kind == "blur":
        return blur_view(photo, rng)
    if kind == "empty":
        return scene(rng, scenes)
    if kind == "plain":
        return photo
    raise ValueError(f"unknown view kind {kind!r}")


# --- reading views with a fold's recogniser -----------------------------------------------------

_recogniser = None
_scenes: list[np.ndarray] = []


def _init(meta: dict, scene_paths: list[str]) -> None:
    global _recogniser, _scenes
    from vision.handrecogniser import LandmarkRecogniser

    cv2.setNumThreads(1)
    _recogniser = LandmarkRecogniser(meta, HAND_DIR, threads=1)
    _scenes = [img for img in (read_image(p) for p in scene_paths) if img is not None]


def _read(job: tuple[str, str, int]) -> tuple[int, bool] | None:
    path, kind, seed = job
    photo = read_image(path) if path else None
    if path and photo is None:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(f"{path}|{kind}".encode())])
    view = make_view(kind, photo, rng, _scenes)
    assert _recogniser is not None
    pred = _recogniser(view)
    return pred.label.index, pred.palm_box is not None


def read_jobs(meta: dict, jobs: list, scene_paths: list[str], workers: int) -> list:
    if workers > 1 and len(jobs) > 8:
        with mp.get_context("spawn").Pool(workers, _init, (meta, scene_paths)) as pool:
            return pool.map(_read, jobs, chunksize=8)
    _init(meta, scene_paths)
    return [_read(j) for j in jobs]


def fold_metadata(
    base: dict,
    recipe,
    detector: str | None,
    before_search: bool,
    search_rounds: int | None = None,
    tile: float = TILE,
) -> dict:
    """The shipped recogniser's metadata with a fold's head and threshold, and the detector
    (``None``: no detector; ``"lite"``/``"full"``) and search rounds (None: the base's)."""
    meta = dict(base)
    if search_rounds is not None:
        meta["search_rounds"] = search_rounds
    meta["head"] = recipe.head.to_metadata()
    meta["presence_threshold"] = round(recipe.threshold, 4)
    meta.pop("detector", None)
    # the shipped edge reader saw every set: a fold reads without it (its own leave-one-set-out
    # figures: scripts/measure_edge_reader.py)
    meta.pop("edge", None)
    if detector is not None:
        meta["detector"] = detector_metadata(detector, HAND_DIR, before_search, tile)
    return meta


def sample(marks: Landmarks, count: int, seed: int) -> list[int]:
    """Up to ``count`` plain photos of a set, the same share of each class."""
    plain = np.flatnonzero((marks.views == 0) & (marks.labels != NONE_INDEX))
    if len(plain) <= count:
        return plain.tolist()
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(plain, count, replace=False).tolist())


def _scores(pred: list, labels: list[int]) -> dict:
    ok = [r is not None for r in pred]
    got = np.array([r[0] for r, k in zip(pred, ok, strict=True) if k])
    lab = np.array([x for x, k in zip(labels, ok, strict=True) if k])
    if not len(lab):
        return {}
    hand = lab != NONE_INDEX
    out = {"n": int(len(lab))}
    if hand.any():
        out["throw_accuracy"] = float((got[hand] == lab[hand]).mean())
        out["found"] = float((got[hand] != NONE_INDEX).mean())
    if (~hand).any():
        out["none_accuracy"] = float((got[~hand] == NONE_INDEX).mean())
    return out


def evaluate(
    by_set: dict[str, Landmarks],
    base: dict,
    scene_paths: list[str],
    detector: str | None,
    before_search: bool,
    per_set: int,
    empties: int,
    seed: int,
    workers: int,
    kinds: tuple[str, ...] = VIEW_KINDS,
    search_rounds: int | None = None,
    only: tuple[str, ...] = (),
    tile: float = TILE,
) -> dict:
    """Per held-out set (or those in ``only``): the plain table (cached readings, re-read
    where the box pass was weak and the finder may differ) and the views' figures."""
    report = {}
    for held in by_set:
        if only and held not in only:
            continue
        t0 = time.perf_counter()
        train = Landmarks.concat([m for name, m in by_set.items() if name != held])
        recipe = train_recipe(train, HeadConfig())
        meta = fold_metadata(base, recipe, detector, before_search, search_rounds, tile)
        test = by_set[held].select(by_set[held].views == 0)
        plain = predict(recipe.head, recipe.threshold, test)
        redo = test.first_presence < float(base.get("weak_presence", 0.5))
        if detector is None and search_rounds in (None, 2):
            redo[:] = False  # the cached readings are this recogniser's own
        weak = np.flatnonzero(redo)
        picks = sample(by_set[held], per_set, seed)
        jobs = [(str(test.files[i]), "plain", seed) for i in weak]
        for kind in kinds:
            jobs += [(str(by_set[held].files[i]), kind, seed) for i in picks]
        jobs += [("", "empty", seed + k) for k in range(empties)]
        out = read_jobs(meta, jobs, scene_paths, workers)
        for i, r in zip(weak, out[: len(weak)], strict=True):
            if r is not None:
                plain[i] = r[0]
        rest = out[len(weak) :]
        row = {"plain": _scores([(int(p), False) for p in plain], test.labels.tolist())}
        labels = [int(by_set[held].labels[i]) for i in picks]
        for k, kind in enumerate(kinds):
            part = rest[k * len(picks) : (k + 1) * len(picks)]
            row[kind] = _scores(part, labels)
            row[kind]["palm"] = float(np.mean([r[1] for r in part if r is not None] or [0]))
        row["empty"] = _scores(rest[len(kinds) * len(picks) :], [NONE_INDEX] * empties)
        report[held] = row
        log.info("%s (%.0f s): %s", held, time.perf_counter() - t0, json.dumps(row))
    return report


def table(report: dict, kinds: tuple[str, ...] = ("plain", *VIEW_KINDS)) -> str:
    lines = [f"{'set':16s} " + " ".join(f"{k:>12s}" for k in kinds) + "  empty none"]
    for name, row in report.items():
        cells = [f"{row[k].get('throw_accuracy', float('nan')):.3f}" for k in kinds]
        cells = [f"{c:>12s}" for c in cells]
        lines.append(f"{name:16s} " + " ".join(cells) + f"  {row['empty']['none_accuracy']:.3f}")
    worst = {k: min(r[k].get("throw_accuracy", 1.0) for r in report.values()) for k in kinds}
    mean = {k: float(np.mean([r[k]["throw_accuracy"] for r in report.values()])) for k in kinds}
    lines.append(f"{'mean':16s} " + " ".join(f"{mean[k]:>12.3f}" for k in kinds))
    lines.append(f"{'worst':16s} " + " ".join(f"{worst[k]:>12.3f}" for k in kinds))
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_argument(p)
    p.add_argument(
        "--detector",
        choices=("none", "lite", "full"),
        default="lite",
        help="the palm detector the recogniser uses (none: the box pass and search crops only)",
    )
    p.add_argument(
        "--after-search",
        action="store_true",
        help="run the detector after the search crops, not before them",
    )
    p.add_argument(
        "--search-rounds",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="rounds of search crops a weak box gets (default: the shipped metadata's)",
    )
    p.add_argument(
        "--tile",
        type=float,
        default=TILE,
        help="the side of the box's four corner squares the detector looks again in, for a "
        "small hand (a fraction of the box; 0: it does not)",
    )
    p.add_argument(
        "--only", nargs="+", default=[], help="hold out only these sets (names of data folders)"
    )
    p.add_argument("--per-set", type=positive_int, default=150, help="photos a set gets views of")
    p.add_argument("--empties", type=positive_int, default=100, help="empty scenes a fold reads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=2)
    p.add_argument("--cache", type=Path, default=Path("runs/hand-cache"))
    p.add_argument("--json", type=Path, default=None, help="write the report here as JSON")


def main(args: argparse.Namespace) -> int:
    try:
        by_set = load_sets(args.data, "full", args.cache, 3, args.workers)
        base = json.loads((HAND_DIR / "model.json").read_text())
    except (RPSError, OSError, ValueError) as exc:
        print(f"views: {exc}", file=sys.stderr)
        return 2
    datasets = Path(args.data[0]).parent if args.data else Path("../shared/datasets")
    scenes = [str(p) for p in scene_files(datasets)]
    detector = None if args.detector == "none" else args.detector
    report = evaluate(
        by_set, base, scenes, detector, not args.after_search, args.per_set, args.empties,
        args.seed, args.workers, search_rounds=args.search_rounds,
        only=tuple(args.only), tile=args.tile,
    )  # fmt: skip
    print(table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0
