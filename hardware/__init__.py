"""The robot's body: servos, LEDs, a buzzer and a start button through gpiozero.

``create_body(config, pins)`` is the one entry point the game uses. Importing this package opens
no pin and does not import gpiozero; ``create_body`` does, and only when a config is given.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .body import NullBody, RobotBody
from .config import HardwareConfig, load_config
from .errors import HardwareConfigError, HardwareError

if TYPE_CHECKING:
    from .gpio import GpioBody

__all__ = [
    "PIN_MODES",
    "GpioBody",
    "HardwareConfig",
    "HardwareConfigError",
    "HardwareError",
    "NullBody",
    "RobotBody",
    "create_body",
    "load_config",
]

log = logging.getLogger(__name__)

#: ``--pins``: ``auto`` lets gpiozero choose (lgpio on a Pi 5); ``mock`` logs pin changes on a PC.
PIN_MODES = ("auto", "mock")


def create_body(
    config: str | Path | HardwareConfig | None,
    pins: str = "auto",
    *,
    pin_factory=None,
    mute: bool = False,
    settle_s: float | None = None,
) -> RobotBody:
    """The robot's body from a TOML file; ``None`` or ``"none"`` gives a ``NullBody``.

    ``pins="mock"`` uses gpiozero's ``MockFactory`` with PWM pins and logs every pin change
    (INFO, logger ``hardware.pins``); an explicit ``pin_factory`` wins over ``pins``.
    ``mute`` keeps the buzzer silent; ``settle_s`` is how long ``close()`` lets the servos reach
    neutral (default ``gpio.SETTLE_S``; 0 for mock pins, which arrive at once). Raises
    ``HardwareConfigError`` for a bad file and ``HardwareError`` when no pins can be driven here.
    """
    if pins not in PIN_MODES:
        raise ValueError(f"pins must be one of {', '.join(PIN_MODES)}, not {pins!r}")
    if config is None or (isinstance(config, str) and config.strip().lower() in ("", "none")):
        return NullBody()
    cfg = config if isinstance(config, HardwareConfig) else load_config(config)

    from gpiozero.exc import BadPinFactory, GPIOPinInUse, PinError

    from .gpio import GpioBody, mock_factory

    if pin_factory is None and pins == "mock":
        pin_factory = mock_factory()
    try:
        with _pin_factory_fallbacks_logged():
            settle = {} if settle_s is None else {"settle_s": settle_s}
            return GpioBody(cfg, pin_factory=pin_factory, mute=mute, **settle)
    except BadPinFactory as exc:
        raise HardwareError(
            f"no GPIO pins to drive here ({exc}): run on a Raspberry Pi, use --pins mock to "
            "watch the body on this computer, or --hardware none"
        ) from exc
    except (GPIOPinInUse, PinError) as exc:
        raise HardwareError(f"cannot use the pins in {cfg.source or 'the config'}: {exc}") from exc
    except PermissionError as exc:
        raise HardwareError(
            f"no permission to drive the GPIO pins ({exc}): add the user to the 'gpio' group"
        ) from exc


@contextlib.contextmanager
def _pin_factory_fallbacks_logged():
    """gpiozero's ``PinFactoryFallback`` warnings (one per factory it tries) become debug log
    lines, so that only our message is printed when none works; other warnings pass through."""
    from gpiozero.exc import PinFactoryFallback

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            others = []
            for w in caught:
                if issubclass(w.category, PinFactoryFallback):
                    log.debug("gpiozero: %s", w.message)
                else:
                    others.append(w)
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def __getattr__(name: str):
    if name == "GpioBody":
        from .gpio import GpioBody

        return GpioBody
    raise AttributeError(f"module 'hardware' has no attribute {name!r}")
