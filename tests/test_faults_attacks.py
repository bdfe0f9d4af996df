"""The attacks of issue 15, end to end against the Bot API stand-in: a task that fails is
restarted and named by /status, ..."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot import assemble
from bot.adapters.console import Console
from bot.adapters.redis_bus import RedisBus
from bot.bus import LogLines
from bot.config import Config, General
from bot.service import RunSpec, Service
from tests.conftest import RedisServer
from tests.telegram_stub import BotApiStub
from tests.test_faults import (
    FAST,
    HEADER,
    OWNER,
    RUN,
    append,
    event,
    make_config,
    run_lines,
    until,
)

ROOT = Path(__file__).resolve().parents[1]
FULL = "PRAGMA max_page_count = {pages}"
STRANGER, STRANGER_GROUP = 666, -1001234567890


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


@contextlib.asynccontextmanager
async def serving(stub: BotApiStub, tmp_path: Path, spec: RunSpec) -> AsyncIterator[Service]:
    """etagram following `spec`'s log against the stand-in, stopped at the end."""
    service = assemble.embedded(
        make_config(stub, tmp_path / "state.sqlite3"),
        [spec],
        console=Console(io.StringIO()),
        outbox=FAST,
    )
    task = asyncio.create_task(service.serve())
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, 20)


async def alert_rows(service: Service) -> dict[str, str | None]:
    assert service.store is not None
    return {k: v for k, v in (await service.store.outcomes()).items() if ":alert:oom" in k}


