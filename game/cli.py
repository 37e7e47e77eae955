"""``python -m game``: play rock, paper, scissors against the robot (or ``--headless``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from vision.cores import checked_threads
from vision.stream import parse_roi

from .inputs import KEYBOARD, is_live_spec
from .strategy import STRATEGIES

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m game",
        description="Play rock, paper, scissors against the robot: show your hand to the camera "
        "at 'shoot!'. Keys: SPACE start, R/P/S throw (keyboard play), F fps, Esc quit.",
    )
    p.add_argument(
        "--source",
        default=None,
        help="camera index (0), /dev/videoN, picam, a video file, an image folder, or 'keyboard' "
        "(default: camera 0, or the keyboard when there is no camera)",
    )
    p.add_argument("--rounds", type=int, default=None,
                   help="best of N rounds (default 5, or as saved in settings)")  # fmt: skip
    p.add_argument("--endless", action="store_true", help="play on for ever, no match end")
    p.add_argument("--strategy", default="adaptive", choices=list(STRATEGIES))
    p.add_argument("--fullscreen", action="store_true", help="fill the screen (kiosk)")
    p.add_argument("--model", default=None, help="an exported model folder or its model.json")
    p.add_argument("--threads", type=int, default=1, help="ncnn threads (default 1)")
    p.add_argument("--seed", type=int, default=None, help="repeatable robot choices")
    p.add_argument("--mute", action="store_true", help="no sound")
    p.add_argument("--volume", type=int, default=None, metavar="0-100",
                   help="sound volume in percent (default 80, or as saved)")  # fmt: skip
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="show the camera preview mirrored (default: a camera is, a video is "
                   "not)")  # fmt: skip
    p.add_argument("--roi", type=parse_roi, default=None, metavar="X,Y,W,H",
                   help="the box the hand is read in, as fractions of the frame (default: the "
                   "centre square, or as saved); for a camera mounted off-centre")  # fmt: skip
    p.add_argument("--auto", action="store_true", help="rounds start by themselves (demos, tests)")
    p.add_argument(
        "--speed", type=float, default=1.0, help="play the countdown N times faster (default 1)"
    )
    p.add_argument("--screenshot-dir", type=Path, default=None, help="save a PNG of every screen")
    p.add_argument("--max-replays", type=int, default=5, help="no-hand replays in a row that end "
                   "the match (default 5)")  # fmt: skip
    p.add_argument("--headless", action="store_true", help="no screen: servos/LEDs and a button")
    p.add_argument(
        "--hardware", default="none", help="robot body config (PATH.toml) or 'none' (default)"
    )
    p.add_argument(
        "--pins", default="auto", choices=("auto", "mock"), help="GPIO pins (default auto)"
    )
    p.add_argument("--log", type=Path, default=None, help="append every round to this JSONL file")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    return p


def apply_settings(args: argparse.Namespace, settings=None) -> None:
    """Options not given on the command line come from the saved settings (``game.settings``)."""
    from .settings import load_settings

    saved = settings if settings is not None else load_settings()
    args.settings = saved
    if args.rounds is None:
        args.rounds = saved.rounds
    if args.volume is None:
        args.volume = round(100 * saved.volume)
    if args.mirror is None:
        args.mirror = saved.mirror
    if args.roi is None:
        args.roi = saved.roi


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """User mistakes become argparse errors (exit 2) with what to do instead."""
    apply_settings(args)
    if not 0 <= args.volume <= 100:
        parser.error(f"--volume must be 0-100 (percent), not {args.volume}")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds} (or use --endless)")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    args.threads = checked_threads(args.threads)
    if not args.speed > 0:
        parser.error("--speed must be positive (1 is normal, 2 twice as fast)")
    if args.max_replays < 1:
        parser.error("--max-replays must be at least 1")
    src = args.source
    if src is not None and src.strip().lower() != KEYBOARD and not is_live_spec(src):
        if not Path(src).expanduser().exists():
            parser.error(
                f"--source {src}: no such file or folder; use a camera index (0), picam, "
                "'keyboard', a video file or an image folder"
            )
    if args.model is not None and not Path(args.model).expanduser().exists():
        parser.error(f"--model {args.model}: no such file or folder (an exported model folder)")
    hw = str(args.hardware).strip()
    if hw.lower() not in ("", "none") and not Path(hw).expanduser().is_file():
        what = "is a folder, not a file" if Path(hw).expanduser().is_dir() else "no such file"
        parser.error(f"--hardware {hw}: {what}; pass a TOML body config (for example "
                     "hardware/example.toml) or 'none'")  # fmt: skip
    if args.screenshot_dir is not None and not args.headless:
        from vision.paths import unwritable_reason

        if problem := unwritable_reason(args.screenshot_dir):
            parser.error(f"--screenshot-dir {args.screenshot_dir}: {problem}; pass a folder "
                         "you can write to, or leave the option out")  # fmt: skip


def _create_body(parser, args):
    try:
        from hardware import create_body
    except ImportError:
        from hardware.body import NullBody

        return NullBody()
    from vision.errors import RPSError

    try:
        return create_body(args.hardware, pins=args.pins, mute=args.mute)
    except (RPSError, ValueError, OSError) as exc:
        parser.error(f"--hardware {args.hardware}: {exc}")


def _open_input(parser: argparse.ArgumentParser, args: argparse.Namespace, open_input):
    """The player's input; a ``--model`` or ``--source`` that cannot be used exits 2."""
    from vision.errors import ModelError, RPSError

    try:
        player_input = open_input(
            args.source, model=args.model, threads=args.threads, roi=args.roi, mirror=args.mirror
        )
    except (RPSError, OSError, ImportError) as exc:
        if isinstance(exc, ModelError) or args.source is None:
            parser.error(f"--model {args.model or '(default)'}: {exc}")
        parser.error(f"--source {args.source}: {exc} (or --source keyboard to play with the keys)")
    return player_input


