"""Detectors through RunState: each rule, its evidence, and its cool-down."""

from __future__ import annotations

import math
from dataclasses import replace

from benchmarks.alert_cases import DEMO, demo_alerts, gpu_snapshot
from bot.config import Config
from bot.core.detectors import NAN_REARM_POINTS, Thresholds
from bot.core.events import Checkpoint, ErrorText, Eval, Event, Progress, RunConfig, TrainingEnd
from bot.core.gpu import HW_POWER_BRAKE, SW_THERMAL, GpuSample, GpuSnapshot
from bot.core.notices import Alert
from bot.core.state import RunState


def alerts(state: RunState, events: list[Event], wall_s: float = 0.0) -> list[Alert]:
    out: list[Alert] = []
    for ev in events:
        out += [n for n in state.apply(ev, wall_s) if isinstance(n, Alert)]
    return out


def progress(start: int, stop: int, step: int = 10, dt_s: float = 0.2, loss: float = 3.0):
    return [Progress(i, loss=loss, dt_s=dt_s) for i in range(start, stop, step)]


def live(state: RunState, events: list[Event], start_wall_s: float = 0.0) -> list[Alert]:
    """One event per wall-clock second."""
    out: list[Alert] = []
    for n, ev in enumerate(events):
        out += [a for a in state.apply(ev, start_wall_s + n) if isinstance(a, Alert)]
    return out


def types(found: list[Alert]) -> list[str]:
    return [a.type for a in found]


def test_thresholds_default_to_config_and_read_it() -> None:
    assert Thresholds.from_config(Config()) == Thresholds()
    custom = replace(Config(), slowdown_pct=30.0, stall_floor_s=60.0)
    assert Thresholds.from_config(custom).slowdown_pct == 30.0
    assert Thresholds.from_config(custom).stall_floor_s == 60.0


# Lifecycle ---------------------------------------------------------------------------------


def test_started_once_with_total_and_finished_with_summary() -> None:
    state = RunState("r", total_iters=100)
    found = alerts(state, [RunConfig({"eval_interval": 50}), *progress(0, 50)])
    assert [(a.type, a.severity, a.iter) for a in found] == [("started", "info", 0)]
    assert found[0].evidence["total_iters"] == 100
    found = alerts(state, [Eval(50, 2.9, 2.8), *progress(50, 101)])
    assert types(found) == ["finished"]
    evidence = found[0].evidence
    assert evidence["best_val_loss"] == 2.8 and evidence["best_iter"] == 50
    assert evidence["elapsed_s"] > 0 and "first_eta_error_pct" in evidence
    assert alerts(state, [TrainingEnd(0, "exit")]) == []  # already said


def test_resume_is_a_jump_back_not_interleaved_writers() -> None:
    state = RunState("r")
    interleaved = [Progress(10)] + [Progress(j) for i in range(20, 200, 10) for j in (i, i - 10)]
    assert types(alerts(state, interleaved)) == ["started"]
    found = alerts(state, [Progress(100), Progress(110)])
    want = {"to_iter": 100, "from_iter": 180}
    assert [(a.type, a.evidence) for a in found] == [("resumed", want)]


def test_a_counter_back_to_about_zero_is_a_new_launch_not_a_resume() -> None:
    state = RunState("r")
    alerts(state, [Progress(i, total=200) for i in range(10, 200, 10)])
    found = alerts(state, [Progress(0, total=300), Progress(10, total=300)])
    want = {"to_iter": 0, "from_iter": 190, "total_iters": 300}
    assert [(a.type, a.evidence) for a in found] == [("new_launch", want)]


# Failures ----------------------------------------------------------------------------------

OOM_WRAPPER = ErrorText("oom", "torch.OutOfMemoryError: Caught OutOfMemoryError in replica 0")
OOM_ORIGINAL = ErrorText(
    "oom",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB. GPU 0 ...",
    {"tried_mib": 512.0, "gpu_index": 0.0, "total_gib": 63.42},
)


