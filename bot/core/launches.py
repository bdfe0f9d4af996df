"""Launches: the runs one log file holds one after another (restarts, resumes, sweeps).

The iteration counter says where a launch begins. When it goes back:
- to about zero (within two logging intervals of zero, or below `NEAR_ZERO_SHARE` of where it
  had got to), a new launch starts: a restart from scratch or the next run of a sweep. Nothing
  learnt about the previous one's speed, total or evals holds for it;
- part of the way, the run resumed from a checkpoint: the same run goes on;
- by no more than two logging intervals, it is interleaved writers (two ranks printing the
  same steps), not a launch.
A launch that resumes where the last one stopped shows no step back; when the log announces a
new total before the next progress line (detectron2 dumps its config, MAX_ITER included, at
every launch), that line starts a launch all the same.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

NEAR_ZERO_SHARE = 0.05  # a counter back below this share of its high point restarted
WRITER_GAPS = 2  # a step back within this many logging intervals is interleaved writers
GAPS_KEPT = 21  # logging intervals the usual one is the median of
LAUNCHES_KEPT = 50  # records kept; a sweep of thousands keeps its latest ones

FIRST, NEW, RESUME = "first", "new", "resume"


@dataclass(slots=True)
class Launch:
    """One launch: where it started, its total and the clock it is read with."""

    kind: str  # first, new (from about zero) or resume (from a checkpoint)
    start_iter: int
    start_t_s: float  # run clock at its first progress line (set by RunState)
    total: int | None = None
    total_source: str | None = None  # user, progress line, config
    clock_source: str | None = None  # elapsed, timestamp, dt, wall (see RunClock)


class Launches:
    """Tells, for each progress line, whether it starts a launch; keeps their records."""

    def __init__(self) -> None:
        self.records: list[Launch] = []
        self.count = 0  # every launch seen, including those dropped from `records`
        self.high = 0  # highest iteration of the current launch
        self._gaps: deque[int] = deque(maxlen=GAPS_KEPT)
        self._last_iter: int | None = None

    @property
    def current(self) -> Launch | None:
        return self.records[-1] if self.records else None

    def observe(self, it: int, announced: bool = False) -> str | None:
        """FIRST, NEW or RESUME when the progress line at `it` starts a launch, else None;
        `announced`: the log said a launch begins (a new total since the last line)."""
        kind = self._kind(it)
        if kind is None and announced:
            kind = NEW if self._near_zero(it) else RESUME
        if self._last_iter is not None and it > self._last_iter:
            self._gaps.append(it - self._last_iter)
        self._last_iter = it
        if kind is None:
            self.high = max(self.high, it)
            return None
        self.high = it
        self.count += 1
        self.records = [*self.records[-(LAUNCHES_KEPT - 1) :], Launch(kind, it, 0.0)]
        return kind

    def go_on(self, iters: list[int]) -> None:
        """Increasing iterations past the last one, none of which starts a launch (catch-up
        folds them in one batch): what `observe` would have learnt from them."""
        keep = GAPS_KEPT + 1  # only the latest gaps count
        seq = iters[-keep:] if len(iters) >= keep else [*self._last_iters(), *iters]
        self._gaps.extend(b - a for a, b in zip(seq, seq[1:], strict=False))
        self._last_iter = iters[-1]
        self.high = max(self.high, iters[-1])

    def _last_iters(self) -> list[int]:
        return [] if self._last_iter is None else [self._last_iter]

    def _kind(self, it: int) -> str | None:
        if self._last_iter is None:
            return FIRST
        gap = statistics.median(self._gaps) if self._gaps else 0
        if it >= self.high - WRITER_GAPS * gap:
            return None
        return NEW if self._near_zero(it) else RESUME

    def _near_zero(self, it: int) -> bool:
        gap = statistics.median(self._gaps) if self._gaps else 0
        return it <= WRITER_GAPS * gap or it < NEAR_ZERO_SHARE * self.high
