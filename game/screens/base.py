"""What every screen shares: the ``Screen`` base (Mekire's state machine: ``startup``,
``handle_event``, ``update``, ``draw``, ``cleanup``), the keys and taps, and the pieces several
screens draw (the score bar, the camera preview, the throw cards, the stats panel).
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

from .. import art
from ..art import HEIGHT, WIDTH
from ..referee import RoundResult

TAP = pygame.USEREVENT + 7  # a mouse click or touch, ``pos`` in logical coordinates
THROW_KEYS = {pygame.K_r: Gesture.ROCK, pygame.K_p: Gesture.PAPER, pygame.K_s: Gesture.SCISSORS}
START_KEYS = (pygame.K_SPACE, pygame.K_RETURN, pygame.K_KP_ENTER)


def is_start(event) -> bool:
    return event.type == TAP or (event.type == pygame.KEYDOWN and event.key in START_KEYS)


class Screen:
    """Base class: ``ctx`` is the app (referee, input, sounds, body, options).

    The app enters a screen with ``startup(now, persist)``, where ``persist`` is what the
    screen before it handed over from its ``cleanup()`` (the countdown hands the round's result,
    the match's end and the still of the box read); a screen asks for the next one by setting
    ``next`` to its name. A screen keeps its own state; nothing is written onto the app.
    """

    name = "screen"

    def __init__(self, ctx):
        self.ctx = ctx
        self.next: str | None = None
        self.started: float | None = None
        self.now = 0.0
        self.persist: dict = {}

    def startup(self, now: float, persist: dict) -> None:
        """Entering the screen at ``now`` with what the last screen handed over."""
        self.now = now
        self.persist = dict(persist)

    def cleanup(self) -> dict:
        """Leaving: what the next screen is handed (by default what this one was)."""
        return self.persist

    def elapsed(self) -> float:
        return 0.0 if self.started is None else self.now - self.started

    def settled(self, speed: float) -> bool:
        """Its opening animation is over (when the app may photograph it)."""
        return self.elapsed() >= 0.5 / max(speed, 1.0)

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


def wrap(message: str, width: int) -> list[str]:
    words, lines, line = message.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
