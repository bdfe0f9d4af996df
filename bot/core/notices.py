"""What the core wants said: structured notices that `bot/messages` turns into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.estimator import EtaEstimate
from bot.core.events import Event

# What an alert carries besides its type: the numbers it is rendered from, by name.
Evidence = dict[str, float | int | str]


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
    evidence: Evidence = field(default_factory=dict)
    eta_change_s: float | None = None


Notice = EvalNotice | Alert

Folded = list[tuple[Event, list[Notice]]]  # each event folded, with the notices it caused
