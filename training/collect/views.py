"""What the player sees while capturing: a terminal view (countdown, counter) or the pygame
preview window with the box drawn.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import numpy as np

from training.collect.loop import CaptureState
from training.collect.variety import format_counts, what_to_show
from training.collect.writer import Rect
from vision.labels import CLASS_ORDER
from vision.ncnnnet import captured_stderr

log = logging.getLogger(__name__)


#: Preview window size limit (the frame is scaled down to fit).
MAX_WINDOW = (960, 720)


class TerminalView:
    """Headless: the countdown and the counter as text (Ctrl-C stops)."""

    def __init__(self, out: TextIO | None = None):
        self.out = out if out is not None else sys.stderr
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self._last_second: int | None = None
        self._last_saved = -1
        self._last_judged = 0
        self._status = ""
        self._prompt = ""
        self._warning = ""
        self._printed = -1
        self._text = ""
        self._printed_text = ""

    def update(self, frame: np.ndarray | None, rect: Rect | None, state: CaptureState) -> bool:
        if state.status != self._status:
            self._status = state.status
            if state.status:
                self._line(state.status)
        if state.prompt != self._prompt:
            self._prompt = state.prompt
            self._line(f"{state.label.value}: {state.prompt}")
        if state.warning != self._warning:
            self._warning = state.warning
            if state.warning:
                self._line(f"WARNING: {state.warning}")
        if state.phase == "countdown":
            second = int(np.ceil(state.seconds_left))
            if second != self._last_second and second > 0:
                self._last_second = second
                self._line(f"{state.label.value}: saving starts in {second}...")
        elif (state.saved, state.judged) != (self._last_saved, self._last_judged):
            # the readings of ``--check`` come in after their saves (``loop.Checker``)
            caught_up = state.judged == state.saved and state.judged != self._last_judged
            self._last_saved, self._last_judged = state.saved, state.judged
            target = f"/{state.target}" if state.target else ""
            text = f"{state.label.value}: {state.saved}{target} saved (Ctrl-C to stop)"
            if state.judged:
                text += f"; {state.judged_text()}"
            if state.counts:
                text += f"; in all: {format_counts({g: state.total(g) for g in CLASS_ORDER})}"
            milestone = state.saved == 1 or state.saved % 10 == 0 or state.saved == state.target
            if self.tty:
                print(f"\r{text}", end="", file=self.out, flush=True)
            elif (milestone and self._printed != state.saved) or (
                caught_up and self._printed == state.saved and text != self._printed_text
            ):  # a milestone's line, and again once its readings are all in
                self._line(text)
                self._printed, self._printed_text = state.saved, text
            self._text = text
        return True

    def _line(self, text: str) -> None:
        prefix = "\n" if self.tty and self._last_saved > 0 else ""
        print(f"{prefix}{text}", file=self.out, flush=True)

    def close(self) -> None:
        if self.tty and self._last_saved > 0:
            print(file=self.out, flush=True)
        elif self._last_saved > 0 and self._printed != self._last_saved:
            self._line(self._text)  # the final count


def display_available() -> bool:
    """True when SDL can open a window someone can see (not the dummy or offscreen driver)."""
    if os.environ.get("SDL_VIDEODRIVER", "").lower() in ("dummy", "offscreen"):
        return False
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame

        with captured_stderr():  # SDL prints its probing failures (no X, no Wayland) to stderr
            pygame.display.init()
        ok = pygame.display.get_driver() not in ("dummy", "offscreen")
    except Exception:  # no pygame, no video device: headless
        return False
    if not ok:
        pygame.display.quit()
    return ok


class PreviewWindow:
    """A pygame window with the frame, the ROI, the countdown and the counter; Esc or Q stops."""

    def __init__(self, title: str = "RPS Robot - capture", fps: float = 30.0):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self.pg = pygame
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption(title)
        self.screen = None
        self.fps = fps
        self.clock = pygame.time.Clock()
        self.font = pygame.font.Font(None, 32)
        self.big = pygame.font.Font(None, 200)

    def _window(self, frame_size: tuple[int, int]):
        w, h = frame_size
        scale = min(1.0, MAX_WINDOW[0] / w, MAX_WINDOW[1] / h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if self.screen is None or self.screen.get_size() != size:
            self.screen = self.pg.display.set_mode(size)
        return scale

    def update(self, frame: np.ndarray | None, rect: Rect | None, state: CaptureState) -> bool:
        pg = self.pg
        for event in pg.event.get():
            if event.type == pg.QUIT:
                return False
            if event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q):
                return False
        if frame is None:
            if self.screen is None:
                self._window((640, 480))
            self.screen.fill((20, 20, 20))
        else:
            scale = self._window((frame.shape[1], frame.shape[0]))
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
            image = pg.image.frombuffer(rgb.tobytes(), (frame.shape[1], frame.shape[0]), "RGB")
            self.screen.blit(pg.transform.smoothscale(image, self.screen.get_size()), (0, 0))
            if rect is not None:
                x, y, w, h = (round(v * scale) for v in rect)
                shade = pg.Surface(self.screen.get_size(), pg.SRCALPHA)
                shade.fill((0, 0, 0, 110))  # dim what will not be saved
                shade.fill((0, 0, 0, 0), (x, y, w, h))
                self.screen.blit(shade, (0, 0))
                colour = (255, 210, 0) if state.phase == "countdown" else (0, 220, 90)
                width = 3
                if state.just_saved:
                    colour, width = (255, 255, 255), 8
                pg.draw.rect(self.screen, colour, (x, y, w, h), width)
        self._draw_text(state)
        pg.display.flip()
        self.clock.tick(self.fps)
        return True

    def _draw_text(self, state: CaptureState) -> None:
        sw, sh = self.screen.get_size()
        bar = self.pg.Surface((sw, 40), self.pg.SRCALPHA)
        bar.fill((0, 0, 0, 160))
        self.screen.blit(bar, (0, 0))
        target = f" / {state.target}" if state.target else ""
        left = f"{state.label.value.upper()}   {state.saved}{target} saved"
        self.screen.blit(self.font.render(left, True, (255, 255, 255)), (10, 8))
        hint = self.font.render("Esc or Q: stop", True, (200, 200, 200))
        self.screen.blit(hint, (sw - hint.get_width() - 10, 8))
        lines = []
        if state.counts:
            lines.append((format_counts({g: state.total(g) for g in CLASS_ORDER}), (200, 200, 200)))
        if state.judged:
            good = state.read_right == state.judged
            lines.append((state.judged_text(), (120, 230, 120) if good else (255, 170, 60)))
        if state.phase == "capturing" and state.prompt:
            lines.append((state.prompt, (255, 255, 255)))
        if state.warning:
            lines.append((state.warning, (255, 120, 60)))
        y = sh - 10
        for text, colour in reversed(lines):
            surface = self._fit(text, sw - 20, colour)
            y -= surface.get_height() + 6
            back = self.pg.Surface((surface.get_width() + 12, surface.get_height() + 6))
            back.set_alpha(170)
            back.fill((0, 0, 0))
            self.screen.blit(back, (4, y - 3))
            self.screen.blit(surface, (10, y))
        if state.phase == "countdown" and state.seconds_left > 0:
            number = self.big.render(str(int(np.ceil(state.seconds_left))), True, (255, 210, 0))
            self.screen.blit(number, number.get_rect(center=(sw // 2, sh // 2)))
            ready = self.font.render(f"get ready: {what_to_show(state.label)}", True, (255, 210, 0))
            self.screen.blit(ready, ready.get_rect(center=(sw // 2, sh // 2 + 90)))
        if state.status:
            text = self._fit(state.status, sw - 20, (255, 90, 90))
            self.screen.blit(text, text.get_rect(center=(sw // 2, 60)))

    def _fit(self, text: str, width: int, colour):
        """The text rendered, scaled down if it is wider than ``width``."""
        surface = self.font.render(text, True, colour)
        if surface.get_width() > width:
            scale = width / surface.get_width()
            size = (width, max(1, round(surface.get_height() * scale)))
            surface = self.pg.transform.smoothscale(surface, size)
        return surface

    def close(self) -> None:
        self.pg.display.quit()
