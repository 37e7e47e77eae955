"""The CNN kind: an exported ncnn classifier called on a BGR image. numpy, OpenCV and ncnn only.

The preprocessing is read from the model's metadata (``vision.preprocess``); per call the image is
cropped/resized once by OpenCV (a view of the caller's array, never copied first) and converted
and normalised by ncnn in C++ (``Mat.from_pixels`` + ``substract_mean_normalize``), which equals
``preprocess.prepare`` to float rounding.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .classifier import Prediction, Recogniser
from .errors import ModelError
from .labels import Gesture
from .ncnnnet import load_net
from .preprocess import Preprocessing, as_bgr, center_crop, fit, resize_to


class _Buffers:
    """Arrays reused from call to call, so that a frame's resize touches no fresh memory."""

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        array = self._arrays.get(shape)
        if array is None:
            if len(self._arrays) > 8:  # frames of ever new sizes: keep the cache small
                self._arrays.clear()
            array = self._arrays[shape] = np.empty(shape, np.uint8)
        return array


def _area_shrink(
    image: np.ndarray, size: tuple[int, int], buffers: _Buffers | None = None
) -> np.ndarray:
    """``preprocess.resize_to`` bit for bit, about twice as fast for odd whole-number factors.

    OpenCV's INTER_AREA has a SIMD path only for factor 2; for an odd factor ``k`` a ``k x k``
    box filter anchored at the block corner, sampled every ``k`` pixels, rounds the same way.
    With ``buffers`` the result lives in a reused array (valid until the next call).
    """
    h, w = size
    k = image.shape[0] // h
    if k >= 3 and k % 2 and image.shape[:2] == (k * h, k * w):
        import cv2

        box = small = None
        if buffers is not None:
            box, small = buffers(image.shape), buffers((h, w, *image.shape[2:]))
        box = cv2.blur(image, (k, k), dst=box, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
        return cv2.resize(box, (w, h), dst=small, interpolation=cv2.INTER_NEAREST)
    return resize_to(image, size)


def fit_fast(bgr: np.ndarray, spec: Preprocessing, buffers: _Buffers | None = None) -> np.ndarray:
    """``preprocess.fit`` (same pixels), cropping without copies and resizing into ``buffers``."""
    if spec.resize == "center_crop":
        h, w = spec.input_size
        crop = center_crop(bgr, w / h)
        if spec.interpolation == "area":
            return _area_shrink(crop, spec.input_size, buffers)
        return resize_to(crop, spec.input_size, spec.interpolation, buffers)
    return fit(bgr, spec)


class CNNRecogniser(Recogniser):
    """``CNNRecogniser(meta, folder)(bgr) -> Prediction``: one ncnn network reads the whole box.

    ``exact=True`` turns off fp16 storage and arithmetic (bit-for-bit comparison with PyTorch);
    the default keeps ncnn's fast path. Safe to call from several threads (calls are serialised).
    """

    kind = "cnn"

    def __init__(self, meta: dict, folder: Path, threads: int = 1, exact: bool = False):
        import ncnn

        self.metadata = meta
        self.folder = folder
        try:
            self.classes = tuple(Gesture.parse(c) for c in meta["classes"])
            self.preprocessing = Preprocessing.from_metadata(meta)
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelError(f"{folder}: bad classes or preprocessing in metadata: {exc}") from exc
        if self.preprocessing.color not in ("RGB", "BGR"):
            raise ModelError(f"{folder}: colour order {self.preprocessing.color!r} is not RGB/BGR")
        self.input_blob = meta.get("input_blob", "in0")
        self.output_blob = meta.get("output_blob", "out0")
        self.outputs_logits = meta.get("output", "logits") == "logits"
        self.threads = threads
        self._lock = threading.Lock()
        self._buffers = _Buffers()  # used under the lock only
        self._input_allocator = ncnn.PoolAllocator()  # input Mats reuse their memory
        self._ncnn = ncnn
        pixel = ncnn.Mat.PixelType
        rgb = self.preprocessing.color == "RGB"
        self._pixel_type = pixel.PIXEL_BGR2RGB if rgb else pixel.PIXEL_BGR
        self._mean = [float(v) for v in self.preprocessing.mean]
        self._norm = [float(v) for v in self.preprocessing.norm]
        self._net = load_net(ncnn, folder / meta["param"], folder / meta["bin"], threads, exact)

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input as (height, width)."""
        return self.preprocessing.input_size

    def _extract(self, mat) -> np.ndarray:
        """The model's raw outputs for an input Mat; the caller holds ``self._lock``."""
        ex = self._net.create_extractor()
        ex.input(self.input_blob, mat)
        ret, out = ex.extract(self.output_blob)
        if ret != 0:
            raise ModelError(f"ncnn extract of {self.output_blob!r} failed ({ret})")
        return np.array(out, dtype=np.float64).reshape(-1)

    def _run(self, mat) -> np.ndarray:
        with self._lock:
            scores = self._extract(mat)
        return self._probabilities(scores)

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        if scores.size != len(self.classes):
            raise ModelError(f"model gives {scores.size} outputs for {len(self.classes)} classes")
        if self.outputs_logits:
            scores = np.exp(scores - scores.max())
            scores /= scores.sum()
        return scores.astype(np.float32)

    def probabilities(self, tensor: np.ndarray) -> np.ndarray:
        """Class probabilities for an already prepared 3xHxW float32 input."""
        tensor = np.ascontiguousarray(tensor, dtype=np.float32)
        # ncnn.Mat borrows ``tensor``; it stays alive in this frame until _run returns.
        return self._run(self._ncnn.Mat(tensor))

    def _pixels_to_mat(self, fitted_bgr: np.ndarray):
        h, w = self.preprocessing.input_size
        if fitted_bgr.shape != (h, w, 3) or fitted_bgr.dtype != np.uint8:
            raise ValueError(f"expected a {h}x{w}x3 uint8 image, got {fitted_bgr.shape}")
        pixels = np.ascontiguousarray(fitted_bgr)
        mat = self._ncnn.Mat.from_pixels(pixels, self._pixel_type, w, h, self._input_allocator)
        mat.substract_mean_normalize(self._mean, self._norm)
        return mat

    def input_tensor(self, image: np.ndarray) -> np.ndarray:
        """The 3xHxW float32 input ``__call__`` feeds the model (equals ``preprocess.prepare``)."""
        return np.array(self._pixels_to_mat(fit_fast(as_bgr(image), self.preprocessing)))

    def fitted_probabilities(self, fitted_bgr: np.ndarray) -> np.ndarray:
        """Class probabilities for a BGR uint8 image already at the model's input size."""
        return self._run(self._pixels_to_mat(fitted_bgr))

    def __call__(self, image: np.ndarray) -> Prediction:
        """Classify a BGR uint8 image of any size (grey and BGRA are converted)."""
        bgr = as_bgr(image)
        with self._lock:  # the reused buffers are shared: fit under the same lock as ncnn
            scores = self._extract(
                self._pixels_to_mat(fit_fast(bgr, self.preprocessing, self._buffers))
            )
        probs = self._probabilities(scores)
        best = int(np.argmax(probs))
        return Prediction(self.classes[best], float(probs[best]), probs)
