"""The producers: log intake (a follower per log, its backlog first) and GPU intake (an NVML
snapshot every `gpu_interval_s`). Each hands what it reads to a sink: the fold in one
process, the bus on an agent."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.adapters.store import Store
from bot.adapters.tail import LogFollower, Position, not_a_file
from bot.bus import GpuReport, LogLines, LogWait, Message, ProcessExit
from bot.core.gpu import GpuSource
from bot.core.lifecycle import WaitReason
from bot.core.linebuf import LineBuffer
from bot.core.naming import Namer
from bot.parts import RunSpec, Supervisor

OFFSET_SAVE_S = 5.0  # per log; a crash reads at most this much again (the outbox keys dedupe)
BACKLOG_CHUNK = 1 << 20
END_DRAIN_S = 5.0  # how long the last lines of an exited process may take to be read
STOP_S = 2.0  # how long the followers may take to save where they are when stopping

Sink = Callable[[Message], Awaitable[None]]
# Asked to call a run (first argument) by a name its log gave (second); the name it now has.
Rename = Callable[[str, str], Awaitable[str]]


class LogIntake:
    """Follows each run's log and publishes its lines."""

    def __init__(
        self,
        runs: list[RunSpec],
        store: Callable[[], Store],
        sink: Sink,
        supervisor: Supervisor,
        *,
        now: Callable[[], float],
        host: str = "",
        state_elsewhere: bool = False,
        rename: Rename | None = None,
    ) -> None:
        """`state_elsewhere` (an agent): the state lives on the hub, which already had the
        lines before a saved offset; they are not read again. `rename`: a run not named by
        the user takes the name its log's first lines give (None: names stay)."""
        self.runs, self.store, self.sink, self.supervisor = runs, store, sink, supervisor
        self.now, self.host, self.state_elsewhere = now, host, state_elsewhere
        self.followers: dict[str, LogFollower] = {}
        # Each run by the name it was given: its name now, and what reads its name in the log.
        self.names = {spec.name: spec.name for spec in runs}
        self._rename = rename
        self._namers = {s.name: Namer() for s in runs if rename is not None and not s.fixed}
        # The backlog: what the logs hold when the service is made, before it connects.
        self._sizes = {spec.name: _size(spec.path) for spec in runs}

    async def start(self) -> None:
        for spec in self.runs:
            follow = functools.partial(self._follow, spec, self._sizes[spec.name])
            self.supervisor.spawn(("follow", spec.name), follow)

    async def stop(self) -> None:
        for follower in self.followers.values():
            follower.stop()
        for spec in self.runs:
            await self.supervisor.end(("follow", spec.name), grace_s=STOP_S)

    async def end_run(
        self, name: str, exit_code: int | None, stopped_by: str | None = None
    ) -> None:
        """The launched process exited (`stopped_by`: on whose request): let the follower
        read its last lines, then say so. `name`: the run's first name or its name now."""
        spec = next(s for s in self.runs if name in (s.name, self.names[s.name]))
        name = spec.name
        deadline = self.now() + END_DRAIN_S
        while self.now() < deadline:
            pos = self.followers[name].position if name in self.followers else None
            if pos is not None and pos.offset >= _size(spec.path):
                break
            await asyncio.sleep(0.05)
        await self.sink(ProcessExit(self.names[name], exit_code, self.now(), stopped_by))

    async def _follow(self, spec: RunSpec, size_at_start: int, again: bool = False) -> None:
        """Publish a log's lines: first its backlog, silently, then what is written next;
        `again` (a restart after a failure): from the saved offset, the state already built."""
        if not again:
            await self._replay_backlog(spec, size_at_start)
        elif not self.state_elsewhere and (handed := self._handed_out(spec)) is not None:
            # The batch it failed on is folded here: read again, its lines would count twice
            # (a resume...). Its pushes wait in the fold, unqueued: an empty batch sends them
            # first. An agent's batch that failed did not reach Redis: it is read again.
            await self.sink(LogLines(self.names[spec.name], (), self.now(), host=self.host))
            await self.store().save_offset(str(spec.path.resolve()), handed)
            self.supervisor.works(("follow", spec.name))  # its pushes are queued: it works

        async def waiting(reason: WaitReason | None) -> None:
            await self.sink(LogWait(spec.name, reason, self.now()))

        follower = LogFollower(
            spec.path, store=self.store(), checkpoint_every_s=OFFSET_SAVE_S, on_wait=waiting
        )
        self.followers[spec.name] = follower
        # Closed at once on a failure: its last checkpoint is written before the next one reads.
        async with contextlib.aclosing(follower.lines()) as batches:
            async for batch in batches:
                # Returns once the lines are folded and their notices queued (or, on an
                # agent, in Redis): the follower saves its offset when asked for the next
                # batch, and lines before a saved offset are replayed silently after a restart.
                await self._send(spec, batch, functools.partial(LogLines, host=self.host))
                self.supervisor.works(("follow", spec.name))

    def _handed_out(self, spec: RunSpec) -> Position | None:
        follower = self.followers.get(spec.name)
        return follower.handed_out if follower is not None else None

    async def _replay_backlog(self, spec: RunSpec, size_at_start: int) -> None:
        """Read, as `replayed` lines, what an earlier etagram already handled (up to its saved
        offset) or, on a first watch, what the log already held: they rebuild the run's state
        but cause no eval message. Then save where the follower goes on from."""
        store = self.store()
        key = str(spec.path.resolve())
        saved = await store.load_offset(key)
        if saved is not None and self.state_elsewhere:
            return  # the hub holds the state and had these lines: the follower goes on
        if not_a_file(spec.path):
            return  # opening a FIFO would block: the follower waits for a regular file
        try:
            f = spec.path.open("rb")
        except OSError:
            return  # not there yet, or not readable: the follower waits for it
        with f:
            st = os.fstat(f.fileno())
            if saved is not None and (saved.device, saved.inode) != (st.st_dev, st.st_ino):
                return  # rotated while we were away: the follower finishes the old file first
            end = saved.offset if saved is not None else size_at_start
            buf, done = LineBuffer(), 0
            while done < end and (
                chunk := await asyncio.to_thread(f.read, min(BACKLOG_CHUNK, end - done))
            ):
                done += len(chunk)
                # At speed, but the last chunk before the live edge line by line.
                fast = done < end - BACKLOG_CHUNK
                if lines := buf.feed(chunk):
                    backlog = functools.partial(
                        LogLines, replayed=True, host=self.host, catch_up=fast
                    )
                    await self._send(spec, lines, backlog)
        await store.save_offset(key, Position(st.st_dev, st.st_ino, buf.consumed))

    async def _send(
        self,
        spec: RunSpec,
        lines: list[str],
        make: Callable[[str, tuple[str, ...], float], LogLines],
    ) -> None:
        """Publish `lines` under the run's name; when a line among them names the run, the
        lines before it go under the old name and the run is renamed at that line, wherever
        the reads happened to cut the log (the same log gives the same name after a
        restart)."""
        namer = self._namers.get(spec.name)
        found = namer.feed(lines) if namer is not None else None
        if namer is not None and namer.done:
            del self._namers[spec.name]
        if found is not None and self._rename is not None:
            at, name = found
            if at:
                await self.sink(make(self.names[spec.name], tuple(lines[:at]), self.now()))
            self.names[spec.name] = await self._rename(self.names[spec.name], name)
            lines = lines[at:]
        await self.sink(make(self.names[spec.name], tuple(lines), self.now()))


class GpuIntake:
    """Samples the GPUs at once, then every `every_s`; `run`: the run they train ("" = every
    run), `host`: where they are ("" in one process)."""

    def __init__(
        self,
        gpu: GpuSource,
        every_s: float,
        sink: Sink,
        supervisor: Supervisor,
        *,
        host: str = "",
        run: str = "",
    ) -> None:
        self.gpu, self.every_s, self.sink, self.supervisor = gpu, every_s, sink, supervisor
        self.host, self.run = host, run

    async def start(self) -> None:
        self.supervisor.every(("gpu", ""), 0.0, self.every_s, self._sample)

    async def stop(self) -> None:
        await self.supervisor.end(("gpu", ""))

    async def _sample(self) -> None:
        snapshot = await asyncio.to_thread(self.gpu.sample)
        await self.sink(GpuReport(self.host, snapshot, self.run))


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
