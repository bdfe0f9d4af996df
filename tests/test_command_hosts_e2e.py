"""Command answers name the run's machine under the pushes' rule (`[notify] show_host`), and
`/live NAME` pins the live message of that run; end to end through the Bot API stand-in."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General, Gpu, Notify, Telegram
from bot.service import RunSpec, Service
from tests.adapters.test_telegram import FakeGpu, until
from tests.generated import nanogpt_lines
from tests.telegram_stub import BotApiStub, SentCall, parse_html

OWNER = 4242
HEADER = ["max_iters = 600", "eval_interval = 200"]
RUNS = {"alpha": 110, "beta": 310}  # run -> iterations in its log


class Chat:
    def __init__(self, stub: BotApiStub, service: Service) -> None:
        self.stub, self.service = stub, service

    async def ask(self, text: str) -> SentCall:
        """The bot's first message back (`/live` first acknowledges, then sends the live one)."""
        n = len(self.stub.sent)
        self.stub.push_message(OWNER, text)
        return await self.stub.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == OWNER, since=n
        )


async def serve(
    tmp_path: Path, show_host: Literal["auto", "always", "never"]
) -> AsyncIterator[Chat]:
    specs = []
    for name, iters in RUNS.items():
        log = tmp_path / f"{name}.log"
        log.write_text("\n".join(HEADER + nanogpt_lines(0, iters)) + "\n")
        specs.append(RunSpec(name, log))
    async with BotApiStub() as stub:
        config = Config(
            telegram=Telegram(
                token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)
            ),
            general=General(
                language="en", timezone="UTC", state_path=str(tmp_path / "state.sqlite3")
            ),
            gpu=Gpu(interval_s=0.2),
            notify=Notify(show_host=show_host),
        )
        service = assemble.embedded(config, specs, gpu=FakeGpu(), console=Console(io.StringIO()))
        serving = asyncio.create_task(service.serve())
        try:
            await stub.wait_for("setMyCommands", timeout=10)
            monitors = service.fold.monitors  # type: ignore[union-attr]
            await until(lambda: all(monitors[n].state.iter == i - 10 for n, i in RUNS.items()))
            yield Chat(stub, service)
        finally:
            service.stop()
            await asyncio.wait_for(serving, 15)


@pytest.fixture
async def always(tmp_path: Path) -> AsyncIterator[Chat]:
    async for chat in serve(tmp_path, "always"):
        yield chat


@pytest.fixture
async def auto(tmp_path: Path) -> AsyncIterator[Chat]:
    async for chat in serve(tmp_path, "auto"):
        yield chat


def first_line(call: SentCall) -> str:
    return parse_html(call.text or "").splitlines()[0]


async def test_replies_name_the_machine_when_configured(always: Chat) -> None:
    host = socket.gethostname()
    assert first_line(await always.ask("/eta beta")) == f"⏱️ beta · {host}"
    assert first_line(await always.ask("/status alpha")) == f"📊 alpha · {host}"
    assert first_line(await always.ask("/gpu beta")).endswith(f"GPU · {host}")
    runs = parse_html((await always.ask("/runs")).text or "")
    assert f"• alpha · {host}: iteration 100 / 600" in runs
    assert f"• beta · {host}: iteration 300 / 600" in runs


async def test_one_machine_is_not_named_by_default(auto: Chat) -> None:
    host = socket.gethostname()
    for command in ("/eta beta", "/status", "/gpu alpha", "/runs"):
        assert host not in parse_html((await auto.ask(command)).text or ""), command


async def test_live_name_pins_that_run(auto: Chat) -> None:
    listed = await auto.ask("/runs")
    n = len(auto.stub.sent)
    alpha = listed.params["reply_markup"]["inline_keyboard"][0][0]
    auto.stub.push_callback(OWNER, listed.result["message_id"], alpha["callback_data"])
    await auto.stub.wait_for("answerCallbackQuery", since=n)  # the chat reads alpha
    n = len(auto.stub.sent)
    await auto.ask("/live beta")
    pinned = await auto.stub.wait_for("pinChatMessage", since=n)
    live = next(
        c
        for c in auto.stub.sent[n:]
        if c.method == "sendMessage" and c.result["message_id"] == pinned.params["message_id"]
    )
    assert first_line(live) == "📊 beta"
    assert "300 / 600" in parse_html(live.text or "")
    assert first_line(await auto.ask("/status")) == "📊 alpha"  # the chat's run is unchanged
    unknown = parse_html((await auto.ask("/live gamma")).text or "")
    assert "gamma" in unknown and "alpha" in unknown and "beta" in unknown  # the runs listed
