"""The bus past one machine: Redis Streams (the `redis` extra).

Agents XADD each message (JSON, `bot.wire`) to one stream, trimmed with MAXLEN ~. The hub
reads it with a consumer group and XACKs a batch once every message in it is folded.

A restarted hub holds no state: it first reads the stream's history up to the group's last
delivered entry, acknowledged entries as replayed (they rebuild the runs; the outbox, keyed by
run and event, already holds what they caused), entries still pending (delivered, then the
hub stopped) as live, acknowledging them; then it goes on with new entries. So each entry
is folded once per hub lifetime and no message is sent twice.

An agent buffers what it publishes in a bounded queue and flushes it in order, retrying while
Redis is away; when the queue is full, producers wait. Publishing log lines returns only once
they are in Redis: the follower saves its offset after that, so an agent killed meanwhile
reads them again, and while Redis is away the log itself is their buffer. GPU reports (that
nothing could read again) wait in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.bus import LogLines, Message
from bot.core.backoff import Backoff
from bot.wire import WireError, decode, encode

log = logging.getLogger(__name__)

STREAM = "etagram:events"
GROUP = "hub"
FIELD = "m"
MAXLEN = 100_000  # entries kept; a hub away longer than that loses the oldest
BUFFER = 10_000  # messages an agent holds while Redis is away
BATCH = 256
BLOCK_MS = 1000
RETRY = Backoff(0.1, 5.0)  # between tries while Redis is away
CLOSE_FLUSH_S = 5.0

# Redis away: worth a retry. Anything else (a wrong password, a full server) is also retried
# by the agent, which has nothing better to do, but logged as the error it is.
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBus:
    """Publish side (agent) and read side (hub) of one stream."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = STREAM,
        group: str = GROUP,
        consumer: str = "hub",
        maxlen: int = MAXLEN,
        buffer: int = BUFFER,
        batch: int = BATCH,
        retry: Backoff = RETRY,
    ) -> None:
        """ValueError for a URL that is not redis://, rediss:// or unix://."""
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2.0
        )
        self.stream, self.group, self.consumer = stream, group, consumer
        self.maxlen, self.batch, self.retry = maxlen, batch, retry
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(buffer)
        self._in_flight: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._queued = self._sent = 0  # messages put in the queue / added to the stream
        self._progress = asyncio.Event()  # set (then replaced) at each batch added

    # Agent ---------------------------------------------------------------------------------
    async def publish(self, msg: Message) -> None:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever(), name="redis-flush")
        await self._outgoing.put(encode(msg))
        self._queued += 1
        if isinstance(msg, LogLines):
            mine = self._queued
            while self._sent < mine:
                await self._progress.wait()

    def idle(self) -> bool:
        """Everything published is in Redis."""
        return self._outgoing.empty() and not self._in_flight

    async def _flush_forever(self) -> None:
        failures = 0
        while True:
            if not self._in_flight:
                self._in_flight = [await self._outgoing.get()]
                while len(self._in_flight) < self.batch and not self._outgoing.empty():
                    self._in_flight.append(self._outgoing.get_nowait())
            try:
                await self._xadd(self._in_flight)
            except RedisError as exc:
                if not failures:
                    log.warning("Redis unreachable (%s): buffering, retrying", _why(exc))
                failures += 1
                await asyncio.sleep(self.retry.delay_s(failures))
                continue
            if failures:
                log.info("Redis is back: buffered events flushed")
            self._sent += len(self._in_flight)
            self._in_flight, failures = [], 0
            self._progress.set()
            self._progress = asyncio.Event()

    async def _xadd(self, payloads: Sequence[str]) -> None:
        # MULTI/EXEC: a batch lands whole or not at all, so a retry does not duplicate half.
        async with self.redis.pipeline(transaction=True) as pipe:
            for payload in payloads:
                pipe.xadd(self.stream, {FIELD: payload}, maxlen=self.maxlen, approximate=True)
            await pipe.execute()

    # Hub -----------------------------------------------------------------------------------
    async def messages(self) -> AsyncIterator[Message]:
        """History first (see the module docstring), then new entries, forever; each batch
        acknowledged once the caller has asked for the message after its last."""
        await self._retrying(self._ensure_group)
        async for old in self._history():
            yield old
        failures = 0
        while True:
            try:
                entries = await self._read_new()
            except RedisError as exc:
                if "NOGROUP" in str(exc):
                    log.warning("consumer group gone (Redis restarted empty?): recreating it")
                    await self._retrying(self._ensure_group)
                    continue
                log.warning("cannot read from Redis (%s): retrying", _why(exc))
                failures += 1
                await asyncio.sleep(self.retry.delay_s(failures))
                continue
            failures = 0
            for entry_id, fields in entries:
                if (msg := _decode(entry_id, fields)) is not None:
                    yield msg
            await self._ack([entry_id for entry_id, _ in entries])

    async def _ensure_group(self) -> None:
        # From the stream's start: what agents published before the first hub is read too.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)

    async def _read_new(self) -> list[tuple[str, dict[str, str]]]:
        streams: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=BLOCK_MS
        )
        return [entry for _, entries in streams or [] for entry in entries]

    async def _history(self) -> AsyncIterator[Message]:
        last = await self._retrying(self._last_delivered)
        if last == "0-0":
            return
        pending = await self._retrying(self._pending)
        start = "-"
        while True:
            entries = await self._retrying(functools.partial(self._range, start, last))
            for entry_id, fields in entries:
                msg = _decode(entry_id, fields)
                if msg is not None:
                    yield msg if entry_id in pending else _as_replayed(msg)
            await self._ack([entry_id for entry_id, _ in entries if entry_id in pending])
            if len(entries) < self.batch:
                return
            start = "(" + entries[-1][0]

    async def _range(self, start: str, end: str) -> list[tuple[str, dict[str, str]]]:
        entries: Any = await self.redis.xrange(self.stream, start, end, count=self.batch)
        return list(entries)

    async def _last_delivered(self) -> str:
        for group in await self.redis.xinfo_groups(self.stream):
            if group["name"] == self.group:
                return str(group["last-delivered-id"])
        return "0-0"

    async def _pending(self) -> set[str]:
        """Entries delivered to any consumer of the group and never acknowledged."""
        ids: set[str] = set()
        start = "-"
        while page := await self.redis.xpending_range(
            self.stream, self.group, start, "+", self.batch
        ):
            ids.update(str(p["message_id"]) for p in page)
            start = "(" + str(page[-1]["message_id"])
        return ids

    async def _ack(self, ids: list[str]) -> None:
        if ids:
            # Lost, it only makes the next hub read these entries live: the outbox dedups.
            with contextlib.suppress(RedisError):
                await self.redis.xack(self.stream, self.group, *ids)

    async def _retrying(self, call: Any) -> Any:
        failures = 0
        while True:
            try:
                return await call()
            except _DOWN as exc:
                log.warning("Redis unreachable (%s): retrying", _why(exc))
                failures += 1
                await asyncio.sleep(self.retry.delay_s(failures))

    # Both ----------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Flush what is buffered (for at most CLOSE_FLUSH_S), then disconnect."""
        if self._flusher is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_FLUSH_S):
                    while not self.idle():
                        await asyncio.sleep(0.01)
            if not self.idle():
                lost = self._outgoing.qsize() + len(self._in_flight)
                log.warning("Redis unreachable at exit: %d buffered events dropped", lost)
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.redis.aclose()


def _decode(entry_id: str, fields: dict[str, str]) -> Message | None:
    if FIELD not in fields:
        log.warning("stream entry %s skipped: no %r field", entry_id, FIELD)
        return None
    try:
        return decode(fields[FIELD])
    except WireError as exc:
        log.warning("stream entry %s skipped: %s", entry_id, exc)
        return None


def _as_replayed(msg: Message) -> Message:
    return dataclasses.replace(msg, replayed=True) if isinstance(msg, LogLines) else msg


def _why(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