def test_one_oom_alert_per_failure_with_its_numbers_and_no_crash_after_it() -> None:
    state = RunState("r")
    alerts(state, progress(0, 100))
    failure: list[Event] = [
        ErrorText("traceback", "Traceback (most recent call last):"),
        OOM_WRAPPER,
        ErrorText("traceback", "Original Traceback (most recent call last):"),
        OOM_ORIGINAL,
        OOM_ORIGINAL,
        ErrorText("error", "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:"),
        TrainingEnd(1, "crash"),
    ]
    found = alerts(state, failure)
    assert [(a.type, a.severity, a.iter) for a in found] == [("oom", "critical", 90)]
    assert found[0].evidence["tried_mib"] == 512.0 and found[0].evidence["gpu"] == 0
    assert state.tick(10_000.0) == []  # the run is gone: no crash, no stall


def test_an_oom_after_training_went_on_is_a_new_one() -> None:
    state = RunState("r")
    first = alerts(state, [*progress(0, 50), OOM_ORIGINAL, *progress(50, 80), OOM_ORIGINAL])
    assert [(a.type, a.iter) for a in first if a.type == "oom"] == [("oom", 40), ("oom", 70)]


def test_an_oom_wrapper_alone_is_said_when_the_failure_ends() -> None:
    state = RunState("r")
    assert types(alerts(state, [*progress(0, 50), OOM_WRAPPER])) == ["started"]
    found = state.end_of_log()
    assert [(a.type, a.iter) for a in found if isinstance(a, Alert)] == [("oom", 40)]


def test_slurm_cancellation_is_a_crash_at_once_with_its_cause() -> None:
    state = RunState("r")
    line = "slurmstepd: error: *** JOB 1 ON g1 CANCELLED AT 2024-10-10 DUE TO TIME LIMIT ***"
    found = alerts(state, [*progress(0, 50), ErrorText("cancelled", line, {"cause": "time_limit"})])
    crash = found[-1]
    assert (crash.type, crash.severity, crash.iter) == ("crash", "critical", 40)
    assert crash.evidence["cause"] == "time_limit" and crash.evidence["error"] == line
    assert alerts(state, [TrainingEnd(143, "signal")]) == []  # same failure


def test_traceback_then_exit_code_is_one_crash_with_the_error_line() -> None:
    state = RunState("r")
    found = alerts(
        state,
        [
            *progress(0, 50),
            ErrorText("traceback", "Traceback (most recent call last):"),
            ErrorText("error", "ValueError: bad shape"),
        ],
    )
    assert types(found) == ["started"]
    found = alerts(state, [TrainingEnd(1, "crash")])
    assert [(a.type, a.iter) for a in found] == [("crash", 40)]
    assert found[0].evidence == {"cause": "crash", "error": "ValueError: bad shape", "exit_code": 1}


def test_a_crash_before_a_restart_is_said_before_the_new_launch() -> None:
    state = RunState("r")
    events: list[Event] = [
        *progress(0, 500),
        ErrorText("traceback", "Traceback (most recent call last):"),
        ErrorText("error", "AssertionError: checkpoint missing"),
        *progress(0, 30),
    ]
    found = alerts(state, events)
    assert [(a.type, a.iter) for a in found] == [("started", 0), ("crash", 490), ("new_launch", 0)]


def test_exit_zero_after_a_traceback_is_a_finish() -> None:
    state = RunState("r")
    events: list[Event] = [
        *progress(0, 50),
        ErrorText("traceback", "Traceback (most recent call last):"),
        TrainingEnd(0, "exit"),
    ]
    assert types(alerts(state, events)) == ["started", "finished"]


# Losses ------------------------------------------------------------------------------------