def _claim_log(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """The ``--log`` file, checked and locked (exit 2 when it cannot be used); None without."""
    if args.log is None:
        return None
    from vision.errors import RPSError

    from .roundlog import RoundLog

    try:
        return RoundLog(args.log).claim()
    except RPSError as exc:
        parser.error(f"--log: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.headless:
        try:
            from .headless import run_headless
        except ImportError as exc:
            parser.error(f"--headless is not available: {exc}")
        return run_headless(args)
    return play(parser, args)


def play(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The screen game."""
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from .app import App, Options, no_screen_reason

    if problem := no_screen_reason():
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from .inputs import open_input
    from .sound import load_sounds

    options = Options(
        rounds=None if args.endless else args.rounds,
        strategy=args.strategy,
        seed=args.seed,
        auto=args.auto,
        speed=args.speed,
        fullscreen=args.fullscreen,
        screenshot_dir=args.screenshot_dir,
        max_replays=args.max_replays,
        log_path=args.log,
        volume=args.volume / 100,
        sound=args.settings.sound,
        settings=args.settings,
    )
    from hardware.shutdown import sigterm_raises

    body = _create_body(parser, args)
    try:
        player_input = _open_input(parser, args, open_input)
        if player_input.notice:  # Options.notice: the attract screen shows it
            options.notice = player_input.notice
        try:
            round_log = _claim_log(parser, args)
        except SystemExit:  # the camera was opened: release it
            player_input.stop()
            raise
        sounds = load_sounds(mute=args.mute)
        app = App(options, player_input, sounds, body, round_log=round_log)
        try:
            with sigterm_raises():  # systemd's stop still runs body.close() below
                return app.run()
        except KeyboardInterrupt:
            return 130
        except Exception as exc:  # the display could not open, for one
            import pygame

            if not isinstance(exc, pygame.error):
                raise
            if app.screens_shown:  # the window was open: this is not about the display
                print(f"error: the game stopped: {exc}", file=sys.stderr)
            else:
                print(f"error: cannot open the game window: {exc} (try SDL_VIDEODRIVER=kmsdrm "
                      "on a Pi without a desktop, or --headless)", file=sys.stderr)  # fmt: skip
            return 1
    finally:
        body.close()
