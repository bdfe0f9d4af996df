"""What every parser is, and the small text helpers they share.

A parser is fed one log line at a time (already split on `\\n`, `\\r\\n` and bare `\\r`, and
decoded as UTF-8 with errors="replace") and returns the events that line carries. Parsers are
pure: they never read a clock or a file, and they never raise on any input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from bot.core.events import Event

# Lines can be megabytes of garbage: nothing past this is looked at.
MAX_LINE_CHARS = 64 * 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


class LineParser(Protocol):
    """One log format, fed line by line."""

    name: str

    def feed(self, line: str) -> list[Event]:
        """Return the events `line` (without its terminator) carries, maybe none."""
        ...

    def feed_many(self, lines: Iterable[str]) -> list[Event]:
        """The events of `lines`, in order: what feeding them one by one returns, with one
        call per batch (catch-up reads thousands of lines at once)."""
        ...


class _Feeds(Protocol):
    def feed(self, line: str) -> list[Event]: ...


class FeedMany:
    """`LineParser.feed_many` for a parser that defines only `feed`."""

    def feed_many(self: _Feeds, lines: Iterable[str]) -> list[Event]:
        events: list[Event] = []
        feed = self.feed
        for line in lines:
            events += feed(line)
        return events


def clean(line: str) -> str:
    """Drop ANSI escapes (tqdm's ESC[A cursor moves, colours) and NULs, strip blanks."""
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS]
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    if "\x00" in line:
        line = line.replace("\x00", "")
    return line.strip()


# Control characters no text log prints (tab, and ESC of colour codes, aside; NULs are already
# gone: UTF-16 text read as UTF-8 is text with NULs), and U+FFFD, what undecodable bytes become.
_CONTROL = re.compile(r"[\x01-\x08\x0b-\x1a\x1c-\x1f\x7f]")
_UNDECODABLE = "\ufffd"


def looks_binary(line: str) -> bool:
    """True for a (cleaned) line of binary bytes: a control character, or undecodable bytes in
    a tenth of it (text in another encoding, Latin-1 accents, stays under that)."""
    if _CONTROL.search(line) is not None:
        return True
    return _UNDECODABLE in line and line.count(_UNDECODABLE) * 10 > len(line)


def to_float(text: str) -> float | None:
    """`1.23`, `1e-4`, `nan`, `-inf` -> float; anything else -> None."""
    try:
        return float(text)
    except ValueError:
        return None


def to_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        value = to_float(text)
        if value is None or not math.isfinite(value) or value != int(value):
            return None
        return int(value)


def number(value: object) -> float | None:
    """A metric value from JSON or a Python dict: a number, or a number in a string
    (recent transformers print `'loss': '1.015'`); booleans and anything else -> None."""
    if type(value) is float:  # the usual case, first: isinstance on a union is slow
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return to_float(value) if isinstance(value, str) else None


_CLOCK = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d\d)(?::(\d\d))?(?:\.(\d+))?$")


def clock_seconds(text: str) -> float | None:
    """`02:10` (mm:ss), `1:02:10` (h:mm:ss), `1 day, 2:03:04` -> seconds; else None."""
    parts = text.split(":")
    if text[:1].isdigit():  # tqdm's usual `mm:ss` / `h:mm:ss`, without the regex
        try:
            if len(parts) == 2:
                return float(int(parts[0]) * 60 + int(parts[1]))
            if len(parts) == 3:
                return float(int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2]))
        except ValueError:
            pass  # `1 day, 2:03:04`, fractions: the regex below
    match = _CLOCK.match(text.strip())
    if match is None:
        return None
    days, first, second, third, frac = match.groups()
    if third is None:  # mm:ss
        total = int(first) * 60 + int(second)
    else:
        total = int(first) * 3600 + int(second) * 60 + int(third)
    if days:
        total += int(days) * 86400
    return total + (float("0." + frac) if frac else 0.0)


_TIMESTAMP = re.compile(
    r"(\d{4})[-/](\d\d)[-/](\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[,.](\d{1,6}))?"
    r"(Z|[+-]\d\d:?\d\d)?"
)


# Years a real run's timestamps fall in; others (a clock reset to 1970, 2099) are noise.
MIN_YEAR, MAX_YEAR = 1990, 2080

_US_TIMESTAMP = re.compile(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d):(\d\d)")


def timestamp_seconds(text: str) -> float | None:
    """Epoch seconds of the first `YYYY-MM-DD HH:MM:SS[,mmm][zone]` or `MM/DD/YYYY HH:MM:SS`
    date in `text`.

    A naive timestamp is read as UTC: the run clock only needs differences, and the parser
    must not depend on the machine's time zone.
    """
    match = _TIMESTAMP.search(text)
    if match is not None:
        return _epoch_seconds(*match.groups())
    match = _US_TIMESTAMP.search(text)
    if match is None:
        return None
    month, day, year, hour, minute, second = match.groups()
    return _epoch_seconds(year, month, day, hour, minute, second, None, None)


