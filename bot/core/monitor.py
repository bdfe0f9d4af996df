"""One followed run: its parser and its state. Lines in, notices out; still pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.core import catchup
from bot.core.detectors import Thresholds
from bot.core.events import Event, TrainingEnd
from bot.core.notices import Notice
from bot.core.parsers.base import LineParser
from bot.core.parsers.pattern import PatternParser
from bot.core.parsers.registry import AutoParser, make_parser
from bot.core.state import RunState

Folded = list[tuple[Event, list[Notice]]]  # each event, with the notices it caused


class RunMonitor:
    """Parses a run's log lines and folds them into its RunState."""

    def __init__(
        self,
        name: str,
        fmt: str | None = None,
        total_iters: int | None = None,
        eval_interval: int | None = None,
        thresholds: Thresholds | None = None,
        progress_pattern: str | None = None,
    ) -> None:
        """`progress_pattern`, a user's regex (see `parsers.pattern`), replaces the format."""
        self.parser: LineParser = (
            PatternParser(progress_pattern) if progress_pattern else make_parser(fmt)
        )
        self.state = RunState(name, total_iters, eval_interval, thresholds)
        self.lines_caught_up = 0  # progress lines `catch_up` folded at speed

    def feed(self, lines: Iterable[str], wall_s: float) -> Folded:
        """Parse lines received at wall-clock time wall_s and fold their events."""
        apply = self.state.apply
        return [(ev, apply(ev, wall_s)) for ev in self.parser.feed_many(lines)]

    def flush(self, wall_s: float) -> Folded:
        """Let an auto-detecting parser decide with the lines it still holds back (at the end
        of a finished log, or when a followed log goes quiet before its format is certain)."""
        events = self.parser.flush() if isinstance(self.parser, AutoParser) else []
        return [(ev, self.state.apply(ev, wall_s)) for ev in events]

    def end(self, exit_code: int | None, wall_s: float) -> list[Notice]:
        """The launched process exited."""
        reason = "exit" if exit_code == 0 else "crash"
        return self.state.apply(TrainingEnd(exit_code, reason), wall_s)

    def catch_up(self, lines: Sequence[str], wall_s: float) -> Folded:
        """`feed` for the lines of a long backlog: the same state, at speed (catchup.py)."""
        return catchup.fold(self, lines, wall_s)
