"""Remaining-time estimate for one run: ordinary steps, plus the evals and checkpoints left.

What one would work out by hand from the log: iterations left x ordinary step time, plus
evals left x eval cost, plus checkpoints left x checkpoint cost; a range around it; a finish
time on the user's clock. Everything here is a pure function of what was observed.

How the ordinary step time is learned (`StepTimer`):
- progress intervals are pooled into blocks long enough to dwarf the clock's resolution
  (tqdm and LLaMA-Factory print whole seconds), so a block's rate is no rounding artefact;
- the step time is a trimmed mean of the recent blocks: their total time over their total
  iterations, leaving out blocks off the median by more than a factor `TRIM`. One slow block
  (a stall, a 10x iteration) is dropped; rounding, which cancels out over consecutive blocks,
  is not;
- when the last `CHANGE_BLOCKS` blocks all sit on the same side of the estimate by more than
  the blocks' usual spread, the run changed speed (throttling, another job on the GPU): the
  older blocks are forgotten;
- a steady drift (modded-nanogpt's attention window grows, so each step is slower than the
  last) is followed by a trend fitted since the last change, extrapolated no further ahead
  than it was observed. Its points are finer than blocks: ordinary time spanning at least
  `BLOCK_RESOLUTIONS` quanta of the clock (the smallest interval or difference of two
  consecutive intervals: 1 s for a whole-second clock read once an epoch) and `TREND_SHARE`
  of the run clock, so that a log with a line per epoch has a trend long before it has
  the blocks for one;
- the first interval after the start or a resume is warm-up (compile, data loader start);
  a resume is the iteration or the clock going back, or the iteration leaping forward far
  faster than the step time allows (a run restarted from a later checkpoint).

An interval that holds an eval or a checkpoint is not ordinary: its excess over the step time
is that event's cost (unless evals come at every progress line, as per-epoch logs have them:
then they are part of the ordinary step). An unexplained pause is kept aside: an eval reported
later (a trainer whose stdout is buffered prints it after the pause) claims it as its cost.
Pauses no eval claims recur like evals do when they are modest; a pause longer than the
training before it (a run paused for an hour) is a one-off and does not count for the future.
"""

from __future__ import annotations

import copy
import math
import statistics
from bisect import bisect_left
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain, islice, repeat
from operator import itemgetter, sub, truediv

from bot.core.sums import reach

WINDOW_BLOCKS = 40  # recent blocks the step time is computed from
BLOCK_RESOLUTIONS = 20  # a block spans at least this many clock resolutions
TRIM = 1.5  # blocks off the median by more than this factor are not ordinary
CHANGE_BLOCKS = 4  # consecutive blocks on one side of the estimate that mean a new speed
CHANGE_MIN = 0.08  # ... by at least this fraction (more when blocks are noisier)
TREND_SHARE = 1 / 128  # a trend point spans at least this share of the run clock (and the
# clock's quantum BLOCK_RESOLUTIONS times): a per-epoch log still gives the trend its points
TREND_POINTS = 256  # coarse history kept for the trend (merged in pairs when full; even)
TREND_BINS = 6  # the trend's points are grouped in this many bins to judge its scatter
TREND_SIGNIFICANCE = 3.0  # the drift over the fitted span must exceed this many scatters
TREND_REACH = 1.0  # extrapolate the trend at most this many times the span it was seen over
PAUSE_FACTOR = 3.0  # an interval this many times its expected duration is a pause
PAUSE_SHARE = 0.25  # a pause longer than this share of the training before it is a one-off
QUANTUM_NOISE = 1e-6  # a difference of intervals below this share of one is float noise
KEPT = 10  # recent eval/checkpoint/pause occurrences kept
EVAL_SPLITS = 2  # nanoGPT's estimate_loss evaluates the train and the val split
FORWARD_BACKWARD = 3.0  # a forward and backward pass costs about three forward passes
NANOGPT_ACCUMULATION = 40  # train.py's default gradient_accumulation_steps (5 * 8)
Z80 = 1.2816  # the 90th percentile of a standard normal: 10-90 % range is +-Z80 sigma
RANGE_BASE = 0.005  # relative uncertainty of the remaining time, whatever the horizon
RANGE_DRIFT = 0.01  # ... growing with the square root of the horizon / elapsed ratio


