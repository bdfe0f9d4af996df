"""Follow latency: time from a line's write to its delivery by `LogFollower`.

A writer thread appends `--lines` lines, each carrying the `time.perf_counter_ns()` of its
write, while a `LogFollower` follows the file; the delivery time of each line is taken when
its batch reaches the consumer; then the CPU the process uses over `IDLE_S` seconds while the
file stays unchanged. Two writers:

- lines after a quiet spell, `--quiet-ms` apart (an eval line after the evaluation's pause, a
  traceback after a crash): the follower reads each at once;
- a busy log, a line every `--busy-ms`: read in batches every `MIN_READ_GAP_S` (0.1 s), so
  a line waits up to that long, and the follower wakes 10 times a second, not once per line.

Modes, side by side: inotify (in the event loop) with its 1 s safety poll; polling only, every
0.25 s (the default interval); polling only, every 0.05 s (what polling would need to approach
inotify).

    python benchmarks/follow_latency.py [--lines 200] [--quiet-ms 150] [--busy-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.tail import LogFollower  # noqa: E402

IDLE_S = 3.0
MODES = (
    ("inotify + 1 s safety poll", True, 0.25),
    ("polling only, 0.25 s", False, 0.25),
    ("polling only, 0.05 s", False, 0.05),
)


def write_lines(path: Path, count: int, gap_s: float) -> None:
    with open(path, "ab", buffering=0) as f:
        for i in range(count):
            time.sleep(gap_s)
            f.write(f"iter {i}: t_ns {time.perf_counter_ns()}\n".encode())


async def measure(
    path: Path, count: int, gap_s: float, inotify: bool, poll_s: float
) -> tuple[list[float], float]:
    path.write_bytes(b"")
    follower = LogFollower(path, use_inotify=inotify, poll_interval_s=poll_s)
    batches = follower.lines()
    await asyncio.sleep(0.3)  # let the watcher start before the first write
    writer = threading.Thread(target=write_lines, args=(path, count, gap_s))
    latencies_ms: list[float] = []
    first = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    writer.start()
    batch = await first
    while True:
        now = time.perf_counter_ns()
        latencies_ms += [(now - int(line.rsplit(" ", 1)[1])) / 1e6 for line in batch]
        if len(latencies_ms) >= count:
            break
        batch = await anext(batches)
    writer.join()
    # Idle cost: the follower waiting on a file that no longer changes.
    pending = asyncio.ensure_future(anext(batches))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(IDLE_S)
    idle_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    follower.stop()
    with contextlib.suppress(StopAsyncIteration):
        await pending
    return latencies_ms, idle_cpu


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--quiet-ms", type=float, default=150.0)
    ap.add_argument("--busy-ms", type=float, default=20.0)
    args = ap.parse_args()
    print(f"{args.lines} lines per row; write -> delivery latency in ms")
    print(
        f"{'writer':<24} {'mode':<26} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'idle CPU':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for writer, gap_ms in (("quiet spells", args.quiet_ms), ("busy", args.busy_ms)):
            for name, inotify, poll_s in MODES:
                log = Path(tmp) / "train.log"
                lat, idle_cpu = await measure(log, args.lines, gap_ms / 1e3, inotify, poll_s)
                cells = [quantile(lat, q) for q in (0.5, 0.9, 0.99)] + [max(lat)]
                label = f"{writer}, {gap_ms:g} ms"
                print(
                    f"{label:<24} {name:<26} "
                    + " ".join(f"{c:7.1f}" for c in cells)
                    + f" {idle_cpu:9.2%}"
                )


if __name__ == "__main__":
    asyncio.run(main())
