"""The Redis Streams bus against a real redis-server: order, restarts, outages, bad entries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.adapters.redis_bus import RedisBus
from bot.bus import GpuReport, LogLines, Message, ProcessExit
from bot.core.gpu import GpuSample, GpuSnapshot
from tests.conftest import RedisServer

WAIT_S = 20.0  # a guard against hanging, not a speed claim


def lines(i: int) -> LogLines:
    return LogLines("gpt2", (f"iter {i}: loss 2.5",), float(i), host="node1")


def gpu(i: int) -> GpuReport:
    return GpuReport("node3", GpuSnapshot(float(i), (GpuSample(0, temperature_c=60 + i),)), "gpt2")


def bus(server: RedisServer, stream: str, **kw: int) -> RedisBus:
    return RedisBus(server.url, stream=stream, **kw)  # type: ignore[arg-type]


@pytest.fixture
def stream() -> str:
    return f"test:{uuid.uuid4().hex}"


async def take(it: AsyncIterator[Message], n: int) -> list[Message]:
    async with asyncio.timeout(WAIT_S):
        return [await anext(it) for _ in range(n)]


async def flushed(agent: RedisBus) -> None:
    async with asyncio.timeout(WAIT_S):
        while not agent.idle():
            await asyncio.sleep(0.01)


async def test_what_agents_publish_reaches_the_hub_in_order(
    redis_server: RedisServer, stream: str
) -> None:
    agent, hub = bus(redis_server, stream), bus(redis_server, stream)
    sent: list[Message] = [gpu(i) for i in range(300)] + [lines(1), ProcessExit("gpt2", 0, 9.0)]
    for msg in sent:
        await agent.publish(msg)
    await flushed(agent)
    received = await take(hub.messages(), len(sent))
    assert received == sent
    await agent.aclose()
    await hub.aclose()


async def test_a_restarted_hub_replays_what_it_acknowledged_and_rereads_the_rest(
    redis_server: RedisServer, stream: str
) -> None:
    agent = bus(redis_server, stream)
    for i in range(10):
        await agent.publish(lines(i))
    await flushed(agent)

    first = bus(redis_server, stream, batch=4)
    it = first.messages()
    await take(it, 6)  # batch 1 folded and acknowledged; 2 of batch 2 folded, not acknowledged
    await it.aclose()  # the hub stops here
    await first.aclose()

    second = bus(redis_server, stream, batch=4)
    got = await take(second.messages(), 10)
    assert [m.lines for m in got if isinstance(m, LogLines)] == [lines(i).lines for i in range(10)]
    assert [m.replayed for m in got if isinstance(m, LogLines)] == [True] * 4 + [False] * 6
    await second.aclose()

    # The last batch was folded but the hub stopped before asking for more: still pending.
    third = bus(redis_server, stream)
    it = third.messages()
    got = await take(it, 10)
    assert [m.replayed for m in got if isinstance(m, LogLines)] == [True] * 8 + [False] * 2
    await agent.publish(lines(10))
    assert await take(it, 1) == [lines(10)]
    await third.aclose()
    await agent.aclose()


async def test_an_agent_buffers_while_redis_is_down_then_flushes(
    own_redis_server: RedisServer, stream: str
) -> None:
    agent = bus(own_redis_server, stream, buffer=2, batch=1)  # holds 2 queued + 1 in flight
    hub = bus(own_redis_server, stream)
    it = hub.messages()
    await agent.publish(lines(0))  # returns once in Redis
    assert await take(it, 1) == [lines(0)]

    own_redis_server.stop()
    for i in range(1, 4):
        await agent.publish(gpu(i))  # in memory: nothing else could read it again
    full = asyncio.create_task(agent.publish(gpu(4)))  # the buffer is full: it waits
    log_lines = asyncio.create_task(agent.publish(lines(5)))  # waits until it is in Redis
    await asyncio.sleep(0.3)
    assert not full.done() and not log_lines.done() and not agent.idle()

    own_redis_server.start()  # empty: the hub recreates its group
    await full
    await log_lines
    assert agent.idle()
    assert await take(it, 5) == [gpu(1), gpu(2), gpu(3), gpu(4), lines(5)]
    await agent.aclose()
    await hub.aclose()


async def test_a_bad_entry_is_skipped_and_acknowledged(
    redis_server: RedisServer, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = aioredis.Redis.from_url(redis_server.url)
    await raw.xadd(stream, {"m": "{not json"})
    await raw.xadd(stream, {"other": "x"})
    agent, hub = bus(redis_server, stream), bus(redis_server, stream)
    await agent.publish(lines(1))
    it = hub.messages()
    assert await take(it, 1) == [lines(1)]
    await agent.publish(lines(2))
    assert await take(it, 1) == [lines(2)]  # asking for it acknowledged the batch before
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 2
    assert (await raw.xpending(stream, "hub"))["pending"] == 1  # lines(2), being folded
    await raw.aclose()
    await agent.aclose()
    await hub.aclose()


def test_a_url_that_is_not_redis_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="redis://"):
        RedisBus("http://127.0.0.1:6379")