@dataclass(frozen=True, slots=True)
class EtaEstimate:
    """Everything `/eta` shows; None means unknown, and `missing` says why."""

    iters_done: int | None
    total_iters: int | None
    iters_left: int | None
    step_s: float | None  # one ordinary iteration
    evals_left: int
    eval_cost_s: float | None  # extra time one eval adds over an ordinary iteration
    checkpoints_left: int
    checkpoint_cost_s: float | None
    remaining_s: float | None
    low_s: float | None  # 10th percentile of the remaining time
    high_s: float | None  # 90th percentile
    elapsed_s: float  # run clock so far
    missing: tuple[str, ...] = ()  # "total_iters", "step_time", "progress"
    steps_s: float | None = None  # the ordinary iterations' share of remaining_s
    evals_s: float = 0.0  # evals_left x eval_cost_s
    checkpoints_s: float = 0.0  # checkpoints_left x checkpoint_cost_s
    pauses_s: float = 0.0  # other recurring pauses (unreported evals, epoch ends)
    eval_interval: int | None = None  # configured, or learned from the evals seen
    printed_s: float | None = None  # the trainer's own ETA on its last progress line, if any
    eval_cost_estimated: bool = False  # eval_cost_s is worked out from the config, not timed


class StepTimer:
    """Robust ordinary step time from (iterations, seconds) blocks."""

    def __init__(self) -> None:
        self.step_s: float | None = None
        self._spread = 0.0
        self._blocks: deque[tuple[int, float]] = deque(maxlen=WINDOW_BLOCKS)
        # The same blocks' iterations, seconds and rates (secs / iters), for sums in C.
        self._iters: deque[int] = deque(maxlen=WINDOW_BLOCKS)
        self._secs: deque[float] = deque(maxlen=WINDOW_BLOCKS)
        self._rates: deque[float] = deque(maxlen=WINDOW_BLOCKS)
        self._centre = 0.0  # iteration the recent window's step time stands for
        self._history: list[tuple[float, float, int]] = []  # (mid iter, rate, iters)
        self._trend_now = (0.0, 0.0)  # (slope, span fitted over), refreshed per block
        # The fit is made when an estimate asks for it, at most once per block: a backlog
        # read at start-up adds thousands of blocks and asks once.
        self._trend_stale = False
        # The spread and centre are computed when asked for, from the window as it was after
        # the block that ended at this iteration (None: they are up to date).
        self._stats_end: int | None = None

    @property
    def spread(self) -> float:
        """Median relative deviation of the recent block rates from their median."""
        self._catch_up_stats()
        return self._spread

    def rates(self) -> list[float]:
        """The rates (seconds per iteration) of the blocks in the window."""
        return list(self._rates)

    def clone(self) -> StepTimer:
        """An independent copy (to try blocks on before folding them)."""
        other = copy.copy(self)
        other._blocks, other._rates = self._blocks.copy(), self._rates.copy()
        other._iters, other._secs = self._iters.copy(), self._secs.copy()
        other._history = list(self._history)
        return other

    def add(self, iters: int, secs: float, end_iter: int) -> None:
        """One block of ordinary iterations ending at `end_iter`."""
        if self._quiet(secs / iters):
            # What `_refresh` would find: no change of speed, every block ordinary.
            self._push(iters, secs, end_iter)
            self.step_s = sum(self._secs) / sum(self._iters)
            self._stats_end, self._trend_stale = end_iter, True
            return
        self._catch_up_stats()
        self._push(iters, secs, end_iter)
        self._refresh(end_iter)

    def add_many(self, blocks: list[tuple[int, float, int]]) -> None:
        """`add` for each block (iterations, seconds, end iteration), in order. When every
        rate, the window's and these blocks', lies within `CHANGE_MIN` of the lowest, each
        block is `_quiet` whatever the window it meets (the step time, a mean of those
        rates, stays among them): the window keeps the last blocks and the step time is
        theirs, as `add` would leave it."""
        rates = [secs / iters for iters, secs, _ in blocks]
        if len(blocks) < 2 or not self.step_s:
            for block in blocks:
                self.add(*block)
            return
        low = min(min(rates), min(self._rates, default=math.inf), self.step_s)
        high = max(max(rates), max(self._rates, default=0.0), self.step_s)
        if high > low * (1 + CHANGE_MIN) * (1 - 1e-6):
            for block in blocks:
                self.add(*block)
            return
        for (iters, secs, _), rate in zip(blocks, rates, strict=True):
            self._blocks.append((iters, secs))
            self._iters.append(iters)
            self._secs.append(secs)
            self._rates.append(rate)
        self.step_s = sum(self._secs) / sum(self._iters)
        self._stats_end, self._trend_stale = blocks[-1][2], True

    def _quiet(self, rate: float) -> bool:
        """Whether a block at `rate` leaves every block of the window ordinary (all within
        `TRIM` of one another, so of the median) and cannot be a change of speed (one of the
        recent rates within `CHANGE_MIN` of the step time on each side, whatever the
        spread): then the window's statistics need not be computed for it."""
        rates, step = self._rates, self.step_s
        # With the oldest rate, which this block may push out: stricter, never wrong.
        if max(rate, max(rates, default=rate)) > TRIM * (1 - 1e-9) * min(
            rate, min(rates, default=rate)
        ):
            return False
        if not step or min(len(rates) + 1, WINDOW_BLOCKS) <= 2 * CHANGE_BLOCKS:
            return True
        recent = [*islice(reversed(rates), CHANGE_BLOCKS - 1), rate]
        margin = 1e-9
        return min(recent) <= step * (1 + CHANGE_MIN) * (1 - margin) and max(recent) >= step * (
            1 - CHANGE_MIN
        ) * (1 + margin)

    def _push(self, iters: int, secs: float, end_iter: int) -> None:
        self._blocks.append((iters, secs))
        self._iters.append(iters)
        self._secs.append(secs)
        self._rates.append(secs / iters)

    def _refresh(self, end_iter: int) -> None:
        """After a block ending at `end_iter`: a change of speed, then the statistics."""
        rates = list(self._rates)
        if self._changed(rates):
            kept = list(self._blocks)[-CHANGE_BLOCKS:]
            self._blocks.clear()
            self._blocks.extend(kept)
            since = end_iter - sum(i for i, _ in kept)
            self._history = [p for p in self._history if p[0] >= since]
            self._iters = deque((i for i, _ in kept), maxlen=WINDOW_BLOCKS)
            self._secs = deque((s for _, s in kept), maxlen=WINDOW_BLOCKS)
            self._rates = deque(rates[-CHANGE_BLOCKS:], maxlen=WINDOW_BLOCKS)
        self._stats(end_iter)
        self._trend_stale = True

    def _catch_up_stats(self) -> None:
        if self._stats_end is not None:
            self._stats(self._stats_end)

    def _stats(self, end_iter: int) -> None:
        """Step time, spread and centre of the window, as statistics.median and a filter
        would give them, for a fraction of the time."""
        rates, blocks = list(self._rates), self._blocks
        median = _median(sorted(rates))
        low, high = median / TRIM, median * TRIM
        if low <= min(rates) and max(rates) <= high:
            self.step_s = sum(self._secs) / sum(self._iters)
        else:
            # None near an even window's median (two blocks far apart): all of them.
            ordinary = [b for b, r in zip(blocks, rates, strict=True) if low <= r <= high] or blocks
            self.step_s = sum(map(itemgetter(1), ordinary)) / sum(map(itemgetter(0), ordinary))
        if median:
            deviations = map(abs, map(sub, map(truediv, rates, repeat(median)), repeat(1)))
            self._spread = _median(sorted(deviations))  # |rate / median - 1|
        else:
            self._spread = 0.0
        self._centre = end_iter - sum(self._iters) / 2
        self._stats_end = None

    def reset(self) -> None:
        """A resume: the trend's iteration axis no longer holds."""
        self._history.clear()
        self._trend_now, self._trend_stale = (0.0, 0.0), False

    def mean_step(self, now: float, left: float) -> float | None:
        """Expected mean step time over the next `left` iterations, with the trend."""
        if self.step_s is None:
            return None
        self._catch_up_stats()
        if self._trend_stale:
            self._trend_now, self._trend_stale = self._trend(), False
        slope, seen = self._trend_now
        ahead = min(left / 2, TREND_REACH * seen)
        return max(self.step_s / 2, self.step_s + slope * (now - self._centre + ahead))

    def _changed(self, rates: list[float]) -> bool:
        step = self.step_s
        if not step or len(rates) <= 2 * CHANGE_BLOCKS:
            return False
        threshold = max(CHANGE_MIN, 3 * self.spread)
        recent = [r / step - 1 for r in rates[-CHANGE_BLOCKS:]]
        return all(d > threshold for d in recent) or all(d < -threshold for d in recent)

    def remember(self, iters: int, secs: float, end_iter: int) -> None:
        """One trend point: ordinary iterations ending at `end_iter`, finer than a block."""
        self._history.append((end_iter - iters / 2, secs / iters, iters))
        self._trend_stale = True
        if len(self._history) >= TREND_POINTS:
            pairs = zip(self._history[::2], self._history[1::2], strict=True)
            self._history = [_merge(a, b) for a, b in pairs]

    def _trend(self) -> tuple[float, float]:
        """Weighted least-squares slope (seconds per iteration, per iteration) of the
        ordinary block rates over the later half of the history since the last change, and
        the span of iterations it was fitted over. The later half only: a run that settles
        after its first minutes has a level shift behind it, not a trend ahead."""
        if len(self._history) < 4 * CHANGE_BLOCKS or self.step_s is None:
            return 0.0, 0.0
        half = (self._history[0][0] + self._history[-1][0]) / 2
        points = [p for p in self._history if p[0] >= half and _near(p[1], self.step_s)]
        if len(points) < 2 * TREND_BINS:
            return 0.0, 0.0
        slope, span, scatter = _fit(_bins(points))
        # Data-dependent phases fit a line too: the slope counts in proportion to how much
        # the drift it makes over the span dwarfs the scatter of the bins around the line.
        # Bins, not points: noise from one block to the next averages out in a bin, slow
        # phases do not.
        drift2 = (slope * span) ** 2
        noise2 = (TREND_SIGNIFICANCE * scatter) ** 2
        return (slope * drift2 / (drift2 + noise2) if drift2 else 0.0), span


