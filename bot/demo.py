"""The demo trainer: prints exactly what nanoGPT's `train.py` prints, in accelerated time.

`etagram demo` starts this as a child process writing to a log file and follows that file as
it would a real run's, then ends with a short tour (`tour`). The run: the reference scenario
shortened (2,000 iterations, an eval every 250 with 200 eval batches, ~170 ms per iteration),
a thermal slowdown episode in the middle (iterations 22 % slower for ~2.7 min of run clock:
long enough for the slowdown detector, which wants `slowdown_min_s` = 120 s, and followed by a
recovery), and a CUDA out-of-memory crash near the end, so a new user sees the alerts too.
`run_clock_s` tells the simulated GPU when the episode happens.

    python -m bot.demo --speed 10 > train.log
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from bot.adapters.gpu_sim import SimulatedGpu
    from bot.config import Config
    from bot.fold import Fold

MIN_GPU_INTERVAL_S = 0.1  # the demo's GPU sampling, however fast the demo runs


@dataclass(frozen=True)
class DemoRun:
    max_iters: int = 2000
    eval_interval: int = 250
    eval_iters: int = 200
    log_interval: int = 10
    step_s: float = 0.170
    # An eval: 2 splits x eval_iters forward passes, a step 4 forward-backward passes (~3
    # forwards each): about 33 steps, as the printed config implies.
    eval_step_s: float = 5.8
    thermal_from: int = 600  # iterations during which the GPU throttles
    thermal_to: int = 1350
    thermal_factor: float = 1.22
    oom_at: int | None = 1830


CONFIG_LINES = """Overriding config with config/train_shakespeare.py:
# demo run printed by etagram
out_dir = 'out-demo'
eval_interval = {eval_interval}
eval_iters = {eval_iters}
log_interval = {log_interval}
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 4
max_iters = {max_iters}
tokens per iteration will be: 49,152
found vocab_size = 50304 (inside data/openwebtext/meta.pkl)
Initializing a new model from scratch
number of parameters: 123.59M
compiling the model... (takes a ~minute)"""

OOM_LINES = """Traceback (most recent call last):
  File "train.py", line 297, in <module>
    logits, loss = model(X, Y)
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a total \
capacity of 11.72 GiB of which 1.02 GiB is free. Including non-PyTorch memory, this process \
has 10.68 GiB memory in use."""


MEAN_JITTER = (0.988 + 1.094) / 2  # the mean of the per-step noise factor below


def demo_clock(speed: float, now: Callable[[], float] = time.time) -> Callable[[], float]:
    """The demo's clock: it starts at `now()` and runs `speed` times faster, as the simulated
    run does, so that the finish times it announces come true on it."""
    start = now()
    return lambda: start + (now() - start) * speed


def run_clock_s(run: DemoRun, it: int) -> float:
    """Expected run-clock seconds from iteration 0 to the start of iteration `it`.

    Wall-clock seconds are this divided by the demo's speed; the simulated GPU uses it to
    heat up exactly while iterations `thermal_from`..`thermal_to` run.
    """
    evals = sum(1 for i in range(min(it, run.max_iters + 1)) if i % run.eval_interval == 0)
    slow = max(0, min(it, run.thermal_to) - run.thermal_from)
    ordinary = it - evals
    seconds = ordinary * run.step_s * MEAN_JITTER + evals * run.eval_step_s * 1.005
    return seconds + slow * run.step_s * MEAN_JITTER * (run.thermal_factor - 1)


def demo_gpu(clock: Callable[[], float], run: DemoRun | None = None) -> SimulatedGpu:
    """A simulated RTX 4070 whose thermal episode and OOM line up with the demo trainer's."""
    from bot.adapters.gpu_sim import Episode, Scenario, SimulatedGpu

    run = run or DemoRun()
    scenario = Scenario(
        thermal=Episode(run_clock_s(run, run.thermal_from), run_clock_s(run, run.thermal_to)),
        oom_at_s=run_clock_s(run, run.oom_at) if run.oom_at is not None else None,
    )
    start = clock()
    return SimulatedGpu(lambda: clock() - start, scenario)


