"""The runtime wrapper: an exported ncnn model called on a BGR image. numpy, OpenCV and ncnn only."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .labels import Gesture
from .paths import METADATA_NAME, default_model_dir
from .preprocess import Preprocessing, prepare


@dataclass(frozen=True)
class Prediction:
    label: Gesture
    confidence: float
    probs: np.ndarray  # in the order of ``GestureClassifier.classes``


def load_metadata(path: str | Path | None = None) -> tuple[dict, Path]:
    """Read a model's metadata from its JSON path or its folder; returns (metadata, folder)."""
    path = Path(path) if path is not None else default_model_dir()
    meta_path = path / METADATA_NAME if path.is_dir() else path
    if not meta_path.is_file():
        raise ModelError(
            f"no model metadata at {meta_path}: pass the folder of an exported model "
            f"or its {METADATA_NAME} (python -m training export writes both)"
        )
    try:
        meta = json.loads(meta_path.read_text())
        for key in ("classes", "input_size", "mean", "norm", "param", "bin"):
            meta[key]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"{meta_path} is not a valid model metadata file: {exc}") from exc
    return meta, meta_path.parent


class GestureClassifier:
    """``GestureClassifier()(bgr) -> Prediction``.

    ``path``: an exported model's folder or metadata JSON; ``None`` loads the active user model
    if one is installed, else the shipped default. ``exact=True`` turns off fp16 storage and
    arithmetic (bit-for-bit comparison with PyTorch); the default keeps ncnn's fast path.
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1, exact: bool = False):
        import ncnn

        meta, folder = load_metadata(path)
        self.metadata = meta
        self.folder = folder
        self.classes = tuple(Gesture.parse(c) for c in meta["classes"])
        self.preprocessing = Preprocessing.from_metadata(meta)
        self.input_blob = meta.get("input_blob", "in0")
        self.output_blob = meta.get("output_blob", "out0")
        self.outputs_logits = meta.get("output", "logits") == "logits"
        self.threads = int(threads)
        self._lock = threading.Lock()
        net = ncnn.Net()
        net.opt.num_threads = self.threads
        net.opt.use_vulkan_compute = False
        if exact:
            net.opt.use_fp16_storage = False
            net.opt.use_fp16_packed = False
            net.opt.use_fp16_arithmetic = False
        param, binary = folder / meta["param"], folder / meta["bin"]
        if net.load_param(str(param)) != 0 or net.load_model(str(binary)) != 0:
            raise ModelError(f"ncnn could not load {param} / {binary}: re-export the model")
        self._net = net

    def probabilities(self, tensor: np.ndarray) -> np.ndarray:
        """Class probabilities for an already prepared 3xHxW float32 input."""
        import ncnn

        tensor = np.ascontiguousarray(tensor, dtype=np.float32)
        with self._lock:
            ex = self._net.create_extractor()
            mat = ncnn.Mat(tensor)  # borrows ``tensor``: keep it alive until extract returns
            ex.input(self.input_blob, mat)
            ret, out = ex.extract(self.output_blob)
            if ret != 0:
                raise ModelError(f"ncnn extract of {self.output_blob!r} failed ({ret})")
            scores = np.array(out, dtype=np.float64).reshape(-1)
        if scores.size != len(self.classes):
            raise ModelError(f"model gives {scores.size} outputs for {len(self.classes)} classes")
        if self.outputs_logits:
            scores = np.exp(scores - scores.max())
            scores /= scores.sum()
        return scores.astype(np.float32)

    def __call__(self, image: np.ndarray) -> Prediction:
        probs = self.probabilities(prepare(image, self.preprocessing))
        best = int(np.argmax(probs))
        return Prediction(self.classes[best], float(probs[best]), probs)
