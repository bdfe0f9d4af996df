"""CPU cost of finding each run's GPUs in /proc (once per GPU sample), on this machine's /proc.

Eight real "training" processes each hold a log open and have a child that stands for the
GPU process NVML would list; a snapshot puts one child on each of 8 GPUs. Rows, interleaved
in rounds so that machine noise hits them alike:
  direct           procs.gpu_map: the log writers are ancestors of the GPU processes
  pipeline         the same, logs written by `tee` beside the trainer (`train | tee LOG`):
                   the partner search reads every process's stat
  baseline: stat   reading /proc/*/stat for every process once (what a scan of all costs)

etagram samples GPUs every 5 s by default (gpu_interval_s).

Run from the repository root:  python benchmarks/gpu_map_cost.py [--calls 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters import procs  # noqa: E402
from bot.core.gpu import GpuProcess, GpuSample, GpuSnapshot  # noqa: E402

ROUNDS = 5
ends: list[int] = []  # the pipelines' processes, children of their shells
RUNS = 8
SLEEP = "import time; time.sleep(600)"
WRITER = "import subprocess, sys; log = open(sys.argv[1], 'a'); " + (
    f"c = subprocess.Popen([sys.executable, '-c', {SLEEP!r}]); print(c.pid, flush=True); "
    "sys.stdin.read(); c.kill()"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per row (all rounds)")
    args = parser.parse_args()
    if not procs.readable(procs.PROC):
        sys.exit("no /proc on this machine")
    with tempfile.TemporaryDirectory(prefix="etagram-bench-") as tmp:
        started: list[subprocess.Popen[str]] = []
        try:
            rows = measure(Path(tmp), started, args.calls)
        finally:
            for pid in ends:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for p in started:
                if p.stdin is not None:  # a writer ends its child when its stdin closes
                    p.stdin.close()
                else:
                    p.kill()
                p.wait()
    processes = sum(1 for e in os.scandir(procs.PROC) if e.name.isdigit())
    print(f"{RUNS} runs on {RUNS} GPUs, {processes} processes in /proc, {args.calls} calls/row")
    print(f"{'row':<18}{'median µs/call':>16}{'per 5 s sample, % of a core':>30}")
    for name, micros in rows.items():
        print(f"{name:<18}{micros:>16.0f}{100 * micros / 5e6:>30.3f}")


def measure(tmp: Path, started: list[subprocess.Popen[str]], calls: int) -> dict[str, float]:
    direct_logs, direct_pids = {}, []
    for i in range(RUNS):
        log = tmp / f"direct{i}.log"
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(p)
        assert p.stdout is not None
        direct_logs[f"d{i}"], direct_pids = log, [*direct_pids, int(p.stdout.readline())]
    piped_logs, shells = {}, []
    for i in range(RUNS):  # as a shell runs `python train.py | tee LOG`
        piped_logs[f"p{i}"] = log = tmp / f"piped{i}.log"
        pipeline = f"{sys.executable} -c '{SLEEP}' | tee {log} >/dev/null"
        shells.append(subprocess.Popen(["sh", "-c", pipeline], text=True))
    started += shells
    time.sleep(0.5)  # every pipeline started, every log opened
    piped_pids = [trainer(shell.pid, started) for shell in shells]
    direct, piped = snapshot(direct_pids), snapshot(piped_pids)
    jobs: dict[str, Callable[[], object]] = {
        "direct": lambda: procs.gpu_map(direct, direct_logs, ()),
        "pipeline": lambda: procs.gpu_map(piped, piped_logs, ()),
        "baseline: stat": lambda: [
            procs.parent(int(e.name), procs.PROC)
            for e in os.scandir(procs.PROC)
            if e.name.isdigit()
        ],
    }
    assert procs.gpu_map(direct, direct_logs, ()).gpus_of("d3") == {3}
    assert procs.gpu_map(piped, piped_logs, ()).gpus_of("p5") == {5}
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(ROUNDS):
        for name, job in jobs.items():
            for _ in range(calls // ROUNDS):
                t0 = time.perf_counter()
                job()
                times[name].append(time.perf_counter() - t0)
    return {name: 1e6 * sorted(ts)[len(ts) // 2] for name, ts in times.items()}


def trainer(shell: int, started: list[subprocess.Popen[str]]) -> int:
    """The python end of a shell's pipeline; both ends are noted, to be ended by PID."""
    kids = [
        int(e.name)
        for e in os.scandir(procs.PROC)
        if e.name.isdigit() and procs.parent(int(e.name), procs.PROC) == shell
    ]
    ends.extend(kids)
    return next(k for k in kids if (procs.PROC / str(k) / "comm").read_text().strip() != "tee")


def snapshot(pids: list[int]) -> GpuSnapshot:
    gpus = tuple(GpuSample(i, processes=(GpuProcess(pid, 9000),)) for i, pid in enumerate(pids))
    return GpuSnapshot(0.0, gpus)


if __name__ == "__main__":
    main()
