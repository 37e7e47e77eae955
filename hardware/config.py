"""The robot's body, described in a TOML file: which parts exist, their pins and their angles.

Every section is optional; a section that is present (and not ``enabled = false``) is a part
that exists. ``hardware/example.toml`` shows every key with its default. Validation names the
key: a pin used twice, an angle outside the servo's range or an unknown key is a
``HardwareConfigError`` such as
``servo.angles.rock: 120 is outside min_angle..max_angle (-90..90)``.
Pins are BCM GPIO numbers (``17``) or names (``"GPIO17"``, ``"BCM17"``, ``"BOARD11"``,
``"J8:11"``).

A little over the ~400 lines the project keeps modules to, on purpose: each section's dataclass
and the parser that checks its keys sit in one file, so a new key is added in one place.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision.labels import THROWS, Gesture, Outcome

from .errors import HardwareConfigError

#: The five fingers, thumb first.
FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")
#: Which fingers are extended for each throw when a finger has no angles of its own.
EXTENDED: dict[Gesture, frozenset[str]] = {
    Gesture.ROCK: frozenset(),
    Gesture.PAPER: frozenset(FINGERS),
    Gesture.SCISSORS: frozenset({"index", "middle"}),
}
#: 40-pin header position -> BCM GPIO number (power and ground positions are absent).
BOARD_TO_BCM: dict[int, int] = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
    21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
    36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip


@dataclass(frozen=True)
class ServoRange:
    """How angles map to pulse widths (gpiozero ``AngularServo`` arguments, in ms)."""

    min_angle: float = -90.0
    max_angle: float = 90.0
    min_pulse_ms: float = 1.0
    max_pulse_ms: float = 2.0
    frame_ms: float = 20.0


@dataclass(frozen=True)
class ServoConfig:
    """One servo that points at rock, paper and scissors signs."""

    pin: str
    range: ServoRange
    neutral: float
    angles: dict[Gesture, float]


@dataclass(frozen=True)
class FingerConfig:
    name: str
    pin: str
    neutral: float
    angles: dict[Gesture, float]


@dataclass(frozen=True)
class FingersConfig:
    """Up to five finger servos that together form the throw; they share one range."""

    range: ServoRange
    fingers: tuple[FingerConfig, ...]


@dataclass(frozen=True)
class ThrowLedsConfig:
    pins: dict[Gesture, str]
    active_high: bool = True


@dataclass(frozen=True)
class RGBLedConfig:
    red: str
    green: str
    blue: str
    active_high: bool
    colors: dict[Gesture, tuple[float, float, float]]


@dataclass(frozen=True)
class OutcomeLedsConfig:
    pins: dict[Outcome, str]
    active_high: bool = True


@dataclass(frozen=True)
class BuzzerConfig:
    pin: str
    active_high: bool = True
    beep_ms: float = 80.0
    shoot_ms: float = 250.0


@dataclass(frozen=True)
class ButtonConfig:
    pin: str
    pull_up: bool = True
    bounce_ms: float | None = 50.0


@dataclass(frozen=True)
class HardwareConfig:
    """The whole body; ``None`` for a part that is not fitted."""

    servo: ServoConfig | None = None
    fingers: FingersConfig | None = None
    throw_leds: ThrowLedsConfig | None = None
    rgb_led: RGBLedConfig | None = None
    outcome_leds: OutcomeLedsConfig | None = None
    buzzer: BuzzerConfig | None = None
    button: ButtonConfig | None = None
    source: Path | None = field(default=None, compare=False)

    def pins(self) -> dict[str, str]:
        """Every pin in use -> the key that claims it (e.g. ``"GPIO17": "servo.pin"``)."""
        return {pin: key for pin, key in _all_pin_keys(self)}

    @property
    def parts(self) -> list[str]:
        names = ("servo", "fingers", "throw_leds", "rgb_led", "outcome_leds", "buzzer", "button")
        return [name for name in names if getattr(self, name) is not None]


def load_config(path: str | Path) -> HardwareConfig:
    """Read and validate a hardware TOML file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise HardwareConfigError(
            f"no hardware config at {path}: pass a TOML file (see hardware/example.toml) "
            "or --hardware none"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HardwareConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data, source=path)


