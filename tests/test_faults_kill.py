"""kill -9 at random points: `python -m bot watch LOG` in a real subprocess, pointed at the
Bot API stand-in, is killed while the run writes evals and alerts (once during an outage),
then restarted; in the end every eval and alert is in the chat, evals exactly once.

Preferences survive too. An alert whose send was cut by the kill may be shown twice
(Telegram cannot tell whether it took the message; see bot/adapters/outbox.py): at most two
copies, never none.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.telegram_stub import BotApiStub
from tests.test_faults import HEADER, OWNER, RUN, Tally, append, event, run_lines, tally

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


async def start(stub: BotApiStub, workdir: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "ETAGRAM_TELEGRAM_TOKEN": stub.token,
        "ETAGRAM_TELEGRAM_API_BASE_URL": stub.base_url,
        "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": str(OWNER),
        "ETAGRAM_STATE_PATH": str(workdir / "state.sqlite3"),
        "ETAGRAM_LANGUAGE": "en",
        "ETAGRAM_TIMEZONE": "UTC",
        "ETAGRAM_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    n = len(stub.sent)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "watch",
        f"{RUN}={workdir / RUN}",  # the run's name in the outbox keys counted below
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(workdir / "etagram.err").open("a"),
    )
    await stub.wait_for("setMyCommands", timeout=30, since=n)
    return proc


def outbox_keys(workdir: Path) -> set[str]:
    db = sqlite3.connect(workdir / "state.sqlite3")
    try:
        rows = db.execute("SELECT key FROM outbox WHERE chat_id = ?", (OWNER,))
        return {event(k) for (k,) in rows}
    finally:
        db.close()


async def run_kills(stub: BotApiStub, workdir: Path, seed: int = 8, kills: int = 5) -> Tally:
    """Write a run in `kills` chunks, killing etagram with SIGKILL at a random point of
    each (one during a 500 outage); then restart it and wait until the outbox is empty."""
    rng = random.Random(seed)
    log = workdir / RUN
    append(log, HEADER)
    chunks = [(first, first + 200) for first in range(0, 200 * kills, 200)]
    oom_at = frozenset(first + 150 for first, _ in chunks)
    for n, (first, stop) in enumerate(chunks):
        proc = await start(stub, workdir)
        if n == 0:  # a preference set just before the first kill
            sent = len(stub.sent)
            stub.push_message(OWNER, "/tz Asia/Tokyo")
            await stub.wait_for("sendMessage", since=sent)
        if n == 2:
            stub.fail("500", seconds=1.0)  # this kill falls in an outage
        lines = run_lines(first, stop, oom_at)
        cut = rng.randrange(len(lines))
        append(log, lines[:cut])
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        append(log, lines[cut:])
        await asyncio.sleep(rng.uniform(0.0, 2.0))  # some after an offset checkpoint
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    stub.heal()

    proc = await start(stub, workdir)
    try:
        expected = {f"{RUN}:eval:{it}:{OWNER}" for it in range(0, 200 * kills, 100)}
        expected |= {f"{RUN}:alert:oom:{it}:{OWNER}" for it in oom_at}
        deadline = time.monotonic() + 30
        while True:
            result = tally(stub, workdir / "state.sqlite3")
            if expected <= outbox_keys(workdir) and result.delivered == result.scheduled:
                return result
            if time.monotonic() > deadline:
                result.lost += len(expected - outbox_keys(workdir))  # never even detected
                return result
            await asyncio.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_kill_9_at_random_points_loses_nothing_and_repeats_no_eval(
    stub: BotApiStub, tmp_path: Path
) -> None:
    result = await run_kills(stub, tmp_path)
    assert not result.lost, result
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    assert "Asia/Tokyo" in db.execute("SELECT data FROM prefs").fetchone()[0]
    db.close()
    assert result.most_copies <= 2, result
    shown = [str(m.get("text", "")) for m in stub.chat_messages(OWNER)]
    assert not [t for t in shown if "Eval at" in t and shown.count(t) > 1]
    assert stub.token.partition(":")[2] not in (tmp_path / "etagram.err").read_text()
