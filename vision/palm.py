"""MediaPipe's palm detector on ncnn: where in a picture a hand is. numpy, OpenCV, ncnn only.

The network (``palm_detection_full`` or ``_lite``, Apache-2.0, converted by ``python -m training
landmarks``) reads a 192x192 RGB picture with values in [0, 1] (the image letterboxed into it) and
scores 2,016 SSD anchors; each anchor also regresses a palm box and 7 keypoints (the wrist first,
the middle finger's base third). As in MediaPipe's ``palm_detection_cpu.pbtxt``: sigmoid scores
(logits clipped at 100) of at least 0.5, weighted non-maximum suppression at IoU 0.3. A detection
becomes a landmark crop as in its ``palm_detection_detection_to_roi.pbtxt``: turned so that wrist
-> middle finger's base points up, shifted up by half the box, squared on its long side, 2.6x.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import ModelError
from .hand import Crop, open_hand_net

INPUT_SIZE = 192
#: ``SsdAnchorsCalculator`` options of MediaPipe's palm detection graph.
ANCHOR_STRIDES = (8, 16, 16, 16)
ANCHOR_OFFSET = 0.5
#: Anchors a cell gets per layer: one of aspect ratio 1 and one of the interpolated scale.
ANCHORS_PER_LAYER = 2
NUM_KEYPOINTS = 7
VALUES_PER_ANCHOR = 4 + 2 * NUM_KEYPOINTS
SCORE_CLIP = 100.0
MIN_SCORE = 0.5
NMS_IOU = 0.3
#: ``RectTransformationCalculator`` of the detection-to-crop step.
CROP_SCALE = 2.6
CROP_SHIFT_Y = -0.5
#: Keypoints that turn the crop: the wrist's centre, the middle finger's base.
WRIST, MIDDLE_BASE = 0, 2


def ssd_anchors(
    input_size: int = INPUT_SIZE, strides: tuple[int, ...] = ANCHOR_STRIDES
) -> np.ndarray:
    """Anchor centres (N, 2) as fractions of the input, in the network's output order: MediaPipe's
    ``SsdAnchorsCalculator`` with fixed-size anchors, consecutive layers of one stride sharing a
    grid (2,016 for the palm detector: 24x24 cells x 2, then 12x12 x 6)."""
    centres = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_cell = ANCHORS_PER_LAYER * (same - layer)
        cells = math.ceil(input_size / strides[layer])
        grid = (np.arange(cells) + ANCHOR_OFFSET) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell, per_cell, axis=0))
        layer = same
    return np.concatenate(centres).astype(np.float64)


ANCHORS = ssd_anchors()


@dataclass(frozen=True)
class Palm:
    """A detected palm in image pixels: its score, box ``(x0, y0, x1, y1)`` and 7 keypoints."""

    score: float
    box: tuple[float, float, float, float]
    keypoints: np.ndarray  # (7, 2)

    def crop(self) -> Crop:
        """The landmark network's crop for this palm (MediaPipe's detection-to-crop rule)."""
        x0, y0, x1, y1 = self.box
        width, height = x1 - x0, y1 - y0
        up = self.keypoints[MIDDLE_BASE] - self.keypoints[WRIST]
        angle = math.atan2(-up[0], -up[1]) if np.any(up) else 0.0
        _, y_axis = Crop(0.0, 0.0, 1.0, angle).axes()
        centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0]) + CROP_SHIFT_Y * height * y_axis
        size = max(width, height, 1.0) * CROP_SCALE
        return Crop(float(centre[0]), float(centre[1]), float(size), angle)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, min_score: float = MIN_SCORE):
    """Scores (N,) and boxes/keypoints (N, 18) as fractions of the network input, for the anchors
    that reach ``min_score``: centre, size, then keypoints x, y."""
    logits = np.clip(raw_scores.reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes.reshape(-1, VALUES_PER_ANCHOR)[keep].astype(np.float64) / INPUT_SIZE
    anchors = ANCHORS[keep]
    out = raw.copy()
    out[:, 0:2] += anchors
    out[:, 4::2] += anchors[:, :1]
    out[:, 5::2] += anchors[:, 1:]
    return scores[keep], out


def _corners(values: np.ndarray) -> np.ndarray:
    cx, cy, w, h = values[:, 0], values[:, 1], values[:, 2], values[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def weighted_nms(
    scores: np.ndarray, values: np.ndarray, iou: float = NMS_IOU
) -> list[tuple[float, np.ndarray]]:
    """MediaPipe's weighted non-maximum suppression: the surest detection and every other one
    overlapping it by more than ``iou`` become one, their boxes and keypoints averaged by score
    (the surest one's score kept); best first."""
    order = np.argsort(-scores, kind="stable")
    scores, values = scores[order], values[order]
    boxes = _corners(values)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        b = boxes[i]
        ix = np.clip(np.minimum(b[2], boxes[:, 2]) - np.maximum(b[0], boxes[:, 0]), 0, None)
        iy = np.clip(np.minimum(b[3], boxes[:, 3]) - np.maximum(b[1], boxes[:, 1]), 0, None)
        inter = ix * iy
        overlap = inter / np.maximum(areas[i] + areas - inter, 1e-12)
        group = left & (overlap > iou)
        group[i] = True
        w = scores[group]
        out.append((float(scores[i]), (values[group] * w[:, None]).sum(0) / w.sum()))
        left &= ~group
    return out


class PalmDetector:
    """``detector(bgr, region=None) -> list[Palm]`` (best first) in image pixels. ``region``: the
    square of the image to look in (default: the centred square on the image's long side, the
    image letterboxed into it); thread-safe (calls serialised)."""

    def __init__(
        self,
        param: str | Path,
        binary: str | Path,
        blobs: dict,
        threads: int = 1,
        exact: bool = False,
        min_score: float = MIN_SCORE,
    ) -> None:
        self._ncnn, self._net = open_hand_net(param, binary, threads, exact)
        self._lock = threading.Lock()
        try:
            self._input = blobs["input"]
            self._outputs = (blobs["boxes"], blobs["scores"])
        except KeyError as exc:
            raise ModelError(f"palm detector metadata lacks the blob name {exc}") from exc
        self.min_score = float(min_score)
        self.passes = 0

    def raw(self, pixels_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's outputs for an ``INPUT_SIZE`` square BGR picture: boxes (2016, 18) and
        score logits (2016,)."""
        ncnn = self._ncnn
        pixels = np.ascontiguousarray(pixels_bgr)
        with self._lock:
            mat = ncnn.Mat.from_pixels(
                pixels, ncnn.Mat.PixelType.PIXEL_BGR2RGB, INPUT_SIZE, INPUT_SIZE
            )
            mat.substract_mean_normalize([0.0, 0.0, 0.0], [1 / 255.0] * 3)
            ex = self._net.create_extractor()
            ex.input(self._input, mat)
            outs = []
            for name in self._outputs:
                ret, out = ex.extract(name)
                if ret != 0:
                    raise ModelError(f"ncnn extract of {name!r} failed ({ret})")
                outs.append(np.array(out, dtype=np.float32))
            self.passes += 1
        boxes, scores = outs
        if boxes.size != len(ANCHORS) * VALUES_PER_ANCHOR or scores.size != len(ANCHORS):
            raise ModelError(
                f"the palm detector gave {boxes.size} box and {scores.size} score values, "
                f"not {len(ANCHORS)} anchors: run `python -m training landmarks` again"
            )
        return boxes.reshape(len(ANCHORS), VALUES_PER_ANCHOR), scores.reshape(-1)

    def __call__(self, bgr: np.ndarray, region: Crop | None = None) -> list[Palm]:
        h, w = bgr.shape[:2]
        region = region if region is not None else Crop.box(w, h)
        m = region.to_image(INPUT_SIZE)
        pixels = cv2.warpAffine(
            bgr,
            m,
            (INPUT_SIZE, INPUT_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        boxes, logits = self.raw(pixels)
        scores, values = decode(boxes, logits, self.min_score)
        palms = []
        for score, v in weighted_nms(scores, values):
            pts = v.reshape(-1, 2)[2:] * INPUT_SIZE  # keypoints, input pixels
            corners = _corners(v[None])[0].reshape(2, 2) * INPUT_SIZE
            # the box stays axis-aligned in the image as MediaPipe keeps it (region unturned)
            img_corners = corners @ m[:, :2].T + m[:, 2]
            img_pts = pts @ m[:, :2].T + m[:, 2]
            x0, y0 = img_corners.min(0)
            x1, y1 = img_corners.max(0)
            palms.append(Palm(score, (float(x0), float(y0), float(x1), float(y1)), img_pts))
        return palms
