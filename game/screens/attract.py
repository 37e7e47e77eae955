"""The start screen: how to play, what reads the hand, the preview; SPACE, a tap or the button."""

from __future__ import annotations

import math

import pygame

from vision.labels import THROWS

from .. import art
from ..art import WIDTH
from .base import (
    TAP,
    Screen,
    ThrowButtons,
    draw_camera,
    draw_notice,
    how_to_play,
    input_line,
    is_start,
    pulse_colour,
)


class AttractScreen(Screen):
    """Waiting for a player: how to play, what reads the hand, a preview; SPACE / tap / button."""

    name = "attract"

    SETTINGS = pygame.Rect(WIDTH - 132, 6, 124, 40)  # the way to settings (and quit) by touch

    def __init__(self, ctx):
        super().__init__(ctx)
        ctx.body.attract()
        self.cards = ThrowButtons(top=118)

    def handle_event(self, event) -> None:
        if event.type == TAP and self.SETTINGS.collidepoint(event.pos):
            self.next = "settings"
        elif is_start(event):
            self.next = "countdown"

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        if self.ctx.body.start_pressed():
            self.next = "countdown"
        if self.ctx.options.auto and self.elapsed() > 1.0 / self.ctx.options.speed:
            self.next = "countdown"

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        art.text(surface, "Rock  Paper  Scissors", 64, art.INK, center=(WIDTH / 2 - 40, 46),
                 shadow=True, max_width=WIDTH - 2 * self.SETTINGS.width - 40)  # fmt: skip
        pygame.draw.rect(surface, art.PANEL, self.SETTINGS, border_radius=10)
        pygame.draw.rect(surface, art.MUTED, self.SETTINGS, 2, border_radius=10)
        art.text(surface, "Settings", 24, art.INK, center=self.SETTINGS.center)
        art.draw_robot_face(surface, (120, 160), 110, self.now)
        bob = math.sin(self.now * 2.5) * 5
        for i, g in enumerate(THROWS):
            sprite = art.hand_sprite(g, 56)
            surface.blit(sprite, (230 + i * 56, 125 + (bob if i % 2 else -bob)))
        notice = getattr(self.ctx.options, "notice", None)
        art.text(surface, "How to play", 30, art.ACCENT, topleft=(32, 210))
        steps = how_to_play(self.ctx)[: 4 if notice else None]  # a notice needs the room
        for i, step in enumerate(steps):
            colour = art.INK if i < 4 else art.MUTED
            art.text(surface, f"{i + 1}. {step}" if i < 4 else step, 24, colour,
                     topleft=(32, 240 + 25 * i), max_width=370)  # fmt: skip
        right = pygame.Rect(430, 92, 340, 240 if notice else 270)
        if self.ctx.input.camera:
            draw_camera(surface, self.ctx, right)
        else:
            art.text(surface, "Your throws", 30, art.INK, center=(right.centerx, 102))
            self.cards.draw(surface, None)
            tips = ("Press the key, or tap the card,", "before the robot says SHOOT!")
            for i, tip in enumerate(tips):
                art.text(surface, tip, 24, art.MUTED, center=(right.centerx, 280 + 26 * i),
                         max_width=right.width)  # fmt: skip
        if notice:
            draw_notice(surface, notice, pygame.Rect(24, 342, WIDTH - 48, 60))
        art.text(surface, input_line(self.ctx), 24, art.MUTED, center=(WIDTH / 2, 422))
        colour = pulse_colour(art.ACCENT, self.now)
        art.text(surface, "Press SPACE or tap to play", 34, colour, center=(WIDTH / 2, 452))
