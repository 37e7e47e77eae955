"""How many threads ncnn may use: at most the CPU cores this process may run on.

More threads than cores only slows ncnn down (measured on 2 cores: a round took 0.94 s at 2
threads, 2.9 s at 8, 13 s at 64, and none finished in 40 s at 999), so a ``--threads`` above the
core count is lowered to it with a warning rather than refused: a kiosk's command copied from a
Pi with more cores still plays.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def checked_threads(requested: int, option: str = "--threads", out: TextIO | None = None) -> int:
    """``requested``, or the core count with a one-line warning on ``out`` when it is more."""
    cores = usable_cores()
    if requested <= cores:
        return requested
    print(
        f"warning: {option} {requested} is more than the {cores} CPU cores here: using {cores} "
        "(more threads than cores only slows the recogniser down)",
        file=out if out is not None else sys.stderr,
    )
    return cores
