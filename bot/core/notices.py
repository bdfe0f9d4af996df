"""What the core wants said: structured notices that `bot/messages` turns into text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from bot.core.estimator import EtaEstimate
from bot.core.events import Event


class AlertType(StrEnum):
    """What an alert is about; the value is its name in `replay --jsonl` and the config."""

    OOM = "oom"
    NAN = "nan"
    LOSS_SPIKE = "loss_spike"
    THERMAL = "thermal"
    POWER = "power"
    SLOWDOWN = "slowdown"
    STALL = "stall"
    CRASH = "crash"
    GPU_LOST = "gpu_lost"
    MEMORY_PRESSURE = "memory_pressure"
    GPU_IDLE = "gpu_idle"
    DISK_FULL = "disk_full"
    SLURM_DEADLINE = "slurm_deadline"
    STARTED = "started"
    RESUMED = "resumed"
    NEW_LAUNCH = "new_launch"
    FINISHED = "finished"
    STOPPED = "stopped"  # from Telegram, by /stop
    RUNNING_AGAIN = "running_again"  # progress again after a stall or a crash
    TOO_MANY_RUNS = "too_many_runs"


# What an alert carries besides its type: one record per type, the facts it is rendered from.
# A field a detector could not fill is None. `host` is set on a hub, whose GPUs are numbered
# across machines (hosts.py); `machine` and `log` on the end of a run (fold.py).


@dataclass(frozen=True, slots=True)
class OomEvidence:
    TYPE: ClassVar[AlertType] = AlertType.OOM
    error: str | None = None  # the line that said it
    gpu: int | None = None
    host: str | None = None
    tried_mib: float | None = None  # the allocation that failed
    total_gib: float | None = None  # the GPU's capacity
    free_mib: float | None = None
    in_use_gib: float | None = None  # by this process
    allocated_gib: float | None = None  # by PyTorch


@dataclass(frozen=True, slots=True)
class NanEvidence:
    TYPE: ClassVar[AlertType] = AlertType.NAN
    loss: str  # as printed: `nan`, `inf`, ...
    source: str | None = None  # `val_loss`, `train_loss`; None for a progress line's loss


@dataclass(frozen=True, slots=True)
class LossSpikeEvidence:
    TYPE: ClassVar[AlertType] = AlertType.LOSS_SPIKE
    loss: float
    median: float | None = None  # of the recent losses
    z: float | None = None  # robust spreads above the median


@dataclass(frozen=True, slots=True)
class GpuState:
    """A GPU's readings that explain a slowdown (thermal, power) or warn of heat."""

    gpu: int | None = None
    host: str | None = None
    temperature_c: int | None = None
    reasons: str | None = None  # NVML throttle reasons, comma-separated
    sm_clock_ratio: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None


@dataclass(frozen=True, slots=True)
class Slowed(GpuState):
    """Steps slower than the run's baseline, and what the GPU said then (when it was read)."""

    slowdown_pct: float | None = None  # None: heat seen before the steps slowed
    minutes: float | None = None
    step_s: float | None = None
    baseline_s: float | None = None
    since_iter: int | None = None
    recovered: bool = False  # the end of the episode


@dataclass(frozen=True, slots=True)
class ThermalEvidence(Slowed):
    TYPE: ClassVar[AlertType] = AlertType.THERMAL


@dataclass(frozen=True, slots=True)
class PowerEvidence(Slowed):
    TYPE: ClassVar[AlertType] = AlertType.POWER


@dataclass(frozen=True, slots=True)
class SlowdownEvidence(Slowed):
    TYPE: ClassVar[AlertType] = AlertType.SLOWDOWN


@dataclass(frozen=True, slots=True)
class StallEvidence:
    """Silence past the limit, or a collective that timed out (`cause`)."""

    TYPE: ClassVar[AlertType] = AlertType.STALL
    silent_s: float | None = None
    usual_interval_s: float | None = None
    limit_s: float | None = None
    cause: str | None = None  # `collective_timeout`
    error: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a run ended: the machine and the log, when followed here (fold.py)."""

    machine: str | None = None
    log: str | None = None


@dataclass(frozen=True, slots=True)
class CrashEvidence(Placed):
    TYPE: ClassVar[AlertType] = AlertType.CRASH
    cause: str | None = None  # `exception`, `killed`, `time_limit`, `could_not_start`, ...
    error: str | None = None  # the line the program died of
    exit_code: int | None = None

    def over(self, older: CrashEvidence) -> CrashEvidence:
        """These facts, completed by an older record's where these have none."""
        return CrashEvidence(
            self.machine or older.machine,
            self.log or older.log,
            self.cause if self.cause is not None else older.cause,
            self.error if self.error is not None else older.error,
            self.exit_code if self.exit_code is not None else older.exit_code,
        )


@dataclass(frozen=True, slots=True)
class GpuLostEvidence:
    TYPE: ClassVar[AlertType] = AlertType.GPU_LOST
    gpu: int | None = None  # the first one lost
    host: str | None = None
    lost_gpus: int | None = None


@dataclass(frozen=True, slots=True)
class MemoryPressureEvidence:
    TYPE: ClassVar[AlertType] = AlertType.MEMORY_PRESSURE
    gpu: int | None = None
    host: str | None = None
    used_pct: float | None = None
    used_mib: int | None = None
    total_mib: int | None = None


