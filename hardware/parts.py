"""The robot's parts on gpiozero devices, each a small class with ``pin_factory=None`` like a
gpiozero device: the throw servo, the finger hand, the throw LEDs or RGB LED, the outcome LEDs,
the beeper and the start button; and lgpio's whole-percent duty cycles (gpiozero issue 1209).
The body (``hardware.gpio.GpioBody``) builds them from a ``HardwareConfig``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from gpiozero import LED, RGBLED, AngularServo, Button, Buzzer

from vision.labels import THROWS, Gesture, Outcome

from .config import (
    ButtonConfig,
    BuzzerConfig,
    FingersConfig,
    OutcomeLedsConfig,
    RGBLedConfig,
    ServoConfig,
    ServoRange,
    ThrowLedsConfig,
)

log = logging.getLogger("hardware.gpio")


def label_pin(factory, pin: str, label: str) -> None:
    """Name ``pin`` on a logging mock factory (``hardware.gpio.LoggingMockFactory``), so its
    lines say which part moved."""
    labels = getattr(factory, "labels", None)
    if labels is not None:
        labels[pin] = label


# --- lgpio's whole-percent duty cycles (gpiozero issue 1209) ------------------------------------


def lgpio_duty_percent(angle: float, rng: ServoRange) -> int:
    """The duty cycle gpiozero's lgpio factory really sends for ``angle``: whole percent only."""
    fraction = (angle - rng.min_angle) / (rng.max_angle - rng.min_angle)
    pulse = rng.min_pulse_ms + fraction * (rng.max_pulse_ms - rng.min_pulse_ms)
    return int(pulse / rng.frame_ms * 100)


def lgpio_warning(servo: ServoConfig) -> str | None:
    """A warning when two throws' angles collapse into the same lgpio duty step, else ``None``."""
    duties = {g: lgpio_duty_percent(a, servo.range) for g, a in servo.angles.items()}
    if len(set(duties.values())) == len(duties):
        return None
    rng = servo.range
    step = (
        (rng.max_angle - rng.min_angle)
        * rng.frame_ms
        / 100
        / abs(rng.max_pulse_ms - rng.min_pulse_ms)
    )
    shown = ", ".join(f"{g} {a:g}° -> {duties[g]}%" for g, a in servo.angles.items())
    return (
        f"the lgpio pin factory sets duty cycles in whole percent (one step = {step:.0f}°), so "
        f"the servo cannot tell the throws apart ({shown}): spread servo.angles further apart, "
        "widen min/max_pulse_ms, or use pigpio (Pi 4) or a PCA9685 board"
    )


# --- parts ---------------------------------------------------------------------------------------


class Part:
    """One fitted part of the body; every call is optional (a no-op here)."""

    name = "part"

    def rest(self) -> None:
        """Idle between rounds."""

    def countdown(self, step: int, total: int) -> None:
        pass

    def show_throw(self, gesture: Gesture) -> None:
        pass

    def show_outcome(self, outcome: Outcome) -> None:
        pass

    def close(self) -> None:
        pass


def _servo(pin: str, rng: ServoRange, angle: float, pin_factory) -> AngularServo:
    return AngularServo(
        pin,
        initial_angle=angle,
        min_angle=rng.min_angle,
        max_angle=rng.max_angle,
        min_pulse_width=rng.min_pulse_ms / 1000,
        max_pulse_width=rng.max_pulse_ms / 1000,
        frame_width=rng.frame_ms / 1000,
        pin_factory=pin_factory,
    )


class ThrowServo(Part):
    """One ``AngularServo`` that points at the sign of the robot's throw."""

    name = "servo"

    def __init__(self, config: ServoConfig, *, pin_factory=None):
        self.config = config
        label_pin(pin_factory, config.pin, "servo")
        self.servo = _servo(config.pin, config.range, config.neutral, pin_factory)
        if type(self.servo.pin_factory).__name__ == "LGPIOFactory" and (
            warning := lgpio_warning(config)
        ):
            log.warning(warning)

    def rest(self) -> None:
        self.servo.angle = self.config.neutral

    def show_throw(self, gesture: Gesture) -> None:
        self.servo.angle = self.config.angles[gesture]

    def to_neutral(self) -> None:
        if not self.servo.closed:
            self.servo.angle = self.config.neutral

    def detach(self) -> None:
        """Stop the pulses: the servo goes limp instead of buzzing (or jittering) at rest."""
        if not self.servo.closed:
            self.servo.detach()

    def close(self) -> None:
        self.servo.close()


class FingerHand(Part):
    """Up to five finger servos; a fist while counting down, then the throw's shape."""

    name = "fingers"

    def __init__(self, config: FingersConfig, *, pin_factory=None):
        self.config = config
        self.servos: dict[str, AngularServo] = {}
        try:
            for finger in config.fingers:
                label_pin(pin_factory, finger.pin, f"{finger.name} finger")
                self.servos[finger.name] = _servo(
                    finger.pin, config.range, finger.neutral, pin_factory
                )
        except BaseException:
            self.close()
            raise

    def _pose(self, angle_of: Callable) -> None:
        for finger in self.config.fingers:
            self.servos[finger.name].angle = angle_of(finger)

    def rest(self) -> None:
        self._pose(lambda f: f.neutral)

    def countdown(self, step: int, total: int) -> None:
        if step == 1:
            self._pose(lambda f: f.angles[Gesture.ROCK])

    def show_throw(self, gesture: Gesture) -> None:
        self._pose(lambda f: f.angles[gesture])

    def to_neutral(self) -> None:
        for finger in self.config.fingers:
            if finger.name in self.servos and not self.servos[finger.name].closed:
                self.servos[finger.name].angle = finger.neutral

    def detach(self) -> None:
        for servo in self.servos.values():
            if not servo.closed:
                servo.detach()

    def close(self) -> None:
        for servo in self.servos.values():
            servo.close()


