"""/proc reading: on a fake /proc tree built here, and on the real /proc with real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters import procs
from bot.core.gpu import GpuProcess, GpuSample, GpuSnapshot
from bot.core.gpumap import NO_PROC, PID_NAMESPACE

LOG = Path("/data/run/train.log")
PIPED = Path("/data/run/piped.log")


def fake_process(
    root: Path,
    pid: int,
    ppid: int,
    comm: str,
    fds: dict[int, tuple[str, int]] | None = None,
    pgrp: int | None = None,
) -> None:
    """A /proc/PID with its stat, and fds as (target, octal flags)."""
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    (d / "fdinfo").mkdir()
    (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pgrp or pid} {pid} 0 -1 4194560 0 0\n")
    for fd, (target, flags) in (fds or {}).items():
        (d / "fd" / str(fd)).symlink_to(target)
        (d / "fdinfo" / str(fd)).write_text(f"pos:\t0\nflags:\t{flags:o}\nmnt_id:\t29\n")


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    fake_process(root, 1, 0, "systemd")
    fake_process(root, 100, 1, "bash")
    # A launcher holding the log open for appending (O_WRONLY|O_APPEND|O_LARGEFILE)...
    fake_process(root, 200, 100, "torchrun", {1: (str(LOG), 0o102001)})
    # ...whose workers have ") S 7 (" in their name, to trip a naive stat parser.
    fake_process(root, 201, 200, "pt ) S 7 (w")
    fake_process(root, 202, 200, "worker")
    # A reader of the same log (tail -f): O_RDONLY is not a writer.
    fake_process(root, 300, 100, "tail", {3: (str(LOG), 0o100000)})
    # `python train.py | tee piped.log` from bash 400: python and tee share a process group.
    fake_process(root, 400, 100, "bash")
    fake_process(root, 401, 400, "python", pgrp=401)
    fake_process(root, 402, 400, "tee", {1: (str(PIPED), 0o101)}, pgrp=401)
    fake_process(root, 403, 401, "worker", pgrp=401)
    fake_process(root, 404, 400, "other", pgrp=404)  # same parent, another job
    return root


def test_a_pipeline_partner_writes_for_the_trainer(fake_proc: Path) -> None:
    mapped = procs.gpu_map(snapshot((0, 403), (1, 404)), {"piped": PIPED}, (), fake_proc)
    assert mapped.gpus_of("piped") == {0}


def test_lineage_walks_up_through_odd_names(fake_proc: Path) -> None:
    assert procs.lineage(201, fake_proc) == (201, 200, 100)
    assert procs.lineage(999, fake_proc) is None  # not in this /proc


def test_writers_are_the_processes_holding_the_log_for_writing(fake_proc: Path) -> None:
    found = procs.lineages([201, 300], fake_proc)
    assert procs.writers(found, {"gpt": LOG}, fake_proc) == {"gpt": frozenset({200})}
    assert procs.writers(found, {"gpt": LOG}, fake_proc, skip=[200]) == {"gpt": frozenset()}


def snapshot(*placements: tuple[int, int]) -> GpuSnapshot:
    """GPU index -> one process on it."""
    gpus = [GpuSample(i, processes=(GpuProcess(pid, 1000),)) for i, pid in placements]
    return GpuSnapshot(0.0, tuple(gpus))


def test_gpu_map_from_a_fake_proc(fake_proc: Path) -> None:
    # Worker 202 on GPU 0, the tail (not a writer) on GPU 1.
    mapped = procs.gpu_map(snapshot((0, 202), (1, 300)), {"gpt": LOG}, (), fake_proc)
    assert mapped.gpus_of("gpt") == {0}
    # A launched process says which run it is even when nobody writes the log.
    launched = procs.gpu_map(snapshot((0, 202), (1, 300)), {"x": Path("/none")}, {300}, fake_proc)
    assert launched.gpus_of("x") == {1}


def test_no_proc_and_foreign_pids_fall_back(tmp_path: Path, fake_proc: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert procs.gpu_map(snapshot((0, 202)), {"gpt": LOG}, (), empty).unknown == NO_PROC
    # NVML's PIDs from the host, this /proc from a container: none of them is here.
    foreign = procs.gpu_map(snapshot((0, 41234), (1, 41235)), {"gpt": LOG}, (), fake_proc)
    assert foreign.unknown == PID_NAMESPACE


WRITER = """
import subprocess, sys
log = open(sys.argv[1], "a")
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
sys.stdin.read()
child.kill()
"""


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """A real process holding a log open for appending, and its child: (log, writer, child)."""
    if not procs.readable(procs.PROC):
        pytest.skip("no /proc on this system")
    log = tmp_path / "real.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    child = int(proc.stdout.readline())
    try:
        yield log, proc.pid, child
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_real_proc_finds_the_writer_and_its_child(writer: tuple[Path, int, int]) -> None:
    log, writer_pid, child = writer
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    lineage = procs.lineage(child, procs.PROC)
    assert lineage is not None and lineage[:2] == (child, writer_pid)
    assert procs.writes(writer_pid, log.resolve(), procs.PROC)
    # Python opens files close-on-exec: the child holds no handle on the log, its parent does.
    assert not procs.writes(child, log.resolve(), procs.PROC)
    mapped = procs.gpu_map(snapshot((0, os.getpid()), (1, child)), {"real": log}, ())
    assert mapped.gpus_of("real") == {1}


def test_real_pipeline_into_tee(tmp_path: Path) -> None:
    """`python … | tee LOG` for real: python's GPU is the log's run though tee writes it."""
    if not procs.readable(procs.PROC):
        pytest.skip("no /proc on this system")
    log = tmp_path / "piped.log"
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"
    shell = subprocess.Popen(["sh", "-c", f"{sleeper} | tee {log} > /dev/null"])
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 10
        python = None
        while python is None and time.monotonic() < deadline:
            kids = [
                int(e.name)
                for e in os.scandir(procs.PROC)
                if e.name.isdigit() and procs.parent(int(e.name), procs.PROC) == shell.pid
            ]
            python = next((k for k in kids if not procs.writes(k, log.resolve(), procs.PROC)), None)
            python = python if len(kids) == 2 and log.exists() else None
            time.sleep(0.02)
        assert python is not None, "the pipeline did not start"
        mapped = procs.gpu_map(snapshot((0, os.getpid()), (1, python)), {"piped": log}, ())
        assert mapped.gpus_of("piped") == {1}
    finally:
        for pid in kids:  # the pipeline's two ends, by their PIDs
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shell.kill()
        shell.wait()
