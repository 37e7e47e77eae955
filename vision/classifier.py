"""The door: ``GestureClassifier(path)(bgr) -> Prediction``, whatever kind of recogniser the
model's metadata names. numpy only here; each kind opens its own networks (ncnn).

Kinds (``"kind"`` in ``model.json``): ``cnn`` (``vision.cnn``: one network reads the box),
``landmarks`` (``vision.handrecogniser``: MediaPipe's hand networks and a gesture head) and
``fused`` (``vision.fused``: both, the default). Each is a class built from ``(metadata,
folder, threads, exact)`` with ``__call__``, ``track``, ``reset_tracking`` and ``classes``; the
door picks the model (a path, else the installed personal model, else the shipped default),
reads its metadata (``vision.metadata``) and opens its kind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .labels import Gesture
from .metadata import load_metadata
from .ncnnnet import REEXPORT
from .paths import SHIPPED_DEFAULT_DIR, active_model_dir, default_model_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    label: Gesture
    confidence: float
    probs: np.ndarray  # in the order of ``GestureClassifier.classes``
    landmarks: np.ndarray | None = None  # (21, 3) image pixels, from recognisers that place hands


class Recogniser:
    """What the door and the stream ask of every kind: ``classes``, ``__call__(bgr)`` (a still
    box), ``track(bgr)`` (a stream's next frame: by default read afresh, like a still box) and
    ``reset_tracking()`` (forget the last frame's hand: by default nothing to forget). Kinds
    that follow a hand from frame to frame (the landmark and fused recognisers) override the
    last two."""

    classes: tuple[Gesture, ...] = ()

    def __call__(self, image: np.ndarray) -> Prediction:
        raise NotImplementedError

    def track(self, image: np.ndarray) -> Prediction:
        return self(image)

    def reset_tracking(self) -> None:
        pass


def recogniser_kinds() -> dict[str, type]:
    """The recogniser class of each kind (``vision.metadata.KIND_NAMES``)."""
    from .cnn import CNNRecogniser
    from .fused import FusedRecogniser
    from .handrecogniser import LandmarkRecogniser

    return {k.kind: k for k in (CNNRecogniser, LandmarkRecogniser, FusedRecogniser)}


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
    the default keeps ncnn's fast path. Safe to call from several threads.

    ``recogniser`` is the kind's object; what only one kind has (the CNN's ``input_size``,
    ``probabilities``; the landmark recogniser's ``find``) is read from it through the door,
    and asking a kind for what it lacks is an ``AttributeError`` that names the kind.
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1, exact: bool = False):
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        #: Which model runs: ``"shipped"``, ``"personal"`` or the explicit path as given.
        self.origin: str
        #: Why the shipped model runs instead of the installed personal one (``None``: it does not).
        self.fallback: str | None = None
        if path is not None:
            self._open(*load_metadata(path), int(threads), exact)
            self.origin = str(path)
        elif _personal_model_installed():
            active = active_model_dir()
            try:
                self._open(*load_metadata(active), int(threads), exact)
                self.origin = "personal"
            except ModelError as exc:
                problem = str(exc).replace(f": {REEXPORT}", "")
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
                self._open(*load_metadata(SHIPPED_DEFAULT_DIR), int(threads), exact)
                self.origin = "shipped"
        else:
            self._open(*load_metadata(default_model_dir()), int(threads), exact)
            self.origin = "shipped"
        level = logging.INFO if path is None else logging.DEBUG  # one asked for by name: known
        log.log(level, "gesture model: %s (%s, %d threads)", self.origin, self.folder, self.threads)

    @classmethod
    def from_metadata(
        cls, meta: dict, folder: str | Path, threads: int = 1, exact: bool = False
    ) -> GestureClassifier:
        """The door onto metadata already read (``vision.metadata.load_metadata``)."""
        door = cls.__new__(cls)
        door.fallback = None
        door._open(meta, Path(folder), int(threads), exact)
        door.origin = str(folder)
        return door

    def _open(self, meta: dict, folder: Path, threads: int, exact: bool) -> None:
        self.metadata = meta
        self.folder = folder
        self.kind = meta.get("kind", "cnn")
        self.threads = threads
        self.recogniser = recogniser_kinds()[self.kind](meta, folder, threads, exact)
        self.classes = self.recogniser.classes

    def __getattr__(self, name: str):
        """What only this model's kind has, read from its recogniser (see the class)."""
        if name.startswith("__") or "recogniser" not in self.__dict__:
            raise AttributeError(name)
        try:
            return getattr(self.recogniser, name)
        except AttributeError:
            raise AttributeError(
                f"the {self.kind} recogniser ({self.folder}) has no {name!r}"
            ) from None

    def track(self, image: np.ndarray) -> Prediction:
        """Classify a stream's next frame: recognisers that track (the landmark one) start from
        where the hand was in the last frame; the CNN reads each frame afresh."""
        return self.recogniser.track(image)

    def reset_tracking(self) -> None:
        """Forget the last frame's hand (a new source, or frames lost)."""
        self.recogniser.reset_tracking()

    def __call__(self, image: np.ndarray) -> Prediction:
        """Classify a BGR uint8 image of any size (grey and BGRA are converted)."""
        return self.recogniser(image)
