"""The settings screen, for a touchscreen: rounds, sound and volume, mirror, and the box the hand
is read in (moved and sized with the live camera preview), saved for the next start; and the
way to quit without a keyboard.

Reached by the "Settings" button on the start screen. Changes show at once (the box moves on
the preview, the volume changes); "Save" keeps them in ``game.settings``' file, "Cancel" puts
back what was there, "Quit game" ends the game (exit 0).
"""

from __future__ import annotations

from dataclasses import replace

import pygame

from .. import art
from ..art import WIDTH
from ..settings import Settings, SettingsError, clamp_roi, save_settings
from .base import TAP, Screen, draw_camera

STEP = 0.05  # the box moves and grows by this fraction of the frame
ARROWS = {"left": (-STEP, 0.0), "right": (STEP, 0.0), "up": (0.0, -STEP), "down": (0.0, STEP)}


class Button:
    """A tap target with a label (or an arrow drawn as a triangle)."""

    def __init__(self, rect: pygame.Rect, label: str, colour=art.PANEL, arrow: str = ""):
        self.rect, self.label, self.colour, self.arrow = rect, label, colour, arrow

    def hit(self, pos) -> bool:
        return self.rect.collidepoint(pos)

    def draw(self, surface: pygame.Surface) -> None:
        pygame.draw.rect(surface, self.colour, self.rect, border_radius=10)
        pygame.draw.rect(surface, art.MUTED, self.rect, 2, border_radius=10)
        if self.arrow:
            cx, cy, r = self.rect.centerx, self.rect.centery, self.rect.height // 4
            dx, dy = ARROWS[self.arrow]
            dx, dy = (dx > 0) - (dx < 0), (dy > 0) - (dy < 0)
            tip = (cx + dx * r, cy + dy * r)
            base = [(cx - dx * r - dy * r, cy - dy * r - dx * r),
                    (cx - dx * r + dy * r, cy - dy * r + dx * r)]  # fmt: skip
            pygame.draw.polygon(surface, art.INK, [tip, *base])
        else:
            size = 36 if len(self.label) == 1 else 24  # "-" and "+" big enough to hit and read
            art.text(surface, self.label, size, art.INK, center=self.rect.center,
                     max_width=self.rect.width - 10)  # fmt: skip


def default_roi(shape) -> tuple[float, float, float, float]:
    """The centre square (the default box) as fractions of a frame of ``shape``."""
    h, w = (shape[0], shape[1]) if shape is not None else (480, 640)
    side = min(w, h)
    return clamp_roi(((w - side) / 2 / w, (h - side) / 2 / h, side / w, side / h))


