"""A full disk as one line a person can act on: which path, how much space is needed and free.

``DiskFull`` is raised where a write fails with ``ENOSPC`` (or a full quota), after whatever was
half-written has been removed, so a command can print it and exit 2 instead of a traceback.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from .errors import RPSError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(RPSError, OSError):
    """No space left where a file had to be written (``str()`` is the message alone)."""

    def __str__(self) -> str:
        return str(self.strerror)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def free_bytes(path: str | Path) -> int | None:
    """Free bytes on the disk holding ``path`` (its nearest existing folder); None if unknown."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def size_text(n: int) -> str:
    """Bytes in the unit a person reads: ``12 KB``, ``3.4 MB``, ``1.2 GB``."""
    if n < 1000**2:
        return f"{max(1, round(n / 1000)) if n > 0 else 0} KB"
    if n < 1000**3:
        return f"{n / 1000**2:.1f} MB"
    return f"{n / 1000**3:.1f} GB"


def disk_full(path: str | Path, needed: int | None, what: str = "this") -> DiskFull:
    """The error for a write of about ``needed`` bytes (None: not known) that did not fit at
    ``path``."""
    free = free_bytes(path)
    have = f"{size_text(free)} free" if free is not None else ""
    need = f"{what} needs about {size_text(needed)} free" if needed is not None else ""
    space = ", ".join(part for part in (need, have) if part)
    return DiskFull(
        errno.ENOSPC,
        f"the disk is full at {path}: {space}; free some space (or use a folder on another "
        "disk) and run this again",
    )
