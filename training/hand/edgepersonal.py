"""Personalising the edge reader: how it reads a player's own throws (numpy and ncnn only).

The edge reader (``vision.edge``) reads the whole box where no finder places a hand; its head
was fitted on other people's hands cut by the box's edge and blurred close up. Here it learns
this player's: each throw capture gives a cut view (pushed 20-45% out of the box at a random
edge, onto the player's own empty-scene captures where there are some), a blurred close-up and
a far view (shrunk to 20-50% of the box, in a corner or anywhere, on those scenes), as ``python
-m training views`` makes them: this player's hands that no finder places, in this room. What
is refitted is a throws head: which throw, given that there is one. Whether there is one
(``none``) stays the shipped head's: refitting that on a player's few empty captures made it
read throws in the same room's later empty frames (best-of-one, held out of the head: 31 to 104
of its later empty views, against none before), and a phantom throw in an empty room is worse
than a missed hand. The personal throws head speaks from ``PERSONAL_FLOOR`` sure, not 0.8.

The trunk stays the shipped one; the throws head starts from the head's throw columns and is
pulled towards them. Never worse on the player's own views: the latest fifth of each class's
captures is held out, a refit on the rest reads their views (and the empty captures'), and the
refit is kept only if it scores better there than the reader in use (a sure throw right +1, a
sure throw wrong -1, a sure throw on an empty scene -3; below the floor it says nothing); then
it is refitted on every capture. The reader is scored alone on every view, not only where the
finders miss (that would take every finder's passes on every view: seconds a capture).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.data import read_image
from vision.edge import EdgeReader, softmax
from vision.labels import CLASS_ORDER, Gesture

from .edge import head_metadata
from .views import make_view

log = logging.getLogger(__name__)

NONE = CLASS_ORDER.index(Gesture.NONE)
THROWS = [g.index for g in CLASS_ORDER if g is not Gesture.NONE]
#: the refit's schedule: Adam steps, step size, and the pull towards the head in use (L2 on the
#: difference, in standardised features)
STEPS = 150
LR = 0.01
PULL = 0.1
HOLD_OUT = 0.2
#: what a sure throw read on an empty scene costs in the held-out score (a right throw: +1)
PHANTOM_COST = 3
#: the views of each throw capture the throws head learns from (``training.hand.views``)
VIEWS = ("cut", "blur", "far")
#: how sure the personal throws head must be of a throw (the shipped reader's floor is 0.8).
#: Sharpened on a player's own throws it reads some faces as a sure fist: best-of-one's later
#: "empty" frames where its player's face peeks in, 6 of 100 at 0.8 (2 without far views, none
#: with the shipped head); at 0.85, with the empty captures' even split, none, and far views
#: still read far better than before (``scripts/measure_edge_personal.py``; README figures)
PERSONAL_FLOOR = 0.85


def capture_views(
    items: Sequence[tuple], seed: int, kinds: Sequence[str] = VIEWS
) -> tuple[list[np.ndarray], np.ndarray, list]:
    """``(views, labels, capture index)``: each throw capture's views of ``kinds`` (on the empty
    scene captures), each empty scene capture as it is; unreadable captures are left out."""
    images = [(read_image(p), int(lab)) for p, lab in items]
    scenes = [img for img, lab in images if img is not None and lab == NONE]
    views, labels, source = [], [], []
    rng = np.random.default_rng(seed)
    for i, (img, lab) in enumerate(images):
        if img is None:
            continue
        made = [img] if lab == NONE else [make_view(k, img, rng, scenes) for k in kinds]
        views += made
        labels += [lab] * len(made)
        source += [i] * len(made)
    return views, np.array(labels, np.int64), source


def fit(
    features: np.ndarray, labels: np.ndarray, weights: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A softmax head ``(weights, bias)`` refitted on ``features`` (labels index its columns;
    the label ``columns`` marks an empty scene, whose target is an even split: no throw stands
    out) from its current values: class-weighted, by Adam on standardised features, pulled
    towards the start."""
    classes = weights.shape[1]
    mean, scale = features.mean(0), features.std(0) + 1e-3
    z = (features - mean) / scale
    v0 = weights * scale[:, None]  # the same head on standardised features
    c0 = bias + mean @ weights
    v, c = v0.copy(), c0.copy()
    counts = np.bincount(labels, minlength=classes + 1).astype(np.float64)
    groups = np.count_nonzero(counts)
    sw = (len(labels) / (groups * np.maximum(counts, 1)))[labels]
    sw /= sw.sum()
    onehot = np.vstack([np.eye(classes), np.full(classes, 1.0 / classes)])[labels]
    moments = [np.zeros_like(v), np.zeros_like(v), np.zeros_like(c), np.zeros_like(c)]
    for t in range(1, STEPS + 1):
        g = (softmax(z @ v + c) - onehot) * sw[:, None]
        grads = (z.T @ g + 2 * PULL * (v - v0), g.sum(0))
        for k, (param, grad) in enumerate(zip((v, c), grads, strict=True)):
            m, s = moments[2 * k], moments[2 * k + 1]
            m[:] = 0.9 * m + 0.1 * grad
            s[:] = 0.999 * s + 0.001 * grad * grad
            param -= LR * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
    weights = v / scale[:, None]
    return weights.astype(np.float32), (c - mean @ weights).astype(np.float32)


