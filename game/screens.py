"""The game's screens: one class each, all with ``handle_event(event)``, ``update(now, dt)`` and
``draw(surface)`` on the 800x480 logical surface. A screen asks for the next one by setting
``next`` to its name; the app (``game.app``) builds it. The rules live in ``game.referee``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pygame

from vision.labels import THROWS, Gesture

from . import art
from .art import HEIGHT, WIDTH
from .referee import MatchOver, RoundResult
from .round import Beat, Shoot

TAP = pygame.USEREVENT + 7  # a mouse click or touch, ``pos`` in logical coordinates
THROW_KEYS = {pygame.K_r: Gesture.ROCK, pygame.K_p: Gesture.PAPER, pygame.K_s: Gesture.SCISSORS}
START_KEYS = (pygame.K_SPACE, pygame.K_RETURN, pygame.K_KP_ENTER)


def _is_start(event) -> bool:
    return event.type == TAP or (event.type == pygame.KEYDOWN and event.key in START_KEYS)


class Screen:
    """Base class: ``ctx`` is the app (referee, input, sounds, body, options)."""

    name = "screen"

    def __init__(self, ctx):
        self.ctx = ctx
        self.next: str | None = None
        self.started: float | None = None
        self.now = 0.0

    def elapsed(self) -> float:
        return 0.0 if self.started is None else self.now - self.started

    def handle_event(self, event) -> None:
        pass

    def update(self, now: float, dt: float) -> None:
        if self.started is None:
            self.started = now
        self.now = now

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill(art.BG)


# ---- pieces shared by screens -----------------------------------------------------------------


def draw_score(surface: pygame.Surface, ctx) -> None:
    match = ctx.referee.match
    bar_rect = pygame.Rect(0, 0, WIDTH, 52)
    pygame.draw.rect(surface, art.PANEL, bar_rect)
    art.text(surface, f"You {match.wins}", 40, art.SKIN, center=(WIDTH * 0.3, 27))
    art.text(surface, f"{match.losses} Robot", 40, art.METAL, center=(WIDTH * 0.7, 27))
    kind = "endless" if match.endless else f"best of {match.best_of}"
    art.text(surface, kind, 22, art.MUTED, center=(WIDTH / 2, 17))
    art.text(surface, f"draws {match.draws}", 22, art.MUTED, center=(WIDTH / 2, 38))


def frame_surface(ctx, size: tuple[int, int]):
    """The newest camera frame, fitted to ``size``, with the ROI drawn; None without one."""
    frame = ctx.input.frame()
    if frame is None or getattr(frame, "image", None) is None:
        return None
    image = frame.image
    h, w = image.shape[:2]
    scale = min(size[0] / w, size[1] / h)
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    small = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    x, y, rw, rh = ctx.input.roi_rect(image.shape)
    if ctx.input.mirror:
        rgb = rgb[:, ::-1]
        x = w - x - rw
    surf = pygame.image.frombuffer(np.ascontiguousarray(rgb).tobytes(), (tw, th), "RGB")
    roi = pygame.Rect(int(x * scale), int(y * scale), int(rw * scale), int(rh * scale))
    pygame.draw.rect(surf, art.ACCENT, roi, 3)
    return surf


def draw_camera(surface: pygame.Surface, ctx, rect: pygame.Rect) -> None:
    """The live preview with the ROI, the recognised gesture and a confidence bar."""
    pygame.draw.rect(surface, art.PANEL, rect, border_radius=10)
    img = frame_surface(ctx, (rect.width - 12, rect.height - 50))
    reading = ctx.input.reading()
    if img is not None:
        surface.blit(img, img.get_rect(midtop=(rect.centerx, rect.top + 6)))
    else:
        art.text(surface, "waiting for the camera...", 22, art.MUTED, center=rect.center)
    if reading is not None:
        label = str(reading.gesture) if reading.gesture.is_throw else "no hand"
        y = rect.bottom - 38
        art.text(surface, label, 26, art.INK, topleft=(rect.left + 10, y + 4))
        art.bar(
            surface, pygame.Rect(rect.left + 120, y + 6, rect.width - 130, 16), reading.confidence
        )
        if reading.state not in ("ok", "starting"):
            art.text(surface, reading.state, 20, art.LOSE, topright=(rect.right - 8, rect.top + 8))


class ThrowButtons:
    """Tap targets for rock, paper and scissors (keyboard/touch play)."""

    def __init__(self, top: int, left: int = 430, width: int = 340):
        w = width // 3
        self.rects = {
            g: pygame.Rect(left + i * w + 4, top, w - 8, 112) for i, g in enumerate(THROWS)
        }

    def hit(self, pos) -> Gesture | None:
        return next((g for g, r in self.rects.items() if r.collidepoint(pos)), None)

    def draw(self, surface: pygame.Surface, chosen: Gesture | None) -> None:
        for g, r in self.rects.items():
            colour = art.ACCENT if g is chosen else art.PANEL
            pygame.draw.rect(surface, colour, r, border_radius=12)
            pygame.draw.rect(surface, art.MUTED, r, 2, border_radius=12)
            surface.blit(art.hand_sprite(g, 76, robot=False), (r.centerx - 38, r.top + 4))
            key = str(g)[0].upper()
            art.text(surface, f"{key}  {g}", 20, art.INK, center=(r.centerx, r.bottom - 12))


# ---- screens ----------------------------------------------------------------------------------


class NoCameraScreen(Screen):
    """The camera could not be opened: say so, then carry on with the keyboard."""

    name = "nocamera"

    def handle_event(self, event) -> None:
        if _is_start(event):
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
        for i, line in enumerate(_wrap(message, 70)[:3]):
            art.text(surface, line, 22, art.MUTED, center=(WIDTH / 2, 280 + i * 24))
        art.text(
            surface,
            "Play with the keys R, P, S or tap the buttons.",
            30,
            art.INK,
            center=(WIDTH / 2, 370),
        )
        art.text(surface, "Press SPACE or tap to continue", 26, art.ACCENT, center=(WIDTH / 2, 420))


class AttractScreen(Screen):
    """Waiting for a player: the robot, how to play, a preview; SPACE / tap / button starts."""

    name = "attract"

    def __init__(self, ctx):
        super().__init__(ctx)
        ctx.body.attract()

    def handle_event(self, event) -> None:
        if _is_start(event):
            self.next = "countdown"

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        if self.ctx.body.start_pressed():
            self.next = "countdown"
        if self.ctx.options.auto and self.elapsed() > 1.0 / self.ctx.options.speed:
            self.next = "countdown"

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        art.text(surface, "Rock  Paper  Scissors", 64, art.INK, center=(WIDTH / 2, 52), shadow=True)
        art.draw_robot_face(surface, (200, 210), 150, self.now)
        bob = math.sin(self.now * 2.5) * 8
        for i, g in enumerate(THROWS):
            sprite = art.hand_sprite(g, 84)
            surface.blit(sprite, (80 + i * 86, 320 + (bob if i % 2 else -bob)))
        if self.ctx.input.camera:
            draw_camera(surface, self.ctx, pygame.Rect(430, 100, 340, 290))
            hint = "Show your hand in the box at SHOOT!"
        else:
            art.text(surface, "Keyboard play", 36, art.INK, center=(600, 170))
            art.text(surface, "press R, P or S (or tap)", 26, art.MUTED, center=(600, 210))
            art.text(surface, "before SHOOT!", 26, art.MUTED, center=(600, 238))
            hint = "Beat the robot: it learns how you play!"
        art.text(surface, hint, 24, art.MUTED, center=(600, 410))
        pulse = 0.75 + 0.25 * math.sin(self.now * 4)
        colour = tuple(int(c * pulse) for c in art.ACCENT)
        art.text(surface, "Press SPACE or tap to play", 34, colour, center=(WIDTH / 2, 452))


class CountdownScreen(Screen):
    """ "Rock, paper, scissors, shoot!": the robot's fist shakes on each beat; the throws meet at
    "shoot"; the player's gesture is read in a short window after it."""

    name = "countdown"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.round = None
        self.beat: Beat | None = None
        self.beat_time = 0.0
        self.shot_time: float | None = None
        self.chosen: Gesture | None = None
        self.buttons = ThrowButtons(top=150)

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
            if self.ctx.options.auto and not self.ctx.input.camera:
                self.ctx.auto_throw(ref)
        reading = self.ctx.input.reading()
        if reading is not None:
            ref.observe(reading)
        for event in ref.update(now):
            if isinstance(event, Beat):
                self.beat, self.beat_time = event, now
                (
                    self.ctx.sounds.shoot if event.step == event.total else self.ctx.sounds.beat
                ).play()
            elif isinstance(event, Shoot):
                self.shot_time = now
            elif isinstance(event, RoundResult):
                self.ctx.last_result = event
                self.next = "result"
            elif isinstance(event, MatchOver):
                self.ctx.last_over = event

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        draw_score(surface, self.ctx)
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
                art.text(surface, f"you chose {self.chosen}", 30, art.SKIN, center=(600, 310))
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
            )


