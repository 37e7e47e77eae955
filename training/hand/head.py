"""The landmark recogniser's gesture head: fit, presence threshold, leave-one-set-out figures.

The head is a small MLP over ``vision.handfeatures.hand_features`` (rotation-, scale- and
mirror-free) and the landmark network's embedding of the crop projected on its first few
principal directions, fitted with PyTorch on augmented views of every shared set and written
into the recogniser's metadata, where ``vision`` runs it in numpy. A personal refit of a head
with no hidden layer (the shipped one) runs in numpy too, so it needs no PyTorch (the Pi's
install). The presence threshold below which a box reads as ``none`` is chosen on training data
only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from training.hand.data import Landmarks
from vision.handfeatures import GestureHead, embedding_basis, head_inputs
from vision.handrecogniser import MIRROR_MIN_PRESENCE
from vision.labels import CLASS_ORDER, Gesture

log = logging.getLogger(__name__)

NONE_INDEX = Gesture.NONE.index
#: The head's classes: the throws, in the model's numeric order (scissors, rock, paper).
HEAD_CLASSES = tuple(g.value for g in CLASS_ORDER if g.is_throw)
#: Views whose presence is below this are not used to fit the head (their landmarks are noise).
FIT_MIN_PRESENCE = 0.5


@dataclass(frozen=True)
class HeadConfig:
    """The head's shape and schedule. Logistic regression (no hidden layer) generalised best
    leave-one-set-out: mean 0.924, worst set 0.785, against 0.916 / 0.752 for one hidden layer of
    64 or 128 and 0.915 / 0.760 for two (``python -m training hand --hidden ...``).
    ``embedding_dims``: how many principal directions of the network's embedding the head reads
    besides the landmark features (0: none). Leave-one-set-out mean / worst set: 0: 0.9290 /
    0.799, 4: 0.9297 / 0.799, 8: 0.9299 / 0.799, 16: 0.9310 / 0.798, 32: 0.9313 / 0.791 (more
    directions read roboflow-hands and finger-counting better and rps-sxsw's strangers worse);
    8: the best worst set, then the best mean (as ``training.hand.fusion`` ranks its rules). Chosen
    inside each fold on its six training sets instead (by mean), the held-out figures are
    0.9295 / 0.799."""

    hidden: tuple[int, ...] = ()
    embedding_dims: int = 8
    epochs: int = 60
    lr: float = 0.01
    weight_decay: float = 3e-2
    batch_size: int = 256
    seed: int = 0


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    cfg: HeadConfig = HeadConfig(),
    init: GestureHead | None = None,
):
    """A ``GestureHead`` fitted on features (N, F) and numeric throw labels (0-2); classes are
    balanced by weighting. With ``init`` (a head to refit, e.g. on a user's captures) training
    starts from its weights and keeps its input standardisation and embedding projection
    (``features`` then come from ``init.features``). Refitting a head with no hidden layer
    runs in numpy (``refit_linear_head``): no PyTorch needed."""
    if init is not None and len(init.weights) == 1:
        return refit_linear_head(features, labels, cfg, init)
    import torch

    from training.loop import train_one_epoch

    torch.manual_seed(cfg.seed)
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.int64)
    if init is not None:
        if tuple(init.classes) != HEAD_CLASSES:
            raise ValueError(f"the head to refit has classes {init.classes}, not {HEAD_CLASSES}")
        mean, scale = init.mean, init.scale
    else:
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt = torch.tensor((x - mean) / scale, dtype=torch.float32)
    yt = torch.tensor(y)
    counts = np.bincount(y, minlength=len(HEAD_CLASSES)).astype(np.float64)
    weight = torch.tensor(counts.sum() / np.maximum(counts, 1) / len(counts), dtype=torch.float32)
    if init is not None:
        sizes = (x.shape[1], *(w.shape[1] for w in init.weights))
    else:
        sizes = (x.shape[1], *cfg.hidden, len(HEAD_CLASSES))
    net = _head_net(sizes, init)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    ce = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=0.05)
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(xt), generator=gen)
        batches = (
            (xt[idx], yt[idx])
            for idx in (order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size))
        )
        train_one_epoch(net, batches, opt, torch.device("cpu"), lambda out, _x, t: ce(out, t),
                        progress=False)  # fmt: skip
        sched.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    return GestureHead(
        classes=HEAD_CLASSES,
        mean=mean,
        scale=scale,
        weights=tuple(m.weight.detach().double().numpy().T.copy() for m in linears),
        biases=tuple(m.bias.detach().double().numpy().copy() for m in linears),
        embedding_mean=None if init is None else init.embedding_mean,
        embedding_basis=None if init is None else init.embedding_basis,
    )


def _head_net(sizes: tuple[int, ...], init: GestureHead | None):
    """Linear layers of ``sizes`` with ReLU between them; ``init``'s weights copied in."""
    import torch

    layers: list = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    if init is not None:
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for m, w, b in zip(linears, init.weights, init.biases, strict=True):
                m.weight.copy_(torch.tensor(w.T))
                m.bias.copy_(torch.tensor(b))
    return net


def _class_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights that balance the classes (as ``CrossEntropyLoss(weight=...)``)."""
    counts = np.bincount(y, minlength=len(HEAD_CLASSES)).astype(np.float64)
    return (counts.sum() / np.maximum(counts, 1) / len(counts))[y]


def refit_linear_head(
    features: np.ndarray, labels: np.ndarray, cfg: HeadConfig, init: GestureHead
) -> GestureHead:
    """``fit_head`` for a head with no hidden layer, in numpy: the same loss (class-weighted
    cross-entropy, label smoothing 0.05), AdamW, cosine schedule and mini-batches, from
    ``init``'s weights and with its input standardisation (the Pi refits with this)."""
    if tuple(init.classes) != HEAD_CLASSES:
        raise ValueError(f"the head to refit has classes {init.classes}, not {HEAD_CLASSES}")
    x = (np.asarray(features, np.float64) - init.mean) / init.scale
    y = np.asarray(labels, np.int64)
    k = len(HEAD_CLASSES)
    target = np.full((len(y), k), 0.05 / k)
    target[np.arange(len(y)), y] += 0.95
    sample_weight = _class_weights(y)
    params = [init.weights[0].copy(), init.biases[0].copy()]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    rng = np.random.default_rng(cfg.seed)
    step = 0
    for epoch in range(cfg.epochs):
        lr = cfg.lr * (1 + np.cos(np.pi * epoch / cfg.epochs)) / 2
        order = rng.permutation(len(x))
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            w, b = params
            logits = x[idx] @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            sw = sample_weight[idx]
            dz = (probs - target[idx]) * (sw / sw.sum())[:, None]
            grads = [x[idx].T @ dz, dz.sum(axis=0)]
            step += 1
            for p, g, (m, v) in zip(params, grads, moments, strict=True):
                p *= 1 - lr * cfg.weight_decay
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                m_hat = m / (1 - beta1**step)
                v_hat = v / (1 - beta2**step)
                p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return replace(init, weights=(params[0],), biases=(params[1],))


#: MediaPipe's own default hand-presence threshold; a chosen threshold never goes below it
#: (with only a few empty scenes in the training sets, lower ones look free and are not: an
#: empty wall read as a throw scores a round nobody played, a missed hand only replays it).
MIN_THRESHOLD = MIRROR_MIN_PRESENCE


def choose_threshold(presence: np.ndarray, is_hand: np.ndarray) -> float:
    """The presence threshold (at least ``MIN_THRESHOLD``) that gets the most boxes right on
    training data, hands and empty scenes weighted equally; the middle of the best plateau."""
    presence = np.asarray(presence, np.float64)
    hands, empty = presence[is_hand], presence[~is_hand]
    if len(empty) == 0 or len(hands) == 0:
        return MIN_THRESHOLD
    grid = np.linspace(MIN_THRESHOLD, 0.99, 50)
    score = [(hands >= t).mean() + (empty < t).mean() for t in grid]
    best = max(score)
    # the middle of the best plateau, so that neither side sits on its edge
    ties = [t for t, s in zip(grid, score, strict=True) if s >= best - 1e-9]
    return float(np.median(ties))


def read_views(
    head: GestureHead, threshold: float, marks: Landmarks
) -> tuple[np.ndarray, np.ndarray]:
    """Numeric labels (0-3) for views, ``none`` below the presence threshold, else the head's
    (its mean over the view and the mirrored look, as the recogniser reads a still box); and
    the head's probability of its throw (0 where no hand was found)."""
    out = np.full(len(marks), NONE_INDEX, np.int64)
    confidence = np.zeros(len(marks))
    found = marks.presence >= threshold
    if found.any():
        plain = head.read(marks.landmarks[found], marks.embedding[found])
        probs = (
            plain + head.read(marks.mirror_landmarks[found], marks.mirror_embedding[found])
        ) / 2
        classes = np.array([Gesture(c).index for c in head.classes])
        out[found] = classes[np.argmax(probs, axis=1)]
        confidence[found] = probs.max(axis=1)
    return out, confidence


def predict(head: GestureHead, threshold: float, marks: Landmarks) -> np.ndarray:
    """Numeric labels (0-3) for views: ``none`` below the presence threshold, else the head's."""
    return read_views(head, threshold, marks)[0]


@dataclass
class Recipe:
    head: GestureHead
    threshold: float
    fit_views: int


def train_recipe(marks: Landmarks, cfg: HeadConfig = HeadConfig()) -> Recipe:
    """Head and threshold from training views (every view; the threshold from view 0 only)."""
    hand = marks.labels != NONE_INDEX
    fit = hand & (marks.presence >= FIT_MIN_PRESENCE)
    # the embedding's principal directions, from the views the head is fitted on
    mean = basis = None
    if cfg.embedding_dims and marks.embedding.shape[1]:
        mean, basis = embedding_basis(marks.embedding[fit], cfg.embedding_dims)
    feats = head_inputs(marks.landmarks[fit], marks.embedding[fit], mean, basis)
    head = fit_head(feats, marks.labels[fit], cfg)
    head = replace(head, embedding_mean=mean, embedding_basis=basis)
    plain = marks.views == 0
    threshold = choose_threshold(marks.presence[plain], hand[plain])
    return Recipe(head, threshold, int(fit.sum()))


def scores(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Throws right (a missed hand counts wrong), empty scenes read as none, hands found."""
    hand = labels != NONE_INDEX
    out = {"images": int(len(labels)), "throws": int(hand.sum()), "empty": int((~hand).sum())}
    if hand.any():
        out["throw_accuracy"] = float((pred[hand] == labels[hand]).mean())
        out["found"] = float((pred[hand] != NONE_INDEX).mean())
    if (~hand).any():
        out["none_accuracy"] = float((pred[~hand] == NONE_INDEX).mean())
    return out


def held_out_fits(by_set: dict[str, Landmarks], cfg: HeadConfig = HeadConfig()):
    """For each set: ``(name, recipe fitted on the other sets' views, its plain images)``."""
    for held in by_set:
        train = Landmarks.concat([m for name, m in by_set.items() if name != held])
        yield held, train_recipe(train, cfg), by_set[held].select(by_set[held].views == 0)


def leave_one_set_out(by_set: dict[str, Landmarks], cfg: HeadConfig = HeadConfig()) -> dict:
    """For each set: fit on the other sets' views, test on every plain image of that set."""
    report = {}
    for held, recipe, test in held_out_fits(by_set, cfg):
        report[held] = {
            "threshold": recipe.threshold,
            **scores(predict(recipe.head, recipe.threshold, test), test.labels),
        }
        log.info("held out %s: %s", held, report[held])
    return report


def summarise(report: dict) -> dict:
    throws = [r["throw_accuracy"] for r in report.values() if "throw_accuracy" in r]
    empties = [r["none_accuracy"] for r in report.values() if "none_accuracy" in r]
    worst = min(report, key=lambda k: report[k].get("throw_accuracy", 1.0))
    return {
        "mean_throw_accuracy": float(np.mean(throws)),
        "worst_set": worst,
        "worst_throw_accuracy": report[worst]["throw_accuracy"],
        "mean_none_accuracy": float(np.mean(empties)) if empties else None,
    }
