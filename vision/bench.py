"""Benchmark: our model beside ncnn's own shufflenet_v2, and the whole per-frame path.

In one run on one machine, interleaved so background load hits every measurement alike:

(a) the default model: ncnn extract of a prepared input (``a``) and the full call on the
    frame's region of interest (``a_call``);
(b) ncnn's benchmark ``shufflenet_v2.param`` with empty weights (``../shared/anchors``);
(c) the per-frame path: ``GestureStream.step()`` from a 640x480 BGR frame to a published
    stable gesture.

Ratios project our speed on a Raspberry Pi from ncnn's published shufflenet_v2 figures.
A benchmark, not a test: it prints numbers and whether the goals are met.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ANCHORS = ROOT.parent / "shared" / "anchors"
ANCHOR_MODEL = "ncnn-benchmark/shufflenet_v2.param"
GOAL_MODEL_RATIO = 0.75  # (a)/(b)
GOAL_PATH_RATIO = 1.2  # (c)/(a)


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p90_ms: float
    min_ms: float  # the least disturbed run: a hint when the machine is busy
    mean_ms: float = 0.0  # where some calls do more than others (a stream's edge look)

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ms = np.asarray(seconds) * 1e3
        return cls(
            float(np.median(ms)), float(np.percentile(ms, 90)), float(ms.min()), float(ms.mean())
        )


def published_figures(readme: Path) -> dict[str, dict[int, float]]:
    """ncnn's published shufflenet_v2 latencies (ms) by board and thread count, from the README."""
    text = readme.read_text()
    figures = {}
    num = r"(\d+(?:\.\d+)?)"
    pattern = rf"Raspberry Pi\s+(\S+?)\s+{num}\s*(?:\(4 threads?\))?\s*/\s*{num}"
    for board, four, one in re.findall(pattern, text):
        figures[f"Pi {board}"] = {4: float(four), 1: float(one)}
    return figures


def param_io(param: Path) -> tuple[str, tuple[int, int, int], str]:
    """(input blob, (c, h, w), output blob) of an ncnn .param: first Input, last layer's top."""
    layers = [line.split() for line in param.read_text().splitlines()[2:] if line.strip()]
    first = next(layer for layer in layers if layer[0] == "Input")
    values = dict(kv.split("=", 1) for kv in first[5:] if "=" in kv and not kv.startswith("-"))
    shape = (int(values.get("2", 3)), int(values.get("1", 224)), int(values.get("0", 224)))
    last = layers[-1]
    n_in = int(last[2])
    return first[4], shape, last[4 + n_in]


