"""End to end, against the Bot API stand-in: two runs, one finishes and one crashes, a third
waits for a log it cannot read; each chat (fr, en) hears the end, and `/runs`, `/eta` and
`/status` of each run say where it is, with no countdown once it is over."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General, Telegram
from bot.service import RunSpec, Service
from tests.generated import nanogpt_lines
from tests.telegram_stub import BotApiStub, SentCall

EN, FR = 4242, 4343
HEADER = ["max_iters = 600", "eval_interval = 200", "log_interval = 10"]
CRASH = [
    "Traceback (most recent call last):",
    '  File "train.py", line 300, in <module>',
    "RuntimeError: CUDA error: an illegal memory access was encountered",
]
COUNTDOWN = ("Done in", "Finishing any moment", "Finish expected", "Fin dans", "Fin imminente")


@pytest.fixture
async def stub() -> BotApiStub:
    async with BotApiStub() as server:
        yield server


def service(stub: BotApiStub, tmp_path: Path, runs: list[RunSpec]) -> Service:
    config = Config(
        telegram=Telegram(token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(EN, FR)),
        general=General(
            language="en", timezone="Europe/Paris", state_path=str(tmp_path / "state.sqlite3")
        ),
    )
    return assemble.embedded(config, runs, console=Console(io.StringIO()))


def write(path: Path, lines: list[str]) -> None:
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


def saying(chat: int, words: str) -> Callable[[SentCall], bool]:
    return lambda c: c.chat_id == chat and words in (c.text or "")


# How each command's answer begins: under load, a push queued earlier (an eval, an alert) may
# reach the chat between the command and its answer.
HEADS = {"/runs": "", "/eta": "⏱️", "/status": "📊", "/lang": ""}


async def ask(stub: BotApiStub, chat: int, text: str, words: str = "") -> SentCall:
    n = len(stub.sent)
    stub.push_message(chat, text)
    return await stub.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat
            and (c.text or "").startswith(HEADS[text.split(" ")[0]])
            and words in (c.text or "")
        ),
        since=n,
    )


async def test_finished_and_crashed_runs_say_so_with_no_countdown(
    stub: BotApiStub, tmp_path: Path
) -> None:
    alpha, beta, gamma = tmp_path / "alpha.log", tmp_path / "beta.log", tmp_path / "gamma.log"
    os.mkfifo(gamma)  # no log can be read from a FIFO: the run waits, and says why
    runs = [RunSpec("alpha", alpha), RunSpec("beta", beta), RunSpec("gamma", gamma)]
    svc = service(stub, tmp_path, runs)
    serving = asyncio.create_task(svc.serve())
    try:
        await stub.wait_for("setMyCommands", timeout=10)
        await ask(stub, FR, "/lang fr")
        write(alpha, HEADER + nanogpt_lines(0, 300))
        write(beta, HEADER + nanogpt_lines(0, 300))
        await stub.wait_for(lambda c: "beta" in (c.text or "") and "started" in (c.text or ""))
        write(alpha, nanogpt_lines(300, 610))
        write(beta, CRASH)
        for chat, words in ((EN, "Training finished"), (FR, "Entraînement terminé")):
            end = await stub.wait_for(saying(chat, words))
            assert not end.silent  # the push people wait for rings
            assert str(alpha) in (end.text or "")  # which log, on which machine
        for chat, words in ((EN, "Training crashed"), (FR, "arrêté sur une erreur")):
            await stub.wait_for(saying(chat, words))

        for chat, said in (
            (EN, ("finished", "crashed", "waiting for the log (not a regular file)")),
            (FR, ("terminé", "arrêté sur une erreur", "en attente du log (pas un fichier")),
        ):
            listed = await ask(stub, chat, "/runs", "gamma")
            lines = (listed.text or "").splitlines()
            for run, phase in zip(("alpha", "beta", "gamma"), said, strict=True):
                (line,) = [line for line in lines if run in line]
                assert phase in line, line
            for run, phase in (("alpha", said[0]), ("beta", said[1])):
                for command in (f"/eta {run}", f"/status {run}"):
                    text = (await ask(stub, chat, command, run)).text or ""
                    assert phase in text.lower(), text
                    assert not any(word in text for word in COUNTDOWN), text
    finally:
        svc.stop()
        await asyncio.wait_for(serving, 15)
