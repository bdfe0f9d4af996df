"""Hostile input: huge lines with markup in the log, odd run names, bad paths, and random
commands and button data pushed through the real handlers (hypothesis). Nothing raises,
everything sent is valid Telegram HTML (the stand-in refuses anything else), and the bot
keeps answering."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import assemble, messages
from bot.adapters.console import Console
from bot.adapters.store import StoreError
from bot.adapters.telegram import COMMANDS, build_application
from bot.config import Config, General, Telegram
from bot.core.prefs import ChatPrefs
from bot.service import RunSpec, Service
from tests.telegram_stub import BotApiStub
from tests.test_faults import FAST, HEADER, OWNER, append, run_lines, settled

STRANGER = 666
HOSTILE_NAME = "<b>run & co</b>"
SCRIPT = "<script>alert('&amp; & <i>')</script>"


def service_for(stub: BotApiStub, tmp_path: Path, log: Path, name: str = HOSTILE_NAME) -> Service:
    config = Config(
        telegram=Telegram(token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)),
        general=General(language="en", timezone="UTC", state_path=str(tmp_path / "state.sqlite3")),
    )
    return assemble.embedded(
        config, [RunSpec(name, log)], console=Console(io.StringIO()), outbox=FAST
    )


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[BotApiStub, Service, Path]]:
    log = tmp_path / "train.log"
    async with BotApiStub() as stub:
        service = service_for(stub, tmp_path, log)
        serving = asyncio.create_task(service.serve())
        try:
            await stub.wait_for("setMyCommands", timeout=10)
            yield stub, service, log
        finally:
            service.stop()
            await asyncio.wait_for(serving, 15)


async def test_huge_hostile_log_lines_reach_telegram_escaped(
    running: tuple[BotApiStub, Service, Path],
) -> None:
    stub, service, log = running
    junk = (SCRIPT + " & ") * 1500  # ~60 KB
    append(log, HEADER + run_lines(0, 120))
    append(
        log,
        [
            f"iter 120: loss 2.9, time 170.00ms {junk}",
            f"torch.OutOfMemoryError: CUDA out of memory. {SCRIPT} Tried to allocate 20.00 MiB "
            f"(GPU 0; 11.99 GiB total capacity) {junk}",
            f"RuntimeError: {junk}",
        ],
    )
    append(log, run_lines(130, 210))
    await asyncio.wait_for(_until(lambda: settled(service, 200, HOSTILE_NAME)), 15)
    refused = [c for c in stub.sent if c.status == 400]
    assert not refused, [c.description for c in refused]
    shown = [str(m.get("text", "")) for m in stub.chat_messages(OWNER)]
    assert any("out of memory" in t.lower() for t in shown), [
        (c.method, c.status, c.chat_id) for c in stub.sent
    ]
    assert all(HOSTILE_NAME in t for t in shown)  # the name shown as text, markup escaped
    assert all(len(t) <= 4096 for t in shown)


async def test_a_directory_as_state_path_is_one_clear_error(tmp_path: Path) -> None:
    async with BotApiStub() as stub:
        service = service_for(stub, tmp_path, tmp_path / "train.log")
        bad = service.fold.config.with_changes(general={"state_path": str(tmp_path)})
        service = assemble.embedded(bad, service.logs.runs, console=Console(io.StringIO()))
        with pytest.raises(StoreError) as info:
            await asyncio.wait_for(service.serve(), 10)
    assert str(info.value) == f"state database {tmp_path}: is a directory; expected a file path"


async def test_a_directory_as_log_path_is_waited_on_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.tail")
    (tmp_path / "logdir").mkdir()
    async with BotApiStub() as stub:
        service = service_for(stub, tmp_path, tmp_path / "logdir")
        serving = asyncio.create_task(service.serve())
        await stub.wait_for("setMyCommands", timeout=10)
        n = len(stub.sent)
        stub.push_message(OWNER, "/status")
        assert (await stub.wait_for("sendMessage", since=n)).ok
        for _ in range(100):
            if "retrying" in caplog.text:
                break
            await asyncio.sleep(0.05)
        service.stop()
        await asyncio.wait_for(serving, 15)
    assert "cannot open" in caplog.text and "retrying" in caplog.text


# --- fuzzing the handlers --------------------------------------------------------------------

NAMES = sorted(COMMANDS) + ["nope", "start@etagram_stub_bot", "eta@other_bot", ""]
ARG = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80
) | st.sampled_from(["99999999h", "Mars/Olympus", "xx", "every 0", "-1", "0m", "1d 1h", "<b>"])
COMMAND = st.builds(lambda name, arg: f"/{name} {arg}".strip(), st.sampled_from(NAMES), ARG)
CALLBACK = st.text(max_size=70) | st.builds(
    lambda action, arg: f"v1:{action}:{arg}",
    st.sampled_from(["eta", "status", "plot", "mute", "run", "reboot"]),
    st.text(max_size=50),
)
ACTION = st.tuples(st.sampled_from([OWNER, STRANGER]), st.booleans(), COMMAND, CALLBACK)


class Errors(logging.Handler):
    """Records what the bot's error handler reports (an exception escaped a handler)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "while handling an update" in record.getMessage():
            self.seen.append(record.getMessage())


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(action=ACTION)
async def test_random_commands_and_buttons_raise_nothing(
    running: tuple[BotApiStub, Service, Path], action: tuple[int, bool, str, str]
) -> None:
    stub, _, _ = running
    chat, press, text, data = action
    errors = Errors()
    logging.getLogger("bot.adapters.telegram").addHandler(errors)
    try:
        if press:
            stub.push_callback(chat, 999, data)
        else:
            stub.push_message(chat, text)
        n = len(stub.sent)
        stub.push_message(OWNER, "/help")  # updates are handled in order: this one last
        reply = await stub.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == OWNER and "/eta" in (c.text or ""),
            since=n,
        )
    finally:
        logging.getLogger("bot.adapters.telegram").removeHandler(errors)
    assert reply.ok
    assert not errors.seen, (action, errors.seen)
    refused = [c for c in stub.sent if c.status == 400 and "parse" in c.description]
    assert not refused, (action, [c.description for c in refused])


