"""Events per second from 32 simulated agents through Redis Streams to one hub, and the
hub's CPU at that load, next to the embedded service (one process, no bus) in the same run.

Each agent is a RedisBus of its own (its own connection, its buffer and flusher), publishing
as fast as it can: one run and one host per agent, log lines (nanoGPT progress lines, with an
eval every 50 iterations) and, every 10th event, a GPU report of 8 GPUs. One line per event
is the worst case: an agent's publish of log lines returns once they are in Redis (so each
agent waits a round trip per batch), where a real follower that falls behind reads, and
publishes, many lines at once. The hub is a
a hub (`bot.assemble.hub`) in its own process doing its real work on each event (parse, fold,
ETA, detectors, GPUs per host) with no Telegram; agents run as asyncio tasks spread over a
few producer processes. The embedded row is one process: the same producers as tasks,
each folding its events itself through `Fold.fold`.

Columns: events/s from the first event folded to the last one; the hub's CPU
seconds (time.process_time of the hub process; embedded, of the one process, producers
included) and per 1,000 events; redis-server's CPU over the same span.

Run from the repository root:  python benchmarks/redis_throughput.py [--events 2000]
Needs redis-server on PATH (Debian: apt-get install redis-server).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import assemble  # noqa: E402
from bot.adapters.console import Console  # noqa: E402
from bot.adapters.redis_bus import RedisBus  # noqa: E402
from bot.bus import Bus, GpuReport, LogLines, Message  # noqa: E402
from bot.config import Config, General  # noqa: E402
from bot.core.gpu import GpuSample, GpuSnapshot  # noqa: E402
from bot.fold import Fold  # noqa: E402
from bot.intake import Sink  # noqa: E402
from bot.service import Service  # noqa: E402
from tests.conftest import REDIS_SERVER, RedisServer  # noqa: E402

AGENTS = 32
PRODUCER_PROCESSES = 2
HEADER = ["max_iters = 1000000", "eval_interval = 50"]


def events(agent: int, n: int) -> list[Message]:
    """What one agent publishes: its run's log lines and, every 10th event, its 8 GPUs."""
    run, host = f"run{agent}", f"node{agent}"
    out: list[Message] = [LogLines(run, tuple(HEADER), 0.0, host=host)]
    for i in range(1, n):
        if i % 10 == 0:
            gpus = tuple(
                GpuSample(g, temperature_c=60 + g, sm_clock_mhz=2475, max_sm_clock_mhz=3105)
                for g in range(8)
            )
            out.append(GpuReport(host, GpuSnapshot(float(i), gpus), run))
        elif i % 50 == 0:
            line = f"step {i}: train loss {3 - i / 1e5:.4f}, val loss {3.1 - i / 1e5:.4f}"
            out.append(LogLines(run, (line,), float(i), host=host))
        else:
            line = f"iter {i}: loss {3 - i / 1e5:.4f}, time {170 + i % 7:.2f}ms, mfu 30.00%"
            out.append(LogLines(run, (line,), float(i) * 0.17, host=host))
    return out


async def produce(sinks: Sequence[Sink], first_agent: int, n: int) -> None:
    async def agent(publish: Sink, index: int) -> None:
        for msg in events(index, n):
            await publish(msg)

    await asyncio.gather(*(agent(sink, first_agent + i) for i, sink in enumerate(sinks)))


def fold_of(service: Service) -> Fold:
    assert service.fold is not None
    return service.fold


async def consume(bus: Bus, total: int) -> dict[str, float]:
    """Fold `total` events: wall times of the first and the last, CPU seconds in between."""
    fold = fold_of(
        assemble.hub(Config(general=General(timezone="UTC")), bus, console=Console(io.StringIO()))
    )
    done, first, cpu0 = 0, 0.0, 0.0
    async for msg in bus.messages():
        if done == 0:
            first, cpu0 = time.time(), time.process_time()
        await fold.handle(msg)
        done += 1
        if done == total:
            break
    return {"start": first, "end": time.time(), "cpu": time.process_time() - cpu0}


# Child processes ---------------------------------------------------------------------------
def run_hub(url: str, stream: str, total: int) -> None:
    async def main() -> dict[str, float]:
        bus = RedisBus(url, stream=stream)
        print("ready", flush=True)
        return await consume(bus, total)

    print(json.dumps(asyncio.run(main())), flush=True)


def run_producers(url: str, stream: str, first: int, count: int, n: int, start_at: float) -> None:
    async def main() -> None:
        buses = [RedisBus(url, stream=stream) for _ in range(count)]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await produce([bus.publish for bus in buses], first, n)
        for bus in buses:
            await bus.aclose()

    asyncio.run(main())


# Rows ----------------------------------------------------------------------------------------
def local_row(n: int) -> dict[str, float]:
    async def main() -> dict[str, float]:
        config = Config(general=General(timezone="UTC"))
        fold = fold_of(assemble.embedded(config, [], console=Console(io.StringIO())))
        start, cpu0 = time.time(), time.process_time()
        await produce([fold.fold] * AGENTS, 0, n)
        return {"start": start, "end": time.time(), "cpu": time.process_time() - cpu0}

    return asyncio.run(main())


def redis_row(server: RedisServer, n: int) -> dict[str, float]:
    stream, total = f"bench:{os.getpid()}", AGENTS * n
    me = [sys.executable, __file__]
    hub = subprocess.Popen(
        [*me, "--child-hub", server.url, stream, str(total)], stdout=subprocess.PIPE, text=True
    )
    assert hub.stdout is not None and hub.stdout.readline().strip() == "ready"
    start = time.time() + 1.0  # every producer connected and waiting
    per = AGENTS // PRODUCER_PROCESSES
    producers = [
        subprocess.Popen(
            [*me, "--child-agents", server.url, stream, str(i * per), str(per), str(n), str(start)]
        )
        for i in range(PRODUCER_PROCESSES)
    ]
    redis_cpu0 = _cpu_s(server)
    result: dict[str, float] = json.loads(hub.stdout.readline())
    redis_cpu = _cpu_s(server) - redis_cpu0
    for p in [*producers, hub]:
        p.wait(timeout=60)
    return {**result, "redis_cpu": redis_cpu}


def _cpu_s(server: RedisServer) -> float:
    """User + system CPU seconds of the redis-server process, from /proc."""
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table(rows: list[tuple[str, dict[str, float]]], total: int) -> str:
    lines = [
        f"{AGENTS} agents, {total} events ({total // AGENTS} per agent; 1 in 10 a GPU report "
        "of 8 GPUs)",
        "",
        "| path | events/s | hub CPU s | hub CPU ms / 1k events | redis-server CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        rate = total / (r["end"] - r["start"])
        redis_cpu = f"{r['redis_cpu']:.2f}" if "redis_cpu" in r else "-"
        per_k = 1000 * r["cpu"] / total * 1000
        lines.append(f"| {name} | {rate:,.0f} | {r['cpu']:.2f} | {per_k:.1f} | {redis_cpu} |")
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--child-hub"]:
        run_hub(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if sys.argv[1:2] == ["--child-agents"]:
        url, stream, first, count, n, start = sys.argv[2:8]
        run_producers(url, stream, int(first), int(count), int(n), float(start))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per agent")
    args = parser.parse_args()
    if REDIS_SERVER is None:
        sys.exit("redis-server is not on PATH (Debian: apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            rows = [
                ("embedded, one process, no bus (producers included)", local_row(args.events)),
                ("Redis Streams, hub process", redis_row(server, args.events)),
            ]
        finally:
            server.stop()
    print(table(rows, AGENTS * args.events))


if __name__ == "__main__":
    main()
