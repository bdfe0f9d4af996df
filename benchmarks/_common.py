"""Helpers shared by the benchmark scripts: the machine, tables, process meters, and an
`etagram watch` subprocess pointed at the Bot API stand-in (and, optionally, stand-in GPUs).

Not a benchmark itself. Scripts import it as `from benchmarks._common import ...` after putting
the repository root on sys.path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# ../shared/logs beside the repository; a worktree nested one level deeper finds it higher up.
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "logs").is_dir()), ROOT.parent)
SHARED_LOGS = SHARED / "logs"
NANOGPT_LOG = "build-nanogpt_AGNDM_nanogpt-train-1806877.out"
CHAT = 4242  # the allowed chat of every benchmark
CLK_TCK = os.sysconf("SC_CLK_TCK")


# The machine ---------------------------------------------------------------------------------
def machine() -> str:
    """One line: cores, CPU model, RAM, Python (what RESULTS.md records with each table)."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]  # other work on the machine makes wall times noisy
    return (
        f"machine: nproc {os.cpu_count()}, CPU {model}, RAM {ram_gb:.1f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"load average {load:.2f} at start"
    )


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the suite's common options: --full and --logs."""
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the issue's full sizes (slow)")
    p.add_argument(
        "--logs",
        type=Path,
        default=SHARED_LOGS,
        help="folder of real training logs (default: the sibling shared/logs)",
    )
    return p


def real_log(logs: Path, name: str = NANOGPT_LOG) -> Path | None:
    path = logs / name
    return path if path.is_file() else None


# Tables --------------------------------------------------------------------------------------
def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 < q < 1), inclusive method; the value itself for one sample."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a Markdown table (so RESULTS.md takes it as is); floats get 1 decimal unless
    they are already strings."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,d}"
    return str(value)


# Process meters (Linux /proc) ----------------------------------------------------------------
def cpu_s(pid: int) -> float:
    """User + system CPU seconds used by a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


# Stand-in GPUs -------------------------------------------------------------------------------
def nvml_env(folder: Path, gpus: int) -> dict[str, str]:
    """Environment variables that make pynvml load the stand-in library with `gpus` GPUs
    (each running the training process and a smaller one)."""
    from tests import nvml_stub

    library_dir = nvml_stub.build(folder)
    state = folder / "nvml-state"
    procs = [(4242, 6000 << 20), (1234, 300 << 20)]
    nvml_stub.write_state(state, [nvml_stub.FakeGpu(procs=procs) for _ in range(gpus)])
    env = nvml_stub.environment(library_dir, state)
    return {k: env[k] for k in ("LD_LIBRARY_PATH", "FAKE_NVML_STATE")}


# `python -c PROFILED OUT ARGS...` runs `python -m bot ARGS...` under cProfile, counting the
# main thread's CPU time (the event loop; waiting in epoll costs nothing), from the first
# SIGUSR1 on, so that start-up is left out; the stats go to OUT when it exits.
PROFILED = """
import cProfile, runpy, signal, sys, time
out, sys.argv = sys.argv[1], ["bot", *sys.argv[2:]]
prof = cProfile.Profile(time.thread_time)
signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    prof.disable()
    prof.dump_stats(out)
