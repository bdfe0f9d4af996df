"""The service: parts started in order and stopped in reverse.

`bot.assemble` builds one per role from parts: log intake and GPU intake (the producers), the
fold (each run's state, and what is said about it), delivery (the outbox sender) and the
Telegram front end.
"""

from __future__ import annotations

import asyncio
import contextlib

from bot.adapters.process import Launched
from bot.adapters.store import Store, storable
from bot.fold import Fold
from bot.front import TelegramFront
from bot.intake import LogIntake
from bot.parts import Part, RunSpec, Storage, Supervisor

__all__ = ["RunSpec", "Service"]


class Service:
    """The parts of one process (built by bot.assemble), started in order and stopped in
    reverse; it runs until `stop()`."""

    def __init__(self, storage: Storage, supervisor: Supervisor, launched: Launched) -> None:
        self.storage, self.supervisor = storage, supervisor
        self.parts: list[Part] = [storage]
        self.fold: Fold | None = None
        self.front: TelegramFront | None = None
        self.logs: LogIntake | None = None
        self.pids: set[int] = set()  # training processes etagram launched
        self.launched = launched  # the same, by run: what /stop can stop
        self.stop_event = asyncio.Event()

    @property
    def store(self) -> Store | None:
        return self.storage.opened

    async def serve(self) -> None:
        """Run until `stop()`; then shut down within about SHUTDOWN_TIMEOUT_S."""
        started: list[Part] = []
        try:
            for part in self.parts:
                await part.start()
                started.append(part)
            await self.stop_event.wait()
        finally:
            for part in reversed(started):
                with contextlib.suppress(Exception):
                    await part.stop()
            await self.supervisor.close()

    def stop(self) -> None:
        self.stop_event.set()

    def started(self, name: str, pid: int) -> None:
        """etagram launched `pid` (the leader of its own process group) for run `name`."""
        self.pids.add(pid)
        self.launched.started(storable(name), pid)

    async def end_run(self, name: str, exit_code: int | None) -> None:
        """The launched process exited: its last lines are read, then it is said (with who
        stopped it from Telegram, if someone did); a stop under way is seen to its end."""
        assert self.logs is not None
        name = storable(name)
        self.launched.exited(name)
        request = self.launched.requests.get(name)
        await self.logs.end_run(name, exit_code, request.by if request else None)
        await self.launched.settled(name)
