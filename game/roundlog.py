"""A JSON-lines log of played rounds that survives power cuts, and the stats read back from it.

One line per round::

    {"time": "2025-01-01T12:00:00.123+00:00", "round": 1, "robot": "rock", "player": "paper",
     "confidence": 0.93, "outcome": "win", "replays": 0}

``outcome`` is the player's ``win`` / ``lose`` / ``draw``, or ``void`` when no confident gesture
was seen even after the allowed replays (``player`` is then ``none``); a void round is not scored.
Replays themselves are not written. Every line is flushed and ``fsync``'ed before ``append``
returns, so a power cut loses at most the round in progress; a torn last line is ignored when
reading and cut off before the next append (only one that starts as this log's lines do: a line
someone else wrote is never cut).

``claim()`` is what a game calls before it plays: it refuses a file whose content is not a round
log (a config or notes passed by mistake) and a log that another game is writing (an ``flock``
held until ``close()``), and creates only the file itself, never a folder, unless the log is
the default one in the user data folder.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from vision.errors import RPSError
from vision.labels import Gesture, Outcome
from vision.paths import user_data_dir

log = logging.getLogger(__name__)

LOG_NAME = "rounds.jsonl"
#: The most a log read back may take: about 60,000 rounds (a longer log is read from its end).
MAX_READ_BYTES = 8 << 20
VOID = "void"
#: How every line this log writes begins (``RoundRecord.to_json``): a torn line that does not is
#: not ours, and is never cut.
LINE_START = b'{"time": "'


class RoundLogError(RPSError, ValueError):
    """The round log cannot be used: not a round log, its folder is missing, or it is in use."""


def default_log_path() -> Path:
    """``<user data>/rounds.jsonl`` (see ``vision.paths.user_data_dir``)."""
    return user_data_dir() / LOG_NAME


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RoundRecord:
    """One played round, as written to the log."""

    robot: str
    player: str
    confidence: float
    outcome: str  # "win" / "lose" / "draw" (the player's side) or "void"
    replays: int = 0
    round: int = 0
    time: str = field(default_factory=now_iso)

    @classmethod
    def scored(
        cls, robot: Gesture, player: Gesture, confidence: float, outcome: Outcome, **kw
    ) -> RoundRecord:
        return cls(str(robot), str(player), round(float(confidence), 4), str(outcome), **kw)

    @classmethod
    def void(cls, robot: Gesture, confidence: float = 0.0, **kw) -> RoundRecord:
        return cls(str(robot), str(Gesture.NONE), round(float(confidence), 4), VOID, **kw)

    def to_json(self) -> str:
        data = asdict(self)
        order = ("time", "round", "robot", "player", "confidence", "outcome", "replays")
        return json.dumps({k: data[k] for k in order}, separators=(", ", ": "))


@dataclass
class Stats:
    """Totals over a log: the player's wins, losses and draws, and void rounds."""

    wins: int = 0
    losses: int = 0
    draws: int = 0
    void: int = 0

    @property
    def rounds(self) -> int:
        return self.wins + self.losses + self.draws + self.void

    def add(self, outcome: str) -> None:
        if outcome == Outcome.WIN:
            self.wins += 1
        elif outcome == Outcome.LOSE:
            self.losses += 1
        elif outcome == Outcome.DRAW:
            self.draws += 1
        elif outcome == VOID:
            self.void += 1
        else:
            raise ValueError(f"unknown outcome {outcome!r}")

    def __str__(self) -> str:
        """``player 3 wins, 1 loss, 0 draws`` (and the void rounds, if any)."""
        counts = [(self.wins, "win", "wins"), (self.losses, "loss", "losses"),
                  (self.draws, "draw", "draws")]  # fmt: skip
        if self.void:
            counts.append((self.void, "void round", "void rounds"))
        return "player " + ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)


