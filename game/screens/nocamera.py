"""The screen that says the camera could not be opened, then goes on with the keyboard."""

from __future__ import annotations

import pygame

from .. import art
from ..art import WIDTH
from .base import Screen, is_start, wrap


class NoCameraScreen(Screen):
    """The camera could not be opened: say so, then carry on with the keyboard."""

    name = "nocamera"

    def handle_event(self, event) -> None:
        if is_start(event):
            self.next = "attract"

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        if self.ctx.options.auto and self.elapsed() > 2.0 / self.ctx.options.speed:
            self.next = "attract"

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        art.draw_robot_face(surface, (WIDTH // 2, 120), 110, self.now)
        art.text(surface, "I can't see you!", 56, art.DRAW, center=(WIDTH / 2, 232))
        message = self.ctx.input.message or "No camera."
        for i, line in enumerate(wrap(message, 70)[:3]):
            art.text(surface, line, 22, art.MUTED, center=(WIDTH / 2, 280 + i * 24))
        art.text(
            surface,
            "Play with the keys R, P, S or tap the buttons.",
            30,
            art.INK,
            center=(WIDTH / 2, 370),
        )
        art.text(surface, "Press SPACE or tap to continue", 26, art.ACCENT, center=(WIDTH / 2, 420))