def test_nan_once_until_finite_for_long() -> None:
    state = RunState("r")
    nan = float("nan")
    events: list[Event] = [*progress(0, 100), *progress(100, 200, loss=nan)]
    events += [*progress(200, 300), *progress(300, 310, loss=math.inf)]
    found = alerts(state, events)
    assert [(a.type, a.iter) for a in found if a.type == "nan"] == [("nan", 100)]
    finite = progress(310, 310 + 10 * NAN_REARM_POINTS)
    again = alerts(state, [*finite, Progress(10_000, loss=nan)])
    assert [(a.type, a.iter, a.evidence["loss"]) for a in again] == [("nan", 10_000, "nan")]


def test_nan_eval_loss_is_a_nan_alert_at_the_eval() -> None:
    found = alerts(RunState("r"), [Eval(0, None, float("nan")), Progress(1, loss=float("nan"))])
    assert [(a.type, a.iter, a.evidence.get("source")) for a in found[:1]] == [
        ("nan", 0, "val_loss")
    ]
    assert types(found) == ["nan", "started"]


def test_a_single_noisy_loss_is_not_a_spike_three_are() -> None:
    state = RunState("r")
    events = [*progress(0, 300), Progress(300, loss=9.0), *progress(310, 400)]
    assert "loss_spike" not in types(alerts(state, events))
    found = alerts(state, [Progress(i, loss=9.0) for i in (400, 410, 420, 430)])
    assert [(a.type, a.severity, a.iter) for a in found] == [("loss_spike", "warning", 400)]
    assert found[0].evidence["median"] == 3.0 and found[0].evidence["loss"] == 9.0


def test_a_run_resumed_mid_way_is_judged_from_its_first_loss() -> None:
    state = RunState("r")
    losses = [1.47, 13.8, 14.0, 14.4, 14.3]
    found = alerts(state, [Progress(47700 + 10 * n, loss=x) for n, x in enumerate(losses)])
    assert [(a.type, a.iter) for a in found] == [("started", 47700), ("loss_spike", 47710)]


def test_a_restart_from_scratch_forgets_the_old_losses() -> None:
    state = RunState("r")
    events = [*progress(0, 3000, loss=0.2), *progress(0, 100, loss=90.0)]
    assert "loss_spike" not in types(alerts(state, events))


# Step time and the GPU ---------------------------------------------------------------------


def test_thermal_episode_says_where_it_began_what_it_costs_and_its_end() -> None:
    found = demo_alerts(DEMO, frozenset({SW_THERMAL}))
    thermal = [a for a in found if a.type == "thermal"]
    assert [a.severity for a in thermal] == ["warning", "info"]
    alert, recovered = thermal
    ev = alert.evidence
    assert DEMO.thermal_from <= int(ev["since_iter"]) <= DEMO.thermal_from + 150
    assert 15 <= float(ev["slowdown_pct"]) <= 30 and float(ev["minutes"]) >= 2
    assert ev["gpu"] == 0 and ev["temperature_c"] == 88 and ev["reasons"] == SW_THERMAL
    assert float(ev["sm_clock_ratio"]) < 0.8
    assert alert.eta_change_s is not None and alert.eta_change_s > 0
    assert recovered.evidence["recovered"] == 1
    assert recovered.iter is not None and recovered.iter > DEMO.thermal_to


def test_no_gpu_means_slowdown_never_thermal() -> None:
    found = demo_alerts(DEMO, None)
    assert {a.type for a in found} == {"started", "slowdown", "finished"}


def test_a_short_episode_is_not_a_slowdown() -> None:
    short = replace(DEMO, thermal_from=700, thermal_to=900)  # ~40 s of run clock
    found = demo_alerts(short, frozenset({SW_THERMAL}))
    assert types(found) == ["started", "finished"]


def test_power_brake_is_power() -> None:
    found = demo_alerts(DEMO, frozenset({HW_POWER_BRAKE}))
    assert [a.type for a in found if a.severity == "warning"] == ["power"]


def hot_snapshot(wall_s: float, reasons: frozenset[str] = frozenset({SW_THERMAL})) -> GpuSnapshot:
    return gpu_snapshot(wall_s, reasons)


