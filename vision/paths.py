"""Where things live: the shipped model, the user's data folder and the active user model.

Model lookup order (``GestureClassifier()`` with no path):
1. an explicit path given by the caller,
2. the active user model, ``<user data>/models/active/``
   (installed by ``python -m training personalize``),
3. the shipped default recogniser, ``assets/default/`` (the landmark recogniser in
   ``assets/hand/`` fused with the CNN in ``assets/models/``).
The user data folder is ``$RPS_ROBOT_HOME`` if set, else ``$XDG_DATA_HOME/rps-robot``,
else ``~/.local/share/rps-robot``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
#: The shipped CNN (``"kind": "cnn"``; also the base that personalisation fine-tunes).
SHIPPED_MODEL_DIR = ASSETS_DIR / "models"
#: The shipped landmark recogniser (MediaPipe's hand-landmark network and its gesture head).
SHIPPED_HAND_DIR = ASSETS_DIR / "hand"
#: The shipped default recogniser: the two above, fused (``"kind": "fused"``).
SHIPPED_DEFAULT_DIR = ASSETS_DIR / "default"
METADATA_NAME = "model.json"


def user_data_dir() -> Path:
    """The per-user data folder (not created here)."""
    if env := os.environ.get("RPS_ROBOT_HOME"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "rps-robot"


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def active_model_dir() -> Path:
    return user_models_dir() / "active"


def previous_model_dir() -> Path:
    return user_models_dir() / "previous"


def default_model_dir() -> Path:
    """The active user model if one is installed, else the shipped default recogniser."""
    active = active_model_dir()
    if (active / METADATA_NAME).is_file():
        return active
    return SHIPPED_DEFAULT_DIR


def unwritable_reason(folder: str | Path, probe_bytes: int = 4096) -> str | None:
    """Why files cannot be written into ``folder`` (created when missing), or ``None``.

    A real write is tried (``probe_bytes`` flushed to disk and removed), so a read-only or full
    filesystem is found before any work is done; a folder without write permission bits counts
    as read-only even for root, who could write there anyway.
    """
    import stat
    import tempfile

    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return f"{folder} is read-only"
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rps-write-test-") as f:
            f.write(b"\0" * probe_bytes)
            f.flush()
            os.fsync(f.fileno())
    except FileExistsError:
        return f"{folder} is a file, not a folder"
    except OSError as exc:
        return f"cannot write into {folder}: {exc.strerror or exc}"
    return None


def atomic_write(path: str | Path, write: Callable[[Path], object], durable: bool = False) -> Path:
    """``write(tmp)`` fills a temporary file beside ``path`` (the same suffix, so ``np.savez``
    adds none), which then replaces ``path`` in one rename: never half-written, and on any
    failure the old file is left as it was and the temporary one removed. ``durable``: fsync
    the file first (settings a power cut must not lose). The one writer for every file that is
    replaced whole: checkpoints, caches, metadata, settings."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str, durable: bool = False) -> Path:
    """``atomic_write`` of a UTF-8 text (JSON metadata, settings)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable)
