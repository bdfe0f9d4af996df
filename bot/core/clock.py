"""The run clock: seconds since the run's first progress line, from the log's own notion of time.

Formats carry time in one of three ways, in this order of trust:
- a cumulative clock printed by the trainer (`train_time`, tqdm elapsed, `elapsed_time`);
- a wall-clock timestamp on the line (Python logging);
- per-iteration durations (nanoGPT `time`, llm.c `dt`), summed.
When none is printed, the time the line reached etagram stands in (live only).

One source per run: the clock takes the most trusted source seen so far and keeps it. A line
that carries a less trusted source, or none (Hugging Face Trainer's `{'loss': ...}` dict between
two tqdm redraws), moves nothing: the next reading of the kept source covers the time in between,
so nothing is dropped and nothing counted twice. A more trusted source seen for the first time
takes over from the current run-clock time; a source the log stops printing (`STALE_LINES`
progress lines in a row without it) hands over to the one those lines carry.

The clock never runs backwards. A cumulative reading that falls to less than half of the
previous one, or that falls on the line that starts a launch (launches.py), is a restart of
that clock (modded-nanogpt restarts `train_time` after its warm-up steps; a resumed run restarts
`elapsed_time`): the run clock then goes on from where it was. A smaller step back (two writers,
rounding) is held at the current time. A timestamp set back by more than writers' clocks ever
disagree (summer time ending on a naive local time) re-bases the clock: it goes on from there.

Readings that no training run can produce are not time: a timestamp or cumulative clock that
moves more than `MAX_STEP_S` between two lines (a year-less timestamp read across New Year, a
stray 1970 or 2099 date) is set aside; if the next reading goes on from it, the clock was
re-based (New Year, a relaunch days later) and the run clock continues from where it was,
otherwise it was noise and is forgotten. Unprinted iterations between two per-iteration
durations never add more than `MAX_STEP_S` either (a counter that jumps to 10^18).
"""

from __future__ import annotations

import math
from itertools import accumulate

from bot.core.events import Progress

SPIKE_FACTOR = 3.0  # a printed dt this many times the typical one is an eval/save iteration
TYPICAL_WEIGHT = 0.1  # how fast the typical dt follows the printed ones
# No two lines of one launch are further apart than a job can run: a week is the longest
# wall-time limit common clusters allow, and far below the year a New Year misreading makes.
MAX_STEP_S = 7 * 86400.0
SKEW_S = 60.0  # timestamps of one log never disagree by more (NTP keeps hosts within a second)
STALE_LINES = 20  # lines in a row without the kept source: the log no longer prints it
RANK = {"wall": 0, "dt": 1, "timestamp": 2, "elapsed": 3}  # higher is more trusted


