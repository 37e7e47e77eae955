"""Landmarks of every photo of the shared sets (and of a user's captures), cached on disk.

Each photo is read as a still box by ``vision.hand.find_hand``; augmented views (flip, rotation,
crop, zoom out, light) are made by warping the photo first. Reading a view takes two or three
passes of the landmark network, so results are cached in one ``.npz`` per (set, views, seed);
the cache is keyed by each file's path and size, so a changed set is read again.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.data import read_image, scan_dataset
from vision.hand import Crop, LandmarkNet, best_pass, find_hand
from vision.handrecogniser import MIRROR_MIN_PRESENCE
from vision.paths import atomic_write
from vision.signals import sigterm_held

log = logging.getLogger(__name__)


@dataclass
class Landmarks:
    """Per view: the set, file, numeric label, view number, landmarks (21, 3) normalised to the
    box (0..1), best presence, the first pass's presence, the number of passes, the mirrored
    look at the best crop (its landmarks, flipped back, and presence; a copy of the landmarks
    and 0 where no hand was found), and the main network's embedding of both looks (float16;
    NaN where that look was not run, or ran on the search network)."""

    sets: np.ndarray
    files: np.ndarray
    labels: np.ndarray
    views: np.ndarray
    landmarks: np.ndarray
    presence: np.ndarray
    first_presence: np.ndarray
    passes: np.ndarray
    mirror_landmarks: np.ndarray
    mirror_presence: np.ndarray
    embedding: np.ndarray
    mirror_embedding: np.ndarray

    @classmethod
    def concat(cls, parts: list[Landmarks]) -> Landmarks:
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in cls.fields()})

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)

    def select(self, mask: np.ndarray) -> Landmarks:
        return Landmarks(**{k: getattr(self, k)[mask] for k in self.fields()})

    def __len__(self) -> int:
        return len(self.labels)


#: Bumped whenever ``augment_view`` changes, so that cached views are read again. 2: the
#: resolution loss and motion blur of cheap webcams.
AUGMENT_VERSION = 2


def augment_view(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random view of a photo: mirrored half the time, turned up to 40 degrees, zoomed from
    0.75x (a tighter box) to 1.4x (the hand smaller, black around), moved, lit differently;
    and, as cheap webcams see a moving hand, a third of the time shot at a lower resolution
    (1.5-4x fewer pixels a side) and a quarter of the time blurred along a random direction."""
    bgr = _webcam(bgr, rng)
    h, w = bgr.shape[:2]
    if rng.random() < 0.5:
        bgr = bgr[:, ::-1]
    angle = rng.uniform(-40, 40)
    zoom = math.exp(rng.uniform(math.log(0.75), math.log(1.4)))
    centre = (w / 2 + rng.uniform(-0.08, 0.08) * w, h / 2 + rng.uniform(-0.08, 0.08) * h)
    m = cv2.getRotationMatrix2D(centre, angle, 1.0 / zoom)
    m[:, 2] += (w / 2 - centre[0], h / 2 - centre[1])
    out = cv2.warpAffine(np.ascontiguousarray(bgr), m, (w, h), borderMode=cv2.BORDER_CONSTANT)
    gain, bias = rng.uniform(0.6, 1.3), rng.uniform(-25, 25)
    return np.clip(out.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def _webcam(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = bgr.shape[:2]
    if rng.random() < 1 / 3:
        k = rng.uniform(1.5, 4.0)
        small = (max(8, round(w / k)), max(8, round(h / k)))
        bgr = cv2.resize(cv2.resize(bgr, small, interpolation=cv2.INTER_AREA), (w, h))
    if rng.random() < 1 / 4:
        length = int(rng.integers(3, 12)) | 1  # odd: centred on the pixel
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0 / length
        turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1)
        kernel = cv2.warpAffine(kernel, turn, (length, length))
        bgr = cv2.filter2D(np.ascontiguousarray(bgr), -1, kernel / max(kernel.sum(), 1e-6))
    return bgr


def read_view(net: LandmarkNet, bgr: np.ndarray, search_net: LandmarkNet | None = None) -> tuple:
    """(landmarks normalised to the box, presence, first pass's presence, passes, mirrored
    landmarks, mirrored presence, embedding, mirrored embedding) of a photo, read as
    ``LandmarkRecogniser`` reads a still box (the mirrored look only where the hand may be
    found: presence >= MIRROR_MIN_PRESENCE). ``net`` should be opened with ``embedding=True``."""
    h, w = bgr.shape[:2]
    passes = find_hand(net, bgr, Crop.box(w, h), search_net=search_net)
    best = best_pass(passes)
    side = max(h, w)  # landmarks as fractions of the photo's long side, from its corner
    lm = (best.landmarks / side).astype(np.float32)
    mirror_lm, mirror_presence, mirror_emb = lm, 0.0, None
    if best.presence >= MIRROR_MIN_PRESENCE:
        mirrored = net(bgr, best.crop, mirror=True)
        mirror_lm = (mirrored.landmarks / side).astype(np.float32)
        mirror_presence, mirror_emb = mirrored.presence, mirrored.embedding
    return (
        lm, best.presence, passes[0].presence, len(passes), mirror_lm, mirror_presence,
        best.embedding, mirror_emb,
    )  # fmt: skip


_worker_net: LandmarkNet | None = None
_worker_search: LandmarkNet | None = None


def _init_worker(model: tuple) -> None:
    """``model``: (param, bin, blobs) and optionally (search param, search bin)."""
    global _worker_net, _worker_search
    cv2.setNumThreads(1)
    _worker_net = LandmarkNet(*model[:3], threads=1, embedding=True)
    _worker_search = LandmarkNet(*model[3:5], model[2], threads=1) if len(model) > 3 else None


def _read_job(job: tuple[str, int, int]):
    path, view, seed = job
    bgr = read_image(path)
    if bgr is None:
        return None
    if view > 0:
        bgr = augment_view(bgr, np.random.default_rng([seed, view, zlib.crc32(path.encode())]))
    assert _worker_net is not None
    return read_view(_worker_net, bgr, _worker_search)


def extract_items(
    items: list[tuple[Path, int]],
    model: tuple[str, str, dict],
    views: int = 1,
    seed: int = 0,
    workers: int = 2,
    set_name: str = "",
) -> Landmarks:
    """Landmarks of ``views`` views (view 0 as is) of each ``(path, label)``."""
    jobs = [(str(p), v, seed) for p, _ in items for v in range(views)]
    labels = [lab for _, lab in items for _ in range(views)]
    t0 = time.perf_counter()
    if workers > 1 and len(jobs) > 8:
        ctx = mp.get_context("spawn")  # fork could copy a held lock of ncnn, torch or OpenCV
        pool = None
        try:
            with sigterm_held():  # a SIGTERM held meanwhile is raised on leaving
                pool = ctx.Pool(workers, _init_worker, (model,))
            results = pool.map(_read_job, jobs, chunksize=16)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    else:
        _init_worker(model)
        results = [_read_job(j) for j in jobs]
    keep = [i for i, r in enumerate(results) if r is not None]
    if len(keep) < len(jobs):
        log.warning("%d unreadable images skipped", (len(jobs) - len(keep)) // max(views, 1))
    log.info(
        "%s: %d views read in %.0f s", set_name or "images", len(jobs), time.perf_counter() - t0
    )
    empty_lm = np.zeros((0, 21, 3), np.float32)
    width = max((r[k].size for r in results if r is not None for k in (6, 7) if r[k] is not None),
                default=0)  # fmt: skip

    def embeddings(k: int) -> np.ndarray:
        out = np.full((len(keep), width), np.nan, np.float16)
        for row, i in enumerate(keep):
            if results[i][k] is not None:
                out[row] = results[i][k]
        return out

    return Landmarks(
        sets=np.array([set_name] * len(keep), dtype=object),
        files=np.array([jobs[i][0] for i in keep], dtype=object),
        labels=np.array([labels[i] for i in keep], np.int64),
        views=np.array([jobs[i][1] for i in keep], np.int64),
        landmarks=np.stack([results[i][0] for i in keep]) if keep else empty_lm,
        presence=np.array([results[i][1] for i in keep], np.float32),
        first_presence=np.array([results[i][2] for i in keep], np.float32),
        passes=np.array([results[i][3] for i in keep], np.int64),
        mirror_landmarks=np.stack([results[i][4] for i in keep]) if keep else empty_lm,
        mirror_presence=np.array([results[i][5] for i in keep], np.float32),
        embedding=embeddings(6),
        mirror_embedding=embeddings(7),
    )


def set_landmarks(
    root: Path,
    model: tuple[str, str, dict],
    cache_dir: Path,
    views: int,
    seed: int = 0,
    workers: int = 2,
    tag: str = "full",
) -> Landmarks:
    """All views of one dataset folder, from the cache when it is still valid."""
    root = Path(root)
    items = [(root / rel, lab) for rel, lab in scan_dataset(root)]
    key = f"{len(items)}-{sum(p.stat().st_size for p, _ in items)}"
    cache = Path(cache_dir) / f"{root.name}-{tag}-v{views}-s{seed}.npz"
    if cache.is_file():
        data = np.load(cache, allow_pickle=True)
        if str(data["key"]) == key and set(Landmarks.fields()) <= set(data.files):
            return Landmarks(**{k: data[k] for k in Landmarks.fields()})
    marks = extract_items(items, model, views, seed, workers, root.name)
    cache.parent.mkdir(parents=True, exist_ok=True)
    fields = {k: getattr(marks, k) for k in Landmarks.fields()}
    atomic_write(cache, lambda tmp: np.savez(tmp, key=key, **fields))
    return marks
