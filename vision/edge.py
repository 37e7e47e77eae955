"""The edge reader: a throw read from the whole box where no finder placed a hand.

Hands cut by the box's edge (fingers and no palm) and close-up blurred ones are found by neither
the landmark passes nor the palm detector. An ImageNet trunk (EfficientNet-Lite0) and a softmax
head read the whole box instead; the landmark recogniser asks it only where it read ``none``, and
takes its throw only when it is at least ``floor`` sure. The trunk is an ncnn network; the head
(one linear layer and a softmax on its pooled features) lives in the metadata, so a head refitted
on a player's captures needs no new network. ``python -m training edge`` builds both and names
them under ``"edge"`` in the landmark model's metadata; older metadata has none.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .errors import ModelError
from .labels import CLASS_ORDER, Gesture

_TODO = "run `python -m training edge` to build it again"


class EdgeReader:
    """``reader(bgr) -> (gesture, confidence)``; ``reader.probs(bgr)`` in ``CLASS_ORDER``.
    Thread-safe (calls serialised)."""

    def __init__(self, meta: dict, folder: Path, threads: int = 1, exact: bool = False):
        from .metadata import resolve_asset
        from .ncnnnet import open_net

        source = folder / "model.json"
        try:
            param = resolve_asset(str(meta["param"]), folder)
            binary = resolve_asset(str(meta["bin"]), folder)
            self._input = str(meta["blobs"]["input"])
            self._output = str(meta["blobs"]["features"])
            self.weights = np.asarray(meta["head"]["weights"], np.float32)
            self.bias = np.asarray(meta["head"]["bias"], np.float32)
            # a player's own reading of throws (personalisation); ``none`` stays the head's
            throws = meta.get("throws_head")
            self.throws = None
            if throws is not None:
                self.throws = (
                    np.asarray(throws["weights"], np.float32),
                    np.asarray(throws["bias"], np.float32),
                )
            self.size = int(meta["size"])
            self._mean = [float(v) for v in meta["mean"]]
            self._norm = [float(v) for v in meta["norm"]]
            classes = tuple(Gesture.parse(c) for c in meta["classes"])
            self.floor = float(meta["floor"])
            self.every = max(1, int(meta.get("every", 1)))
        except KeyError as exc:
            raise ModelError(f"{source}: the edge reader's metadata lacks {exc}: {_TODO}") from exc
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: bad edge reader metadata: {exc}: {_TODO}") from exc
        if set(classes) != set(CLASS_ORDER) or len(classes) != len(CLASS_ORDER):
            raise ModelError(f"the edge reader's classes must be {[g.value for g in CLASS_ORDER]}")
        if self.weights.ndim != 2 or self.weights.shape[1] != len(classes):
            raise ModelError(f"{source}: the edge reader's head is {self.weights.shape}: {_TODO}")
        if self.bias.shape != (len(classes),):
            raise ModelError(f"{source}: the edge reader's bias is {self.bias.shape}: {_TODO}")
        self._order = [classes.index(g) for g in CLASS_ORDER]
        self._none = classes.index(Gesture.NONE)
        self._throws = [i for i in range(len(classes)) if i != self._none]
        if self.throws is not None and (
            self.throws[0].shape != (self.weights.shape[0], len(self._throws))
            or self.throws[1].shape != (len(self._throws),)
        ):
            raise ModelError(f"{source}: the edge reader's throws head does not fit: {_TODO}")
        self._ncnn, self._net = open_net(param, binary, threads, exact, _TODO)
        self._lock = threading.Lock()
        self.passes = 0
        # one look at a grey box at load: a head that does not fit the trunk fails here, named
        grey = self.features(np.full((self.size, self.size, 3), 128, np.uint8))
        if grey.size != self.weights.shape[0]:
            raise ModelError(
                f"{source}: the edge reader's trunk ({param.name}) gives {grey.size} features, "
                f"its head reads {self.weights.shape[0]}: {_TODO}"
            )
        self.passes = 0  # the look at load is not counted

    def probs(self, bgr: np.ndarray) -> np.ndarray:
        """The head's probabilities for the whole box (BGR), in ``CLASS_ORDER``."""
        return self.read_features(self.features(bgr))

    def read_features(self, features: np.ndarray) -> np.ndarray:
        """The head's probabilities (in ``CLASS_ORDER``) for the trunk's pooled features; with
        a throws head, ``none`` is the head's and the throws share the rest as it says."""
        f = np.asarray(features, np.float32)
        p = softmax(f @ self.weights + self.bias)
        if self.throws is not None:
            p[self._throws] = (1.0 - p[self._none]) * softmax(f @ self.throws[0] + self.throws[1])
        return p[self._order]

    def features(self, bgr: np.ndarray) -> np.ndarray:
        """The trunk's pooled features of the whole box (BGR)."""
        import cv2

        if bgr.shape[:2] != (self.size, self.size):
            bgr = cv2.resize(bgr, (self.size, self.size), interpolation=cv2.INTER_AREA)
        pixels = np.ascontiguousarray(bgr)  # ncnn borrows it: kept alive until extract returns
        ncnn = self._ncnn
        with self._lock:
            mat = ncnn.Mat.from_pixels(
                pixels, ncnn.Mat.PixelType.PIXEL_BGR2RGB, self.size, self.size
            )
            mat.substract_mean_normalize(self._mean, self._norm)
            ex = self._net.create_extractor()
            ex.input(self._input, mat)
            ret, out = ex.extract(self._output)
            if ret != 0:
                raise ModelError(f"ncnn extract of {self._output!r} failed ({ret})")
            self.passes += 1
            return np.array(out, dtype=np.float32).reshape(-1)

    def __call__(self, bgr: np.ndarray) -> tuple[Gesture, float, np.ndarray]:
        """Its throw and confidence, ``none`` unless a throw is at least ``floor`` sure; and the
        probabilities."""
        p = self.probs(bgr)
        best = int(np.argmax(p))
        label = CLASS_ORDER[best]
        if label is Gesture.NONE or p[best] < self.floor:
            return Gesture.NONE, float(p[CLASS_ORDER.index(Gesture.NONE)]), p
        return label, float(p[best]), p


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis (one row, or a row per sample)."""
    p = np.exp(z - z.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)
