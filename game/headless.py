"""Headless play: no window; a button (or ``--auto``) starts a round, servos and LEDs show it.

``python -m game --headless`` runs ``run_headless(args)``. Each round: the countdown beats on the
LEDs and buzzer, the robot shows its throw at "shoot", the player's gesture is read from the
gesture stream in a short window after "shoot", the outcome goes to the LEDs, to the log and to
the round log (``game.roundlog``, one fsynced JSON line per round). The rules, the robot's choice
and the capture window are the screen game's own (``Referee``, ``Round``, ``make_strategy``).

A match is best of ``rounds``, as on the screen: the first to win ``rounds // 2 + 1`` rounds wins
it and play stops; draws do not count. ``rounds=None`` (``--endless``) plays until stopped.

No confident gesture in the window: the round is replayed (a fresh countdown; the robot chooses
again), at most ``max_replays`` times; then the round is written as ``void`` and not scored, and a
match stops there (no hand seen for a while), as the screen game's does. Replays are not written
to the round log.

A camera runs in real time. A video file or image folder loops and runs on its own clock (frame
number / fps), as fast as the model reads it, so demos and tests need no waiting.

The body is closed (servos to neutral and detached, LEDs and buzzer off) on every way out:
the last round, Ctrl-C (exit 130), SIGTERM (exit 0, as systemd expects) or an error (exit 1).
A mistake in the command or config exits 2; a camera that does not open exits 1, so that
systemd's ``Restart=on-failure`` tries again (a camera can be late at boot).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from hardware import create_body
from hardware.body import RobotBody
from hardware.shutdown import Terminated, sigterm_raises
from vision.errors import RPSError, SourceError
from vision.labels import Gesture

from .inputs import is_live_spec
from .referee import MatchOver, Referee, RoundResult
from .round import Round, Timing
from .roundlog import VOID, RoundLog, RoundRecord, Stats
from .rules import Match
from .strategy import Strategy, make_strategy

log = logging.getLogger(__name__)

#: Finished rounds from the log that the strategy learns from at start-up.
WARM_UP_ROUNDS = 200
POLL_S = 0.02
#: A logged round's outcome (the player's side) in words.
OUTCOME_WORDS = {
    "win": "the player wins",
    "lose": "the robot wins",
    "draw": "a draw",
    VOID: "no hand seen, not scored",
}


@dataclass(frozen=True)
class HeadlessSettings:
    """``rounds``: a best-of-``rounds`` match, ``None`` for ever. Pauses are seconds, for live
    sources only."""

    rounds: int | None = None
    auto: bool = False
    max_replays: int = 2
    timing: Timing = field(default_factory=Timing)
    hold: float = 2.0  # the outcome stays on the LEDs this long before the next round
    pause: float = 1.0  # before a replay


class SourceEnded(RPSError, EOFError):
    """The frame source ran out (a file that cannot loop, or one that broke)."""


class CameraUnavailable(RPSError, OSError):
    """The camera did not open; exit 1, so a service manager tries again (it may be late)."""


class _Clock:
    """``now()`` and the next reading: real time for a camera, the video's clock for a file."""

    def __init__(self, stream, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.stream = stream
        self.live = bool(getattr(stream.source, "live", True))
        self.fps = float(getattr(stream.source, "fps", 30.0) or 30.0)
        self._clock, self._sleep = clock, sleep
        self._seq = 0
        self._video_now = 0.0

    def now(self) -> float:
        return self._clock() if self.live else self._video_now

    def next_reading(self):
        """The next new reading (live: or ``None`` after a short wait; file: one frame read)."""
        if self.live:
            reading = self.stream.wait(after_seq=self._seq, timeout=POLL_S)
            if reading.seq <= self._seq:
                if self.stream.ended:
                    raise SourceEnded(f"{self.stream.source.name} ended")
                return None
            self._seq = reading.seq
            return reading
        if not self.stream.step():
            raise SourceEnded(f"{self.stream.source.name} ended")
        reading = self.stream.latest()
        if reading.seq <= self._seq or reading.frame_index < 0:
            return None
        self._seq = reading.seq
        self._video_now = reading.frame_index / self.fps
        return replace(reading, timestamp=self._video_now)

    def pause(self, seconds: float) -> None:
        """Wait (live only: a file's clock only moves with its frames)."""
        if self.live and seconds > 0:
            self._sleep(seconds)


class HeadlessGame:
    """Plays rounds on a body, reading the player from a started (or steppable) gesture stream."""

    def __init__(
        self,
        body: RobotBody,
        stream,
        strategy: Strategy,
        roundlog: RoundLog,
        settings: HeadlessSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.body = body
        self.settings = settings or HeadlessSettings()
        self.roundlog = roundlog
        self.stats: Stats = roundlog.stats()
        self.strategy = strategy
        self._warm_up()
        self.match = Match(best_of=self.settings.rounds)
        self.referee = Referee(
            strategy, self.match, self.settings.timing, body=body, max_replays=None
        )
        self.clock = _Clock(stream, clock, sleep)
        self._sleep = sleep
        self.played = 0  # rounds played in this run, void ones included
        self.over: MatchOver | None = None

    def _warm_up(self) -> None:
        """Let the strategy learn the rounds played before a restart."""
        scored = [r for r in self.roundlog.records() if r.get("outcome") != VOID]
        for record in scored[-WARM_UP_ROUNDS:]:
            try:
                self.strategy.record(player=record["player"], robot=record["robot"])
            except (KeyError, ValueError):
                continue
        if self.stats.rounds:
            log.info(
                "%d rounds in %s so far: %s", self.stats.rounds, self.roundlog.path, self.stats
            )

    def play(self) -> int:
        """Play a best-of-``settings.rounds`` match (or until stopped); returns the rounds played.

        The match is over when one side has won ``rounds // 2 + 1`` rounds, or after a void round
        (no hand seen ``max_replays`` times in a row); ``over`` then says which."""
        while self.over is None:
            self.body.attract()
            if not self.settings.auto:
                self._wait_for_button()
            self.play_round()
        return self.played

    def _wait_for_button(self) -> None:
        log.info("press the start button to play")
        while not self.body.start_pressed():
            self._sleep(POLL_S)

    def play_round(self) -> RoundRecord:
        """One round, replayed while no hand is seen (up to ``max_replays`` times); logged."""
        number = self.stats.rounds + 1
        replays = 0
        while True:
            result, confidence = self._attempt()
            if not result.replay:
                record = RoundRecord.scored(
                    result.robot, result.player, confidence, result.outcome,
                    replays=replays, round=number,
                )  # fmt: skip
                break
            if replays >= self.settings.max_replays:
                record = RoundRecord.void(result.robot, confidence, replays=replays, round=number)
                break
            replays += 1
            log.info("round %d: no hand seen: replay %d of %d", number, replays,
                     self.settings.max_replays)  # fmt: skip
            self.clock.pause(self.settings.pause)
            self.body.attract()
        self.roundlog.record(record)  # a full or read-only card must not stop the robot playing
        self.stats.add(record.outcome)
        self.played += 1
        log.info(
            "round %d: robot %s, player %s (%.0f%% sure): %s | match: %s | log: %s",
            number, record.robot, record.player, 100 * record.confidence,
            OUTCOME_WORDS[record.outcome], self.match, self.stats,
        )  # fmt: skip
        if self.referee.over is not None:
            self.over = self.referee.over
        elif record.outcome == VOID and not self.match.endless:
            self.over = MatchOver("no hand")
        self.clock.pause(self.settings.hold)
        return record

    def _attempt(self) -> tuple[RoundResult, float]:
        """Count down, show the robot's throw and read the player: one ``RoundResult``."""
        rnd: Round = self.referee.new_round(self.clock.now())
        window = []
        while True:
            reading = self.clock.next_reading()
            if reading is not None:
                self.referee.observe(reading)
                if rnd.shoot_time <= reading.timestamp <= rnd.end_time:
                    window.append(reading)
            for event in self.referee.update(self.clock.now()):
                if isinstance(event, RoundResult):
                    return event, _confidence(window, event)


def _confidence(window: list, result: RoundResult) -> float:
    """The reading's confidence; for no hand, the best throw confidence seen (too low to count)."""
    if not result.replay:
        return result.confidence
    throws = [r.confidence for r in window if Gesture.parse(r.gesture).is_throw]
    return max(throws, default=0.0)


# --- the command ---------------------------------------------------------------------------------


def settings_from_args(args: argparse.Namespace) -> HeadlessSettings:
    """From --rounds (best of N; --endless: for ever), --auto, --max-replays and --speed."""
    rounds = getattr(args, "rounds", None)
    if getattr(args, "endless", False) or rounds is None or rounds <= 0:
        rounds = None
    defaults = HeadlessSettings()
    speed = getattr(args, "speed", None) or 1.0
    max_replays = getattr(args, "max_replays", None)
    return HeadlessSettings(
        rounds=rounds,
        auto=bool(getattr(args, "auto", False)),
        max_replays=defaults.max_replays if max_replays is None else max_replays,
        timing=defaults.timing.faster(speed),
        hold=defaults.hold / speed,
        pause=defaults.pause / speed,
    )


def _no_button(body: RobotBody, args: argparse.Namespace) -> str | None:
    """Why rounds could never start without ``--auto`` (``None``: a real button exists)."""
    if not getattr(body, "has_button", False):
        return (
            "headless play needs a start button: add a [button] section to the --hardware "
            "config, or pass --auto"
        )
    if getattr(args, "pins", "auto") == "mock":
        return "with --pins mock nobody can press the start button: pass --auto"
    return None


def _setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )


def _open_stream(args: argparse.Namespace):
    from vision.classifier import GestureClassifier
    from vision.sources import open_source
    from vision.stream import GestureStream

    spec = getattr(args, "source", None)
    spec = 0 if spec in (None, "") else spec
    if str(spec).lower() == "keyboard":
        raise SourceError(
            "headless play reads the player's hand from a camera or a video: use --source 0, "
            "picam or a file (keyboard play needs the screen game)"
        )
    threads = getattr(args, "threads", None) or 1
    classifier = GestureClassifier(getattr(args, "model", None), threads=threads)
    try:
        source = open_source(spec, loop=True)
    except SourceError as exc:
        if is_live_spec(str(spec)):  # not plugged in, or not ready yet at boot: worth a retry
            raise CameraUnavailable(str(exc)) from exc
        raise
    return GestureStream(source, classifier, roi=getattr(args, "roi", None))


def run_headless(args: argparse.Namespace) -> int:
    """``python -m game --headless``: play on the robot's body without a window; the exit status."""
    _setup_logging()
    code = _run_headless(args)
    if code in (0, 130):
        log.info("headless play exited cleanly")
    return code


def _run_headless(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    path = getattr(args, "log", None)
    roundlog = RoundLog(Path(path) if path else None)
    body = stream = None
    with sigterm_raises():
        try:
            try:
                body = create_body(
                    getattr(args, "hardware", None),
                    pins=getattr(args, "pins", "auto") or "auto",
                    mute=bool(getattr(args, "mute", False)),
                )
                if not settings.auto and (problem := _no_button(body, args)):
                    print(f"error: {problem}", file=sys.stderr)
                    return 2
                stream = _open_stream(args)
                roundlog.claim()  # not a round log, or another game's: exit 2 before playing
                strategy = make_strategy(getattr(args, "strategy", None) or "adaptive",
                                         seed=getattr(args, "seed", None))  # fmt: skip
            except CameraUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            except (RPSError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            game = HeadlessGame(body, stream, strategy, roundlog, settings)
            if stream.source.live:
                stream.start()
            log.info("headless play: logging rounds to %s", roundlog.path)
            try:
                game.play()
            except SourceEnded as exc:
                log.error("%s: no more frames, stopping after %d rounds", exc, game.played)
                return 1
            log.info("played %d rounds: %s %s | log: %s", game.played, game.over.message,
                     game.match, game.stats)  # fmt: skip
            return 0
        except Terminated:
            log.info("stopped by SIGTERM")
            return 0
        except KeyboardInterrupt:
            log.info("stopped by Ctrl-C")
            return 130
        except Exception:
            log.exception("headless play failed")
            return 1
        finally:
            if stream is not None:
                stream.stop()
            if body is not None:
                body.close()
            roundlog.close()