def write_run(
    out: TextIO,
    run: DemoRun,
    speed: float,
    sleep: Callable[[float], None] = time.sleep,
    seed: int = 1,
) -> int:
    """Print the run to `out`, sleeping each step's time divided by `speed`; the exit code."""
    rng = random.Random(seed)
    print(CONFIG_LINES.format(**vars(run)), file=out, flush=True)
    pending_s = 0.0
    for it in range(run.max_iters + 1):
        # A GPT-2-like curve: fast early drop, then slow; val loss drifts up late (overfitting).
        loss = 3.0 + 7.9 * math.exp(-it / 300) + rng.uniform(-0.01, 0.01)
        dt = run.step_s * rng.uniform(0.988, 1.094)
        if run.thermal_from <= it < run.thermal_to:
            dt *= run.thermal_factor
        if it % run.eval_interval == 0:
            val = loss + 0.05 + max(0.0, it - 1200) / 4000 + rng.uniform(-0.005, 0.005)
            print(f"step {it}: train loss {loss:.4f}, val loss {val:.4f}", file=out, flush=True)
            if it > 0:
                print("saving checkpoint to out-demo", file=out, flush=True)
            dt = run.eval_step_s * rng.uniform(0.98, 1.03)
        pending_s += dt
        if run.oom_at is not None and it == run.oom_at:
            sleep(pending_s / speed)
            print(OOM_LINES, file=out, flush=True)
            return 1
        if it % run.log_interval == 0:
            sleep(pending_s / speed)
            pending_s = 0.0
            mfu = 31.0 * run.step_s / dt
            print(
                f"iter {it}: loss {loss:.4f}, time {dt * 1000:.2f}ms, mfu {mfu:.2f}%",
                file=out,
                flush=True,
            )
    return 0


def demo_config(
    config: Config, speed: float, workdir: Path, locale_env: Mapping[str, str] | None
) -> Config:
    """The user's config for the demo: its state beside the demo's log, the GPU sampled as
    often in the demo's clock as in a real run's (the chart shows it), and the messages in the
    language of `locale_env` (LC_ALL, LC_MESSAGES, LANG), when given (none was chosen).

    The state is the demo's own even when the user's config names one: the demo's clock runs
    `speed` times faster, and its times (a `/mute 1h`, when a message was queued) written
    into the user's database would be hours ahead of theirs; and the user's etagram, running,
    holds that database."""
    general: dict[str, Any] = {"state_path": str(workdir / "state.sqlite3")}
    if locale_env is not None:
        general["language"] = locale_language(locale_env)
    interval_s = max(MIN_GPU_INTERVAL_S, config.gpu.interval_s / speed)
    return config.with_changes(gpu={"interval_s": interval_s}, general=general)


def locale_language(env: Mapping[str, str]) -> str:
    """`fr` for a French locale, else `en`; the first of the variables set decides (POSIX)."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(var):
            return "fr" if env[var].lower().startswith("fr") else "en"
    return "en"


def intro(config: Config, speed: float, log: Path) -> str:
    """The demo's first line, in its language."""
    from bot.messages import Ctx, bot_ui, to_plain

    ctx = Ctx(lang=config.general.language, now_s=time.time())
    return to_plain(bot_ui.demo_intro_text(speed, str(log), ctx))


async def tour(fold: Fold, run: str, chart: Path) -> str:
    """The end of `etagram demo`: what `/eta`, `/status` and `/plot` would answer now (the
    chart written to `chart`), and what to do next; plain text for the terminal."""
    from bot.adapters.plot import plot_data, render_png
    from bot.messages import Ctx, bot_ui, to_plain

    state = fold.monitors[run].state
    lang = fold.config.general.language
    ctx = Ctx(lang=lang, now_s=fold.now(), tz=fold.timezone, demo=fold.demo)
    chart.write_bytes(await render_png(plot_data(state, bot_ui.plot_labels(state, ctx))))
    return to_plain(bot_ui.tour_text(state, fold.latest_gpu, str(chart), ctx))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--no-oom", action="store_true")
    args = parser.parse_args(argv)
    run = DemoRun(oom_at=None) if args.no_oom else DemoRun()
    return write_run(sys.stdout, run, args.speed)


if __name__ == "__main__":
    raise SystemExit(main())
