"""End to end: a log grows while the service follows it, against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General, Telegram
from bot.service import RunSpec, Service
from tests.generated import nanogpt_lines
from tests.telegram_stub import BotApiStub

OWNER, STRANGER = 4242, 666
EVAL = "📈"  # eval messages start with it (milestones and run start are pushed too)

HEADER = """Overriding config with config/train_gpt2.py:
max_iters = 600
eval_interval = 200
eval_iters = 200
log_interval = 10
"""


async def append(path: Path, lines: list[str]) -> None:
    with path.open("a") as f:
        for line in lines:
            f.write(line + "\n")
            f.flush()
            await asyncio.sleep(0.001)


@pytest.fixture
async def stub() -> BotApiStub:
    async with BotApiStub() as server:
        yield server


def make_service(stub: BotApiStub, tmp_path: Path, log: Path) -> Service:
    config = Config(
        telegram=Telegram(token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)),
        general=General(
            language="en", timezone="Europe/Paris", state_path=str(tmp_path / "state.sqlite3")
        ),
    )
    return assemble.embedded(config, [RunSpec("gpt2", log)], console=Console(io.StringIO()))


async def test_watch_pushes_one_message_per_eval_and_answers(
    stub: BotApiStub, tmp_path: Path
) -> None:
    log = tmp_path / "train.log"  # does not exist yet: the service waits for it
    service = make_service(stub, tmp_path, log)
    serving = asyncio.create_task(service.serve())
    try:
        await stub.wait_for("setMyCommands", timeout=10)
        await append(log, HEADER.splitlines() + nanogpt_lines(0, 450))
        await stub.wait_for(lambda c: c.method == "sendMessage" and "400" in (c.text or ""))

        n = len(stub.sent)
        stub.push_message(OWNER, "/lang fr")
        await stub.wait_for("sendMessage", since=n)
        n = len(stub.sent)
        stub.push_message(OWNER, "/eta")
        eta_reply = await stub.wait_for("sendMessage", since=n)
        assert "itérations" in (eta_reply.text or "")

        n = len(stub.sent)
        stub.push_message(STRANGER, "/eta")
        refusal = await stub.wait_for("sendMessage", since=n)
        assert refusal.chat_id == STRANGER
        assert "gpt2" not in (refusal.text or "") and str(STRANGER) in (refusal.text or "")

        n = len(stub.sent)
        await append(log, nanogpt_lines(450, 610))
        last = await stub.wait_for(
            lambda c: c.method == "sendMessage" and c.silent and EVAL in (c.text or ""), since=n
        )
        assert "600" in (last.text or "") and "itération" in (last.text or "")
    finally:
        service.stop()
        await asyncio.wait_for(serving, 15)

    pushes = [c for c in stub.messages_to(OWNER) if c.silent]
    evals = [c.text for c in pushes if EVAL in (c.text or "")]
    assert len(evals) == 4, evals  # iterations 0, 200, 400 and 600: one message each
    assert not [c for c in stub.messages_to(STRANGER) if c.silent]
    assert stub.token not in "".join(str(c.params) for c in stub.sent)


async def test_restart_sends_nothing_twice(stub: BotApiStub, tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    await append(log, HEADER.splitlines())
    for lines in (nanogpt_lines(0, 250), nanogpt_lines(250, 450)):
        service = make_service(stub, tmp_path, log)
        serving = asyncio.create_task(service.serve())
        await stub.wait_for("setMyCommands", timeout=10, since=len(stub.sent))
        await append(log, lines)
        await asyncio.sleep(1.5)
        service.stop()
        await asyncio.wait_for(serving, 15)
    texts = [c.text for c in stub.messages_to(OWNER) if EVAL in (c.text or "")]
    assert len(texts) == 3, texts  # evals 0, 200 and 400, each once across the restart


async def test_telegram_unreachable_at_start_loses_nothing(
    stub: BotApiStub, tmp_path: Path
) -> None:
    """The bot cannot reach Telegram when it starts: evals wait in the outbox and go out,
    folded into one digest, once Telegram answers (the service keeps trying to connect)."""
    log = tmp_path / "train.log"
    stub.fail("500", seconds=6.0)
    service = make_service(stub, tmp_path, log)
    serving = asyncio.create_task(service.serve())
    try:
        await stub.wait_for("getMe", timeout=10)  # refused: the service is up, Telegram is not
        await append(log, HEADER.splitlines() + nanogpt_lines(0, 250))
        await stub.wait_for(
            lambda c: c.ok and c.method == "sendMessage" and "200" in (c.text or ""), timeout=30
        )
        await asyncio.sleep(1.0)  # anything sent twice would come now
    finally:
        service.stop()
        await asyncio.wait_for(serving, 15)
    evals = [c.text or "" for c in stub.messages_to(OWNER) if EVAL in (c.text or "")]
    assert len(evals) == 1, evals  # one digest
    assert "iteration 0:" in evals[0] and "iteration 200:" in evals[0]