class Recurring:
    """An event that comes back every so many iterations (eval, checkpoint, pause)."""

    def __init__(self) -> None:
        self.iters: deque[int] = deque(maxlen=KEPT)
        self.costs_s: deque[float] = deque(maxlen=KEPT)

    def copy(self) -> Recurring:
        other = Recurring()
        other.iters.extend(self.iters)
        other.costs_s.extend(self.costs_s)
        return other

    def seen(self, it: int | None) -> None:
        if it is not None and (not self.iters or it > self.iters[-1]):
            self.iters.append(it)

    def cost_s(self) -> float | None:
        return statistics.median(self.costs_s) if self.costs_s else None

    def interval(self, first_iter: int | None) -> int | None:
        """The median gap between the ones seen, or the iteration of the only one seen
        when the run was followed from its start."""
        seen = sorted(set(self.iters))
        gaps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
        if gaps:
            return int(statistics.median(gaps)) or None
        if len(seen) == 1 and first_iter is not None and seen[0] > 2 * max(0, first_iter):
            return seen[0]
        return None

    def left(self, done: int, total: int, interval: int | None) -> int:
        """How many are still to come in (done, total]: every `interval` after the last one
        seen, or at the multiples of `interval` (nanoGPT's `iter_num % eval_interval == 0`,
        0 and max_iters included) when none was seen."""
        if not interval or interval <= 0:
            return 0
        anchor = self.iters[-1] if self.iters else 0
        return max(0, (total - anchor) // interval - (done - anchor) // interval)


@dataclass(frozen=True, slots=True)
class _Pause:
    iter: int  # the last iteration before it
    excess_s: float
    t_s: float  # run clock when it ended


class Estimator:
    """Accumulates timing observations; `estimate()` answers from them alone."""

    def __init__(self) -> None:
        self.elapsed_s = 0.0
        self.resumes = 0
        self.timer = StepTimer()
        self.evals = Recurring()
        self.checkpoints = Recurring()
        self.pauses = Recurring()  # unexplained ones no eval claimed
        self._first_iter: int | None = None
        self._last: tuple[int, float] | None = None  # (iter, t_s) of the last progress line
        self._warm = False  # the current segment's warm-up interval is behind us
        self._resolution_s: float | None = None  # smallest positive interval seen
        # The clock's quantum: the smallest positive interval or difference between two
        # consecutive ones (a clock in whole seconds read once a minute has 1 s, not 60).
        self._quantum_s: float | None = None
        self._span = 0.0  # the last interval's duration
        self._open = (0, 0.0)  # (iterations, seconds) of the block being filled
        # (iter, t_s) where the trend point being filled starts: the end of the last one, or
        # of the last interval that was not ordinary (its time is no step time).
        self._fine = (0, 0.0)
        # ("eval" | "checkpoint", iteration) seen since the last progress line
        self._pending: list[tuple[str, int | None]] = []
        self._pause: _Pause | None = None  # latest unexplained pause, until an eval claims it
        self._since_pause_s = 0.0  # run clock at the end of the last pause (or the start)
        self._printed_s: float | None = None
        # (iteration, work finished) of the last progress line that gave one (`Progress.done`:
        # a 0-based epoch printed at its end): it counts for the work left while that line is
        # the last, never for the timing.
        self._done: tuple[int, float] | None = None

    # -- observations -------------------------------------------------------------------

    def on_progress(
        self, it: int, t_s: float, printed_s: float | None = None, done: float | None = None
    ) -> None:
        """An iteration finished at run-clock time t_s; `printed_s` is the remaining time
        the trainer printed on that line (tqdm, LLaMA-Factory), kept to show beside ours;
        `done` the work finished there where it is not `it` (`Progress.done`)."""
        if not math.isfinite(t_s):
            return  # a garbled clock reading carries nothing
        self.elapsed_s = max(self.elapsed_s, t_s)
        self._printed_s = printed_s
        # A redraw of the same iteration further along (`Epoch 39: 100%` after `99%`) counts.
        self._done = (it, done) if done is not None and math.isfinite(done) else None
        if self._last is None:
            self._last, self._first_iter, self._since_pause_s = (it, t_s), it, t_s
            self._fine = (it, t_s)
            return
        start, gap, span = self._last[0], it - self._last[0], t_s - self._last[1]
        if gap == 0:
            return  # a redraw of the same iteration: its time belongs to the next interval
        if gap < 0 or span < 0 or self._is_jump(gap, span):
            self._resume(it, t_s)
            return
        self._last = (it, t_s)
        if span > 0:
            self._resolution_s = min(span, self._resolution_s or span)
        quantum, change = self._quantum_s, abs(span - self._span)
        if quantum is None or 0 < span < quantum or QUANTUM_NOISE * span < change < quantum:
            self._quantum_s = _quantum(quantum, span, self._span)
        self._span = span
        pending, self._pending = self._pending, []
        if pending and self._warm and self._evals_every_line(gap):
            self._record_evals(pending, None)
            self._add(gap, span, it, t_s)
        elif self._warm and not pending and not self._is_pause(gap, span):
            self._add(gap, span, it, t_s)
        else:
            self._fine = (it, t_s)  # not ordinary: the next trend point starts here
            if not self._warm:
                self._warm = True  # compile time, data loader start-up: not ordinary
                self._record_evals(pending, None)
            elif pending:
                self._learn_cost(pending, gap, span)
            else:
                self._new_pause(_Pause(start, span - gap * (self.timer.step_s or 0.0), t_s))

    def copy(self) -> Estimator:
        """An independent copy (to fold lines into before keeping them)."""
        other = copy.copy(self)
        other.timer = self.timer.clone()
        other.evals, other.checkpoints, other.pauses = (
            r.copy() for r in (self.evals, self.checkpoints, self.pauses)
        )
        other._pending = list(self._pending)
        return other

    def add_progress(self, iters: list[int], times: list[float]) -> None:
        """`on_progress` for each (iteration, run-clock time) of these lines (printed with no
        remaining time). Ordinary intervals, the most of a backlog, are folded as `_add`
        would, in local variables; any other line goes through `on_progress`."""
        k = 0
        while k < len(iters):
            k = self._add_regular(iters, times, k)
            k = self._add_ordinary(iters, times, k)
            if k < len(iters):
                self.on_progress(iters[k], times[k])
                k += 1

    def _add_regular(self, iters: list[int], times: list[float], start: int) -> int:
        """`_add_ordinary` for all the lines from `start` at once, when they are evenly
        spaced in iterations and none can be a pause, a jump or a new resolution whatever
        the step time (bounded by the window's, the block being filled's and these
        lines' rates): then only the blocks are added up line by line. Returns the end, or
        `start` when that does not hold."""
        last, res, step = self._last, self._resolution_s, self.timer.step_s
        if last is None or res is None or step is None or not self._warm or self._pending:
            return start
        its, ts = (iters[start:], times[start:]) if start else (iters, times)
        gap = its[0] - last[0]
        if gap <= 0 or its != list(range(its[0], its[0] + gap * len(its), gap)):
            return start
        spans = list(map(sub, ts, chain((last[1],), ts)))
        low, high = min(spans), max(spans)
        # No interval, nor difference of consecutive ones (above float noise), finer than
        # the clock's quantum.
        changes = map(abs, map(sub, spans, chain((self._span,), spans)))
        finest = min(filter((QUANTUM_NOISE * low).__lt__, changes), default=math.inf)
        quantum = self._quantum_s
        (open_iters, open_secs), rates = self._open, [step, low / gap, high / gap]
        rates += self.timer.rates() + ([open_secs / open_iters] if open_iters else [])
        step_low, step_high = min(rates), max(rates)
        if (
            low < res
            or quantum is None
            or low < quantum
            or finest < quantum
            or gap * step_high > PAUSE_FACTOR * low
            or high > PAUSE_FACTOR * gap * step_low
        ):
            return start
        # The trend points first (in time order with the blocks: they touch the history
        # only, the blocks the window only), found by bisection on the clock.
        timer, limit, k = self.timer, BLOCK_RESOLUTIONS * res, 0
        fine_it, fine_t = self._fine
        while (k := bisect_left(ts, _trend_point_at(fine_t, quantum), k)) < len(ts):
            if _trend_point_ends(fine_t, ts[k], quantum):  # `_add`
                timer.remember(its[k] - fine_it, ts[k] - fine_t, its[k])
                fine_it, fine_t = its[k], ts[k]
            k += 1
        # The blocks, each ending at the first line where its running sum reaches the limit.
        blocks, k = [], 0
        while (found := reach(ts, spans, k, open_secs, limit))[0] < len(spans):
            end, secs = found
            blocks.append((open_iters + gap * (end - k + 1), secs, its[end]))
            open_iters, open_secs, k = 0, 0.0, end + 1
        open_iters, open_secs = open_iters + gap * (len(spans) - k), found[1]
        timer.add_many(blocks)
        self._last, self._open = (its[-1], ts[-1]), (open_iters, open_secs)
        self._fine, self._span = (fine_it, fine_t), spans[-1]
        self.elapsed_s, self._printed_s = max(self.elapsed_s, ts[-1]), None
        return len(iters)

    def _add_ordinary(self, iters: list[int], times: list[float], start: int) -> int:
        """Fold the ordinary intervals from `start` on; the index of the first line that is
        not one (a pause, a jump, the warm-up, pending evals), or the end."""
        last, res, step = self._last, self._resolution_s, self.timer.step_s
        if last is None or res is None or step is None or not self._warm or self._pending:
            return start
        timer, (open_iters, open_secs), (last_it, last_t) = self.timer, self._open, last
        (fine_it, fine_t), quantum, previous = self._fine, self._quantum_s, self._span
        fine_at = _trend_point_at(fine_t, quantum)
        k = start
        for it, t in zip(iters[start:], times[start:], strict=True):
            gap, span = it - last_it, t - last_t
            new_res = span if 0 < span < res else res
            if (
                gap <= 0
                or span < 0
                or gap * step > PAUSE_FACTOR * (span + 2 * res)  # `_is_jump`
                or span > PAUSE_FACTOR * gap * step + 2 * new_res  # `_is_pause`
            ):
                break
            res, open_iters, open_secs = new_res, open_iters + gap, open_secs + span
            change = span - previous if span > previous else previous - span  # `_quantum`
            if quantum is None or 0 < span < quantum or QUANTUM_NOISE * span < change < quantum:
                quantum = _quantum(quantum, span, previous)
                fine_at = _trend_point_at(fine_t, quantum)
            previous = span
            if t >= fine_at and _trend_point_ends(fine_t, t, quantum):  # `_add`
                timer.remember(it - fine_it, t - fine_t, it)
                fine_it, fine_t = it, t
                fine_at = _trend_point_at(fine_t, quantum)
            if open_secs >= BLOCK_RESOLUTIONS * res:  # `_add`
                timer.add(open_iters, open_secs, it)
                open_iters, open_secs = 0, 0.0
                step = timer.step_s if timer.step_s is not None else step
            last_it, last_t, k = it, t, k + 1
        if k > start:
            self._last, self._open, self._resolution_s = (
                (last_it, last_t),
                (open_iters, open_secs),
                res,
            )
            self._fine, self._quantum_s, self._span = (fine_it, fine_t), quantum, previous
            self.elapsed_s, self._printed_s = max(self.elapsed_s, last_t), None
        return k

    def on_eval(self, it: int | None) -> None:
        """An evaluation ran; its pause shows in the next progress interval, or (when the
        trainer printed the result late) it was the last unexplained pause."""
        self._pending.append(("eval", it if it is not None else self._last_iter()))

    def on_checkpoint(self, it: int | None = None) -> None:
        """A checkpoint was saved; its pause shows in the next progress interval."""
        it = it if it is not None else self._last_iter()
        self.checkpoints.seen(it)
        if not any(kind == "eval" for kind, _ in self._pending):
            self._pending.append(("checkpoint", it))  # after an eval, it shares its pause

    def _last_iter(self) -> int | None:
        return self._last[0] if self._last else None

    def _resume(self, it: int, t_s: float) -> None:
        """The iteration or the clock went back: a resume. Nothing to learn across it."""
        self.resumes += 1
        self._last = (it, t_s)
        self._record_evals(self._pending, None)
        self._pending, self._pause, self._open, self._warm = [], None, (0, 0.0), False
        self._fine = (it, t_s)
        self.timer.reset()

    def _evals_every_line(self, gap: int) -> bool:
        """Evals as frequent as progress lines (Keras, Ultralytics, Lightning per epoch): every
        interval holds one, so its cost is part of the ordinary step and recurs with it."""
        interval = self.evals.interval(self._first_iter)
        return interval is not None and interval <= gap

    def _is_jump(self, gap: int, span: float) -> bool:
        """Far more iterations than the time allows: resumed from a later checkpoint."""
        step = self.timer.step_s
        slack = 2 * (self._resolution_s or 0.0)
        return step is not None and gap * step > PAUSE_FACTOR * (span + slack)

    def _is_pause(self, gap: int, span: float) -> bool:
        step = self.timer.step_s
        return step is not None and span > PAUSE_FACTOR * gap * step + 2 * (
            self._resolution_s or 0.0
        )

    def _new_pause(self, pause: _Pause) -> None:
        """Keep it for a late eval to claim; count it as recurring if it is modest."""
        self._pause = pause
        trained_s = pause.t_s - pause.excess_s - self._since_pause_s
        self._since_pause_s = pause.t_s
        if pause.excess_s <= PAUSE_SHARE * trained_s:
            self.pauses.seen(pause.iter)
            self.pauses.costs_s.append(pause.excess_s)

    def _learn_cost(self, pending: list[tuple[str, int | None]], gap: int, span: float) -> None:
        """Cost of the events pending over this interval: its excess over ordinary steps."""
        pause, self._pause = self._pause, None
        step = self.timer.step_s
        if step is None:
            self._record_evals(pending, None)
            return
        extra = max(0.0, span - gap * step)
        if not any(kind == "eval" for kind, _ in pending):
            self.checkpoints.costs_s.append(extra)
            return
        late = pause if pause is not None and not self._is_pause(gap, span) else None
        if late is not None:
            self._unclaim(late)
        self.evals.costs_s.append(late.excess_s if late else extra)
        self._record_evals(pending, late.iter if late else None)

    def _unclaim(self, pause: _Pause) -> None:
        """The pause was an eval's after all: it no longer counts as an unexplained one."""
        if self.pauses.iters and self.pauses.iters[-1] == pause.iter:
            self.pauses.iters.pop()
            self.pauses.costs_s.pop()

    def _record_evals(self, pending: list[tuple[str, int | None]], at: int | None) -> None:
        for kind, reported in pending:
            if kind == "eval":
                self.evals.seen(at if at is not None else reported)

    def _add(self, gap: int, span: float, it: int, t_s: float) -> None:
        fine_it, fine_t = self._fine
        if t_s - fine_t >= TREND_SHARE * t_s and _trend_point_ends(fine_t, t_s, self._quantum_s):
            self.timer.remember(it - fine_it, t_s - fine_t, it)
            self._fine = (it, t_s)
        iters, secs = self._open[0] + gap, self._open[1] + span
        if self._resolution_s is None or secs < BLOCK_RESOLUTIONS * self._resolution_s:
            self._open = (iters, secs)
            return
        self._open = (0, 0.0)
        self.timer.add(iters, secs, it)

    def step_s(self) -> float | None:
        """Robust ordinary step time (seconds per iteration), None before any interval."""
        if self.timer.step_s is not None:
            return self.timer.step_s
        iters, secs = self._open
        return secs / iters if iters and secs > 0 else None

    def eval_interval(self, configured: int | None) -> int | None:
        """The configured interval, else the spacing of the evals seen so far."""
        return configured or self.evals.interval(self._first_iter)

    # -- the answer -----------------------------------------------------------------------

    def estimate(
        self,
        total_iters: int | None,
        eval_interval: int | None = None,
        checkpoint_every_eval: bool = False,
        eval_steps: float | None = None,
    ) -> EtaEstimate:
        """The estimate made from what was observed so far. `eval_steps`: what one eval
        costs in ordinary steps as the config tells it (`eval_steps_from_config`), counted
        for the evals left until one has been timed."""
        last = self._last_iter()
        step = self.step_s()
        missing = tuple(
            name
            for name, value in (("total_iters", total_iters), ("step_time", step))
            if value is None
        )
        if last is None or total_iters is None or step is None:
            return EtaEstimate(
                last, total_iters, None, step, 0, None, 0, None, None, None, None,
                self.elapsed_s, missing or ("progress",), printed_s=self._printed_s,
            )  # fmt: skip
        work = self._done[1] if self._done is not None and self._done[0] == last else last
        # Events come at the end of an iteration: those of the one under way are still ahead.
        done = math.floor(work + 1e-9)
        work_left = max(0.0, total_iters - work)
        left = max(0, total_iters - round(work))
        steps_s = work_left * (self.timer.mean_step(work, work_left) or step)
        interval = self.eval_interval(eval_interval)
        evals_left = self.evals.left(done, total_iters, interval)
        eval_cost, guessed = self.evals.cost_s(), False
        if eval_cost is None and eval_steps is not None and evals_left:
            eval_cost, guessed = eval_steps * step, True
        ckpt_every = self.checkpoints.interval(self._first_iter)
        ckpts_left = self.checkpoints.left(done, total_iters, ckpt_every)
        if checkpoint_every_eval:
            ckpts_left = evals_left
        ckpt_cost = self.checkpoints.cost_s()
        if ckpt_cost is None:
            ckpts_left = 0
        pause_every = self.pauses.interval(self._first_iter)
        pauses_left = self.pauses.left(done, total_iters, pause_every)
        evals_s = evals_left * (eval_cost or 0.0)
        ckpts_s = ckpts_left * (ckpt_cost or 0.0)
        pauses_s = pauses_left * (self.pauses.cost_s() or 0.0)
        remaining = steps_s + evals_s + ckpts_s + pauses_s
        low, high = self._range(remaining, steps_s)
        return EtaEstimate(
            round(work), total_iters, left, step, evals_left, eval_cost, ckpts_left, ckpt_cost,
            remaining, low, high, self.elapsed_s, missing, steps_s, evals_s, ckpts_s,
            pauses_s, interval, self._printed_s, guessed,
        )  # fmt: skip

    def _range(self, remaining: float, steps_s: float) -> tuple[float, float]:
        """10-90 % range: the step time may drift more, the longer the time left."""
        horizon = min(10.0, steps_s / self.elapsed_s) if self.elapsed_s > 0 else 10.0
        sigma = RANGE_BASE + RANGE_DRIFT * horizon**0.5 + self.timer.spread / 4
        return max(0.0, remaining * (1 - Z80 * sigma)), remaining * (1 + Z80 * sigma)


def eval_steps_from_config(config: Mapping[str, int | float | str]) -> float | None:
    """One eval's cost in ordinary steps, from a nanoGPT-style config: `estimate_loss` runs
    `eval_iters` forward passes on each of the train and val splits, one batch each, while a
    training step runs `gradient_accumulation_steps` forward and backward passes of the same
    batch, a backward costing about two forwards. The accumulation is the one the printed
    tokens per iteration imply where the log gives it, else the config's, else train.py's
    default (5 x 8). Under DDP each rank accumulates 1/world of it while the master evaluates
    alone, which the log does not say: the estimate is then short by the world size."""
    eval_iters = _positive(config.get("eval_iters"))
    if eval_iters is None:
        return None
    tokens = _positive(config.get("tokens_per_iter"))
    batch = _positive(config.get("batch_size"))
    block = _positive(config.get("block_size"))
    accumulation = (
        tokens / (batch * block)
        if tokens and batch and block
        else _positive(config.get("gradient_accumulation_steps")) or NANOGPT_ACCUMULATION
    )
    return EVAL_SPLITS * eval_iters / (FORWARD_BACKWARD * accumulation)


def _positive(value: int | float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _bins(points: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """`TREND_BINS` consecutive groups of points, each merged into one."""
    size = len(points) // TREND_BINS
    merged = []
    for k in range(TREND_BINS):
        chunk = points[k * size : (k + 1) * size if k < TREND_BINS - 1 else len(points)]
        point = chunk[0]
        for other in chunk[1:]:
            point = _merge(point, other)
        merged.append(point)
    return merged


def _fit(points: list[tuple[float, float, int]]) -> tuple[float, float, float]:
    """Weighted least squares of rate on iteration: slope, span of iterations, and the
    weighted root-mean-square scatter around the line."""
    weight = sum(w for _, _, w in points)
    mx = sum(x * w for x, _, w in points) / weight
    my = sum(y * w for _, y, w in points) / weight
    sxx = sum(w * (x - mx) ** 2 for x, _, w in points)
    if sxx <= 0:
        return 0.0, 0.0, 0.0
    slope = sum(w * (x - mx) * (y - my) for x, y, w in points) / sxx
    scatter = sum(w * (y - my - slope * (x - mx)) ** 2 for x, y, w in points) / weight
    return slope, points[-1][0] - points[0][0], scatter**0.5


def _trend_point_ends(start_t: float, t: float, quantum: float | None) -> bool:
    """Whether ordinary time from `start_t` to `t` makes a trend point: long enough to
    dwarf the clock's quantum and to be a share of the run."""
    return t - start_t >= BLOCK_RESOLUTIONS * (quantum or 0.0) and t - start_t >= TREND_SHARE * t


def _trend_point_at(start_t: float, quantum: float | None) -> float:
    """A clock reading below which `_trend_point_ends` is false (a little below the exact
    bound, which `_trend_point_ends` itself then checks)."""
    bound = max(start_t + BLOCK_RESOLUTIONS * (quantum or 0.0), start_t / (1 - TREND_SHARE))
    return bound - 1e-9 * abs(bound) - 1e-12


def _quantum(res: float | None, span: float, previous: float) -> float | None:
    """The clock's quantum after an interval of `span` following one of `previous`: both
    are multiples of it, and so is their difference (float noise aside)."""
    for step in (span, abs(span - previous)):
        if step > QUANTUM_NOISE * span and (res is None or step < res):
            res = step
    return res


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    return (ordered[n // 2] + ordered[(n - 1) // 2]) / 2


def _near(rate: float, median: float) -> bool:
    return median / TRIM <= rate <= median * TRIM


def _merge(a: tuple[float, float, int], b: tuple[float, float, int]) -> tuple[float, float, int]:
    w = a[2] + b[2]
    return (a[0] * a[2] + b[0] * b[2]) / w, (a[1] * a[2] + b[1] * b[2]) / w, w
