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


def measure(
    jobs: dict[str, Callable[[], object]],
    iterations: int,
    warmup: int,
    counter: Callable[[], int] | None = None,
) -> tuple[dict[str, Timing], dict[str, int]]:
    """Each job ``warmup`` times, then ``iterations`` rounds of all of them, interleaved in a
    fresh random order each round (rotating would always run one job right after shufflenet has
    flushed the caches), so background load hits every job alike. Returns each job's ``Timing``
    and, with ``counter`` (read before and after every run), what the job's runs added to it."""
    for _ in range(warmup):
        for job in jobs.values():
            job()
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    added = dict.fromkeys(jobs, 0)
    order = np.random.default_rng(0)
    clock = time.perf_counter
    for _ in range(iterations):
        for name in order.permutation(list(jobs)):
            before = counter() if counter is not None else 0
            start = clock()
            jobs[name]()
            samples[name].append(clock() - start)
            if counter is not None:
                added[name] += counter() - before
    return {name: Timing.of(values) for name, values in samples.items()}, added


def projections(anchors: Path, project: Callable[[float], dict]) -> dict:
    """``project(published ms)`` for each board and thread count ncnn publishes shufflenet_v2
    figures for (the anchors' README); empty without them."""
    readme = anchors / "README.md"
    figures = published_figures(readme) if readme.is_file() else {}
    return {
        f"{board} {n}t": project(published)
        for board, by_threads in figures.items()
        for n, published in sorted(by_threads.items())
    }


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
        from .handbench import run_hand_bench

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
    timings, _ = measure(jobs, iterations, warmup)
    stream.stop()
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
    result["projections"] = projections(
        anchors,
        lambda published: {
            "model_ms": a / b * published,
            "model_fps": 1e3 / (a / b * published),
            "path_ms": c / b * published,
            "path_fps": 1e3 / (c / b * published),
        },
    )
    return result


def format_report(result: dict) -> str:
    if "kind" in result:
        from .handbench import format_hand_report

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
