"""The recipe's data: each set's split, the photos, and the augmented views cached as uint8
at the student's input size (made once, in worker processes).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

from training import synth
from training.augment import Augmenter
from training.data import find_test_list, read_image, split_dataset
from training.distill.config import DistillConfig
from vision.preprocess import Preprocessing, fit

log = logging.getLogger(__name__)


def dataset_split(root: str, seed: int) -> tuple[list, list]:
    """(train, test) items with absolute paths; a shipped test list is honoured."""
    root_p = Path(root).resolve()
    split = split_dataset(root_p, 0.2, seed=seed, test_list=find_test_list(root_p))
    return (
        [(str(root_p / rel), lab) for rel, lab in split.train],
        [(str(root_p / rel), lab) for rel, lab in split.test],
    )


def load_images(items: list, max_side: int) -> tuple[list[np.ndarray], list[int]]:
    images, labels = [], []
    for path, label in items:
        img = read_image(path)
        if img is None:
            log.warning("skipping unreadable %s", path)
            continue
        scale = max_side / max(img.shape[:2])
        if scale < 1:
            img = fit(img, Preprocessing(input_size=tuple(round(s * scale) for s in img.shape[:2]),
                                         resize="stretch"))  # fmt: skip
        images.append(img)
        labels.append(label)
    return images, labels


_POOL: dict = {}


def _make_view(task: tuple[int, int, int]) -> np.ndarray:
    index, view, seed = task
    rng = np.random.default_rng([seed, view, index])
    images, augmenter, size = _POOL["images"], _POOL["augmenter"], _POOL["size"]
    if index < len(images):
        img = images[index]
    else:  # a synthetic scene without a hand; half of them from an emptied green table
        greens = _POOL["greens"]
        photo = images[greens[rng.integers(len(greens))]] if greens else None
        img = synth.none_image(rng, (size[0] * 3 // 2, size[1] * 3 // 2), photo)
    return augmenter(img, rng)


def make_views(images: list[np.ndarray], n_none: int, cfg: DistillConfig, path: Path) -> np.ndarray:
    """``views x (images + n_none)`` augmented uint8 BGR views, cached in ``path`` (.npy)."""
    n = len(images) + n_none
    shape = (cfg.views * n, *cfg.input_size, 3)
    if path.exists():
        cached = np.load(path, mmap_mode="r")
        if cached.shape == shape:
            log.info("reusing cached views %s", path)
            return np.asarray(cached)
    spec = Preprocessing(input_size=cfg.input_size)
    _POOL.update(
        images=images,
        augmenter=Augmenter(spec, "full", background_p=0.5),
        size=cfg.input_size,
        greens=[i for i, im in enumerate(images) if synth.is_green_screen(im)],
    )
    tasks = [(i, v, cfg.seed) for v in range(cfg.views) for i in range(n)]
    out = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), "w+", np.uint8, shape)
    t0 = time.time()
    with mp.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        for k, view in enumerate(pool.imap(_make_view, tasks, chunksize=64)):
            out[k] = view
            if k % 5000 == 0:
                log.info("views %d/%d (%.0f s)", k, len(tasks), time.time() - t0)
    out.flush()
    del out
    os.replace(path.with_suffix(".tmp.npy"), path)
    return np.load(path)


def to_tensor_batch(views: np.ndarray, mean, norm, size: int | None = None):
    import cv2
    import torch

    if size is not None and views.shape[1] != size:
        views = np.stack([cv2.resize(v, (size, size), interpolation=cv2.INTER_AREA) for v in views])
    x = views[..., ::-1].astype(np.float32)
    x -= np.asarray(mean, np.float32)
    x *= np.asarray(norm, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
