"""`/plot`: one PNG made for a phone: the loss, the step time and the GPUs on one iteration axis.

Telegram shows a photo about 390 px wide in a chat bubble: the picture is drawn at twice that
(sharp on a phone's screen) with fonts sized for it, at most three panels sharing the x axis,
which runs to the run's total with a "now" line. Alerts are marked where they happened, the
step time has a scale robust to eval pauses (the evals are marks), and the GPU panel shows the
worst GPU's temperature, memory and utilisation with the throttled periods shaded.

The figures are copied out of the run's state on the event loop (`plot_data`), then drawn in a
worker thread (`render`) with matplotlib's object API and the Agg canvas: no pyplot global
state, so concurrent plots cannot step on each other. Every word comes from `PlotLabels`
(bot/messages).
"""

from __future__ import annotations

import asyncio
import bisect
import io
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core.state import RunState
from bot.core.traces import AlertMark, GpuPoint
from bot.messages.bot_ui import PlotLabels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

PHONE_PX = 390  # width of a photo in a Telegram chat bubble on a phone
WIDTH_PX, HEIGHT_PX = 780, 1080  # twice that: sharp on a phone's screen
DPI = 200  # 1 pt = 2.78 px in the PNG, 1.39 px once shown 390 px wide
TEXT_PT = 8.5  # the smallest text: ~12 px on the phone, twice matplotlib's default there
LABEL_PT = 9.0
TITLE_PT = 11.0
WIDTH_PT, HEIGHT_PT = 72 * WIDTH_PX / DPI, 72 * HEIGHT_PX / DPI
MARGIN_PT = 5.0
LINE_SPACING = 1.3
TITLE_CHARS = 38  # what fits across the picture in bold TITLE_PT
SUBTITLE_CHARS = 52  # the same in LABEL_PT
SETTLED_FROM = 0.1  # the loss scale ignores the first tenth of the curve (the initial drop)
LOSS_QUANTILE = 0.98
STEP_QUANTILES = (0.02, 0.98)  # the step-time scale: ordinary steps, a few outliers excluded
EVAL_GAPS_MAX = 0.3  # evals in more intervals than this: no gaps in the step time
EVAL_MARKS = 80  # beyond this many evals, every n-th is marked
LABEL_GAP = 0.06  # alert words closer than this share of the x axis are not both written
RIGHT_EDGE = 0.94  # past this share of the x axis, a line's word goes on its left

HEIGHTS = {"_draw_loss": 2.2, "_draw_steps": 1.0, "_draw_gpu": 1.3}  # panels' relative heights
COLORS = {
    "train": "#4c72b0",
    "val": "#dd8452",
    "step": "#4c72b0",
    "eval": "#8c8c8c",
    "now": "#555555",
    "temp": "#c44e52",
    "memory": "#8172b3",
    "util": "#55a868",
    "throttle": "#f4b183",
    "critical": "#c0392b",
    "warning": "#e08e0b",
}
LEGEND: dict[str, Any] = {
    "fontsize": TEXT_PT,
    "frameon": False,
    "borderaxespad": 0,
    "borderpad": 0.1,
    "handlelength": 1.2,
    "handletextpad": 0.4,
    "columnspacing": 0.8,
}


@dataclass(frozen=True, slots=True)
class PlotData:
    """Everything drawn, copied out of the live state."""

    train: tuple[tuple[int, float], ...]  # (iteration, loss) from progress lines
    val: tuple[tuple[int, float], ...]  # (iteration, val loss) from evals
    steps: tuple[tuple[int, float], ...]  # (iteration, ms per iteration), NaN where an eval
    evals: tuple[int, ...]  # iterations where an eval ran
    gpu: tuple[GpuPoint, ...]
    alerts: tuple[AlertMark, ...]
    now: int | None  # the run's current iteration
    total: int | None
    ended: bool  # no "now" line: the run is over
    labels: PlotLabels

    @property
    def empty(self) -> bool:
        return not (self.train or self.val or self.steps)


