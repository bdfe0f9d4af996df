"""Notification latency: a line appended to a followed log until the Bot API stand-in server
receives the message, for `etagram watch` (a real subprocess) and for the floor.

Events, one at a time (the next is written once the previous message arrived, plus a gap):
- eval lines (`step N: train loss .., val loss ..`): one eval message each;
- NaN-loss lines (`iter N: loss nan, ...`), each followed by a finite one so that the next NaN
  is a new alert (an active condition alerts once);
- CUDA OOM lines: an OOM alerts once per run, so etagram follows one log per OOM sample;
- eval lines in a busy log, one that also gets 20 progress lines a second: the follower reads
  a busy log in batches every 0.1 s (one wake-up for several lines), so these wait longer.
  (A real eval line comes after the evaluation's pause, when the log was quiet.)

Floor, same run, same stand-in server: a bare asyncio loop in its own process that wakes on
the log through inotify (its descriptor in the event loop, as etagram's follower does) and
POSTs each new line to sendMessage with httpx.

Spacing: Telegram allows about one message a second per chat; etagram does not pace its
outbox itself and the stand-in server does not enforce the limit, so events are spaced by
`--gap-ms` after each delivery (default 100 ms): the spacing only keeps one event from queueing
behind the previous one. Every event goes to every allowed chat, so more chats would not space
them out; one chat is used. `--full` keeps Telegram's pace (1 s).

    python benchmarks/notify_latency.py [--events 200] [--gap-ms 100] [--full]
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    CHAT,
    etagram_watch,
    machine,
    nanogpt_header,
    parser,
    progress_line,
    quantile,
    stub_server,
    table,
    temp_folder,
    writes_to,
)

WARMUP = 5  # first events not counted (the run's "started" alert, first-call set-up)
OOM_LINE = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a "
    "total capacity of 11.72 GiB of which 1.02 GiB is free.\n"
)
FLOOR_FLAG = "--floor-child"


def append(path: Path, text: str) -> float:
    """Append text in one write; the monotonic time just before it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        t = time.monotonic()
        os.write(fd, text.encode())
        return t
    finally:
        os.close(fd)


def plan(events: int, ooms: int) -> list[tuple[str, int]]:
    """(kind, log index) of each measured event: evals and OOMs alternate on log 0 (training
    goes on after each OOM, so each is a failure of its own); more OOMs, spread evenly among
    them, each go to a log of their own (an OOM as the first failure of a run)."""
    out = [("eval" if i % 2 == 0 else "oom", 0) for i in range(events - ooms)]
    step = len(out) // (ooms + 1)
    for j in range(ooms, 0, -1):  # from the end, so earlier positions stay put
        out.insert(j * step, ("oom", j))
    return out


class Writer:
    """The lines of each event, with increasing iterations."""

    def __init__(self) -> None:
        self.it = 100

    def lines(self, kind: str) -> str:
        self.it += 10
        if kind == "eval":
            return f"step {self.it}: train loss 3.1000, val loss 3.{self.it % 9000:04d}\n"
        return OOM_LINE

    def clear(self, kind: str) -> str | None:
        """A line that ends the condition (training goes on), so the next one alerts again.
        (A NaN would not do: the detector re-arms only after 500 finite losses.)"""
        self.it += 1
        return progress_line(self.it) if kind == "oom" else None


async def measure_etagram(
    stub: object, folder: Path, events: list[tuple[str, int]], gap_s: float
) -> dict[str, list[float]]:
    header = nanogpt_header(1_000_000, 500) + "".join(progress_line(i) for i in range(100))
    nlogs = 1 + max(i for _, i in events)
    logs = [folder / f"run{i}.log" for i in range(nlogs)]
    for log in logs:
        log.write_text(header)
    writer = Writer()
    warm = [("eval", 0)] * WARMUP
    out: dict[str, list[float]] = {}
    async with etagram_watch(stub, logs, folder):
        for n, (kind, index) in enumerate(warm + events):
            latency = await one_event(stub, logs[index], writer.lines(kind))
            if n >= WARMUP:
                out.setdefault(kind, []).append(latency)
            if (extra := writer.clear(kind)) is not None:
                append(logs[index], extra)
            await asyncio.sleep(gap_s)
    return out


