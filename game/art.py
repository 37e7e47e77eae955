"""Everything the game draws by itself: robot hands for each throw, the robot's face, text, bars.

Hands are drawn with pygame shapes at twice the size and smooth-scaled down (cheap anti-aliasing),
then cached. Nothing here opens a window; fonts need ``pygame.font.init()`` first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import pygame

from vision.labels import Gesture

WIDTH, HEIGHT = 800, 480  # the logical screen every screen draws on

BG = (18, 22, 36)
PANEL = (30, 36, 56)
INK = (236, 240, 246)
MUTED = (140, 150, 172)
METAL = (176, 186, 202)
METAL_DARK = (92, 102, 124)
SKIN = (242, 178, 112)
SKIN_DARK = (168, 108, 62)
ACCENT = (64, 200, 210)
WIN = (88, 206, 120)
LOSE = (236, 86, 86)
DRAW = (240, 200, 80)

OUTCOME_COLOURS = {"win": WIN, "lose": LOSE, "draw": DRAW}


def _capsule(surface, colour, a, b, width):
    pygame.draw.line(surface, colour, a, b, int(width))
    r = int(width // 2)
    pygame.draw.circle(surface, colour, (int(a[0]), int(a[1])), r)
    pygame.draw.circle(surface, colour, (int(b[0]), int(b[1])), r)


def _finger(surface, base, tip, width, light, dark, joints=True):
    _capsule(surface, dark, base, tip, width + width * 0.28)
    _capsule(surface, light, base, tip, width)
    if joints:
        for t in (0.38, 0.7):
            x = base[0] + (tip[0] - base[0]) * t
            y = base[1] + (tip[1] - base[1]) * t
            dx, dy = tip[0] - base[0], tip[1] - base[1]
            n = math.hypot(dx, dy) or 1.0
            px, py = -dy / n * width * 0.42, dx / n * width * 0.42
            pygame.draw.line(
                surface, dark, (x - px, y - py), (x + px, y + py), max(2, int(width / 7))
            )


def _draw_hand(surface: pygame.Surface, gesture: Gesture, size: int, light, dark) -> None:
    """A hand, fingers up, filling a ``size`` x ``size`` surface."""
    s = size
    fw = 0.105 * s  # finger width
    xs = [0.34 * s, 0.45 * s, 0.56 * s, 0.67 * s]
    knuckle_y = 0.47 * s
    # wrist cuff
    cuff = pygame.Rect(int(0.31 * s), int(0.84 * s), int(0.42 * s), int(0.15 * s))
    pygame.draw.rect(surface, dark, cuff, border_radius=int(0.03 * s))
    for i in range(3):
        y = cuff.top + (i + 1) * cuff.height // 4
        pygame.draw.line(surface, light, (cuff.left + 6, y), (cuff.right - 6, y), max(1, s // 90))
    # fingers behind the palm
    extended = {
        Gesture.PAPER: (0, 1, 2, 3),
        Gesture.SCISSORS: (0, 1),
        Gesture.ROCK: (),
    }.get(gesture, ())
    for i, x in enumerate(xs):
        base = (x, knuckle_y + 0.08 * s)
        if i in extended:
            spread = 0.0
            if gesture is Gesture.SCISSORS:
                spread = (-0.09 if i == 0 else 0.09) * s
            elif gesture is Gesture.PAPER:
                spread = (i - 1.5) * 0.035 * s
            length = (0.36, 0.4, 0.38, 0.31)[i] * s
            tip = (x + spread, knuckle_y - length + 0.08 * s)
            _finger(surface, base, tip, fw, light, dark)
        else:
            _finger(surface, base, (x, knuckle_y - 0.04 * s), fw, light, dark, joints=False)
    # palm
    palm = pygame.Rect(int(0.27 * s), int(0.44 * s), int(0.48 * s), int(0.43 * s))
    pygame.draw.rect(
        surface, dark, palm.inflate(int(0.03 * s), int(0.03 * s)), border_radius=int(0.09 * s)
    )
    pygame.draw.rect(surface, light, palm, border_radius=int(0.08 * s))
    # knuckle line for curled fingers, rivets for a robot look
    if len(extended) < 4:
        pygame.draw.line(
            surface,
            dark,
            (palm.left + fw * 0.4, palm.top + 0.1 * s),
            (palm.right - fw * 0.4, palm.top + 0.1 * s),
            max(2, s // 70),
        )
    for rx, ry in ((0.36, 0.74), (0.5, 0.74), (0.64, 0.74)):
        pygame.draw.circle(surface, dark, (int(rx * s), int(ry * s)), max(2, int(0.018 * s)))
    # thumb
    if gesture is Gesture.PAPER:
        _finger(surface, (0.31 * s, 0.72 * s), (0.13 * s, 0.5 * s), fw * 1.1, light, dark)
    else:  # folded across the palm
        _finger(surface, (0.3 * s, 0.66 * s), (0.55 * s, 0.6 * s), fw * 1.05, light, dark)


@lru_cache(maxsize=64)
def hand_sprite(
    gesture: Gesture, size: int, robot: bool = True, mirror: bool = False
) -> pygame.Surface:
    """A cached hand sprite: metal for the robot, skin for the player (``mirror`` flips it)."""
    light, dark = (METAL, METAL_DARK) if robot else (SKIN, SKIN_DARK)
    big = pygame.Surface((size * 2, size * 2), pygame.SRCALPHA)
    if gesture.is_throw:
        _draw_hand(big, gesture, size * 2, light, dark)
    else:  # no hand: a dashed outline with a question mark
        r = int(size * 0.7)
        for k in range(16):
            a0 = k * math.tau / 16
            pygame.draw.arc(
                big, MUTED, (size - r, size - r, 2 * r, 2 * r), a0, a0 + math.tau / 32, 6
            )
        q = font(int(size * 1.1)).render("?", True, MUTED)
        big.blit(q, q.get_rect(center=(size, size)))
    small = pygame.transform.smoothscale(big, (size, size))
    return pygame.transform.flip(small, True, False) if mirror else small


def draw_robot_face(
    surface: pygame.Surface, center: tuple[int, int], size: int, now: float, mood: str = ""
) -> None:
    """The robot's head: blinking eyes and a pulsing antenna light; ``mood`` ``"happy"`` (it
    won: smiling, eyes creased) or ``"sad"`` (it lost: a frown, eyes looking down)."""
    cx, cy = center
    head = pygame.Rect(0, 0, size, int(size * 0.78))
    head.center = (cx, cy)
    top = head.top
    pygame.draw.line(surface, METAL_DARK, (cx, top), (cx, top - size // 5), max(3, size // 30))
    glow = 0.5 + 0.5 * math.sin(now * 3.0)
    light = tuple(int(c * (0.5 + 0.5 * glow)) for c in LOSE)
    pygame.draw.circle(surface, light, (cx, top - size // 5), max(4, size // 14))
    pygame.draw.rect(surface, METAL_DARK, head.inflate(8, 8), border_radius=size // 6)
    pygame.draw.rect(surface, METAL, head, border_radius=size // 7)
    visor = head.inflate(-size // 6, -int(size * 0.38))
    visor.top = head.top + size // 8
    pygame.draw.rect(surface, BG, visor, border_radius=size // 12)
    blink = (now % 4.0) > 3.85
    eye = max(4, size // 12)
    for ex in (visor.left + visor.width // 4, visor.right - visor.width // 4):
        if mood == "happy":  # creased, upturned eyes
            box = pygame.Rect(ex - eye - 2, visor.centery - eye // 2, 2 * eye + 4, 2 * eye + 4)
            pygame.draw.arc(surface, ACCENT, box, 0.0, math.pi, 4)
        elif mood == "sad":  # half-closed, looking down
            pygame.draw.circle(surface, ACCENT, (ex, visor.centery + eye // 2), eye // 2 + 2)
            pygame.draw.line(surface, ACCENT, (ex - eye, visor.centery - eye // 2),
                             (ex + eye, visor.centery - eye // 2), 3)  # fmt: skip
        elif blink:
            pygame.draw.line(
                surface,
                ACCENT,
                (ex - size // 14, visor.centery),
                (ex + size // 14, visor.centery),
                4,
            )
        else:
            pygame.draw.circle(surface, ACCENT, (ex, visor.centery), eye)
    if mood in ("happy", "sad"):
        mouth = pygame.Rect(0, 0, head.width // 2, size // 5)
        mouth.midbottom = (cx, head.bottom - size // 14)
        if mood == "happy":
            pygame.draw.arc(surface, METAL_DARK, mouth, math.pi, 2 * math.pi, max(3, size // 24))
        else:
            mouth.top += size // 12
            pygame.draw.arc(surface, METAL_DARK, mouth, 0.0, math.pi, max(3, size // 24))
        return
    grille = pygame.Rect(0, 0, head.width // 2, size // 10)
    grille.midbottom = (cx, head.bottom - size // 12)
    pygame.draw.rect(surface, METAL_DARK, grille, border_radius=4)
    for i in range(1, 5):
        x = grille.left + i * grille.width // 5
        pygame.draw.line(surface, METAL, (x, grille.top + 3), (x, grille.bottom - 3), 2)


MARGIN = 8  # no text comes closer than this to the edge of the surface it is drawn on

#: While ``recording_text()`` is active: every line drawn, as ``DrawnText``.
_recorded: list[DrawnText] | None = None


@dataclass(frozen=True)
class DrawnText:
    """One line of text as drawn: where it went and how tall its font was, in pixels."""

    message: str
    rect: pygame.Rect
    line_height: int
    surface_size: tuple[int, int]


@contextmanager
def recording_text() -> Iterator[list[DrawnText]]:
    """Collect every line ``text()`` draws (for tests that check what fits where)."""
    global _recorded
    previous, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = previous


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> pygame.font.Font:
    f = pygame.font.Font(None, size)
    f.set_bold(bold)
    return f


@lru_cache(maxsize=512)
def render(message: str, size: int, colour=INK) -> pygame.Surface:
    """One line at ``size``, rendered twice as big and smooth-scaled down: SDL_ttf's hinting at
    small sizes spaces letters unevenly ("re played", "sclssors"); the big render does not."""
    size = max(8, int(size))
    big = font(size * 2, bold=size >= 40).render(message, True, colour)
    w, h = big.get_size()
    return pygame.transform.smoothscale(big, (max(1, w // 2), max(1, h // 2)))


def fit_size(message: str, size: int, max_width: float) -> int:
    """The largest font size up to ``size`` at which ``message`` is at most ``max_width`` wide."""
    size = max(8, int(size))
    width = font(size * 2, bold=size >= 40).size(message)[0] / 2
    if width <= max_width:
        return size
    size = max(8, int(size * max_width / width))
    while size > 8 and font(size * 2, bold=size >= 40).size(message)[0] / 2 > max_width:
        size -= 1
    return size


def wrap(message: str, size: int, max_width: float) -> list[str]:
    """``message`` split at spaces into lines no wider than ``max_width`` at ``size``."""
    measure = font(max(8, int(size)) * 2, bold=size >= 40)
    lines: list[str] = []
    for word in message.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and measure.size(joined)[0] / 2 <= max_width:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines


def text(
    surface: pygame.Surface,
    message: str,
    size: int,
    colour=INK,
    *,
    center: tuple[float, float] | None = None,
    topleft: tuple[float, float] | None = None,
    topright: tuple[float, float] | None = None,
    shadow: bool = False,
    scale: float = 1.0,
    max_width: float | None = None,
    grow: float = 1.0,
) -> pygame.Rect:
    """Draw one line of text; returns where it went.

    The line always fits: the font shrinks until the line, drawn at ``max(scale, grow)``, is at
    most ``max_width`` wide (and never wider than the surface less ``MARGIN`` each side), and the
    box is then moved inside the surface. ``grow``: the largest ``scale`` an animation will use,
    so a pulsing title keeps one font size and still fits at its biggest.
    """
    bounds = surface.get_rect().inflate(-2 * MARGIN, -2 * MARGIN)
    limit = bounds.width if max_width is None else min(max_width, bounds.width)
    size = fit_size(message, size, limit / max(scale, grow, 1e-6))
    img = render(message, size, colour)
    if scale != 1.0:
        w, h = img.get_size()
        img = pygame.transform.smoothscale(img, (max(1, int(w * scale)), max(1, int(h * scale))))
    rect = img.get_rect()
    if center is not None:
        rect.center = (int(center[0]), int(center[1]))
    elif topright is not None:
        rect.topright = (int(topright[0]), int(topright[1]))
    else:
        rect.topleft = (int((topleft or (0, 0))[0]), int((topleft or (0, 0))[1]))
    rect.clamp_ip(bounds)
    if shadow:
        shade = render(message, size, (0, 0, 0))
        if scale != 1.0:
            shade = pygame.transform.smoothscale(shade, rect.size)
        surface.blit(shade, rect.move(3, 3))
    surface.blit(img, rect)
    if _recorded is not None:
        height = render(message, size, colour).get_height()
        _recorded.append(DrawnText(message, rect.copy(), height, surface.get_size()))
    return rect


def bar(surface: pygame.Surface, rect: pygame.Rect, fraction: float, colour=ACCENT) -> None:
    """A horizontal bar filled to ``fraction`` (0..1)."""
    pygame.draw.rect(surface, PANEL, rect, border_radius=rect.height // 2)
    fill = rect.copy()
    fill.width = max(0, int(rect.width * min(max(fraction, 0.0), 1.0)))
    if fill.width:
        pygame.draw.rect(surface, colour, fill, border_radius=rect.height // 2)
    pygame.draw.rect(surface, MUTED, rect, 2, border_radius=rect.height // 2)


def ease_out_back(t: float) -> float:
    """0..1 with a little overshoot: for things that pop in."""
    t = min(max(t, 0.0), 1.0)
    c = 1.70158
    return 1 + (c + 1) * (t - 1) ** 3 + c * (t - 1) ** 2
