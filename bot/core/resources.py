"""What the run needs from outside itself: its GPUs busy, room on the disk its checkpoints go
to, and time left in its SLURM job. Pure rules: the readings and the time are passed in.

- `gpu_idle` (warning): while the run is alive, its GPUs below `gpu_idle_pct` utilisation for
  `gpu_idle_min_s` of wall clock: every GPU when the run's own GPUs are not known (every GPU
  of the machine is then watched, and one busy GPU may well be the run's), any of them when
  they are (a rank that hangs leaves its GPU idle while its peers spin in a collective).
  Alive (decided by `Detectors`): the current launch printed a progress line and no finish,
  crash or stall was said since (a stall already told the user; the GPU then says nothing
  more); with every GPU watched, the log must also have moved lately, since nothing then says
  the run's process still holds a GPU (an old log read again at start-up is not a live run).
  Said once per episode; a new episode needs the idle GPUs back above `gpu_idle_pct` +
  `IDLE_CLEAR_PCT`.
- `disk_full` (warning): the file system holding the run's checkpoints (or its log) at or
  above `disk_full_pct` used, as `df` counts (used over used plus what users may still
  write); said again only after it went below `disk_full_pct` - `DISK_CLEAR_PCT`.
- `slurm_deadline` (warning): the run's expected finish past the SLURM job's end by more
  than `SHORT_MIN_S` and `SHORT_MIN_SHARE` of the time left. Said again when the shortfall
  moved by `RESAY_SHARE` of the last one said and at least `RESAY_MIN_S`; when the finish
  comes back `RESOLVED_S` before the job's end, said once as resolved (info).
"""

from __future__ import annotations

import dataclasses
import os.path
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.gpu import GpuSample
from bot.core.naming import OUTPUT_KEYS, flag_values
from bot.core.notices import DiskFullEvidence, GpuIdleEvidence, SlurmDeadlineEvidence

IDLE_CLEAR_PCT = 5.0  # points above the idle threshold: a GPU at 6 % is not "back"
DISK_CLEAR_PCT = 2.0
SHORT_MIN_S = 300.0  # a shortfall smaller than this is within the ETA's own error
SHORT_MIN_SHARE = 0.05  # of the time left
RESAY_SHARE = 0.5
RESAY_MIN_S = 900.0
RESOLVED_S = 300.0


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """One reading of the file system holding `path` (bytes, as `statvfs` counts them)."""

    path: str  # where the run's checkpoints go (or its log's folder)
    mount: str  # the file system's mount point
    total_bytes: int
    used_bytes: int
    free_bytes: int  # what an unprivileged user may still write

    @property
    def used_pct(self) -> float:
        """As `df` says it: the root-reserved blocks are not free to the run."""
        room = self.used_bytes + self.free_bytes
        return 100.0 * self.used_bytes / room if room > 0 else 0.0


class IdleWatch:
    """The run's GPUs idle while it is alive."""

    def __init__(self, pct: float, min_s: float) -> None:
        self.pct, self.min_s = pct, min_s
        self.since_s: float | None = None
        self.said = False

    def update(
        self, gpus: Sequence[GpuSample], wall_s: float, *, alive: bool, own: bool
    ) -> GpuIdleEvidence | None:
        """Evidence when an episode lasted `min_s`; `own`: these are the run's own GPUs."""
        known = [g for g in gpus if not g.lost and g.utilization_pct is not None]
        idle = [g for g in known if (g.utilization_pct or 0) < self.pct]
        if not alive or not known:
            self.since_s, self.said = None, False
            return None
        if not idle or (not own and len(idle) < len(known)):
            self.since_s = None
            self.said = self.said and not _back(known, self.pct + IDLE_CLEAR_PCT, own)
            return None
        if self.since_s is None:
            self.since_s = wall_s
        if self.said or wall_s - self.since_s < self.min_s:
            return None
        self.said = True
        return GpuIdleEvidence(
            idle[0].index,
            idle_gpus=len(idle),
            util_pct=max(g.utilization_pct or 0 for g in idle),
            threshold_pct=self.pct,
            idle_s=round(wall_s - self.since_s, 1),
        )


def _back(gpus: Sequence[GpuSample], busy_pct: float, own: bool) -> bool:
    """Whether an episode is over: the run's GPUs clearly busy again (any one of them, when
    they are every GPU of the machine rather than the run's own)."""
    busy = [(g.utilization_pct or 0) >= busy_pct for g in gpus]
    return all(busy) if own else any(busy)


class DiskWatch:
    """The disk the run writes to, almost full (with hysteresis)."""

    def __init__(self, pct: float) -> None:
        self.pct = pct
        self.said = False

    def update(self, usage: DiskUsage) -> DiskFullEvidence | None:
        used = usage.used_pct
        if used < self.pct:
            if used < self.pct - DISK_CLEAR_PCT:
                self.said = False
            return None
        if self.said:
            return None
        self.said = True
        return DiskFullEvidence(
            usage.mount, usage.path, round(used, 1), usage.free_bytes, usage.total_bytes
        )


class DeadlineWatch:
    """The run's expected finish against the SLURM job's end."""

    def __init__(self) -> None:
        self.said_short_s: float | None = None  # the shortfall last said

    def update(
        self, job_end_s: float, finish_s: float, wall_s: float
    ) -> SlurmDeadlineEvidence | None:
        """Evidence to say (a shortfall, or `resolved`), or None."""
        short = finish_s - job_end_s
        said = self.said_short_s
        evidence = SlurmDeadlineEvidence(round(job_end_s), round(finish_s), round(short))
        if said is not None and short <= -RESOLVED_S:
            self.said_short_s = None
            return dataclasses.replace(evidence, resolved=True)
        left = max(0.0, finish_s - wall_s)
        if short < max(SHORT_MIN_S, SHORT_MIN_SHARE * left):
            return None
        if said is not None and abs(short - said) < max(RESAY_MIN_S, RESAY_SHARE * said):
            return None
        self.said_short_s = short
        return evidence


def checkpoint_dir(
    saved_to: str | None,
    config: Mapping[str, int | float | str],
    argv: Sequence[str],
    cwd: str,
    log_dir: str,
) -> str:
    """Where the run's checkpoints go: the last "saving checkpoint to X" line, else the output
    folder its config dump or its command line names (relative to the training's `cwd`), else
    the log's folder."""
    named = saved_to or _configured(config) or _from_argv(argv)
    return os.path.normpath(os.path.join(cwd, named)) if named else log_dir


def _configured(config: Mapping[str, int | float | str]) -> str | None:
    for key in OUTPUT_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().strip("'\"")
    return None


def _from_argv(argv: Sequence[str]) -> str | None:
    """`--output_dir X`, `--output_dir=X`, `--out_dir=X` (nanoGPT), `output_dir=X` (Hydra)."""
    return next(flag_values(argv, OUTPUT_KEYS), None)
