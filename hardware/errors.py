"""The hardware package's errors (each also a project error and a builtin)."""

from __future__ import annotations

from vision.errors import ConfigError, RPSError


class HardwareConfigError(ConfigError):
    """The hardware TOML file is missing, unreadable or wrong; the message names the key."""


class HardwareError(RPSError, OSError):
    """The pins cannot be driven here (no GPIO, pin busy, no permission)."""