class RoundLog:
    """Append-only JSON-lines round log at ``path``; without one, ``rounds.jsonl`` in the user
    data folder (that folder is created on first append; a given path's folder must exist)."""

    def __init__(self, path: str | Path | None = None, max_read: int = MAX_READ_BYTES):
        self.path = Path(path).expanduser() if path is not None else default_log_path()
        self.create_folder = path is None
        self.max_read = int(max_read)
        self._checked_tail = False
        self._warned: set[str] = set()  # each problem with the file is logged once
        self._lock_fd: int | None = None

    def claim(self) -> RoundLog:
        """Check the file is a round log (or new), and lock it for this game until ``close()``.

        Raises ``RoundLogError`` with what to do: a folder that does not exist, a file whose
        content is not a round log (it is left as it was), or another game writing to it.
        """
        what = "pass a new file or an existing round log to --log, or leave --log out"
        if self.create_folder:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.parent.is_dir():
            missing = "is a file" if self.path.parent.exists() else "does not exist"
            raise RoundLogError(
                f"{self.path}: the folder {self.path.parent} {missing}: create the folder first "
                "or pass a log file in a folder that exists"
            )
        if self.path.is_dir():
            raise RoundLogError(f"{self.path} is a folder, not a round log: {what}")
        if problem := self._not_a_round_log():
            raise RoundLogError(f"{self.path} is not a round log ({problem}); it was left as it "
                                f"was: {what}")  # fmt: skip
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RoundLogError(f"cannot open the round log {self.path}: {exc.strerror}") from exc
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock
            pass
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RoundLogError(f"another game is writing to {self.path}: stop it first, or "
                                    "give this one its own --log") from None  # fmt: skip
            raise RoundLogError(f"cannot lock the round log {self.path}: {exc.strerror}") from exc
        self._lock_fd = fd
        return self

    def close(self) -> None:
        """Let another game write to the log (the lock goes with the file descriptor)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _not_a_round_log(self) -> str | None:
        """What in the file shows it is not a round log, or None (new, empty or all rounds)."""
        raw = self._read()
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if number == len(lines) and line.startswith(LINE_START):
                continue  # our own line, torn by a power cut
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not {"outcome", "round"} <= record.keys():
                return f"line {number} is not a round: {_shorten(line)}"
        return None

    def _warn_once(self, key: str, message: str, *args) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def _read(self) -> bytes:
        """The log's bytes: a regular file only, and at most its last ``max_read`` bytes."""
        try:
            with open(self.path, "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode):  # /dev/full, /dev/zero, a FIFO: endless
                    self._warn_once("irregular", "%s is not a regular file: not reading "
                                    "past rounds from it", self.path)  # fmt: skip
                    return b""
                if info.st_size > self.max_read:
                    self._warn_once("big", "%s is %d MB: reading only its last %d MB",
                                    self.path, info.st_size >> 20, self.max_read >> 20)  # fmt: skip
                    f.seek(info.st_size - self.max_read)
                    raw = f.read(self.max_read)
                    return raw[raw.find(b"\n") + 1 :]  # from the first whole line
                return f.read(self.max_read)
        except FileNotFoundError:
            return b""
        except OSError as exc:
            self._warn_once("read", "cannot read the round log %s: %s", self.path, exc)
            return b""

    def records(self) -> list[dict]:
        """Every readable line; a torn last line (power cut) and garbled lines are skipped."""
        raw = self._read()
        lines = raw.split(b"\n")
        out = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "outcome" not in record:
                    raise ValueError("not a round")
            except ValueError:
                if number == len(lines):  # no newline after it: written when the power went
                    self._warn_once("torn", "%s: ignoring a torn last line (a round cut short; "
                                    "it is cut off before the next round is written)",
                                    self.path)  # fmt: skip
                else:
                    self._warn_once(f"line {number}", "%s:%d: ignoring a line that is not a "
                                    "round", self.path, number)  # fmt: skip
                continue
            out.append(record)
        return out

    def stats(self) -> Stats:
        stats = Stats()
        for record in self.records():
            try:
                stats.add(record["outcome"])
            except ValueError:
                log.warning("%s: ignoring a round with outcome %r", self.path, record["outcome"])
        return stats

    def append(self, record: RoundRecord) -> None:
        """Write one line and make it durable (flush + fsync) before returning."""
        if self.create_folder:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._checked_tail:
            self._cut_torn_tail()
            self._checked_tail = True
        new = not self.path.exists()
        line = record.to_json().encode("utf-8") + b"\n"
        if self._lock_fd is not None:  # claimed: write through the locked descriptor
            os.write(self._lock_fd, line)
            os.fsync(self._lock_fd)
            return
        with open(self.path, "ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if new:
            _fsync_dir(self.path.parent)

    def record(self, record: RoundRecord) -> bool:
        """``append``, but a full or read-only card only logs a warning: the robot plays on."""
        try:
            self.append(record)
        except OSError as exc:
            log.warning("cannot write the round log %s: %s", self.path, exc)
            return False
        return True

    def _cut_torn_tail(self) -> None:
        """Drop a torn last line of ours, so the next line does not glue onto it; a last line
        without a newline that this log did not write is kept, and ended with a newline."""
        try:
            with open(self.path, "rb+") as f:
                size = f.seek(0, os.SEEK_END)
                if size == 0:
                    return
                f.seek(size - 1)
                if f.read(1) == b"\n":
                    return
                keep = _after_last_newline(f, size)
                f.seek(keep)
                if not f.read(len(LINE_START)).startswith(LINE_START):
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                    return
                self._warn_once("torn", "%s: cutting a torn last line (%d bytes)", self.path,
                                size - keep)  # fmt: skip
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())
        except FileNotFoundError:
            pass


def _shorten(line: bytes, most: int = 40) -> str:
    text = line.decode("utf-8", "replace").strip()
    return repr(text if len(text) <= most else text[: most - 3] + "...")


def _after_last_newline(f, size: int, chunk: int = 4096) -> int:
    """The offset just after the last newline before ``size`` (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - chunk)
        f.seek(start)
        block = f.read(end - start)
        if (i := block.rfind(b"\n")) >= 0:
            return start + i + 1
        end = start
    return 0


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable too (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
