"""The robot's body on gpiozero's MockFactory with PWM pins: servos, LEDs, buzzer, button."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from gpiozero import LED, Device

import hardware
from hardware.body import NullBody
from hardware.config import FINGERS, parse_config
from hardware.gpio import GpioBody
from hardware.shutdown import Terminated, sigterm_raises
from vision.labels import THROWS, Gesture, Outcome

SERVO = {
    "pin": 17,
    "min_angle": -90,
    "max_angle": 90,
    "min_pulse_ms": 0.5,
    "max_pulse_ms": 2.5,
    "neutral": 0,
    "angles": {"rock": -60, "paper": 0, "scissors": 60},
}
LEDS = {
    "throw_leds": {"rock": 22, "paper": 23, "scissors": 24},
    "outcome_leds": {"win": 25, "lose": 8, "draw": 7},
    "buzzer": {"pin": 18, "beep_ms": 5, "shoot_ms": 5},
    "button": {"pin": 2},
}


def make_body(config: dict) -> GpioBody:
    return hardware.create_body(parse_config(config), pins="auto", settle_s=0.0)  # mock: at once


def wait_for(condition, timeout: float = 2.0) -> bool:
    """Wait for something a background thread does (a buzzer beep); not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def pulse_ms(angle: float) -> float:
    return 0.5 + (angle + 90) / 180 * 2.0


def test_servo_angle_and_pulse_width_for_each_throw(pins):
    with make_body({"servo": SERVO}) as body:
        pin = pins.pin(17)
        assert pin.frequency == 50
        assert body.servo.servo.angle == pytest.approx(0)  # starts at neutral
        for gesture, angle in [(Gesture.ROCK, -60), (Gesture.PAPER, 0), (Gesture.SCISSORS, 60)]:
            body.show_throw(gesture)
            assert body.servo.servo.angle == pytest.approx(angle)
            assert body.servo.servo.pulse_width * 1000 == pytest.approx(pulse_ms(angle))
            assert pin.state == pytest.approx(pulse_ms(angle) / 20.0)  # duty of a 20 ms frame
        body.attract()
        assert pin.state == pytest.approx(1.5 / 20)


def test_the_robot_cannot_show_none(pins):
    with make_body({"servo": SERVO}) as body, pytest.raises(ValueError, match="rock, paper"):
        body.show_throw(Gesture.NONE)


def test_finger_servos_form_each_throw(pins):
    fingers = {"min_pulse_ms": 0.5, "max_pulse_ms": 2.5, "open": 0, "closed": 180}
    fingers |= {name: {"pin": 5 + i} for i, name in enumerate(FINGERS)}
    fingers["thumb"]["scissors"] = 150
    with make_body({"fingers": fingers}) as body:
        servos = body.fingers.servos

        def pose() -> dict[str, float]:
            return {name: round(servos[name].angle) for name in FINGERS}

        assert set(pose().values()) == {0}  # neutral defaults to open
        body.countdown(1, 4)
        assert set(pose().values()) == {180}  # a fist while counting down
        body.show_throw(Gesture.PAPER)
        assert set(pose().values()) == {0}
        assert pins.pin(5).state == pytest.approx(0.5 / 20)
        body.show_throw(Gesture.SCISSORS)
        assert pose() == {"thumb": 150, "index": 0, "middle": 0, "ring": 180, "little": 180}
        assert pins.pin(8).state == pytest.approx(2.5 / 20)  # the ring finger, closed
        body.show_throw(Gesture.ROCK)
        assert set(pose().values()) == {180}
    assert all(pins.pin(5 + i).frequency is None for i in range(5))  # all detached


def test_leds_and_buzzer_through_a_whole_round(pins):
    with make_body({"servo": SERVO, **LEDS}) as body:
        throw = {g: pins.pin(p) for g, p in zip(THROWS, (22, 23, 24), strict=True)}
        outcome = {o: pins.pin(p) for o, p in zip(Outcome, (25, 8, 7), strict=True)}
        buzzer = pins.pin(18)

        def lit() -> set:
            return {str(k) for k, pin in (throw | outcome).items() if pin.state}

        body.attract()
        assert lit() == set()
        seen = []
        for step in range(1, 5):
            body.countdown(step, 4)
            seen.append(lit())
        assert seen == [{"rock"}, {"paper"}, {"scissors"}, {"rock", "paper", "scissors"}]
        assert wait_for(lambda: len(buzzer.states) > 2)  # beeped (on, off, ...)
        assert any(s.state for s in buzzer.states)
        body.show_throw(Gesture.SCISSORS)
        assert lit() == {"scissors"}
        body.show_outcome(Outcome.WIN)
        assert lit() == {"scissors", "win"}
        body.attract()
        assert lit() == set()
        body.countdown(1, 4)
        body.show_throw(Gesture.ROCK)
        body.show_outcome(Outcome.DRAW)
        assert lit() == {"rock", "draw"}
    assert lit() == set() and not buzzer.state


def test_rgb_led_shows_the_throw_as_a_colour(pins):
    config = {"rgb_led": {"red": 9, "green": 10, "blue": 11, "colors": {"rock": [1, 0.5, 0]}}}
    with make_body(config) as body:
        rgb = [pins.pin(9), pins.pin(10), pins.pin(11)]
        body.countdown(2, 4)
        assert [p.state for p in rgb] == pytest.approx([0.5, 0.5, 0.5])
        body.show_throw(Gesture.ROCK)
        assert [p.state for p in rgb] == pytest.approx([1, 0.5, 0])
        body.show_throw(Gesture.SCISSORS)
        assert [p.state for p in rgb] == pytest.approx([0, 1, 0])
    assert [p.state for p in rgb] == [0, 0, 0]