def parse_config(data: dict[str, Any], source: Path | None = None) -> HardwareConfig:
    """Validate an already parsed TOML document (a dict) into a ``HardwareConfig``."""
    prefix = f"{source}: " if source else ""
    try:
        return _parse(data, source)
    except HardwareConfigError as exc:
        raise HardwareConfigError(f"{prefix}{exc}") from None


# --- parsing -------------------------------------------------------------------------------------

_SECTIONS = ("servo", "fingers", "throw_leds", "rgb_led", "outcome_leds", "buzzer", "button")
_RANGE_KEYS = ("min_angle", "max_angle", "min_pulse_ms", "max_pulse_ms", "frame_ms")


def _parse(data: dict[str, Any], source: Path | None) -> HardwareConfig:
    _check_keys(data, _SECTIONS, "")
    parts: dict[str, Any] = {}
    for name in _SECTIONS:
        table = data.get(name)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise HardwareConfigError(f"{name}: expected a [{name}] table, got {table!r}")
        if not _bool(table, "enabled", name, default=True):
            continue
        parts[name] = _PARSERS[name](table, name)
    config = HardwareConfig(**parts, source=source)
    _check_pins_unique(config)
    return config


def _servo(table: dict, key: str) -> ServoConfig:
    _check_keys(table, ("enabled", "pin", "neutral", "angles", *_RANGE_KEYS), key)
    rng = _range(table, key)
    angles_table = table.get("angles", {})
    if not isinstance(angles_table, dict):
        raise HardwareConfigError(f"{key}.angles: expected a table of rock, paper and scissors")
    _check_keys(angles_table, [g.value for g in THROWS], f"{key}.angles")
    span = rng.max_angle - rng.min_angle
    defaults = {  # spread over the range: rock at a quarter, paper in the middle, scissors 3/4
        Gesture.ROCK: rng.min_angle + span / 4,
        Gesture.PAPER: rng.min_angle + span / 2,
        Gesture.SCISSORS: rng.min_angle + 3 * span / 4,
    }
    angles = {g: _angle(angles_table, g.value, f"{key}.angles", rng, defaults[g]) for g in THROWS}
    neutral = _angle(table, "neutral", key, rng, rng.min_angle + span / 2)
    return ServoConfig(_pin(table, "pin", key), rng, neutral, angles)


def _fingers(table: dict, key: str) -> FingersConfig:
    _check_keys(table, ("enabled", "open", "closed", *_RANGE_KEYS, *FINGERS), key)
    rng = _range(table, key, default=ServoRange(0.0, 180.0))
    open_angle = _angle(table, "open", key, rng, rng.min_angle)
    closed_angle = _angle(table, "closed", key, rng, rng.max_angle)
    fingers = []
    for name in FINGERS:
        finger = table.get(name)
        if finger is None:
            continue
        fkey = f"{key}.{name}"
        if not isinstance(finger, dict):
            raise HardwareConfigError(f"{fkey}: expected a [{fkey}] table with at least pin = N")
        _check_keys(finger, ("pin", "neutral", *(g.value for g in THROWS)), fkey)
        shape = {g: open_angle if name in EXTENDED[g] else closed_angle for g in THROWS}
        angles = {g: _angle(finger, g.value, fkey, rng, shape[g]) for g in THROWS}
        neutral = _angle(finger, "neutral", fkey, rng, open_angle)
        fingers.append(FingerConfig(name, _pin(finger, "pin", fkey), neutral, angles))
    if not fingers:
        raise HardwareConfigError(
            f"{key}: no fingers: add at least one of [{key}.thumb] ... [{key}.little] with pin = N"
        )
    return FingersConfig(rng, tuple(fingers))


def _throw_leds(table: dict, key: str) -> ThrowLedsConfig:
    _check_keys(table, ("enabled", "active_high", *(g.value for g in THROWS)), key)
    pins = {g: _pin(table, g.value, key) for g in THROWS}
    return ThrowLedsConfig(pins, _bool(table, "active_high", key, True))


