"""The game's screens: one class each, all with ``handle_event(event)``, ``update(now, dt)`` and
``draw(surface)`` on the 800x480 logical surface. A screen asks for the next one by setting
``next`` to its name; the app (``game.app``) builds it. The rules live in ``game.referee``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np
import pygame

from vision.labels import THROWS, Gesture
from vision.overlay import draw_palm_box, draw_skeleton

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


def score_of(match) -> tuple[int, int, int]:
    """(player wins, robot wins, draws) as the score bar shows them."""
    return match.wins, match.losses, match.draws


def draw_score(surface: pygame.Surface, ctx, score: tuple[int, int, int] | None = None) -> None:
    """The score bar; ``score`` (wins, losses, draws) shows an earlier score than the match's."""
    match = ctx.referee.match
    wins, losses, draws = score if score is not None else score_of(match)
    bar_rect = pygame.Rect(0, 0, WIDTH, 52)
    pygame.draw.rect(surface, art.PANEL, bar_rect)
    side, middle = 200, 110  # each side's name and score, and the middle, keep to their own part
    art.text(surface, f"You {wins}", 40, art.SKIN, center=(WIDTH * 0.3, 27), max_width=side)
    art.text(surface, f"{losses} Robot", 40, art.METAL, center=(WIDTH * 0.7, 27), max_width=side)
    kind = "endless" if match.endless else f"best of {match.best_of}"
    art.text(surface, kind, 22, art.MUTED, center=(WIDTH / 2, 17), max_width=middle)
    art.text(surface, f"draws {draws}", 22, art.MUTED, center=(WIDTH / 2, 38), max_width=middle)


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
    reading = ctx.input.reading()
    marks = getattr(reading, "landmarks", None)
    same_frame = getattr(reading, "frame_index", None) == getattr(frame, "index", -1)
    if marks is not None and same_frame and reading.gesture.is_throw:
        # the hand the landmark recogniser placed in this very frame: its 21-point skeleton,
        # only while the label under the preview names a throw (the label is smoothed over a
        # few frames: a skeleton over "no hand" read as a contradiction)
        box = getattr(reading, "palm_box", None)
        if box is not None:  # where the palm detector found it (a hand the box pass missed)
            draw_palm_box(small, tuple(v * scale for v in box), (40, 160, 230), 2)
        draw_skeleton(small, np.asarray(marks)[:, :2] * scale, (40, 160, 230), 2)
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
    state = getattr(reading, "state", "starting")
    if img is not None:
        surface.blit(img, img.get_rect(midtop=(rect.centerx, rect.top + 6)))
        if state in SOURCE_STATES:  # over the picture: one short line in a corner
            art.text(surface, SOURCE_STATES[state][0], 20, art.LOSE,
                     topright=(rect.right - 8, rect.top + 8))  # fmt: skip
    else:  # no picture: say why in the middle, once
        why = SOURCE_STATES.get(state, ("", "waiting for the camera..."))[1]
        art.text(surface, why, 22, art.MUTED, center=rect.center, max_width=rect.width - 20)
    if reading is not None:
        label = str(reading.gesture) if reading.gesture.is_throw else "no hand"
        y = rect.bottom - 38
        art.text(surface, label, 26, art.INK, topleft=(rect.left + 10, y + 4))
        art.bar(
            surface, pygame.Rect(rect.left + 120, y + 6, rect.width - 130, 16), reading.confidence
        )


#: The frame source's state in words: (over the last picture, where there is no picture).
SOURCE_STATES = {
    "reconnecting": ("reconnecting...", "camera lost: reconnecting..."),
    "error": ("cannot read", "cannot read the picture: see the log"),
    "ended": ("no more frames", "no more frames: the video has ended"),
}


class ThrowButtons:
    """Tap targets for rock, paper and scissors (keyboard/touch play): a hand, the key, the name."""

    LABEL_SIZE = 30  # a 20 px line: readable from arm's length on the 7" screen

    def __init__(self, top: int, left: int = 430, width: int = 340, height: int = 130):
        w = width // 3
        self.rects = {
            g: pygame.Rect(left + i * w + 4, top, w - 8, height) for i, g in enumerate(THROWS)
        }

    def hit(self, pos) -> Gesture | None:
        return next((g for g, r in self.rects.items() if r.collidepoint(pos)), None)

    def draw(self, surface: pygame.Surface, chosen: Gesture | None) -> None:
        for g, r in self.rects.items():
            colour = art.ACCENT if g is chosen else art.PANEL
            pygame.draw.rect(surface, colour, r, border_radius=12)
            pygame.draw.rect(surface, art.MUTED, r, 2, border_radius=12)
            sprite = art.hand_sprite(g, 72, robot=False)
            surface.blit(sprite, sprite.get_rect(midtop=(r.centerx + 8, r.top + 6)))
            badge = pygame.Rect(r.left + 6, r.top + 6, 30, 30)
            pygame.draw.rect(surface, art.BG, badge, border_radius=6)
            art.text(surface, KEY_OF[g], self.LABEL_SIZE, art.ACCENT, center=badge.center)
            art.text(
                surface, str(g), self.LABEL_SIZE, art.INK,
                center=(r.centerx, r.bottom - 18), max_width=r.width - 8,
            )  # fmt: skip


KEY_OF = {g: str(g)[0].upper() for g in THROW_KEYS.values()}  # R, P, S: see THROW_KEYS


