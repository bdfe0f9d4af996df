"""Remaining-time estimate for one run: ordinary steps, plus the evals and checkpoints left.

The reference analysis (DESIGN.md) done by hand: iterations left x ordinary step time, plus
evals left x eval cost, plus checkpoints left x checkpoint cost; a range around it; a finish
time on the user's clock. Everything here is a pure function of what was observed.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

WINDOW = 200  # recent ordinary intervals kept for the step-time statistics


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
    missing: tuple[str, ...] = ()  # "total_iters", "step_time"


class Estimator:
    """Accumulates timing observations; `estimate()` answers from them alone."""

    def __init__(self) -> None:
        self._last: tuple[int, float] | None = None  # (iter, t_s) of the last progress line
        self._per_iter_s: deque[float] = deque(maxlen=WINDOW)
        self._eval_costs_s: deque[float] = deque(maxlen=20)
        self._ckpt_costs_s: deque[float] = deque(maxlen=20)
        self._pending: list[str] = []  # "eval"/"checkpoint" seen since the last progress line
        self._eval_iters: list[int] = []
        self.elapsed_s = 0.0

    def on_progress(self, it: int, t_s: float) -> None:
        """An iteration finished at run-clock time t_s."""
        self.elapsed_s = max(self.elapsed_s, t_s)
        last, self._last = self._last, (it, t_s)
        pauses, self._pending = self._pending, []
        if last is None or it <= last[0] or t_s < last[1]:
            return  # first line, or a resume: no interval to learn from
        gap, span = it - last[0], t_s - last[1]
        if not pauses:
            self._per_iter_s.append(span / gap)
            return
        step = self.step_s()
        if step is None:
            return
        extra = max(0.0, span - gap * step) / len(pauses)
        costs = self._eval_costs_s if "eval" in pauses else self._ckpt_costs_s
        costs.append(extra)

    def on_eval(self, it: int | None) -> None:
        """An evaluation ran; its pause shows in the next progress interval."""
        self._pending.append("eval")
        if it is not None and (not self._eval_iters or it > self._eval_iters[-1]):
            self._eval_iters.append(it)

    def on_checkpoint(self) -> None:
        """A checkpoint was saved; its pause shows in the next progress interval."""
        if "eval" not in self._pending:  # a save right after an eval shares its interval
            self._pending.append("checkpoint")

    def step_s(self) -> float | None:
        """Robust ordinary step time: the median of recent per-iteration durations."""
        if not self._per_iter_s:
            return None
        recent = list(self._per_iter_s)[-50:]
        return statistics.median(recent)

    def eval_interval(self, configured: int | None) -> int | None:
        """The configured interval, else the spacing of the evals seen so far."""
        if configured:
            return configured
        if len(self._eval_iters) >= 3:
            gaps = [b - a for a, b in zip(self._eval_iters, self._eval_iters[1:], strict=False)]
            return int(statistics.median(gaps)) or None
        return None

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
                done,
                total_iters,
                None,
                step,
                0,
                None,
                0,
                None,
                None,
                None,
                None,
                self.elapsed_s,
                missing or ("progress",),
            )
        left = max(0, total_iters - done)
        interval = self.eval_interval(eval_interval)
        evals_left = _multiples_in(done, total_iters, interval)
        eval_cost = _mean(self._eval_costs_s)
        ckpts_left = evals_left if checkpoint_every_eval or self._ckpt_costs_s else 0
        ckpt_cost = _mean(self._ckpt_costs_s)
        remaining = left * step + evals_left * (eval_cost or 0.0) + ckpts_left * (ckpt_cost or 0.0)
        low, high = self._range(remaining, left, step)
        return EtaEstimate(
            done,
            total_iters,
            left,
            step,
            evals_left,
            eval_cost,
            ckpts_left,
            ckpt_cost,
            remaining,
            low,
            high,
            self.elapsed_s,
            missing,
        )

    def _range(self, remaining: float, left: int, step: float) -> tuple[float, float]:
        """10-90 % range from the spread of recent step times, wider when data is scarce."""
        recent = sorted(list(self._per_iter_s)[-50:])
        q10 = recent[len(recent) // 10] / step
        q90 = recent[(len(recent) * 9) // 10] / step
        # Few observations, long horizon: the step time can still drift.
        drift = 0.02 + 0.5 / (len(self._per_iter_s) ** 0.5)
        return remaining * max(0.0, min(q10, 1.0) - drift), remaining * (max(q90, 1.0) + drift)


def _multiples_in(done: int, total: int, interval: int | None) -> int:
    """Evals still to run: multiples of `interval` in (done, total], as nanoGPT does."""
    if not interval or interval <= 0:
        return 0
    return total // interval - done // interval


def _mean(values: deque[float]) -> float | None:
    return statistics.fmean(values) if values else None