def test_the_button_starts_rounds_once_per_press(pins):
    with make_body({"button": {"pin": 2, "bounce_ms": 0}}) as body:
        button = pins.pin(2)
        assert body.start_pressed() is False
        button.drive_low()  # pressed (the button pulls the pin to ground)
        button.drive_high()
        assert body.start_pressed() is True
        assert body.start_pressed() is False
        for _ in range(3):  # presses between two polls start one round
            button.drive_low()
            button.drive_high()
        assert [body.start_pressed(), body.start_pressed()] == [True, False]


def test_a_pull_down_button_is_pressed_high(pins):
    with make_body({"button": {"pin": 4, "pull_up": False, "bounce_ms": 0}}) as body:
        pins.pin(4).drive_high()
        assert body.start_pressed()
    assert NullBody().start_pressed() is False


def test_close_returns_servos_to_neutral_then_detaches_and_turns_everything_off(pins):
    body = make_body({"servo": SERVO, **LEDS})
    servo = pins.pin(17)
    body.show_throw(Gesture.SCISSORS)
    body.show_outcome(Outcome.LOSE)
    servo.clear_states()
    body.close()
    duties = [round(s.state, 4) for s in servo.states[1:]]
    assert duties == [round(1.5 / 20, 4), 0.0]  # neutral first, then no pulses at all
    assert servo.frequency is None
    assert all(not pins.pin(p).state for p in (22, 23, 24, 25, 8, 7, 18))
    assert body.closed and body.servo.servo.closed and body.button.button.closed
    body.close()  # twice is fine
    body.show_throw(Gesture.ROCK)  # and calls after close do nothing
    assert servo.frequency is None


def test_an_exception_inside_with_still_shuts_down_safely(pins):
    with pytest.raises(RuntimeError, match="boom"), make_body({"servo": SERVO, **LEDS}) as body:
        body.show_throw(Gesture.ROCK)
        body.show_outcome(Outcome.WIN)
        raise RuntimeError("boom")
    assert body.closed
    assert pins.pin(17).frequency is None and not pins.pin(25).state


def test_sigterm_becomes_an_exception_that_closes_the_body(pins):
    previous = signal.getsignal(signal.SIGTERM)
    body = make_body({"servo": SERVO, **LEDS})
    with pytest.raises(Terminated) as info, sigterm_raises():
        try:
            body.show_throw(Gesture.PAPER)
            body.show_outcome(Outcome.WIN)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the handler long before
        finally:
            body.close()
    assert info.value.code == 0
    assert signal.getsignal(signal.SIGTERM) is previous
    assert pins.pin(17).frequency is None and not pins.pin(25).state


def test_sigterm_raises_only_in_the_main_thread():
    errors = []

    def worker():
        try:
            with sigterm_raises():
                pass
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors == []


def test_a_part_that_fails_to_build_releases_the_others(pins):
    squatter = LED(24)  # someone else holds the scissors LED's pin
    with pytest.raises(hardware.HardwareError, match="GPIO24"):
        make_body({"servo": SERVO, **LEDS})
    squatter.close()
    make_body({"servo": SERVO, **LEDS}).close()  # every pin was given back


def test_mock_pins_log_every_change_and_leave_the_default_factory_alone(caplog):
    old = Device.pin_factory
    caplog.set_level(logging.INFO, logger="hardware")
    body = hardware.create_body(parse_config({"servo": SERVO, **LEDS}), pins="mock")
    try:
        body.show_throw(Gesture.SCISSORS)
        body.show_outcome(Outcome.DRAW)
    finally:
        body.close()
    assert Device.pin_factory is old
    text = caplog.text
    assert "GPIO17 (servo) -> duty 0.1083 at 50 Hz (2.167 ms pulse)" in text  # 60 degrees
    assert "GPIO24 (scissors LED) -> high" in text and "GPIO7 (draw LED) -> high" in text
    assert "servos back to neutral and detached" in text


def test_create_body_without_a_config_drives_nothing():
    for config in (None, "none", "NONE"):
        assert isinstance(hardware.create_body(config, pins="mock"), NullBody)
    with pytest.raises(ValueError, match="auto, mock"):
        hardware.create_body(None, pins="pigpio")


def test_no_gpio_here_is_a_clear_error(monkeypatch):
    old = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    try:
        with pytest.raises(hardware.HardwareError, match="--pins mock"):
            hardware.create_body(parse_config({"servo": SERVO}), pins="auto")
    finally:
        Device.pin_factory = old


def test_lgpio_whole_percent_duty_steps_are_checked():
    """gpiozero issue 1209: the lgpio factory rounds duty cycles down to whole percent."""
    from hardware.parts import lgpio_duty_percent, lgpio_warning

    example = hardware.load_config(Path(hardware.__file__).parent / "example.toml")
    assert lgpio_warning(example.servo) is None  # -60/0/60 over 0.5-2.5 ms: 4%, 7%, 10%
    rng = example.servo.range
    assert [lgpio_duty_percent(a, rng) for a in (-60, 0, 60)] == [4, 7, 10]
    tight = parse_config({"servo": {"pin": 17, "angles": {"rock": -10, "scissors": 10}}}).servo
    warning = lgpio_warning(tight)  # 1-2 ms: one percent step is 36 degrees
    assert "rock -10° -> 7%" in warning and "paper 0° -> 7%" in warning and "36°" in warning