def score(probs: np.ndarray, labels: np.ndarray, floor: float) -> int:
    """Sure throws right minus sure throws wrong; one on an empty scene costs ``PHANTOM_COST``."""
    top, sure = probs.argmax(1), probs.max(1)
    said = (top != NONE) & (sure >= floor)
    wrong = said & (top != labels)
    phantom = wrong & (labels == NONE)
    return int((said & (top == labels)).sum() - wrong.sum() - (PHANTOM_COST - 1) * phantom.sum())


def _late(source: list, labels: np.ndarray) -> np.ndarray:
    """The views of the latest ``HOLD_OUT`` of each class's captures (items in capture order)."""
    held = np.zeros(len(labels), bool)
    for lab in set(labels.tolist()):
        caps = sorted({s for s, y in zip(source, labels, strict=True) if y == lab})
        late = set(caps[len(caps) - max(1, round(len(caps) * HOLD_OUT)) :])
        held |= np.array([s in late and y == lab for s, y in zip(source, labels, strict=True)])
    return held


def refit_edge(
    items: Sequence[tuple],
    meta: dict,
    folder: Path,
    seed: int = 0,
    kinds: Sequence[str] = VIEWS,
) -> dict:
    """The edge reader's metadata for this player: ``meta`` with a throws head refitted on the
    captures' ``kinds`` of views (the personal head reads a throw from ``PERSONAL_FLOOR`` sure),
    or as it was where that does not read the held-out captures' views better; what was
    measured under ``"personalization"``."""
    t0 = time.perf_counter()
    if list(meta["classes"]) != [g.value for g in CLASS_ORDER]:
        return {**meta, "personalization": {"refitted": False, "why": "its classes differ"}}
    reader = EdgeReader(meta, folder)
    views, labels, source = capture_views(items, seed, kinds)
    throw = labels != NONE
    if len(set(labels[throw].tolist())) < len(THROWS):
        return {**meta, "personalization": {"refitted": False, "why": "a throw has no captures"}}
    features = np.stack([reader.features(v) for v in views])
    start = reader.throws or (reader.weights[:, THROWS], reader.bias[THROWS])
    w0, b0 = (np.asarray(a, np.float64) for a in start)
    index = np.full(len(CLASS_ORDER), -1)
    index[THROWS] = np.arange(len(THROWS))  # a throw's class -> its column in the throws head
    index[NONE] = len(THROWS)  # an empty scene: an even split (``fit``)
    held = _late(source, labels)
    fit_on = ~held  # the empty captures too: the head learns to say nothing in this room
    trial = fit(features[fit_on], index[labels[fit_on]], w0, b0)
    before = score(np.stack([reader.read_features(f) for f in features[held]]), labels[held],
                   reader.floor)  # fmt: skip
    floor = max(reader.floor, PERSONAL_FLOOR)
    reader.throws, reader.floor = trial, floor
    after = score(np.stack([reader.read_features(f) for f in features[held]]), labels[held],
                  floor)  # fmt: skip
    details = {
        "views": len(views),
        "held_out_views": int(held.sum()),
        "held_out_score_before": before,
        "held_out_score_after": after,
        "refitted": after > before,  # strictly better: a tie keeps the reader in use
    }
    if details["refitted"]:
        w, b = fit(features, index[labels], w0, b0)
        meta = {**meta, "throws_head": head_metadata(w, b), "floor": floor}
    details["seconds"] = round(time.perf_counter() - t0, 1)
    log.info("edge reader: held-out views score %d -> %d; %s", before, after,
             "refitted" if details["refitted"] else "kept as it was")  # fmt: skip
    return {**meta, "personalization": details}
