"""How a run's surroundings are read for the alerts of `bot/core/resources.py`: the disk its
checkpoints go to and the end of the SLURM job it trains in. The fold calls these off the
event loop, every `Probes.every_s` (the disk) and `Probes.job_every_s` (the job's end: squeue
is a request to the SLURM controller). Tests pass their own functions and cadences."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.adapters.disk import read_usage
from bot.adapters.procs import PROC, log_writers
from bot.adapters.slurm import Squeue, environ_of, job_end_s, run_squeue
from bot.core.resources import DiskUsage

DISK_EVERY_MIN_S = 30.0  # the disk is read on the GPU cadence, never more often than this
JOB_EVERY_S = 300.0  # a job's time limit changes rarely (scontrol update)

JobEnd = Callable[[Collection[int], Path], float | None]  # (launched PIDs, log) -> epoch s


@dataclass(frozen=True)
class Probes:
    """The readers; `argv`: the command of each run etagram launched (it may name the output
    folder), `cwd`: that command's working folder."""

    disk: Callable[[str], DiskUsage | None] = read_usage
    job_end: JobEnd | None = None  # None: `slurm_job_end` on this machine's /proc
    argv: Mapping[str, Sequence[str]] = field(default_factory=dict)
    cwd: str = field(default_factory=os.getcwd)
    every_s: float | None = None  # None: the GPU cadence, at least DISK_EVERY_MIN_S
    job_every_s: float = JOB_EVERY_S


def slurm_job_end(
    pids: Collection[int], log: Path, root: Path = PROC, squeue: Squeue = run_squeue
) -> float | None:
    """The end of the job the run trains in: etagram's own environment first (it runs in the
    job, or launched the training), then the launched processes', then the log's writers'."""
    return job_end_s(_environs(pids, log, root), squeue)


def _environs(pids: Collection[int], log: Path, root: Path) -> Iterator[Mapping[str, str]]:
    """Lazily: every process's fds are read only when the first ones named no job."""
    yield os.environ
    for pid in pids:
        yield environ_of(pid, root)
    for pid in sorted(log_writers(log, root)):
        yield environ_of(pid, root)
