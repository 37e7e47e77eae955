"""The default recogniser: the landmark recogniser where it finds the hand, the CNN where not.

Metadata (``"kind": "fused"``) names its two parts, each a model folder (``shipped:`` for one
under ``assets/``), and the rule's numbers; it opens them itself (``vision.metadata.open_part``),
not through the door. The landmark network places a hand in almost every
box that holds one and then reads it far better than a CNN of the whole box; when it finds no hand
(blurred, very small or cut-off hands), the CNN still gets a say, but only when it is sure, since
it also sees hands in empty rooms, and only when a landmark pass saw at least a hint of a hand.
Where neither reads a throw, the landmark part's edge reader (if its metadata names one) reads
the whole box last, so the rule chosen before it still decides every box it decided.
``python -m training fusion`` chooses both numbers leave-one-set-out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .classifier import Prediction, Recogniser
from .cnn import CNNRecogniser
from .errors import ModelError
from .handrecogniser import LandmarkRecogniser
from .labels import Gesture
from .metadata import open_part, resolve_asset
from .preprocess import as_bgr


class FusedRecogniser(Recogniser):
    """``recogniser(bgr) -> Prediction``; ``track(bgr)`` for a stream (tracking the hand)."""

    kind = "fused"

    def __init__(self, meta: dict, folder: Path, threads: int = 1, exact: bool = False):
        source = folder / "model.json"
        try:
            parts = meta["parts"]
            landmark_dir = resolve_asset(str(parts["landmarks"]), folder)
            cnn_dir = resolve_asset(str(parts["cnn"]), folder)
            rule = meta["rule"]
            self.cnn_min_confidence = float(rule["cnn_min_confidence"])
            # older metadata has no floor: the CNN is asked whenever no hand was found
            self.min_presence = float(rule.get("min_presence", 0.0))
            self.overrule_below = float(rule.get("overrule_below", 0.0))
        except KeyError as exc:
            raise ModelError(
                f"{source}: the field {exc} is missing from the fused recogniser"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: bad fused recogniser metadata: {exc}") from exc
        self.landmarks: LandmarkRecogniser = open_part(
            LandmarkRecogniser, landmark_dir, threads, exact,
            f"{source}: its landmarks part {landmark_dir} is not a landmark model",
        )  # fmt: skip
        self.cnn: CNNRecogniser = open_part(
            CNNRecogniser, cnn_dir, threads, exact,
            f"{source}: its cnn part {cnn_dir} is not a CNN model",
        )  # fmt: skip
        self.classes = self.landmarks.classes
        if tuple(self.cnn.classes) != self.classes:
            raise ModelError(f"{source}: the parts' classes differ ({self.cnn.classes})")
        self.metadata = meta
        self.folder = folder
        self.cnn_calls = 0

    def decide(self, hand: Prediction, image: np.ndarray) -> Prediction:
        """The landmark reading when it found a hand and its head is sure enough
        (``overrule_below``); else, if some landmark pass saw a hint of a hand
        (``min_presence``), the CNN's when it is sure of a throw."""
        if hand.label is Gesture.NONE:
            if hand.presence < self.min_presence:
                return hand
        elif self.overrule_below <= 0 or self.head_confidence(hand) >= self.overrule_below:
            return hand  # without overruling the head's confidence is not needed
        self.cnn_calls += 1
        cnn = self.cnn(image)
        if cnn.label is not Gesture.NONE and cnn.confidence >= self.cnn_min_confidence:
            return dataclasses.replace(cnn, landmarks=hand.landmarks)  # the skeleton stays drawn
        return hand

    def head_confidence(self, hand: Prediction) -> float:
        """The gesture head's probability of its throw, among the throws only."""
        none = self.classes.index(Gesture.NONE)
        throws = np.delete(np.asarray(hand.probs, np.float64), none)
        return float(throws.max() / max(throws.sum(), 1e-12))

    def __call__(self, image: np.ndarray) -> Prediction:
        return self.read(image)[0]

    def read(self, image: np.ndarray) -> tuple[Prediction, Prediction]:
        """A still box's reading and the landmark part's finders' own (whether they found it)."""
        bgr = as_bgr(image)
        hand = self.landmarks.find(bgr)
        return self.landmarks.edge_still(bgr, self.decide(hand, bgr)), hand

    def track(self, image: np.ndarray) -> Prediction:
        bgr = as_bgr(image)
        return self.landmarks.edge_stream(bgr, self.decide(self.landmarks.follow(bgr), bgr))

    def reset_tracking(self) -> None:
        self.landmarks.reset_tracking()
