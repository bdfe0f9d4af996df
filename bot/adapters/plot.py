"""`/plot`: the loss curves, the step time and the GPU temperature, as one PNG (matplotlib).

The figures are copied out of the run's state on the event loop (`plot_data`), then drawn
in a worker thread (`render`) with matplotlib's object API and the Agg canvas: no pyplot
global state, so concurrent plots cannot step on each other.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.state import RunState
from bot.messages.bot_ui import PlotLabels

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX = 900, 1200
DPI = 100
STEP_CLIP_QUANTILE = 0.95  # eval pauses would flatten the step-time curve: clip the y axis


@dataclass(frozen=True, slots=True)
class TempSeries:
    """One GPU's temperatures: minutes relative to now (negative), degrees Celsius."""

    gpu: str  # "0", or "node3:0" where a hub gathers several machines
    minutes: tuple[float, ...]
    celsius: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class PlotData:
    """Everything drawn, copied out of the live state."""

    title: str
    train: tuple[tuple[int, float], ...]  # (iteration, loss) from progress lines
    evals_train: tuple[tuple[int, float], ...]
    evals_val: tuple[tuple[int, float], ...]
    step_ms: tuple[tuple[int, float], ...]  # (iteration, ms per iteration)
    temps: tuple[TempSeries, ...]
    labels: PlotLabels

    @property
    def empty(self) -> bool:
        return not (self.train or self.evals_val or self.evals_train or self.step_ms)


TempSample = tuple[float, Sequence[tuple[str, float]]]  # (epoch s, [(GPU label, °C)])


def plot_data(
    state: RunState, temps: Sequence[TempSample], now_s: float, labels: PlotLabels
) -> PlotData:
    """Copy what the picture needs; finite values only."""
    history = state.history
    train = tuple((p.iter, p.loss) for p in history if p.loss is not None and _finite(p.loss))
    steps = []
    for a, b in zip(history, history[1:], strict=False):
        if b.iter > a.iter and b.t_s > a.t_s:
            steps.append((b.iter, 1000 * (b.t_s - a.t_s) / (b.iter - a.iter)))
    ev_train = _eval_points([(e.iter, e.train_loss) for e in state.evals])
    ev_val = _eval_points([(e.iter, e.val_loss) for e in state.evals])
    return PlotData(
        state.name,
        train,
        ev_train,
        ev_val,
        tuple(steps),
        _temp_series(temps, now_s),
        labels,
    )


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _eval_points(pairs: list[tuple[int | None, float | None]]) -> tuple[tuple[int, float], ...]:
    return tuple((it, x) for it, x in pairs if it is not None and x is not None and _finite(x))


def _temp_series(temps: Sequence[TempSample], now_s: float) -> tuple[TempSeries, ...]:
    per_gpu: dict[str, tuple[list[float], list[float]]] = {}  # in the order first seen
    for taken_s, readings in temps:
        for gpu, celsius in readings:
            if math.isfinite(celsius):
                xs, ys = per_gpu.setdefault(gpu, ([], []))
                xs.append((taken_s - now_s) / 60)
                ys.append(celsius)
    return tuple(TempSeries(g, tuple(xs), tuple(ys)) for g, (xs, ys) in per_gpu.items())


def render(data: PlotData) -> bytes:
    """The PNG, WIDTH_PX x HEIGHT_PX whatever the data."""
    fig = _figure()
    loss_ax, step_ax, temp_ax = fig.subplots(3, 1, height_ratios=(2.2, 1, 1))
    labels = data.labels
    loss_ax.set_title(data.title)
    if data.train:
        loss_ax.plot(*zip(*data.train, strict=True), lw=1, alpha=0.6, label=labels.train)
    if data.evals_train:
        xs, ys = zip(*data.evals_train, strict=True)
        loss_ax.plot(xs, ys, "s--", ms=4, label=f"{labels.train} (eval)")
    if data.evals_val:
        loss_ax.plot(*zip(*data.evals_val, strict=True), "o-", ms=4, lw=2, label=labels.val)
    loss_ax.set_ylabel(labels.loss)
    loss_ax.set_xlabel(labels.iteration)
    if loss_ax.has_data():
        loss_ax.legend(loc="upper right")
    loss_ax.grid(alpha=0.3)

    if data.step_ms:
        xs, ys = zip(*data.step_ms, strict=True)
        step_ax.plot(xs, ys, lw=1)
        top = sorted(ys)[int(STEP_CLIP_QUANTILE * (len(ys) - 1))] * 1.5
        step_ax.set_ylim(0, max(top, 1e-3))
    step_ax.set_ylabel(labels.step)
    step_ax.set_xlabel(labels.iteration)
    step_ax.grid(alpha=0.3)

    for series in data.temps:
        temp_ax.plot(series.minutes, series.celsius, lw=1, label=f"GPU {series.gpu}")
    if data.temps:
        temp_ax.legend(loc="upper left")
    else:
        temp_ax.text(
            0.5, 0.5, labels.no_temp, ha="center", va="center", transform=temp_ax.transAxes
        )
    temp_ax.set_ylabel(labels.temp)
    temp_ax.set_xlabel(labels.minutes)
    temp_ax.grid(alpha=0.3)

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _figure() -> Figure:
    # matplotlib and numpy add ~48 MB of resident memory: loaded at the first /plot, not at
    # start-up, so a service nobody asks for a plot stays small.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")


async def render_png(data: PlotData) -> bytes:
    """`render`, off the event loop."""
    return await asyncio.to_thread(render, data)
