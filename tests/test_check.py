"""`etagram check` against the Bot API stand-in: what it says, and what it never says."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.check import run_check
from bot.config import Config
from tests.telegram_stub import BotApiStub

OWNER = 4242


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


def config(stub: BotApiStub, state: Path, chats: tuple[int, ...] = (OWNER,)) -> Config:
    return Config(
        token=stub.token,
        api_base_url=stub.base_url,
        allowed_chat_ids=chats,
        state_path=str(state),
    )


async def test_an_error_page_that_echoes_the_url_does_not_print_the_token(
    stub: BotApiStub, tmp_path: Path
) -> None:
    stub.fail("echo")
    out = io.StringIO()
    assert await run_check(config(stub, tmp_path / "state.sqlite3"), out) == 1
    assert "cannot reach the Bot API" in out.getvalue()
    assert stub.token not in out.getvalue(), out.getvalue()
    assert stub.token.rpartition(":")[2] not in out.getvalue()
