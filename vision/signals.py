"""SIGTERM (systemd's stop, ``kill``), handled in one place for every command.

``on_sigterm(handler)``: for the block, SIGTERM calls ``handler(signum)`` (in the main thread,
where Python runs signal handlers); the previous handler comes back afterwards. Only the main
thread can install a handler: elsewhere the block runs unchanged. What each command does with it
is its own: the game raises ``hardware.shutdown.Terminated`` so the body's close runs,
personalisation raises its own so no half-written model is left, capture sets a stop event, the
landmark workers' start holds it until the pool is up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def on_sigterm(handler: Callable[[int], object]) -> Iterator[bool]:
    """SIGTERM calls ``handler(signum)`` inside the block; yields whether it was installed."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: handler(signum))
    try:
        yield True
    finally:  # a handler installed from C (getsignal's None) reads as the default
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextmanager
def sigterm_held() -> Iterator[None]:
    """A SIGTERM arriving inside the block is noted, and raised again on leaving it, where the
    handler outside (or the default) deals with it. Used while a worker pool starts: arriving
    mid-start, SIGTERM stopped the parent while it wrote a worker's start-up data, or before the
    pool was bound to a name (its workers and threads were then never stopped and printed
    tracebacks). A handler that only notes it, not a blocked signal mask: a mask holds only the
    thread that sets it, the kernel hands a process's SIGTERM to any thread not blocking it
    (ncnn's, OpenCV's), and Python then runs the handler in the main thread all the same."""
    arrived: list[int] = []
    with on_sigterm(arrived.append):
        yield
    if arrived:
        signal.raise_signal(signal.SIGTERM)
