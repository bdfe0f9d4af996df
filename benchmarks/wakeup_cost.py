"""What one wake-up costs on this machine, next to what etagram does once awake.

Why the follower reads a busy log in batches (bot/adapters/tail.py, MIN_READ_GAP_S): on the
virtual machines these benchmarks run on, a process that sleeps and is woken pays a few
hundred microseconds of CPU whatever it then does, and code run just after a wake-up is many
times slower than the same code run in a tight loop (cold caches).

Rows, each `--wakeups` times, `--gap-ms` apart, CPU of this process (`time.process_time`):
- `time.sleep` in a loop, nothing else;
- a blocking `poll()` on an inotify descriptor, woken by a writer process, then one `read()`;
- an asyncio loop with the inotify descriptor in its epoll, then one `read()` (the floor of
  etagram's follower);
- etagram's fold of one nanoGPT line (`Fold.fold`: parse, run state, estimator,
  detectors, notifier; no Telegram), timed alone, in a tight loop and after each sleep.

    python benchmarks/wakeup_cost.py [--wakeups 300] [--gap-ms 50]
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inotify_simple import INotify, flags  # noqa: E402

from benchmarks._common import (  # noqa: E402
    machine,
    nanogpt_header,
    parser,
    progress_line,
    table,
    temp_folder,
    writes_to,
)
from bot import assemble  # noqa: E402
from bot.adapters.console import Console  # noqa: E402
from bot.bus import LogLines  # noqa: E402
from bot.config import Config, General  # noqa: E402

WRITER = """
import sys, time
path, n, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with open(path, "ab", buffering=0) as f:
    for i in range(n):
        time.sleep(gap)
        f.write(b"iter %d: loss 3.2000, time 170.00ms, mfu 30.00%%\\n" % i)
"""


def per_wakeup(run: Callable[[], int]) -> float:
    """Microseconds of CPU per wake-up; `run` returns how many it had."""
    cpu = time.process_time()
    count = run()
    return 1e6 * (time.process_time() - cpu) / count


def sleeping(n: int, gap_s: float) -> int:
    for _ in range(n):
        time.sleep(gap_s)
    return n


def writer(log: Path, n: int, gap_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(n), str(gap_s)])


def polling(log: Path, n: int, gap_s: float) -> int:
    inotify = INotify()
    inotify.add_watch(log.parent, flags.MODIFY)
    poller = select.poll()
    poller.register(inotify.fileno(), select.POLLIN)
    wakeups = 0
    with open(log, "rb", buffering=0) as f, writer(log, n, gap_s) as child:
        f.seek(0, os.SEEK_END)
        while child.poll() is None:
            if poller.poll(1000):
                wakeups += 1
                inotify.read(timeout=0)
                f.read(1 << 20)
    inotify.close()
    return wakeups


def in_asyncio(log: Path, n: int, gap_s: float) -> int:
    async def follow() -> int:
        wakeups = 0
        async with writes_to(log) as wake:
            with open(log, "rb", buffering=0) as f, writer(log, n, gap_s) as child:
                f.seek(0, os.SEEK_END)
                while child.poll() is None:
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):
                            await wake.wait()
                            wakeups += 1
                            f.read(1 << 20)
        return wakeups

    return asyncio.run(follow())


def fold(n: int, gap_s: float) -> float:
    """Microseconds of this thread's CPU per `Fold.fold` of one progress line."""

    async def main() -> float:
        service = assemble.embedded(
            Config(general=General(timezone="UTC")), [], console=Console(io.StringIO())
        )
        assert service.fold is not None
        publish = service.fold.fold
        header = tuple(nanogpt_header(10_000_000, 500).splitlines())
        await publish(LogLines("run", header, time.time()))
        spent = 0.0
        for i in range(n):
            msg = LogLines("run", (progress_line(i),), time.time())
            cpu = time.thread_time()
            await publish(msg)
            spent += time.thread_time() - cpu
            if gap_s:
                time.sleep(gap_s)
        return 1e6 * spent / n

    return asyncio.run(main())


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--wakeups", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=50.0)
    args = ap.parse_args()
    n, gap_s = args.wakeups, args.gap_ms / 1e3
    print(machine())
    with temp_folder() as tmp:
        log = Path(tmp) / "train.log"
        log.write_bytes(b"")
        rows = [
            ["time.sleep in a loop", f"{per_wakeup(lambda: sleeping(n, gap_s)):.0f}"],
            ["poll() on inotify, read()", f"{per_wakeup(lambda: polling(log, n, gap_s)):.0f}"],
            ["asyncio + inotify, read()", f"{per_wakeup(lambda: in_asyncio(log, n, gap_s)):.0f}"],
        ]
    hot, cold = fold(max(n, 2000), 0.0), fold(n, gap_s)
    rows += [
        ["etagram's fold of 1 line, tight loop", f"{hot:.0f}"],
        [f"etagram's fold of 1 line, after each {args.gap_ms:g} ms sleep", f"{cold:.0f}"],
    ]
    print(f"{n} wake-ups per row, {args.gap_ms:g} ms apart")
    table(["what", "CPU µs each"], rows)


if __name__ == "__main__":
    main()
