"""Synthetic images for the ``none`` class and background variation.

Neither dataset has "no hand" images, and a model that has only seen hands learns that a plain or
green background means ``none``. So ``none`` is built from scenes without hands (procedural rooms,
textures, plain colours, the empty green table of ``rps-cv`` with its hand keyed out), and the
``rps-cv`` hands are keyed off their green table and pasted onto those same kinds of backgrounds.
"""

from __future__ import annotations

import cv2
import numpy as np

Size = tuple[int, int]  # (height, width)


def _rand_color(rng: np.random.Generator, sat_max: float = 0.5) -> np.ndarray:
    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(0, sat_max) * 255, rng.uniform(40, 250)]]], np.float32
    )
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _gradient(rng: np.random.Generator, size: Size, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    h, w = size
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    return c0 * (1 - t) + c1 * t


def _noise_texture(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Multi-scale smooth noise in [-1, 1] (clouds, plaster, carpet)."""
    h, w = size
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for cells in (2, 4, 8, 16, 48):
        small = rng.standard_normal((cells, max(1, cells * w // h))).astype(np.float32)
        out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= rng.uniform(0.35, 0.7)
    return out / (np.abs(out).max() + 1e-6)


def room(rng: np.random.Generator, size: Size) -> np.ndarray:
    """A procedural indoor scene: wall, floor, furniture, doors, windows, lamps, light falloff."""
    h, w = size
    img = _gradient(rng, size, _rand_color(rng, 0.35), _rand_color(rng, 0.35))
    if rng.random() < 0.7:  # floor or table edge
        y = int(rng.uniform(0.45, 0.95) * h)
        img[y:] = _gradient(rng, (h - y, w), _rand_color(rng, 0.5), _rand_color(rng, 0.5))
    for _ in range(rng.integers(1, 7)):  # furniture, doors, frames, shelves, windows
        x0, y0 = int(rng.uniform(-0.2, 1) * w), int(rng.uniform(-0.2, 1) * h)
        x1, y1 = x0 + int(rng.uniform(0.05, 0.7) * w), y0 + int(rng.uniform(0.05, 0.9) * h)
        color = (
            np.full(3, rng.uniform(200, 255), np.float32)
            if rng.random() < 0.15
            else _rand_color(rng, 0.7)
        )
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x1, y1), color.tolist(), -1)
        else:
            cv2.rectangle(img, (x0, y0), (x1, y1), color.tolist(), int(rng.integers(1, 8)))
    for _ in range(rng.integers(0, 4)):  # round things: lamps, plants, clocks
        center = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.03, 0.25) * w), int(rng.uniform(0.03, 0.25) * h))
        cv2.ellipse(
            img, center, axes, rng.uniform(0, 180), 0, 360, _rand_color(rng, 0.8).tolist(), -1
        )
    for _ in range(rng.integers(0, 5)):  # edges and cables
        p0 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.line(img, p0, p1, _rand_color(rng, 0.6).tolist(), int(rng.integers(1, 4)))
    img += _noise_texture(rng, size)[..., None] * rng.uniform(0, 25)
    light = _gradient(
        rng, size, np.full(3, rng.uniform(0.4, 1.0)), np.full(3, rng.uniform(0.8, 1.3))
    )
    img *= light
    return _finish(rng, img)


def texture(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Plain colours, gradients, stripes, checks, wood-like and cloudy textures."""
    h, w = size
    kind = rng.integers(0, 5)
    c0, c1 = _rand_color(rng, 0.9), _rand_color(rng, 0.9)
    if kind == 0:  # plain (a blank wall, a green screen)
        img = np.broadcast_to(c0, (h, w, 3)).astype(np.float32).copy()
    elif kind == 1:
        img = _gradient(rng, size, c0, c1)
    elif kind == 2:  # stripes and checks
        period = rng.uniform(4, 40)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a = rng.uniform(0, np.pi)
        t = np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period)
        if rng.random() < 0.4:
            t = t * np.sin((-xx * np.sin(a) + yy * np.cos(a)) * 2 * np.pi / period)
        t = (t > 0).astype(np.float32)[..., None] if rng.random() < 0.5 else (t[..., None] + 1) / 2
        img = c0 * (1 - t) + c1 * t
    elif kind == 3:  # wood / fabric grain
        n = _noise_texture(rng, (h, max(2, w // 8)))
        n = cv2.resize(n, (w, h))
        t = (np.sin(n * rng.uniform(5, 30)) + 1)[..., None] / 2
        img = c0 * (1 - t) + c1 * t
    else:  # clouds, plaster, carpet
        t = (_noise_texture(rng, size)[..., None] + 1) / 2
        img = c0 * (1 - t) + c1 * t
    return _finish(rng, img)


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.5:
        k = int(rng.choice([3, 5, 7]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    img = img + rng.normal(0, rng.uniform(0, 6), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def green_mask(bgr: np.ndarray) -> np.ndarray:
    """Foreground (hand and arm) mask of a photo on a green table, as float32 in [0, 1]."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    green = cv2.inRange(hsv, (35, 60, 30), (90, 255, 255))
    fg = cv2.morphologyEx(255 - green, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return cv2.GaussianBlur(fg, (5, 5), 0).astype(np.float32) / 255.0


def is_green_screen(bgr: np.ndarray) -> bool:
    """True for photos mostly on a green table (``rps-cv``)."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    return cv2.inRange(hsv, (35, 60, 30), (90, 255, 255)).mean() / 255.0 > 0.35


def background(rng: np.random.Generator, size: Size) -> np.ndarray:
    """A random scene without a hand."""
    return room(rng, size) if rng.random() < 0.6 else texture(rng, size)


def composite(bgr: np.ndarray, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Key the hand off its green table and paste it onto ``bg`` (resized to the photo)."""
    bg = cv2.resize(bg, (bgr.shape[1], bgr.shape[0]))
    alpha = green_mask(bgr)[..., None]
    # green spill on the hand's edges: pull the green channel down to the others
    hand = bgr.astype(np.float32)
    hand[..., 1] = np.minimum(hand[..., 1], np.maximum(hand[..., 0], hand[..., 2]) * 1.05 + 10)
    out = hand * alpha + bg.astype(np.float32) * (1 - alpha)
    return np.clip(out, 0, 255).astype(np.uint8)


def replace_background(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Background variation: a green-table photo gets a new background; others pass through."""
    if not is_green_screen(bgr):
        return bgr
    return composite(bgr, background(rng, bgr.shape[:2]), rng)


def empty_table(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A green-table photo with its hand removed: the empty scene of the same room.

    The hand (dilated, to take its shadow too) is filled by normalised convolution of the table
    around it, which continues the lighting without leaving a hand-shaped ghost.
    """
    hand = cv2.dilate((green_mask(bgr) > 0.05).astype(np.uint8), np.ones((31, 31), np.uint8))
    keep = (1 - hand).astype(np.float32)
    sigma = max(bgr.shape[:2]) / 6
    num = cv2.GaussianBlur(bgr.astype(np.float32) * keep[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(keep, (0, 0), sigma)[..., None] + 1e-3
    fill = num / den
    out = bgr.astype(np.float32) * keep[..., None] + fill * (1 - keep[..., None])
    out = cv2.GaussianBlur(out, (0, 0), 1.5) + rng.normal(0, 2, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def none_image(
    rng: np.random.Generator, size: Size, green_photo: np.ndarray | None = None
) -> np.ndarray:
    """A scene without a hand; given a green-table photo, sometimes its empty table."""
    if green_photo is not None and rng.random() < 0.5:
        return cv2.resize(empty_table(green_photo, rng), (size[1], size[0]))
    return background(rng, size)
