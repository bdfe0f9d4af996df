"""What a run keeps over its whole length for `/plot`: its GPUs and its alerts, each placed at
the iteration the run had reached when it happened.

Placing a GPU reading at an iteration here, when it arrives, needs no clock conversion later:
a GPU stamps its own time (a node's clock, the demo's simulated one) which need not match
the log's. Both records are bounded: the GPU trace halves its resolution when full (so it
still spans the whole run), the alerts keep the most recent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.gpu import GpuSnapshot, is_power_limited, is_thermal_limited, memory_used_fraction
from bot.core.notices import Alert, Notice

GPU_POINTS = 1000  # trace points kept; when full, pairs merge and the resolution halves
ALERTS_KEPT = 50


@dataclass(frozen=True, slots=True)
class GpuPoint:
    """The machine's worst GPU at one moment (or over the readings merged into this point):
    a hung rank or a hot card must not hide in an average."""

    iter: int
    celsius: float | None  # the hottest GPU
    memory_pct: float | None  # the fullest GPU
    util_pct: float | None  # the least busy GPU
    throttled: bool  # heat or power slowed some GPU's clocks
    gpus: int  # GPUs read


def _worst(a: float | None, b: float | None, pick: Callable[[float, float], float]) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return pick(a, b)


def _merge(a: GpuPoint, b: GpuPoint) -> GpuPoint:
    """Two successive points as one, at the later iteration, keeping the worst of each."""
    return GpuPoint(
        b.iter,
        _worst(a.celsius, b.celsius, max),
        _worst(a.memory_pct, b.memory_pct, max),
        _worst(a.util_pct, b.util_pct, min),
        a.throttled or b.throttled,
        max(a.gpus, b.gpus),
    )


def gpu_point(it: int, snapshot: GpuSnapshot) -> GpuPoint | None:
    """One snapshot's worst GPU; None when no GPU could be read."""
    gpus = [g for g in snapshot.gpus if not g.lost]
    if snapshot.error is not None or not gpus:
        return None
    temps = [float(g.temperature_c) for g in gpus if g.temperature_c is not None]
    memory = [100 * f for g in gpus if (f := memory_used_fraction(g)) is not None]
    utils = [float(g.utilization_pct) for g in gpus if g.utilization_pct is not None]
    return GpuPoint(
        it,
        max(temps, default=None),
        max(memory, default=None),
        min(utils, default=None),
        any(is_thermal_limited(g) or is_power_limited(g) for g in gpus),
        len(gpus),
    )


class GpuTrace:
    """The GPU readings of a whole run, on its iteration axis, in at most GPU_POINTS points."""

    def __init__(self) -> None:
        self.points: list[GpuPoint] = []
        self._stride = 1  # readings merged into each new point
        self._pending: GpuPoint | None = None
        self._pending_n = 0

    def add(self, it: int | None, snapshot: GpuSnapshot) -> None:
        """A snapshot taken when the run was at iteration `it` (None: before its first line)."""
        point = gpu_point(it, snapshot) if it is not None else None
        if point is None:
            return
        self._pending = point if self._pending is None else _merge(self._pending, point)
        self._pending_n += 1
        if self._pending_n < self._stride:
            return
        self.points.append(self._pending)
        self._pending, self._pending_n = None, 0
        if len(self.points) >= GPU_POINTS:
            pairs = zip(self.points[::2], self.points[1::2], strict=False)
            self.points = [_merge(a, b) for a, b in pairs]
            self._stride *= 2

    def all(self) -> list[GpuPoint]:
        """Every point, the readings not yet merged into one included."""
        return [*self.points, self._pending] if self._pending is not None else list(self.points)


@dataclass(frozen=True, slots=True)
class AlertMark:
    """An alert where it happened."""

    iter: int
    type: str
    severity: str


class AlertMarks:
    """The most recent warnings and critical alerts, each at its iteration."""

    def __init__(self) -> None:
        self.marks: deque[AlertMark] = deque(maxlen=ALERTS_KEPT)

    def noted(self, notices: Sequence[Notice], current_iter: int | None) -> list[Notice]:
        """`notices`, unchanged, after keeping their alerts (at the current iteration when an
        alert names none; nowhere before the first progress line)."""
        for alert in notices:
            if not isinstance(alert, Alert) or alert.severity == "info":
                continue
            it = alert.iter if alert.iter is not None else current_iter
            if it is not None:
                self.marks.append(AlertMark(it, alert.type, alert.severity))
        return list(notices)