def _rgb_led(table: dict, key: str) -> RGBLedConfig:
    _check_keys(table, ("enabled", "red", "green", "blue", "active_high", "colors"), key)
    colors_table = table.get("colors", {})
    if not isinstance(colors_table, dict):
        raise HardwareConfigError(f"{key}.colors: expected a table of rock, paper and scissors")
    _check_keys(colors_table, [g.value for g in THROWS], f"{key}.colors")
    defaults = {
        Gesture.ROCK: (1.0, 0.0, 0.0),
        Gesture.PAPER: (0.0, 0.0, 1.0),
        Gesture.SCISSORS: (0.0, 1.0, 0.0),
    }
    colors = {g: _color(colors_table, g.value, f"{key}.colors", defaults[g]) for g in THROWS}
    return RGBLedConfig(
        red=_pin(table, "red", key),
        green=_pin(table, "green", key),
        blue=_pin(table, "blue", key),
        active_high=_bool(table, "active_high", key, True),
        colors=colors,
    )


def _outcome_leds(table: dict, key: str) -> OutcomeLedsConfig:
    names = [o.value for o in Outcome]
    _check_keys(table, ("enabled", "active_high", *names), key)
    pins = {o: _pin(table, o.value, key) for o in Outcome if o.value in table}
    if not pins:
        raise HardwareConfigError(f"{key}: no LEDs: give a pin for at least one of win, lose, draw")
    return OutcomeLedsConfig(pins, _bool(table, "active_high", key, True))


def _buzzer(table: dict, key: str) -> BuzzerConfig:
    _check_keys(table, ("enabled", "pin", "active_high", "beep_ms", "shoot_ms"), key)
    return BuzzerConfig(
        pin=_pin(table, "pin", key),
        active_high=_bool(table, "active_high", key, True),
        beep_ms=_number(table, "beep_ms", key, 80.0, low=1, high=5000),
        shoot_ms=_number(table, "shoot_ms", key, 250.0, low=1, high=5000),
    )


def _button(table: dict, key: str) -> ButtonConfig:
    _check_keys(table, ("enabled", "pin", "pull_up", "bounce_ms"), key)
    bounce = _number(table, "bounce_ms", key, 50.0, low=0, high=1000)
    pin, pull_up = _pin(table, "pin", key), _bool(table, "pull_up", key, True)
    if pin in ("GPIO2", "GPIO3") and not pull_up:
        raise HardwareConfigError(
            f"{key}.pull_up: {pin} has a fixed pull-up resistor (I2C): wire the button to "
            "ground with pull_up = true, or use another pin"
        )
    return ButtonConfig(pin=pin, pull_up=pull_up, bounce_ms=bounce or None)


_PARSERS = {
    "servo": _servo,
    "fingers": _fingers,
    "throw_leds": _throw_leds,
    "rgb_led": _rgb_led,
    "outcome_leds": _outcome_leds,
    "buzzer": _buzzer,
    "button": _button,
}


# --- values --------------------------------------------------------------------------------------


def _check_keys(table: dict, allowed, key: str) -> None:
    allowed = list(allowed)
    for name in table:
        if name not in allowed:
            full = f"{key}.{name}" if key else name
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(allowed)}"
            raise HardwareConfigError(f"{full}: unknown key: {hint}")