class ThrowLeds(Part):
    """One LED per throw: a chase rock, paper, scissors while counting, then the throw's LED."""

    name = "throw_leds"

    def __init__(self, config: ThrowLedsConfig, *, pin_factory=None):
        self.leds: dict[Gesture, LED] = {}
        try:
            for gesture in THROWS:
                pin = config.pins[gesture]
                label_pin(pin_factory, pin, f"{gesture} LED")
                self.leds[gesture] = LED(
                    pin, active_high=config.active_high, pin_factory=pin_factory
                )
        except BaseException:
            self.close()
            raise

    def _light(self, lit: Iterable[Gesture]) -> None:
        lit = set(lit)
        for gesture, led in self.leds.items():
            led.value = gesture in lit

    def rest(self) -> None:
        self._light(())

    def countdown(self, step: int, total: int) -> None:
        self._light(THROWS if step >= total else [THROWS[(step - 1) % len(THROWS)]])

    def show_throw(self, gesture: Gesture) -> None:
        self._light([gesture])

    def close(self) -> None:
        for led in self.leds.values():
            led.close()


class ThrowRGBLed(Part):
    """One RGB LED: white getting brighter while counting, then the throw's colour."""

    name = "rgb_led"

    def __init__(self, config: RGBLedConfig, *, pin_factory=None):
        self.config = config
        for colour in ("red", "green", "blue"):
            label_pin(pin_factory, getattr(config, colour), f"RGB {colour}")
        self.led = RGBLED(
            config.red,
            config.green,
            config.blue,
            active_high=config.active_high,
            pin_factory=pin_factory,
        )

    def rest(self) -> None:
        self.led.off()

    def countdown(self, step: int, total: int) -> None:
        level = min(1.0, step / max(total, 1))
        self.led.color = (level, level, level)

    def show_throw(self, gesture: Gesture) -> None:
        self.led.color = self.config.colors[gesture]

    def close(self) -> None:
        self.led.close()


class OutcomeLeds(Part):
    """Win / lose / draw LEDs (from the player's side); off until the round ends."""

    name = "outcome_leds"

    def __init__(self, config: OutcomeLedsConfig, *, pin_factory=None):
        self.leds: dict[Outcome, LED] = {}
        try:
            for outcome, pin in config.pins.items():
                label_pin(pin_factory, pin, f"{outcome} LED")
                self.leds[outcome] = LED(
                    pin, active_high=config.active_high, pin_factory=pin_factory
                )
        except BaseException:
            self.close()
            raise

    def _light(self, outcome: Outcome | None) -> None:
        for key, led in self.leds.items():
            led.value = key is outcome

    def rest(self) -> None:
        self._light(None)

    def countdown(self, step: int, total: int) -> None:
        if step == 1:
            self._light(None)

    def show_outcome(self, outcome: Outcome) -> None:
        self._light(outcome)

    def close(self) -> None:
        for led in self.leds.values():
            led.close()


class Beeper(Part):
    """An active buzzer: a short beep per beat, a long one at "shoot", a tune per outcome."""

    name = "buzzer"

    def __init__(self, config: BuzzerConfig, *, pin_factory=None, mute: bool = False):
        self.config = config
        self.mute = mute
        label_pin(pin_factory, config.pin, "buzzer")
        self.buzzer = Buzzer(config.pin, active_high=config.active_high, pin_factory=pin_factory)

    def _beep(self, on_ms: float, n: int = 1, off_ms: float = 80.0) -> None:
        if not self.mute:
            self.buzzer.beep(on_ms / 1000, off_ms / 1000, n=n, background=True)

    def rest(self) -> None:
        self.buzzer.off()

    def countdown(self, step: int, total: int) -> None:
        self._beep(self.config.shoot_ms if step >= total else self.config.beep_ms)

    def show_outcome(self, outcome: Outcome) -> None:
        if outcome is Outcome.WIN:
            self._beep(self.config.beep_ms, n=2)
        elif outcome is Outcome.LOSE:
            self._beep(self.config.shoot_ms * 2)
        else:
            self._beep(self.config.beep_ms)

    def close(self) -> None:
        self.buzzer.off()
        self.buzzer.close()


class StartButton(Part):
    """The start button; ``pressed()`` is True once per press (set from ``when_pressed``)."""

    name = "button"

    def __init__(self, config: ButtonConfig, *, pin_factory=None):
        label_pin(pin_factory, config.pin, "start button")
        bounce = config.bounce_ms / 1000 if config.bounce_ms else None
        self.button = Button(
            config.pin, pull_up=config.pull_up, bounce_time=bounce, pin_factory=pin_factory
        )
        self._presses = 0
        self._lock = threading.Lock()
        self.button.when_pressed = self._on_press

    def _on_press(self) -> None:
        with self._lock:
            self._presses += 1
        log.info("start button pressed")

    def pressed(self) -> bool:
        """True if the button was pressed since the last call (several presses count as one)."""
        with self._lock:
            pressed, self._presses = self._presses > 0, 0
        return pressed

    def close(self) -> None:
        self.button.when_pressed = None
        self.button.close()