async def measure_busy(stub: object, folder: Path, count: int, gap_s: float) -> list[float]:
    """Eval lines appended to a log that a task writes 20 progress lines a second to."""
    folder.mkdir()
    log = folder / "busy.log"
    log.write_text(nanogpt_header(1_000_000, 500))
    writer, stop = Writer(), asyncio.Event()

    async def stream() -> None:
        while not stop.is_set():
            writer.it += 1
            append(log, progress_line(writer.it))
            await asyncio.sleep(0.05)

    out: list[float] = []
    async with etagram_watch(stub, [log], folder):
        task = asyncio.create_task(stream())
        for n in range(WARMUP + count):
            latency = await one_event(stub, log, writer.lines("eval"))
            if n >= WARMUP:
                out.append(latency)
            await asyncio.sleep(gap_s + random.random() * 0.1)  # any phase against the reads
        stop.set()
        await task
    return out


async def one_event(stub: object, log: Path, text: str) -> float:
    """Milliseconds from the append to the next message the stand-in receives."""
    since = len(stub.sent)  # type: ignore[attr-defined]
    written = append(log, text)
    call = await stub.wait_for(  # type: ignore[attr-defined]
        lambda c: c.method == "sendMessage" and c.chat_id == CHAT, timeout=10, since=since
    )
    return (call.time - written) * 1e3


async def measure_floor(stub: object, folder: Path, count: int, gap_s: float) -> list[float]:
    log = folder / "floor.log"
    log.write_text("")
    since = len(stub.sent)  # type: ignore[attr-defined]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        FLOOR_FLAG,
        str(log),
        stub.base_url + stub.token,  # type: ignore[attr-defined]
    )
    try:
        await stub.wait_for("getMe", timeout=30, since=since)  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        latencies = []
        for i in range(WARMUP + count):
            latency = await one_event(stub, log, f"event {i}\n")
            if i >= WARMUP:
                latencies.append(latency)
            await asyncio.sleep(gap_s)
        return latencies
    finally:
        child.terminate()
        await child.wait()


async def floor_child(log: Path, url: str) -> None:
    """The bare loop: inotify wake-up, read the new bytes, one POST per line."""
    import httpx

    async with httpx.AsyncClient() as client, writes_to(log) as wake:
        await client.post(f"{url}/getMe")
        with log.open("rb", buffering=0) as f:
            f.seek(0, os.SEEK_END)
            while True:
                await wake.wait()
                wake.clear()
                for line in f.read().decode().splitlines():
                    await client.post(f"{url}/sendMessage", data={"chat_id": CHAT, "text": line})


async def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--ooms", type=int, default=20, help="OOM events (one log each)")
    ap.add_argument("--gap-ms", type=float, default=100.0)
    args = ap.parse_args()
    gap_s = 1.0 if args.full else args.gap_ms / 1e3
    print(machine())
    print(
        f"{args.events} events per row, {gap_s * 1e3:.0f} ms after each delivery; "
        "append -> message received by the stand-in server, ms"
    )
    async with stub_server() as stub:
        with temp_folder() as tmp:
            floor = await measure_floor(stub, Path(tmp), args.events, gap_s)
            rows = await measure_etagram(stub, Path(tmp), plan(args.events, args.ooms), gap_s)
            busy = await measure_busy(stub, Path(tmp) / "busy", args.events, gap_s)
    rows_all = [v for values in rows.values() for v in values]
    table(
        ["path", "events", "p50 ms", "p99 ms", "max ms"],
        [_row("floor: inotify + 1 httpx POST", floor)]
        + [_row(f"etagram watch: {kind}", values) for kind, values in rows.items()]
        + [_row("etagram watch: all", rows_all)]
        + [_row("etagram watch: eval in a log written 20 times a second", busy)],
    )
    print("target: p99 < 100 ms")


def _row(name: str, values: list[float]) -> list[object]:
    return [
        name,
        len(values),
        f"{quantile(values, 0.5):.1f}",
        f"{quantile(values, 0.99):.1f}",
        f"{max(values):.1f}",
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == [FLOOR_FLAG]:
        asyncio.run(floor_child(Path(sys.argv[2]), sys.argv[3]))
    else:
        asyncio.run(main())
