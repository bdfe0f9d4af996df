"""Fixed situations rendered by the golden and quality tests, built from plain numbers.

The reference is DESIGN.md's nanoGPT run: 1,300 of 20,000 iterations, 170 ms a step,
38 evals left at 5.8 s each, ~3,400 s left (50-65 min), checked at 02:30 in Paris.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.estimator import EtaEstimate
from bot.core.events import TrainingEnd
from bot.core.gpumap import PID_NAMESPACE, GpuMap
from bot.core.lifecycle import WaitReason
from bot.core.notices import (
    Alert,
    CrashEvidence,
    DiskFullEvidence,
    EvalNotice,
    FinishedEvidence,
    GpuIdleEvidence,
    GpuLostEvidence,
    MemoryPressureEvidence,
    NanEvidence,
    NewLaunchEvidence,
    OomEvidence,
    ResumedEvidence,
    RunningAgainEvidence,
    SlowdownEvidence,
    SlurmDeadlineEvidence,
    StallEvidence,
    StartedEvidence,
    StoppedEvidence,
    ThermalEvidence,
    TooManyRunsEvidence,
)
from bot.core.prefs import EvalsMode
from bot.core.state import EvalRecord, RunState
from bot.messages import (
    Ctx,
    ack_text,
    alert_text,
    bot_ui,
    degraded_text,
    digest_text,
    error_text,
    eta_text,
    eval_text,
    gpu_text,
    help_text,
    late_text,
    mute_text,
    no_run_text,
    refusal_text,
    run_picked_text,
    runs_text,
    start_text,
    status_text,
)
from bot.messages.stop import (
    REFUSALS,
    stop_cancelled_text,
    stop_confirm_text,
    stop_expired_text,
    stop_refused_text,
    stop_sent_text,
    stop_under_way_text,
)

PARIS = "Europe/Paris"
NOW = datetime(2026, 11, 28, 2, 30, tzinfo=ZoneInfo(PARIS)).timestamp()  # a Saturday
LATE_EVENING = datetime(2026, 11, 27, 22, 50, tzinfo=ZoneInfo(PARIS)).timestamp()
RUN = "shakespeare-char"
LANGS = ("fr", "en", "both")

REFERENCE = EtaEstimate(
    iters_done=1300,
    total_iters=20000,
    iters_left=18700,
    step_s=0.170,
    evals_left=38,
    eval_cost_s=5.8,
    checkpoints_left=0,
    checkpoint_cost_s=None,
    remaining_s=18700 * 0.170 + 38 * 5.8,
    low_s=3000.0,
    high_s=3900.0,
    elapsed_s=228.0,
)


class FixedRun(RunState):
    """A RunState whose estimate is given rather than learnt from a log."""

    def __init__(self, name: str, eta: EtaEstimate) -> None:
        super().__init__(name)
        self._eta = eta

    def eta(self) -> EtaEstimate:
        return self._eta


def reference_run(eta: EtaEstimate = REFERENCE, name: str = RUN, now: float = NOW) -> FixedRun:
    run = FixedRun(name, eta)
    run.iter = eta.iters_done
    run.user_total_iters = eta.total_iters
    run.loss = 1.2345
    run.t_s = eta.elapsed_s
    run.last_progress_wall_s = now
    run.best = EvalRecord(1000, 180.0, 1.3012, 1.4697)
    return run


def epoch_run() -> FixedRun:
    """The reference run with no total, read from a log that counts epochs (a Lightning bar
    of 93 batches per epoch)."""
    run = reference_run(UNKNOWN_TOTAL)
    run.per_epoch = 93
    return run


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str = "NVIDIA GeForce RTX 4070"
    uuid: str = "GPU-0"
    utilization_pct: float | None = 100.0
    memory_used_mib: float | None = 6656.0
    memory_total_mib: float | None = 12282.0
    temperature_c: float | None = 71.0
    slowdown_temp_c: float | None = 87.0
    sm_clock_mhz: float | None = 2610.0
    max_sm_clock_mhz: float | None = 2610.0
    power_mw: float | None = 196_000.0
    power_limit_mw: float | None = 200_000.0
    reasons: frozenset[str] = frozenset()
    processes: tuple[tuple[int, float], ...] = ()
    lost: bool = False


@dataclass(frozen=True)
class Snapshot:
    taken_at_s: float
    gpus: tuple[Gpu, ...] = ()
    error: str | None = None


ONE_GPU = Snapshot(NOW, (Gpu(0),))
HOT_GPU = Snapshot(NOW, (Gpu(0, temperature_c=88.0, reasons=frozenset({"sw_thermal"})),))
TWO_GPUS = Snapshot(
    NOW,
    (
        Gpu(
            0,
            name="NVIDIA A100-SXM4-80GB",
            memory_used_mib=61_440.0,
            memory_total_mib=81_920.0,
            temperature_c=64.0,
            sm_clock_mhz=1410.0,
            max_sm_clock_mhz=1410.0,
            power_mw=398_000.0,
            power_limit_mw=400_000.0,
        ),
        Gpu(
            1,
            name="NVIDIA A100-SXM4-80GB",
            memory_used_mib=61_312.0,
            memory_total_mib=81_920.0,
            temperature_c=88.0,
            sm_clock_mhz=1065.0,
            max_sm_clock_mhz=1410.0,
            power_mw=301_000.0,
            power_limit_mw=400_000.0,
            reasons=frozenset({"sw_thermal", "hw_thermal"}),
        ),
    ),
)


def _eval(val: float, it: int, best: float, best_iter: int, previous: float | None) -> EvalNotice:
    eta = REFERENCE
    return EvalNotice(RUN, it, val - 0.15, val, best, best_iter, previous, eta, NOW + 3400)


EVAL_BEST = _eval(1.4697, 1500, 1.4697, 1500, 1.4820)
EVAL_WORSE = _eval(1.4800, 2000, 1.4697, 1500, 1.4697)

UNKNOWN_TOTAL = EtaEstimate(
    1300, None, None, 0.170, 0, None, 0, None, None, None, None, 228.0, ("total_iters",)
)
# Before any eval was timed: its cost worked out from nanoGPT's config (eval_iters 200,
# accumulation 5: 2 x 200 / (3 x 5) steps of 170 ms).
EVALS_ESTIMATED = replace(
    REFERENCE, eval_cost_s=4.53, remaining_s=18700 * 0.170 + 38 * 4.53, eval_cost_estimated=True
)
NO_STEP = EtaEstimate(1, 20000, None, None, 0, None, 0, None, None, None, None, 0.4, ("step_time",))
TOMORROW = EtaEstimate(
    1300,
    200000,
    198700,
    0.170,
    398,
    5.8,
    0,
    None,
    198700 * 0.17 + 398 * 5.8,
    33000.0,
    40000.0,
    228.0,
)

DAYS = EtaEstimate(
    52000,
    2_000_000,
    1_948_000,
    0.155,
    975,
    5.8,
    195,
    30.0,
    1_948_000 * 0.155 + 975 * 5.8 + 195 * 30,
    290_000.0,
    340_000.0,
    8060.0,
)

# The last iterations: the finish is due within seconds.
ANY_MOMENT = EtaEstimate(19_950, 20_000, 50, 0.170, 0, 5.8, 0, None, 50 * 0.170, 7.0, 11.0, 3600.0)

OOM = Alert(
    RUN, "oom", "critical", 1300, 228.0, OomEvidence(gpu=0, tried_mib=512.0, total_gib=11.7)
)
# A GPU no followed run uses is hot: the machine's detectors know no iteration, no slowdown.
MACHINE_HOT = Alert(
    "",
    "thermal",
    "warning",
    None,
    0.0,
    ThermalEvidence(gpu=2, temperature_c=89, reasons="hw_thermal"),
)
THERMAL = Alert(
    RUN,
    "thermal",
    "warning",
    1300,
    228.0,
    ThermalEvidence(
        slowdown_pct=18,
        minutes=6,
        gpu=1,
        temperature_c=88,
        reasons="sw_thermal,hw_thermal",
    ),
    eta_change_s=540.0,
)
FINISHED = Alert(
    RUN,
    "finished",
    "info",
    20000,
    3630.0,
    FinishedEvidence(
        elapsed_s=3630.0,
        best_val_loss=1.4697,
        best_iter=4500,
        final_val_loss=1.4801,
        first_eta_error_pct=4.2,
        first_total_s=3420.0,
        exit_code=0,
        machine="gpu07",
        log="/scratch/runs/shakespeare-char/train.log",
    ),
)
FINISHED_WATCHED = Alert(  # a followed log (no exit code), no eval, no first estimate
    RUN, "finished", "info", 20000, 3630.0, FinishedEvidence(elapsed_s=3630.0, machine="gpu07")
)
COULD_NOT_START = Alert(
    RUN,
    "crash",
    "critical",
    None,
    0.0,
    CrashEvidence(
        cause="could_not_start",
        error="python3: can't open file '/home/ada/nosuch.py': [Errno 2] No such file or directory",
        exit_code=2,
        machine="gpu07",
        log="/scratch/runs/shakespeare-char/train.log",
    ),
)
NOT_FOUND = Alert(
    RUN, "crash", "critical", None, 0.0, CrashEvidence(cause="could_not_start", exit_code=127)
)
STOPPED = Alert(
    RUN,
    "stopped",
    "info",
    1300,
    228.0,
    StoppedEvidence(
        by="@alice",
        elapsed_s=228.0,
        best_val_loss=1.4697,
        best_iter=1000,
        exit_code=130,
        machine="gpu07",
    ),
)
# Ctrl-C or SIGINT ended a run etagram did not launch: no one to name, no exit code known.
INTERRUPTED = Alert(
    RUN,
    "stopped",
    "warning",
    1300,
    228.0,
    StoppedEvidence(
        cause="interrupted", elapsed_s=228.0, best_val_loss=1.4697, best_iter=1000, machine="gpu07"
    ),
)
RUNNING_AGAIN = Alert(
    RUN, "running_again", "info", 1310, 240.0, RunningAgainEvidence("stall", 754.0)
)
RUNNING_AGAIN_CRASH = Alert(
    RUN, "running_again", "info", 1310, 240.0, RunningAgainEvidence("crash")
)
CRASH = Alert(
    RUN,
    "crash",
    "critical",
    1300,
    228.0,
    CrashEvidence(
        exit_code=1, error="TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'"
    ),
)
CRASH_AT_START_UP = Alert(
    RUN,
    "crash",
    "critical",
    None,
    0.0,
    CrashEvidence(
        cause="exception", error="ImportError: cannot import name 'FlashModel' from 'models'"
    ),
)
CRASH_TIME_LIMIT = Alert(
    RUN,
    "crash",
    "critical",
    1300,
    228.0,
    CrashEvidence(
        cause="time_limit",
        error="slurmstepd: error: *** JOB 4242 ON gpu07 CANCELLED AT 2026-05-22T02:56:57 DUE"
        " TO TIME LIMIT ***",
    ),
)
STALL_COLLECTIVE = Alert(
    RUN,
    "stall",
    "warning",
    1300,
    228.0,
    StallEvidence(
        cause="collective_timeout",
        timeout_s=600.0,
        error="[Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=812,"
        " OpType=ALLREDUCE, Timeout(ms)=600000) ran for 600021 milliseconds before timing out.",
    ),
)
STARTED = Alert(RUN, "started", "info", 0, 0.0, StartedEvidence(20000, 3560.0))
SLOWDOWN = Alert(
    RUN,
    "slowdown",
    "warning",
    1300,
    228.0,
    SlowdownEvidence(slowdown_pct=35, minutes=12, step_s=0.23, baseline_s=0.17),
    eta_change_s=1100.0,
)
MEMORY = Alert(
    RUN,
    "memory_pressure",
    "warning",
    1300,
    228.0,
    MemoryPressureEvidence(gpu=0, used_mib=11_900, total_mib=12_282),
)
GPU_LOST = Alert(RUN, "gpu_lost", "critical", 1300, 228.0, GpuLostEvidence(gpu=1))
RESUMED = Alert(RUN, "resumed", "info", 1000, 0.0, ResumedEvidence())
NEW_LAUNCH = Alert(
    RUN, "new_launch", "info", 0, 900.0, NewLaunchEvidence(to_iter=0, total_iters=8000)
)
NAN = Alert(RUN, "nan", "critical", 1300, 228.0, NanEvidence("nan"))
VAL_INF = Alert(RUN, "nan", "critical", 1500, 250.0, NanEvidence("inf", "val_loss"))
STALL = Alert(RUN, "stall", "warning", 1300, 228.0, StallEvidence(silent_s=720.0))
IDLE = GpuIdleEvidence(gpu=0, idle_gpus=1, util_pct=0, threshold_pct=5.0, idle_s=600.0)
GPU_IDLE = Alert(RUN, "gpu_idle", "warning", 1300, 228.0, IDLE)
GPUS_IDLE = Alert(RUN, "gpu_idle", "warning", 1300, 228.0, replace(IDLE, gpu=2, idle_gpus=3))
DISK = DiskFullEvidence(
    mount="/scratch",
    path="/scratch/alice/out-shakespeare-char",
    used_pct=96.4,
    free_bytes=38 * (1 << 30) + 300 * (1 << 20),
    total_bytes=1 << 40,
)
DISK_FULL = Alert(RUN, "disk_full", "warning", 1300, 228.0, DISK)
JOB_END = NOW + 40 * 60  # 03:10
SLURM = SlurmDeadlineEvidence(JOB_END, JOB_END + 45 * 60, 45 * 60)
SLURM_DEADLINE = Alert(RUN, "slurm_deadline", "warning", 1300, 228.0, SLURM)
SLURM_RESOLVED = Alert(
    RUN,
    "slurm_deadline",
    "info",
    1900,
    330.0,
    SlurmDeadlineEvidence(JOB_END + 3600, JOB_END + 2700, -900, resolved=True),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    render: Callable[[Ctx], str]
    tz: str = PARIS
    now_s: float = NOW
    langs: tuple[str, ...] = field(default=LANGS)
    names: tuple[str, ...] = ()  # proper names in the text, not words to translate


def _ended_run() -> FixedRun:
    run = reference_run(REFERENCE)
    run.iter = 20000
    run.ended = TrainingEnd(0, "completed")
    return run


def _run_in(phase: str, now: float = NOW) -> FixedRun:
    """The reference run, told by its detectors' alerts that it is in `phase`."""
    run = reference_run(REFERENCE, now=now)
    said = {
        "stalled": STALL,
        "crashed": CRASH,
        "slowed": SLOWDOWN,
        "finished": FINISHED,
        "stopped": STOPPED,
    }
    run.life.note(RUN, [said[phase]], None)
    return run


