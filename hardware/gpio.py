"""The robot's body on gpiozero devices (``GpioBody``, its parts in ``hardware.parts``: servos,
LEDs, a buzzer and a start button), and the mock pin factories that log what the pins do.

Every part takes ``pin_factory=None`` like a gpiozero device: ``None`` lets gpiozero choose
(lgpio on a Pi 5, or whatever ``GPIOZERO_PIN_FACTORY`` names); tests and ``--pins mock`` pass a
``MockFactory``. gpiozero is imported here, never at ``import hardware``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable

from gpiozero.pins.mock import MockFactory, MockPWMPin

from vision.labels import Gesture, Outcome

from .config import (
    HardwareConfig,
)
from .parts import (
    Beeper,
    FingerHand,
    OutcomeLeds,
    Part,
    StartButton,
    ThrowLeds,
    ThrowRGBLed,
    ThrowServo,
)

log = logging.getLogger(__name__)
pin_log = logging.getLogger("hardware.pins")

#: How long a servo gets to reach neutral before its signal is cut at shutdown.
SETTLE_S = 0.3


# --- watching pins on a PC -----------------------------------------------------------------------


class LoggingMockPWMPin(MockPWMPin):
    """A ``MockPWMPin`` that logs every change of state (INFO on ``hardware.pins``)."""

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed:
            label = getattr(self._factory, "labels", {}).get(self.info.name, "")
            name = f"{self.info.name} ({label})" if label else self.info.name
            freq = self._frequency
            if freq and 0 < value < 1:
                pulse = value * 1000 / freq
                pin_log.info("%s -> duty %.4f at %g Hz (%.3f ms pulse)", name, value, freq, pulse)
            else:
                pin_log.info("%s -> %s", name, _level(value))
        return changed


def _level(value) -> str:
    if isinstance(value, bool) or value in (0, 1):
        return "high" if value else "low"
    return f"{value:.3f}"


class LoggingMockFactory(MockFactory):
    """``MockFactory(pin_class=LoggingMockPWMPin)``, with a label per pin for the log."""

    def __init__(self, revision=None):
        super().__init__(revision=revision, pin_class=LoggingMockPWMPin)
        self.labels: dict[str, str] = {}


def mock_factory(*, logged: bool = True) -> MockFactory:
    """A mock pin factory that does PWM (servos, RGB LED); ``logged`` logs every pin change."""
    return LoggingMockFactory() if logged else MockFactory(pin_class=MockPWMPin)


# --- the body ------------------------------------------------------------------------------------


class GpioBody:
    """``RobotBody`` on gpiozero devices built from a ``HardwareConfig``.

    ``close()`` (idempotent, also run at interpreter exit and by ``with``) moves the servos to
    neutral, waits ``settle_s``, detaches them, turns LEDs and buzzer off and closes every device.
    """

    def __init__(
        self,
        config: HardwareConfig,
        *,
        pin_factory=None,
        mute: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        settle_s: float = SETTLE_S,
    ):
        self.config = config
        self._sleep = sleep
        self._settle_s = settle_s
        self._closed = False
        self._close_lock = threading.Lock()
        self.servo: ThrowServo | None = None
        self.fingers: FingerHand | None = None
        self.throw_leds: ThrowLeds | None = None
        self.rgb_led: ThrowRGBLed | None = None
        self.outcome_leds: OutcomeLeds | None = None
        self.buzzer: Beeper | None = None
        self.button: StartButton | None = None
        self.parts: list[Part] = []
        try:
            self._build(pin_factory, mute)
        except BaseException:
            self.close()
            raise
        atexit.register(self.close)
        log.info("robot body ready: %s", ", ".join(p.name for p in self.parts) or "no parts")

    def _build(self, pin_factory, mute: bool) -> None:
        c = self.config
        if c.servo:
            self.servo = self._add(ThrowServo(c.servo, pin_factory=pin_factory))
        if c.fingers:
            self.fingers = self._add(FingerHand(c.fingers, pin_factory=pin_factory))
        if c.throw_leds:
            self.throw_leds = self._add(ThrowLeds(c.throw_leds, pin_factory=pin_factory))
        if c.rgb_led:
            self.rgb_led = self._add(ThrowRGBLed(c.rgb_led, pin_factory=pin_factory))
        if c.outcome_leds:
            self.outcome_leds = self._add(OutcomeLeds(c.outcome_leds, pin_factory=pin_factory))
        if c.buzzer:
            self.buzzer = self._add(Beeper(c.buzzer, pin_factory=pin_factory, mute=mute))
        if c.button:
            self.button = self._add(StartButton(c.button, pin_factory=pin_factory))

    def _add(self, part):
        self.parts.append(part)
        return part

    def __enter__(self) -> GpioBody:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def has_button(self) -> bool:
        return self.button is not None

    def _each(self, call: Callable[[Part], None]) -> None:
        if self._closed:
            return
        for part in self.parts:
            call(part)

    def attract(self) -> None:
        self._each(lambda p: p.rest())

    def countdown(self, step: int, total: int) -> None:
        log.debug("countdown %d/%d", step, total)
        self._each(lambda p: p.countdown(step, total))

    def show_throw(self, gesture: Gesture) -> None:
        gesture = Gesture.parse(gesture)
        if not gesture.is_throw:
            raise ValueError("the robot can only show rock, paper or scissors")
        log.debug("robot shows %s", gesture)
        self._each(lambda p: p.show_throw(gesture))

    def show_outcome(self, outcome: Outcome) -> None:
        outcome = Outcome(outcome)
        log.debug("outcome %s", outcome)
        self._each(lambda p: p.show_outcome(outcome))

    def start_pressed(self) -> bool:
        return self.button is not None and not self._closed and self.button.pressed()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        servos = [p for p in (self.servo, self.fingers) if p is not None]
        for part in servos:
            self._safely(part.to_neutral)
        if servos:
            self._sleep(self._settle_s)
        for part in servos:
            self._safely(part.detach)
        for part in self.parts:
            if part not in servos:
                self._safely(part.rest)
            self._safely(part.close)
        if self.parts:
            log.info(
                "robot body closed: %s; LEDs and buzzer off",
                "servos back to neutral and detached" if servos else "no servos",
            )

    @staticmethod
    def _safely(call: Callable, *args) -> None:
        try:
            call(*args)
        except Exception:  # one broken part must not keep the others powered
            log.exception("error while shutting down the robot body")
