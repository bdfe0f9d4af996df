"""What the service's parts share: the runs to follow, the state database, and the
supervisor of their long-lived tasks.

Every long-lived task of a part (a follower, the consumer, each periodic job) runs under the
`Supervisor`: when it fails it is logged, named by /status and restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from bot.adapters.store import Store
from bot.core.backoff import Backoff

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 10.0
OUTBOX_TEXTS_KEPT_S = 30 * 86400.0  # a delivered message's text is kept this long; its key always
# A failed task (log follower, Redis consumer...) restarts after 1 s, doubling up to 60 s
# while it keeps failing.
RESTART = Backoff(1.0, 60.0)

T = TypeVar("T")
PartKey = tuple[str, str]  # (kind, run): "follow", "train.log"; "consume", ""


@dataclass(frozen=True)
class RunSpec:
    """A log to follow, under a name. `fixed`: the user gave the name; otherwise the log's
    first lines may refine it once (bot/core/naming.py)."""

    name: str
    path: Path
    fmt: str | None = None
    total_iters: int | None = None
    fixed: bool = False
    max_epochs: int | None = None  # x the iterations per epoch the log shows: the total


class Part(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Supervisor:
    """Runs the parts' long-lived tasks, restarting a failed one with a back-off; `degraded`
    names those failing now (for /status)."""

    def __init__(self, restart: Backoff = RESTART) -> None:
        self.restart = restart
        self.degraded: dict[PartKey, str] = {}
        self._tasks: dict[PartKey, asyncio.Task[None]] = {}

    def spawn(self, part: PartKey, work: Callable[[bool], Awaitable[None]]) -> None:
        """Run `work` until it returns. When it raises, the error is logged once with its
        cause, the part is shown as failing in /status, and the work starts again after a
        back-off (`work(True)`: a restart); the part clears itself once it works again."""
        name = _part_name(part)
        self._tasks[part] = asyncio.create_task(self._supervised(part, work), name=name)

    def every(
        self, part: PartKey, first_s: float, every_s: float, job: Callable[[], Awaitable[None]]
    ) -> None:
        """`job` after `first_s` (`every_s` when restarted), then every `every_s` after it
        ends; timed by the event loop's monotonic clock: a scheduler on the wall clock waits
        a day when the clock is set back one."""

        async def loop(again: bool) -> None:
            await asyncio.sleep(every_s if again else first_s)
            while True:
                await job()
                self.works(part)
                await asyncio.sleep(every_s)

        self.spawn(part, loop)

    def works(self, part: PartKey) -> None:
        """The part did its work: it is no longer failing."""
        if self.degraded and self.degraded.pop(part, None) is not None:
            log.info("%s works again", _part_name(part))

    def failed(self, part: PartKey, exc: Exception, *why: object) -> None:
        """The part failed (`why`: the log line's format and arguments, logged the first
        time)."""
        if part not in self.degraded:
            log.exception(*(why or ("%s failed (%s)", _part_name(part), exc)))
        self.degraded[part] = str(exc)

    async def each(
        self,
        kind: str,
        runs: Mapping[str, T],
        job: Callable[[str, T], Awaitable[None]],
        what: str,
    ) -> None:
        """`job` for each run in turn, each supervised on its own as part (`kind`, run): one
        that fails is logged once (`what` of run ... failed) and does not hold up the others."""
        for run, value in list(runs.items()):
            try:
                await job(run, value)
            except Exception as exc:
                self.failed((kind, run), exc, f"{what} of run %r failed (%s)", run, exc)
            else:
                self.works((kind, run))

    async def end(self, part: PartKey, *, grace_s: float = 0.0) -> None:
        """Stop the part's task: at once, or after `grace_s` if it does not end by itself."""
        task = self._tasks.pop(part, None)
        if task is None:
            return
        if grace_s:
            await asyncio.wait([task], timeout=grace_s)
        task.cancel()
        await asyncio.wait([task], timeout=SHUTDOWN_TIMEOUT_S)

    async def close(self) -> None:
        for part in list(self._tasks):
            await self.end(part)

    async def _supervised(self, part: PartKey, work: Callable[[bool], Awaitable[None]]) -> None:
        failures, again = 0, False
        while True:
            try:
                await work(again)
                return
            except Exception as exc:
                if part not in self.degraded:  # failing anew: from the first wait again
                    failures = 0
                self.failed(part, exc, "%s failed (%s): restarting it", _part_name(part), exc)
            failures += 1
            await asyncio.sleep(self.restart.delay_s(failures))
            again = True


class Storage:
    """The state database, open while the service runs."""

    def __init__(self, path: Path, now: Callable[[], float]) -> None:
        self.path, self.now = path, now
        self._store: Store | None = None

    def __call__(self) -> Store:
        """The open database (the parts started after this one use it)."""
        if self._store is None:
            raise RuntimeError(f"the state database {self.path} is not open")
        return self._store

    @property
    def opened(self) -> Store | None:
        return self._store

    async def start(self) -> None:
        self._store = await Store.open(self.path)
        if forgotten := await self._store.forget_texts(self.now() - OUTBOX_TEXTS_KEPT_S):
            log.info("outbox: dropped the texts of %d delivered messages", forgotten)

    async def stop(self) -> None:
        if self._store is not None:
            await self._store.close()


def _part_name(part: PartKey) -> str:
    """For the log: "follow train.log", "consume", "gpu", "checks"."""
    return " ".join(filter(None, part))
