"""The project's errors: one base class; each also inherits the builtin it resembles."""

from __future__ import annotations


class RPSError(Exception):
    """Base class of every error this project raises on purpose."""


class ModelError(RPSError, ValueError):
    """A model or its metadata is missing, unreadable or inconsistent."""


class SourceError(RPSError, OSError):
    """A frame source could not be opened or read."""


class ConfigError(RPSError, ValueError):
    """A configuration value is wrong; the message names the key and what to do."""


class DatasetError(RPSError, ValueError):
    """A dataset folder is missing, empty or malformed."""


class UsageError(RPSError, ValueError):
    """A command's flags do not go together; the command exits 2 with its usage and this text."""
