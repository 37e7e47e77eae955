"""The benchmark of recognisers that place hands (the landmark and fused kinds), beside ncnn's
shufflenet_v2 in one interleaved run: a still box (every pass it takes), a stream frame with the
hand tracked, an empty one, one that finds a lost far hand, and one pass of each network
(landmarks, palm detector, edge reader). ``python -m vision bench --model assets/hand``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .bench import AnchorNet, _load_average, _test_frame, measure, projections

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
    """A recogniser that places hands: still boxes, stream frames, one pass of each network,
    beside shufflenet_v2, interleaved (``vision.bench.measure``)."""
    from .hand import INPUT_SIZE
    from .sources import MemorySource
    from .stream import GestureStream

    recogniser = classifier.recogniser
    landmarks = getattr(recogniser, "landmarks", recogniser)
    frame = _hand_frame()
    stream = GestureStream(MemorySource([frame], loop=True), classifier)
    x, y, w, h = stream.roi_rect(frame.shape)
    box = (slice(y, y + h), slice(x, x + w))
    roi = np.ascontiguousarray(frame[box])
    crop = np.ascontiguousarray(roi[::2, ::2][:INPUT_SIZE, :INPUT_SIZE])
    jobs, others, finder, far_roi = _recogniser_jobs(classifier, stream, roi, box, threads)
    jobs["b"] = AnchorNet(param, threads)
    jobs["b_bf16"] = AnchorNet(param, threads, bf16=True)
    jobs.update(_network_jobs(landmarks, roi, crop, threads))
    timings, added = measure(jobs, iterations, warmup, lambda: landmarks.passes)
    for each in (stream, *others):
        each.stop()
    found = finder(far_roi)
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
    shown = ("still", "still_empty", "frame", "empty_frame", "found_frame")
    return {
        "kind": kind,
        "threads": threads,
        "iterations": iterations,
        "model": str(classifier.folder),
        "anchor": str(param),
        "reads": f"{probe.label.value} {probe.confidence:.2f}",
        "far_reads": f"{found.label.value} {found.confidence:.2f}",
        "passes": {k: added[k] / iterations for k in ("still", "still_empty", "frame")},
        "timings_ms": {
            k: {"median": t.median_ms, "p90": t.p90_ms, "min": t.min_ms, "mean": t.mean_ms}
            for k, t in timings.items()
        },
        "ratios": ratios,
        "ratios_bf16_anchor": like_for_like,
        "load_average": _load_average(),
        "goals": {f"{k}<={v}": ratios[k] <= v for k, v in goals.items()},
        "projections": projections(
            anchors,
            lambda published: {
                k: {"ms": r * published, "fps": 1e3 / (r * published)}
                for k, r in ratios.items()
                if k in shown
            },
        ),
    }


def _recogniser_jobs(classifier, stream, roi, box, threads: int):
    """The recogniser's own jobs: a still box with a hand and an empty one, a stream frame with
    the hand tracked, an empty stream frame (a second recogniser: its tracking state is its
    own) and a frame that finds a lost far hand (tracking forgotten before each read). Returns
    the jobs, the extra streams (to stop), the finder and the far hand's box."""
    from .classifier import GestureClassifier
    from .sources import MemorySource
    from .stream import GestureStream

    empty = np.zeros((480, 640, 3), np.uint8)
    empty[:, 80:560] = _test_frame((480, 480), "best-of-one/none")
    empty_stream = GestureStream(
        MemorySource([empty], loop=True), GestureClassifier(classifier.folder, threads=threads)
    )
    empty_roi = np.ascontiguousarray(empty[box])
    finder = GestureClassifier(classifier.folder, threads=threads)
    far_roi = np.ascontiguousarray(_far_hand_frame()[box])

    def found_frame():
        finder.reset_tracking()
        return finder.track(far_roi)

    jobs: dict[str, Callable[[], object]] = {
        "still": lambda: classifier(roi),
        "still_empty": lambda: classifier(empty_roi),
        "frame": stream.step,
        "empty_frame": empty_stream.step,
        "found_frame": found_frame,
    }
    return jobs, [empty_stream], finder, far_roi


def _network_jobs(landmarks, roi, crop, threads: int) -> dict[str, Callable[[], object]]:
    """One pass of each shipped network the recogniser may run: the palm detectors (full and
    lite), the edge reader and the landmark networks (full and lite)."""
    from .hand import LandmarkNet
    from .metadata import resolve_asset

    def shipped(name: str) -> list[Path] | None:
        files = [resolve_asset(f"shipped:hand/{name}.ncnn.{e}", Path()) for e in ("param", "bin")]
        return files if all(f.is_file() for f in files) else None

    jobs: dict[str, Callable[[], object]] = {}
    if getattr(landmarks, "detector", None) is not None:
        from .palm import INPUT_SIZE as PALM_SIZE
        from .palm import PalmDetector

        palm_pixels = np.ascontiguousarray(roi[:PALM_SIZE, :PALM_SIZE])
        blobs = landmarks.metadata["detector"]["blobs"]
        for variant in ("full", "lite"):
            if files := shipped(f"palm_detection_{variant}"):
                net = PalmDetector(*files, blobs, threads=threads)
                jobs[f"palm_{variant}"] = (lambda n: lambda: n.raw(palm_pixels))(net)
    edge = getattr(landmarks, "edge", None)
    if edge is not None:  # the reader of boxes no finder places a hand in
        jobs["edge"] = lambda: edge.probs(roi)
    for variant in ("full", "lite"):
        if files := shipped(f"hand_landmark_{variant}"):
            net = LandmarkNet(*files, landmarks.net.blobs, threads=threads)
            jobs[f"pass_{variant}"] = (lambda n: lambda: n.run_pixels(crop))(net)
    return jobs


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
