"""Installing a personal model: the staging folder, the active/previous swap, reset, rollback,
and SIGTERM (nothing half-written is left; a killed run's staging is removed by the next).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from vision import paths
from vision.errors import ModelError
from vision.signals import on_sigterm

log = logging.getLogger(__name__)


#: The install's half-written model folders are ``<models>/.incoming-<pid>-*``.
STAGING_PREFIX = ".incoming-"


class Terminated(Exception):
    """SIGTERM arrived: stop, leave nothing half-written behind."""


def model_size(kind: str) -> int:
    """About how many bytes a personalised model of ``kind`` takes: its shipped folder's."""
    folder = {"cnn": paths.SHIPPED_MODEL_DIR, "landmarks": paths.SHIPPED_HAND_DIR}.get(
        kind, paths.SHIPPED_DEFAULT_DIR
    )
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def models_dir_of(models_dir: str | Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else paths.user_models_dir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def clean_stale_staging(models_dir: str | Path | None = None) -> list[Path]:
    """Remove the half-written model folders (``.incoming-<pid>-*``) that a killed run left in
    ``models_dir``; a running personalisation's own are left alone. Returns what was removed."""
    base = models_dir_of(models_dir)
    removed = []
    if not base.is_dir():
        return removed
    for folder in base.iterdir():
        if not folder.is_dir() or not folder.name.startswith(STAGING_PREFIX):
            continue
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s, left half-written by a stopped run", folder)
        removed.append(folder)
    return removed


_FINISHING = False


@contextlib.contextmanager
def finishing():
    """While installing: a SIGTERM waits for the renames (see ``stop_on_sigterm``)."""
    global _FINISHING
    _FINISHING = True
    try:
        yield
    finally:
        _FINISHING = False


@contextlib.contextmanager
def stop_on_sigterm():
    """SIGTERM raises ``Terminated`` in the main thread, so every ``finally`` cleans up (no
    ``.incoming-*`` folder is left); during the install's renames it is ignored (milliseconds
    later the run is done anyway)."""

    def handler(signum: int) -> None:
        if _FINISHING:
            log.info("SIGTERM while installing: finishing the install first")
            return
        raise Terminated()

    with on_sigterm(handler):
        yield


def install_model(staging: str | Path, models_dir: str | Path | None = None) -> Path:
    """Make ``staging`` (a finished export) the active model; the old active becomes previous.

    ``staging`` must be on the same file system (a folder inside ``models_dir``): the swap is
    two renames, and a failure puts the old model back, so there is never a half-installed model.
    """
    base = models_dir_of(models_dir)
    active, previous = base / "active", base / "previous"
    staging = Path(staging)
    if not (staging / paths.METADATA_NAME).is_file():
        raise ModelError(f"{staging} holds no exported model: nothing installed")
    base.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=base))
    had_previous = previous.exists()
    moved_active = False
    try:
        if active.exists():
            if had_previous:
                os.replace(previous, trash / "previous")
            os.replace(active, previous)
            moved_active = True
        os.replace(staging, active)
    except OSError:
        if moved_active and not active.exists():
            os.replace(previous, active)
        if had_previous and not previous.exists():
            os.replace(trash / "previous", previous)
        shutil.rmtree(trash, ignore_errors=True)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    log.info("installed %s as the active model", active)
    return active


def reset_model(models_dir: str | Path | None = None) -> Path | None:
    """Go back to the shipped model: the active model becomes the previous one (for rollback).

    Returns where the deactivated model now is, or None if no personal model was active.
    """
    base = models_dir_of(models_dir)
    active, previous = base / "active", base / "previous"
    if not active.exists():
        return None
    if previous.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=base))
        os.replace(previous, trash / "previous")
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(active, previous)
    log.info("deactivated the personal model (kept in %s)", previous)
    return previous


def rollback_model(models_dir: str | Path | None = None) -> Path:
    """Swap the active and previous models (the previous one becomes active)."""
    base = models_dir_of(models_dir)
    active, previous = base / "active", base / "previous"
    if not (previous / paths.METADATA_NAME).is_file():
        raise ModelError(f"there is no previous model in {previous} to go back to")
    if not active.exists():
        os.replace(previous, active)
        return active
    swap = Path(tempfile.mkdtemp(prefix=".swap-", dir=base)) / "model"
    os.replace(active, swap)
    os.replace(previous, active)
    os.replace(swap, previous)
    swap.parent.rmdir()
    return active
