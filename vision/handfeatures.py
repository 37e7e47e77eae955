"""Hand-landmark features that do not change with rotation, scale or handedness, and the small
numpy head that reads rock, paper or scissors from them. numpy only.

Every feature is an angle or a distance ratio between landmarks, so turning the image, moving
the hand nearer or farther, or mirroring it (a left hand for a right) leaves it unchanged. A
head may also read the landmark network's pooled features of the crop (its ``embedding``),
projected onto a few principal directions: the crop is placed upright from the landmarks, and
the head reads it and its mirrored look alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ModelError

#: Landmark indices: the wrist, then four joints (base to tip) of each finger.
WRIST = 0
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
TIPS = [f[-1] for f in FINGERS]
FEATURES_VERSION = 1


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


#: Each finger's chain from the wrist to its tip, as an index array (5 fingers x 5 points).
_CHAINS = np.array([(WRIST, *f) for f in FINGERS])
_TIP_PAIRS = np.triu_indices(len(TIPS), k=1)


def _bend_cosines(pts: np.ndarray) -> np.ndarray:
    """The cosine of the angle at each finger joint (between the bone in and the bone out),
    (N, 15) in finger order."""
    bones = _unit(np.diff(pts[:, _CHAINS], axis=2))  # (N, 5, 4, D)
    return np.sum(bones[:, :, :-1] * bones[:, :, 1:], axis=-1).reshape(len(pts), -1)


def hand_features(landmarks: np.ndarray) -> np.ndarray:
    """Features of one hand (21, 3) or of many (N, 21, 3); returns (F,) or (N, F) float32."""
    lm = np.asarray(landmarks, dtype=np.float64)
    single = lm.ndim == 2
    if single:
        lm = lm[None]
    if lm.shape[1:] != (21, 3):
        raise ValueError(f"expected landmarks of shape (21, 3), got {lm.shape[1:]}")
    lm = lm - lm[:, :1]  # relative to the wrist
    flat = lm[..., :2]
    # palm size: wrist to the middle finger's base, in 3-D and in the image plane
    scale3 = np.maximum(np.linalg.norm(lm[:, 9], axis=-1), 1e-9)[:, None]
    scale2 = np.maximum(np.linalg.norm(flat[:, 9], axis=-1), 1e-9)[:, None]
    tips3, tips2 = lm[:, TIPS], flat[:, TIPS]
    bases2 = flat[:, _CHAINS[:, 1]]
    i, j = _TIP_PAIRS
    dirs = _unit(tips2 - bases2)  # each finger's base -> tip direction
    palm = _unit(flat[:, 9])[:, None]
    parts = (
        _bend_cosines(lm),  # 5 x 3 joint angles in 3-D
        _bend_cosines(flat),  # and as seen in the image
        np.linalg.norm(tips3, axis=-1) / scale3,  # tip to wrist
        np.linalg.norm(tips2, axis=-1) / scale2,
        np.linalg.norm(tips2 - bases2, axis=-1) / scale2,  # how far each finger reaches out
        np.linalg.norm(tips2[:, i] - tips2[:, j], axis=-1) / scale2,  # tip to tip
        np.linalg.norm(tips3[:, i] - tips3[:, j], axis=-1) / scale3,
        np.sum(dirs[:, :-1] * dirs[:, 1:], axis=-1),  # neighbouring fingers' angles
        np.sum(dirs * palm, axis=-1),  # each finger against the palm
    )
    feats = np.concatenate(parts, axis=1).astype(np.float32)
    return feats[0] if single else feats


#: How many features ``hand_features`` gives (74).
N_HAND_FEATURES = hand_features(np.zeros((21, 3))).size


def project_embeddings(embeddings, mean: np.ndarray, basis: np.ndarray, n: int) -> np.ndarray:
    """``n`` embeddings (N, D) projected on ``basis`` (D, K) after ``mean``; a missing one (None,
    or a row that is not finite: a pass of a network without them) reads as the mean, 0."""
    out = np.zeros((n, basis.shape[1]))
    if embeddings is None:
        return out
    emb = np.asarray(embeddings, np.float64).reshape(n, -1)
    if emb.shape[1] != basis.shape[0]:
        if emb.shape[1] == 0:
            return out
        raise ValueError(f"embeddings have {emb.shape[1]} values, the head wants {basis.shape[0]}")
    ok = np.isfinite(emb).all(axis=1)
    out[ok] = (emb[ok] - mean) @ basis
    return out


def embedding_basis(embeddings: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean (D,) and the ``dims`` principal directions (D, dims) of embeddings (N, D),
    rows that are not finite left out."""
    emb = np.asarray(embeddings, np.float64)
    emb = emb[np.isfinite(emb).all(axis=1)]
    if len(emb) <= dims:
        raise ValueError(f"{len(emb)} embeddings cannot give {dims} principal directions")
    mean = emb.mean(axis=0)
    centred = emb - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    basis = vectors[:, np.argsort(values)[::-1][:dims]]
    basis *= np.where(basis.sum(axis=0) < 0, -1.0, 1.0)  # a fixed sign, for reproducible heads
    return mean, basis


