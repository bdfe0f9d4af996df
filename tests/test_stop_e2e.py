"""End to end: `/stop` from the phone, against the Bot API stand-in, on real child processes.

The trainers are small Python scripts that write each signal they get to a marker file: a
polite one exits on SIGINT (as a trainer that saves a checkpoint would), a stubborn one
ignores SIGINT and SIGTERM and has a child of its own, so that the escalation to SIGKILL and
the reach of the process group are both seen. Grace periods are shortened.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import assemble
from bot.adapters.console import Console
from bot.adapters.process import run_command
from bot.bus import LogLines
from bot.config import Config, General, Run, Telegram
from bot.core.confirm import Confirmations
from bot.service import RunSpec, Service
from tests.telegram_stub import BotApiStub, SentCall

ROOT = Path(__file__).resolve().parents[1]
OWNER, STRANGER = 4242, 666
RUN = "gpt2"
GRACE_S = 0.5

# Prints nanoGPT's lines until stopped; each signal it gets is one line of the marker file.
TRAINER = """
import os, signal, subprocess, sys, time
marker, polite = sys.argv[1], sys.argv[2] == "polite"
def on_signal(sig, frame):
    with open(marker, "a") as f:
        f.write(signal.Signals(sig).name + "\\n")
    if polite:
        print("saving checkpoint to out/ckpt.pt", flush=True)
        sys.exit(0)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
if not polite:  # a worker in the same process group, as torchrun's would be
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(marker + ".worker", "w") as f:
        f.write(str(worker.pid))
print("max_iters = 100000", flush=True)
for it in range(0, 100000, 10):
    print(f"iter {it}: loss {3.0 - it / 1e5:.4f}, time 170.00ms, mfu 30.00%", flush=True)
    time.sleep(0.05)
"""


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


def config(stub: BotApiStub, tmp_path: Path) -> Config:
    return Config(
        telegram=Telegram(token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)),
        general=General(language="en", timezone="UTC", state_path=str(tmp_path / "state.sqlite3")),
        run=Run(stop_grace_s=GRACE_S),
    )


def trainer(tmp_path: Path, manner: str) -> tuple[list[str], Path]:
    script = tmp_path / "train.py"
    script.write_text(TRAINER)
    marker = tmp_path / "signals"
    return [sys.executable, str(script), str(marker), manner], marker


def signals(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def buttons(call: SentCall) -> dict[str, str]:
    """The inline buttons under a sent message: label -> callback data."""
    markup: Any = call.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def command(stub: BotApiStub, chat: int, text: str, answer: str = "") -> SentCall:
    """Send a command; the first message to the chat after it (holding `answer`: a push may
    come in between)."""
    n = len(stub.sent)
    stub.push_message(chat, text)
    return await stub.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == chat and answer in (c.text or ""),
        since=n,
    )


async def press(stub: BotApiStub, chat: int, message_id: int, data: str) -> SentCall:
    """Press a button; the bot's answer to the press (its toast, possibly empty)."""
    n = len(stub.sent)
    stub.push_callback(chat, message_id, data)
    return await stub.wait_for("answerCallbackQuery", since=n)


async def launched(service: Service, argv: list[str], log: Path) -> int:
    """What `etagram run` does with its child (bot/cli.py), in this process."""
    code = await run_command(
        argv, log, on_start=lambda pid: service.started(RUN, pid), echo=io.BytesIO()
    )
    await service.end_run(RUN, code)
    return code


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- the real `etagram run` -------------------------------------------------------------------


