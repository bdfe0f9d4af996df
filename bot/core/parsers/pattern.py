"""A user's own progress pattern (`[run] progress_pattern`, `--progress-pattern`): a regular
expression with named groups, for an in-house format no parser reads.

    [run]
    progress_pattern = 'it (?P<iter>\\d+)/(?P<total>\\d+).*loss=(?P<loss>[\\d.]+)'

reads `12:00:01 it 120/5000 | loss=2.31 | (812ms)`. Groups: `iter` (required), `total`, `loss`,
`val_loss`, `epoch`, `elapsed_s` (seconds, or `h:mm:ss`), `dt_s`, `dt_ms`, `timestamp` (any form
`StampReader` reads). A matching line is progress (and an `Eval` when `val_loss` matched);
failure lines are read as by every parser; other lines give nothing.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, StampReader, clean, clock_seconds, to_float, to_int

NAME = "pattern"
GROUPS = ("iter", "total", "loss", "val_loss", "epoch", "elapsed_s", "dt_s", "dt_ms", "timestamp")


class PatternError(ValueError):
    """A progress pattern that cannot be used; the message says why, in one line."""


def compile_pattern(text: str) -> re.Pattern[str]:
    """The compiled pattern, or PatternError: not a regular expression, no `iter` group, or a
    group etagram does not know."""
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise PatternError(f"not a regular expression ({exc})") from None
    if "iter" not in pattern.groupindex:
        raise PatternError("no (?P<iter>...) group for the iteration")
    unknown = sorted(set(pattern.groupindex) - set(GROUPS))
    if unknown:
        raise PatternError(f"unknown group {unknown[0]!r}; known: {', '.join(GROUPS)}")
    return pattern


class PatternParser(FeedMany):
    name = NAME

    def __init__(self, text: str) -> None:
        self._pattern = compile_pattern(text)
        self._stamps = StampReader()

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        match = self._pattern.search(line)
        if match is None:
            return errors.with_errors([], line)
        found = {k: v for k, v in match.groupdict().items() if v is not None}
        step = to_int(found.get("iter", ""))
        if step is None or step < 0:
            return errors.with_errors([], line)
        loss, val_loss = _float(found.get("loss")), _float(found.get("val_loss"))
        events: list[Event] = [
            Progress(
                step,
                total=to_int(found.get("total", "")) or None,
                loss=loss,
                dt_s=_dt_s(found),
                elapsed_s=_elapsed(found.get("elapsed_s")),
                timestamp_s=self._timestamp(found.get("timestamp")),
                epoch=_float(found.get("epoch")),
            )
        ]
        if val_loss is not None:
            events.append(Eval(step, train_loss=loss, val_loss=val_loss))
        return errors.with_errors(events, line)

    def _timestamp(self, text: str | None) -> float | None:
        read = None if text is None else self._stamps.read(text)
        return None if read is None else read[0]


def _float(text: str | None) -> float | None:
    return None if text is None else to_float(text)


def _dt_s(found: dict[str, str]) -> float | None:
    if (ms := _float(found.get("dt_ms"))) is not None:
        return ms / 1000
    return _float(found.get("dt_s"))


def _elapsed(text: str | None) -> float | None:
    if text is None:
        return None
    value = to_float(text)
    return value if value is not None else clock_seconds(text)