class ResultScreen(Screen):
    """Both throws, who won (or "no hand seen: again!"), and the stats so far."""

    name = "result"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.result: RoundResult = ctx.last_result
        self.sound_played = False

    def handle_event(self, event) -> None:
        if _is_start(event) and self.elapsed() > 0.4:
            self._advance()

    def _advance(self) -> None:
        self.next = "matchend" if self.ctx.referee.over is not None else "countdown"

    def update(self, now: float, dt: float) -> None:
        super().update(now, dt)
        if not self.sound_played:
            self.ctx.sounds.outcome(self.result.outcome).play()
            self.sound_played = True
        hold = (1.6 if self.result.replay else 2.8) / self.ctx.options.speed
        if self.elapsed() > hold:
            self._advance()

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
        player = art.hand_sprite(r.player, max(8, size), robot=False, mirror=True)
        surface.blit(player, player.get_rect(center=(685, 195)))
        played = str(r.player) if r.player.is_throw else "no hand"
        art.text(surface, str(r.robot), 28, art.METAL, center=(115, 305))
        art.text(surface, played, 28, art.SKIN, center=(685, 305))
        if r.replay:
            headline, colour = "No hand seen!", art.DRAW
            subs = ["Show rock, paper or scissors", "in the box at SHOOT. Again!"]
        else:
            outcome = str(r.outcome)
            headline = {"win": "You win!", "lose": "Robot wins!", "draw": "Draw!"}[outcome]
            colour = art.OUTCOME_COLOURS[outcome]
            verb = {"win": "beats", "lose": "loses to", "draw": "meets"}[outcome]
            subs = [f"your {r.player} {verb} {r.robot}"]
        art.text(surface, headline, 64, colour, center=(WIDTH / 2, 165), shadow=True)
        for i, sub in enumerate(subs):
            art.text(surface, sub, 26, art.INK, center=(WIDTH / 2, 225 + 28 * i))
        draw_stats(surface, self.ctx, r, top=340)