def plot_data(state: RunState, labels: PlotLabels) -> PlotData:
    """Copy what the picture needs; finite values only."""
    evals = tuple(sorted({e.iter for e in state.evals if e.iter is not None}))
    val = tuple(
        (e.iter, e.val_loss)
        for e in state.evals
        if e.iter is not None and e.val_loss is not None and math.isfinite(e.val_loss)
    )
    return PlotData(
        tuple(
            (p.iter, p.loss) for p in state.history if p.loss is not None and math.isfinite(p.loss)
        ),
        val,
        _step_times(state, evals),
        evals,
        tuple(state.gpu_trace.all()),
        tuple(state.alert_marks.marks),
        state.iter,
        state.total_iters,
        state.ended is not None,
        labels,
    )


def _step_times(state: RunState, evals: Sequence[int]) -> tuple[tuple[int, float], ...]:
    """Milliseconds per iteration between successive progress points. An interval that holds
    an eval is a gap (NaN): its pause is not a step time. Unless most intervals hold one (a
    long run's thinned history): then each spreads its evals over many steps, and stays."""
    steps: list[tuple[int, float, bool]] = []
    history = state.history
    for a, b in zip(history, history[1:], strict=False):
        if b.iter > a.iter and b.t_s > a.t_s:
            k = bisect.bisect_left(evals, a.iter + 1)
            held = k < len(evals) and evals[k] <= b.iter
            steps.append((b.iter, 1000 * (b.t_s - a.t_s) / (b.iter - a.iter), held))
    gaps = sum(held for *_, held in steps) <= EVAL_GAPS_MAX * len(steps)
    return tuple((it, math.nan if held and gaps else ms) for it, ms, held in steps)


# --- drawing ------------------------------------------------------------------------------


def render(data: PlotData) -> bytes:
    """The PNG, WIDTH_PX x HEIGHT_PX whatever the data."""
    out = io.BytesIO()
    draw(data).savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def draw(data: PlotData) -> Figure:
    """The figure: a header, then the loss, the step time (when measured) and the GPUs (when
    read), in panels that share the iteration axis."""
    labels = data.labels
    fig = _figure(_header_height(labels))
    with_steps = any(math.isfinite(ms) for _, ms in data.steps)
    with_gpu = any((p.celsius, p.memory_pct, p.util_pct) != (None, None, None) for p in data.gpu)
    panels = [
        _draw_loss,
        *([_draw_steps] if with_steps else []),
        *([_draw_gpu] if with_gpu else []),
    ]
    grid = fig.add_gridspec(len(panels), 1, height_ratios=[HEIGHTS[p.__name__] for p in panels])
    _draw_header(fig, labels)
    axes: list[Axes] = []
    for row, panel in enumerate(panels):
        axes.append(fig.add_subplot(grid[row], sharex=axes[0] if axes else None))
        panel(axes[-1], data)
    _iteration_axis(axes, data, labels)
    for ax in axes:
        _decorate(ax, data, labels, label_alerts=ax is axes[0])
    return fig


def _figure(header_pt: float) -> Figure:
    """A figure whose panels are laid out below a header `header_pt` high."""
    # matplotlib and numpy add ~48 MB of resident memory: loaded at the first /plot, not at
    # start-up, so a service nobody asks for a plot stays small.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    top = 1 - header_pt / HEIGHT_PT
    layout = ConstrainedLayoutEngine(h_pad=0.04, w_pad=0.04, hspace=0.02, rect=(0, 0, 1, top))
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _header_lines(labels: PlotLabels) -> tuple[str, list[str]]:
    """The title on one line, the subtitle wrapped to the picture's width."""
    title = (
        labels.title if len(labels.title) <= TITLE_CHARS else labels.title[: TITLE_CHARS - 1] + "…"
    )
    lines = [part for line in labels.subtitle for part in textwrap.wrap(line, SUBTITLE_CHARS)]
    return title, lines


def _header_height(labels: PlotLabels) -> float:
    _, lines = _header_lines(labels)
    return MARGIN_PT + TITLE_PT * LINE_SPACING + len(lines) * LABEL_PT * LINE_SPACING + MARGIN_PT


def _draw_header(fig: Figure, labels: PlotLabels) -> None:
    title, lines = _header_lines(labels)
    left, top = MARGIN_PT / WIDTH_PT, 1 - MARGIN_PT / HEIGHT_PT
    fig.text(left, top, title, fontsize=TITLE_PT, fontweight="bold", va="top", in_layout=False)
    fig.text(
        left,
        top - TITLE_PT * LINE_SPACING / HEIGHT_PT,
        "\n".join(lines),
        fontsize=LABEL_PT,
        va="top",
        linespacing=LINE_SPACING,
        color="#333333",
        in_layout=False,
    )