async def test_a_follower_that_fails_is_restarted_and_status_says_so(
    stub: BotApiStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The disk fills up (SQLite can add no page): the log follower fails on its next alert.
    The failure is logged once, /status names it, and once there is room again the follower
    starts again and the OOM alert goes out."""
    log = tmp_path / RUN
    async with serving(stub, tmp_path, RunSpec(RUN, log)) as service:
        await stub.wait_for("setMyCommands", timeout=10)
        append(log, HEADER + run_lines(0, 100))
        await until(lambda: _caught_up(service, 90), 10, "first lines")
        assert service.store is not None
        db = service.store._db
        async with db.execute("PRAGMA page_count") as cur:
            row = await cur.fetchone()
        assert row is not None
        await db.execute(FULL.format(pages=row[0]))
        with caplog.at_level(logging.ERROR, logger="bot.parts"):
            append(log, run_lines(100, 1000, frozenset(range(150, 1000, 100))))
            await until(lambda: _logged(caplog, "bot.parts"), 10, "the failure logged")
            await asyncio.sleep(2.5)  # two restarts, still no room
        failures = [r for r in caplog.records if r.name == "bot.parts"]
        assert len(failures) == 1 and "database or disk is full" in failures[0].getMessage()
        n = len(stub.sent)
        stub.push_message(OWNER, "/status")
        reply = await stub.wait_for("sendMessage", since=n)
        assert f"Restarting after a failure: reading {RUN}" in str(reply.text)
        await db.execute(FULL.format(pages=1 << 30))  # room again
        await until(
            lambda: _sent(service, f"{RUN}:alert:oom:950:{OWNER}"), 30, "the last OOM alert"
        )
        assert not service.supervisor.degraded
        # Each OOM once: the restarted follower goes on after the lines already folded (read
        # again they would look like a resume and alert again), and the alerts said while the
        # disk was full went out from the fold, not from lines read twice.
        texts = [str(c.text) for c in stub.sent if c.method == "sendMessage"]
        ooms = [t for t in texts if "memory" in t.lower()]
        assert ooms and len(ooms) == len(set(ooms)), ooms
        assert not [k for k in await alert_rows(service) if re.search(r":oom:\d+:\d+:", k)]


async def _caught_up(service: Service, it: int) -> bool:
    return RUN in service.fold.monitors and service.fold.monitors[RUN].state.iter == it


async def _logged(caplog: pytest.LogCaptureFixture, logger: str) -> bool:
    return any(r.name == logger for r in caplog.records)


async def _sent(service: Service, key: str) -> bool:
    assert service.store is not None
    return {event(k): v for k, v in (await service.store.outcomes()).items()}.get(key) == "sent"


async def test_a_log_name_that_is_not_utf8_still_gets_its_alerts(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """A file name with bytes that are not UTF-8 (Python holds them as lone surrogates,
    which neither SQLite nor Telegram take): its run is followed and its OOM alert sent."""
    log = tmp_path / os.fsdecode(b"train\xff.log")
    name = log.name
    async with serving(stub, tmp_path, RunSpec(name, log)):
        await stub.wait_for("setMyCommands", timeout=10)
        append(log, HEADER + run_lines(0, 200, frozenset({150})))
        alert = await stub.wait_for(
            lambda c: c.ok and "out of memory" in str(c.text).lower(), timeout=15
        )
        assert "train\ufffd.log" in str(alert.text) or "train?.log" in str(alert.text)


@pytest.fixture
def stream() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_a_poisoned_stream_entry_is_skipped_and_the_hub_goes_on(
    redis_server: RedisServer, stream: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rogue client adds deeply nested JSON (RecursionError in json.loads) to the stream:
    the hub logs it, acknowledges it, and folds what the agents send next; a hub started
    again does not stumble on it either."""
    raw = aioredis.Redis.from_url(redis_server.url)
    await raw.xadd(stream, {"m": "[" * 100_000 + "]" * 100_000})
    agent = RedisBus(redis_server.url, stream=stream)
    oom = LogLines("gpt2", tuple(HEADER + run_lines(0, 200, frozenset({150}))), 10.0, host="n1")
    await agent.publish(oom)
    for attempt in range(2):  # the second hub finds the entry in the stream's history
        out = io.StringIO()
        config = Config(
            general=General(timezone="UTC", state_path=str(tmp_path / f"hub{attempt}.sqlite3"))
        )
        bus = RedisBus(redis_server.url, stream=stream)
        hub = assemble.hub(config, bus, console=Console(out))
        task = asyncio.create_task(hub.serve())
        try:
            await until(lambda o=out: _said(o, "out of memory"), 15, "the OOM alert")
        finally:
            hub.stop()
            await asyncio.wait_for(task, 20)
    assert sum("skipped" in r.getMessage() for r in caplog.records) >= 1
    assert (await raw.xpending(stream, "hub"))["pending"] == 0
    await agent.aclose()
    await raw.aclose()


async def _said(out: io.StringIO, text: str) -> bool:
    return text in out.getvalue().lower()


async def test_a_huge_retry_after_holds_up_neither_commands_nor_the_outbox_for_long(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """Telegram answers one send with retry_after: 86400. The owner's /eta is answered at
    once, and the alert that got the 429 waits the outbox's longest back-off, not a day."""
    log = tmp_path / RUN
    async with serving(stub, tmp_path, RunSpec(RUN, log)):
        await stub.wait_for("setMyCommands", timeout=10)
        stub.fail("429", methods={"sendMessage"}, times=1, retry_after=86400)
        append(log, HEADER + run_lines(0, 200, frozenset({150})))
        await stub.wait_for(lambda c: c.status == 429, timeout=10)
        n = len(stub.sent)
        stub.push_message(OWNER, "/eta")
        await stub.wait_for(lambda c: c.ok and c.method == "sendMessage", since=n, timeout=5)
        await stub.wait_for(
            lambda c: c.ok and "out of memory" in str(c.text).lower(), since=n, timeout=10
        )


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SAMPLER = """
import asyncio, io, sys, time
from bot.adapters.console import Console
from bot.config import Config, General, Gpu as GpuSection
from bot.core.gpu import GpuSnapshot
from bot import assemble

class Gpu:
    def sample(self):
        print(time.monotonic(), flush=True)
        return GpuSnapshot(time.time(), ())

async def main():
    config = Config(
        general=General(timezone="UTC", state_path=sys.argv[1]), gpu=GpuSection(interval_s=0.2)
    )
    service = assemble.embedded(config, [], gpu=Gpu(), console=Console(io.StringIO()))
    asyncio.get_running_loop().call_later(float(sys.argv[2]), service.stop)
    await service.serve()

asyncio.run(main())
"""


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime is not installed (faketime)")
def test_gpu_sampling_goes_on_when_the_wall_clock_is_set_back_a_day(tmp_path: Path) -> None:
    """The machine's clock steps back a day (libfaketime moves the wall clock of the process,
    not its monotonic clock): the GPU is still sampled every interval."""
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    env = {
        **os.environ,
        "LD_PRELOAD": str(FAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    args = [sys.executable, "-c", SAMPLER, str(tmp_path / "state.sqlite3"), "5"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # sampling has started
    time.sleep(0.5)
    offset.write_text("-1d\n")
    stepped = time.monotonic()
    out, _ = proc.communicate(timeout=30)
    after = [float(t) for t in out.split() if float(t) > stepped + 0.5]
    assert proc.returncode == 0
    assert len(after) >= 5, out  # every 0.2 s for the last seconds


async def test_strangers_get_one_refusal_per_hour_and_cost_the_owner_nothing(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """A stranger and a stranger group send 40 commands each, then the owner asks /eta: the
    owner is answered at once, and each stranger chat got one refusal."""
    async with serving(stub, tmp_path, RunSpec(RUN, tmp_path / RUN)):
        await stub.wait_for("setMyCommands", timeout=10)
        n = len(stub.sent)
        for i in range(40):
            stub.push_message(STRANGER, "/start" if i % 2 else "/eta")
            stub.push_message(STRANGER_GROUP, "/status", chat_type="supergroup")
        stub.push_message(OWNER, "/eta")
        await stub.wait_for(lambda c: c.ok and c.chat_id == OWNER, since=n, timeout=5)
        await asyncio.sleep(0.5)
        refusals = [c.chat_id for c in stub.sent[n:] if c.method == "sendMessage"]
        assert sorted(c for c in refusals if c != OWNER) == [STRANGER_GROUP, STRANGER]


async def test_strangers_from_many_chats_cost_the_owner_a_few_refusals(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """A hundred stranger chats write once each (one refusal apiece would be a hundred sends
    the owner's /eta waits behind): a minute's refusals stay few, the owner is answered."""
    async with serving(stub, tmp_path, RunSpec(RUN, tmp_path / RUN)):
        await stub.wait_for("setMyCommands", timeout=10)
        n = len(stub.sent)
        for chat in range(10_000, 10_100):
            stub.push_message(chat, "/eta")
        stub.push_message(OWNER, "/eta")
        await stub.wait_for(lambda c: c.ok and c.chat_id == OWNER, since=n, timeout=10)
        refusals = [c for c in stub.sent[n:] if c.method == "sendMessage" and c.chat_id != OWNER]
        assert len(refusals) <= 20, len(refusals)


async def test_a_hub_caps_the_runs_it_creates_with_one_alert(tmp_path: Path) -> None:
    """A rogue agent makes up a thousand run names: the hub follows the first 64, says once
    that it ignores the rest, and the real run's OOM alert still comes."""
    out = io.StringIO()
    config = Config(general=General(timezone="UTC", state_path=str(tmp_path / "hub.sqlite3")))
    hub = assemble.hub(config, None, console=Console(out)).fold
    assert hub is not None
    await hub.handle(LogLines("real", tuple(HEADER + run_lines(0, 100)), 1.0, host="n1"))
    for n in range(1000):
        await hub.handle(LogLines(f"made-up-{n}", ("iter 0: loss 2.5",), 2.0, host="rogue"))
    await hub.handle(LogLines("real", tuple(run_lines(100, 200, frozenset({150}))), 3.0))
    assert len(hub.monitors) == 64 and "real" in hub.monitors
    said = out.getvalue().lower()
    assert said.count("too many runs") == 1 and "out of memory" in said


async def test_another_poller_on_the_token_is_one_clear_line(
    stub: BotApiStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram answers getUpdates with 409 Conflict (another program polls this token):
    one line says so, no traceback, however long it lasts; polling resumes after."""
    stub.fail("409", methods={"getUpdates"}, seconds=4.0)
    async with serving(stub, tmp_path, RunSpec(RUN, tmp_path / RUN)):
        with caplog.at_level(logging.DEBUG):
            await stub.wait_for("setMyCommands", timeout=10)
            await asyncio.sleep(4.0)
            n = len(stub.sent)
            stub.push_message(OWNER, "/help")
            await stub.wait_for(lambda c: c.ok and c.chat_id == OWNER, since=n, timeout=40)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    conflict = [r for r in loud if "409" in r.getMessage() or "onflict" in r.getMessage()]
    assert len(conflict) == 1, [r.getMessage() for r in loud]
    assert "another" in conflict[0].getMessage() and conflict[0].exc_info is None


async def test_a_captive_portal_at_start_up_only_delays_the_bot(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """getMe answered by an HTML page when etagram starts: it keeps trying to connect, and
    the alert written meanwhile goes out once Telegram answers."""
    log = tmp_path / RUN
    stub.fail("garbage", seconds=2.0)
    async with serving(stub, tmp_path, RunSpec(RUN, log)):
        append(log, HEADER + run_lines(0, 200, frozenset({150})))
        await stub.wait_for(lambda c: c.ok and "out of memory" in str(c.text).lower(), timeout=30)
