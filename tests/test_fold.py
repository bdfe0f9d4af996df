"""The fold's pushes reach the outbox once each, in order, whoever says them."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest

from bot.adapters.console import Console
from bot.bus import LogLines
from bot.config import Config, General
from bot.core.policy import Push, PushPolicy
from bot.core.state import RunState
from bot.fold import Fold
from bot.notify import Chats, Notifier
from bot.parts import RunSpec, Supervisor
from tests.generated import nanogpt_lines
from tests.test_service_e2e import HEADER


class SlowNotifier(Notifier):
    """Queues by recording, after a pause; refuses while `full` (a disk with no room)."""

    def __init__(self) -> None:
        chats = Chats([], language="en", timezone="UTC", now=time.time, store=lambda: None)
        super().__init__(PushPolicy(), chats, now=time.time)
        self.full = False
        self.queued: list[str] = []

    async def deliver(
        self, state: RunState, push: Push, *, host: str = "", log: Path | None = None
    ) -> None:
        if self.full:
            raise OSError("database or disk is full")
        await asyncio.sleep(0.01)
        self.queued.append(f"{type(push).__name__}:{getattr(push, 'iter', None)}")


def _fold(notifier: SlowNotifier) -> Fold:
    config = Config(general=General(timezone="UTC"))
    spec = RunSpec("gpt", Path("train.log"))
    return Fold(config, [spec], notifier, Supervisor(), console=Console(io.StringIO()))


LINES = tuple(HEADER.splitlines() + nanogpt_lines(0, 410))


async def test_pushes_left_by_a_failure_go_once_each_when_two_callers_send_them() -> None:
    """The disk fills while a run's first lines are folded: what they said waits in the fold.
    Then the periodic checks and the next message both send what waits, at the same time:
    each push goes once, in the order a fold without faults queues them."""
    calm = SlowNotifier()
    await _fold(calm).handle(LogLines("gpt", LINES, 10.0))
    notifier = SlowNotifier()
    fold = _fold(notifier)
    notifier.full = True
    with pytest.raises(OSError, match="disk is full"):
        await fold.handle(LogLines("gpt", LINES, 10.0))
    notifier.full = False
    await asyncio.gather(fold.handle(LogLines("gpt", (), 11.0)), fold._tick())
    assert len(calm.queued) > 1 and notifier.queued == calm.queued
