"""The hub's folding of what agents report: runs met on the way, GPUs per host, alerts that
name the host; one machine (host "") unchanged."""

from __future__ import annotations

import io
import time

from bot.adapters.console import Console
from bot.assemble import MAX_HUB_RUNS
from bot.bus import GpuReport, LogLines
from bot.config import Alerts, Config, General
from bot.core.gpu import HW_THERMAL, SW_THERMAL, GpuSample, GpuSnapshot
from bot.core.hosts import host_of
from bot.core.notices import Alert, Notice
from bot.core.policy import PushPolicy
from bot.fold import Fold
from bot.notify import Chats, Notifier
from bot.parts import Supervisor
from tests.generated import nanogpt_lines
from tests.test_service_e2e import HEADER

COOL = (GpuSample(0, temperature_c=67), GpuSample(1, temperature_c=66))
HOT = (
    GpuSample(0, temperature_c=66),
    GpuSample(1, temperature_c=91, reasons=frozenset({HW_THERMAL, SW_THERMAL})),
)


class Hub(Fold):
    """A hub's fold whose notices are kept for the test, besides going to the console."""

    def __init__(self) -> None:
        config = Config(general=General(timezone="UTC"), alerts=Alerts(slowdown_min_s=1.0))
        chats = Chats([], language="en", timezone="UTC", now=time.time, store=lambda: None)
        notifier = Notifier(PushPolicy(), chats, now=time.time)
        super().__init__(
            config,
            [],
            notifier,
            Supervisor(),
            console=Console(io.StringIO()),
            max_runs=MAX_HUB_RUNS,
        )
        self.said: list[Notice] = []

    async def notify(self, run: str, notices: list[Notice], *, replayed: bool = False) -> None:
        self.said += notices
        await super().notify(run, notices, replayed=replayed)


async def test_runs_are_met_as_agents_report_them_and_thermal_alerts_name_the_host() -> None:
    hub = Hub()
    await hub.handle(LogLines("gpt2", tuple(HEADER.splitlines() + nanogpt_lines(0, 100)), 10.0))
    assert list(hub.monitors) == ["gpt2"] and hub.monitors["gpt2"].state.iter == 90
    for t in range(4):
        await hub.handle(GpuReport("node1", GpuSnapshot(100.0 + t, COOL), "gpt2"))
        await hub.handle(GpuReport("node3", GpuSnapshot(100.0 + t, HOT), "gpt2"))
    await hub.handle(GpuReport("idle-box", GpuSnapshot(101.0, COOL), "llama"))

    thermal = [n for n in hub.said if isinstance(n, Alert) and n.type == "thermal"]
    assert len(thermal) == 1
    assert thermal[0].run == "gpt2"
    assert (thermal[0].evidence.host, thermal[0].evidence.gpu) == ("node3", 1)

    shown = hub.gpu_snapshot()
    assert shown is not None
    assert [(host_of(g), g.index) for g in shown.gpus] == [
        ("idle-box", 0),
        ("idle-box", 1),
        ("node1", 0),
        ("node1", 1),
        ("node3", 0),
        ("node3", 1),
    ]
    assert set(hub.monitors) == {"gpt2", "llama"}  # a GPU-only agent names its run

    # /plot traces the worst GPU of all the hosts that train the run, at the run's iteration:
    # node1's alone first, then node1's and node3's together.
    trace = hub.monitors["gpt2"].state.gpu_trace.all()
    assert [(p.iter, p.celsius, p.throttled, p.gpus) for p in trace] == [
        (90, 67.0, False, 2),
        *[(90, 91.0, True, 4)] * 7,
    ]
    assert hub.monitors["llama"].state.gpu_trace.all() == []  # no progress yet: nowhere to go


async def test_one_machine_is_unchanged() -> None:
    hub = Hub()
    snapshot = GpuSnapshot(1.0, COOL)
    await hub.handle(GpuReport("", snapshot))
    assert hub.gpu_snapshot() is snapshot and hub.host_gpus.latest == {}


async def test_a_thermal_slowdown_read_from_the_log_names_the_host_and_its_gpu() -> None:
    """node-b's only GPU overheats and the log's steps slow down: the alert raised from the
    log lines says node-b:0, like the one raised from the GPU reports."""
    hub = Hub()
    hot_b = (GpuSample(0, temperature_c=89, reasons=frozenset({HW_THERMAL, SW_THERMAL})),)
    await hub.handle(LogLines("gpt2", tuple(HEADER.splitlines() + nanogpt_lines(0, 400)), 10.0))
    for t in range(3):
        await hub.handle(GpuReport("node-a", GpuSnapshot(20.0 + t, COOL), "gpt2"))
        await hub.handle(GpuReport("node-b", GpuSnapshot(20.0 + t, hot_b), "gpt2"))
    slow = [f"iter {it}: loss 2.5000, time 400.00ms, mfu 12.00%" for it in range(400, 700, 10)]
    await hub.handle(LogLines("gpt2", tuple(slow), 30.0))
    from_log = [
        n
        for n in hub.said
        if isinstance(n, Alert) and n.type == "thermal" and n.evidence.slowdown_pct is not None
    ]
    assert from_log, hub.said
    assert (from_log[0].evidence.host, from_log[0].evidence.gpu) == ("node-b", 0)
