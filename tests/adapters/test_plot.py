"""/plot: a picture read on a phone. Checked on its structure (panels, series, words, sizes as
shown 390 px wide, nothing cut off or overlapping) and against a few reference images, compared
loosely so that a new matplotlib (other anti-aliasing, a glyph a pixel wider) does not fail."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image, ImageChops, ImageFilter

from bot.adapters.plot import (
    DPI,
    HEIGHT_PX,
    PHONE_PX,
    WIDTH_PX,
    PlotData,
    draw,
    plot_data,
    render,
    render_png,
)
from bot.core.events import Eval, Progress, TrainingEnd
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, StallEvidence
from bot.core.state import RunState
from bot.demo import DemoRun
from bot.messages import Ctx
from bot.messages.bot_ui import plot_labels
from tests.adapters.plot_runs import demo_state

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
TODAY_PX = 10 * 100 / 72 * PHONE_PX / 900  # matplotlib's 10 pt at 100 dpi, 900 px shown at 390
MIN_TEXT_PX = 11.5  # on the phone: about twice that
# Against a reference image, both blurred (a glyph a pixel wider, other anti-aliasing): the
# share of pixels more than GOLDEN_LEVELS grey levels apart. Measured at 390 px: everything
# 2 px off 0.8 %, another font 0.04 %; 100 more iterations 1.9 %, the GPU panel gone 17 %.
GOLDEN_BLUR_PX = 3
GOLDEN_LEVELS = 24
GOLDEN_SHARE = 0.01
DEMO = DemoRun()


def data_of(state: RunState, lang: str = "fr") -> PlotData:
    now = (state.last_progress_wall_s or 0.0) + 5
    return plot_data(state, plot_labels(state, Ctx(lang=lang, now_s=now, tz="Europe/Paris")))


def panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_visible()]


def texts(fig: Figure) -> list[Text]:
    """The words drawn: visible, not empty, tick labels only for ticks inside the view."""
    fig.canvas.draw()
    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                ticks |= {id(tick.label1), id(tick.label2)}
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    drawn += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    found = fig.findobj(lambda a: isinstance(a, Text) and a.get_visible() and id(a) not in ticks)
    return [t for t in [*found, *drawn] if isinstance(t, Text) and t.get_text()]


def words(fig: Figure) -> set[str]:
    """Each line of text drawn."""
    return {line for t in texts(fig) for line in t.get_text().splitlines()}


def series(ax: Axes) -> dict[str, Line2D]:
    return {
        str(line.get_label()): line
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


def vertical_lines(ax: Axes) -> list[tuple[float, str]]:
    """(x, colour) of each line drawn across the panel: alerts and the now line."""
    found = []
    for line in ax.get_lines():
        xs = list(line.get_xdata())  # type: ignore[arg-type]
        if len(xs) == 2 and xs[0] == xs[1] and line.get_transform() != ax.transData:
            found.append((float(xs[0]), str(line.get_color())))
    return found


@pytest.fixture(scope="module")
def mid_run() -> RunState:
    """The demo at iteration 1,490: its thermal episode over, its OOM to come."""
    return demo_state(1500)


@pytest.fixture(scope="module")
def crashed() -> RunState:
    """The demo to its OOM, on eight GPUs."""
    return demo_state(None, gpus=8)


# --- size and legibility --------------------------------------------------------------------


def test_a_png_twice_a_phone_bubble_wide(mid_run: RunState) -> None:
    with Image.open(io.BytesIO(render(data_of(mid_run)))) as image:
        assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX) == (2 * PHONE_PX, 1080)


def finished_run() -> RunState:
    """Finished at its total, an alert on its last iteration: words by the right edge."""
    run = RunMonitor("finished", total_iters=1000)
    state = run.state
    for it in range(0, 1001, 10):
        run.apply(Progress(it, loss=2 + math.exp(-it / 200), dt_s=0.1), 1e9 + it / 10)
    state.alert_marks.noted(
        [Alert("finished", "stall", "warning", 1000, 100.0, StallEvidence())], None
    )
    run.apply(TrainingEnd(0, "completed"), 1e9 + 101)
    return state


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_word_is_readable_at_a_phone_width(
    mid_run: RunState, crashed: RunState, lang: str
) -> None:
    for state in (mid_run, crashed, finished_run()):
        fig = draw(data_of(state, lang))
        shown = texts(fig)
        assert len(shown) > 15
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        boxes = []
        for text in shown:
            px = text.get_fontsize() * DPI / 72 * PHONE_PX / WIDTH_PX
            assert px >= MIN_TEXT_PX >= 1.9 * TODAY_PX, text.get_text()
            box = text.get_window_extent(renderer)
            assert box.x0 >= 0 and box.x1 <= WIDTH_PX and box.y0 >= 0 and box.y1 <= HEIGHT_PX, (
                f"{text.get_text()!r} cut off"
            )
            boxes.append((text.get_text(), box))
        overlapping = [
            (a, b)
            for i, (a, box) in enumerate(boxes)
            for b, other in boxes[i + 1 :]
            if box.overlaps(other)
        ]
        assert overlapping == []


# --- structure ------------------------------------------------------------------------------


def test_three_panels_on_one_iteration_axis_to_the_total_with_a_now_line(mid_run: RunState) -> None:
    data = data_of(mid_run)
    fig = draw(data)
    loss, steps, gpu = panels(fig)
    assert [ax.get_title(loc="left") for ax in (loss, steps)] == ["loss", "ms par itération"]
    for ax in (loss, steps, gpu):
        assert ax.get_xlim() == (0, DEMO.max_iters)
        assert (1490.0, "#555555") in vertical_lines(ax)  # now, in every panel
    assert [t.get_text() for t in gpu.xaxis.get_ticklabels()][-1] == "2\u202f000"
    assert gpu.get_xlabel() == "itération"
    header = {
        "demo-220738",
        "Itération 1\u202f490 / 2\u202f000 · 74\u00a0%",
        "Fin dans 1\u00a0min\u00a048, vers\u00a06\u00a0h\u00a054",
    }
    assert header <= words(fig)
    assert "maintenant" in words(fig)


def test_the_loss_panel_has_train_and_val_and_nothing_that_repeats_them(mid_run: RunState) -> None:
    loss = panels(draw(data_of(mid_run, "en")))[0]
    lines = series(loss)
    assert set(lines) == {"train", "val"}
    assert len(lines["val"].get_xdata()) == 7  # type: ignore[arg-type]  # evals at 0, 250, ..., 1500
    train_y = list(lines["train"].get_ydata())  # type: ignore[arg-type]
    low, high = loss.get_ylim()
    assert train_y[0] > high > train_y[-1] > low  # the first drop leaves through the top


def test_alerts_are_marked_where_they_happened(mid_run: RunState, crashed: RunState) -> None:
    thermal = [m for m in mid_run.alert_marks.marks if m.type == "thermal"]
    assert len(thermal) == 1 and DEMO.thermal_from < thermal[0].iter < DEMO.thermal_to
    fig = draw(data_of(mid_run))
    for ax in panels(fig):
        assert (float(thermal[0].iter), "#e08e0b") in vertical_lines(ax)
    assert "chaleur" in words(fig)

    fig = draw(data_of(crashed, "en"))
    oom = [m for m in crashed.alert_marks.marks if m.type == "oom"]
    assert [m.iter for m in oom] == [1820]  # the last progress line before the OOM
    assert (1820.0, "#c0392b") in vertical_lines(panels(fig)[0])
    assert {"OOM", "heat", "Crashed after 6\u00a0min"} <= words(fig)


def test_step_time_on_a_robust_scale_with_evals_as_marks(mid_run: RunState) -> None:
    data = data_of(mid_run)
    eval_gaps = [it for it, ms in data.steps if math.isnan(ms)]
    assert eval_gaps == [250, 500, 750, 1000, 1250]  # each interval that held an eval
    ordinary = sorted(ms for _, ms in data.steps if not math.isnan(ms))
    steps = panels(draw(data))[1]
    bottom, top = steps.get_ylim()
    assert 0 < bottom < ordinary[0] and ordinary[-1] < top < 1.5 * ordinary[-1]
    assert top < DEMO.eval_step_s * 1000 / 10  # an eval's pause is far off this scale
    marks = [c for c in steps.collections if isinstance(c, LineCollection)]
    assert len(marks) == 1 and len(marks[0].get_segments()) == len(data.evals) == 7
    assert marks[0].get_label() == "éval"


def test_gpu_readings_on_the_iteration_axis_with_throttling_shaded(crashed: RunState) -> None:
    gpu = panels(draw(data_of(crashed, "en")))[2]
    lines = series(gpu)
    assert set(lines) == {"°C", "memory %", "utilization %"}
    xs = list(lines["°C"].get_xdata())  # type: ignore[arg-type]
    assert min(xs) >= 0 and max(xs) <= 1820  # iterations, not minutes
    legend = gpu.get_legend()
    assert (
        legend is not None and legend.get_title().get_text() == "8 GPUs: the worst of each reading"
    )
    shaded = [p for p in gpu.patches if isinstance(p, Rectangle) and p.get_label() == "throttled"]
    assert len(shaded) == 1
    start, end = shaded[0].get_x(), shaded[0].get_x() + shaded[0].get_width()
    assert DEMO.thermal_from < start < end < DEMO.thermal_to + 200  # heat, then a cool-down
    memory = list(lines["memory %"].get_ydata())  # type: ignore[arg-type]
    assert memory[-1] > 95  # the climb to the OOM


def test_a_run_with_no_gpu_no_total_and_a_nan_has_two_panels() -> None:
    run = RunMonitor("llama")
    state = run.state
    for it in range(0, 3000, 10):
        loss = 2.0 + math.exp(-it / 800) if it < 2500 else math.nan
        run.apply(Progress(it, loss=loss, dt_s=0.4), 1e9 + it)
        if it % 500 == 0:
            run.apply(Eval(it, loss, loss + 0.05), 1e9 + it)
    data = data_of(state, "both")  # one language on a picture: French, as the chat's first
    fig = draw(data)
    loss, steps = panels(fig)
    assert loss.get_xlim()[1] > 2990  # past the furthest iteration
    assert max(series(loss)["train"].get_xdata()) == 2490  # type: ignore[arg-type, type-var]
    assert (2500.0, "#c0392b") in vertical_lines(loss)  # where the loss line ends
    assert {"NaN", "Itération 2\u202f990"} <= words(fig)


def test_little_or_odd_data_still_draws() -> None:
    one = RunState("tiny", 100)
    one.apply(Progress(0, loss=10.0, dt_s=0.1), 0.0)
    fig = draw(data_of(one))
    assert len(panels(fig)) == 1 and series(panels(fig)[0])["train"].get_marker() == "o"
    evals_only = RunState("evals")
    evals_only.apply(Eval(100, None, 2.5), 0.0)
    assert len(panels(draw(data_of(evals_only)))) == 1
    finished = panels(draw(data_of(finished_run())))
    assert all(vertical_lines(ax) == [(1000.0, "#e08e0b")] for ax in finished)  # no "now" line
    assert data_of(RunState("empty")).empty
    unreadable = RunState("no-readings", 100)
    unreadable.apply(Progress(0, loss=10.0, dt_s=0.1), 0.0)
    unreadable.apply_gpu(GpuSnapshot(0.0, (GpuSample(0),)))  # a GPU that tells nothing
    assert len(unreadable.gpu_trace.all()) == 1 and len(panels(draw(data_of(unreadable)))) == 1


def test_a_long_runs_thinned_history_keeps_its_step_time() -> None:
    run = RunMonitor("long", total_iters=100_000)
    state = run.state
    for it in range(0, 100_000, 10):  # an eval every 100 iterations
        if it % 100 == 0:
            run.apply(Eval(it, 2.0, 2.1), 0.0)
        run.apply(Progress(it, loss=2.0, dt_s=5.0 if it % 100 == 0 else 0.2), 0.0)
    data = data_of(state)
    assert all(not math.isnan(ms) for _, ms in data.steps)  # every interval holds evals


async def test_drawn_in_a_worker_thread(mid_run: RunState) -> None:
    png = await render_png(data_of(mid_run))
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (WIDTH_PX, HEIGHT_PX)


# --- reference images -----------------------------------------------------------------------


def phone_view(png: bytes) -> Image.Image:
    """What a phone shows: the picture 390 px wide."""
    with Image.open(io.BytesIO(png)) as image:
        size = (PHONE_PX, PHONE_PX * HEIGHT_PX // WIDTH_PX)
        return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def nan_run() -> RunState:
    run = RunMonitor("llama-7b-sft")
    state = run.state
    for it in range(0, 3000, 10):
        run.apply(
            Progress(it, loss=2.0 + math.exp(-it / 800) if it < 2500 else math.nan, dt_s=0.4), 1e9
        )
    return state


REFERENCES = {
    "plot_mid_run.fr.png": lambda: data_of(demo_state(1500), "fr"),
    "plot_crashed.en.png": lambda: data_of(demo_state(None, gpus=8), "en"),
    "plot_nan_no_gpu.both.png": lambda: data_of(nan_run(), "both"),
}


def differing_share(a: Image.Image, b: Image.Image) -> float:
    """Compared in grey levels: the structure tests check the colours."""
    blur = ImageFilter.GaussianBlur(GOLDEN_BLUR_PX)
    a, b = (image.convert("L").filter(blur) for image in (a, b))
    histogram = ImageChops.difference(a, b).histogram()
    return sum(histogram[GOLDEN_LEVELS:]) / sum(histogram)


@pytest.mark.parametrize("name", REFERENCES)
def test_looks_like_its_reference_image(name: str) -> None:
    """Run with UPDATE_GOLDEN=1 to rewrite the images after a deliberate change, then look at
    them (they are what a phone shows)."""
    view = phone_view(render(REFERENCES[name]()))
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        view.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    with Image.open(path) as reference:
        assert reference.size == view.size
        share = differing_share(view, reference)
    assert share <= GOLDEN_SHARE, f"{name}: {share:.1%} of the pixels differ from the reference"


def test_the_reference_comparison_sees_a_real_change() -> None:
    """The tolerance is not so loose that a chart 100 iterations later passes for another."""
    now = phone_view(render(data_of(demo_state(1500), "fr")))
    before = phone_view(render(data_of(demo_state(1400), "fr")))
    assert differing_share(now, before) > GOLDEN_SHARE
    assert differing_share(now, ImageChops.offset(now, 2, 2)) < GOLDEN_SHARE  # all 2 px off
