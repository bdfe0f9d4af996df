"""Prometheus exposition: the families of runs and GPUs, and the HTTP endpoint."""

from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.metrics import Source, families, serve_metrics
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.hosts import HostGpus
from bot.core.lifecycle import Phase
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, AlertType, Severity, StallEvidence
from bot.core.state import RunState
from tests.generated import nanogpt_lines
from tests.test_service_e2e import HEADER


def a_run(name: str = "gpt2", stop: int = 450) -> RunState:
    monitor = RunMonitor(name, "nanogpt")
    monitor.feed(HEADER.splitlines() + nanogpt_lines(0, stop), 1000.0)
    return monitor.state


def values(metrics: list[object]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in metrics:
        for s in family.samples:  # type: ignore[attr-defined]
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_run_figures_per_run() -> None:
    got = values(families([a_run()], None, {}, "box"))
    run = (("run", "gpt2"),)
    assert got[("etagram_iteration", run)] == 440
    assert got[("etagram_total_iterations", run)] == 600
    assert abs(got[("etagram_progress_ratio", run)] - 440 / 600) < 1e-9
    assert got[("etagram_val_loss", run)] == got[("etagram_best_val_loss", run)] == 2.7
    assert got[("etagram_train_loss", run)] == 2.56
    assert 0.17 <= got[("etagram_step_seconds", run)] <= 0.18
    assert got[("etagram_eta_low_seconds", run)] <= got[("etagram_eta_seconds", run)]
    assert got[("etagram_eta_seconds", run)] <= got[("etagram_eta_high_seconds", run)]


def test_each_run_has_one_phase_set() -> None:
    stalled = a_run("stalled")
    stall = Alert("stalled", AlertType.STALL, Severity.WARNING, 440, 100.0, StallEvidence())
    stalled.life.note("stalled", [stall], None)
    got = values(families([a_run(), stalled, RunState("new")], None, {}, "box"))
    for run, now in (("gpt2", "running"), ("stalled", "stalled"), ("new", "waiting")):
        phases = {p: got[("etagram_run_phase", (("phase", p), ("run", run)))] for p in Phase}
        assert phases == {p: float(p == now) for p in Phase}, run


def test_unknown_figures_are_absent_rather_than_zero() -> None:
    got = values(families([RunState("new")], None, {}, "box"))
    assert not any(name == "etagram_eta_seconds" for name, _ in got)
    assert not any(name == "etagram_iteration" for name, _ in got)


def test_gpu_figures_per_run_host_and_gpu() -> None:
    gpus = HostGpus()
    gpus.update("node1", GpuSnapshot(1.0, (GpuSample(0, temperature_c=67, sm_clock_mhz=2475),)))
    hot = GpuSample(1, temperature_c=91, utilization_pct=100, reasons=frozenset({"hw_thermal"}))
    gpus.update("node3", GpuSnapshot(1.0, (GpuSample(0, temperature_c=66), hot)), "gpt2")
    got = values(families([], gpus.view(), gpus.run_of, "box"))

    def at(host: str, gpu: int, run: str = "", **more: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({"run": run, "host": host, "gpu": str(gpu), **more}.items()))

    assert got[("etagram_gpu_temperature_celsius", at("node1", 0))] == 67
    assert got[("etagram_gpu_temperature_celsius", at("node3", 1, "gpt2"))] == 91
    assert got[("etagram_gpu_utilization_ratio", at("node3", 1, "gpt2"))] == 1.0
    assert got[("etagram_gpu_clock_event_reason", at("node3", 1, "gpt2", reason="hw_thermal"))]
    assert not got[("etagram_gpu_clock_event_reason", at("node3", 1, "gpt2", reason="sw_thermal"))]
    assert ("etagram_gpu_sm_clock_mhz", at("node3", 1, "gpt2")) not in got

    one_machine = values(
        families([], GpuSnapshot(1.0, (GpuSample(0, temperature_c=60),)), {}, "box")
    )
    assert one_machine[("etagram_gpu_temperature_celsius", at("box", 0))] == 60


class FakeService:
    def __init__(self) -> None:
        self.host_gpus = HostGpus()
        self.states = [a_run("gpt2"), a_run("llama", 250)]

    def run_states(self) -> list[RunState]:
        return self.states

    def gpu_snapshot(self) -> GpuSnapshot | None:
        return GpuSnapshot(1.0, (GpuSample(0, temperature_c=70),))


async def test_served_over_http_from_the_event_loop() -> None:
    source: Source = FakeService()
    server = serve_metrics(source, 0)
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    finally:
        server.close()
    parsed = {f.name: f for f in text_string_to_metric_families(body.decode())}
    iterations = {s.labels["run"]: s.value for s in parsed["etagram_iteration"].samples}
    assert iterations == {"gpt2": 440, "llama": 240}
    assert parsed["etagram_gpu_temperature_celsius"].samples[0].value == 70
