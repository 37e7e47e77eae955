"""Personalising the landmark recogniser (and the fused default): refit the head on your captures.

The landmark network stays as shipped (the personal model names it ``shipped:``, so nothing big
is copied); only the small head is refitted, starting from the shipped head's weights, on the
landmarks of each capture and of augmented views of it. It takes seconds. With empty-scene
captures the presence threshold is chosen again on them and your hands.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.hand.data import extract_items
from training.hand.head import NONE_INDEX, HeadConfig, choose_threshold, fit_head
from vision.errors import DatasetError
from vision.handfeatures import GestureHead
from vision.labels import CLASS_ORDER
from vision.metadata import resolve_asset
from vision.paths import ASSETS_DIR, METADATA_NAME

log = logging.getLogger(__name__)

SHIPPED_HAND = ASSETS_DIR / "hand"
SHIPPED_DEFAULT = ASSETS_DIR / "default"
#: Views per capture (the capture itself and augmented ones) and the refit's schedule.
PERSONAL_VIEWS = 4
PERSONAL_HEAD = HeadConfig(epochs=40, lr=0.003, weight_decay=1e-3)
#: The personal threshold stays within this of the shipped one (a few captures decide less).
THRESHOLD_SHIFT = 0.3


def _shipped(name: str) -> str:
    return name if name.startswith("shipped:") else f"shipped:hand/{name}"


def refit_landmarks(
    train: Sequence[tuple], out_dir: Path, seed: int = 0, base: Path = SHIPPED_HAND
) -> dict:
    """Write a personal landmark recogniser into ``out_dir``; returns the report's details."""
    t0 = time.perf_counter()
    meta = json.loads((base / METADATA_NAME).read_text())
    head = GestureHead.from_metadata(meta["head"], str(base / METADATA_NAME))
    files = [resolve_asset(str(meta[k]), base) for k in ("param", "bin")]
    search = [
        resolve_asset(str(meta[k]), base) for k in ("search_param", "search_bin") if k in meta
    ]
    model = (str(files[0]), str(files[1]), meta["blobs"], *map(str, search))
    items = [(Path(p), int(lab)) for p, lab in train]
    marks = extract_items(items, model, PERSONAL_VIEWS, seed, workers=2, set_name="captures")
    hand = marks.labels != NONE_INDEX
    fit = hand & (marks.presence >= 0.5)
    if fit.sum() < 3 or len(set(marks.labels[fit].tolist())) < 3:
        missing = [
            g.value for g in CLASS_ORDER if g.is_throw and g.index not in set(marks.labels[fit])
        ]
        which = " and ".join(missing) if missing else "rock, paper and scissors"
        raise DatasetError(
            f"the landmark network found too few of your hands to learn from (none in your "
            f"{which} captures): capture {which} again with the whole hand inside the box"
        )
    feats = head.features(marks.landmarks[fit], marks.embedding[fit])
    new_head = fit_head(feats, marks.labels[fit], PERSONAL_HEAD, head)
    plain = marks.views == 0
    threshold = float(meta["presence_threshold"])
    if (~hand[plain]).any():
        chosen = choose_threshold(marks.presence[plain], hand[plain])
        threshold = float(np.clip(chosen, threshold - THRESHOLD_SHIFT, threshold + THRESHOLD_SHIFT))
    details = {
        "base": str(base),
        "views": PERSONAL_VIEWS,
        "fit_views": int(fit.sum()),
        "hands_found": round(float((marks.presence[plain & hand] >= threshold).mean()), 4),
        "presence_threshold": round(threshold, 4),
        "head_seconds": round(time.perf_counter() - t0, 1),
    }
    personal = {
        **{k: v for k, v in meta.items() if k not in ("leave_one_set_out", "data")},
        "param": _shipped(str(meta["param"])),
        "bin": _shipped(str(meta["bin"])),
        "presence_threshold": round(threshold, 4),
        "head": new_head.to_metadata(),
        "personalization": details,
    }
    for key in ("search_param", "search_bin"):
        if key in meta:
            personal[key] = _shipped(str(meta[key]))
    for part in ("detector", "edge"):  # the palm detector and the edge reader stay shipped
        if part in meta:
            files = {k: _shipped(str(meta[part][k])) for k in ("param", "bin")}
            personal[part] = {**meta[part], **files}
    if "edge" in meta:  # its head learns this player's far, cut-off and blurred hands and rooms
        from training.hand.edgepersonal import refit_edge

        personal["edge"] = refit_edge(train, personal["edge"], base, seed)
        details["edge"] = personal["edge"]["personalization"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METADATA_NAME).write_text(json.dumps(personal, indent=1) + "\n")
    return details


def refit_fused(
    train: Sequence[tuple], out_dir: Path, seed: int = 0, base: Path = SHIPPED_DEFAULT
) -> dict:
    """A personal default recogniser: the landmark head of ``base`` (a fused model folder)
    refitted into ``hand/``, fused with ``base``'s CNN part by ``base``'s rule."""
    meta = json.loads((base / METADATA_NAME).read_text())
    parts = meta["parts"]
    hand = resolve_asset(str(parts["landmarks"]), base)
    details = refit_landmarks(train, out_dir / "hand", seed, hand)
    parts = {**parts, "landmarks": "hand", "cnn": _absolute(str(parts["cnn"]), base)}
    meta = {**meta, "parts": parts, "personalization": details}
    (out_dir / METADATA_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    return details


def fused_part(base: Path, part: str) -> Path:
    """The folder of a fused model's ``part`` (``landmarks`` or ``cnn``)."""
    meta = json.loads((base / METADATA_NAME).read_text())
    return resolve_asset(str(meta["parts"][part]), base)


def _absolute(name: str, folder: Path) -> str:
    """A part's name that still resolves from another folder (``shipped:`` names do)."""
    return name if name.startswith("shipped:") else str(resolve_asset(name, folder).resolve())
