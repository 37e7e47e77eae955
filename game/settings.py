"""The player's settings, kept between starts: ``<user data>/settings.json``.

Changed on the settings screen (reached by touch from the start screen) and read at the next
start; an option given on the command line wins over the file for that run. The file is written
whole to a temporary name and renamed over the old one, so a power cut or a full card never
leaves half a file. A file that cannot be read is reported and the defaults are used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from vision.diskspace import disk_full, is_disk_full
from vision.errors import RPSError
from vision.paths import atomic_write, user_data_dir

log = logging.getLogger(__name__)

SETTINGS_NAME = "settings.json"
Roi = tuple[float, float, float, float]


class SettingsError(RPSError, ValueError):
    """The settings could not be saved (the message says why and what to do)."""


def default_settings_path() -> Path:
    return user_data_dir() / SETTINGS_NAME


@dataclass(frozen=True)
class Settings:
    """``rounds``: best of N; ``volume`` 0..1; ``mirror`` None: cameras mirrored, files not;
    ``roi``: the box as ``(x, y, w, h)`` fractions of the frame, None: the centre square."""

    rounds: int = 5
    sound: bool = True
    volume: float = 0.8
    mirror: bool | None = None
    roi: Roi | None = None

    def checked(self) -> Settings:
        """The same settings with every value made valid (clamped, or the default)."""
        rounds = max(1, min(99, int(self.rounds)))
        volume = max(0.0, min(1.0, round(float(self.volume), 2)))
        return replace(self, rounds=rounds, sound=bool(self.sound), volume=volume,
                       roi=clamp_roi(self.roi))  # fmt: skip


def clamp_roi(roi) -> Roi | None:
    """``roi`` moved and shrunk to lie inside the frame (at least a tenth of it each way)."""
    if roi is None:
        return None
    x, y, w, h = (float(v) for v in roi)
    w, h = max(0.1, min(1.0, w)), max(0.1, min(1.0, h))
    x, y = max(0.0, min(1.0 - w, x)), max(0.0, min(1.0 - h, y))
    return tuple(round(v, 3) for v in (x, y, w, h))


def load_settings(path: str | Path | None = None) -> Settings:
    """The saved settings, or the defaults (no file yet, or one that cannot be read: logged)."""
    path = Path(path) if path is not None else default_settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {k: v for k, v in data.items() if k in Settings.__dataclass_fields__}
        if known.get("roi") is not None:
            known["roi"] = tuple(known["roi"])
        return Settings(**known).checked()
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError, TypeError) as exc:
        log.warning("cannot read the settings in %s (%s): using the defaults", path, exc)
        return Settings()


def save_settings(settings: Settings, path: str | Path | None = None) -> Path:
    """Write ``settings`` whole (temporary file, fsync, rename); ``SettingsError`` or
    ``DiskFull`` (one line each) when it cannot be, with the old file left as it was."""
    path = Path(path) if path is not None else default_settings_path()
    data = (json.dumps(asdict(settings.checked()), indent=1) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: tmp.write_bytes(data), durable=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(path.parent, len(data), "saving the settings") from exc
        raise SettingsError(f"cannot save the settings to {path}: {exc.strerror or exc}") from exc
    return path
