"""The hardware TOML file: defaults, the shipped example, and errors that name the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import hardware
from hardware.config import FINGERS, HardwareConfigError, load_config, normalize_pin, parse_config
from vision.errors import ConfigError, RPSError
from vision.labels import Gesture, Outcome

EXAMPLE = Path(hardware.__file__).parent / "example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "body.toml"
    path.write_text(textwrap.dedent(text))
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(HardwareConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


def test_the_example_config_loads_with_its_parts_and_pins():
    config = load_config(EXAMPLE)
    assert config.parts == ["servo", "throw_leds", "outcome_leds", "buzzer", "button"]
    assert config.servo.pin == "GPIO18"
    assert config.servo.angles == {Gesture.ROCK: -60, Gesture.PAPER: 0, Gesture.SCISSORS: 60}
    assert (config.servo.range.min_pulse_ms, config.servo.range.max_pulse_ms) == (0.5, 2.5)
    assert config.outcome_leds.pins[Outcome.WIN] == "GPIO25"
    assert config.button.pull_up and config.button.bounce_ms == 50
    assert config.fingers is None and config.rgb_led is None  # enabled = false
    assert len(config.pins()) == 9


def test_every_part_of_the_example_can_be_fitted_at_once(tmp_path):
    text = EXAMPLE.read_text().replace("enabled = false", "enabled = true")
    config = load_config(write(tmp_path, text))
    assert len(config.parts) == 7 and len(config.pins()) == 9 + 5 + 3
    assert not {"GPIO2", "GPIO3", "GPIO7", "GPIO8", "GPIO9", "GPIO10", "GPIO11"} & set(
        config.pins()
    )  # I2C and SPI stay free


def test_defaults_fill_in_a_minimal_file(tmp_path):
    config = load_config(write(tmp_path, "[servo]\npin = 12\n[fingers.index]\npin = 'BOARD11'\n"))
    servo = config.servo
    assert (servo.range.min_angle, servo.range.max_angle, servo.neutral) == (-90, 90, 0)
    assert servo.angles == {Gesture.ROCK: -45, Gesture.PAPER: 0, Gesture.SCISSORS: 45}
    (index,) = config.fingers.fingers
    assert index.pin == "GPIO17"  # physical pin 11
    assert index.angles == {Gesture.ROCK: 180, Gesture.PAPER: 0, Gesture.SCISSORS: 0}
    assert config.buzzer is None and config.button is None


def test_fingers_default_shapes_and_overrides(tmp_path):
    pins = "\n".join(f"[fingers.{name}]\npin = {5 + i}" for i, name in enumerate(FINGERS))
    config = load_config(write(tmp_path, f"[fingers]\nopen = 10\nclosed = 170\n{pins}\n"))
    angles = {f.name: f.angles for f in config.fingers.fingers}
    assert {a[Gesture.ROCK] for a in angles.values()} == {170}
    assert {a[Gesture.PAPER] for a in angles.values()} == {10}
    scissors = {name: a[Gesture.SCISSORS] for name, a in angles.items()}
    assert scissors == {"thumb": 170, "index": 10, "middle": 10, "ring": 170, "little": 170}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[servo]\npin = 17\n[servo.angles]\nrock = 120\n",
            "servo.angles.rock: 120 is outside min_angle..max_angle (-90..90)",
        ),
        (
            "[servo]\npin = 17\n[buzzer]\npin = 'GPIO17'\n",
            "buzzer.pin: GPIO17 is already used by servo.pin",
        ),
        (
            "[throw_leds]\nrock = 22\npaper = 23\nscissors = 'BOARD15'\n",  # BOARD15 = GPIO22
            "throw_leds.scissors: GPIO22 is already used by throw_leds.rock",
        ),
        ("[servo]\npin = 17\nangels = 3\n", "servo.angels: unknown key: did you mean 'angles'?"),
        ("[servos]\npin = 17\n", "servos: unknown key: did you mean 'servo'?"),
        ("[fingers.index]\npin = 5\nwiggle = 1\n", "fingers.index.wiggle: unknown key"),
        ("[fingers.pinky]\npin = 5\n", "fingers.pinky: unknown key"),
        ("[fingers]\nmin_angle = 0\n", "fingers: no fingers"),
        ("[fingers.ring]\npin = 5\nrock = 200\n", "fingers.ring.rock: 200 is outside"),
        ("[servo]\npin = 40\n", "servo.pin: GPIO40 does not exist"),
        ("[servo]\npin = 'BOARD1'\n", "servo.pin: header pin 1 is not a GPIO"),
        ("[servo]\npin = 'banana'\n", "servo.pin: 'banana' is not a pin"),
        ("[servo]\nneutral = 0\n", "servo.pin: missing"),
        ("[servo]\npin = 17\nmin_pulse_ms = 0\n", "servo.min_pulse_ms: 0 ms is outside"),
        ("[servo]\npin = 17\nmin_angle = 90\n", "servo.min_angle: 90 must be below max_angle"),
        ("[servo]\npin = 17\nneutral = 'middle'\n", "servo.neutral: expected a number"),
        ("[button]\npin = 2\npull_up = 'yes'\n", "button.pull_up: expected true or false"),
        ("[button]\npin = 3\npull_up = false\n", "button.pull_up: GPIO3 has a fixed pull-up"),
        ("[throw_leds]\nrock = 22\npaper = 23\n", "throw_leds.scissors: missing"),
        ("[outcome_leds]\nactive_high = true\n", "outcome_leds: no LEDs"),
        (
            "[rgb_led]\nred = 9\ngreen = 10\nblue = 11\n[rgb_led.colors]\nrock = [1, 0]\n",
            "rgb_led.colors.rock: expected [red, green, blue]",
        ),
        ("servo = 17\n", "servo: expected a [servo] table"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, message):
    assert message in error_for(tmp_path, text)


def test_errors_name_the_file_and_are_config_errors(tmp_path):
    path = write(tmp_path, "[servo]\npin = 17\nangels = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, RPSError) and isinstance(info.value, ValueError)


def test_unreadable_files_say_what_to_do(tmp_path):
    assert "not valid TOML" in error_for(tmp_path, "[servo\npin = 17\n")
    with pytest.raises(HardwareConfigError, match="--hardware none"):
        load_config(tmp_path / "missing.toml")


def test_a_disabled_part_is_absent_and_its_pins_are_free(tmp_path):
    text = "[servo]\npin = 17\n[buzzer]\nenabled = false\npin = 17\n"
    config = load_config(write(tmp_path, text))
    assert config.parts == ["servo"] and config.pins() == {"GPIO17": "servo.pin"}


@pytest.mark.parametrize(
    "value, pin", [(4, "GPIO4"), ("GPIO4", "GPIO4"), ("bcm4", "GPIO4"), ("J8:7", "GPIO4")]
)
def test_pin_names(value, pin):
    assert normalize_pin(value) == pin


def test_parse_config_takes_a_dict():
    config = parse_config({"button": {"pin": 4, "pull_up": False, "bounce_ms": 0}})
    assert config.button.pin == "GPIO4" and not config.button.pull_up
    assert config.button.bounce_ms is None


def test_create_body_reports_a_bad_file_before_touching_pins(tmp_path):
    path = write(tmp_path, "[servo]\npin = 17\n[servo.angles]\nrock = -100\n")
    with pytest.raises(HardwareConfigError, match=r"servo\.angles\.rock: -100"):
        hardware.create_body(path, pins="mock")
