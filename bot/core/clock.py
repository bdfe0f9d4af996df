"""The run clock: seconds since the run's first progress line, from the log's own notion of time.

Formats carry time in one of three ways, in this order of trust:
- a cumulative clock printed by the trainer (`train_time`, tqdm elapsed, `elapsed_time`);
- a wall-clock timestamp on the line (Python logging);
- per-iteration durations (nanoGPT `time`, llm.c `dt`), summed.
When none is printed, the time the line reached etagram stands in (live only).

The clock never runs backwards. A cumulative reading that falls to less than half of the
previous one is a restart of that clock (modded-nanogpt restarts `train_time` after its
warm-up steps; a resumed run restarts `elapsed_time`): the run clock then goes on from where
it was. A smaller step back (two writers, rounding) is held at the current time.
"""

from __future__ import annotations

import math

from bot.core.events import Progress

SPIKE_FACTOR = 3.0  # a printed dt this many times the typical one is an eval/save iteration
TYPICAL_WEIGHT = 0.1  # how fast the typical dt follows the printed ones


class RunClock:
    """Turns progress events into `t_s`, monotonic and zero at the first progress line."""

    def __init__(self) -> None:
        self.t_s = 0.0
        self.restarts = 0  # times a cumulative clock started again from (near) zero
        self._origin: float | None = None  # reading that maps to t_s = 0 for the current source
        self._source: str | None = None
        self._last_reading: float | None = None
        self._last_iter: int | None = None
        self._typical_dt_s: float | None = None

    def advance(self, ev: Progress, wall_s: float) -> float:
        """Fold one progress event and return its run-clock time."""
        source, reading = _reading(ev, wall_s)
        if not math.isfinite(reading):
            return self.t_s  # a garbled reading moves nothing
        if source == "dt":
            self._source = "dt"
            self.t_s += self._dt_advance(ev)
        else:
            self._advance_cumulative(source, reading)
        self._last_iter = ev.iter
        return self.t_s

    def dt_times(self, iters: list[int], dts: list[float]) -> tuple[list[float], float] | None:
        """The times `advance` would give these lines one by one, had each only a printed
        duration (increasing iterations, finite durations >= 0), and the typical duration
        after them; None where that shortcut does not hold (no dt clock running yet). Pure:
        `settle_dt` commits."""
        last, typical = self._last_iter, self._typical_dt_s
        if self._source != "dt" or last is None or typical is None:
            return None
        t, times = self.t_s, []
        keep, weight = 1 - TYPICAL_WEIGHT, TYPICAL_WEIGHT
        for it, dt in zip(iters, dts, strict=True):
            t += dt + (it - last - 1) * typical
            times.append(t)
            if dt < SPIKE_FACTOR * typical:
                typical = keep * typical + weight * dt
            last = it
        return times, typical

    def settle_dt(self, last_iter: int, t_s: float, typical_dt_s: float) -> None:
        """Commit what `dt_times` computed."""
        self.t_s, self._last_iter, self._typical_dt_s = t_s, last_iter, typical_dt_s

    def _advance_cumulative(self, source: str, reading: float) -> None:
        if self._source != source or self._origin is None or self._last_reading is None:
            # First reading of this source (or a switch to it): keep t_s continuous.
            self._source = source
            self._origin = reading - self.t_s
        elif reading < 0.5 * self._last_reading:
            # The clock restarted from zero at the previous line.
            self.restarts += 1
            self._origin = -self.t_s
        self._last_reading = reading
        self.t_s = max(self.t_s, reading - self._origin)

    def _dt_advance(self, ev: Progress) -> float:
        """Seconds covered since the last line: this iteration's dt, plus unprinted ones."""
        assert ev.dt_s is not None
        dt = max(0.0, ev.dt_s)
        if self._last_iter is None:
            return 0.0
        gap = ev.iter - self._last_iter
        if gap <= 0:
            return 0.0
        # The printed dt is one iteration's; an eval iteration's dt must not be spread over
        # the unprinted ordinary iterations around it, so those get the typical duration.
        typical = self._typical_dt_s if self._typical_dt_s is not None else dt
        advance = dt + (gap - 1) * typical
        if self._typical_dt_s is None or dt < SPIKE_FACTOR * self._typical_dt_s:
            self._typical_dt_s = (1 - TYPICAL_WEIGHT) * typical + TYPICAL_WEIGHT * dt
        return advance


def _reading(ev: Progress, wall_s: float) -> tuple[str, float]:
    if ev.elapsed_s is not None:
        return "elapsed", ev.elapsed_s
    if ev.timestamp_s is not None:
        return "timestamp", ev.timestamp_s
    if ev.dt_s is not None:
        return "dt", ev.dt_s
    return "wall", wall_s