def _draw_loss(ax: Axes, data: PlotData) -> None:
    labels = data.labels
    if data.train:
        xs, ys = zip(*data.train, strict=True)
        one = len(xs) == 1  # a lone point is no line: a dot
        ax.plot(
            xs, ys, "o" if one else "-", ms=3, lw=0.8, color=COLORS["train"], label=labels.train
        )
    if data.val:
        xs, ys = zip(*data.val, strict=True)
        ax.plot(xs, ys, "o-", ms=3.5, lw=1.6, color=COLORS["val"], label=labels.val)
    limits = _loss_limits(data)
    if limits is not None:
        ax.set_ylim(*limits)
    _panel_title(ax, labels.loss)
    if ax.has_data():
        _legend(ax, ncols=2)


def _loss_limits(data: PlotData) -> tuple[float, float] | None:
    """The settled part of the run fills the panel; the first steep drop leaves through the top."""
    train = [y for _, y in data.train]
    values = train + [y for _, y in data.val]
    if not values:
        return None
    val = [y for _, y in data.val]
    settled = train[int(SETTLED_FROM * len(train)) :]
    high = max([_quantile(settled, LOSS_QUANTILE)] if settled else [], default=-math.inf)
    high = max([high, *(val[1:] or val)])  # the first eval often comes before any training
    low = min(values)
    return _padded(low, high, 0.08)


def _draw_steps(ax: Axes, data: PlotData) -> None:
    labels = data.labels
    xs = [it for it, _ in data.steps]
    ys = [ms for _, ms in data.steps]
    ordinary = sorted(ms for ms in ys if math.isfinite(ms))
    low, high = (_quantile(ordinary, q) for q in STEP_QUANTILES)
    bottom, top = _padded(low, high, 0.3)
    bottom = max(0.0, bottom)
    ax.set_ylim(bottom, top)
    shown = [min(ms, top) if math.isfinite(ms) else math.nan for ms in ys]
    ax.plot(xs, shown, lw=0.9, color=COLORS["step"])
    above = [(x, top) for x, ms in zip(xs, ys, strict=True) if math.isfinite(ms) and ms > top]
    if above:  # outliers the scale leaves out, pinned to the top edge
        ax.plot(*zip(*above, strict=True), "^", ms=4, color=COLORS["step"], clip_on=False)
    if data.evals:
        marks = data.evals[:: math.ceil(len(data.evals) / EVAL_MARKS)]
        ax.vlines(
            marks,
            0,
            0.14,
            transform=ax.get_xaxis_transform(),
            color=COLORS["eval"],
            lw=1.4,
            label=labels.eval,
        )
        _legend(ax, ncols=1)
    _panel_title(ax, labels.step)


def _draw_gpu(ax: Axes, data: PlotData) -> None:
    labels = data.labels
    xs = [p.iter for p in data.gpu]
    series: list[tuple[str, str, Callable[[GpuPoint], float | None]]] = [
        ("temp", labels.temp, lambda p: p.celsius),
        ("memory", labels.memory, lambda p: p.memory_pct),
        ("util", labels.util, lambda p: p.util_pct),
    ]
    for key, label, value in series:
        ys = [_or_nan(value(p)) for p in data.gpu]
        if any(math.isfinite(y) for y in ys):
            ax.plot(xs, ys, lw=1.3, color=COLORS[key], label=label)
    for i, (start, end) in enumerate(_throttled_spans(data.gpu)):
        ax.axvspan(
            start,
            end,
            color=COLORS["throttle"],
            alpha=0.55,
            lw=0,
            zorder=0,
            label=labels.throttle if i == 0 else None,
        )
    ax.set_ylim(0, 105)
    ax.set_yticks([0, 50, 100])
    ax.legend(  # four short entries in a row, under the panel's title
        title=labels.gpu,
        alignment="left",
        title_fontsize=LABEL_PT,
        loc="lower left",
        bbox_to_anchor=(0, 1, 1, 0),
        mode="expand",
        ncols=4,
        **LEGEND,
    )


