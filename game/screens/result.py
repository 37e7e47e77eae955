"""The result of a round: both throws, who won, what was read (the box's still), the stats."""

from __future__ import annotations

import cv2
import numpy as np
import pygame

from vision.labels import Gesture

from .. import art
from ..art import WIDTH
from ..referee import RoundResult
from .base import KEY_OF, Screen, draw_score, draw_stats, is_start

#: What each throw does to the one it beats.
VERBS = {Gesture.ROCK: "crushes", Gesture.PAPER: "covers", Gesture.SCISSORS: "cut"}


def explain(player: Gesture, robot: Gesture, outcome: str) -> str:
    """One line saying why: "Your scissors cut paper", "The robot's paper covers your rock"."""
    if outcome == "win":
        return f"Your {player} {VERBS[player]} {robot}"
    if outcome == "lose":
        return f"The robot's {robot} {VERBS[robot]} your {player}"
    return f"You both threw {player}"


def still_surface(image: np.ndarray, size: int) -> pygame.Surface:
    """A BGR crop as a ``size`` x ``size`` picture (the box the recogniser read)."""
    small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
    return pygame.image.frombuffer(rgb.tobytes(), (size, size), "RGB").copy()


class ResultScreen(Screen):
    """Both throws, who won (or "no hand seen: again!"), what was read, and the stats so far.

    With a camera the player's side is the still of the box read after SHOOT and "I saw: paper
    91%", so a misread can be understood; with the keyboard it says which key was read."""

    name = "result"
    STILL = 170

    def __init__(self, ctx):
        super().__init__(ctx)
        self.result: RoundResult | None = None
        self.sound_played = False
        self.still: pygame.Surface | None = None

    def startup(self, now: float, persist: dict) -> None:
        """The countdown's result (and still); the round is logged as it is shown."""
        super().startup(now, persist)
        self.result = persist["result"]
        still = persist.get("still")
        self.still = still_surface(still, self.STILL) if still is not None else None
        self.ctx.log_round(self.result, self.ctx.referee.over)

    def handle_event(self, event) -> None:
        if is_start(event) and self.elapsed() > 0.4:
            self._advance()

    def _advance(self) -> None:
        self.next = "matchend" if self.ctx.referee.over is not None else "countdown"

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        if not self.sound_played:
            self.ctx.sounds.outcome(self.result.outcome).play()
            self.sound_played = True
        hold = (1.6 if self.result.replay else 2.8) / self.ctx.options.speed
        if self.still is not None:
            hold += 0.6 / self.ctx.options.speed  # time to look at the still
        if self.elapsed() > hold:
            self._advance()

    def seen(self) -> str:
        """What was read: "I saw: paper 91%", "I saw: no hand", "You pressed P: paper"."""
        r = self.result
        if not self.ctx.input.camera:
            if not r.player.is_throw:
                return "No key pressed"
            if self.ctx.options.auto:
                return f"Demo throw: {r.player}"
            return f"You pressed {KEY_OF[r.player]}: {r.player}"
        if not r.player.is_throw:
            return "I saw: no hand"
        return f"I saw: {r.player} {r.confidence:.0%}"

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        draw_score(surface, self.ctx)
        r = self.result
        t = self.elapsed() / 0.35
        size = int(170 * (0.5 + 0.5 * art.ease_out_back(t)))
        art.text(surface, "ROBOT", 26, art.MUTED, center=(115, 78))
        art.text(surface, "YOU", 26, art.MUTED, center=(685, 78))
        robot = art.hand_sprite(r.robot, max(8, size))
        surface.blit(robot, robot.get_rect(center=(115, 195)))
        if self.still is not None:
            box = self.still.get_rect(center=(685, 190))
            surface.blit(self.still, box)
            pygame.draw.rect(surface, art.ACCENT, box.inflate(8, 8), 3, border_radius=4)
        else:
            player = art.hand_sprite(r.player, max(8, size), robot=False, mirror=True)
            surface.blit(player, player.get_rect(center=(685, 195)))
        art.text(surface, str(r.robot), 28, art.METAL, center=(115, 305), max_width=220)
        art.text(surface, self.seen(), 28, art.SKIN, center=(685, 305), max_width=220)
        if r.replay:
            headline, colour = "No hand seen!", art.DRAW
            subs = ["Show rock, paper or scissors", "in the box at SHOOT. Again!"]
            if not self.ctx.input.camera:
                subs = ["Press R, P or S", "before SHOOT. Again!"]
        else:
            outcome = str(r.outcome)
            headline = {"win": "You win!", "lose": "Robot wins!", "draw": "Draw!"}[outcome]
            colour = art.OUTCOME_COLOURS[outcome]
            subs = [explain(r.player, r.robot, outcome)]
        middle = 380  # between the robot's hand and the player's side
        art.text(surface, headline, 64, colour, center=(WIDTH / 2, 165), shadow=True,
                 max_width=middle)  # fmt: skip
        for i, sub in enumerate(subs):
            art.text(surface, sub, 26, art.INK, center=(WIDTH / 2, 225 + 28 * i), max_width=middle)
        draw_stats(surface, self.ctx, r, top=340)