def test_thermal_reasons_without_slowdown_warn_once_when_lasting() -> None:
    state = RunState("r")
    alerts(state, progress(0, 100))
    found: list[Alert] = []
    for k in range(60):  # five minutes of samples, hot from the start
        found += [
            a for a in state.apply_gpu(hot_snapshot(5.0 * k), 5.0 * k) if isinstance(a, Alert)
        ]
    assert [(a.type, a.severity) for a in found] == [("thermal", "warning")]
    assert found[0].evidence["reasons"] == SW_THERMAL and "slowdown_pct" not in found[0].evidence
    assert state.gpu is not None


def test_memory_pressure_needs_several_samples_and_clears_with_hysteresis() -> None:
    state = RunState("r")

    def snap(wall_s: float, used_mib: int, lost: bool = False) -> GpuSnapshot:
        gpu = GpuSample(1, memory_used_mib=used_mib, memory_total_mib=10_000, lost=lost)
        return GpuSnapshot(
            wall_s, (GpuSample(0, memory_used_mib=1000, memory_total_mib=10_000), gpu)
        )

    def fold(*used: int) -> list[str]:
        out = []
        for n, u in enumerate(used):
            out += [
                a.type for a in state.apply_gpu(snap(float(n), u), float(n)) if isinstance(a, Alert)
            ]
        return out

    assert fold(9800, 9800, 9600, 9800, 9800) == []
    assert fold(9800) == ["memory_pressure"]
    assert fold(9650, 9800, 9800, 9800) == []  # 96.5 %: not cleared
    assert fold(9000, 9800, 9800, 9800) == ["memory_pressure"]
    lost = state.apply_gpu(snap(99.0, 0, lost=True), 99.0)
    assert [(a.type, a.severity, a.evidence["gpu"]) for a in lost if isinstance(a, Alert)] == [
        ("gpu_lost", "critical", 1)
    ]
    assert state.apply_gpu(snap(100.0, 0, lost=True), 100.0) == []


def test_an_nvml_error_snapshot_says_nothing() -> None:
    state = RunState("r")
    assert state.apply_gpu(GpuSnapshot(0.0, error="library_not_found"), 0.0) == []


# Time passing ------------------------------------------------------------------------------


def test_stall_once_after_the_floor_and_again_after_progress_returns() -> None:
    state = RunState("r", thresholds=Thresholds(stall_floor_s=600.0, stall_factor=10.0))
    live(state, progress(0, 100))  # one line a second, the last at wall 9
    assert state.tick(9 + 600.0) == []
    stall = state.tick(9 + 601.0)
    assert [(a.type, a.severity, a.iter) for a in stall if isinstance(a, Alert)] == [
        ("stall", "warning", 90)
    ]
    assert stall[0].evidence["silent_s"] == 601.0  # type: ignore[union-attr]
    assert state.tick(9 + 5000.0) == []
    live(state, progress(100, 110), start_wall_s=5100.0)
    assert [a.type for a in state.tick(5100 + 700.0) if isinstance(a, Alert)] == ["stall"]


def test_a_pause_already_survived_is_not_a_stall() -> None:
    state = RunState("r", thresholds=Thresholds(stall_floor_s=60.0))
    live(state, progress(0, 100))
    live(state, [Eval(100, 3.0, 3.0), Checkpoint(100), *progress(100, 200)], start_wall_s=500)
    assert state.tick(509 + 400.0) == []  # the eval pause was ~490 s: 1.5 x that is allowed
    assert [a.type for a in state.tick(509 + 800.0) if isinstance(a, Alert)] == ["stall"]


def test_no_stall_before_progress_or_after_the_end() -> None:
    state = RunState("r")
    assert state.tick(1e6) == []
    live(state, [*progress(0, 100), TrainingEnd(0, "exit")])
    assert state.tick(1e6) == []
