"""When the SLURM job a run trains in ends: `SLURM_JOB_END_TIME` (epoch seconds) in the
environment of etagram or of the training processes (`/proc/PID/environ`), else
`squeue -h -j $SLURM_JOB_ID -o %e`. Nothing found (not under SLURM, no `squeue`, an unlimited
job): None, silently.

Sample `squeue -o %e` output: `2026-12-08T03:10:00` (local time), `N/A`, `Unknown`, `NONE`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

SQUEUE_TIMEOUT_S = 10.0

Squeue = Callable[[str], str | None]  # job id -> squeue's output, None when it cannot answer


def job_end_s(environs: Iterable[Mapping[str, str]], squeue: Squeue) -> float | None:
    """The job's end from the first environment that names one: its `SLURM_JOB_END_TIME`,
    or what `squeue` says of its `SLURM_JOB_ID`."""
    for env in environs:
        end = _epoch(env.get("SLURM_JOB_END_TIME", ""))
        if end is not None:
            return end
        job = env.get("SLURM_JOB_ID", "").strip()
        if job.isdigit() and (answer := squeue(job)) is not None:
            return parse_squeue_end(answer)
    return None


def parse_squeue_end(text: str) -> float | None:
    """`%e` as squeue prints it (ISO local time), or None for N/A, Unknown, NONE, garbage."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    try:
        return datetime.fromisoformat(first).timestamp()
    except ValueError:
        return _epoch(first)  # SLURM_TIME_FORMAT=%s prints epoch seconds


def run_squeue(job: str) -> str | None:
    """squeue's end-time column for `job`; None when squeue is absent or fails."""
    exe = shutil.which("squeue")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "-h", "-j", job, "-o", "%e"],
            capture_output=True,
            text=True,
            timeout=SQUEUE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def environ_of(pid: int, root: Path) -> dict[str, str]:
    """Process `pid`'s environment as it started; empty when gone or not ours to read."""
    try:
        raw = (root / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def _epoch(text: str) -> float | None:
    text = text.strip()
    if not text.isdigit():
        return None
    value = float(text)
    return value if value > 0 else None