def draw_stats(surface: pygame.Surface, ctx, result: RoundResult | None, top: int) -> None:
    match = ctx.referee.match
    panel = pygame.Rect(40, top, WIDTH - 80, HEIGHT - top - 16)
    pygame.draw.rect(surface, art.PANEL, panel, border_radius=12)
    cells = (
        ("wins", match.wins, art.WIN),
        ("losses", match.losses, art.LOSE),
        ("draws", match.draws, art.DRAW),
        ("best streak", match.best_win_streak, art.SKIN),
    )
    for i, (label, value, colour) in enumerate(cells):
        x = panel.left + 80 + i * 150
        art.text(surface, str(value), 44, colour, center=(x, panel.top + 32))
        art.text(surface, label, 20, art.MUTED, center=(x, panel.top + 62))
    guess = result.prediction if result is not None else None
    think = f"I think you'll play {guess} next" if guess else "I can't read you yet..."
    streak = match.describe_streak()
    art.text(
        surface,
        think + (f"  -  {streak}" if streak else ""),
        24,
        art.ACCENT,
        center=(panel.centerx, panel.bottom - 22),
    )


class MatchEndScreen(Screen):
    """Who won the match, the final stats; then a new match (or, with ``--auto``, the end)."""

    name = "matchend"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.over: MatchOver | None = ctx.last_over
        self.played = False

    def handle_event(self, event) -> None:
        if _is_start(event) and self.elapsed() > 0.8:
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
        pulse = 1.0 + 0.04 * math.sin(self.now * 5)
        art.text(
            surface, over.message, 60, colour, center=(WIDTH / 2, 110), shadow=True, scale=pulse
        )
        art.draw_robot_face(surface, (WIDTH // 2, 220), 110, self.now)
        ref = self.ctx.referee
        art.text(
            surface,
            f"{ref.match.rounds} rounds scored, {ref.replays} replayed",
            24,
            art.MUTED,
            center=(WIDTH / 2, 305),
        )
        last = ref.results[-1] if ref.results else None
        draw_stats(surface, self.ctx, last, top=330)


SCREENS: dict[str, type[Screen]] = {
    cls.name: cls
    for cls in (NoCameraScreen, AttractScreen, CountdownScreen, ResultScreen, MatchEndScreen)
}


def _wrap(message: str, width: int) -> list[str]:
    words, lines, line = message.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
