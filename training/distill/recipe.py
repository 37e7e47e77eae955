"""The whole recipe, cached step by step under ``--out``: views, the teacher's soft targets, the
student; the result and the student's checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from training.data import source_key
from training.distill.config import NONE, DistillConfig
from training.distill.data import dataset_split, load_images, make_views
from training.distill.student import accuracy, train_student
from training.distill.teacher import (
    TEACHER_MEAN,
    TEACHER_NORM,
    load_teacher,
    teacher_head,
    teacher_logits,
    teacher_trunk,
    train_teacher,
    trunk_features,
)
from training.evaluate import predict_classes
from vision.labels import CLASS_ORDER
from vision.preprocess import Preprocessing

log = logging.getLogger(__name__)


def run(cfg: DistillConfig) -> dict:
    """The views, the teacher's soft targets and the student, each cached under ``cfg.out``;
    returns the result (also ``result.json``) and writes the student's ``model.pt``."""
    import torch

    from training.checkpoint import save_checkpoint

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    train_items, tests = _sets(cfg)

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
    soft, teacher_scores = _soft_targets(cfg, views, view_labels, test_images, out)

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


def _sets(cfg: DistillConfig) -> tuple[list, dict]:
    """The training items of every set, and the test items by name: each set's test split,
    the cross-domain sets whole, and (where some share a source photo with a training crop, as
    rps-sxsw's do) the test items that share none, reported apart."""
    train_items, tests = [], {}
    for root in cfg.datasets:
        tr, te = dataset_split(root, cfg.seed)
        train_items += tr
        tests[Path(root).name] = te
    for root in cfg.cross:
        tr, te = dataset_split(root, cfg.seed)
        tests[Path(root).name + " (cross-domain, all)"] = tr + te
    train_sources = {source_key(p) for p, _ in train_items}
    for name, items in list(tests.items()):
        clean = [it for it in items if source_key(it[0]) not in train_sources]
        if 0 < len(clean) < len(items):
            tests[name + " (no shared source photo)"] = clean
    return train_items, tests


def _soft_targets(cfg: DistillConfig, views, view_labels, test_images: dict, out: Path):
    """The teacher's logits on every view (cached in ``teacher_logits.npy``) and its test
    scores: the teacher's late blocks and head fitted on the frozen trunk's features first;
    zeros and no scores with ``--no-teacher`` (hard labels only)."""
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
    return soft, teacher_scores
