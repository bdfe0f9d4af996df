"""The run clock: seconds since the run's first progress line, from the log's own notion of time.

Formats carry time in one of three ways, in this order of trust:
- a cumulative clock printed by the trainer (`train_time`, tqdm elapsed, `elapsed_time`);
- a wall-clock timestamp on the line (Python logging);
- per-iteration durations (nanoGPT `time`, llm.c `dt`), summed.
When none is printed, the time the line reached etagram stands in (live only).
"""

from __future__ import annotations

from bot.core.events import Progress


class RunClock:
    """Turns progress events into `t_s`, monotonic and zero at the first progress line."""

    def __init__(self) -> None:
        self.t_s = 0.0
        self._origin: float | None = None  # the first reading of whichever source is used
        self._source: str | None = None
        self._last_iter: int | None = None
        self._typical_dt_s: float | None = None

    def advance(self, ev: Progress, wall_s: float) -> float:
        """Fold one progress event and return its run-clock time."""
        source, reading = _reading(ev, wall_s)
        if self._source != source and source != "dt":
            # First reading of a cumulative source (or a switch to one): keep t_s continuous.
            self._source = source
            self._origin = reading - self.t_s if self._last_iter is not None else reading
        elif source == "dt":
            self._source = "dt"
        if source == "dt":
            self.t_s += self._dt_advance(ev)
        elif self._origin is not None:
            self.t_s = max(self.t_s, reading - self._origin)
        self._last_iter = ev.iter
        return self.t_s

    def _dt_advance(self, ev: Progress) -> float:
        """Seconds covered since the last line: this iteration's dt, plus unprinted ones."""
        assert ev.dt_s is not None
        if self._last_iter is None:
            return 0.0
        gap = ev.iter - self._last_iter
        if gap <= 0:
            return 0.0
        # The printed dt is one iteration's; an eval iteration's dt must not be spread over
        # the unprinted ordinary iterations around it, so those get the typical duration.
        typical = self._typical_dt_s if self._typical_dt_s is not None else ev.dt_s
        advance = ev.dt_s + (gap - 1) * typical
        if self._typical_dt_s is None or ev.dt_s < 3 * self._typical_dt_s:
            prev = self._typical_dt_s if self._typical_dt_s is not None else ev.dt_s
            self._typical_dt_s = 0.9 * prev + 0.1 * ev.dt_s
        return advance


def _reading(ev: Progress, wall_s: float) -> tuple[str, float]:
    if ev.elapsed_s is not None:
        return "elapsed", ev.elapsed_s
    if ev.timestamp_s is not None:
        return "timestamp", ev.timestamp_s
    if ev.dt_s is not None:
        return "dt", ev.dt_s
    return "wall", wall_s
