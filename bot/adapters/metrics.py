"""Prometheus exposition (the `metrics` extra; off unless a port is given).

Every scrape reads the runs and the GPUs as they are at that instant: prometheus-client's
HTTP server answers from its own thread, so the values are gathered on the service's event
loop (where the state changes) and handed back, never read half-updated.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from bot.core.gpu import REASONS, GpuSnapshot
from bot.core.hosts import HostGpus, host_of
from bot.core.lifecycle import Phase
from bot.core.state import RunState

SCRAPE_TIMEOUT_S = 5.0


class Source(Protocol):
    """What the service shows: its runs, the GPUs, and the run of each host's GPUs."""

    host_gpus: HostGpus

    def run_states(self) -> list[RunState]: ...

    def gpu_snapshot(self) -> GpuSnapshot | None: ...


def families(
    runs: Iterable[RunState], gpus: GpuSnapshot | None, run_of: dict[str, str], local_host: str
) -> list[Metric]:
    """The metric families of this instant. GPUs of one machine (host "") are `local_host`'s."""
    m = _Families()
    for state in runs:
        run = [state.name]
        eta = state.eta()
        m.run("iteration", "Last iteration seen in the log", run, state.iter)
        m.run("total_iterations", "Iterations the run will make", run, state.total_iters)
        total = state.total_iters
        done = state.iter / total if state.iter is not None and total else None
        m.run("progress_ratio", "Iterations done over total, 0 to 1", run, done)
        m.run("eta_seconds", "Estimated seconds left", run, eta.remaining_s)
        m.run("eta_low_seconds", "10th percentile of the seconds left", run, eta.low_s)
        m.run("eta_high_seconds", "90th percentile of the seconds left", run, eta.high_s)
        m.run("step_seconds", "Seconds per ordinary iteration", run, eta.step_s)
        m.run("train_loss", "Loss on the last progress line", run, state.loss)
        last = state.evals[-1].val_loss if state.evals else None
        m.run("val_loss", "Validation loss of the last eval", run, last)
        best = state.best.val_loss if state.best else None
        m.run("best_val_loss", "Best validation loss so far", run, best)
        m.run(
            "last_progress_timestamp_seconds",
            "Wall-clock time of the last progress line",
            run,
            state.last_progress_wall_s,
        )
        for phase in Phase:  # one series per phase, 1 for the current one (an enum set)
            m.phase([state.name, phase.value], int(state.phase == phase))
    for g in gpus.gpus if gpus is not None else ():
        host = host_of(g)
        labels = [run_of.get(host, ""), host or local_host, str(g.index)]
        m.gpu("lost", "1 when the GPU fell off the bus", labels, int(g.lost))
        m.gpu("temperature_celsius", "GPU temperature", labels, g.temperature_c)
        m.gpu("slowdown_temperature_celsius", "Where the GPU slows down", labels, g.slowdown_temp_c)
        m.gpu("sm_clock_mhz", "SM clock", labels, g.sm_clock_mhz)
        m.gpu("max_sm_clock_mhz", "Highest SM clock", labels, g.max_sm_clock_mhz)
        m.gpu("utilization_ratio", "GPU utilisation, 0 to 1", labels, _ratio(g.utilization_pct))
        m.gpu("memory_used_mib", "Memory in use", labels, g.memory_used_mib)
        m.gpu("memory_total_mib", "Memory on the GPU", labels, g.memory_total_mib)
        m.gpu("power_watts", "Power draw", labels, _watts(g.power_mw))
        for reason in sorted(REASONS):
            m.reason(labels + [reason], int(reason in g.reasons))
    return m.all()


def _ratio(pct: int | None) -> float | None:
    return pct / 100 if pct is not None else None


def _watts(mw: int | None) -> float | None:
    return mw / 1000 if mw is not None else None


class _Families:
    """Gauge families by name, created on first use, so the output has no empty family."""

    def __init__(self) -> None:
        self._by_name: dict[str, GaugeMetricFamily] = {}

    def run(self, name: str, doc: str, labels: list[str], value: float | None) -> None:
        self._add(name, doc, ["run"], labels, value)

    def phase(self, labels: list[str], value: int) -> None:
        doc = "1 for the run's phase (waiting, running, stalled, finished...), 0 for the others"
        self._add("run_phase", doc, ["run", "phase"], labels, value)

    def gpu(self, name: str, doc: str, labels: list[str], value: float | None) -> None:
        self._add(f"gpu_{name}", doc, ["run", "host", "gpu"], labels, value)

    def reason(self, labels: list[str], value: int) -> None:
        doc = "1 while NVML reports this clock event reason (slowdown)"
        self._add("gpu_clock_event_reason", doc, ["run", "host", "gpu", "reason"], labels, value)

    def _add(
        self, name: str, doc: str, names: list[str], labels: list[str], value: float | None
    ) -> None:
        if value is None or not math.isfinite(value):
            return  # unknown: absent, as Prometheus expects, rather than a made-up 0
        full = f"etagram_{name}"
        if full not in self._by_name:
            self._by_name[full] = GaugeMetricFamily(full, doc, labels=names)
        self._by_name[full].add_metric(labels, float(value))

    def all(self) -> list[Metric]:
        return list(self._by_name.values())


class _Collector(Collector):
    def __init__(self, source: Source, loop: asyncio.AbstractEventLoop, local_host: str) -> None:
        self.source, self.loop, self.local_host = source, loop, local_host

    def collect(self) -> Iterator[Metric]:
        future = asyncio.run_coroutine_threadsafe(self._gather(), self.loop)
        yield from future.result(timeout=SCRAPE_TIMEOUT_S)

    async def _gather(self) -> list[Metric]:
        s = self.source
        return families(s.run_states(), s.gpu_snapshot(), s.host_gpus.run_of, self.local_host)


@dataclass
class MetricsServer:
    """The HTTP server in its thread; `close()` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(source: Source, port: int, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve /metrics on addr:port (port 0: any free one); call from the service's loop.
    OSError when the port is taken."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(source, asyncio.get_running_loop(), socket.gethostname()))
    server, thread = start_http_server(port, addr, registry)
    return MetricsServer(server, thread)
