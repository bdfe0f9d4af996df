"""Remaining-time estimate for one run: ordinary steps, plus the evals and checkpoints left.

The reference analysis (DESIGN.md) done by hand: iterations left x ordinary step time, plus
evals left x eval cost, plus checkpoints left x checkpoint cost; a range around it; a finish
time on the user's clock. Everything here is a pure function of what was observed.

How the ordinary step time is learned:
- progress intervals are pooled into blocks long enough to dwarf the clock's resolution
  (tqdm and LLaMA-Factory print whole seconds), so a block's rate is not a rounding artefact;
- the step time is a trimmed mean of the recent blocks: total time over total iterations of
  the blocks within a factor `TRIM` of their median. One slow block (a stall, a 10x
  iteration) is dropped; rounding, which cancels out over consecutive blocks, is not;
- when the last `CHANGE_BLOCKS` blocks all sit on the same side of the estimate by more than
  the blocks' usual spread, the run changed speed (throttling, another job on the GPU): the
  older blocks are forgotten;
- the first interval after the start or a resume is warm-up (compile, data loader start).
An interval that holds an eval or a checkpoint is not ordinary: its excess over the step
time is that event's cost. An unexplained pause (a paused run, a late-printed eval) is kept
aside; an eval reported just after it claims it as its cost, otherwise it is a one-off and
does not count for the future.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

WINDOW_BLOCKS = 40  # recent blocks the step time is computed from
BLOCK_RESOLUTIONS = 20  # a block spans at least this many clock resolutions
TRIM = 1.5  # blocks off the median by more than this factor are not ordinary
CHANGE_BLOCKS = 4  # consecutive blocks on one side of the estimate that mean a new speed
CHANGE_MIN = 0.08  # ... by at least this fraction (more when blocks are noisier)
PAUSE_FACTOR = 3.0  # an interval this many times its expected duration is a pause
CLAIM_LINES = 400  # an eval printed within this many progress lines after a pause caused it
COSTS_KEPT = 10  # recent eval/checkpoint costs kept
Z80 = 1.2816  # the 90th percentile of a standard normal: 10-90 % range is +-Z80 sigma


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
    steps_s: float | None = None  # iters_left x step_s: the ordinary part of remaining_s
    evals_s: float = 0.0  # evals_left x eval_cost_s
    checkpoints_s: float = 0.0  # checkpoints_left x checkpoint_cost_s
    eval_interval: int | None = None  # configured, or learned from the evals seen


@dataclass(slots=True)
class _Pause:
    iter: int
    excess_s: float
    line: int  # progress-line count when it was seen


class Estimator:
    """Accumulates timing observations; `estimate()` answers from them alone."""

    def __init__(self) -> None:
        self.elapsed_s = 0.0
        self.resumes = 0
        self._last: tuple[int, float] | None = None  # (iter, t_s) of the last progress line
        self._lines = 0
        self._warm = False  # the current segment's warm-up interval is behind us
        self._resolution_s: float | None = None  # smallest positive interval seen
        self._open = (0, 0.0)  # (iterations, seconds) of the block being filled
        self._blocks: deque[tuple[int, float]] = deque(maxlen=WINDOW_BLOCKS)
        self._step_s: float | None = None
        self._spread = 0.0  # relative spread of recent block rates
        self._pending: list[str] = []  # "eval"/"checkpoint" seen since the last progress line
        self._pause: _Pause | None = None  # latest unexplained pause, until an eval claims it
        self._eval_costs_s: deque[float] = deque(maxlen=COSTS_KEPT)
        self._ckpt_costs_s: deque[float] = deque(maxlen=COSTS_KEPT)
        self._eval_iters: deque[int] = deque(maxlen=COSTS_KEPT)
        self._ckpt_iters: deque[int] = deque(maxlen=COSTS_KEPT)
        self._first_iter: int | None = None

    # -- observations -------------------------------------------------------------------

    def on_progress(self, it: int, t_s: float) -> None:
        """An iteration finished at run-clock time t_s."""
        self.elapsed_s = max(self.elapsed_s, t_s)
        self._lines += 1
        if self._last is None:
            self._last, self._first_iter = (it, t_s), it
            return
        gap, span = it - self._last[0], t_s - self._last[1]
        if gap == 0:
            return  # a redraw of the same iteration: its time belongs to the next interval
        if gap < 0 or span < 0:
            self._resume(it, t_s)
            return
        self._last = (it, t_s)
        if span > 0:
            self._resolution_s = min(span, self._resolution_s or span)
        pauses, self._pending = self._pending, []
        if not self._warm:
            self._warm = True  # compile time, data loader start-up: not ordinary
        elif pauses:
            self._learn_cost(pauses, gap, span)
        elif self._step_s is not None and span > PAUSE_FACTOR * gap * self._step_s + (
            2 * (self._resolution_s or 0.0)
        ):
            self._pause = _Pause(it, span - gap * self._step_s, self._lines)
        else:
            self._add(gap, span)

    def on_eval(self, it: int | None) -> None:
        """An evaluation ran; its pause is the last unexplained one, or the next interval."""
        if it is not None and (not self._eval_iters or it > self._eval_iters[-1]):
            self._eval_iters.append(it)
        pause, self._pause = self._pause, None
        if pause is not None and self._lines - pause.line <= CLAIM_LINES:
            self._eval_costs_s.append(pause.excess_s)
        else:
            self._pending.append("eval")

    def on_checkpoint(self, it: int | None = None) -> None:
        """A checkpoint was saved; its pause shows in the next progress interval."""
        if it is None and self._last is not None:
            it = self._last[0]
        if it is not None and (not self._ckpt_iters or it > self._ckpt_iters[-1]):
            self._ckpt_iters.append(it)
        if "eval" not in self._pending:  # a save right after an eval shares its interval
            self._pending.append("checkpoint")

    def _resume(self, it: int, t_s: float) -> None:
        """The iteration or the clock went back: a resume. Nothing to learn across it."""
        self.resumes += 1
        self._last = (it, t_s)
        self._pending = []
        self._open = (0, 0.0)
        self._warm = False

    def _learn_cost(self, pauses: list[str], gap: int, span: float) -> None:
        if self._step_s is None:
            return
        extra = max(0.0, span - gap * self._step_s)
        costs = self._eval_costs_s if "eval" in pauses else self._ckpt_costs_s
        costs.append(extra)

    # -- ordinary step time ---------------------------------------------------------------

    def _add(self, gap: int, span: float) -> None:
        iters, secs = self._open[0] + gap, self._open[1] + span
        if secs < BLOCK_RESOLUTIONS * (self._resolution_s or 0.0):
            self._open = (iters, secs)
            return
        self._open = (0, 0.0)
        self._blocks.append((iters, secs))
        self._update_step()

    def _update_step(self) -> None:
        rates = [secs / iters for iters, secs in self._blocks]
        if self._changed(rates):
            kept = list(self._blocks)[-CHANGE_BLOCKS:]
            self._blocks.clear()
            self._blocks.extend(kept)
            rates = rates[-CHANGE_BLOCKS:]
        median = statistics.median(rates)
        ordinary = [
            (i, s) for (i, s), r in zip(self._blocks, rates, strict=True) if _near(r, median)
        ]
        self._step_s = sum(s for _, s in ordinary) / sum(i for i, _ in ordinary)
        self._spread = statistics.median(abs(r / median - 1) for r in rates) if median else 0.0

    def _changed(self, rates: list[float]) -> bool:
        step = self._step_s
        if step is None or not step or len(rates) <= 2 * CHANGE_BLOCKS:
            return False
        threshold = max(CHANGE_MIN, 3 * self._spread)
        recent = [r / step - 1 for r in rates[-CHANGE_BLOCKS:]]
        return all(d > threshold for d in recent) or all(d < -threshold for d in recent)

    def step_s(self) -> float | None:
        """Robust ordinary step time (seconds per iteration), None before any interval."""
        if self._step_s is not None:
            return self._step_s
        iters, secs = self._open
        return secs / iters if iters and secs > 0 else None

    # -- periodic events --------------------------------------------------------------------

    def eval_interval(self, configured: int | None) -> int | None:
        """The configured interval, else the spacing of the evals seen so far."""
        return configured or _spacing(self._eval_iters, self._first_iter)

    # -- the answer -----------------------------------------------------------------------

    def estimate(
        self,
        total_iters: int | None,
        eval_interval: int | None = None,
        checkpoint_every_eval: bool = False,
    ) -> EtaEstimate:
        """The estimate made from what was observed so far."""
        done = self._last[0] if self._last else None
        step = self.step_s()
        missing = tuple(
            name
            for name, value in (("total_iters", total_iters), ("step_time", step))
            if value is None
        )
        if done is None or total_iters is None or step is None:
            return EtaEstimate(
                done, total_iters, None, step, 0, None, 0, None, None, None, None,
                self.elapsed_s, missing or ("progress",),
            )  # fmt: skip
        left = max(0, total_iters - done)
        interval = self.eval_interval(eval_interval)
        evals_left = _multiples_in(done, total_iters, interval)
        eval_cost = _median(self._eval_costs_s)
        ckpt_interval = interval if checkpoint_every_eval else _spacing(self._ckpt_iters, None)
        ckpts_left = _multiples_in(done, total_iters, ckpt_interval) if self._ckpt_costs_s else 0
        ckpt_cost = _median(self._ckpt_costs_s)
        steps_s = left * step
        evals_s = evals_left * (eval_cost or 0.0)
        ckpts_s = ckpts_left * (ckpt_cost or 0.0)
        remaining = steps_s + evals_s + ckpts_s
        low, high = self._range(remaining, steps_s)
        return EtaEstimate(
            done, total_iters, left, step, evals_left, eval_cost, ckpts_left, ckpt_cost,
            remaining, low, high, self.elapsed_s, missing, steps_s, evals_s, ckpts_s, interval,
        )  # fmt: skip

    def _range(self, remaining: float, steps_s: float) -> tuple[float, float]:
        """10-90 % range: how far the step time may drift over the time left."""
        horizon = steps_s / self.elapsed_s if self.elapsed_s > 0 else 1.0
        sigma = (
            RANGE_BASE
            + RANGE_DRIFT * min(horizon, 10.0) ** 0.5
            + self._spread / len(self._blocks) ** 0.5
            if self._blocks
            else 0.5
        )
        return max(0.0, remaining * (1 - Z80 * sigma)), remaining * (1 + Z80 * sigma)


RANGE_BASE = 0.005
RANGE_DRIFT = 0.01


def _near(rate: float, median: float) -> bool:
    return median / TRIM <= rate <= median * TRIM


def _spacing(iters: deque[int], first_iter: int | None) -> int | None:
    """How often an event recurs: the median gap between the ones seen, or the iteration of
    the only one seen when the run was followed from its start."""
    seen = sorted(set(iters))
    gaps = [b - a for a, b in zip(seen, seen[1:], strict=False) if b > a]
    if gaps:
        return int(statistics.median(gaps)) or None
    if len(seen) == 1 and first_iter is not None and 0 < seen[0] and first_iter < seen[0] / 2:
        return seen[0]
    return None


def _multiples_in(done: int, total: int, interval: int | None) -> int:
    """Events still to come: multiples of `interval` in (done, total], as nanoGPT does."""
    if not interval or interval <= 0:
        return 0
    return max(0, total // interval - done // interval)


def _median(values: deque[float]) -> float | None:
    return statistics.median(values) if values else None
