"""The end of a match: who won, the final stats; then a new match (or, in a demo, the end)."""

from __future__ import annotations

import math

import pygame

from .. import art
from ..art import WIDTH
from ..referee import MatchOver
from .base import Screen, draw_score, draw_stats, is_start, pulse_colour


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def match_summary(referee) -> str:
    """The rounds that counted, and those that did not: "4 rounds decided, 2 draws (not counted),
    1 replayed (no hand seen)"."""
    match = referee.match
    parts = [f"{_count(match.wins + match.losses, 'round')} decided"]
    if match.draws:
        parts.append(f"{_count(match.draws, 'draw')} (not counted)")
    if referee.replays:
        parts.append(f"{referee.replays} replayed (no hand seen)")
    return ", ".join(parts)


class MatchEndScreen(Screen):
    """Who won the match, the final stats; then a new match (or, with ``--auto``, the end)."""

    name = "matchend"
    PULSE = 0.04  # the title grows and shrinks by this much

    def __init__(self, ctx):
        super().__init__(ctx)
        self.over: MatchOver | None = None
        self.played = False

    def startup(self, now: float, persist: dict) -> None:
        """How the match ended, handed over from the countdown through the result screen."""
        super().startup(now, persist)
        self.over = persist.get("over")

    def cleanup(self) -> dict:
        return {}  # a new match starts from nothing

    def handle_event(self, event) -> None:
        if is_start(event) and self.elapsed() > 0.8:
            self._finish()

    def _finish(self) -> None:
        if self.ctx.options.auto:
            self.ctx.quit(0)
        else:
            self.ctx.new_match()
            self.next = "attract"

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        if not self.played:
            (
                self.ctx.sounds.match
                if self.ctx.referee.match.winner == "player"
                else self.ctx.sounds.lose
            ).play()
            self.played = True
        if self.elapsed() > (2.5 if self.ctx.options.auto else 12.0) / self.ctx.options.speed:
            self._finish()

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        draw_score(surface, self.ctx)
        over = self.over or MatchOver("lost")
        colour = {"won": art.WIN, "lost": art.LOSE}.get(over.reason, art.DRAW)
        pulse = 1.0 + self.PULSE * math.sin(self.now * 5)
        art.text(surface, over.message, 60, colour, center=(WIDTH / 2, 100), shadow=True,
                 scale=pulse, grow=1.0 + self.PULSE, max_width=WIDTH - 120)  # fmt: skip
        mood = {"lost": "happy", "won": "sad"}.get(over.reason, "")  # the robot's side of it
        art.draw_robot_face(surface, (WIDTH // 2, 196), 96, self.now, mood)
        art.text(surface, match_summary(self.ctx.referee), 24, art.MUTED,
                 center=(WIDTH / 2, 268))  # fmt: skip
        ref = self.ctx.referee
        last = ref.results[-1] if ref.results else None
        draw_stats(surface, self.ctx, last, top=288, bottom=424)
        if self.ctx.options.auto:
            prompt, colour = "Demo over", art.MUTED
        else:
            prompt = "Press SPACE (or tap) to play again"
            colour = pulse_colour(art.ACCENT, self.now)
        art.text(surface, prompt, 34, colour, center=(WIDTH / 2, 452))