def _throttled_spans(points: Sequence[GpuPoint]) -> list[tuple[float, float]]:
    """Each run of throttled points, from halfway to the point before to halfway to the next."""
    spans: list[tuple[float, float]] = []
    for i, p in enumerate(points):
        if not p.throttled:
            continue
        before = points[i - 1].iter if i > 0 else p.iter
        after = points[i + 1].iter if i + 1 < len(points) else p.iter
        start, end = (before + p.iter) / 2, (p.iter + after) / 2
        if spans and points[i - 1].throttled:
            spans[-1] = (min(spans[-1][0], start), max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _decorate(ax: Axes, data: PlotData, labels: PlotLabels, *, label_alerts: bool) -> None:
    """What every panel shares: the grid, the alerts where they happened, the now line."""
    ax.grid(alpha=0.3, lw=0.6)
    ax.tick_params(labelsize=TEXT_PT, length=3, pad=2)
    ax.yaxis.set_major_formatter(_value_ticks(ax.yaxis, labels.number))
    ax.yaxis.get_major_locator().set_params(nbins=5)  # type: ignore[call-arg]
    written: list[float] = []
    span = _x_max(data) or 1
    for mark in sorted(data.alerts, key=lambda m: m.severity != "critical"):
        color = COLORS.get(mark.severity, COLORS["warning"])
        ax.axvline(mark.iter, color=color, lw=1.1, alpha=0.9, zorder=1)
        if label_alerts and all(abs(mark.iter - x) > LABEL_GAP * span for x in written):
            written.append(mark.iter)
            _line_word(ax, mark.iter, labels.alert_word(mark.type), color, weight="bold")
    if data.now is not None and not data.ended:
        ax.axvline(data.now, color=COLORS["now"], lw=1.0, ls=(0, (4, 2)), zorder=1)
        if label_alerts and all(abs(data.now - x) > LABEL_GAP * span for x in written):
            _line_word(ax, data.now, labels.now, COLORS["now"], weight="normal")


def _line_word(ax: Axes, x: float, word: str, color: str, *, weight: str) -> None:
    """A word along a vertical line, at the top of the panel, on the line's right (its left
    near the right edge, where the word would leave the picture)."""
    low, high = ax.get_xlim()
    right = (x - low) < RIGHT_EDGE * (high - low)
    ax.annotate(
        word,
        (x, 1),
        xycoords=ax.get_xaxis_transform(),
        xytext=(2 if right else -2, -3),
        textcoords="offset points",
        rotation=90,
        ha="left" if right else "right",
        va="top",
        fontsize=TEXT_PT,
        color=color,
        fontweight=weight,
    )


def _iteration_axis(axes: Sequence[Axes], data: PlotData, labels: PlotLabels) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    bottom = axes[-1]
    bottom.set_xlim(0, _x_max(data) or 1)
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    bottom.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: labels.count(x)))
    bottom.set_xlabel(labels.iteration, fontsize=LABEL_PT, labelpad=2)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)


def _x_max(data: PlotData) -> float:
    """The run's total, or a little past the furthest iteration when the total is unknown."""
    seen = [it for it, _ in data.train] + [it for it, _ in data.val] + [p.iter for p in data.gpu]
    furthest = max([*seen, data.now or 0])
    if data.total and data.total >= furthest:
        return float(data.total)
    return furthest * 1.05


def _panel_title(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=LABEL_PT, pad=3)


def _legend(ax: Axes, *, ncols: int) -> None:
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=ncols, **LEGEND)


def _or_nan(x: float | None) -> float:
    return math.nan if x is None else x


def _quantile(sorted_or_not: Sequence[float], q: float) -> float:
    values = sorted(sorted_or_not)
    return values[round(q * (len(values) - 1))]


def _padded(low: float, high: float, share: float) -> tuple[float, float]:
    pad = (high - low) * share or max(abs(high) * share, 0.1)
    return low - pad, high + pad


def _value_ticks(axis: Axis, number: Callable[[float, int], str]) -> Formatter:
    """Tick values in the chat's number format, with as few decimals as the ticks need."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: number(x, _decimals(list(axis.get_majorticklocs()))))


def _decimals(ticks: Sequence[float]) -> int:
    return next(
        (d for d in range(4) if all(abs(round(t, d) - t) < 1e-9 * max(1.0, abs(t)) for t in ticks)),
        4,
    )


async def render_png(data: PlotData) -> bytes:
    """`render`, off the event loop."""
    return await asyncio.to_thread(render, data)