def input_line(ctx) -> str:
    """What the player plays with and which model reads them, e.g. "Camera 0 · model: shipped"."""
    inp = ctx.input
    if not inp.camera:
        if inp.message:
            why = inp.message.split(":", 1)[0].strip()
            return f"{why}: playing with the keyboard"
        return "Keyboard play: R, P, S or tap a card"
    name = str(inp.name)
    if name.startswith("camera"):
        what = name.capitalize()
    elif name == "picamera":
        what = "Pi camera"
    else:
        what = f"Video {Path(name).name}"
    classifier = getattr(getattr(inp, "stream", None), "classifier", None)
    origin = getattr(inp, "model", None) or getattr(classifier, "origin", None)
    return f"{what} · model: {short_origin(origin)}" if origin else what


def short_origin(origin) -> str:
    """A model's origin for one line: "shipped", "personal", or the end of its path."""
    text = str(origin)
    if len(text) <= 32:
        return text
    parts = Path(text).parts
    tail = str(Path(*parts[-2:])) if len(parts) >= 2 else text[-30:]
    return "…/" + tail if len(tail) <= 40 else "…" + tail[-38:]


def how_to_play(ctx) -> list[str]:
    """The attract screen's steps, for this input and this match."""
    match = ctx.referee.match
    if ctx.input.camera:
        throw = "Show your hand in the box at SHOOT!"
    else:
        throw = "Press R, P or S (or tap) before SHOOT!"
    if match.endless:
        goal = "Endless: play as long as you like"
    else:
        goal = f"Best of {match.best_of}: first to {match.wins_needed} wins"
    return [
        "Press SPACE or tap to start",
        "The robot counts: rock, paper, scissors...",
        throw,
        goal,
        "Draws do not count. The robot learns you!",
    ]


def draw_notice(surface: pygame.Surface, notice: str, rect: pygame.Rect, size: int = 22) -> None:
    """A warning in a panel: each sentence starts a line (a command is never split between
    sentences), long ones wrapped; at most as many lines as fit."""
    pygame.draw.rect(surface, art.PANEL, rect, border_radius=10)
    pygame.draw.rect(surface, art.DRAW, rect, 2, border_radius=10)
    sentences = re.split(r"(?<=[.!?])\s+", notice.strip())
    lines = [line for s in sentences for line in art.wrap(s, size, rect.width - 24)]
    step = size + 4
    lines = lines[: max(1, (rect.height - 8) // step)]
    top = rect.centery - step * len(lines) / 2 + step / 2
    for i, line in enumerate(lines):
        art.text(surface, line, size, art.DRAW, center=(rect.centerx, top + step * i),
                 max_width=rect.width - 16)  # fmt: skip


def pulse_colour(colour, now: float) -> tuple[int, int, int]:
    """``colour`` dimmed and brightened over time, in 16 steps (so its text renders are cached)."""
    pulse = 0.75 + 0.25 * round(math.sin(now * 4) * 8) / 8
    return tuple(int(c * pulse) for c in colour)


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
        elif _is_start(event):
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
            self.ctx.kept_frames = {}
            if self.ctx.options.auto and not self.ctx.input.camera:
                self.chosen = self.ctx.auto_throw(ref)
        reading = self.ctx.input.reading()
        if reading is not None:
            ref.observe(reading)
        if self.ctx.input.camera:  # the frame the throw is read from, for the result's still
            self.ctx.remember_frame(self.round.shoot_time, self.round.end_time)
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
                decision = self.round.decision
                self.ctx.last_still = (
                    self.ctx.still_for(decision.frame_index)
                    if self.ctx.input.camera and decision is not None
                    else None
                )
                self.next = "result"
            elif isinstance(event, MatchOver):
                self.ctx.last_over = event

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
        self.result: RoundResult = ctx.last_result
        self.sound_played = False
        still = getattr(ctx, "last_still", None)
        self.still = still_surface(still, self.STILL) if still is not None else None

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


def draw_stats(
    surface: pygame.Surface, ctx, result: RoundResult | None, top: int, bottom: int = HEIGHT - 16
) -> None:
    """The match so far: four numbers, each saying whose it is, and what the robot expects."""
    match = ctx.referee.match
    panel = pygame.Rect(40, top, WIDTH - 80, bottom - top)
    pygame.draw.rect(surface, art.PANEL, panel, border_radius=12)
    cells = (
        ("you won", match.wins, art.WIN),
        ("robot won", match.losses, art.LOSE),
        ("draws", match.draws, art.DRAW),
        ("your best streak", match.best_win_streak, art.SKIN),
    )
    cell = panel.width / len(cells)
    for i, (label, value, colour) in enumerate(cells):
        x = panel.left + cell * (i + 0.5)
        art.text(surface, str(value), 44, colour, center=(x, panel.top + 30), max_width=cell - 12)
        art.text(surface, label, 24, art.MUTED, center=(x, panel.top + 62), max_width=cell - 12)
    guess = result.prediction if result is not None else None
    think = f"I think you'll play {guess} next" if guess else "I can't read you yet..."
    streak = match.describe_streak()
    art.text(
        surface,
        think + (f"  -  {streak}" if streak else ""),
        24,
        art.ACCENT,
        center=(panel.centerx, panel.bottom - 22),
        max_width=panel.width - 24,
    )


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


from .settingsscreen import SettingsScreen  # noqa: E402 (built from the pieces above)

SCREENS: dict[str, type[Screen]] = {
    cls.name: cls
    for cls in (
        NoCameraScreen, AttractScreen, CountdownScreen, ResultScreen, MatchEndScreen,
        SettingsScreen,
    )
}  # fmt: skip


def _wrap(message: str, width: int) -> list[str]:
    words, lines, line = message.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