def _number(table: dict, name: str, key: str, default: float, *, low=None, high=None) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HardwareConfigError(f"{key}.{name}: expected a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise HardwareConfigError(f"{key}.{name}: {value} is outside {low}..{high}")
    return float(value)


def _bool(table: dict, name: str, key: str, default: bool) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise HardwareConfigError(f"{key}.{name}: expected true or false, got {value!r}")
    return value


def _range(table: dict, key: str, default: ServoRange = ServoRange()) -> ServoRange:
    rng = ServoRange(**{k: _number(table, k, key, getattr(default, k)) for k in _RANGE_KEYS})
    if rng.min_angle >= rng.max_angle:
        raise HardwareConfigError(
            f"{key}.min_angle: {rng.min_angle:g} must be below max_angle ({rng.max_angle:g})"
        )
    for name in ("min_pulse_ms", "max_pulse_ms"):
        value = getattr(rng, name)
        if not 0 < value < rng.frame_ms:
            raise HardwareConfigError(
                f"{key}.{name}: {value:g} ms is outside 0..frame_ms ({rng.frame_ms:g} ms); "
                "hobby servos take about 0.5-2.5 ms"
            )
    if rng.min_pulse_ms == rng.max_pulse_ms:
        raise HardwareConfigError(f"{key}.max_pulse_ms: must differ from min_pulse_ms")
    return rng


def _angle(table: dict, name: str, key: str, rng: ServoRange, default: float) -> float:
    value = _number(table, name, key, default)
    if not rng.min_angle <= value <= rng.max_angle:
        raise HardwareConfigError(
            f"{key}.{name}: {value:g} is outside min_angle..max_angle "
            f"({rng.min_angle:g}..{rng.max_angle:g})"
        )
    return value


def _color(table: dict, name: str, key: str, default: tuple[float, float, float]):
    value = table.get(name, list(default))
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(0 <= v <= 1 for v in value)
    )
    if not ok:
        raise HardwareConfigError(
            f"{key}.{name}: expected [red, green, blue] with each 0..1, got {value!r}"
        )
    return tuple(float(v) for v in value)


def _pin(table: dict, name: str, key: str) -> str:
    """A pin as gpiozero's canonical name, ``"GPIO17"``."""
    if name not in table:
        raise HardwareConfigError(f"{key}.{name}: missing: give the BCM GPIO number, e.g. 17")
    return normalize_pin(table[name], f"{key}.{name}")


def normalize_pin(value: Any, key: str = "pin") -> str:
    """``17``, ``"GPIO17"``, ``"BCM17"``, ``"BOARD11"`` or ``"J8:11"`` -> ``"GPIO17"``."""
    bcm = None
    if isinstance(value, int) and not isinstance(value, bool):
        bcm = value
    elif isinstance(value, str):
        text = value.strip().upper()
        if m := re.fullmatch(r"(?:GPIO|BCM)?(\d+)", text):
            bcm = int(m.group(1))
        elif m := re.fullmatch(r"(?:BOARD|J8:)(\d+)", text):
            board = int(m.group(1))
            if board not in BOARD_TO_BCM:
                raise HardwareConfigError(
                    f"{key}: header pin {board} is not a GPIO (power, ground or out of 1..40)"
                )
            bcm = BOARD_TO_BCM[board]
    if bcm is None:
        raise HardwareConfigError(
            f"{key}: {value!r} is not a pin: use a BCM GPIO number (17) or a name like "
            "'GPIO17' or 'BOARD11'"
        )
    if not 0 <= bcm <= 27:
        raise HardwareConfigError(f"{key}: GPIO{bcm} does not exist: BCM GPIO numbers are 0..27")
    return f"GPIO{bcm}"


def _check_pins_unique(config: HardwareConfig) -> None:
    seen: dict[str, str] = {}
    for pin, key in _all_pin_keys(config):
        if pin in seen:
            raise HardwareConfigError(f"{key}: {pin} is already used by {seen[pin]}")
        seen[pin] = key


def _all_pin_keys(config: HardwareConfig) -> list[tuple[str, str]]:
    """Every (pin, key), duplicates included, in file order of sections."""
    out: list[tuple[str, str]] = []
    if config.servo:
        out.append((config.servo.pin, "servo.pin"))
    if config.fingers:
        out += [(f.pin, f"fingers.{f.name}.pin") for f in config.fingers.fingers]
    if config.throw_leds:
        out += [(p, f"throw_leds.{g}") for g, p in config.throw_leds.pins.items()]
    if config.rgb_led:
        out += [(getattr(config.rgb_led, c), f"rgb_led.{c}") for c in ("red", "green", "blue")]
    if config.outcome_leds:
        out += [(p, f"outcome_leds.{o}") for o, p in config.outcome_leds.pins.items()]
    if config.buzzer:
        out.append((config.buzzer.pin, "buzzer.pin"))
    if config.button:
        out.append((config.button.pin, "button.pin"))
    return out
