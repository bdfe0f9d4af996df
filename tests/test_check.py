"""`etagram check` against the Bot API stand-in: what it says, and what it never says."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.check import run_check
from bot.config import Config, General, Telegram
from bot.core.gpu import GpuSnapshot
from tests.telegram_stub import BotApiStub

OWNER = 4242


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


def config(stub: BotApiStub, state: Path, chats: tuple[int, ...] = (OWNER,)) -> Config:
    return Config(
        telegram=Telegram(token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=chats),
        general=General(state_path=str(state)),
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


async def test_a_fresh_machine_passes_and_no_allowed_chat_is_a_warning(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """~/.local/state does not exist yet: the state database can still be made there. No
    chat allowed: nobody would get a push, which check says rather than `all good`."""
    fresh = tmp_path / "home" / ".local" / "state" / "etagram" / "state.sqlite3"
    out = io.StringIO()
    assert await run_check(config(stub, fresh, chats=()), out) == 0
    report = out.getvalue()
    assert f"[ok  ] state database {fresh}" in report, report
    assert "[warn] allowed chats" in report and "all good" not in report, report
    out = io.StringIO()
    assert await run_check(config(stub, fresh), out) == 0
    assert out.getvalue().endswith("all good\n"), out.getvalue()


class BrokenNvml:
    """A GPU source whose NVML fails with `error`."""

    def __init__(self, error: str) -> None:
        self.error = error

    def sample(self) -> GpuSnapshot:
        return GpuSnapshot(0.0, (), error=self.error)

    def shutdown(self) -> None:
        pass


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("library_not_found", "no NVIDIA driver on this machine (no libnvidia-ml)"),
        ("driver_not_loaded", "the NVIDIA driver is installed but not loaded"),
        ("nvml_9999", "unexpected error nvml_9999"),  # a code etagram does not know, as is
    ],
)
async def test_nvml_failure_is_said_in_the_messages_words(
    stub: BotApiStub, tmp_path: Path, error: str, words: str
) -> None:
    out = io.StringIO()
    assert await run_check(config(stub, tmp_path / "s.sqlite3"), out, BrokenNvml(error)) == 0
    assert f"[--  ] NVML           not available: {words}; GPU telemetry off\n" in out.getvalue()
