"""Project how long ``python -m training personalize --kind landmarks`` takes on a Raspberry Pi.

The Pi's own install personalises the landmark recogniser (numpy and ncnn; no PyTorch). This runs
that command, as a user would, on 50 captures a class of a shared set (``best-of-one``: one
person, one wall), pinned to one core of this machine (the command inherits it), and times ncnn's
``shufflenet_v2`` benchmark network (``../shared/anchors``) at one thread in the same run, before
and after. The Pi's time is this machine's times the ratio of ncnn's published one-thread
``shufflenet_v2`` latency on the Pi to the one measured here (nearly all of the run is ncnn:
the landmark network on every capture and its views, the edge reader's trunk on every view; the
numpy refits take seconds). A Pi 4 or 5 has four cores; the command reads the captures with two
workers, so four cores take about half the one-core time (not projected from ncnn's 4-thread
figures, which parallelise one network).

    python scripts/measure_personalize_pi.py [--set best-of-one] [--count 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.personalize import ordered_images  # noqa: E402
from vision.bench import ANCHOR_MODEL, DEFAULT_ANCHORS, AnchorNet, published_figures  # noqa: E402
from vision.labels import CLASS_ORDER  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"


def anchor_ms(runs: int = 60) -> float:
    """ncnn's ``shufflenet_v2`` at one thread here: the median of ``runs`` (after 10 warm-ups)."""
    net = AnchorNet(DEFAULT_ANCHORS / ANCHOR_MODEL, threads=1)
    for _ in range(10):
        net()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        net()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="best-of-one")
    p.add_argument("--count", type=int, default=50, help="captures a class")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        captures = Path(tmp) / "captures"
        for g in CLASS_ORDER:
            (captures / g.value).mkdir(parents=True)
            for f in ordered_images(DATA / args.set / g.value)[: args.count]:
                shutil.copy(f, captures / g.value / f.name)
        env = {**os.environ, "RPS_ROBOT_HOME": str(Path(tmp) / "home")}
        command = [sys.executable, "-m", "training", "personalize", str(captures),
                   "--kind", "landmarks", "--no-progress"]  # fmt: skip
        pin = hasattr(os, "sched_setaffinity")
        if pin:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        before = anchor_ms()
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        after = anchor_ms()
    print(done.stdout[-1500:], done.stderr[-1500:], sep="\n")
    here = (before + after) / 2
    cores = "one core" if pin else "all cores (no CPU affinity here)"
    print(f"personalize --kind landmarks, {4 * args.count} captures of {args.set}, {cores}: "
          f"{seconds:.0f} s (exit {done.returncode}); shufflenet_v2 at one thread here "
          f"{before:.2f} / {after:.2f} ms (before / after)")  # fmt: skip
    for board, published in published_figures(DEFAULT_ANCHORS / "README.md").items():
        ratio = published[1] / here
        print(f"  {board}: x{ratio:.1f} -> {seconds * ratio / 60:.1f} min on one core, "
              f"about {seconds * ratio / 120:.1f} min on its four")  # fmt: skip
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
