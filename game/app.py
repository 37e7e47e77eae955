"""The pygame loop: events, update, draw on an 800x480 logical surface scaled to the window.

``App(options, player_input, sounds, body).run() -> exit code``. The window opens in ``run()``,
never at import. Screens are swapped when one sets ``next``; with ``screenshot_dir`` every screen
is saved as a PNG once it has settled (and before it is left).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pygame

from hardware.body import NullBody, RobotBody
from vision.labels import THROWS, Gesture

from . import art
from .art import HEIGHT, WIDTH
from .inputs import PlayerInput
from .referee import MatchOver, Referee, RoundResult
from .round import Timing
from .rules import Match
from .screens import SCREENS, TAP, Screen
from .sound import Sounds
from .strategy import make_strategy

log = logging.getLogger(__name__)

FPS = 30
#: SDL's drivers that draw nowhere a person can see; SDL falls back to ``offscreen`` by itself.
INVISIBLE_DRIVERS = ("offscreen", "dummy")


def no_screen_reason() -> str | None:
    """Why the game would be invisible, or None: SDL found no screen and fell back to a driver
    that draws nowhere (over SSH, or Pi OS Lite without ``SDL_VIDEODRIVER=kmsdrm``). A driver
    named alone in ``SDL_VIDEODRIVER`` (``dummy`` for tests and screenshots) is taken as meant."""
    import os

    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
    except pygame.error as exc:
        driver = f"none ({exc})"
    finally:
        pygame.display.quit()
    asked = os.environ.get("SDL_VIDEODRIVER", "").strip().lower()
    if driver in INVISIBLE_DRIVERS and asked == driver:
        return None
    if driver in INVISIBLE_DRIVERS or driver.startswith("none"):
        return (
            f"no screen found (SDL's video driver: {driver}): play without a screen with "
            "--headless, or on a Pi without a desktop run with SDL_VIDEODRIVER=kmsdrm as a user "
            "in the video, input and render groups"
        )
    return None


@dataclass
class Options:
    rounds: int | None = 5  # best of N; None: endless
    strategy: str = "adaptive"
    seed: int | None = None
    auto: bool = False
    speed: float = 1.0
    fullscreen: bool = False
    screenshot_dir: Path | None = None
    max_replays: int = 5
    show_fps: bool = False
    log_path: Path | None = None
    notice: str | None = None  # a warning for the attract screen (e.g. which model fell back)
    volume: float = 0.8  # 0..1
    sound: bool = True  # off: silent at any volume (the settings screen's switch)
    settings: object = None  # the saved game.settings.Settings this run started from


class App:
    """The screen game. ``ctx`` for every screen: referee, input, sounds, body and options."""

    def __init__(
        self,
        options: Options,
        player_input: PlayerInput | None = None,
        sounds: Sounds | None = None,
        body: RobotBody | None = None,
        round_log=None,
    ):
        """``round_log``: a claimed ``RoundLog`` (else one is made from ``options.log_path``)."""
        self.options = options
        self.input = player_input or PlayerInput()
        self.sounds = sounds or Sounds.silent()
        self.sounds.set_volume(options.volume if options.sound else 0.0)
        self.body = body or NullBody()
        self.strategy = make_strategy(options.strategy, seed=options.seed)
        self.rng = random.Random(options.seed)
        self.timing = Timing().faster(options.speed)
        if not self.input.camera:  # time to find the key
            self.timing = Timing(capture=2.5).faster(options.speed)
        self.round_log = round_log
        if round_log is None and options.log_path is not None:
            from .roundlog import RoundLog

            self.round_log = RoundLog(options.log_path)
        self.referee: Referee = self._referee()
        self.exit_code: int | None = None
        self.shots = 0
        self._photographed: Screen | None = None  # the screen last saved as a screenshot
        self._shot_failed = False  # warned once that screenshots cannot be written
        self.screens_shown: list[str] = []

    def _referee(self) -> Referee:
        rounds = self.options.rounds
        cap = None
        if self.options.auto and rounds is not None:  # a demo must end in bounded time
            cap = 4 * rounds + 2 * self.options.max_replays
        return Referee(
            self.strategy,  # the robot keeps learning across matches
            Match(best_of=rounds),
            self.timing,
            body=self.body,
            max_replays=self.options.max_replays,
            max_attempts=cap,
        )

    # ---- called by screens -----------------------------------------------------------------

    def new_match(self) -> None:
        self.referee = self._referee()

    def quit(self, code: int = 0) -> None:
        self.exit_code = code

    def auto_throw(self, referee: Referee) -> Gesture:
        """``--auto`` with keyboard input: a random throw, so demos play by themselves."""
        gesture = self.rng.choice(THROWS)
        referee.throw(gesture)
        return gesture

    def log_round(self, result: RoundResult, over: MatchOver | None) -> None:
        if self.round_log is None:
            return
        from .roundlog import RoundRecord

        if result.play is not None:
            record = RoundRecord.scored(
                result.robot,
                result.player,
                result.confidence,
                result.play.outcome,
                round=result.play.number,
                replays=result.replays_before,
            )
        elif over is not None and over.reason == "no hand":
            record = RoundRecord.void(result.robot, replays=self.referee.replays_in_a_row)
        else:
            return
        self.round_log.record(record)

    # ---- the loop --------------------------------------------------------------------------

    def _open_window(self) -> pygame.Surface:
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption("RPS Robot")
        if self.options.fullscreen:
            window = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
            pygame.mouse.set_visible(False)
        else:
            window = pygame.display.set_mode((WIDTH, HEIGHT), pygame.RESIZABLE)
        return window

    def _view(self, window: pygame.Surface) -> tuple[float, pygame.Rect]:
        ww, wh = window.get_size()
        scale = min(ww / WIDTH, wh / HEIGHT) or 1.0
        rect = pygame.Rect(0, 0, int(WIDTH * scale), int(HEIGHT * scale))
        rect.center = (ww // 2, wh // 2)
        return scale, rect

    def _to_logical(self, window, x: float, y: float) -> tuple[int, int]:
        scale, rect = self._view(window)
        return int((x - rect.left) / scale), int((y - rect.top) / scale)

    def _translate(self, window, event):
        """Mouse clicks and touches become TAP events in logical coordinates."""
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if getattr(event, "touch", False):
                return None  # SDL's copy of a touch; the FINGERDOWN is handled
            return pygame.event.Event(TAP, pos=self._to_logical(window, *event.pos))
        if event.type == pygame.FINGERDOWN:
            ww, wh = window.get_size()
            return pygame.event.Event(TAP, pos=self._to_logical(window, event.x * ww, event.y * wh))
        if event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP, pygame.FINGERUP):
            return None
        return event

    def _present(self, window: pygame.Surface, logical: pygame.Surface) -> None:
        if window.get_size() == (WIDTH, HEIGHT):
            window.blit(logical, (0, 0))
        else:
            scale, rect = self._view(window)
            window.fill((0, 0, 0))
            window.blit(pygame.transform.smoothscale(logical, rect.size), rect)
        pygame.display.flip()

    def _draw_fps(self, surface: pygame.Surface, clock: pygame.time.Clock) -> None:
        reading = self.input.reading()
        cam = f"  camera {reading.fps:4.1f} fps" if reading is not None else ""
        label = f"game {clock.get_fps():4.1f} fps{cam}"
        box = art.text(surface, label, 20, art.ACCENT, topright=(WIDTH - 8, HEIGHT - 22))
        del box

    def _snapshot(self, screen: Screen, surface: pygame.Surface) -> None:
        if self.options.screenshot_dir is None or self._photographed is screen:
            return
        self._photographed = screen
        folder = Path(self.options.screenshot_dir)
        self.shots += 1
        path = folder / f"{self.shots:03d}-{screen.name}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            pygame.image.save(surface, str(path))
        except (OSError, pygame.error) as exc:  # a full or read-only disk: play on
            if not self._shot_failed:
                log.warning("cannot save the screenshot %s (%s): playing on without "
                            "screenshots", path, exc)  # fmt: skip
            self._shot_failed = True

    def run(self) -> int:
        window = self._open_window()
        logical = pygame.Surface((WIDTH, HEIGHT))
        clock = pygame.time.Clock()
        self.input.start()
        first = "nocamera" if self.input.message else "attract"
        screen = self._make(first, time.monotonic(), {})
        try:
            while self.exit_code is None:
                dt = clock.tick(FPS) / 1000.0
                now = time.monotonic()
                for event in pygame.event.get():
                    if event.type == pygame.QUIT:
                        self.quit(0)
                    elif event.type == pygame.KEYDOWN and event.key in (
                        pygame.K_ESCAPE,
                        pygame.K_q,
                    ):
                        self.quit(0)
                    elif event.type == pygame.KEYDOWN and event.key == pygame.K_f:
                        self.options.show_fps = not self.options.show_fps
                    else:
                        translated = self._translate(window, event)
                        if translated is not None:
                            screen.handle_event(translated)
                window = pygame.display.get_surface() or window
                screen.update(now, dt)
                screen.draw(logical)
                if self.options.show_fps:
                    self._draw_fps(logical, clock)
                if screen.settled(self.options.speed):
                    self._snapshot(screen, logical)
                self._present(window, logical)
                if screen.next is not None:
                    self._snapshot(screen, logical)
                    screen = self._make(screen.next, now, screen.cleanup())
        finally:
            self.input.stop()
            pygame.display.quit()
            if self.round_log is not None:
                self.round_log.close()
        return self.exit_code or 0

    def _make(self, name: str, now: float, persist: dict) -> Screen:
        """The screen ``name``, entered at ``now`` with what the last one handed over."""
        log.debug("screen: %s", name)
        self.screens_shown.append(name)
        screen = SCREENS[name](self)
        screen.startup(now, persist)
        return screen
