"""The countdown: "rock, paper, scissors, shoot!", the throws meeting, the player's read."""

from __future__ import annotations

import math

import numpy as np
import pygame

from vision.labels import Gesture

from .. import art
from ..art import WIDTH
from ..referee import MatchOver, RoundResult
from ..round import Beat, Shoot
from ..stills import Stills
from .base import TAP, THROW_KEYS, Screen, ThrowButtons, draw_camera, draw_score, score_of


class CountdownScreen(Screen):
    """ "Rock, paper, scissors, shoot!": the robot's fist shakes on each beat; the throws meet at
    "shoot"; the player's gesture is read in a short window after it. The score bar keeps the
    score from before the round until the result screen shows it."""

    name = "countdown"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.round = None
        self.beat: Beat | None = None
        self.beat_time = 0.0
        self.shot_time: float | None = None
        self.chosen: Gesture | None = None
        self.buttons = ThrowButtons(top=150)
        self.score = score_of(ctx.referee.match)  # as it stood when the round began
        self.stills = Stills(ctx.input)  # the frames a throw may be read from
        self.result: RoundResult | None = None
        self.over: MatchOver | None = None
        self.still: np.ndarray | None = None  # the box read for the result

    def handle_event(self, event) -> None:
        gesture = None
        if event.type == pygame.KEYDOWN:
            gesture = THROW_KEYS.get(event.key)
        elif event.type == TAP and not self.ctx.input.camera:
            gesture = self.buttons.hit(event.pos)
        if gesture is not None and not self.ctx.input.camera:
            self.chosen = gesture
            self.ctx.referee.throw(gesture)

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        ref = self.ctx.referee
        if self.round is None:
            self.round = ref.new_round(now)  # the robot's throw is fixed here
            self.stills.clear()
            if self.ctx.options.auto and not self.ctx.input.camera:
                self.chosen = self.ctx.auto_throw(ref)
        reading = self.ctx.input.reading()
        if reading is not None:
            ref.observe(reading)
        if self.ctx.input.camera:  # the frame the throw is read from, for the result's still
            self.stills.remember(self.round.shoot_time, self.round.end_time)
        for event in ref.update(now):
            if isinstance(event, Beat):
                self.beat, self.beat_time = event, now
                (
                    self.ctx.sounds.shoot if event.step == event.total else self.ctx.sounds.beat
                ).play()
            elif isinstance(event, Shoot):
                self.shot_time = now
            elif isinstance(event, RoundResult):
                self.result = event
                decision = self.round.decision
                self.still = (
                    self.stills.still_for(decision.frame_index)
                    if self.ctx.input.camera and decision is not None
                    else None
                )
                self.next = "result"
            elif isinstance(event, MatchOver):
                self.over = event

    def cleanup(self) -> dict:
        """The round's result, the match's end (None while it goes on) and the still of the box
        read, for the result screen."""
        return {"result": self.result, "over": self.over, "still": self.still}

    def settled(self, speed: float) -> bool:
        """Photographed just after SHOOT, when both throws are shown."""
        return self.shot_time is not None and self.now - self.shot_time >= 0.3 / max(speed, 1.0)

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        draw_score(surface, self.ctx, self.score)
        rnd = self.round
        art.text(surface, "ROBOT", 28, art.MUTED, center=(200, 80))
        if rnd is not None and rnd.revealed:
            t = (self.now - (self.shot_time or self.now)) / 0.25
            size = int(220 * (0.6 + 0.4 * art.ease_out_back(t)))
            sprite = art.hand_sprite(rnd.robot, max(8, size))
            surface.blit(sprite, sprite.get_rect(center=(200, 235)))
        else:
            step, frac = rnd.beat_at(self.now) if rnd else (0, 0.0)
            lift = math.sin(math.pi * frac) * 50 if step else 0
            sprite = art.hand_sprite(Gesture.ROCK, 200)
            surface.blit(sprite, sprite.get_rect(center=(200, 250 - lift)))
        if self.ctx.input.camera:
            art.text(surface, "YOU", 28, art.MUTED, center=(600, 80))
            draw_camera(surface, self.ctx, pygame.Rect(430, 100, 340, 290))
        else:
            art.text(surface, "YOU: press R, P or S, or tap", 26, art.MUTED, center=(600, 120))
            self.buttons.draw(surface, self.chosen)
            if self.chosen is not None:
                art.text(surface, f"you chose {self.chosen}", 30, art.SKIN, center=(600, 316))
        if self.beat is not None:
            t = (self.now - self.beat_time) / 0.2
            scale = 0.7 + 0.3 * art.ease_out_back(t)
            colour = art.DRAW if self.beat.step == self.beat.total else art.INK
            art.text(
                surface,
                self.beat.word.upper(),
                84,
                colour,
                center=(WIDTH / 2, 430),
                shadow=True,
                scale=scale,
                grow=1.05,
            )
