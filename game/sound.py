"""Sounds made in code (numpy tones), or silence: no audio device and --mute are not errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np

log = logging.getLogger(__name__)

RATE = 22050


class NoneSound:
    """A sound that does nothing (no mixer, or muted)."""

    def play(self) -> None:
        pass

    def set_volume(self, volume: float) -> None:
        pass


def tone(freqs, seconds: float, *, volume: float = 0.4, rate: int = RATE) -> np.ndarray:
    """A chord (or one note) with a soft attack and decay, as float samples in -1..1."""
    t = np.arange(int(rate * seconds)) / rate
    wave = sum(np.sin(2 * np.pi * f * t) + 0.25 * np.sin(4 * np.pi * f * t) for f in freqs)
    wave = wave / (1.25 * len(freqs))
    attack = np.minimum(1.0, t / 0.01)
    decay = np.exp(-t * 5.0 / max(seconds, 1e-3))
    return (wave * attack * decay * volume).astype(np.float32)


def sequence(notes, step: float, **kw) -> np.ndarray:
    """Notes one after the other, ``step`` seconds apart (each rings a little longer)."""
    parts = [tone(n if isinstance(n, tuple) else (n,), step * 1.3, **kw) for n in notes]
    n = int(RATE * step)
    out = np.zeros(n * (len(parts) - 1) + len(parts[-1]), dtype=np.float32)
    for i, p in enumerate(parts):
        out[i * n : i * n + len(p)] += p
    return out


def waveforms() -> dict[str, np.ndarray]:
    """Every game sound as float samples at ``RATE``."""
    return {
        "beat": tone((440.0,), 0.16),
        "shoot": tone((523.3, 659.3, 784.0), 0.35, volume=0.5),
        "win": sequence((523.3, 659.3, 784.0, 1046.5), 0.09),
        "lose": sequence((392.0, 329.6, 261.6), 0.14),
        "draw": sequence((440.0, 440.0), 0.12),
        "replay": sequence((330.0, 294.0), 0.12, volume=0.3),
        "match": sequence((523.3, 659.3, 784.0, (523.3, 659.3, 1046.5)), 0.13),
    }


@dataclass
class Sounds:
    beat: object
    shoot: object
    win: object
    lose: object
    draw: object
    replay: object
    match: object

    @classmethod
    def silent(cls) -> Sounds:
        return cls(*(NoneSound() for _ in fields(cls)))

    def set_volume(self, volume: float) -> None:
        """Every sound at ``volume`` (0 silent .. 1 full)."""
        for f in fields(self):
            getattr(self, f.name).set_volume(max(0.0, min(1.0, float(volume))))

    def outcome(self, outcome: str | None):
        return {"win": self.win, "lose": self.lose, "draw": self.draw}.get(
            str(outcome), self.replay
        )


def load_sounds(mute: bool = False) -> Sounds:
    """Open the mixer and make the sounds; silent when muted or when there is no audio device."""
    if mute:
        return Sounds.silent()
    try:
        import pygame

        if not pygame.mixer.get_init():
            pygame.mixer.init(frequency=RATE, size=-16, channels=2, buffer=512)
        freq, size, channels = pygame.mixer.get_init()
        made = {}
        for name, wave in waveforms().items():
            if freq != RATE:
                idx = np.linspace(0, len(wave) - 1, int(len(wave) * freq / RATE))
                wave = np.interp(idx, np.arange(len(wave)), wave).astype(np.float32)
            if abs(size) == 16:
                samples = (wave * 32767).astype(np.int16)
            elif size == 32:
                samples = wave
            else:
                raise RuntimeError(f"unsupported mixer sample size {size}")
            if channels > 1:
                samples = np.repeat(samples[:, None], channels, axis=1)
            made[name] = pygame.sndarray.make_sound(np.ascontiguousarray(samples))
        return Sounds(**made)
    except Exception as exc:  # no audio device, no driver, odd format: play silently
        log.info("no sound (%s): playing silently", exc)
        return Sounds.silent()