def head_inputs(
    landmarks: np.ndarray,
    embeddings=None,
    embedding_mean: np.ndarray | None = None,
    embedding_basis: np.ndarray | None = None,
) -> np.ndarray:
    """``hand_features`` of hands (N, 21, 3) or one (21, 3), followed, with a basis, by their
    embeddings projected on it (``project_embeddings``)."""
    feats = hand_features(landmarks)
    if embedding_basis is None or embedding_mean is None:
        return feats
    single = feats.ndim == 1
    feats = np.atleast_2d(feats)
    proj = project_embeddings(embeddings, embedding_mean, embedding_basis, len(feats))
    out = np.concatenate([feats, proj.astype(np.float32)], axis=1)
    return out[0] if single else out


@dataclass(frozen=True)
class GestureHead:
    """A small MLP (or, with no hidden layers, logistic regression) over ``hand_features``
    (and, with ``embedding_basis``, the network's embedding projected on it): standardised
    inputs, ReLU hidden layers, softmax over ``classes``."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    embedding_mean: np.ndarray | None = None
    embedding_basis: np.ndarray | None = None

    @property
    def uses_embedding(self) -> bool:
        return self.embedding_basis is not None

    def features(self, landmarks: np.ndarray, embeddings=None) -> np.ndarray:
        """The head's inputs for hands (N, 21, 3) or one (21, 3), with their embeddings (N, D),
        (D,) or None (where the head reads none, or a pass has none)."""
        return head_inputs(landmarks, embeddings, self.embedding_mean, self.embedding_basis)

    def read(self, landmarks: np.ndarray, embeddings=None) -> np.ndarray:
        """Probabilities over ``classes`` for hands (or one hand) and their embeddings."""
        return self.probabilities(self.features(landmarks, embeddings))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b
            if k < len(self.weights) - 1:
                x = np.maximum(x, 0.0)
        x = x - x.max(axis=-1, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)

    def to_metadata(self) -> dict:
        meta: dict = {
            "features_version": FEATURES_VERSION,
            "classes": list(self.classes),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "layers": [
                {"weight": w.tolist(), "bias": b.tolist()}
                for w, b in zip(self.weights, self.biases, strict=True)
            ],
        }
        if self.embedding_basis is not None:
            assert self.embedding_mean is not None
            meta["embedding"] = {
                "mean": self.embedding_mean.tolist(),
                "basis": self.embedding_basis.tolist(),
            }
        return meta

    @classmethod
    def from_metadata(cls, meta: dict, where: str = "the model metadata") -> GestureHead:
        try:
            if int(meta.get("features_version", 1)) != FEATURES_VERSION:
                raise ValueError(
                    f"features version {meta.get('features_version')} is not {FEATURES_VERSION}"
                )
            weights = tuple(np.asarray(layer["weight"], np.float64) for layer in meta["layers"])
            biases = tuple(np.asarray(layer["bias"], np.float64) for layer in meta["layers"])
            emb_mean = emb_basis = None
            if "embedding" in meta:  # older heads read the landmarks alone
                emb_mean = np.asarray(meta["embedding"]["mean"], np.float64)
                emb_basis = np.asarray(meta["embedding"]["basis"], np.float64)
                if emb_basis.ndim != 2 or emb_mean.shape != (emb_basis.shape[0],):
                    raise ValueError(
                        f"embedding basis {emb_basis.shape} does not fit its mean {emb_mean.shape}"
                    )
            head = cls(
                classes=tuple(str(c) for c in meta["classes"]),
                mean=np.asarray(meta["mean"], np.float64),
                scale=np.asarray(meta["scale"], np.float64),
                weights=weights,
                biases=biases,
                embedding_mean=emb_mean,
                embedding_basis=emb_basis,
            )
            n = head.mean.size
            wanted = N_HAND_FEATURES + (0 if emb_basis is None else emb_basis.shape[1])
            if n != wanted:
                raise ValueError(f"{n} inputs, but the features give {wanted}")
            for w, b in zip(weights, biases, strict=True):
                if w.ndim != 2 or w.shape[0] != n or b.shape != (w.shape[1],):
                    raise ValueError(f"layer shapes {w.shape} / {b.shape} do not chain")
                n = w.shape[1]
            if n != len(head.classes) or head.scale.shape != head.mean.shape:
                raise ValueError("the last layer does not give one output per class")
        except (KeyError, TypeError, ValueError) as exc:
            missing = f"the field {exc} is missing" if isinstance(exc, KeyError) else str(exc)
            raise ModelError(
                f"{where}: bad gesture head ({missing}): fit it again with "
                "`python -m training hand`"
            ) from exc
        return head