class AnchorNet:
    """An ncnn benchmark .param with empty weights, run on a random input; ``bf16``: with
    bfloat16 storage, as the landmark networks run (ncnn publishes its figures without)."""

    def __init__(self, param: Path, threads: int, bf16: bool = False):
        import ncnn

        self.input_blob, shape, self.output_blob = param_io(param)
        self.net = ncnn.Net()
        self.net.opt.num_threads = threads
        self.net.opt.use_vulkan_compute = False
        self.net.opt.use_bf16_storage = bf16
        if self.net.load_param(str(param)) != 0:
            raise ConfigError(f"ncnn cannot load {param}")
        self.net.load_model(ncnn.DataReaderFromEmpty())
        self.tensor = np.random.default_rng(0).random(shape, dtype=np.float32)
        self.mat = ncnn.Mat(self.tensor)

    def __call__(self) -> None:
        ex = self.net.create_extractor()
        ex.input(self.input_blob, self.mat)
        ret, _ = ex.extract(self.output_blob)
        if ret != 0:
            raise ConfigError(f"ncnn extract of {self.output_blob!r} failed ({ret})")


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _test_frame(size=(480, 640), photo_dir: str = "rps-cv/rock") -> np.ndarray:
    """A real photo at 640x480 when the shared datasets are there, else a synthetic scene."""
    import cv2

    photos = sorted((ROOT.parent / "shared" / "datasets" / photo_dir).glob("*.jpg"))
    image = cv2.imread(str(photos[0])) if photos else None
    if image is None:
        rng = np.random.default_rng(0)
        image = cv2.GaussianBlur(rng.integers(0, 255, (size[0], size[1], 3), np.uint8), (9, 9), 3)
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def run_bench(
    *,
    model: str | Path | None = None,
    threads: int = 1,
    anchors: str | Path | None = None,
    iterations: int = 200,
    warmup: int = 20,
) -> dict:
    """Measure (a), (b), (c) interleaved; return medians, p90s, ratios and Pi projections."""
    from .classifier import GestureClassifier
    from .preprocess import prepare
    from .sources import MemorySource
    from .stream import GestureStream

    anchors = Path(anchors) if anchors else DEFAULT_ANCHORS
    param = anchors / ANCHOR_MODEL
    if not param.is_file():
        raise ConfigError(f"no {ANCHOR_MODEL} under {anchors}: pass --anchors PATH/TO/anchors")
    classifier = GestureClassifier(model, threads=threads)
    if classifier.kind != "cnn":
        return run_hand_bench(classifier, param, anchors, threads, iterations, warmup)
    frame = _test_frame()
    stream = GestureStream(MemorySource([frame], loop=True), classifier)
    x, y, w, h = stream.roi_rect(frame.shape)
    roi = frame[y : y + h, x : x + w]
    tensor = prepare(roi, classifier.preprocessing)
    anchor = AnchorNet(param, threads)
    jobs: dict[str, Callable[[], object]] = {
        "a": lambda: classifier.probabilities(tensor),
        "a_call": lambda: classifier(roi),
        "b": anchor,
        "c": stream.step,
    }
    for _ in range(warmup):
        for job in jobs.values():
            job()
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    names = list(jobs)
    order = np.random.default_rng(0)
    clock = time.perf_counter
    for _ in range(iterations):
        # a fresh random order each round: rotating would always run one job right after
        # shufflenet has flushed the caches
        for name in order.permutation(names):
            start = clock()
            jobs[name]()
            samples[name].append(clock() - start)
    stream.stop()
    timings = {name: Timing.of(values) for name, values in samples.items()}
    a, b, c = (timings[k].median_ms for k in ("a", "b", "c"))
    result = {
        "threads": threads,
        "iterations": iterations,
        "model": str(classifier.folder),
        "input_size": list(classifier.input_size),
        "anchor": str(param),
        "timings_ms": {
            k: {"median": t.median_ms, "p90": t.p90_ms, "min": t.min_ms} for k, t in timings.items()
        },
        "load_average": _load_average(),
        "model_ratio": a / b,
        "path_ratio": c / a,
        "call_ratio": timings["a_call"].median_ms / a,
        "goals": {
            "model_ratio<=0.75": a / b <= GOAL_MODEL_RATIO,
            "path_ratio<=1.2": c / a <= GOAL_PATH_RATIO,
        },
        "projections": {},
    }
    readme = anchors / "README.md"
    figures = published_figures(readme) if readme.is_file() else {}
    for board, by_threads in figures.items():
        for n, published in sorted(by_threads.items()):
            model_ms, path_ms = a / b * published, c / b * published
            result["projections"][f"{board} {n}t"] = {
                "model_ms": model_ms,
                "model_fps": 1e3 / model_ms,
                "path_ms": path_ms,
                "path_fps": 1e3 / path_ms,
            }
    return result


#: Cost goals, in shufflenet_v2 (b) units at one thread, for recognisers that place hands.
HAND_GOALS = {
    "landmarks": {"still": 7.0, "frame": 2.2, "found_frame": 4.0, "empty_frame": 3.0},
    "fused": {"still": 7.0, "frame": 2.2, "found_frame": 4.0, "empty_frame": 3.0},
}


def _hand_frame() -> np.ndarray:
    """A 640x480 frame whose centred box holds a real hand (best-of-one's first rock)."""
    import cv2

    photo = _test_frame((480, 480), "best-of-one/rock")
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = cv2.resize(photo, (480, 480))
    return frame


def _far_hand_frame() -> np.ndarray:
    """A 640x480 frame whose box holds best-of-one's wall with a small hand (a third of the
    box's side) in its top left corner: the box pass misses it, the palm detector finds it."""
    import cv2

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = _test_frame((480, 480), "best-of-one/none")
    frame[16:176, 96:256] = cv2.resize(_test_frame((480, 480), "best-of-one/rock"), (160, 160))
    return frame


