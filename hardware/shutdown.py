"""Safe shutdown: SIGTERM becomes an exception, so ``finally`` blocks (and the body's close) run.

systemd stops a service with SIGTERM; Python's default is to die on the spot, leaving a servo
powered at its last angle and LEDs lit. ``sigterm_raises()`` turns the first SIGTERM into
``Terminated`` (a ``SystemExit`` with status 0) raised in the main thread; further SIGTERMs while
cleaning up are logged and ignored, so a second signal cannot interrupt the close itself.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from vision.signals import on_sigterm

log = logging.getLogger(__name__)


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives (exit status 0: a requested stop)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(0)
        self.signum = signum


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block, SIGTERM raises ``Terminated``; the old handler comes back afterwards.

    Only the main thread can install signal handlers; elsewhere this does nothing.
    """
    fired = False

    def handler(signum: int) -> None:
        nonlocal fired
        if fired:
            log.warning("signal %d again while shutting down: ignored", signum)
            return
        fired = True
        log.info("SIGTERM received: shutting down")
        raise Terminated(signum)

    with on_sigterm(handler):
        yield
