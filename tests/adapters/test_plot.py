"""/plot: a PNG of a fixed size whatever the data, drawn off the event loop."""

from __future__ import annotations

import io
import math

from PIL import Image

from bot.adapters.plot import HEIGHT_PX, WIDTH_PX, plot_data, render, render_png
from bot.core.events import Eval, Progress
from bot.core.state import RunState
from bot.messages import Ctx
from bot.messages.bot_ui import plot_labels

LABELS = plot_labels(Ctx(lang="fr", now_s=0.0))


def size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG"
        return image.size


def state_with(points: int, loss: float = 3.0) -> RunState:
    state = RunState("gpt2", 5000)
    for it in range(0, points * 10, 10):
        if it % 200 == 0:
            state.apply(Eval(it, loss - it / 1e4, loss + 0.1 - it / 1e4), 0.0)
        state.apply(Progress(it, loss=loss - it / 1e4, dt_s=0.17 if it % 200 else 5.8), 0.0)
    return state


def test_curves_step_time_and_temperatures() -> None:
    temps = [(1000.0 + 5 * k, [("0", 60.0 + k % 3), ("1", 70.0)]) for k in range(50)]
    data = plot_data(state_with(300), temps, 1250.0, LABELS)
    assert len(data.evals_val) == 15 and len(data.step_ms) == 299
    assert data.temps[0].minutes[0] == -250 / 60
    times = sorted(ms for _, ms in data.step_ms)
    assert times[-1] > 2 * times[len(times) // 2]  # the eval pauses show
    assert size(render(data)) == (WIDTH_PX, HEIGHT_PX)


def test_same_size_with_little_or_odd_data() -> None:
    state = state_with(1, loss=math.nan)
    state.apply(Progress(10, loss=math.inf), 0.0)
    data = plot_data(state, [], 0.0, LABELS)
    assert data.train == () and data.evals_val == ()
    assert size(render(data)) == (WIDTH_PX, HEIGHT_PX)
    assert plot_data(RunState("empty"), [], 0.0, LABELS).empty


async def test_rendered_in_a_worker_thread() -> None:
    png = await render_png(plot_data(state_with(50), [], 0.0, LABELS))
    assert size(png) == (WIDTH_PX, HEIGHT_PX)
