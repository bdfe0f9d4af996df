"""Steady-state overhead: CPU and memory of `etagram watch` following a busy log while
sampling 8 stand-in GPUs every 2 s, next to polling loops users run today, same run.

Processes, all started together and measured over the same window (after a warm-up):
- `etagram watch LOG` (a real subprocess, Telegram on, pointed at the Bot API stand-in),
  the log written at `--rate` nanoGPT lines a second (an eval every 500 iterations),
  ETAGRAM_GPU_INTERVAL_S=2, 8 GPUs from the stand-in libnvidia-ml.so.1;
- the same with a log nobody writes to: the cost of GPU sampling and Telegram polling alone
  (the difference is the cost of the log's lines);
- a bare Python loop making the same NVML calls every 2 s (pynvml, nothing else);
- a bare asyncio loop following the busy log: woken by inotify at each write, it reads the new
  bytes and does nothing else (the floor of following a log written line by line: on these
  virtual machines each wake-up of a sleeping process costs a few hundred microseconds);
- `gpustat.new_query()` and nvitop's `Device.all()` snapshots every 2 s in a Python loop, when
  one query works (neither is a dependency: `pip install gpustat nvitop` where the benchmark
  runs; the stand-in lacks some NVML functions nvitop asks for, which it shows as N/A).

CPU is user + system time from /proc over the window, given as % of one core and extrapolated
to CPU seconds per hour; RSS is the resident size at the end and its peak.

    python benchmarks/steady_overhead.py [--seconds 60] [--full] [--profile]
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    CLK_TCK,
    bare_nvml_calls,
    cpu_s,
    etagram_watch,
    machine,
    nanogpt_header,
    nvml_env,
    parser,
    print_profile,
    progress_line,
    rss_mb,
    stub_server,
    table,
    temp_folder,
    writes_to,
)

GPUS = 8
INTERVAL_S = 2.0
WARMUP_S = 5.0
CHILD_FLAG = "--poll-child"
ETAGRAM = "etagram watch (Telegram on)"
ETAGRAM_IDLE = "etagram watch, log not written (GPUs and Telegram only)"
FOLLOW = "bare asyncio loop woken by inotify, reading the busy log"


def bare_nvml_poll() -> None:
    """The NVML calls etagram's sampler makes for each GPU, written out by hand."""
    import pynvml

    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    while True:
        bare_nvml_calls(handles)
        time.sleep(INTERVAL_S)


def bare_follow(path: str) -> None:
    """Follow `path` the cheapest way asyncio can: inotify in the loop, one read per wake-up."""

    async def follow() -> None:
        async with writes_to(Path(path)) as wake:
            with open(path, "rb", buffering=0) as f:
                f.seek(0, os.SEEK_END)
                while True:
                    await wake.wait()
                    wake.clear()
                    f.read(1 << 20)

    asyncio.run(follow())


def gpustat_query() -> None:
    import gpustat

    gpustat.new_query()


def nvitop_query() -> None:
    from nvitop import Device

    for device in Device.all():
        device.as_snapshot()


# One query of each tool users poll GPUs with today; `tool_poll` repeats it every INTERVAL_S.
QUERIES = {"gpustat": gpustat_query, "nvitop": nvitop_query}


def tool_poll(kind: str, once: bool) -> None:
    logging.disable(logging.CRITICAL)  # nvitop logs each NVML function the stand-in lacks
    while True:
        QUERIES[kind]()
        if once:
            return
        time.sleep(INTERVAL_S)


async def write_log(path: Path, rate: float, stop: asyncio.Event) -> int:
    """Append nanoGPT lines at `rate` a second (an eval every 500) until `stop`; lines written."""
    loop = asyncio.get_running_loop()
    start, it = loop.time(), 0
    with path.open("a", buffering=1) as f:
        while not stop.is_set():
            if it % 500 == 0 and it:
                f.write(f"step {it}: train loss 3.1000, val loss {3.2 - it / 1e6:.4f}\n")
            f.write(progress_line(it))
            it += 1
            await asyncio.sleep(max(0.0, start + it / rate - loop.time()))
    return it


async def start_poller(
    kind: str, env: dict[str, str], *args: str
) -> asyncio.subprocess.Process | str:
    """A polling loop in its own process, or why it is skipped."""
    if kind in QUERIES:
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            CHILD_FLAG,
            kind,
            "once",
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await probe.communicate()
        if probe.returncode != 0:
            why = (err.decode().strip().splitlines() or ["?"])[-1]
            return f"skipped: one {kind} query fails here ({why[:120]})"
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, CHILD_FLAG, kind, *args, env=env
    )