def run_hand_bench(classifier, param: Path, anchors: Path, threads: int, iterations, warmup):
    """A recogniser that places hands: a still box (all its passes), a frame of the tracking
    stream, one pass of each landmark network, beside shufflenet_v2, interleaved."""
    from .hand import INPUT_SIZE, LandmarkNet
    from .metadata import resolve_asset
    from .sources import MemorySource
    from .stream import GestureStream

    recogniser = classifier.recogniser
    landmarks = getattr(recogniser, "landmarks", recogniser)
    frame = _hand_frame()
    stream = GestureStream(MemorySource([frame], loop=True), classifier)
    x, y, w, h = stream.roi_rect(frame.shape)
    roi = np.ascontiguousarray(frame[y : y + h, x : x + w])
    crop = np.ascontiguousarray(roi[::2, ::2][:INPUT_SIZE, :INPUT_SIZE])
    anchor = AnchorNet(param, threads)
    # an empty box in the stream (a second recogniser: its tracking state is its own)
    from .classifier import GestureClassifier

    empty = np.zeros_like(frame)
    empty[:, 80:560] = _test_frame((480, 480), "best-of-one/none")
    empty_stream = GestureStream(
        MemorySource([empty], loop=True), GestureClassifier(classifier.folder, threads=threads)
    )
    empty_roi = np.ascontiguousarray(empty[y : y + h, x : x + w])
    # a frame that finds a lost hand: tracking forgotten before each read of a small far hand
    finder = GestureClassifier(classifier.folder, threads=threads)
    far_roi = np.ascontiguousarray(_far_hand_frame()[y : y + h, x : x + w])

    def found_frame():
        finder.reset_tracking()
        return finder.track(far_roi)

    jobs: dict[str, Callable[[], object]] = {
        "still": lambda: classifier(roi),
        "still_empty": lambda: classifier(empty_roi),
        "frame": stream.step,
        "empty_frame": empty_stream.step,
        "found_frame": found_frame,
        "b": anchor,
        "b_bf16": AnchorNet(param, threads, bf16=True),
    }
    detector = getattr(landmarks, "detector", None)
    if detector is not None:
        from .palm import INPUT_SIZE as PALM_SIZE
        from .palm import PalmDetector

        palm_pixels = np.ascontiguousarray(roi[:PALM_SIZE, :PALM_SIZE])
        for variant in ("full", "lite"):
            files = [
                resolve_asset(f"shipped:hand/palm_detection_{variant}.ncnn.{e}", Path())
                for e in ("param", "bin")
            ]
            if all(f.is_file() for f in files):
                palm_net = PalmDetector(
                    *files, landmarks.metadata["detector"]["blobs"], threads=threads
                )
                jobs[f"palm_{variant}"] = (lambda n: lambda: n.raw(palm_pixels))(palm_net)
    edge = getattr(landmarks, "edge", None)
    if edge is not None:  # the reader of boxes no finder places a hand in
        jobs["edge"] = lambda: edge.probs(roi)
    nets = {}
    for variant in ("full", "lite"):
        files = [resolve_asset(f"shipped:hand/hand_landmark_{variant}.ncnn.{e}", Path()) for e in
                 ("param", "bin")]  # fmt: skip
        if all(f.is_file() for f in files):
            nets[variant] = LandmarkNet(*files, landmarks.net.blobs, threads=threads)
            jobs[f"pass_{variant}"] = (lambda n: lambda: n.run_pixels(crop))(nets[variant])
    for _ in range(warmup):
        for job in jobs.values():
            job()
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    passes = {"still": 0, "still_empty": 0, "frame": 0}
    order = np.random.default_rng(0)
    clock = time.perf_counter
    for _ in range(iterations):
        for name in order.permutation(list(jobs)):
            before = landmarks.passes
            start = clock()
            jobs[name]()
            samples[name].append(clock() - start)
            if name in passes:
                passes[name] += landmarks.passes - before
    stream.stop()
    empty_stream.stop()
    found = finder(far_roi)
    timings = {name: Timing.of(values) for name, values in samples.items()}
    b = timings["b"].median_ms
    ratios = {k: t.median_ms / b for k, t in timings.items() if k != "b"}
    # an empty stream frame's mean: the edge reader reads one lost frame in ``every``
    ratios["empty_frame_mean"] = timings["empty_frame"].mean_ms / b
    # the same frame against shufflenet_v2 stored as the landmark networks are (bf16)
    like_for_like = {
        k: timings[k].median_ms / timings["b_bf16"].median_ms for k in ("still", "frame")
    }
    kind = classifier.kind
    goals = HAND_GOALS.get(kind, HAND_GOALS["landmarks"])
    probe = classifier(roi)
    result = {
        "kind": kind,
        "threads": threads,
        "iterations": iterations,
        "model": str(classifier.folder),
        "anchor": str(param),
        "reads": f"{probe.label.value} {probe.confidence:.2f}",
        "far_reads": f"{found.label.value} {found.confidence:.2f}",
        "passes": {k: v / iterations for k, v in passes.items()},
        "timings_ms": {
            k: {"median": t.median_ms, "p90": t.p90_ms, "min": t.min_ms, "mean": t.mean_ms}
            for k, t in timings.items()
        },
        "ratios": ratios,
        "ratios_bf16_anchor": like_for_like,
        "load_average": _load_average(),
        "goals": {f"{k}<={v}": ratios[k] <= v for k, v in goals.items()},
        "projections": {},
    }
    readme = anchors / "README.md"
    figures = published_figures(readme) if readme.is_file() else {}
    for board, by_threads in figures.items():
        for n, published in sorted(by_threads.items()):
            result["projections"][f"{board} {n}t"] = {
                k: {"ms": r * published, "fps": 1e3 / (r * published)}
                for k, r in ratios.items()
                if k in ("still", "still_empty", "frame", "empty_frame", "found_frame")
            }
    return result


