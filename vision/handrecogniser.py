"""The landmark recogniser: MediaPipe's hand-landmark network on ncnn plus a numpy gesture head.

Its metadata (``"kind": "landmarks"``) names the network files, the ncnn blobs, the presence
threshold below which a box reads as ``none``, and the head's weights. ``__call__`` reads a still
image (two or three passes); ``track`` reads the frames of a stream, starting each from the last
frame's landmark crop (one pass a frame while the hand stays). Where the finders place no hand,
the edge reader (``vision.edge``, if the metadata names one) reads the whole box.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classifier import Prediction, Recogniser
from .edge import EdgeReader
from .errors import ModelError
from .hand import (
    SEARCH,
    SEARCH_CROPS,
    Crop,
    HandPass,
    LandmarkNet,
    best_pass,
    crop_from_landmarks,
    detect_hands,
    find_hand,
    reached,
    tiles,
)
from .handfeatures import GestureHead
from .labels import CLASS_ORDER, Gesture
from .metadata import resolve_asset
from .palm import PalmDetector
from .preprocess import as_bgr

log = logging.getLogger(__name__)

#: No presence threshold is chosen below this (``training.hand.head.MIN_THRESHOLD``): training
#: data reads the mirrored look wherever presence reaches it, as the recogniser would.
MIRROR_MIN_PRESENCE = 0.5
_RETRAIN = "run `python -m training landmarks` (the network) or `python -m training hand` (head)"


@dataclass(frozen=True)
class HandPrediction(Prediction):
    """What the landmark recogniser read: a ``Prediction`` (``landmarks`` set when a hand was
    placed) plus the presence score and the network passes it took."""

    presence: float = 0.0
    passes: int = 0
    #: the palm detector's box ``(x0, y0, x1, y1)`` (image pixels) where it placed the hand read
    palm_box: tuple[float, float, float, float] | None = None


def hand_probability(presence: float, threshold: float, sharpness: float = 4.0) -> float:
    """Presence mapped so that the threshold reads 0.5 (logit scale, ``sharpness`` steeper)."""
    p = min(max(presence, 1e-6), 1 - 1e-6)
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    z = sharpness * (math.log(p / (1 - p)) - math.log(t / (1 - t)))
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def palm_box(passes: list[HandPass]) -> tuple[float, float, float, float] | None:
    """The box of the palm the surest detector-placed pass was read in, if the detector ran."""
    placed = [p for p in passes if p.palm is not None]
    return max(placed, key=lambda p: p.presence).palm.box if placed else None


class LandmarkRecogniser(Recogniser):
    """``recogniser(bgr) -> HandPrediction`` for a still box; ``track(bgr)`` for a stream."""

    kind = "landmarks"

    def __init__(self, meta: dict, folder: Path, threads: int = 1, exact: bool = False):
        source = folder / "model.json"
        try:
            self.classes = tuple(Gesture.parse(c) for c in meta["classes"])
            param = resolve_asset(str(meta["param"]), folder)
            binary = resolve_asset(str(meta["bin"]), folder)
            blobs = dict(meta["blobs"])
            self.threshold = float(meta["presence_threshold"])
            self.weak = float(meta.get("weak_presence", 0.5))
            # a still box's found hand gets a second, mirrored look (older heads: none)
            self.mirror = bool(meta.get("mirror_pass", False))
            # how many rounds of search crops a weak still box gets (older metadata: all)
            self.search = SEARCH[: int(meta.get("search_rounds", len(SEARCH)))]
            search = meta.get("search_param"), meta.get("search_bin")
            head_meta = meta["head"]
            edge_meta = meta.get("edge")  # older metadata: no edge reader
            detector = self._detector_settings(meta.get("detector"), folder)
        except KeyError as exc:
            raise ModelError(f"{source}: the field {exc} is missing: {_RETRAIN}") from exc
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: bad landmark recogniser metadata: {exc}") from exc
        if self.classes != CLASS_ORDER:
            raise ModelError(f"{source}: classes must be {[g.value for g in CLASS_ORDER]}")
        self.head = GestureHead.from_metadata(head_meta, str(source))
        self._head_index = [self.classes.index(Gesture(c)) for c in self.head.classes]
        # a head that reads the network's embedding gets it from the main network's passes
        self.net = LandmarkNet(
            param, binary, blobs, threads=threads, exact=exact, embedding=self.head.uses_embedding
        )
        # a lighter network for the search passes of a box where the first pass saw no hand
        self.search_net = None
        if all(search):
            self.search_net = LandmarkNet(
                *(resolve_asset(str(n), folder) for n in search), blobs, threads, exact
            )
        # MediaPipe's palm detector for boxes (and lost stream frames) the box pass misses
        self.detector = None
        if detector is not None:
            files, min_score = detector
            self.detector = PalmDetector(*files, threads=threads, exact=exact, min_score=min_score)
        # a reader of the whole box for what no finder places (cut-off and blurred hands)
        self.edge = None
        if edge_meta is not None:
            self.edge = EdgeReader(edge_meta, folder, threads=threads, exact=exact)
        self.metadata = meta
        self.folder = folder
        self.threads = threads
        self._start_stream()

    def _detector_settings(self, detector_meta: dict | None, folder: Path):
        """The palm detector's files and blobs and its score floor, or None where the metadata
        names none (older metadata: boxes are searched as before); sets whether it looks before
        the search crops and the size of its corner tiles."""
        self.detector_first, self.tile = True, 0.0
        if detector_meta is None:
            return None
        files = (
            resolve_asset(str(detector_meta["param"]), folder),
            resolve_asset(str(detector_meta["bin"]), folder),
            dict(detector_meta["blobs"]),
        )
        self.detector_first = bool(detector_meta.get("before_search", True))
        self.tile = float(detector_meta.get("tile", 0.0))
        return files, float(detector_meta.get("min_score", 0.5))

    def _start_stream(self) -> None:
        """A stream's state, before its first frame."""
        self._track: Crop | None = None
        self._edge_turn = 0  # lost stream frames since the edge reader last looked
        self._edge_held: HandPrediction | None = None  # its reading, standing until the next
        self._turn = 0  # which search crop an empty stream frame tries next
        self._tracked = 0  # tracked frames so far (every other one is read mirrored)
        self._lost = 0  # frames read without a hand to track (every other one looks in a tile)
        self._track_shape: tuple[int, ...] | None = None
        self._lock = threading.Lock()

    @property
    def passes(self) -> int:
        """Passes of the landmark networks so far."""
        return self.net.passes + (self.search_net.passes if self.search_net else 0)

    def read_pass(
        self,
        hand: HandPass,
        passes: int,
        mirrored: HandPass | None = None,
        palm_box: tuple[float, float, float, float] | None = None,
    ) -> HandPrediction:
        """The prediction for the landmarks and presence of one pass; with ``mirrored`` (the
        same crop read mirrored) the head's throw is the mean of its readings of both;
        ``palm_box``: where the palm detector placed the hand, kept for a hand reported."""
        q = hand_probability(hand.presence, self.threshold)
        probs = np.zeros(len(self.classes), np.float32)
        head = self.head.read(hand.landmarks, hand.embedding)
        if mirrored is not None:
            head = (head + self.head.read(mirrored.landmarks, mirrored.embedding)) / 2.0
        probs[self._head_index] = head * q
        none = self.classes.index(Gesture.NONE)
        probs[none] = 1.0 - q
        if hand.presence < self.threshold:
            label, confidence = Gesture.NONE, 1.0 - q
        else:
            best = int(np.argmax(head))
            label, confidence = Gesture(self.head.classes[best]), float(head[best] * q)
        found = hand.presence >= self.weak
        return HandPrediction(
            label,
            float(confidence),
            probs,
            hand.landmarks if found else None,
            hand.presence,
            passes,
            palm_box if found and label is not Gesture.NONE else None,
        )

    def __call__(self, image: np.ndarray) -> HandPrediction:
        """Read a still box (BGR): ``find``, then the edge reader where that found no hand."""
        bgr = as_bgr(image)
        return self.edge_still(bgr, self.find(bgr))

    def find(self, bgr: np.ndarray) -> HandPrediction:
        """A still box's finders and head: the box, maybe searched and the palm detector, then
        the landmark-placed crop and, when that found a hand, the same crop mirrored (the head
        reads both)."""
        passes = find_hand(
            self.net,
            bgr,
            None,
            self.weak,
            self.search_net,
            self.search,
            detector=self.detector,
            detector_first=self.detector_first,
            tile=self.tile,
        )
        hand = best_pass(passes)
        box = palm_box(passes)
        if self.mirror and hand.presence >= self.threshold:
            mirrored = self.net(bgr, hand.crop, mirror=True)
            return self.read_pass(hand, len(passes) + 1, mirrored, box)
        return self.read_pass(hand, len(passes), palm_box=box)

    def edge_look(self, bgr: np.ndarray, missed: Prediction) -> HandPrediction | None:
        """The edge reader's throw for a box read ``none`` (``missed``), if it is sure of one;
        its probabilities replace the finders'."""
        label, confidence, probs = self.edge(bgr)
        if label is Gesture.NONE:
            return None
        presence, passes = getattr(missed, "presence", 0.0), getattr(missed, "passes", 0)
        return HandPrediction(label, confidence, probs, None, presence, passes)

    def edge_still(self, bgr: np.ndarray, pred: Prediction) -> Prediction:
        """``pred``, or where it is ``none`` the edge reader's sure throw (a still box)."""
        if pred.label is not Gesture.NONE or self.edge is None:
            return pred
        return self.edge_look(bgr, pred) or pred

    def edge_stream(self, bgr: np.ndarray, pred: Prediction) -> Prediction:
        """A stream frame's ``pred``, or where it is ``none`` the edge reader's: one such frame
        in ``every`` is read whole and its reading stands for the frames between (the stream's
        smoothing confirms a throw over frames, so a reading on one frame alone would not)."""
        if self.edge is None:
            return pred
        with self._lock:
            if pred.label is not Gesture.NONE:
                self._edge_turn, self._edge_held = 0, None
                return pred
            if self._edge_turn % self.edge.every == 0:
                self._edge_held = self.edge_look(bgr, pred)
            self._edge_turn += 1
            held = self._edge_held
        if held is None:
            return pred
        return dataclasses.replace(held, presence=getattr(pred, "presence", 0.0))

    def reset_tracking(self) -> None:
        with self._lock:
            self._track = None
            self._edge_turn, self._edge_held = 0, None

    def track(self, image: np.ndarray) -> Prediction:
        """Read a stream's frame: ``follow``, then the edge reader where that found no hand."""
        bgr = as_bgr(image)
        return self.edge_stream(bgr, self.follow(bgr))

    def follow(self, bgr: np.ndarray) -> HandPrediction:
        """A stream frame's finders and head: one pass on the last frame's landmark crop while
        the hand is there; when it is not, the palm detector (a pass on the crop of the palm it
        finds) and, where that finds no hand, the box (with corner tiles, every other such frame
        the detector looks in one of them instead of the whole box); without a detector, the
        box and one of the search crops (a different one each frame). An empty box costs two
        looks a frame, not all of a still image's. With the mirrored look on, every other tracked
        frame is read mirrored: the stream's smoothing then averages both readings, as a still
        box's head does, at no extra pass."""
        with self._lock:
            start = self._track if self._track_shape == bgr.shape else None
            if start is not None:
                self._tracked += 1
                hand = self.net(bgr, start, mirror=self.mirror and self._tracked % 2 == 0)
                if hand.presence >= self.threshold:
                    self._track = crop_from_landmarks(hand.landmarks)
                    return self.read_pass(hand, 1)
            if self.detector is not None:
                # the palm detector and a pass on its palm's crop (MediaPipe's detector ->
                # landmarks), and the box pass only where that found no hand (a hand whose
                # wrist the box cuts off); the next frame's tracking places the crop again
                box = Crop.box(bgr.shape[1], bgr.shape[0])
                look, in_tile = box, False
                self._lost += 1
                if self.tile and self._lost % 2 == 0:
                    # one corner tile every other lost frame: a small hand is found within
                    # eight frames at the cost of one detector pass a frame
                    look, in_tile = tiles(box, self.tile)[(self._lost // 2 - 1) % 4], True
                passes = detect_hands(
                    self.net, self.detector, bgr, look, [], self.weak, in_tile=in_tile
                )
                if not reached(passes, self.weak):
                    passes.append(self.net(bgr, box))
            else:
                search = ((SEARCH_CROPS[self._turn % len(SEARCH_CROPS)],),)
                self._turn += 1
                # no refined crops: an empty stream frame keeps to the box and one search crop
                passes = find_hand(
                    self.net, bgr, None, self.weak, self.search_net, search, refine=0
                )
            hand = best_pass(passes)
            found = hand.presence >= self.threshold
            self._track = crop_from_landmarks(hand.landmarks) if found else None
            if found:
                self._lost = 0  # the first frame that loses it looks at the whole box
            if self._track_shape != bgr.shape:
                self._edge_turn, self._edge_held = 0, None  # a new stream: look afresh
            self._track_shape = bgr.shape
            count = len(passes) + (start is not None)
            return self.read_pass(hand, count, palm_box=palm_box(passes))
