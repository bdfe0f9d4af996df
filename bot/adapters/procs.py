"""Which processes write a log, and whose descendants NVML's GPU processes are: read in /proc.

Every function takes the /proc root, so tests can build a fake tree. The walk starts from the
few PIDs NVML lists, never from every process of the machine: a GPU process belongs to a run
when it, or one of its ancestors (ppid, field 4 of /proc/PID/stat), is the process etagram
launched or holds the run's log open for writing (a /proc/PID/fd link to the log whose
/proc/PID/fdinfo `flags` say write-only or read-write).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from bot.core.gpu import GpuSnapshot
from bot.core.gpumap import NO_PROC, GpuMap, Lineages, map_gpus

PROC = Path("/proc")
MAX_DEPTH = 64  # a ppid chain longer than this is a loop in a broken /proc, not a process tree
_ACCESS_MODE = 0o3  # O_ACCMODE: 0 read-only, 1 write-only, 2 read-write


def readable(root: Path) -> bool:
    """Whether `root` looks like a mounted /proc (at least one process directory)."""
    try:
        return any(entry.name.isdigit() for entry in os.scandir(root))
    except OSError:
        return False


def parent(pid: int, root: Path) -> int | None:
    """The ppid of `pid`; None when the process is not there (gone, or another namespace)."""
    stat = _stat(pid, root)
    return None if stat is None else stat[0]


def _stat(pid: int, root: Path) -> tuple[int, int] | None:
    """(ppid, process group) of `pid`, from /proc/PID/stat."""
    try:
        stat = (root / str(pid) / "stat").read_text(errors="replace")
    except OSError:
        return None
    # "PID (comm) STATE PPID PGRP ...": comm may hold spaces and parentheses; the last ")"
    # ends it.
    fields = stat[stat.rfind(")") + 1 :].split()
    if len(fields) < 3 or not (fields[1].isdigit() and fields[2].isdigit()):
        return None
    return int(fields[1]), int(fields[2])


def lineage(pid: int, root: Path) -> tuple[int, ...] | None:
    """`pid` and its ancestors, nearest first; None when `pid` is not in this /proc."""
    ppid = parent(pid, root)
    if ppid is None:
        return None
    chain = [pid]
    while ppid > 1 and ppid not in chain and len(chain) < MAX_DEPTH:
        chain.append(ppid)
        ppid = parent(ppid, root) or 0
    return tuple(chain)


def writes(pid: int, path: Path, root: Path) -> bool:
    """Whether process `pid` holds `path` (already resolved) open for writing."""
    return str(path) in written(pid, root)


def written(pid: int, root: Path) -> frozenset[str]:
    """The files process `pid` holds open for writing (as /proc/PID/fd links name them)."""
    fd_dir = root / str(pid) / "fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:  # gone, or another user's process
        return frozenset()
    found = set()
    for fd in fds:
        try:
            target = os.readlink(fd_dir / fd)
            if target.startswith("/") and _for_writing(root / str(pid) / "fdinfo" / fd):
                found.add(target)
        except (OSError, ValueError):
            continue
    return frozenset(found)


def _for_writing(fdinfo: Path) -> bool:
    for line in fdinfo.read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "flags":
            return int(value.strip(), 8) & _ACCESS_MODE in (os.O_WRONLY, os.O_RDWR)
    return False


def gpu_map(
    snapshot: GpuSnapshot, logs: Mapping[str, Path], launched: Collection[int], root: Path = PROC
) -> GpuMap:
    """Each run's GPUs: its log's writers, or the processes etagram launched (`etagram run`
    has one run), and their descendants, found among NVML's processes. Blocks on /proc."""
    if not readable(root):
        return GpuMap(unknown=NO_PROC)
    found = lineages((p.pid for g in snapshot.gpus for p in g.processes), root)
    held = writers(found, logs, root, skip=(os.getpid(),))
    return map_gpus(snapshot, found, {run: held[run] | set(launched) for run in logs})


def lineages(pids: Iterable[int], root: Path = PROC) -> Lineages:
    """The lineage of each PID NVML listed (None for a PID this /proc does not have)."""
    return {pid: lineage(pid, root) for pid in set(pids)}


def writers(
    found: Lineages, logs: Mapping[str, Path], root: Path = PROC, skip: Collection[int] = ()
) -> dict[str, frozenset[int]]:
    """Per run, the processes among the lineages that hold its log open for writing, or whose
    pipeline partner does (`python train.py | tee train.log`: tee, same parent and process
    group, writes the log for python).

    `skip`: processes not to count (etagram itself, which writes the log of `etagram run`:
    its launched process says better which GPU processes are the run's)."""
    candidates = {p for chain in found.values() if chain for p in chain} - set(skip)
    files: dict[int, frozenset[str]] = {}  # each process's fds read once per call

    def writes_to(pid: int, log: str) -> bool:
        if pid not in files:
            files[pid] = written(pid, root)
        return log in files[pid]

    partners: dict[int, set[int]] | None = None
    held = {}
    for run, path in logs.items():
        log = str(_resolved(path))
        held[run] = frozenset(p for p in candidates if writes_to(p, log))
        if not held[run]:  # the costlier search, over every process, only when needed
            partners = partners if partners is not None else _partners(candidates, root)
            held[run] = frozenset(
                p for p, others in partners.items() if any(writes_to(o, log) for o in others)
            )
    return held


def _partners(members: Collection[int], root: Path) -> dict[int, set[int]]:
    """Each member's siblings in its process group: the other ends of its pipeline."""
    table = {
        int(e.name): st
        for e in os.scandir(root)
        if e.name.isdigit() and (st := _stat(int(e.name), root))
    }
    return {
        m: {p for p, st in table.items() if st == table[m] and p != m}
        for m in members
        if m in table and table[m][0] > 0
    }


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def log_writers(path: Path, root: Path = PROC) -> frozenset[int]:
    """Every process holding `path` open for writing (reads every process's fds: for the
    rare checks, not for each GPU sample)."""
    log = str(_resolved(path))
    try:
        pids = [int(e.name) for e in os.scandir(root) if e.name.isdigit()]
    except OSError:
        return frozenset()
    return frozenset(p for p in pids if p != os.getpid() and log in written(p, root))
