"""Soak test: push many frames through the threaded gesture stream; check memory and threads.

    python -m vision.soak [--frames 20000] [--cycles 4] [--size 320x240] [--json]

Runs ``--cycles`` start/stop rounds of the threaded gesture stream on an in-memory looping source
with the real classifier (odd frames included: grey, BGRA, tiny, empty), measures resident
memory after a warm-up and at the end, and counts threads before and after. Passes with under
``--max-growth-mb`` (10) of growth and no thread left behind; exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .cores import checked_threads
from .helptext import plain

log = logging.getLogger(__name__)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc, else peak RSS from resource)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def native_threads() -> int:
    """OS threads of this process (ncnn's pool included); Python's count where /proc is absent."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return threading.active_count()


@dataclass
class SoakResult:
    frames: int
    seconds: float
    fps: float
    errors: int
    rss_start_mb: float
    rss_end_mb: float
    growth_mb: float
    python_threads_before: int
    python_threads_after: int
    native_threads_before: int
    native_threads_after: int
    passed: bool
    problems: list[str]


def soak_frames(size: tuple[int, int], count: int = 16) -> list[np.ndarray]:
    """Varied synthetic frames (width, height), plus the odd ones a camera might hand over."""
    rng = np.random.default_rng(1)
    w, h = size
    frames = [rng.integers(0, 256, (h, w, 3), np.uint8) for _ in range(count)]
    frames[3] = frames[3][:, :, 0].copy()  # grey
    frames[7] = np.dstack([frames[7], np.full((h, w), 255, np.uint8)])  # BGRA
    frames[11] = frames[11][: max(1, h // 8), : max(1, w // 8)].copy()  # tiny
    frames[15] = np.zeros((0, 0, 3), np.uint8)  # empty: logged and skipped
    return frames


def _run_cycle(classifier, frames: list[np.ndarray], count: int, timeout: float) -> tuple[int, int]:
    """One start/stop round until ``count`` frames were handled; (processed, skipped)."""
    from .sources import MemorySource
    from .stream import GestureStream

    stream = GestureStream(MemorySource(frames, loop=True), classifier)
    start = stream.frames_processed
    with stream:
        seq, deadline = 0, time.monotonic() + timeout
        while stream.frames_processed + stream.errors - start < count:
            seq = stream.wait(seq, timeout=1.0).seq
            if time.monotonic() > deadline:
                raise TimeoutError(f"soak cycle made no progress within {timeout:.0f} s")
    if stream.running or not stream.source.closed:
        raise RuntimeError("stream threads still running or source open after stop()")
    return stream.frames_processed, stream.errors


def run_soak(
    frames: int = 20_000,
    *,
    cycles: int = 4,
    size: tuple[int, int] = (320, 240),
    model: str | Path | None = None,
    threads: int = 1,
    max_growth_mb: float = 10.0,
    warmup: int = 300,
) -> SoakResult:
    """Push ``frames`` frames through ``cycles`` start/stop rounds; see the module docstring."""
    from .classifier import GestureClassifier

    gc.collect()
    py_before, native_before = threading.active_count(), native_threads()
    classifier = GestureClassifier(model, threads=threads)
    images = soak_frames(size)
    _run_cycle(classifier, images, warmup, timeout=120)  # buffers, ncnn pool, logging caches
    gc.collect()
    rss_start = rss_mb()
    native_warm = native_threads()
    started, done, errors = time.monotonic(), 0, 0
    per_cycle = max(1, frames // max(1, cycles))
    while done < frames:
        ok, bad = _run_cycle(classifier, images, min(per_cycle, frames - done), timeout=600)
        done, errors = done + ok + bad, errors + bad
    seconds = time.monotonic() - started
    gc.collect()
    rss_end = rss_mb()
    py_after, native_after = threading.active_count(), native_threads()
    growth = rss_end - rss_start
    problems = []
    if growth >= max_growth_mb:
        problems.append(f"memory grew {growth:.1f} MB (limit {max_growth_mb} MB)")
    if py_after > py_before:
        problems.append(f"{py_after - py_before} Python thread(s) left running")
    if native_after > native_warm:
        problems.append(f"OS threads grew from {native_warm} to {native_after}")
    return SoakResult(
        frames=done,
        seconds=seconds,
        fps=done / seconds if seconds else 0.0,
        errors=errors,
        rss_start_mb=rss_start,
        rss_end_mb=rss_end,
        growth_mb=growth,
        python_threads_before=py_before,
        python_threads_after=py_after,
        native_threads_before=native_before,
        native_threads_after=native_after,
        passed=not problems,
        problems=problems,
    )


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"use WIDTHxHEIGHT like 320x240, not {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError("width and height must be positive")
    return w, h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vision.soak",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--frames", type=int, default=20_000, help="frames in all (default 20000)")
    parser.add_argument("--cycles", type=int, default=4, help="start/stop rounds (default 4)")
    parser.add_argument("--size", type=_size, default=(320, 240), help="frame size WxH")
    parser.add_argument("--model", help="exported model folder or model.json")
    parser.add_argument("--threads", type=int, default=1, help="ncnn threads (default 1)")
    parser.add_argument("--max-growth-mb", type=float, default=10.0, help="memory limit (10)")
    parser.add_argument("--warmup", type=int, default=300, help="frames before measuring (300)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if min(args.frames, args.cycles, args.threads, args.warmup) < 1:
        parser.error("--frames, --cycles, --threads and --warmup must be at least 1")
    args.threads = checked_threads(args.threads)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    result = run_soak(
        args.frames,
        cycles=args.cycles,
        size=args.size,
        model=args.model,
        threads=args.threads,
        max_growth_mb=args.max_growth_mb,
        warmup=args.warmup,
    )
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(
            f"{result.frames} frames in {result.seconds:.1f} s ({result.fps:.0f} fps); "
            f"RSS {result.rss_start_mb:.1f} -> {result.rss_end_mb:.1f} MB "
            f"({result.growth_mb:+.2f} MB); Python threads {result.python_threads_before} -> "
            f"{result.python_threads_after}; OS threads {result.native_threads_before} -> "
            f"{result.native_threads_after}"
        )
        print("PASS" if result.passed else "FAIL: " + "; ".join(result.problems))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