def _epoch_seconds(
    year: str,
    month: str,
    day: str,
    hour: str,
    minute: str,
    second: str,
    frac: str | None,
    zone: str | None,
) -> float | None:
    if not MIN_YEAR <= int(year) <= MAX_YEAR:
        return None  # a clock reset to 1970, a typo'd 2099: not a time this run was at
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:
        return None
    seconds = moment.timestamp() + (float("0." + frac) if frac else 0.0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


# What launchers put before each process's line: srun's `--label` (` 0: `, `29: `), torchrun's
# `[rank0]:` / `[default0]:` (twice when the script prints its own), Ray's `(TaskRunner pid=1)`,
# `(pid=1)` for a task without a name, `(raylet.worker pid=1, ip=10.0.0.2)`.
_LAUNCHER = re.compile(r"^\s*(?:\d+:\s+|\[(?:rank|default)\d+\]:\s*|\((?:[\w.]+ )?pid=[^)]*\)\s*)+")


def strip_launcher(line: str) -> str:
    """`line` without the prefixes launchers add in front of each rank's output."""
    if line[:1] in " 0123456789[(":
        match = _LAUNCHER.match(line)
        if match is not None:
            return line[match.end() :]
    return line


_DAY = 86400.0
# Days before each month, in a common year and in a leap year.
_MONTH_STARTS = (
    (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334),
    (0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335),
)
_MONTH_DAY = re.compile(r"(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d{1,6}))?")
_GLOG = re.compile(r"[IWEF](\d{4})?(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")


class YearlessClock:
    """Seconds of timestamps printed without a year, on a timeline of their own.

    Forms: `MM/DD HH:MM:SS` (detectron2 `[11/17 13:47:11]`, mmengine `05/31 05:18:08`) and glog
    `I0724 12:00:06.123456` (a glog stamp with its year, `I20250724 11:33:30`, is read as it is).
    Only differences between stamps matter to the run clock, so the first year is year 0 of this
    timeline. A stamp more than half a year before the previous one is in the next year (a log
    crossing New Year: 12/31 then 01/01 is one day). The year is taken as a common year until a
    29 February shows it is a leap year: a log that crosses the end of February of a leap year
    without a stamp on the 29th is a day short.
    """

    def __init__(self) -> None:
        self._year_start = 0.0  # seconds of 1 January, 00:00 of the current year
        self._leap = False
        self._last: float | None = None

    def read(self, text: str) -> float | None:
        """Seconds of the `MM/DD HH:MM:SS` stamp at the start of `text`, else None."""
        match = _MONTH_DAY.match(text)
        if match is None:
            return None
        month, day, hour, minute, second, frac = match.groups()
        return self._seconds(int(month), int(day), hour, minute, second, frac)

    def read_glog(self, text: str) -> float | None:
        """Seconds of the glog stamp (`I0724 12:00:06.123`) at the start of `text`, else None."""
        match = _GLOG.match(text)
        if match is None:
            return None
        year, month, day, hour, minute, second, frac = match.groups()
        if year is not None:
            return _epoch_seconds(year, month, day, hour, minute, second, frac, None)
        return self._seconds(int(month), int(day), hour, minute, second, frac)

    def _seconds(
        self, month: int, day: int, hour: str, minute: str, second: str, frac: str | None
    ) -> float | None:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        if month == 2 and day == 29:
            self._leap = True
        time_s = (
            int(hour) * 3600
            + int(minute) * 60
            + int(second)
            + (float("0." + frac) if frac else 0.0)
        )
        value = self._at(month, day, time_s)
        if self._last is not None and value < self._last - 183 * _DAY:
            self._year_start += (366 if self._leap else 365) * _DAY
            self._leap = month == 2 and day == 29
            value = self._at(month, day, time_s)
        self._last = value
        return value

    def _at(self, month: int, day: int, time_s: float) -> float:
        days = _MONTH_STARTS[int(self._leap)][month - 1] + day - 1
        return self._year_start + days * _DAY + time_s


_STAMP_START = re.compile(r"^(?:\S{0,24}?[\[:\s])??(?=[IWEF]?\d)")


class StampReader:
    """Epoch seconds of the timestamp a line starts with, in any common form: ISO (Python
    logging, loguru, DeepSpeed's `[2023-04-18 02:33:49,721]`), `MM/DD/YYYY HH:MM:SS`, glog, and
    `MM/DD HH:MM:SS` without a year (detectron2, mmengine; read by a `YearlessClock`, so
    stateful: one reader per log).
    """

    __slots__ = ("_yearless",)

    def __init__(self) -> None:
        self._yearless = YearlessClock()

    def read(self, line: str) -> tuple[float, int] | None:
        """(seconds, index where the stamp ends) of the stamp near the line's start (after `[`,
        a rank prefix or a level letter), else None."""
        head = line[:64]
        match = _TIMESTAMP.search(head) or _US_TIMESTAMP.search(head)
        if match is not None:
            seconds = timestamp_seconds(match.group(0))
            return None if seconds is None else (seconds, match.end())
        start = _STAMP_START.match(head)
        if start is None:
            return None
        at = start.end()
        if (glog := _GLOG.match(head, at)) is not None:
            seconds = self._yearless.read_glog(head[at:])
        elif (month_day := _MONTH_DAY.match(head, at)) is not None:
            glog, seconds = month_day, self._yearless.read(head[at:])
        else:
            return None
        return None if seconds is None else (seconds, glog.end())