async def test_owner_stops_etagram_run_and_it_gets_sigint_first(
    stub: BotApiStub, tmp_path: Path
) -> None:
    argv, marker = trainer(tmp_path, "polite")
    env = {
        **os.environ,
        "ETAGRAM_TELEGRAM_TOKEN": stub.token,
        "ETAGRAM_TELEGRAM_API_BASE_URL": stub.base_url,
        "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": str(OWNER),
        "ETAGRAM_STATE_PATH": str(tmp_path / "state.sqlite3"),
        "ETAGRAM_LANGUAGE": "en",
        "ETAGRAM_TIMEZONE": "UTC",
        "ETAGRAM_STOP_GRACE_S": str(GRACE_S),
        "PYTHONPATH": str(ROOT),
    }
    cli = ["-m", "bot", "run", "--name", RUN, "--log", str(tmp_path / "train.log"), "--", *argv]
    etagram = await asyncio.create_subprocess_exec(
        sys.executable, *cli, cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        await stub.wait_for("setMyCommands", timeout=30)
        await stub.wait_for(lambda c: "Training started" in (c.text or ""), timeout=30)

        refusal = await command(stub, STRANGER, "/stop")  # a stranger: refused, no question
        assert RUN not in (refusal.text or "") and buttons(refusal) == {}

        question = await command(stub, OWNER, "/stop", "⏹")
        assert "Stop this run?" in (question.text or "") and "SIGINT" in (question.text or "")
        data = buttons(question)
        assert set(data) == {"Stop", "Cancel"}
        message_id = question.result["message_id"]

        forged = data["Stop"].rsplit(":", 1)[0] + ":AAAAAAAAAAAAAAAA"
        toast = await press(stub, OWNER, message_id, forged)
        assert "nothing was stopped" in (toast.text or "")
        # The real data from a stranger's chat: refused (silently: it was refused an hour ago).
        stub.push_callback(STRANGER, message_id, data["Stop"])
        await asyncio.sleep(3 * GRACE_S)
        assert signals(marker) == [] and etagram.returncode is None

        n = len(stub.sent)
        await press(stub, OWNER, message_id, data["Stop"])
        edited = await stub.wait_for("editMessageText", since=n)
        assert "Stopping" in (edited.text or "") and "@alice" in (edited.text or "")
        end = await stub.wait_for(
            lambda c: "Training stopped from Telegram" in (c.text or ""), since=n, timeout=15
        )
        assert "Stop requested by @alice" in (end.text or "") and "code <code>0</code>" in (
            end.text or ""
        )
        assert await asyncio.wait_for(etagram.wait(), 15) == 0
        assert signals(marker) == ["SIGINT"]  # the trainer exited on it: nothing harder

    finally:
        if etagram.returncode is None:
            etagram.kill()
            await etagram.wait()


# --- in one process, shortened ------------------------------------------------------------------


@pytest.fixture
async def service(stub: BotApiStub, tmp_path: Path) -> AsyncIterator[Service]:
    service = assemble.embedded(
        config(stub, tmp_path),
        [RunSpec(RUN, tmp_path / "train.log")],
        console=Console(io.StringIO()),
        proc_root=None,
    )
    serving = asyncio.create_task(service.serve())
    await stub.wait_for("setMyCommands", timeout=10)
    yield service
    service.stop()
    await asyncio.wait_for(serving, 15)


async def test_a_trainer_that_ignores_sigint_gets_sigterm_then_sigkill_with_its_group(
    stub: BotApiStub, service: Service, tmp_path: Path
) -> None:
    argv, marker = trainer(tmp_path, "stubborn")
    child = asyncio.create_task(launched(service, argv, tmp_path / "train.log"))
    await stub.wait_for(lambda c: "Training started" in (c.text or ""), timeout=15)
    worker = int((tmp_path / "signals.worker").read_text())

    question = await command(stub, OWNER, "/stop gpt", "⏹")  # a unique prefix names the run
    stop = buttons(question)["Stop"]
    await press(stub, OWNER, question.result["message_id"], stop)
    replay = await press(stub, OWNER, question.result["message_id"], stop)
    assert "nothing was stopped" in (replay.text or "")
    n = len(stub.sent)
    under_way = await command(stub, OWNER, "/stop", "Already being stopped")
    assert "SIGINT sent at @alice's request" in (under_way.text or "") and buttons(under_way) == {}

    assert await asyncio.wait_for(child, 10) == 128 + 9
    assert signals(marker) == ["SIGINT", "SIGTERM"]  # in this order, then SIGKILL
    end = await stub.wait_for(lambda c: "stopped from Telegram" in (c.text or ""), since=n)
    assert "code <code>137</code>" in (end.text or "")
    for _ in range(50):  # the worker, in the trainer's process group, was killed with it
        if gone(worker):
            break
        await asyncio.sleep(0.1)
    assert gone(worker)

    ended = await command(stub, OWNER, "/stop", "already ended")
    assert buttons(ended) == {}


async def test_an_expired_or_cancelled_question_stops_nothing(
    stub: BotApiStub, service: Service, tmp_path: Path
) -> None:
    assert service.front is not None
    service.front.stops = Confirmations(valid_s=0.5)
    argv, marker = trainer(tmp_path, "polite")
    child = asyncio.create_task(launched(service, argv, tmp_path / "train.log"))
    try:
        await stub.wait_for(lambda c: "Training started" in (c.text or ""), timeout=15)
        question = await command(stub, OWNER, "/stop", "⏹")
        n = len(stub.sent)
        expired = await stub.wait_for("editMessageText", since=n, timeout=5)
        assert "confirmation expired" in (expired.text or "")
        assert "reply_markup" not in expired.params  # the buttons are gone
        toast = await press(stub, OWNER, question.result["message_id"], buttons(question)["Stop"])
        assert "nothing was stopped" in (toast.text or "")

        again = await command(stub, OWNER, "/stop", "⏹")
        n = len(stub.sent)
        await press(stub, OWNER, again.result["message_id"], buttons(again)["Cancel"])
        cancelled = await stub.wait_for("editMessageText", since=n)
        assert "Not stopped: @alice cancelled" in (cancelled.text or "")
        await asyncio.sleep(3 * GRACE_S)
        assert signals(marker) == [] and not child.done()
    finally:
        child.cancel()
        with pytest.raises(asyncio.CancelledError):
            await child


async def test_stop_on_a_watched_log_explains(
    stub: BotApiStub, service: Service, tmp_path: Path
) -> None:
    (tmp_path / "train.log").write_text("iter 0: loss 3.0000, time 170.00ms, mfu 30.00%\n")
    await stub.wait_for(lambda c: "Training started" in (c.text or ""), timeout=15)
    reply = await command(stub, OWNER, "/stop", "⏹")
    assert "can only stop a run it started itself" in (reply.text or "")
    assert buttons(reply) == {}
    await command(stub, OWNER, "/lang fr")
    reply = await command(stub, OWNER, "/stop gpt2", "⏹")
    assert "ne peut arrêter que ce qu'il a lancé lui-même" in (reply.text or "")


async def test_stop_on_a_hub_says_it_cannot_stop_remote_runs(
    stub: BotApiStub, tmp_path: Path
) -> None:
    hub = assemble.hub(config(stub, tmp_path), None, console=Console(io.StringIO()))
    serving = asyncio.create_task(hub.serve())
    try:
        await stub.wait_for("setMyCommands", timeout=10)
        assert hub.fold is not None
        line = "iter 0: loss 3.0000, time 170.00ms, mfu 30.00%"
        await hub.fold.fold(LogLines(RUN, (line,), 0.0, host="node1"))
        reply = await command(stub, OWNER, "/stop", "⏹")
        assert "on another machine" in (reply.text or "") and buttons(reply) == {}
    finally:
        hub.stop()
        await asyncio.wait_for(serving, 15)
