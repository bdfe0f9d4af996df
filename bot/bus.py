"""The bus between what produces input (log followers, GPU samplers, launched processes) and
what holds the state (the core, the notifier).

On one machine it is an asyncio queue in the process; past one machine, Redis Streams carry
the same messages from `etagram agent`s to one `etagram hub`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from bot.core.gpu import GpuSnapshot


@dataclass(frozen=True, slots=True)
class LogLines:
    """Complete lines of a run's log, read at `wall_s`.

    `replayed`: lines an earlier etagram already handled (before the saved offset), or the
    backlog of a log that was already long when first followed: they rebuild the state but
    cause no eval message (alerts still go out).
    """

    run: str
    lines: tuple[str, ...]
    wall_s: float
    replayed: bool = False
    host: str = ""


@dataclass(frozen=True, slots=True)
class GpuReport:
    """One NVML snapshot of a host's GPUs; `run`: the run they train ("" = every run)."""

    host: str
    snapshot: GpuSnapshot
    run: str = ""


@dataclass(frozen=True, slots=True)
class ProcessExit:
    """The training process etagram launched for `run` exited."""

    run: str
    exit_code: int | None
    wall_s: float


Message = LogLines | GpuReport | ProcessExit


class Bus(Protocol):
    async def publish(self, msg: Message) -> None: ...
    def messages(self) -> AsyncIterator[Message]: ...
    def idle(self) -> bool: ...  # everything published has been handed on
    async def aclose(self) -> None: ...


class LocalBus:
    """One process: a bounded asyncio queue. A follower catching up on a long log waits for
    the core rather than filling memory (the log file itself is the buffer)."""

    def __init__(self, maxsize: int = 256) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)

    async def publish(self, msg: Message) -> None:
        await self._queue.put(msg)

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            yield await self._queue.get()

    def idle(self) -> bool:
        return self._queue.empty()

    async def aclose(self) -> None:
        pass
