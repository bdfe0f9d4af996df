"""Which format a log is in, and the parser for it.

`detect(head)` scores the first lines of a log with every format's `score(line)` (10 for a
line only that format prints, 1 for a hint, 0 otherwise) and returns the format with the
highest total (ties go to the earlier format in `FORMATS`).

`make_parser(None)` returns an `AutoParser`: it holds lines back until a format is certain
(one line scoring 10) or `HEAD_LINES` lines have arrived, then replays them to the chosen
parser, so no event is lost. Failure lines (`ErrorText`) are not held back: an OOM in the
first lines of a log must be reported even if the log never grows. If the chosen parser then
understands nothing for `QUIET_LINES` lines while another format prints a line it alone
prints, the log has switched format (a resume with another script) and the parser follows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from types import ModuleType

from bot.core.events import ErrorText, Event
from bot.core.parsers import errors, hf, llmc, modded, nanogpt
from bot.core.parsers.base import LineParser, clean

HEAD_LINES = 200
QUIET_LINES = 50
CERTAIN = 10

_MODULES: tuple[ModuleType, ...] = (nanogpt, llmc, modded, hf)
_FACTORIES: dict[str, Callable[[], LineParser]] = {
    nanogpt.NAME: nanogpt.NanoGptParser,
    llmc.NAME: llmc.LlmcParser,
    modded.NAME: modded.ModdedParser,
    hf.NAME: hf.HfParser,
}
_SCORERS: dict[str, Callable[[str], int]] = {m.NAME: m.score for m in _MODULES}

FORMATS: tuple[str, ...] = tuple(m.NAME for m in _MODULES)
FALLBACK = nanogpt.NAME


def detect(head: Sequence[str]) -> str | None:
    """The format whose lines best match `head` (raw lines), or None if nothing matches."""
    return _best(_totals([clean(line) for line in head]))


def make_parser(fmt: str | None = None) -> LineParser:
    """The parser for `fmt`; None gives an auto-detecting `AutoParser`.

    Raises ValueError with the list of known formats for an unknown name.
    """
    if fmt is None:
        return AutoParser()
    factory = _FACTORIES.get(fmt)
    if factory is None:
        raise ValueError(f"unknown log format {fmt!r}; known: {', '.join(FORMATS)}")
    return factory()


def _totals(lines: Sequence[str]) -> dict[str, int]:
    totals = dict.fromkeys(FORMATS, 0)
    for line in lines:
        for name, scorer in _SCORERS.items():
            totals[name] += scorer(line)
    return totals


def _best(totals: dict[str, int]) -> str | None:
    best = max(FORMATS, key=lambda name: totals[name])  # max keeps the first of equals
    return best if totals[best] > 0 else None


def _certain_format(line: str) -> str | None:
    for name, scorer in _SCORERS.items():
        if scorer(line) >= CERTAIN:
            return name
    return None


class AutoParser:
    """Detects the format from the first lines, then follows format switches."""

    def __init__(self) -> None:
        self.name = "auto"
        self._head: list[str] = []
        self._parser: LineParser | None = None
        self._quiet = 0
        self._recent: deque[str] = deque(maxlen=QUIET_LINES)

    @property
    def format(self) -> str | None:
        """The format chosen so far (None while the first lines are held back)."""
        return None if self._parser is None else self._parser.name

    def feed(self, line: str) -> list[Event]:
        if self._parser is None:
            return self._feed_head(line)
        events = self._parser.feed(line)
        if any(not isinstance(event, ErrorText) for event in events):
            self._quiet = 0
            return events
        self._quiet += 1
        self._recent.append(line)
        if self._quiet > QUIET_LINES:
            events += self._maybe_switch(clean(line))
        return events

    def flush(self) -> list[Event]:
        """Decide now with the lines held back (end of a finished log, or an idle one)."""
        if self._parser is not None or not self._head:
            return []
        return self._choose(detect(self._head) or FALLBACK)

    def _feed_head(self, line: str) -> list[Event]:
        self._head.append(line)
        cleaned = clean(line)
        certain = _certain_format(cleaned)
        if certain is not None or len(self._head) >= HEAD_LINES:
            return self._choose(detect(self._head) or FALLBACK)
        error = errors.scan(cleaned)
        return [] if error is None else [error]

    def _choose(self, fmt: str) -> list[Event]:
        head, self._head = self._head, []
        self._parser = make_parser(fmt)
        events: list[Event] = []
        for line in head[:-1]:  # their errors were reported as they came
            events += [e for e in self._parser.feed(line) if not isinstance(e, ErrorText)]
        events += self._parser.feed(head[-1])
        return events

    def _maybe_switch(self, line: str) -> list[Event]:
        certain = _certain_format(line)
        if certain is None or self._parser is None or certain == self._parser.name:
            return []
        self._parser = make_parser(certain)
        self._quiet = 0
        recent, self._recent = list(self._recent), deque(maxlen=QUIET_LINES)
        # The old parser already reported these lines' errors.
        return [
            e for line in recent for e in self._parser.feed(line) if not isinstance(e, ErrorText)
        ]
