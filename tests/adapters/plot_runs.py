"""Runs to draw: the demo's nanoGPT run (evals, a thermal episode, an OOM) read line by line at
its own pace with the simulated GPU sampled every 5 s beside it, as the service would see it."""

from __future__ import annotations

import functools
import io
from dataclasses import replace

from bot.adapters.gpu_sim import Episode, Scenario, simulated_sample
from bot.core.gpu import GpuSnapshot
from bot.core.monitor import RunMonitor
from bot.core.state import RunState
from bot.demo import DemoRun, run_clock_s, write_run

START_S = 1_765_000_000.0  # wall clock of the run's first line
GPU_EVERY_S = 5.0


class _Timed(io.StringIO):
    """The trainer's output, each line with the (simulated) time it was printed."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.lines.extend((self.now, line) for line in text.splitlines())
        return len(text)

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@functools.cache
def demo_state(until_iter: int | None = None, gpus: int = 1) -> RunState:
    """The demo run up to `until_iter` (None: to its OOM and exit), with `gpus` GPUs (cached:
    do not change it)."""
    run = DemoRun()
    scenario = Scenario(
        thermal=Episode(run_clock_s(run, run.thermal_from), run_clock_s(run, run.thermal_to)),
        oom_at_s=run_clock_s(run, run.oom_at or run.max_iters),
    )
    out = _Timed()
    code = write_run(out, run, speed=1.0, sleep=out.sleep)
    monitor = RunMonitor("demo-220738", "nanogpt")
    next_gpu = 0.0
    for t, line in out.lines:
        if until_iter is not None and line.startswith(f"iter {until_iter}:"):
            break
        while next_gpu <= t:
            sample = simulated_sample(scenario, next_gpu)
            copies = tuple(replace(sample, index=i) for i in range(gpus))
            snapshot = GpuSnapshot(START_S + next_gpu, copies)
            monitor.state.apply_gpu(snapshot, START_S + next_gpu)
            next_gpu += GPU_EVERY_S
        monitor.feed([line], START_S + t)
    else:
        monitor.end(code, START_S + out.now)
    return monitor.state
