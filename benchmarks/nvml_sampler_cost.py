"""CPU cost of one NvmlSampler.sample() on 8 GPUs, next to bare pynvml loops, same run.

The GPUs are the stand-in libnvidia-ml.so.1 of tests/nvml_stub (built here with `cc`), so
this measures etagram's own cost: Python, pynvml and ctypes, over a C function that answers
at once. A real driver adds its own time per call (an ioctl; power and process queries are
the slow ones), the same for every row.

Rows, interleaved in rounds so that machine noise hits them alike:
  sampler          NvmlSampler.sample(): the query helper, fallbacks, records
  bare loop        the same pynvml calls written out by hand, no helper, nothing built
  bare, all fields the bare loop plus the fields the sampler reads once (name, UUID, max
                   clock, slowdown temperature), as a polling script re-reads them each time

Run from the repository root:  python benchmarks/nvml_sampler_cost.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD_FLAG = "ETAGRAM_BENCH_NVML_CHILD"
ROUNDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per row (all rounds)")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--interval", type=float, default=2.0, help="sampling interval, s")
    args = parser.parse_args()
    if args.samples < ROUNDS or args.gpus < 1 or args.interval <= 0:
        parser.error(f"need --samples >= {ROUNDS}, --gpus >= 1 and --interval > 0")
    if os.environ.get(CHILD_FLAG):
        measure(args.samples, args.gpus, args.interval)
    else:
        sys.exit(launch(args.gpus))


def launch(gpus: int) -> int:
    """Build the stand-in and run this script again with the loader pointed at it."""
    from tests import nvml_stub

    with tempfile.TemporaryDirectory(prefix="etagram-bench-") as tmp:
        try:
            library_dir = nvml_stub.build(Path(tmp))
        except nvml_stub.NoCompiler as err:
            print(f"cannot build the stand-in NVML library: {err}", file=sys.stderr)
            return 1
        state = Path(tmp) / "state"
        # Each GPU: the training process and a second, smaller one.
        procs = [(4242, 6000 << 20), (1234, 300 << 20)]
        nvml_stub.write_state(state, [nvml_stub.FakeGpu(procs=procs) for _ in range(gpus)])
        env = nvml_stub.environment(library_dir, state)
        env[CHILD_FLAG] = "1"
        return subprocess.run([sys.executable, *sys.argv], env=env, check=False).returncode


def measure(samples: int, gpus: int, interval_s: float) -> None:
    import pynvml

    from benchmarks._common import bare_nvml_calls
    from bot.adapters.nvml import NvmlSampler

    sampler = NvmlSampler(now=time.monotonic)
    first = sampler.sample()  # starts NVML and reads what never changes
    assert first.error is None and len(first.gpus) == gpus, first
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(gpus)]

    def bare() -> None:
        bare_nvml_calls(handles)

    def bare_all_fields() -> None:
        bare()
        for h in handles:
            pynvml.nvmlDeviceGetName(h)
            pynvml.nvmlDeviceGetUUID(h)
            pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM)
            pynvml.nvmlDeviceGetTemperatureThreshold(h, pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)

    rows: dict[str, Callable[[], Any]] = {
        "sampler (NvmlSampler.sample)": sampler.sample,
        "bare loop, same pynvml calls": bare,
        "bare loop, all fields each time": bare_all_fields,
    }
    calls_counter = ctypes.CDLL("libnvidia-ml.so.1").fake_nvml_calls
    calls_counter.restype = ctypes.c_ulonglong
    calls = {}
    for name, fn in rows.items():
        before = calls_counter()
        fn()
        calls[name] = calls_counter() - before

    per_round = samples // ROUNDS
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    wall: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(ROUNDS):
        for name, fn in rows.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(per_round):
                fn()
            cpu[name].append((time.process_time() - c0) / per_round)
            wall[name].append((time.perf_counter() - w0) / per_round)
    sampler.shutdown()

    print(f"NVML sampling cost: {gpus} stand-in GPUs, {per_round * ROUNDS} samples per row")
    print(f"({ROUNDS} interleaved rounds, median), python {sys.version.split()[0]}, ", end="")
    print(f"nvidia-ml-py {_version('nvidia-ml-py')}, {os.cpu_count()} CPUs")
    print()
    header = (
        f"{'method':34} {'NVML calls':>10} {'CPU us/sample':>14} {'CPU us/GPU':>11} "
        f"{'wall us':>9} {f'% core @ {interval_s:g} s':>15}"
    )
    print(header)
    print("-" * len(header))
    for name in rows:
        cpu_s = statistics.median(cpu[name])
        print(
            f"{name:34} {calls[name]:>10} {cpu_s * 1e6:>14.1f} {cpu_s * 1e6 / gpus:>11.1f} "
            f"{statistics.median(wall[name]) * 1e6:>9.1f} {cpu_s / interval_s * 100:>14.4f}%"
        )
    print()
    _nvidia_smi(gpus)


def _nvidia_smi(gpus: int) -> None:
    path = shutil.which("nvidia-smi")
    if path is None:
        print("nvidia-smi: not installed on this machine (no NVIDIA driver), no row for it.")
        return
    # It talks to the real driver and its own GPUs, not to the stand-in: a reference only.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", CHILD_FLAG)}
    query = "--query-gpu=name,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,"
    query += "clocks.sm,clocks.max.sm,power.draw,power.limit,clocks_event_reasons.active"
    runs = 20
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        subprocess.run([path, query, "--format=csv,noheader"], env=env, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / runs
    print(f"nvidia-smi --query-gpu (real driver, its own GPUs, not {gpus} stand-ins): ", end="")
    print(f"{cpu_s * 1e6:.0f} us CPU per run ({runs} runs)")


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
