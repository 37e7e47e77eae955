"""Docstrings as ``--help`` text: without reST markup (double backticks, ``:class:`` roles)."""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(doc: str | None) -> str:
    """``doc`` as a person reads it in a terminal: roles reduced to their text, no backticks."""
    return _ROLE.sub(r"\1", doc or "").replace("``", "").strip()