def _waiting(reason: WaitReason, name: str = RUN) -> FixedRun:
    run = FixedRun(
        name, EtaEstimate(None, None, None, None, 0, None, 0, None, None, None, None, 0.0)
    )
    run.life.waiting = reason
    return run


PHASE_RUNS = ("a-running", "b-slowed", "c-stalled", "d-crashed", "e-finished", "f-stopped")
NAMED_RUNS = (*PHASE_RUNS, "z-waiting", "y-new")


def _all_phases() -> list[RunState]:
    """One run in each phase, for /runs."""
    runs: list[RunState] = [
        reference_run(name="a-running"),
        _run_in("slowed"),
        _run_in("stalled"),
        _run_in("crashed"),
        _run_in("finished"),
        _run_in("stopped"),
        _waiting(WaitReason.PERMISSION, "z-waiting"),
        FixedRun(
            "y-new", EtaEstimate(None, None, None, None, 0, None, 0, None, None, None, None, 0.0)
        ),
    ]
    for run, name in zip(runs[1:6], PHASE_RUNS[1:], strict=True):
        run.name = name
    return runs


SCENARIOS = [
    Scenario("eta_reference", lambda c: eta_text(reference_run(), c)),
    Scenario("eta_unknown_total", lambda c: eta_text(reference_run(UNKNOWN_TOTAL), c)),
    Scenario("eta_unknown_epochs", lambda c: eta_text(epoch_run(), c)),
    Scenario(
        "eta_tomorrow",
        lambda c: eta_text(reference_run(TOMORROW, now=c.now_s), c),
        now_s=LATE_EVENING,
    ),
    Scenario(
        "eta_next_week",
        lambda c: eta_text(reference_run(DAYS), c),
        tz="America/New_York",
        names=("New York",),
    ),
    Scenario("eta_ended", lambda c: eta_text(_ended_run(), c)),
    Scenario("eta_any_moment", lambda c: eta_text(reference_run(ANY_MOMENT), c)),
    Scenario("status_two_gpus", lambda c: status_text(reference_run(), TWO_GPUS, c)),
    Scenario("status_reference", lambda c: status_text(reference_run(), ONE_GPU, c)),
    Scenario(
        "status_stale_throttled",
        lambda c: status_text(reference_run(), HOT_GPU, c),
        now_s=NOW + 320,
    ),
    Scenario(
        "status_degraded",
        lambda c: degraded_text(
            status_text(reference_run(), ONE_GPU, c), [("follow", RUN), ("gpu", "")], c
        ),
        names=(RUN,),
    ),
    Scenario("eta_no_step_time", lambda c: eta_text(reference_run(NO_STEP), c)),
    Scenario("eta_evals_estimated", lambda c: eta_text(reference_run(EVALS_ESTIMATED), c)),
    Scenario("alert_started", lambda c: alert_text(STARTED, c)),
    Scenario("eval_new_best", lambda c: eval_text(EVAL_BEST, c)),
    Scenario("eval_not_best", lambda c: eval_text(EVAL_WORSE, c)),
    Scenario("digest", lambda c: digest_text([EVAL_BEST, EVAL_WORSE], c)),
    Scenario("alert_oom", lambda c: alert_text(OOM, c)),
    Scenario("alert_oom_sent_late", lambda c: late_text(alert_text(OOM, c), NOW - 2400, c)),
    Scenario("alert_thermal", lambda c: alert_text(THERMAL, c)),
    Scenario(
        "alert_thermal_recovered",
        lambda c: alert_text(
            Alert(
                RUN,
                "thermal",
                "info",
                1700,
                300.0,
                ThermalEvidence(gpu=1, temperature_c=72, recovered=True),
            ),
            c,
        ),
    ),
    Scenario("alert_finished", lambda c: alert_text(FINISHED, c), names=("gpu07",)),
    Scenario("alert_finished_watched", lambda c: alert_text(FINISHED_WATCHED, c), names=("gpu07",)),
    Scenario("alert_could_not_start", lambda c: alert_text(COULD_NOT_START, c), names=("gpu07",)),
    Scenario("alert_could_not_start_127", lambda c: alert_text(NOT_FOUND, c)),
    Scenario("alert_running_again", lambda c: alert_text(RUNNING_AGAIN, c)),
    Scenario("alert_running_again_crash", lambda c: alert_text(RUNNING_AGAIN_CRASH, c)),
    Scenario("eta_stalled", lambda c: eta_text(_run_in("stalled"), c), now_s=NOW + 754),
    Scenario("eta_crashed", lambda c: eta_text(_run_in("crashed"), c)),
    Scenario("eta_slowed", lambda c: eta_text(_run_in("slowed"), c)),
    Scenario("eta_waiting", lambda c: eta_text(_waiting(WaitReason.PERMISSION), c)),
    Scenario(
        "status_stalled", lambda c: status_text(_run_in("stalled"), ONE_GPU, c), now_s=NOW + 754
    ),
    Scenario("status_crashed", lambda c: status_text(_run_in("crashed"), ONE_GPU, c)),
    Scenario("status_waiting", lambda c: status_text(_waiting(WaitReason.NOT_REGULAR), None, c)),
    Scenario(
        "runs_phases",
        lambda c: runs_text(_all_phases(), "c-stalled", c),
        now_s=NOW + 754,
        names=NAMED_RUNS,
    ),
    Scenario(
        "runs_picked",
        lambda c: run_picked_text(_all_phases(), "c-stalled", c),
        now_s=NOW + 754,
        names=NAMED_RUNS,
    ),
    Scenario("alert_crash", lambda c: alert_text(CRASH, c)),
    Scenario(
        "alert_crash_on_host",  # a hub that hears from several machines names each run's
        lambda c: alert_text(CRASH, dataclasses.replace(c, host="gpu-node-3")),
        names=("gpu-node-3",),
    ),
    Scenario("alert_crash_no_iter", lambda c: alert_text(CRASH_AT_START_UP, c)),
    Scenario("alert_crash_time_limit", lambda c: alert_text(CRASH_TIME_LIMIT, c)),
    Scenario("alert_stall_collective", lambda c: alert_text(STALL_COLLECTIVE, c)),
    Scenario("alert_nan", lambda c: alert_text(NAN, c)),
    Scenario("alert_nan_val_inf", lambda c: alert_text(VAL_INF, c)),
    Scenario("alert_stall", lambda c: alert_text(STALL, c)),
    Scenario("alert_slowdown", lambda c: alert_text(SLOWDOWN, c)),
    Scenario("alert_memory_pressure", lambda c: alert_text(MEMORY, c)),
    Scenario("alert_gpu_lost", lambda c: alert_text(GPU_LOST, c)),
    Scenario("alert_gpu_idle", lambda c: alert_text(GPU_IDLE, c)),
    Scenario("alert_gpus_idle", lambda c: alert_text(GPUS_IDLE, c)),
    Scenario("alert_disk_full", lambda c: alert_text(DISK_FULL, c)),
    Scenario("alert_slurm_deadline", lambda c: alert_text(SLURM_DEADLINE, c)),
    Scenario("alert_slurm_deadline_resolved", lambda c: alert_text(SLURM_RESOLVED, c)),
    Scenario("alert_resumed", lambda c: alert_text(RESUMED, c)),
    Scenario("alert_new_launch", lambda c: alert_text(NEW_LAUNCH, c)),
    Scenario(
        "alert_too_many_runs",
        lambda c: alert_text(
            Alert(
                "made-up-65",
                "too_many_runs",
                "warning",
                None,
                0.0,
                TooManyRunsEvidence(64, "made-up-65"),
            ),
            c,
        ),
        names=("made-up-65",),
    ),
    Scenario("gpu_two", lambda c: gpu_text(TWO_GPUS, c)),
    Scenario(
        "gpu_run_first",
        lambda c: gpu_text(TWO_GPUS, c, gpu_map=GpuMap({RUN: frozenset({1})}), run=RUN),
        names=(RUN,),
    ),
    Scenario(
        "gpu_unmapped", lambda c: gpu_text(TWO_GPUS, c, gpu_map=GpuMap(unknown=PID_NAMESPACE))
    ),
    Scenario("alert_thermal_machine", lambda c: alert_text(MACHINE_HOT, c)),
    Scenario("gpu_no_driver", lambda c: gpu_text(Snapshot(NOW, error="library_not_found"), c)),
    Scenario("help", help_text),
    Scenario("start", lambda c: start_text(c, 123456789, True)),
    Scenario("refusal", lambda c: refusal_text(c, -1001234567890)),
    Scenario("no_run", no_run_text),
    Scenario(
        "runs", lambda c: runs_text([reference_run(), reference_run(name="gpt2-124m")], RUN, c)
    ),
    Scenario(
        "runs_on_hosts",
        lambda c: runs_text(
            [reference_run(), reference_run(name="gpt2-124m")],
            RUN,
            c,
            {RUN: "gpu-node-3", "gpt2-124m": "gpu-node-4"},
        ),
        names=("gpu-node-3", "gpu-node-4"),
    ),
    Scenario("error_bad_tz", lambda c: error_text("bad_tz", c, value="Mars/Olympus")),
    Scenario("mute", lambda c: mute_text(c, NOW + 2 * 3600)),
    Scenario("muted_forever", bot_ui.muted_forever_text),
    Scenario("not_muted", bot_ui.not_muted_text),
    Scenario("lang_current", lambda c: bot_ui.lang_current_text("both", c)),
    Scenario("tz_current", bot_ui.tz_current_text, names=("Europe/Paris", "Paris")),
    Scenario(
        "tz_ambiguous",
        lambda c: bot_ui.tz_ambiguous_text(c, "istanbul", ("Asia/Istanbul", "Europe/Istanbul")),
        names=("istanbul", "Asia/Istanbul", "Europe/Istanbul"),
    ),
    Scenario("evals_current", lambda c: bot_ui.evals_current_text(EvalsMode("every", 3), c)),
    Scenario(
        "run_unknown",
        lambda c: bot_ui.run_not_found_text("bert", _two_runs(), RUN, False, c),
        names=(RUN, "gpt2-124m", "bert"),
    ),
    Scenario(
        "run_ambiguous",
        lambda c: bot_ui.run_not_found_text(
            "gpt2", [*_two_runs(), reference_run(name="gpt2-350m")], RUN, True, c
        ),
        names=(RUN, "gpt2-124m", "gpt2-350m", "gpt2"),
    ),
    Scenario("unknown_command", lambda c: bot_ui.unknown_input_text("/stat", c)),
    Scenario("plain_text", lambda c: bot_ui.unknown_input_text(None, c)),
    Scenario("alert_stopped", lambda c: alert_text(STOPPED, c), names=("Telegram", "gpu07")),
    Scenario(
        "alert_interrupted",
        lambda c: alert_text(INTERRUPTED, c),
        names=("KeyboardInterrupt", "Ctrl-C", "SIGINT", "gpu07"),
    ),
    Scenario("stop_confirm", lambda c: stop_confirm_text(RUN, 30.0, 60.0, c)),
    Scenario("stop_sent", lambda c: stop_sent_text(RUN, "@alice", 30.0, c)),
    Scenario("stop_cancelled", lambda c: stop_cancelled_text(RUN, "@alice", c)),
    Scenario("stop_expired", lambda c: stop_expired_text(RUN, 60.0, c)),
    Scenario("stop_under_way", lambda c: stop_under_way_text(RUN, "SIGTERM", "@alice", c)),
    *(
        Scenario(f"stop_refused_{reason}", lambda c, r=reason: stop_refused_text(RUN, r, c))
        for reason in REFUSALS
    ),
    Scenario("error_stop_expired", lambda c: error_text("stop_expired", c)),
    Scenario("plot_empty", lambda c: error_text("plot_empty", c)),
    Scenario("evals_every", lambda c: ack_text("evals_every", c, n=3)),
]


def _two_runs() -> list[RunState]:
    return [reference_run(), reference_run(name="gpt2-124m")]


def ctx(lang: str, scenario: Scenario) -> Ctx:
    return Ctx(lang=lang, tz=scenario.tz, now_s=scenario.now_s)