async def start_etagram(
    stack: contextlib.AsyncExitStack, folder: Path, env: dict[str, str], prof: Path | None
) -> tuple[int, Path, Any]:
    """An `etagram watch` of its own log, with its own stand-in server: (pid, log, stub)."""
    folder.mkdir()
    log = folder / "train.log"
    log.write_text(nanogpt_header(10_000_000, 500))
    stub = await stack.enter_async_context(stub_server())
    extra = {**env, "ETAGRAM_GPU_INTERVAL_S": str(INTERVAL_S)}
    proc = await stack.enter_async_context(
        etagram_watch(stub, [log], folder, extra_env=extra, profile_to=prof)
    )
    return proc.pid, log, stub


async def measure(seconds: float, rate: float, profile: bool) -> None:
    with temp_folder() as tmp:
        folder = Path(tmp)
        env = nvml_env(folder, GPUS)
        prof = Path(os.environ.get("ETAGRAM_BENCH_PROF", folder / "steady.prof"))
        pollers = {
            "bare Python loop, same NVML calls": await start_poller("bare", {**os.environ, **env}),
            "gpustat.new_query() in a loop": await start_poller("gpustat", {**os.environ, **env}),
            "nvitop Device snapshots in a loop": await start_poller(
                "nvitop", {**os.environ, **env}
            ),
        }
        stop = asyncio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                busy, log, stub = await start_etagram(
                    stack, folder / "busy", env, prof if profile else None
                )
                idle, _, _ = await start_etagram(stack, folder / "idle", env, None)
                pollers[FOLLOW] = await start_poller("follow", dict(os.environ), str(log))
                writer = asyncio.create_task(write_log(log, rate, stop))
                await asyncio.sleep(WARMUP_S)
                if profile:
                    os.kill(busy, signal.SIGUSR1)
                procs = {ETAGRAM: busy, ETAGRAM_IDLE: idle}
                procs |= {n: q.pid for n, q in pollers.items() if not isinstance(q, str)}
                before = {n: cpu_s(pid) for n, pid in procs.items()}
                t0 = time.monotonic()
                await asyncio.sleep(seconds)
                wall = time.monotonic() - t0
                used = {n: cpu_s(pid) - before[n] for n, pid in procs.items()}
                rss = {n: rss_mb(pid) for n, pid in procs.items()}
                calls = len(stub.sent)
                stop.set()
                lines = await writer
        finally:
            stop.set()
            for q in pollers.values():
                if not isinstance(q, str):
                    q.terminate()
                    await q.wait()
        print(
            f"window {wall:.0f} s after a {WARMUP_S:.0f} s warm-up (extrapolated to an hour); "
            f"{GPUS} stand-in GPUs sampled every {INTERVAL_S:g} s; log at {rate:g} lines/s "
            f"({lines} lines written); {calls} Bot API calls besides getUpdates"
        )
        rows: list[list[object]] = []
        for name in [ETAGRAM, ETAGRAM_IDLE, *pollers]:
            skipped = pollers.get(name)
            if isinstance(skipped, str):
                rows.append([name, skipped, "", "", ""])
                continue
            # /proc counts CPU in clock ticks: below one tick, say so rather than 0.
            share = max(used[name], 1 / CLK_TCK) / wall
            below = "< " if used[name] < 1 / CLK_TCK else ""
            rss_now, rss_peak = rss[name]
            cpu_cells = [f"{below}{100 * share:.3f} %", f"{below}{share * 3600:.1f}"]
            rows.append([name, *cpu_cells, f"{rss_now:.1f}", f"{rss_peak:.1f}"])
        table(["process", "CPU, % of one core", "CPU s/hour", "RSS MB", "peak RSS MB"], rows)
        print("target: etagram under 1 % of one core, RSS under 100 MB")
        if profile:
            print("\nprofile of etagram watch over the window (cProfile, main thread CPU):")
            print_profile(prof)
            print("\nthe same, etagram's own functions by cumulative time:")
            print_profile(prof, 20, cumulative_in="/bot/")


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window (--full: 600)")
    ap.add_argument("--rate", type=float, default=20.0, help="log lines per second")
    ap.add_argument("--profile", action="store_true", help="run etagram under cProfile")
    args = ap.parse_args()
    print(machine())
    asyncio.run(measure(600.0 if args.full else args.seconds, args.rate, args.profile))


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD_FLAG]:
        if sys.argv[2] == "follow":
            bare_follow(sys.argv[3])
        elif sys.argv[2] in QUERIES:
            tool_poll(sys.argv[2], once=sys.argv[3:] == ["once"])
        else:
            bare_nvml_poll()
    else:
        main()