async def _until(check: object) -> None:
    while not await check():  # type: ignore[operator]
        await asyncio.sleep(0.05)


class BrokenBackend:
    """A backend with a bug in it: every run lookup raises."""

    allowed_chat_ids = frozenset({OWNER})

    def now(self) -> float:
        return time.time()

    async def ctx_for(self, chat_id: int) -> messages.Ctx:
        return messages.Ctx(lang="en", now_s=time.time())

    async def prefs(self, chat_id: int) -> ChatPrefs:
        return ChatPrefs()

    async def save_prefs(self, chat_id: int, prefs: ChatPrefs) -> None:
        return None

    async def run_for(self, chat_id: int) -> None:
        raise RuntimeError("a bug")

    def run_states(self) -> list[object]:
        return []

    def gpu_snapshot(self) -> None:
        return None

    async def plot(self, run: object, ctx: messages.Ctx) -> None:
        return None

    async def start_live(self, chat_id: int) -> None:
        return None

    async def stop_live(self, chat_id: int) -> None:
        return None


async def test_a_handler_that_raises_gets_the_chat_an_answer_and_the_bot_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with BotApiStub() as stub:
        app = build_application(stub.token, stub.base_url, BrokenBackend())  # type: ignore[arg-type]
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                for command in ("/eta", "/help"):
                    n = len(stub.sent)
                    stub.push_message(OWNER, command)
                    reply = await stub.wait_for("sendMessage", since=n)
                    assert reply.ok
                    if command == "/eta":
                        assert "Something went wrong on my side" in (reply.text or "")
                n = len(stub.sent)
                stub.push_message(STRANGER, "/eta")  # refused before any lookup: no error
                assert "not" in ((await stub.wait_for("sendMessage", since=n)).text or "")
            finally:
                await app.updater.stop()
                await app.stop()
    assert "error while handling an update: a bug" in caplog.text
