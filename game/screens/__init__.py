"""The game's screens, one module each: ``nocamera``, ``attract`` (the start), ``countdown``,
``result``, ``matchend`` and ``settings``, on the shared ``base`` (the ``Screen`` state machine
and the pieces several screens draw). Each has ``startup(now, persist)``, ``handle_event(event)``,
``update(now, dt)``, ``draw(surface)`` on the 800x480 logical surface and ``cleanup() ->
persist``; a screen asks for the next one by setting ``next`` to its name and the app
(``game.app``) builds it and hands it what the last one's ``cleanup`` returned. The rules live
in ``game.referee``.
"""

from .attract import AttractScreen
from .base import (
    KEY_OF,
    TAP,
    THROW_KEYS,
    Screen,
    draw_camera,
    frame_surface,
    input_line,
    short_origin,
)
from .countdown import CountdownScreen
from .matchend import MatchEndScreen, match_summary
from .nocamera import NoCameraScreen
from .result import ResultScreen, explain, still_surface
from .settings import SettingsScreen

SCREENS: dict[str, type[Screen]] = {
    cls.name: cls
    for cls in (
        NoCameraScreen, AttractScreen, CountdownScreen, ResultScreen, MatchEndScreen,
        SettingsScreen,
    )
}  # fmt: skip

__all__ = [
    "KEY_OF",
    "SCREENS",
    "TAP",
    "THROW_KEYS",
    "AttractScreen",
    "CountdownScreen",
    "MatchEndScreen",
    "NoCameraScreen",
    "ResultScreen",
    "Screen",
    "SettingsScreen",
    "draw_camera",
    "explain",
    "frame_surface",
    "input_line",
    "match_summary",
    "short_origin",
    "still_surface",
]
