"""Which GPUs each run uses, and which GPUs no followed run uses.

A run uses GPU i when one of the processes NVML lists on GPU i descends from (or is) one of
the run's own processes: the process `etagram run` launched, or one holding the run's log open
for writing. The lineages (each NVML PID and its ancestors) are read in /proc by an adapter;
everything here is pure.

When the mapping cannot be made, every run sees every GPU, as before, and `/gpu` says why:
no /proc to read, or NVML lists processes of which none is in this /proc (a container with
its own PID namespace sees other PIDs than the driver's). A GPU event on a GPU that no run
uses goes once to the whole machine (`unused_view`), never to each run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.core.gpu import GpuSnapshot

# Why the mapping is not known (`GpuMap.unknown`): stable codes, rendered by bot/messages.
NO_PROC: Final = "no_proc"
PID_NAMESPACE: Final = "pid_namespace"
NO_PROCESSES: Final = "no_processes"  # NVML lists none: idle GPUs, or a driver that cannot tell

# NVML PID -> that PID and its ancestors, nearest first; None when /proc does not have it.
Lineages = Mapping[int, tuple[int, ...] | None]


@dataclass(frozen=True, slots=True)
class GpuMap:
    """GPU indices per run; `unknown` (a reason code) when no mapping could be made."""

    by_run: Mapping[str, frozenset[int]] = field(default_factory=dict)
    unknown: str | None = None

    def gpus_of(self, run: str) -> frozenset[int] | None:
        """The GPUs `run` uses; None when unknown (the run may use any)."""
        return None if self.unknown is not None else self.by_run.get(run, frozenset())


def map_gpus(
    snapshot: GpuSnapshot, lineages: Lineages, roots: Mapping[str, Collection[int]]
) -> GpuMap:
    """Each run's GPUs from its own processes (`roots`) and the lineages of NVML's PIDs."""
    listed = {p.pid for g in snapshot.gpus for p in g.processes}
    if not listed:
        return GpuMap(unknown=NO_PROCESSES)
    if all(lineages.get(pid) is None for pid in listed):
        return GpuMap(unknown=PID_NAMESPACE)
    by_run = {}
    for run, own in roots.items():
        mine = set(own)
        by_run[run] = frozenset(
            g.index
            for g in snapshot.gpus
            if any(mine.intersection(lineages.get(p.pid) or ()) for p in g.processes)
        )
    return GpuMap(by_run)


def view_for(snapshot: GpuSnapshot, gpu_map: GpuMap | None, run: str) -> GpuSnapshot:
    """What the detectors of `run` see: its GPUs only, or every GPU when the map is unknown."""
    used = None if gpu_map is None else gpu_map.gpus_of(run)
    if used is None:
        return snapshot
    return dataclasses.replace(snapshot, gpus=tuple(g for g in snapshot.gpus if g.index in used))


def unused_view(snapshot: GpuSnapshot, gpu_map: GpuMap | None) -> GpuSnapshot | None:
    """The GPUs no run uses, for the machine's own detectors; None when the map is unknown
    (every run already sees every GPU) or snapshot failed."""
    if gpu_map is None or gpu_map.unknown is not None or snapshot.error is not None:
        return None
    used = set().union(*gpu_map.by_run.values())
    return dataclasses.replace(
        snapshot, gpus=tuple(g for g in snapshot.gpus if g.index not in used)
    )


def ordered_for(snapshot: GpuSnapshot, gpu_map: GpuMap | None, run: str) -> GpuSnapshot:
    """Every GPU, `run`'s first (for `/gpu RUN`)."""
    used = None if gpu_map is None else gpu_map.gpus_of(run)
    if not used:
        return snapshot
    gpus = sorted(snapshot.gpus, key=lambda g: g.index not in used)
    return dataclasses.replace(snapshot, gpus=tuple(gpus))
