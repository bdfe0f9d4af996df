"""The machine in each message: past one machine (a hub that hears from several), or always
when configured; never on one machine by default."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Literal

import pytest

from bot.adapters.console import Console
from bot.assemble import MAX_HUB_RUNS
from bot.bus import LogLines
from bot.config import Config, General, Notify
from bot.core.policy import PushPolicy
from bot.fold import Fold
from bot.notify import Chats, Notifier
from bot.parts import RunSpec, Supervisor
from tests.generated import nanogpt_lines
from tests.test_service_e2e import HEADER


def fold(
    show_host: Literal["auto", "always", "never"], runs: list[RunSpec], host: str = ""
) -> tuple[Fold, io.StringIO]:
    out = io.StringIO()
    config = Config(general=General(timezone="UTC"), notify=Notify(show_host=show_host))
    chats = Chats([], language="en", timezone="UTC", now=time.time, store=lambda: None)
    notifier = Notifier(PushPolicy(), chats, now=time.time)
    max_runs = None if runs else MAX_HUB_RUNS
    return Fold(
        config,
        runs,
        notifier,
        Supervisor(),
        console=Console(out),
        max_runs=max_runs,
        host=host,
    ), out


def started(run: str, host: str = "") -> LogLines:
    return LogLines(run, tuple(HEADER.splitlines() + nanogpt_lines(0, 20)), 10.0, host=host)


async def test_a_hub_names_the_machines_once_it_hears_from_two() -> None:
    hub, out = fold("auto", [])
    await hub.handle(started("gpt2", "node1"))
    assert "ℹ️ gpt2\n" in out.getvalue()  # one machine so far: nothing to tell apart
    await hub.handle(started("llama", "node2"))
    assert "ℹ️ llama · node2\n" in out.getvalue()
    assert hub.host_shown("gpt2") == "node1"


@pytest.mark.parametrize(("mode", "shown"), [("auto", ""), ("always", "box"), ("never", "")])
async def test_one_machine_names_itself_only_when_asked(
    mode: Literal["auto", "always", "never"], shown: str
) -> None:
    one, out = fold(mode, [RunSpec("gpt2", Path("train.log"))], host="box")
    await one.handle(started("gpt2"))
    assert one.host_shown("gpt2") == shown
    assert ("ℹ️ gpt2 · box\n" in out.getvalue()) == bool(shown)


async def test_never_hides_even_several_machines() -> None:
    hub, out = fold("never", [])
    await hub.handle(started("gpt2", "node1"))
    await hub.handle(started("llama", "node2"))
    assert " · node" not in out.getvalue()
