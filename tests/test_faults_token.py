"""The bot token never appears in a log line, at any level, DEBUG included: a Service against
the Bot API stand-in, with every logger at DEBUG (httpx and httpcore lowered again after
etagram raised them), through a failing send, a failing command reply and a rejected token."""

from __future__ import annotations

import asyncio
import io
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General, Telegram
from bot.service import RunSpec, Service
from tests.telegram_stub import BotApiStub
from tests.test_faults import FAST, HEADER, OWNER, RUN, append, run_lines, settled

# Token-shaped and made up; assembled at run time so that no token-shaped literal is committed.
TOKEN = "7123456789" + ":" + "AAHq3VbVx0Jf2TnZ8yQw4LmS7Kd9Rp1uXcE"
WRONG = "7123456789:AAHzzzzWRONGwrongWRONGwrong0000000"
NOISY = ("httpx", "httpcore", "telegram", "apscheduler", "aiosqlite", "asyncio", "bot")


@pytest.fixture
def everything_at_debug() -> Iterator[io.StringIO]:
    """Every record, formatted with its traceback, into a string."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in NOISY}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


def lower_everything() -> None:
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG)


def secrets(token: str) -> list[str]:
    secret = token.partition(":")[2]
    return [token, secret, urllib.parse.quote(token, safe="")]


async def test_the_token_never_reaches_a_log_line(
    tmp_path: Path, everything_at_debug: io.StringIO
) -> None:
    log = tmp_path / RUN
    async with BotApiStub(token=TOKEN) as stub:
        config = Config(
            telegram=Telegram(token=TOKEN, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)),
            general=General(state_path=str(tmp_path / "state.sqlite3"), timezone="UTC"),
        )
        service = assemble.embedded(
            config, [RunSpec(RUN, log)], console=Console(io.StringIO()), outbox=FAST
        )
        serving = asyncio.create_task(service.serve())
        try:
            await stub.wait_for("setMyCommands", timeout=10)
            lower_everything()  # someone lowers them again: still redacted
            stub.fail("500", methods={"sendMessage"}, times=2)
            append(log, HEADER + run_lines(0, 200))
            await stub.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=10)
            stub.fail("drop", methods={"sendMessage"}, times=1)  # a command's reply fails
            n = len(stub.sent)
            stub.push_message(OWNER, "/eta")
            await stub.wait_for(lambda c: c.method == "sendMessage", since=n)
            await asyncio.wait_for(_until_settled(service), 10)
        finally:
            service.stop()
            await asyncio.wait_for(serving, 15)

        wrong = Config(
            telegram=Telegram(token=WRONG, api_base_url=stub.base_url),
            general=General(state_path=config.general.state_path),
        )
        rejected = assemble.embedded(wrong, [RunSpec(RUN, log)], console=Console(io.StringIO()))
        serving = asyncio.create_task(rejected.serve())
        await asyncio.sleep(0.5)
        rejected.stop()
        await asyncio.wait_for(serving, 15)

    text = everything_at_debug.getvalue()
    assert "Telegram rejected the bot token" in text  # the bad token was tried and logged
    assert "Internal Server Error" in text and "httpx" in text  # DEBUG lines were written
    assert "<token>" in text  # lines that held it were written, redacted
    for secret in secrets(TOKEN) + secrets(WRONG):
        assert secret not in text


async def _until_settled(service: Service) -> None:
    while not await settled(service, 100):
        await asyncio.sleep(0.05)