"""


# etagram watch, as a user runs it --------------------------------------------------------------
@contextlib.asynccontextmanager
async def etagram_watch(
    stub: Any,
    logs: Sequence[Path],
    folder: Path,
    *,
    extra_env: dict[str, str] | None = None,
    settle_s: float = 1.0,
    profile_to: Path | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot watch LOG...` talking to the stand-in server `stub`, chat CHAT allowed;
    yields once the bot registered its commands and its followers had `settle_s` to start.
    `profile_to`: run it under cProfile, see PROFILED."""
    # Not beside the logs: the follower watches their folder, and would wake on each write.
    private = folder / "etagram"
    private.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "ETAGRAM_TELEGRAM_TOKEN": stub.token,
        "ETAGRAM_TELEGRAM_API_BASE_URL": stub.base_url,
        "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": str(CHAT),
        "ETAGRAM_STATE_PATH": str(private / "state.sqlite3"),
        "ETAGRAM_LOG_LEVEL": "WARNING",
        "ETAGRAM_TIMEZONE": "UTC",
        **(extra_env or {}),
    }
    stderr = (private / "stderr").open("wb")
    since = len(stub.sent)
    profiler = ["-c", PROFILED, str(profile_to)] if profile_to else ["-m", "bot"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *profiler,
        "watch",
        *map(str, logs),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        await stub.wait_for("setMyCommands", timeout=60, since=since)
        await asyncio.sleep(settle_s)
        yield proc
    except BaseException:
        print((private / "stderr").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        stderr.close()


@contextlib.asynccontextmanager
async def stub_server() -> AsyncIterator[Any]:
    from tests.telegram_stub import BotApiStub

    async with BotApiStub() as stub:
        yield stub


def print_profile(path: Path, top: int = 15, *, cumulative_in: str | None = None) -> None:
    """The functions that took the most time of their own, as a table (% of the total); with
    `cumulative_in`, those under a path containing it, by time spent in them and their callees."""
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    entries = stats.stats.items()  # type: ignore[attr-defined]
    column = 3 if cumulative_in else 2  # (calls, primitive calls, own, cumulative, callers)
    if cumulative_in:
        entries = [kv for kv in entries if cumulative_in in kv[0][0]]
    rows = sorted(entries, key=lambda kv: kv[1][column], reverse=True)[:top]
    table(
        [
            "function",
            "calls",
            "own s",
            "cumul. s",
            f"% total ({'cumul.' if cumulative_in else 'own'})",
        ],
        [
            [
                name
                if file == "~"
                else f"{Path(file).parent.name}/{Path(file).name}:{line} {name}",
                calls,
                f"{own:.3f}",
                f"{cumul:.3f}",
                f"{100 * (cumul if cumulative_in else own) / total:.1f}",
            ]
            for (file, line, name), (_, calls, own, cumul, _) in rows
        ],
    )


def temp_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="etagram-bench-")


def nanogpt_header(max_iters: int, eval_interval: int) -> str:
    """The config lines nanoGPT's train.py prints first (the format is detected from them)."""
    return (
        "Overriding config with config/train_gpt2.py:\n"
        f"eval_interval = {eval_interval}\nlog_interval = 1\nmax_iters = {max_iters}\n"
        "tokens per iteration will be: 491,520\n"
    )


def progress_line(it: int, loss: float = 3.2, ms: float = 170.0) -> str:
    return f"iter {it}: loss {loss:.4f}, time {ms:.2f}ms, mfu 31.00%\n"


def bare_nvml_calls(handles: list[Any]) -> None:
    """The NVML calls etagram's sampler makes for each GPU on every sample, written out by
    hand: the baseline the sampler's own cost is compared with."""
    import pynvml

    for h in handles:
        pynvml.nvmlDeviceGetUtilizationRates(h)
        pynvml.nvmlDeviceGetMemoryInfo(h)
        pynvml.nvmlDeviceGetCurrentClocksEventReasons(h)
        pynvml.nvmlDeviceGetComputeRunningProcesses_v3(h)
        pynvml.nvmlDeviceGetTemperatureV(h, pynvml.NVML_TEMPERATURE_GPU)
        pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)
        pynvml.nvmlDeviceGetPowerUsage(h)
        pynvml.nvmlDeviceGetEnforcedPowerLimit(h)


# The floor of following a log ----------------------------------------------------------------
@contextlib.asynccontextmanager
async def writes_to(path: Path) -> AsyncIterator[asyncio.Event]:
    """An event set at each write to `path`, from an inotify descriptor in the running event
    loop's epoll (as etagram's follower does it, without anything else)."""
    from inotify_simple import INotify, flags

    wake, inotify = asyncio.Event(), INotify(nonblocking=True)
    inotify.add_watch(path.parent, flags.MODIFY)

    def changed() -> None:
        inotify.read(timeout=0)
        wake.set()

    loop = asyncio.get_running_loop()
    loop.add_reader(inotify.fileno(), changed)
    try:
        yield wake
    finally:
        loop.remove_reader(inotify.fileno())
        inotify.close()
