"""The runtime wrapper: an exported ncnn model called on a BGR image. numpy, OpenCV and ncnn only.

The preprocessing is read from the model's metadata (``vision.preprocess``); per call the image is
cropped/resized once by OpenCV (a view of the caller's array, never copied first) and converted
and normalised by ncnn in C++ (``Mat.from_pixels`` + ``substract_mean_normalize``), which equals
``preprocess.prepare`` to float rounding.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .labels import Gesture
from .ncnnnet import REEXPORT, check_ncnn_files, load_net
from .paths import METADATA_NAME, SHIPPED_DEFAULT_DIR, active_model_dir, default_model_dir
from .preprocess import Preprocessing, center_crop, fit, resize_to, to_bgr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    label: Gesture
    confidence: float
    probs: np.ndarray  # in the order of ``GestureClassifier.classes``
    landmarks: np.ndarray | None = None  # (21, 3) image pixels, from recognisers that place hands


#: Recogniser kinds besides the CNN (metadata ``"kind"``), by the module that opens them.
KINDS = {"landmarks": "vision.handrecogniser", "fused": "vision.fused"}
#: The first line of every ncnn text ``.param`` file.
#: Metadata fields every model needs, and what each one must be.
REQUIRED_FIELDS = {
    "classes": "a list of class names",
    "input_size": "[height, width]",
    "mean": "a list of per-channel means",
    "norm": "a list of per-channel scales",
    "param": "the ncnn .param file name",
    "bin": "the ncnn .bin file name",
}
_REEXPORT = REEXPORT


def load_metadata(path: str | Path | None = None) -> tuple[dict, Path]:
    """Read a model's metadata from its JSON path or its folder; returns (metadata, folder).

    The metadata is checked field by field and the ncnn files it names must exist, be non-empty
    and (the ``.param``) start with ncnn's magic line, so that a broken model is reported by file
    and field here, before ncnn gets to print anything.
    """
    path = Path(path).expanduser() if path is not None else default_model_dir()
    meta_path = path / METADATA_NAME if path.is_dir() else path
    if not meta_path.is_file():
        empty = " (the folder is empty)" if path.is_dir() and not any(path.iterdir()) else ""
        raise ModelError(
            f"no model metadata at {meta_path}{empty}: pass the folder of an exported "
            f"model or its {METADATA_NAME} (python -m training export writes both)"
        )
    try:
        text = meta_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read {meta_path}: {exc}") from exc
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        why = "it is empty" if not text.strip() else f"{exc.msg} at line {exc.lineno}"
        raise ModelError(f"{meta_path} is not valid JSON ({why}): {_REEXPORT}") from exc
    if not isinstance(meta, dict):
        raise ModelError(f"{meta_path} is not a model metadata object: {_REEXPORT}")
    kind = meta.get("kind", "cnn")
    if kind != "cnn":
        if kind not in KINDS:
            raise ModelError(
                f"{meta_path}: unknown recogniser kind {kind!r} (use one of cnn, "
                f"{', '.join(KINDS)}): {_REEXPORT}"
            )
        return meta, meta_path.parent  # each kind checks its own fields and files
    _check_fields(meta, meta_path)
    check_model_files(meta, meta_path.parent, meta_path)
    return meta, meta_path.parent


def _check_fields(meta: dict, meta_path: Path) -> None:
    for key, what in REQUIRED_FIELDS.items():
        if key not in meta:
            raise ModelError(f"{meta_path}: the field {key!r} ({what}) is missing: {_REEXPORT}")
    lists = ("classes", "input_size", "mean", "norm")
    for key in lists:
        if not isinstance(meta[key], list) or not meta[key]:
            raise ModelError(
                f"{meta_path}: the field {key!r} must be {REQUIRED_FIELDS[key]}, "
                f"not {meta[key]!r}: {_REEXPORT}"
            )
    for key in ("param", "bin"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise ModelError(
                f"{meta_path}: the field {key!r} must be {REQUIRED_FIELDS[key]}, "
                f"not {meta[key]!r}: {_REEXPORT}"
            )


def check_model_files(meta: dict, folder: Path, meta_path: Path | None = None) -> None:
    """Raise ``ModelError`` naming the file unless the ``.param`` and ``.bin`` look loadable."""
    source = meta_path or folder / METADATA_NAME
    check_ncnn_files(folder / meta["param"], folder / meta["bin"], _REEXPORT, source)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """3-channel uint8 images pass through untouched (views stay views); others are converted."""
    if (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.size
    ):
        return image
    return to_bgr(image)


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


def _personal_model_installed() -> bool:
    """Something is installed as the active user model (whether or not it loads)."""
    active = active_model_dir()
    try:
        return active.is_dir() and any(active.iterdir())
    except OSError:
        return False


class GestureClassifier:
    """``GestureClassifier()(bgr) -> Prediction``.

    ``path``: an exported model's folder or metadata JSON; ``None`` loads the active user model
    if one is installed, else the shipped default. ``threads``: ncnn's thread count.
    ``exact=True`` turns off fp16 storage and arithmetic (bit-for-bit comparison with PyTorch);
    the default keeps ncnn's fast path. Safe to call from several threads (calls are serialised).
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1, exact: bool = False):
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        #: Which model runs: ``"shipped"``, ``"personal"`` or the explicit path as given.
        self.origin: str
        #: Why the shipped model runs instead of the installed personal one (``None``: it does not).
        self.fallback: str | None = None
        if path is not None:
            self._load(path, int(threads), exact)
            self.origin = str(path)
        elif _personal_model_installed():
            active = active_model_dir()
            try:
                self._load(active, int(threads), exact)
                self.origin = "personal"
            except ModelError as exc:
                problem = str(exc).replace(f": {_REEXPORT}", "")
                self.fallback = (
                    "Your personal model is broken: playing with the shipped model. Run "
                    "'python -m training personalize --reset' (or personalize again)."
                )
                log.warning(
                    "YOUR PERSONAL MODEL IS BROKEN, USING THE SHIPPED MODEL INSTEAD: %s. Run "
                    "'python -m training personalize --reset' to go back to the shipped model "
                    "(or personalize again)",
                    problem,
                )
                self._load(SHIPPED_DEFAULT_DIR, int(threads), exact)
                self.origin = "shipped"
        else:
            self._load(default_model_dir(), int(threads), exact)
            self.origin = "shipped"
        level = logging.INFO if path is None else logging.DEBUG  # one asked for by name: known
        log.log(level, "gesture model: %s (%s, %d threads)", self.origin, self.folder, self.threads)

    #: The recogniser behind the door when the metadata names another kind than ``cnn``.
    recogniser = None

    def _load(self, path: str | Path, threads: int, exact: bool) -> None:
        import ncnn

        meta, folder = load_metadata(path)
        self.metadata = meta
        self.folder = folder
        self.kind = meta.get("kind", "cnn")
        if self.kind != "cnn":
            import importlib

            module = importlib.import_module(KINDS[self.kind])
            self.recogniser = module.open_recogniser(meta, folder, threads, exact)
            self.classes = self.recogniser.classes
            self.threads = threads
            return
        self.recogniser = None
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
        return np.array(self._pixels_to_mat(fit_fast(_as_bgr(image), self.preprocessing)))

    def fitted_probabilities(self, fitted_bgr: np.ndarray) -> np.ndarray:
        """Class probabilities for a BGR uint8 image already at the model's input size."""
        return self._run(self._pixels_to_mat(fitted_bgr))

    def track(self, image: np.ndarray) -> Prediction:
        """Classify a stream's next frame: recognisers that track (the landmark one) start from
        where the hand was in the last frame; the CNN reads each frame afresh."""
        if self.recogniser is not None:
            return self.recogniser.track(image)
        return self(image)

    def reset_tracking(self) -> None:
        """Forget the last frame's hand (a new source, or frames lost)."""
        if self.recogniser is not None:
            self.recogniser.reset_tracking()

    def __call__(self, image: np.ndarray) -> Prediction:
        """Classify a BGR uint8 image of any size (grey and BGRA are converted)."""
        if self.recogniser is not None:
            return self.recogniser(image)
        bgr = _as_bgr(image)
        with self._lock:  # the reused buffers are shared: fit under the same lock as ncnn
            scores = self._extract(
                self._pixels_to_mat(fit_fast(bgr, self.preprocessing, self._buffers))
            )
        probs = self._probabilities(scores)
        best = int(np.argmax(probs))
        return Prediction(self.classes[best], float(probs[best]), probs)
