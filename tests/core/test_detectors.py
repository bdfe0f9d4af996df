"""Detectors through RunMonitor: each rule, its evidence, and its cool-down."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from benchmarks.alert_cases import DEMO, demo_alerts, gpu_snapshot
from bot.config import Alerts, Config
from bot.core.detectors import NAN_REARM_POINTS, Thresholds
from bot.core.events import Checkpoint, ErrorText, Eval, Event, Progress, RunConfig, TrainingEnd
from bot.core.gpu import HW_POWER_BRAKE, SW_THERMAL, GpuSample, GpuSnapshot
from bot.core.monitor import RunMonitor
from bot.core.notices import (
    Alert,
    CrashEvidence,
    NewLaunchEvidence,
    ResumedEvidence,
    StartedEvidence,
)
from bot.core.parsers import errors


def alerts(state: RunMonitor, events: list[Event], wall_s: float = 0.0) -> list[Alert]:
    out: list[Alert] = []
    for ev in events:
        out += [n for n in state.apply(ev, wall_s) if isinstance(n, Alert)]
    return out


def progress(start: int, stop: int, step: int = 10, dt_s: float = 0.2, loss: float = 3.0):
    return [Progress(i, loss=loss, dt_s=dt_s) for i in range(start, stop, step)]


def live(state: RunMonitor, events: list[Event], start_wall_s: float = 0.0) -> list[Alert]:
    """One event per wall-clock second."""
    out: list[Alert] = []
    for n, ev in enumerate(events):
        out += [a for a in state.apply(ev, start_wall_s + n) if isinstance(a, Alert)]
    return out


def types(found: list[Alert]) -> list[str]:
    return [a.type for a in found]


def test_thresholds_default_to_config_and_read_it() -> None:
    assert Thresholds.from_config(Config().alerts) == Thresholds()
    custom = Alerts(slowdown_pct=30.0, stall_floor_s=60.0)
    assert Thresholds.from_config(custom).slowdown_pct == 30.0
    assert Thresholds.from_config(custom).stall_floor_s == 60.0


# Lifecycle ---------------------------------------------------------------------------------


def test_started_once_with_total_and_finished_with_summary() -> None:
    state = RunMonitor("r", total_iters=100)
    found = alerts(state, [RunConfig({"eval_interval": 50}), *progress(0, 50)])
    assert [(a.type, a.severity, a.iter) for a in found] == [("started", "info", 0)]
    assert found[0].evidence.total_iters == 100
    found = alerts(state, [Eval(50, 2.9, 2.8), *progress(50, 101)])
    assert types(found) == ["finished"]
    evidence = found[0].evidence
    assert evidence.best_val_loss == 2.8 and evidence.best_iter == 50
    assert evidence.elapsed_s > 0 and evidence.first_eta_error_pct is not None
    assert alerts(state, [TrainingEnd(0, "exit")]) == []  # already said


def test_resume_is_a_jump_back_not_interleaved_writers() -> None:
    state = RunMonitor("r")
    interleaved = [Progress(10)] + [Progress(j) for i in range(20, 200, 10) for j in (i, i - 10)]
    assert types(alerts(state, interleaved)) == ["started"]
    found = alerts(state, [Progress(100), Progress(110)])
    want = ResumedEvidence(to_iter=100, from_iter=180)
    assert [(a.type, a.evidence) for a in found] == [("resumed", want)]


def test_a_counter_back_to_about_zero_is_a_new_launch_not_a_resume() -> None:
    state = RunMonitor("r")
    alerts(state, [Progress(i, total=200) for i in range(10, 200, 10)])
    found = alerts(state, [Progress(0, total=300), Progress(10, total=300)])
    want = NewLaunchEvidence(to_iter=0, from_iter=190, total_iters=300)
    assert [(a.type, a.evidence) for a in found] == [("new_launch", want)]


# Failures ----------------------------------------------------------------------------------

OOM_WRAPPER = ErrorText("oom", "torch.OutOfMemoryError: Caught OutOfMemoryError in replica 0")
OOM_ORIGINAL = ErrorText(
    "oom",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB. GPU 0 ...",
    {"tried_mib": 512.0, "gpu_index": 0.0, "total_gib": 63.42},
)


def test_a_stop_from_telegram_ends_the_run_with_who_asked_and_no_crash() -> None:
    state = RunMonitor("r", total_iters=1000)
    alerts(state, [Eval(0, 2.9, 2.8), *progress(0, 100)])
    interrupted: list[Event] = [
        ErrorText("traceback", "Traceback (most recent call last):"),
        ErrorText("error", "KeyboardInterrupt"),
    ]
    assert alerts(state, interrupted) == []
    found = [a for a in state.end(130, 5.0, "@alice") if isinstance(a, Alert)]
    assert [(a.type, a.severity, a.iter) for a in found] == [("stopped", "info", 90)]
    evidence = found[0].evidence
    assert evidence.by == "@alice" and evidence.exit_code == 130
    assert evidence.best_val_loss == 2.8 and evidence.elapsed_s > 0
    assert state.tick(10_000.0) == []  # stopped: no crash, no stall


def test_one_oom_alert_per_failure_with_its_numbers_and_no_crash_after_it() -> None:
    state = RunMonitor("r")
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
    assert found[0].evidence.tried_mib == 512.0 and found[0].evidence.gpu == 0
    assert state.tick(10_000.0) == []  # the run is gone: no crash, no stall


def test_an_oom_after_training_went_on_is_a_new_one() -> None:
    state = RunMonitor("r")
    first = alerts(state, [*progress(0, 50), OOM_ORIGINAL, *progress(50, 80), OOM_ORIGINAL])
    assert [(a.type, a.iter) for a in first if a.type == "oom"] == [("oom", 40), ("oom", 70)]


def test_an_oom_wrapper_alone_is_said_when_the_failure_ends() -> None:
    state = RunMonitor("r")
    assert types(alerts(state, [*progress(0, 50), OOM_WRAPPER])) == ["started"]
    found = state.end_of_log()
    assert [(a.type, a.iter) for a in found if isinstance(a, Alert)] == [("oom", 40)]


def test_slurm_cancellation_is_a_crash_at_once_with_its_cause() -> None:
    state = RunMonitor("r")
    line = "slurmstepd: error: *** JOB 1 ON g1 CANCELLED AT 2024-10-10 DUE TO TIME LIMIT ***"
    found = alerts(state, [*progress(0, 50), ErrorText("cancelled", line, {"cause": "time_limit"})])
    crash = found[-1]
    assert (crash.type, crash.severity, crash.iter) == ("crash", "critical", 40)
    assert crash.evidence.cause == "time_limit" and crash.evidence.error == line
    assert alerts(state, [TrainingEnd(143, "signal")]) == []  # same failure


def test_traceback_then_exit_code_is_one_crash_with_the_error_line() -> None:
    state = RunMonitor("r")
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
    want = CrashEvidence(cause="crash", error="ValueError: bad shape", exit_code=1)
    assert found[0].evidence == want


def test_a_crash_before_a_restart_is_said_before_the_new_launch() -> None:
    state = RunMonitor("r")
    events: list[Event] = [
        *progress(0, 500),
        ErrorText("traceback", "Traceback (most recent call last):"),
        ErrorText("error", "AssertionError: checkpoint missing"),
        *progress(0, 30),
    ]
    found = alerts(state, events)
    assert [(a.type, a.iter) for a in found] == [("started", 0), ("crash", 490), ("new_launch", 0)]


def test_exit_zero_after_a_traceback_is_a_finish() -> None:
    state = RunMonitor("r")
    events: list[Event] = [
        *progress(0, 50),
        ErrorText("traceback", "Traceback (most recent call last):"),
        TrainingEnd(0, "exit"),
    ]
    assert types(alerts(state, events)) == ["started", "finished"]


def scanned(*lines: str) -> list[Event]:
    """What the failure scanner reports for each line (lines without a failure give none)."""
    return [e for line in lines if (e := errors.scan(line)) is not None]


TRACEBACK = "Traceback (most recent call last):"
BANNER = "2024-05-01 10:00:00.123 | INFO | trainer:before_train:120 - args: Namespace(lr=0.1)"


def test_a_start_up_crash_is_said_with_no_iteration_and_quotes_the_exception() -> None:
    state = RunMonitor("r")
    found = alerts(state, scanned(BANNER, TRACEBACK, "RuntimeError: no CUDA device"))
    assert found == []  # a traceback alone may be handled: wait for what follows
    crash = [a for a in state.end_of_log() if isinstance(a, Alert)]
    assert [(a.type, a.iter) for a in crash] == [("crash", None)]
    assert crash[0].evidence == CrashEvidence(
        cause="exception", error="RuntimeError: no CUDA device"
    )
    assert state.state.phase == "crashed"


def test_an_import_error_before_any_progress_could_not_start() -> None:
    """Nothing ran: a crash whose cause says so (the run's phase too), quoting the line."""
    state = RunMonitor("r")
    alerts(state, scanned(BANNER, TRACEBACK, "ImportError: cannot import name 'Foo'"))
    crash = [a for a in state.end_of_log() if isinstance(a, Alert)]
    assert [(a.type, a.iter) for a in crash] == [("crash", None)]
    assert crash[0].evidence == CrashEvidence(
        cause="could_not_start",
        error="ImportError: cannot import name 'Foo'",
    )
    assert state.state.phase == "not_started"


def test_each_launch_that_dies_at_start_up_is_its_own_crash() -> None:
    state = RunMonitor("r")
    launches = [
        (TRACEBACK, "FileNotFoundError: [Errno 2] No such file or directory: 'a.txt'"),
        (TRACEBACK, "RuntimeError: CUDA error: no kernel image is available"),  # at once
        (TRACEBACK, "TypeError: unsupported operand type(s) for /: 'tuple' and 'float'"),
    ]
    events = [e for launch in launches for e in scanned(BANNER, *launch)]
    found = alerts(state, events) + [a for a in state.end_of_log() if isinstance(a, Alert)]
    assert [(a.type, a.iter, a.evidence.error[:9]) for a in found] == [
        ("crash", None, "FileNotFo"),  # said when the next launch starts
        ("crash", None, "RuntimeEr"),
        ("crash", None, "TypeError"),  # said when the log ends
    ]


def test_an_oom_in_each_launch_is_one_oom_each() -> None:
    state = RunMonitor("r")
    oom = "RuntimeError: CUDA out of memory. Tried to allocate 100.00 MiB (GPU 0; 11.76 GiB total"
    events = scanned(BANNER, TRACEBACK, oom, oom) + [*progress(0, 30)]
    events += scanned(TRACEBACK, oom, BANNER, TRACEBACK, oom)
    found = alerts(state, events)
    assert [(a.type, a.iter) for a in found if a.type == "oom"] == [
        ("oom", None),
        ("oom", 20),
        ("oom", None),  # the third launch printed no progress
    ]


def test_several_ranks_failing_the_same_way_is_a_crash_at_once_with_the_iteration() -> None:
    state = RunMonitor("r")
    alerts(state, [Progress(0)])
    one = scanned(TRACEBACK, "RuntimeError: Expected all tensors on one device, got cuda:9, cpu!")
    two = scanned(TRACEBACK, "RuntimeError: Expected all tensors on one device, got cuda:3, cpu!")
    assert alerts(state, one) == []
    found = alerts(state, two)
    assert [(a.type, a.iter) for a in found] == [("crash", 0)]
    kill = "[2024-01-02 03:04:05,6] [INFO] [launch.py:315:sigkill_handler] Killing subprocess 7"
    assert alerts(state, [*two, *scanned(kill, kill)]) == []  # the same failure


def test_before_any_progress_the_same_handled_traceback_on_every_rank_is_no_crash() -> None:
    optional = scanned(TRACEBACK, "ModuleNotFoundError: No module named 'apex'")
    assert types(alerts(RunMonitor("r"), optional * 4 + progress(0, 50))) == ["started"]


def test_a_kill_after_an_exception_quotes_the_exception() -> None:
    state = RunMonitor("r")
    events = [*progress(0, 50)] + scanned(
        TRACEBACK,
        "FileNotFoundError: Caught FileNotFoundError in DataLoader worker process 3.",
        "Original Traceback (most recent call last):",
        "FileNotFoundError: [Errno 2] No such file or directory: '/data/x.jpg'",
        "[2025-07-12 22:03:34,200] [INFO] [launch.py:315:sigkill_handler] Killing subprocess 11",
    )
    found = [a for a in alerts(state, events) if a.type == "crash"]
    assert [(a.iter, a.evidence) for a in found] == [
        (
            40,
            CrashEvidence(
                cause="exception",
                error="FileNotFoundError: [Errno 2] No such file or directory: '/data/x.jpg'",
            ),
        )
    ]


def test_a_child_failed_error_is_folded_into_its_cause_or_quoted_alone() -> None:
    child = "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:"
    state = RunMonitor("r")
    events = [*progress(0, 50), *scanned(TRACEBACK, "[rank1]: KeyError: 'labels'", child)]
    found = [a for a in alerts(state, events) if a.type == "crash"]
    assert [(a.iter, a.evidence.error) for a in found] == [(40, "KeyError: 'labels'")]
    found = alerts(RunMonitor("r"), [*progress(0, 50), *scanned(child)])
    assert [(a.type, a.evidence.error) for a in found[1:]] == [("crash", child)]


def test_a_collective_timeout_is_a_stall_then_the_abort_is_the_crash() -> None:
    state = RunMonitor("r")
    watchdog = (
        "5: [rank5]:[E0101 ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught collective"
        " operation timeout: WorkNCCL(SeqNum=9, OpType=BROADCAST, Timeout(ms)=600000) ran for"
        " 600030 milliseconds before timing out."
    )
    echo = "5: [rank5]: RuntimeError: Storage size calculation overflowed with sizes=[4, 123]"
    events = [*progress(0, 50)] + scanned(watchdog, watchdog, TRACEBACK, echo, TRACEBACK, echo)
    found = alerts(state, events)
    assert [(a.type, a.severity, a.iter) for a in found[1:]] == [("stall", "warning", 40)]
    assert found[1].evidence.timeout_s == 600.0
    assert found[1].evidence.cause == "collective_timeout"
    abort = "5: terminate called after throwing an instance of 'c10::DistBackendError'"
    found = alerts(state, scanned(abort, "srun: error: nid1: tasks 4,6: Killed"))
    assert [(a.type, a.iter) for a in found] == [("crash", 40)]
    assert found[0].evidence.error.startswith("RuntimeError: Storage size")


def test_hydra_job_error_is_confirmed_by_its_trailer_and_an_oom_in_it_is_the_alert() -> None:
    state = RunMonitor("r")
    events = scanned(
        "Error executing job with overrides: ['data.batch=256']",
        TRACEBACK,
        "ray.exceptions.RayTaskError(RuntimeError): ray::TaskRunner.run() (pid=1, ip=10.0.0.1)",
        "ray.exceptions.RayTaskError(RuntimeError): ray::Worker.step() (pid=2, ip=10.0.0.1)",
        "RuntimeError: XLA:TPU compile permanent error. Ran out of memory in memory space hbm.",
        "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
    )
    assert [(a.type, a.iter) for a in alerts(state, events)] == [("oom", None)]
    events = scanned(
        BANNER,
        "Error executing job with overrides: ['model=big']",
        TRACEBACK,
        "ValueError: unknown model 'big'",
        "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
    )
    found = alerts(RunMonitor("r"), events)
    assert [(a.type, a.evidence.error) for a in found] == [
        ("crash", "ValueError: unknown model 'big'")
    ]


def test_exit_codes_and_cancellations_say_their_cause() -> None:
    cases = [
        ("Process finished with exit code -1073740791 (0xC0000409)", "exit", -1073740791),
        ("Experiment 2 failed!", "exit", None),
        (
            "slurmstepd: error: *** JOB 7 ON n1 CANCELLED AT 2024-07-05T08:48:57 ***",
            "cancelled",
            None,
        ),
    ]
    for line, cause, code in cases:
        state = RunMonitor("r")
        found = alerts(state, [*progress(0, 50), *scanned(line)])
        crash = found[-1]
        assert (crash.type, crash.iter, crash.evidence.cause) == ("crash", 40, cause)
        assert crash.evidence.exit_code == code and crash.evidence.error == line


def test_a_program_start_after_a_finished_run_gives_the_next_failure_no_iteration() -> None:
    state = RunMonitor("r", total_iters=50)
    found = alerts(state, [*progress(0, 51), *scanned("System environment:", "Run 2 failed!")])
    assert [(a.type, a.iter) for a in found] == [("started", 0), ("finished", 50), ("crash", None)]


def test_a_spike_that_ends_in_nan_is_said_with_the_nan() -> None:
    state = RunMonitor("r")
    finite = [Progress(i, loss=1.8 + 0.01 * (i % 7)) for i in range(0, 3000, 10)]
    found = alerts(state, [*finite, Progress(3000, loss=6.4e9), Progress(3001, loss=math.nan)])
    assert [(a.type, a.iter) for a in found[1:]] == [("loss_spike", 3000), ("nan", 3001)]


def test_an_explosion_right_after_the_counter_restarts_is_a_spike() -> None:
    """I-JEPA's log: a first phase ends near 64,000 with a loss of 1.8; the main phase counts
    from 0 again, its first autoencoder loss is 6.4e9 and every loss after it is nan (synthetic
    losses, the shape of that log)."""
    state = RunMonitor("r")
    first_phase = [Progress(i, loss=1.8 + 0.01 * (i % 7)) for i in range(0, 64_000, 100)]
    found = alerts(state, [*first_phase, Progress(0, loss=6.4e9), Progress(1, loss=math.nan)])
    assert [(a.type, a.iter) for a in found[1:]] == [
        ("new_launch", 0),
        ("loss_spike", 0),
        ("nan", 1),
    ]
    assert found[2].evidence.loss == 6.4e9 and found[2].evidence.median == 1.83


def test_a_new_run_starting_high_after_a_converged_one_is_no_spike() -> None:
    for converged, first in ((0.5, 10.9), (0.001, 2.0), (120.0, 9000.0)):
        state = RunMonitor("r")
        old = [Progress(i, loss=converged) for i in range(0, 5000, 10)]
        new = [Progress(i, loss=first * (1 - i / 1000)) for i in range(0, 300, 10)]
        assert "loss_spike" not in types(alerts(state, old + new)), (converged, first)


# Losses ------------------------------------------------------------------------------------


def test_nan_once_until_finite_for_long() -> None:
    state = RunMonitor("r")
    nan = float("nan")
    events: list[Event] = [*progress(0, 100), *progress(100, 200, loss=nan)]
    events += [*progress(200, 300), *progress(300, 310, loss=math.inf)]
    found = alerts(state, events)
    assert [(a.type, a.iter) for a in found if a.type == "nan"] == [("nan", 100)]
    finite = progress(310, 310 + 10 * NAN_REARM_POINTS)
    again = alerts(state, [*finite, Progress(10_000, loss=nan)])
    assert [(a.type, a.iter, a.evidence.loss) for a in again] == [("nan", 10_000, "nan")]


def test_nan_eval_loss_is_a_nan_alert_at_the_eval() -> None:
    found = alerts(RunMonitor("r"), [Eval(0, None, float("nan")), Progress(1, loss=float("nan"))])
    assert [(a.type, a.iter, a.evidence.source) for a in found[1:]] == [("nan", 0, "val_loss")]
    assert types(found) == ["started", "nan"]  # the eval opened the run: its start first


def test_an_eval_before_any_progress_says_the_start_before_itself() -> None:
    """nanoGPT evaluates at iteration 0 before its first `iter 0` line, HF with
    `eval_on_start`: the start is said first, once, then the eval."""
    state = RunMonitor("r", fmt="nanogpt", total_iters=2000)
    lines = ["step 0: train loss 10.8932, val loss 10.9451", "iter 0: loss 10.8921, time 170.00ms"]
    said = [n for _, notices in state.feed(lines, 0.0) for n in notices]
    assert [type(n).__name__ for n in said] == ["Alert", "EvalNotice"]
    assert (said[0].type, said[0].iter, said[0].evidence) == ("started", 0, StartedEvidence(2000))
    found = alerts(RunMonitor("r"), [Eval(500, None, 2.0), *progress(510, 600)])
    assert [(a.type, a.iter) for a in found] == [("started", 500)]  # from a resumed checkpoint


def test_a_single_noisy_loss_is_not_a_spike_three_are() -> None:
    state = RunMonitor("r")
    events = [*progress(0, 300), Progress(300, loss=9.0), *progress(310, 400)]
    assert "loss_spike" not in types(alerts(state, events))
    found = alerts(state, [Progress(i, loss=9.0) for i in (400, 410, 420, 430)])
    assert [(a.type, a.severity, a.iter) for a in found] == [("loss_spike", "warning", 400)]
    assert found[0].evidence.median == 3.0 and found[0].evidence.loss == 9.0


def test_per_batch_losses_that_vary_by_a_factor_are_no_spike_a_jump_by_a_factor_is() -> None:
    """Raw per-batch losses of a healthy fine-tune (a custom logger's `Batch loss: 0.0090`)
    range over two orders of magnitude: judged in spreads of their logarithm, no bursts of
    them is a spike (on the real log, the linear spread gave 20 warnings); a jump far above
    that noise still is: `loss_spike_z` (8) spreads of the logarithm, here e^(8 x 1.2), about
    15,000 times the median."""
    rng = random.Random(7)
    noisy = [Progress(i, loss=0.01 * math.exp(rng.gauss(0.0, 1.2))) for i in range(3000)]
    state = RunMonitor("r")
    assert "loss_spike" not in types(alerts(state, noisy))
    found = alerts(state, [Progress(3000 + i, loss=1000.0) for i in range(4)])
    assert [(a.type, a.iter) for a in found] == [("loss_spike", 3000)]


def test_losses_below_zero_are_judged_by_their_linear_spread() -> None:
    state = RunMonitor("r")
    events = [Progress(i, loss=-1.0 + 0.01 * (i % 5)) for i in range(300)]
    found = alerts(state, [*events, *(Progress(300 + i, loss=5.0) for i in range(4))])
    assert [(a.type, a.iter) for a in found if a.type == "loss_spike"] == [("loss_spike", 300)]


def test_a_run_resumed_mid_way_is_judged_from_its_first_loss() -> None:
    state = RunMonitor("r")
    losses = [1.47, 13.8, 14.0, 14.4, 14.3]
    found = alerts(state, [Progress(47700 + 10 * n, loss=x) for n, x in enumerate(losses)])
    assert [(a.type, a.iter) for a in found] == [("started", 47700), ("loss_spike", 47710)]


def test_a_restart_from_scratch_forgets_the_old_losses() -> None:
    state = RunMonitor("r")
    events = [*progress(0, 3000, loss=0.2), *progress(0, 100, loss=90.0)]
    assert "loss_spike" not in types(alerts(state, events))


# Step time and the GPU ---------------------------------------------------------------------


def test_thermal_episode_says_where_it_began_what_it_costs_and_its_end() -> None:
    found = demo_alerts(DEMO, frozenset({SW_THERMAL}))
    thermal = [a for a in found if a.type == "thermal"]
    assert [a.severity for a in thermal] == ["warning", "info"]
    alert, recovered = thermal
    ev = alert.evidence
    assert DEMO.thermal_from <= int(ev.since_iter) <= DEMO.thermal_from + 150
    assert 15 <= float(ev.slowdown_pct) <= 30 and float(ev.minutes) >= 2
    assert ev.gpu == 0 and ev.temperature_c == 88 and ev.reasons == SW_THERMAL
    assert float(ev.sm_clock_ratio) < 0.8
    assert alert.eta_change_s is not None and alert.eta_change_s > 0
    assert recovered.evidence.recovered
    assert recovered.iter is not None and recovered.iter > DEMO.thermal_to


def test_a_drift_without_gpu_evidence_is_not_pushed() -> None:
    assert types(demo_alerts(DEMO, None)) == ["started", "finished"]  # 22 % slower


def timed(segments: list[tuple[int, float]], every: int = 10) -> list[Event]:
    """Progress every `every` iterations on the run's own clock: `(iterations, s/iter)` runs."""
    events: list[Event] = []
    it, clock = 0, 0.0
    for count, step_s in segments:
        for _ in range(count // every):
            it, clock = it + every, clock + every * step_s
            events.append(Progress(it, loss=3.0, elapsed_s=clock))
    return events


def slowdowns(found: list[Alert]) -> list[tuple[str, int | None]]:
    return [(a.severity, a.iter) for a in found if a.type == "slowdown"]


def test_a_plain_slowdown_without_gpu_is_a_slowdown_said_once_with_its_end() -> None:
    found = alerts(RunMonitor("r"), timed([(6000, 0.2), (3000, 0.6), (3000, 0.2)]))
    assert [severity for severity, _ in slowdowns(found)] == ["warning", "info"]
    assert {a.type for a in found} == {"started", "slowdown"}  # never thermal without NVML
    assert 6000 < (slowdowns(found)[0][1] or 0) < 7000


def test_no_push_without_gpu_for_drifts_noise_or_warm_up() -> None:
    cases = {
        "+40 % sustained": [(6000, 0.2), (6000, 0.28)],
        "x3 in the first minutes": [(500, 0.2), (2000, 0.6), (6000, 0.2)],
        "flapping x1.6 / x3 bumps": [(6000, 0.2)] + [(300, 0.32), (200, 0.6), (600, 0.2)] * 8,
    }
    for name, segments in cases.items():
        assert slowdowns(alerts(RunMonitor("r"), timed(segments))) == [], name


def test_no_push_without_gpu_in_the_first_share_of_a_long_run() -> None:
    state = RunMonitor("r")
    alerts(state, [RunConfig({"max_iters": 1_000_000})])
    found = alerts(state, timed([(6000, 0.2), (8000, 0.6)]))  # 6000 is 0.6 % of the run
    assert slowdowns(found) == []


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
    state = RunMonitor("r")
    alerts(state, progress(0, 100))
    found: list[Alert] = []
    for k in range(60):  # five minutes of samples, hot from the start
        found += [
            a for a in state.apply_gpu(hot_snapshot(5.0 * k), 5.0 * k) if isinstance(a, Alert)
        ]
    assert [(a.type, a.severity) for a in found] == [("thermal", "warning")]
    assert found[0].evidence.reasons == SW_THERMAL and found[0].evidence.slowdown_pct is None
    assert state.state.gpu is not None


def test_memory_pressure_needs_several_samples_and_clears_with_hysteresis() -> None:
    state = RunMonitor("r")

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
    assert [(a.type, a.severity, a.evidence.gpu) for a in lost if isinstance(a, Alert)] == [
        ("gpu_lost", "critical", 1)
    ]
    assert state.apply_gpu(snap(100.0, 0, lost=True), 100.0) == []


def test_an_nvml_error_snapshot_says_nothing() -> None:
    state = RunMonitor("r")
    assert state.apply_gpu(GpuSnapshot(0.0, error="library_not_found"), 0.0) == []


# Time passing ------------------------------------------------------------------------------


def test_stall_once_after_the_floor_and_again_after_progress_returns() -> None:
    state = RunMonitor("r", thresholds=Thresholds(stall_floor_s=600.0, stall_factor=10.0))
    live(state, progress(0, 100))  # one line a second, the last at wall 9
    assert state.tick(9 + 600.0) == []
    stall = state.tick(9 + 601.0)
    assert [(a.type, a.severity, a.iter) for a in stall if isinstance(a, Alert)] == [
        ("stall", "warning", 90)
    ]
    assert stall[0].evidence.silent_s == 601.0  # type: ignore[union-attr]
    assert state.tick(9 + 5000.0) == []
    live(state, progress(100, 110), start_wall_s=5100.0)
    assert [a.type for a in state.tick(5100 + 700.0) if isinstance(a, Alert)] == ["stall"]


def test_a_pause_already_survived_is_not_a_stall() -> None:
    state = RunMonitor("r", thresholds=Thresholds(stall_floor_s=60.0))
    live(state, progress(0, 100))
    live(state, [Eval(100, 3.0, 3.0), Checkpoint(100), *progress(100, 200)], start_wall_s=500)
    assert state.tick(509 + 400.0) == []  # the eval pause was ~490 s: 1.5 x that is allowed
    assert [a.type for a in state.tick(509 + 800.0) if isinstance(a, Alert)] == ["stall"]


def test_no_stall_before_progress_or_after_the_end() -> None:
    state = RunMonitor("r")
    assert state.tick(1e6) == []
    live(state, [*progress(0, 100), TrainingEnd(0, "exit")])
    assert state.tick(1e6) == []


def test_no_push_without_gpu_within_the_runs_own_noise() -> None:
    """With a wide `slowdown_pct`, a noisy baseline (0.2 / 0.35 s) admits wide chunks: twice
    its median is not plain unless it is also three robust spreads above it."""
    noisy = [(100, 0.2), (100, 0.35)] * 40
    wide = Thresholds(slowdown_pct=60.0)
    for slow, said in ((0.58, False), (0.8, True)):
        found = alerts(RunMonitor("r", thresholds=wide), timed([*noisy, (3000, slow)]))
        assert bool(slowdowns(found)) is said, slow
