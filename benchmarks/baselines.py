"""The remaining-time estimators etagram is compared with, fed the same run clock.

- `TqdmEma`: tqdm's own (tqdm/std.py): separate exponential moving averages of the
  iterations (`dn`) and seconds (`dt`) between two updates, smoothing 0.3, each divided by
  `1 - beta**calls` to remove the start-up bias; rate = ema_dn / ema_dt and
  remaining = (total - n) / rate. It only updates when both dn and dt are positive.
- `ElapsedOverDone`: what LLaMA-Factory and most hand-written loops print: elapsed time
  divided by iterations done, times iterations left. Elapsed counts from the start of the
  current clock segment (after modded-nanogpt's warm-up restart or a resume), since a
  clock that restarts from zero is how those trainers themselves count.
"""

from __future__ import annotations

SMOOTHING = 0.3  # tqdm's default


class Ema:
    """tqdm.std.EMA: bias-corrected exponential moving average."""

    def __init__(self, smoothing: float = SMOOTHING) -> None:
        self.alpha = smoothing
        self.last = 0.0
        self.calls = 0

    def add(self, x: float) -> None:
        self.last = self.alpha * x + (1 - self.alpha) * self.last
        self.calls += 1

    def value(self) -> float:
        beta = 1 - self.alpha
        return self.last / (1 - beta**self.calls) if self.calls else self.last


class TqdmEma:
    def __init__(self) -> None:
        self._dn = Ema()
        self._dt = Ema()
        self._last: tuple[int, float] | None = None

    def update(self, it: int, t_s: float) -> None:
        if self._last is not None:
            dn, dt = it - self._last[0], t_s - self._last[1]
            if dn > 0 and dt > 0:
                self._dn.add(dn)
                self._dt.add(dt)
        self._last = (it, t_s)

    def remaining(self, total: int | None) -> float | None:
        if self._last is None or total is None or not self._dt.value():
            return None
        rate = self._dn.value() / self._dt.value()
        return max(0, total - self._last[0]) / rate if rate else None


class ElapsedOverDone:
    def __init__(self) -> None:
        self._start: tuple[int, float] | None = None
        self._last: tuple[int, float] | None = None

    def update(self, it: int, t_s: float, restarted: bool) -> None:
        went_back = self._last is not None and it < self._last[0]
        if self._start is None or restarted or went_back:
            # A new clock segment: the iteration before it anchors the count.
            self._start = self._last if restarted and self._last else (it, t_s)
        self._last = (it, t_s)

    def remaining(self, total: int | None) -> float | None:
        if self._start is None or self._last is None or total is None:
            return None
        done, elapsed = self._last[0] - self._start[0], self._last[1] - self._start[1]
        if done <= 0 or elapsed <= 0:
            return None
        return elapsed / done * max(0, total - self._last[0])
