"""What the run state keeps for /plot: the worst GPU at each iteration over the whole run, and
the alerts where they happened; both bounded."""

from __future__ import annotations

from bot.core.events import ErrorText, Progress
from bot.core.gpu import HW_THERMAL, SW_POWER_CAP, GpuSample, GpuSnapshot
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, NanEvidence, OomEvidence, StallEvidence, StartedEvidence
from bot.core.traces import ALERTS_KEPT, GPU_POINTS, AlertMarks, GpuPoint, GpuTrace, gpu_point


def gpu(
    index: int, util: int, used: int, temp: int, reasons: frozenset[str] = frozenset()
) -> GpuSample:
    return GpuSample(
        index,
        utilization_pct=util,
        memory_used_mib=used,
        memory_total_mib=1000,
        temperature_c=temp,
        reasons=reasons,
    )


def test_a_snapshot_is_its_worst_gpu() -> None:
    snapshot = GpuSnapshot(
        0.0,
        (
            gpu(0, 100, 500, 70),
            gpu(1, 2, 900, 60),  # a hung rank: idle, memory nearly full
            gpu(2, 99, 400, 84, frozenset({HW_THERMAL})),
            GpuSample(3, lost=True, temperature_c=99),  # fell off the bus: nothing to read
        ),
    )
    assert gpu_point(40, snapshot) == GpuPoint(40, 84.0, 90.0, 2.0, True, 3)
    power = GpuSnapshot(0.0, (gpu(0, 100, 500, 70, frozenset({SW_POWER_CAP})),))
    assert gpu_point(1, power) == GpuPoint(1, 70.0, 50.0, 100.0, True, 1)
    assert gpu_point(1, GpuSnapshot(0.0, error="library_not_found")) is None
    assert gpu_point(1, GpuSnapshot(0.0, (GpuSample(0),))) == GpuPoint(
        1, None, None, None, False, 1
    )


def test_the_trace_spans_the_whole_run_in_bounded_points_keeping_the_worst() -> None:
    trace = GpuTrace()
    trace.add(None, GpuSnapshot(0.0, (gpu(0, 100, 500, 99),)))  # before the first line: nowhere
    n = 5 * GPU_POINTS
    for it in range(n):
        hot = it == 1234
        throttled = frozenset({HW_THERMAL}) if it == 2345 else frozenset()
        trace.add(
            it,
            GpuSnapshot(
                float(it), (gpu(0, 0 if it == 3456 else 100, 500, 95 if hot else 70, throttled),)
            ),
        )
    points = trace.all()
    assert GPU_POINTS // 2 <= len(points) <= GPU_POINTS
    assert points[0].iter < 10 and points[-1].iter == n - 1
    assert [p.iter for p in points] == sorted(p.iter for p in points)
    assert max(p.celsius or 0 for p in points) == 95  # one hot reading survives the merging
    assert sum(p.throttled for p in points) == 1
    assert min(100 if p.util_pct is None else p.util_pct for p in points) == 0
    assert min(p.celsius or 100 for p in points) == 70


EVIDENCE_OF = {"started": StartedEvidence(), "oom": OomEvidence(), "stall": StallEvidence()}


def alert(kind: str, severity: str, it: int | None) -> Alert:
    evidence = NanEvidence("nan") if kind == "nan" else EVIDENCE_OF[kind]
    return Alert("gpt2", kind, severity, it, 0.0, evidence)


def test_alert_marks_keep_warnings_and_critical_alerts_at_their_iteration() -> None:
    marks = AlertMarks()
    said = [
        alert("started", "info", 0),
        alert("oom", "critical", 120),
        alert("stall", "warning", None),
    ]
    assert marks.noted(said, 130) == said
    assert [(m.iter, m.type) for m in marks.marks] == [(120, "oom"), (130, "stall")]
    marks.noted([alert("stall", "warning", None)], None)  # before any progress: no place
    for k in range(2 * ALERTS_KEPT):
        marks.noted([alert("nan", "critical", 1000 + k)], None)
    assert len(marks.marks) == ALERTS_KEPT and marks.marks[-1].iter == 999 + 2 * ALERTS_KEPT


def test_the_run_state_records_both() -> None:
    monitor = RunMonitor("gpt2", total_iters=1000)
    state = monitor.state
    monitor.apply_gpu(GpuSnapshot(0.0, (gpu(0, 100, 500, 70),)), 0.0)
    for it in range(0, 50, 10):
        monitor.apply(Progress(it, loss=2.0, dt_s=0.1), float(it))
    monitor.apply_gpu(GpuSnapshot(60.0, (gpu(0, 100, 500, 70),)), 60.0)
    monitor.apply(ErrorText("oom", "torch.OutOfMemoryError: CUDA out of memory."), 61.0)
    assert [p.iter for p in state.gpu_trace.all()] == [40]
    assert [(m.iter, m.type, m.severity) for m in state.alert_marks.marks] == [
        (40, "oom", "critical")
    ]