@dataclass(frozen=True, slots=True)
class GpuIdleEvidence:
    TYPE: ClassVar[AlertType] = AlertType.GPU_IDLE
    gpu: int | None = None  # the first one idle
    host: str | None = None
    idle_gpus: int | None = None
    util_pct: float | None = None
    threshold_pct: float | None = None
    idle_s: float | None = None


@dataclass(frozen=True, slots=True)
class DiskFullEvidence:
    TYPE: ClassVar[AlertType] = AlertType.DISK_FULL
    mount: str
    path: str
    used_pct: float
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True, slots=True)
class SlurmDeadlineEvidence:
    TYPE: ClassVar[AlertType] = AlertType.SLURM_DEADLINE
    job_end_s: float  # epoch seconds
    finish_s: float  # the run's expected finish, epoch seconds
    short_s: float  # finish_s - job_end_s
    resolved: bool = False  # the run fits again


@dataclass(frozen=True, slots=True)
class StartedEvidence:
    TYPE: ClassVar[AlertType] = AlertType.STARTED
    total_iters: int | None = None
    eta_s: float | None = None


@dataclass(frozen=True, slots=True)
class ResumedEvidence:
    TYPE: ClassVar[AlertType] = AlertType.RESUMED
    to_iter: int | None = None
    from_iter: int | None = None


@dataclass(frozen=True, slots=True)
class NewLaunchEvidence:
    TYPE: ClassVar[AlertType] = AlertType.NEW_LAUNCH
    to_iter: int | None = None
    from_iter: int | None = None
    total_iters: int | None = None


@dataclass(frozen=True, slots=True)
class _Ending(Placed):
    """What the end of a run says of it."""

    elapsed_s: float | None = None
    best_val_loss: float | None = None
    best_iter: int | None = None
    final_val_loss: float | None = None
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class FinishedEvidence(_Ending):
    TYPE: ClassVar[AlertType] = AlertType.FINISHED
    first_eta_error_pct: float | None = None
    first_total_s: float | None = None  # the first estimate of the total, against elapsed_s


@dataclass(frozen=True, slots=True)
class StoppedEvidence(_Ending):
    TYPE: ClassVar[AlertType] = AlertType.STOPPED
    by: str | None = None  # who asked, on Telegram
    cause: str | None = None  # `interrupted`: a KeyboardInterrupt (Ctrl-C, SIGINT) ended it


@dataclass(frozen=True, slots=True)
class RunningAgainEvidence:
    TYPE: ClassVar[AlertType] = AlertType.RUNNING_AGAIN
    after: str  # `stall` or `crash`
    silent_s: float | None = None


@dataclass(frozen=True, slots=True)
class TooManyRunsEvidence:
    TYPE: ClassVar[AlertType] = AlertType.TOO_MANY_RUNS
    max: int
    refused: str  # the first run refused


Evidence = (
    OomEvidence
    | NanEvidence
    | LossSpikeEvidence
    | ThermalEvidence
    | PowerEvidence
    | SlowdownEvidence
    | StallEvidence
    | CrashEvidence
    | GpuLostEvidence
    | MemoryPressureEvidence
    | GpuIdleEvidence
    | DiskFullEvidence
    | SlurmDeadlineEvidence
    | StartedEvidence
    | ResumedEvidence
    | NewLaunchEvidence
    | FinishedEvidence
    | StoppedEvidence
    | RunningAgainEvidence
    | TooManyRunsEvidence
)

EVIDENCE: dict[AlertType, type[Evidence]] = {
    cls.TYPE: cls
    for cls in (
        OomEvidence,
        NanEvidence,
        LossSpikeEvidence,
        ThermalEvidence,
        PowerEvidence,
        SlowdownEvidence,
        StallEvidence,
        CrashEvidence,
        GpuLostEvidence,
        MemoryPressureEvidence,
        GpuIdleEvidence,
        DiskFullEvidence,
        SlurmDeadlineEvidence,
        StartedEvidence,
        ResumedEvidence,
        NewLaunchEvidence,
        FinishedEvidence,
        StoppedEvidence,
        RunningAgainEvidence,
        TooManyRunsEvidence,
    )
}
# The records that name a GPU (by its index, or on a hub by its host and index there).
ON_GPU = (OomEvidence, GpuState, GpuLostEvidence, MemoryPressureEvidence, GpuIdleEvidence)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class EvalNotice:
    """One evaluation finished."""

    run: str
    iter: int | None
    train_loss: float | None
    val_loss: float | None
    best_val_loss: float | None  # best so far, this eval included
    best_iter: int | None
    previous_best: float | None  # best before this eval (None for the first)
    eta: EtaEstimate
    finish_at_s: float | None  # wall-clock epoch seconds


@dataclass(frozen=True, slots=True)
class Alert:
    """Something went wrong (or an informational run event); sent once per occurrence."""

    run: str
    type: AlertType
    severity: Severity
    iter: int | None
    t_s: float
    evidence: Evidence
    eta_change_s: float | None = None
    # Alerts of its type at its iteration this run raised before it (set by the push policy):
    # a crash, a resume, the same crash at the same printed iteration are two alerts, not one.
    nth: int = 0

    def __post_init__(self) -> None:
        if self.type != self.evidence.TYPE:  # a programming error: never a user's input
            raise TypeError(f"{self.type} alert with {type(self.evidence).__name__}")


Notice = EvalNotice | Alert

Folded = list[tuple[Event, list[Notice]]]  # each event folded, with the notices it caused