def format_hand_report(result: dict) -> str:
    t = result["timings_ms"]
    lines = [
        f"{result['kind']} recogniser {result['model']}, {result['threads']} thread(s), "
        f"{result['iterations']} interleaved rounds; the test box reads {result['reads']}, "
        f"the far hand's box {result['far_reads']}",
        f"{'':34} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'x (b)':>7}",
    ]
    labels = {
        "still": "still box (every pass it takes)",
        "still_empty": "still box, empty",
        "frame": "stream frame (tracking on)",
        "empty_frame": "stream frame, empty box",
        "found_frame": "stream frame finding a lost far hand",
        "pass_full": "one pass, hand_landmark_full",
        "pass_lite": "one pass, hand_landmark_lite",
        "palm_full": "one pass, palm_detection_full",
        "palm_lite": "one pass, palm_detection_lite",
        "edge": "one pass, edge reader",
        "b": "(b) ncnn shufflenet_v2",
        "b_bf16": "    shufflenet_v2, bf16 storage",
    }
    for key, label in labels.items():
        if key in t:
            row = t[key]
            ratio = result["ratios"].get(key, 1.0)
            lines.append(
                f"{label:34} {row['median']:10.3f} {row['p90']:8.3f} {row['min']:8.3f} {ratio:7.2f}"
            )
    lines.append(
        f"landmark passes: {result['passes']['still']:.2f} per still box, "
        f"{result['passes']['still_empty']:.2f} per empty still box, "
        f"{result['passes']['frame']:.2f} per stream frame"
    )
    if "edge" in t:
        lines.append(
            "an empty stream frame on average (the edge reader reads one lost frame in a few): "
            f"{result['ratios']['empty_frame_mean']:.2f}x (b)"
        )
    mark = {True: "met", False: "NOT met"}
    lines.append("goals: " + ", ".join(f"{k} {mark[v]}" for k, v in result["goals"].items()))
    from .hand import BF16_STORAGE

    if BF16_STORAGE:
        same = result["ratios_bf16_anchor"]
        lines.append(
            "the landmark networks store bf16 (ncnn's published shufflenet_v2 does not); against "
            f"shufflenet_v2 stored so too: still {same['still']:.2f}x, frame {same['frame']:.2f}x"
        )
    if result["load_average"] is not None:
        lines.append(f"load average during the run: {result['load_average']:.2f}")
    if result["projections"]:
        lines.append("projected from ncnn's published shufflenet_v2 figures (ratio x published):")
        for name, p in result["projections"].items():
            parts = [f"{k} {v['ms']:.1f} ms ({v['fps']:.0f} fps)" for k, v in p.items()]
            lines.append(f"  {name:12} " + ", ".join(parts))
    return "\n".join(lines)


def format_report(result: dict) -> str:
    if "kind" in result:
        return format_hand_report(result)
    t = result["timings_ms"]
    lines = [
        f"model {result['model']} input {result['input_size'][0]}x{result['input_size'][1]}, "
        f"{result['threads']} thread(s), {result['iterations']} interleaved rounds",
        f"{'':28} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}",
    ]
    labels = {
        "a": "(a) our model, ncnn extract",
        "a_call": "    our model, full call",
        "b": "(b) ncnn shufflenet_v2",
        "c": "(c) frame -> stable gesture",
    }
    for key, label in labels.items():
        row = t[key]
        lines.append(f"{label:28} {row['median']:10.3f} {row['p90']:8.3f} {row['min']:8.3f}")
    goals = result["goals"]
    mark = {True: "met", False: "NOT met"}
    lines += [
        f"(a)/(b) = {result['model_ratio']:.3f}  (goal <= {GOAL_MODEL_RATIO}: "
        f"{mark[goals['model_ratio<=0.75']]})",
        f"(c)/(a) = {result['path_ratio']:.3f}  (goal <= {GOAL_PATH_RATIO}: "
        f"{mark[goals['path_ratio<=1.2']]}); full call/(a) = {result['call_ratio']:.3f}",
    ]
    if result["load_average"] is not None:
        lines.append(f"load average during the run: {result['load_average']:.2f}")
    if result["projections"]:
        lines.append("projected from ncnn's published shufflenet_v2 figures (ratio x published):")
        lines.append(f"{'':14} {'model ms':>9} {'fps':>7} {'per frame ms':>13} {'fps':>7}")
        for name, p in result["projections"].items():
            lines.append(
                f"{name:14} {p['model_ms']:9.2f} {p['model_fps']:7.1f} "
                f"{p['path_ms']:13.2f} {p['path_fps']:7.1f}"
            )
    else:
        lines.append("no published figures found: projections skipped")
    return "\n".join(lines)