class SettingsScreen(Screen):
    """Rows of settings with - / + and on/off buttons, the live preview, Save / Cancel / Quit."""

    name = "settings"
    ROW = 50
    TOP = 76

    def __init__(self, ctx):
        super().__init__(ctx)
        saved = getattr(ctx.options, "settings", None) or Settings()
        stream = getattr(ctx.input, "stream", None)
        self.before = replace(
            saved,
            rounds=ctx.options.rounds or saved.rounds,
            volume=ctx.options.volume,
            sound=ctx.options.sound,
            mirror=ctx.input.mirror if ctx.input.camera else saved.mirror,
            roi=getattr(stream, "roi", saved.roi),
        )
        self.settings = self.before
        self.status = ""
        self.buttons: dict[str, Button] = {}
        y = self.TOP
        for row in ("rounds", "volume", "size"):
            top = y + self._row_of(row) * self.ROW
            self.buttons[f"{row}-"] = Button(pygame.Rect(300, top, 50, 42), "-")
            self.buttons[f"{row}+"] = Button(pygame.Rect(360, top, 50, 42), "+")
        for row in ("sound", "mirror"):
            top = y + self._row_of(row) * self.ROW
            self.buttons[row] = Button(pygame.Rect(300, top, 110, 42), "")
        top = y + self._row_of("box") * self.ROW
        for i, arrow in enumerate(("left", "up", "down", "right")):
            self.buttons[arrow] = Button(pygame.Rect(196 + 54 * i, top, 48, 42), "", arrow=arrow)
        self.buttons["save"] = Button(pygame.Rect(24, 412, 180, 52), "Save", (40, 110, 70))
        self.buttons["cancel"] = Button(pygame.Rect(220, 412, 180, 52), "Cancel")
        self.buttons["quit"] = Button(pygame.Rect(596, 412, 180, 52), "Quit game", (120, 40, 40))

    ROWS = ("rounds", "sound", "volume", "mirror", "box", "size")

    def _row_of(self, name: str) -> int:
        return self.ROWS.index(name)

    # ---- changes ---------------------------------------------------------------------------

    def _frame_shape(self):
        frame = self.ctx.input.frame()
        return getattr(getattr(frame, "image", None), "shape", None)

    def _mirror(self) -> bool:
        """Mirrored as set here, else as the input shows it (a camera is, a file is not)."""
        return self.ctx.input.mirror if self.settings.mirror is None else self.settings.mirror

    def _roi(self) -> tuple[float, float, float, float]:
        return self.settings.roi or default_roi(self._frame_shape())

    def _apply(self, settings: Settings) -> None:
        """Show a change at once: the box on the preview, the mirror, the volume."""
        self.settings = settings.checked()
        stream = getattr(self.ctx.input, "stream", None)
        if stream is not None:
            stream.roi = self.settings.roi
        if self.ctx.input.camera and self.settings.mirror is not None:
            self.ctx.input.mirror = self.settings.mirror
        self.ctx.sounds.set_volume(self.settings.volume if self.settings.sound else 0.0)

    def press(self, name: str) -> None:
        """What a button does (taps call this; so can a test)."""
        s = self.settings
        if name in ("rounds-", "rounds+"):
            self._apply(replace(s, rounds=s.rounds + (2 if name.endswith("+") else -2)))
        elif name in ("volume-", "volume+"):
            self._apply(replace(s, volume=s.volume + (0.1 if name.endswith("+") else -0.1)))
        elif name == "sound":
            self._apply(replace(s, sound=not s.sound))
        elif name == "mirror":
            self._apply(replace(s, mirror=not self._mirror()))
        elif name in ARROWS:
            x, y, w, h = self._roi()
            dx, dy = ARROWS[name]
            if self._mirror():  # the box moves the way the arrow points on the preview
                dx = -dx
            self._apply(replace(s, roi=(x + dx, y + dy, w, h)))
        elif name in ("size-", "size+"):
            x, y, w, h = self._roi()
            grow = STEP if name.endswith("+") else -STEP
            self._apply(replace(s, roi=(x - grow / 2, y - grow / 2, w + grow, h + grow)))
        elif name == "save":
            self._save()
        elif name == "cancel":
            self._apply(self.before)
            self.next = "attract"
        elif name == "quit":
            self.ctx.quit(0)

    def _save(self) -> None:
        try:
            path = save_settings(self.settings)
        except (SettingsError, OSError) as exc:
            self.status = str(exc)  # a full or read-only card: say so, keep the screen
            return
        options = self.ctx.options
        options.settings, options.volume, options.sound = self.settings, *self._sound()
        if options.rounds is not None:  # an endless game stays endless
            options.rounds = self.settings.rounds
        self.ctx.new_match()
        self.status = f"Saved in {path}"
        self.next = "attract"

    def _sound(self) -> tuple[float, bool]:
        return self.settings.volume, self.settings.sound

    def handle_event(self, event) -> None:
        if event.type != TAP:
            return
        for name, button in self.buttons.items():
            if button.hit(event.pos):
                self.press(name)
                return

    # ---- drawing ---------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        """Each row's value as shown."""
        s = self.settings
        x, y, w, h = self._roi()
        return {
            "rounds": f"best of {s.rounds}",
            "sound": "on" if s.sound else "off",
            "volume": f"{round(100 * s.volume)}%",
            "mirror": "on" if self._mirror() else "off",
            "box": f"at {round(100 * x)}%, {round(100 * y)}%",
            "size": f"{round(100 * w)}% x {round(100 * h)}%",
        }

    def draw(self, surface: pygame.Surface) -> None:
        super().draw(surface)
        art.text(surface, "Settings", 40, art.INK, topleft=(24, 16))
        labels = {"rounds": "Rounds", "sound": "Sound", "volume": "Volume", "mirror": "Mirror",
                  "box": "Box", "size": "Box size"}  # fmt: skip
        values = self.values()
        for name in self.ROWS:
            cy = self.TOP + self._row_of(name) * self.ROW + 21
            art.text(surface, labels[name], 26, art.INK, topleft=(24, cy - 9), max_width=130)
            if name != "box":
                art.text(surface, values[name], 24, art.ACCENT, center=(225, cy), max_width=140)
        self.buttons["sound"].label = "turn off" if self.settings.sound else "turn on"
        self.buttons["mirror"].label = "turn off" if self._mirror() else "turn on"
        for button in self.buttons.values():
            button.draw(surface)
        preview = pygame.Rect(430, 76, 346, 290)
        if self.ctx.input.camera:
            draw_camera(surface, self.ctx, preview)
        else:
            pygame.draw.rect(surface, art.PANEL, preview, border_radius=10)
            for i, line in enumerate(("No camera: the box and the", "mirror are for a camera")):
                art.text(surface, line, 22, art.MUTED, center=(preview.centerx,
                         preview.centery - 12 + 26 * i), max_width=preview.width - 16)  # fmt: skip
        if self.status:  # why it could not be saved
            art.text(surface, self.status, 20, art.DRAW, center=(WIDTH / 2, 388),
                     max_width=WIDTH - 32)  # fmt: skip
        else:
            art.text(surface, "Changes show at once; Save keeps them for the next start.", 20,
                     art.MUTED, center=(WIDTH / 2, 388), max_width=WIDTH - 32)  # fmt: skip