class RunClock:
    """Turns progress events into `t_s`, monotonic and zero at the first progress line."""

    def __init__(self) -> None:
        self.t_s = 0.0
        self.restarts = 0  # times a cumulative clock started again from (near) zero
        self.jumps = 0  # readings set aside as implausible, or that re-based the clock
        self.source: str | None = None  # the source the clock follows: elapsed, timestamp, ...
        self._origin: float | None = None  # reading that maps to t_s = 0 for the current source
        self._last_reading: float | None = None
        self._suspect: float | None = None  # an implausible reading, until the next one
        self._last_iter: int | None = None
        self._typical_dt_s: float | None = None
        self._without = 0  # progress lines in a row without the kept source

    def advance(self, ev: Progress, wall_s: float, launched: bool = False) -> float:
        """Fold one progress event and return its run-clock time; `launched` says the line
        starts a launch (a resume or a restart: a cumulative clock that falls started again)."""
        source, reading = _reading(ev, wall_s)
        if not math.isfinite(reading):
            return self.t_s  # a garbled reading moves nothing
        if self.source is not None and RANK[source] < RANK[self.source]:
            self._without += 1
            if self._without < STALE_LINES:
                return self.t_s  # the kept source's next reading covers this line's time
            self.source = None  # the log stopped printing it: this source takes over
        self._without = 0
        if launched:
            self._typical_dt_s = None  # a launch may run at another speed
        if source == "dt":
            self.source = "dt"
            self.t_s += self._dt_advance(ev)
        else:
            self._advance_cumulative(source, reading, launched)
        self._last_iter = ev.iter
        return self.t_s

    def dt_times(self, iters: list[int], dts: list[float]) -> tuple[list[float], float] | None:
        """The times `advance` would give these lines one by one, had each only a printed
        duration (increasing iterations, finite durations >= 0), and the typical duration
        after them; None where that shortcut does not hold (no dt clock running yet, a
        duration or a gap too long to be time). Pure: `settle_dt` commits."""
        last, typical = self._last_iter, self._typical_dt_s
        if self.source != "dt" or last is None or typical is None:
            return None
        if iters[0] == last + 1 == iters[-1] - len(iters) + 1 and max(dts) <= MAX_STEP_S:
            return _consecutive_times(self.t_s, typical, dts)
        t, times = self.t_s, []
        keep, weight = 1 - TYPICAL_WEIGHT, TYPICAL_WEIGHT
        for it, dt in zip(iters, dts, strict=True):
            unprinted = (it - last - 1) * typical
            if it <= last or dt > MAX_STEP_S or unprinted > MAX_STEP_S:
                return None  # `advance` has its own rules for these
            t += dt + unprinted
            times.append(t)
            if dt < SPIKE_FACTOR * typical:
                typical = keep * typical + weight * dt
            last = it
        return times, typical

    def settle_dt(self, last_iter: int, t_s: float, typical_dt_s: float) -> None:
        """Commit what `dt_times` computed."""
        self.t_s, self._last_iter, self._typical_dt_s = t_s, last_iter, typical_dt_s
        self._without = 0

    def _advance_cumulative(self, source: str, reading: float, launched: bool) -> None:
        last = self._last_reading
        if self.source != source or self._origin is None or last is None:
            # First reading of this source (or a switch up to it): keep t_s continuous.
            self._rebase(source, reading)
            return
        if source == "elapsed" and reading < last:
            if reading < 0.5 * last or launched:
                # The clock restarted from zero at the previous line.
                self.restarts += 1
                self._origin = -self.t_s
        elif abs(reading - last) > MAX_STEP_S:
            if not self._confirms(reading):
                return  # set aside until the next reading says whether it was noise
        elif reading < last - SKEW_S:
            self.jumps += 1  # a timestamp set back (summer time ends): go on from here
            self._rebase(source, reading)
            return
        self._suspect = None
        self._last_reading = reading
        self.t_s = max(self.t_s, reading - self._origin)

    def _confirms(self, reading: float) -> bool:
        """A far reading is believed when the one before it was as far and this one goes on
        from it: the clock was re-based, and the run clock continues from where it was."""
        suspect, self._suspect = self._suspect, reading
        self.jumps += 1
        if suspect is None or abs(reading - suspect) > MAX_STEP_S or reading < suspect:
            return False
        self._rebase(self.source or "timestamp", suspect)
        return True

    def _rebase(self, source: str, reading: float) -> None:
        self.source, self._origin, self._last_reading = source, reading - self.t_s, reading
        self._suspect = None

    def _dt_advance(self, ev: Progress) -> float:
        """Seconds covered since the last line: this iteration's dt, plus unprinted ones."""
        assert ev.dt_s is not None
        dt = max(0.0, ev.dt_s)
        if self._last_iter is None or dt > MAX_STEP_S:
            return 0.0
        gap = ev.iter - self._last_iter
        if gap <= 0:
            return 0.0
        # The printed dt is one iteration's; an eval iteration's dt must not be spread over
        # the unprinted ordinary iterations around it, so those get the typical duration.
        typical = self._typical_dt_s if self._typical_dt_s is not None else dt
        unprinted = (gap - 1) * typical
        advance = dt + (unprinted if unprinted <= MAX_STEP_S else 0.0)
        if self._typical_dt_s is None or dt < SPIKE_FACTOR * self._typical_dt_s:
            self._typical_dt_s = (1 - TYPICAL_WEIGHT) * typical + TYPICAL_WEIGHT * dt
        return advance


def _consecutive_times(t_s: float, typical: float, dts: list[float]) -> tuple[list[float], float]:
    """`dt_times` for lines one iteration apart (the caller checked that the iterations
    increase): no unprinted iteration, so each time is the previous one plus its duration,
    summed in C in the same order (`t + (dt + 0.0)` is `t + dt`); only the typical
    duration needs a loop."""
    times = list(accumulate(dts, initial=t_s))
    del times[0]
    keep, weight, limit = 1 - TYPICAL_WEIGHT, TYPICAL_WEIGHT, SPIKE_FACTOR * typical
    for dt in dts:
        if dt < limit:
            typical = keep * typical + weight * dt
            limit = SPIKE_FACTOR * typical
    return times, typical


def _reading(ev: Progress, wall_s: float) -> tuple[str, float]:
    if ev.elapsed_s is not None:
        return "elapsed", ev.elapsed_s
    if ev.timestamp_s is not None:
        return "timestamp", ev.timestamp_s
    if ev.dt_s is not None:
        return "dt", ev.dt_s
    return "wall", wall_s
