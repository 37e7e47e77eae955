"""MediaPipe's hand-landmark network on ncnn: crops, passes, tracking. numpy, OpenCV, ncnn only.

The network (``hand_landmark_full`` or ``_lite``, Apache-2.0, converted by
``python -m training landmarks``) takes a 224x224 RGB crop in [0, 1] and gives 21 landmarks
(x, y in crop pixels, z at about the same scale), a hand-presence score and handedness.

A still image (the player's box) is read as MediaPipe's tracking reads a frame, starting without
its palm detector (which misses hands whose wrist the box cuts off): pass 1 on the square box
itself; if that is weak, the palm detector (``vision.palm``) on the box and a pass on each palm's
crop, and the search crops (turned, zoomed); then pass 2 on a crop placed from the best pass's
landmarks (rotated so that wrist -> middle knuckles points up, the landmarks' box doubled and
shifted up). In a stream, the next frame starts from the last frame's landmark crop: one pass a
frame while the hand stays; when it is lost, the box pass and the detector find it again.

A little over the ~400 lines the project keeps modules to, on purpose: the crop geometry, the
network's pass and the order of passes that finds a hand are one algorithm (MediaPipe's crop
rule), read top to bottom; its recogniser (``vision.handrecogniser``) is apart.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import ModelError

if TYPE_CHECKING:
    from .palm import Palm, PalmDetector

INPUT_SIZE = 224
#: The landmarks MediaPipe places its tracking crop from (wrist, the thumb's base, the MCP and
#: PIP joints of each finger), and how it grows that box into a crop.
ROI_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
ROI_SCALE = 2.0
ROI_SHIFT_Y = -0.1
#: Weights and activations stored as bfloat16 (ncnn's ``use_bf16_storage``) unless a net is
#: opened ``exact``: where a CPU has no fp16 path for a layer (this x86 machine; a Pi 4's
#: Cortex-A72) ncnn keeps it in fp32, and the full network's 10.8 MB of weights do not fit in
#: cache. Measured here at one thread beside shufflenet_v2 (fp32, as ncnn publishes it): a full
#: pass 1.92x -> 1.54-1.62x, lite 0.96-1.04x -> 0.90-0.99x; on 300 photos of five sets 298
#: read the same throw (landmarks 0.8 px apart at 224 px, median).
BF16_STORAGE = True
#: The 21-point skeleton, as pairs of landmark indices (for drawing).
HAND_CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip


@dataclass(frozen=True)
class Crop:
    """A square crop of an image: its centre, side and rotation (radians, counter-clockwise
    from the image's own axes as it looks on screen), all in image pixels."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0

    @classmethod
    def box(cls, width: int, height: int, zoom: float = 1.0) -> Crop:
        """The centred square around a whole ``width`` x ``height`` image (its long side, so a
        hand at the edge of a wide photo stays in), ``zoom`` times that."""
        return cls(width / 2.0, height / 2.0, max(width, height) * zoom, 0.0)

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The crop's x and y axes (unit vectors, y pointing down) in image coordinates."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return np.array([c, -s]), np.array([s, c])

    def to_image(self, pixels: int = INPUT_SIZE) -> np.ndarray:
        """The 2x3 affine map from crop pixels (0..``pixels``) to image pixels."""
        x_axis, y_axis = self.axes()
        k = self.size / pixels
        half = pixels / 2.0
        a = np.column_stack([x_axis * k, y_axis * k])
        t = np.array([self.cx, self.cy]) - a @ np.array([half, half])
        return np.column_stack([a, t])


def crop_from_landmarks(landmarks: np.ndarray) -> Crop:
    """MediaPipe's landmarks-to-crop step: rotated so wrist -> middle knuckles points up, the box
    of the palm and finger bases (``ROI_LANDMARKS``) made square on its long side, doubled and
    shifted up by a tenth of its height. ``landmarks``: (21, 2+) in image pixels."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    wrist = pts[0]
    knuckles = ((pts[5] + pts[13]) / 2.0 + pts[9]) / 2.0
    up = knuckles - wrist
    # the angle that turns the crop's "up" (0, -1) onto wrist -> knuckles
    angle = math.atan2(-up[0], -up[1]) if np.any(up) else 0.0
    crop = Crop(0.0, 0.0, 1.0, angle)
    x_axis, y_axis = crop.axes()
    sub = pts[list(ROI_LANDMARKS)]
    a, b = sub @ x_axis, sub @ y_axis
    width, height = a.max() - a.min(), b.max() - b.min()
    ca, cb = (a.max() + a.min()) / 2.0, (b.max() + b.min()) / 2.0
    cb += ROI_SHIFT_Y * height
    centre = ca * x_axis + cb * y_axis
    size = max(width, height, 1.0) * ROI_SCALE
    return Crop(float(centre[0]), float(centre[1]), float(size), angle)


def warp_crop(bgr: np.ndarray, crop: Crop) -> np.ndarray:
    """The ``INPUT_SIZE`` square BGR pixels of ``crop`` (black outside the image)."""
    return cv2.warpAffine(
        bgr,
        crop.to_image(),
        (INPUT_SIZE, INPUT_SIZE),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )


def crop_to_image(points: np.ndarray, crop: Crop) -> np.ndarray:
    """Landmarks (N, 3) in crop pixels -> image pixels (z scaled like x and y)."""
    pts = np.asarray(points, dtype=np.float64)
    m = crop.to_image()
    out = np.empty_like(pts)
    out[:, :2] = pts[:, :2] @ m[:, :2].T + m[:, 2]
    out[:, 2] = pts[:, 2] * (crop.size / INPUT_SIZE)
    return out


@dataclass(frozen=True)
class HandPass:
    """One pass of the landmark network: landmarks (21, 3) in image pixels, presence in [0, 1],
    handedness (MediaPipe's score that it is a right hand), the crop it ran on, whether that
    crop was placed again from a weak pass's landmarks (``refined``), and the network's pooled
    features of the crop (``embedding``, from a net opened with ``embedding=True``), the
    palm detection its crop was placed from (``palm``; None for every other pass), and whether
    that palm (or the pass it was placed from) was found in a corner tile (``tiled``)."""

    landmarks: np.ndarray
    presence: float
    handedness: float
    crop: Crop
    refined: bool = False
    embedding: np.ndarray | None = None
    palm: Palm | None = None
    tiled: bool = False


def embedding_blob(param: str | Path, presence_blob: str) -> str:
    """The name of the network's pooled feature vector in an ncnn ``.param`` file: the input of
    the layer that gives the presence score (through any ``Split``), the vector every output
    head reads (1152 values in ``hand_landmark_full``)."""
    producers: dict[str, tuple[str, list[str]]] = {}
    for line in Path(param).read_text().splitlines()[2:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        n_in, n_out = int(fields[2]), int(fields[3])
        inputs = fields[4 : 4 + n_in]
        for out in fields[4 + n_in : 4 + n_in + n_out]:
            producers[out] = (fields[0], inputs)
    if presence_blob not in producers:
        raise ModelError(f"{param}: no layer gives the presence blob {presence_blob!r}")
    blob = producers[presence_blob][1][0]
    while blob in producers and producers[blob][0] == "Split":
        blob = producers[blob][1][0]
    return blob


def open_hand_net(param, binary, threads: int = 1, exact: bool = False, bf16: bool = False):
    """``(ncnn, ncnn.Net)`` for one of the MediaPipe networks ``python -m training landmarks``
    converts: its files checked first, a bad one named with that command."""
    from .ncnnnet import open_net

    todo = "run `python -m training landmarks` to fetch and convert it again"
    return open_net(param, binary, threads, exact, todo, bf16=bf16)


class LandmarkNet:
    """The ncnn landmark network: ``net(bgr, crop) -> HandPass``. Thread-safe (calls serialised).

    ``blobs`` names the input and the landmark, presence and handedness outputs, as the model's
    metadata lists them. With ``embedding`` each pass also keeps the pooled features the
    outputs are read from (``HandPass.embedding``; no extra work: the pass computes them).
    """

    def __init__(
        self,
        param: str | Path,
        binary: str | Path,
        blobs: dict,
        threads: int = 1,
        exact: bool = False,
        embedding: bool = False,
    ) -> None:
        ncnn, net = open_hand_net(param, binary, threads, exact, bf16=BF16_STORAGE)
        param = Path(param)
        self._ncnn = ncnn
        self._net = net
        self._lock = threading.Lock()
        self._allocator = ncnn.PoolAllocator()
        try:
            self.blobs = dict(blobs)
            self._input = blobs["input"]
            self._outputs = (blobs["landmarks"], blobs["presence"], blobs["handedness"])
        except KeyError as exc:
            raise ModelError(f"landmark model metadata lacks the blob name {exc}") from exc
        # extracted first: ncnn's light mode frees an inner blob once the outputs are read
        self._embedding = embedding_blob(param, self._outputs[1]) if embedding else None
        self.passes = 0  # how many times the network has run (tracking tests count them)
        self.mirrored = 0  # how many of those ran on a mirrored crop

    def run_pixels(self, crop_bgr: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Raw outputs for an ``INPUT_SIZE`` square BGR crop: landmarks (21, 3) in crop pixels,
        presence, handedness."""
        return self._run(crop_bgr)[:3]

    def _run(self, crop_bgr: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray | None]:
        ncnn = self._ncnn
        pixels = np.ascontiguousarray(crop_bgr)
        with self._lock:
            mat = ncnn.Mat.from_pixels(
                pixels, ncnn.Mat.PixelType.PIXEL_BGR2RGB, INPUT_SIZE, INPUT_SIZE, self._allocator
            )
            mat.substract_mean_normalize([0.0, 0.0, 0.0], [1 / 255.0] * 3)
            ex = self._net.create_extractor()
            ex.input(self._input, mat)
            outs = []
            names = self._outputs if self._embedding is None else (self._embedding, *self._outputs)
            for name in names:
                ret, out = ex.extract(name)
                if ret != 0:
                    raise ModelError(f"ncnn extract of {name!r} failed ({ret})")
                outs.append(np.array(out, dtype=np.float64).reshape(-1))
            self.passes += 1
        embedding = outs.pop(0).astype(np.float32) if self._embedding is not None else None
        landmarks, presence, handedness = outs
        if landmarks.size != 63:
            raise ModelError(f"landmark output {self._outputs[0]!r} has {landmarks.size} values")
        return landmarks.reshape(21, 3), float(presence[0]), float(handedness[0]), embedding

    def __call__(self, bgr: np.ndarray, crop: Crop, mirror: bool = False) -> HandPass:
        """One pass on ``crop``; with ``mirror`` the crop is flipped left to right first (a
        second look at the same hand, as the other hand) and the landmarks flipped back."""
        pixels = warp_crop(bgr, crop)
        if not mirror:
            points, presence, handedness, emb = self._run(pixels)
            return HandPass(crop_to_image(points, crop), presence, handedness, crop, embedding=emb)
        points, presence, handedness, emb = self._run(cv2.flip(pixels, 1))
        self.mirrored += 1
        points = points.copy()
        points[:, 0] = INPUT_SIZE - points[:, 0]
        image_points = crop_to_image(points, crop)
        return HandPass(image_points, presence, 1.0 - handedness, crop, embedding=emb)


#: Where a still box is searched when the plain box finds no hand, in two rounds. First turned a
#: quarter each way (a hand held sideways, or reaching in from the side), then zoomed out (a hand
#: too close); then, if the first round saw a hint of a hand, turned an eighth each way and zoomed
#: in (a small hand at the end of a long arm). Measured on the photos the first round missed
#: (view 0): the second found 39 of 139 in rps-cv, 38 of 200 in rps-sxsw, 40 of 54 in
#: finger-counting, and 3 of 250 empty walls of best-of-one.
SEARCH = (
    ((1.0, math.pi / 2), (1.0, -math.pi / 2), (1.5, 0.0)),
    ((1.0, math.pi / 4), (1.0, -math.pi / 4), (0.7, 0.0)),
)
#: Every search crop in order (the stream tries one of them a frame).
SEARCH_CROPS = tuple(crop for round_ in SEARCH for crop in round_)
#: Bumped whenever the search (or how a still box is read) changes, so that cached landmarks are
#: read again. 3: the mirrored look at the best crop; 4: refined crops of weak passes; 5: bf16
#: storage.
SEARCH_VERSION = 5
#: A later search round runs only if some pass so far reached this presence: most empty walls
#: stay below it (183 of 247 in best-of-one), and it lost 1 of the 117 hands the second round
#: found.
HINT_FLOOR = 0.003
#: Below this presence no search pass saw anything hand-like: no landmark-placed pass follows.
SEED_FLOOR = 0.02
#: When the best pass is still weak but saw a hint of a hand, the crop is placed again from its
#: landmarks (as MediaPipe's tracking does frame after frame) up to this many times, and a hand
#: found that way must be surer than a first look: presence >= REFINED_MIN_PRESENCE. Measured on
#: the photos the search left weak (view 0): two re-placements reach 0.9 on 5 of 104 in rps-cv
#: and 6 of 17 in finger-counting; no empty wall of best-of-one or finger-counting comes near
#: (the surest 0.79; 4 of best-of-one's 245 reach 0.5, hence the higher bar).
REFINE_ROUNDS = 2
REFINED_MIN_PRESENCE = 0.9


def find_hand(
    net: LandmarkNet,
    bgr: np.ndarray,
    start: Crop | None = None,
    weak: float = 0.5,
    search_net: LandmarkNet | None = None,
    search: tuple[tuple[tuple[float, float], ...], ...] = SEARCH,
    refine: int = REFINE_ROUNDS,
    detector: PalmDetector | None = None,
    detector_first: bool = True,
    tile: float = 0.0,
) -> list[HandPass]:
    """The passes for a still image, best last: the box (``start`` or the whole image's
    square); while the best so far is weaker than ``weak``, the palm ``detector`` on the box
    (a pass on each palm's crop; before the search when ``detector_first``, else after it; then
    on the box's corner ``tiles`` of side ``tile`` if ``tile``, for a small hand) and
    the ``search`` rounds of crops (zoom, turn), run on ``search_net`` (a lighter network) when
    given, a later round only after a hint of a hand (``HINT_FLOOR``); then the crop placed from
    the best one's landmarks, unless nothing hand-like was seen; while that is still weak, up to
    ``refine`` crops each placed from the last one's landmarks (``refined``). Returns every pass
    made."""
    h, w = bgr.shape[:2]
    first = start if start is not None else Crop.box(w, h)
    passes = [net(bgr, first)]
    if detector is not None and detector_first:
        passes += detect_hands(net, detector, bgr, first, passes, weak, tile)
    for k, round_ in enumerate(search):
        if k > 0 and max(p.presence for p in passes) < HINT_FLOOR:
            break
        for zoom, turn in round_:
            if reached(passes, weak):
                break
            crop = Crop(first.cx, first.cy, first.size * zoom, first.angle + turn)
            passes.append((search_net or net)(bgr, crop))
    if detector is not None and not detector_first:
        passes += detect_hands(net, detector, bgr, first, passes, weak, tile)
    seed = max(passes, key=lambda p: p.presence)
    if seed.presence >= SEED_FLOOR:
        passes.append(replace(net(bgr, crop_from_landmarks(seed.landmarks)), tiled=seed.tiled))
    last = best_pass(passes)
    for _ in range(refine):
        if last.presence >= weak or last.presence < HINT_FLOOR:
            break
        crop = crop_from_landmarks(last.landmarks)
        last = replace(net(bgr, crop), refined=True, tiled=last.tiled)
        passes.append(last)
    return passes


#: A hand placed from a palm the detector found in a corner tile counts only at this presence:
#: four more looks are four more chances for an empty room to show something palm-like. Measured
#: with the shipped head on 180 far views of three sets: a tile's palm placed 34 hands, 27 read
#: right (25 of them at presence >= 0.95), 7 misread (1 at >= 0.95); on 100 empty views ten tile
#: palms, their crops' presence at most 0.48. In the leave-one-set-out folds (whose thresholds
#: differ) a bar of 0.8 still woke two more of best-of-one's 250 walls, at 0.81 (a blurred hand
#: waving past a face) and 0.93 (a face).
TILED_MIN_PRESENCE = 0.95
#: Palms the detector hands to the landmark network in one look (best first).
MAX_PALMS = 2


def tiles(region: Crop, tile: float) -> list[Crop]:
    """The four corner squares of ``region`` with sides ``tile`` times its side (top row first),
    where the palm detector looks again, magnified, for a hand too small to find in the whole
    region: its smallest anchors are 0.148 of its input, and a fist at an eighth of the box shows
    a palm smaller than that."""
    off = (1.0 - tile) / 2.0 * region.size
    x_axis, y_axis = region.axes()
    out = []
    for sy in (-1, 1):
        for sx in (-1, 1):
            cx, cy = np.array([region.cx, region.cy]) + (sx * x_axis + sy * y_axis) * off
            out.append(Crop(float(cx), float(cy), region.size * tile, region.angle))
    return out


def detect_hands(
    net: LandmarkNet,
    detector: PalmDetector,
    bgr: np.ndarray,
    region: Crop,
    passes: list[HandPass],
    weak: float = 0.5,
    tile: float = 0.0,
    in_tile: bool = False,
) -> list[HandPass]:
    """Unless a pass so far reached ``weak``: the palm detector on ``region``, then a landmark
    pass on the crop of each palm it reports (up to ``MAX_PALMS``, stopping at the first that
    reaches ``weak``); while none did and ``tile`` is set, the same on each of the region's
    ``tiles`` in turn (a palm already read is not read again). Passes placed from a tile's palm
    (``in_tile``: ``region`` is one) are marked ``tiled``."""
    if reached(passes, weak):
        return []
    out: list[HandPass] = []
    looks = [(region, in_tile), *((t, True) for t in (tiles(region, tile) if tile else []))]
    for look, tiled in looks:
        for palm in detector(bgr, look)[:MAX_PALMS]:
            if any(_same_palm(palm, p.palm) for p in out):
                continue
            out.append(replace(net(bgr, palm.crop()), palm=palm, tiled=tiled))
            if reached(out[-1:], weak):
                return out
    return out


def reached(passes: list[HandPass], weak: float) -> bool:
    """Whether a pass reached ``weak`` (a tile-placed one: ``TILED_MIN_PRESENCE``)."""
    return any(p.presence >= (max(weak, TILED_MIN_PRESENCE) if p.tiled else weak) for p in passes)


def _same_palm(a: Palm, b: Palm | None) -> bool:
    """Whether two detections are the same palm: each box's centre inside the other box."""
    if b is None:
        return False
    ca = ((a.box[0] + a.box[2]) / 2, (a.box[1] + a.box[3]) / 2)
    cb = ((b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2)
    return (b.box[0] <= ca[0] <= b.box[2] and b.box[1] <= ca[1] <= b.box[3]) and (
        a.box[0] <= cb[0] <= a.box[2] and a.box[1] <= cb[1] <= a.box[3]
    )


def best_pass(passes: list[HandPass]) -> HandPass:
    """The landmark-placed (last) pass when it is at least as sure as the others, else the
    surest; a pass of the main network is preferred to a search pass of equal presence. A
    refined pass counts only when it reaches ``REFINED_MIN_PRESENCE``, a pass placed from a corner
    tile's palm only when it reaches ``TILED_MIN_PRESENCE``."""
    kept = [
        p
        for p in passes
        if (not p.refined or p.presence >= REFINED_MIN_PRESENCE)
        and (not p.tiled or p.presence >= TILED_MIN_PRESENCE)
    ]
    last = kept[-1]
    best = max(kept, key=lambda p: p.presence)
    return last if last.presence >= best.presence - 1e-6 else best
