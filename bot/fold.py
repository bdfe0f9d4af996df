"""The fold: every message a producer reads goes into its run's state, one at a time, and the
notices it causes become pushes (on the console, and queued for the chats that want them).

In one process the producers call `Fold.fold` themselves; on a hub, `Consumer` feeds it what
the agents publish to the bus.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import os
import sqlite3
from pathlib import Path
from typing import TypeVar

from bot import messages
from bot.adapters.console import Console
from bot.adapters.procs import gpu_map
from bot.bus import Bus, GpuReport, LogLines, LogWait, Message
from bot.config import Config
from bot.core.detectors import Thresholds
from bot.core.gpu import GpuSnapshot
from bot.core.gpumap import GpuMap, unused_view, view_for
from bot.core.hosts import HostGpus
from bot.core.lifecycle import WaitReason
from bot.core.monitor import RunMonitor
from bot.core.naming import unique
from bot.core.notices import Alert, AlertType, Notice, Placed, Severity, TooManyRunsEvidence
from bot.core.policy import Push
from bot.core.state import RunState
from bot.notify import Notifier, render
from bot.parts import RunSpec, Supervisor
from bot.resources import DISK_EVERY_MIN_S, Probes, slurm_job_end

log = logging.getLogger(__name__)
V = TypeVar("V")

TICK_S = 5.0  # how often the time-based checks (stall, a traceback then silence) run
MACHINE = ""  # the name under which alerts about GPUs no followed run uses are said


class Fold:
    """The runs' state and what is said about it."""

    def __init__(
        self,
        config: Config,
        runs: list[RunSpec],
        notifier: Notifier,
        supervisor: Supervisor,
        *,
        console: Console,
        max_runs: int | None = None,
        proc_root: Path | None = None,
        pids: set[int] | None = None,
        host: str = "",
        probes: Probes | None = None,
    ) -> None:
        """`max_runs`: a hub meets its runs as agents report them; it follows this many at
        most (None: every run it is told of). `proc_root`: where /proc is read to tell which
        GPUs each run uses, with `pids` the processes etagram launched (None: not read, e.g.
        a hub, or a simulated GPU). `host`: this machine, where the runs given train (a
        hub's runs are where its agents say). `probes`: how each run's disk and SLURM job
        are read (None: not read, e.g. a hub, whose runs train elsewhere, or the demo). The
        clock, time zone and demo mode are the notifier's chats'."""
        self.config, self.notifier, self.supervisor = config, notifier, supervisor
        self.console, self.now, self.max_runs = console, notifier.now, max_runs
        self.timezone, self.demo = notifier.chats.timezone, notifier.chats.demo
        self.monitors = {spec.name: self._monitor(spec) for spec in runs}
        self.latest_gpu: GpuSnapshot | None = None
        self.host_gpus = HostGpus()
        self.host = host
        self.hosts = {spec.name: host for spec in runs}  # the machine each run trains on
        self._renamed: dict[str, str] = {}  # a run's name before its log named it -> after
        self.runs_refused = 0  # reports about runs over `max_runs`, ignored
        # Which GPUs each run uses; the GPUs no run uses have detectors of their own, whose
        # alerts go once to the machine.
        self.proc_root = proc_root
        self.pids = pids if pids is not None else set()
        self.logs = {spec.name: spec.path for spec in runs}
        self.gpu_map: GpuMap | None = None
        self.machine = self._monitor(RunSpec(MACHINE, Path(MACHINE)))
        self.probes = probes
        self._job_ends: dict[str, tuple[float, float | None]] = {}  # run -> (read at, end)
        self._folding = asyncio.Lock()  # one message folded at a time, in the order published
        # Pushes said but not yet in the outbox (it failed: disk full...), first to go next
        # time: their lines are folded already and are not read again.
        self._unqueued: collections.deque[tuple[RunState, Push, str]] = collections.deque()
        # One queuer at a time: the periodic checks say things while a message is folded.
        self._queueing = asyncio.Lock()

    async def start(self) -> None:
        self.supervisor.every(("tick", ""), TICK_S, TICK_S, self._tick)
        if self.probes is not None:
            every = self.probes.every_s or max(self.config.gpu.interval_s, DISK_EVERY_MIN_S)
            self.supervisor.every(("resources", ""), every, every, self._resources)

    async def stop(self) -> None:
        await self.supervisor.end(("tick", ""))
        if self.probes is not None:
            await self.supervisor.end(("resources", ""))

    def _monitor(self, spec: RunSpec) -> RunMonitor:
        fmt = spec.fmt or self.config.run.format or None
        total = spec.total_iters or self.config.run.max_iters or None
        return RunMonitor(
            spec.name,
            fmt,
            total,
            thresholds=Thresholds.from_config(self.config.alerts),
            progress_pattern=self.config.run.progress_pattern or None,
            max_epochs=spec.max_epochs or self.config.run.max_epochs or None,
        )

    # What the bot and the metrics show ------------------------------------------------------
    def run_states(self) -> list[RunState]:
        return [m.state for m in self.monitors.values()]

    def gpu_snapshot(self) -> GpuSnapshot | None:
        return self.latest_gpu

    # Folding -------------------------------------------------------------------------------
    async def fold(self, msg: Message) -> None:
        """Fold a message in the producer's own task. A queue and a consumer task here cost
        two task switches per message, a third of etagram's CPU on a log written 20 times a
        second."""
        async with self._folding:
            await self.handle(msg)

    async def handle(self, msg: Message) -> None:
        """Fold one message into the state and say what must be said."""
        await self._queue_unqueued()
        if isinstance(msg, GpuReport):
            self.latest_gpu = self.host_gpus.update(msg.host, msg.snapshot, msg.run)
            if msg.run:  # a node with GPUs only may report before the log's node
                await self._monitor_of(msg.run)
            # Our clock, as for log lines: the demo's simulated GPU stamps its own time. An
            # agent's NVML stamps the node's: a restarted hub replays the same timeline.
            at = msg.snapshot.taken_at_s if msg.host else self.now()
            if self.proc_root is not None and not msg.host:
                self.gpu_map = await asyncio.to_thread(
                    gpu_map, msg.snapshot, self.logs, set(self.pids), self.proc_root
                )
            for name in self.host_gpus.runs(msg.host, list(self.monitors)):
                seen = self.host_gpus.for_run(msg.host, msg.snapshot, name)
                seen = view_for(seen, self.gpu_map, name)
                own = self.gpu_map is not None and self.gpu_map.gpus_of(name) is not None
                notices = self.monitors[name].apply_gpu(seen, at, own=own)
                await self.notify(name, self.host_gpus.name_hosts(notices))
            if (unused := unused_view(msg.snapshot, self.gpu_map)) is not None:
                await self._say(self.machine.state, self.machine.apply_gpu(unused, at))
        elif (monitor := await self._monitor_of(msg.run)) is None:
            return
        elif isinstance(msg, LogLines):
            if msg.host:
                self.hosts[msg.run] = msg.host
            fold = monitor.catch_up if msg.catch_up else monitor.feed
            fed = fold(msg.lines, msg.wall_s)
            notices = [notice for _, batch in fed for notice in batch]
            # A slowdown read from the log is blamed on a GPU by its number on a hub, too.
            await self.notify(msg.run, self.host_gpus.name_hosts(notices), replayed=msg.replayed)
        elif isinstance(msg, LogWait):
            monitor.waiting(WaitReason(msg.reason) if msg.reason in set(WaitReason) else None)
        else:
            ended = monitor.end(msg.exit_code, msg.wall_s, msg.stopped_by)
            await self.notify(msg.run, self.host_gpus.name_hosts(ended))

    async def rename(self, old: str, new: str) -> str:
        """Call run `old` `new` (or `new-2`... when another run has that name) if nothing was
        said about it yet, its first progress line not read; the name it has now."""
        async with self._folding:
            monitor = self.monitors.get(old)
            if monitor is None or monitor.state.iter is not None or new == old:
                return old
            # A name a run had before is not given again: it may still be on its way.
            new = unique(new, [n for n in self.monitors if n != old] + list(self._renamed))
            # Insertion order is the order /runs lists them in: keep its place.
            self.monitors = _renamed(self.monitors, old, new)
            self.logs = _renamed(self.logs, old, new)
            self.hosts[new] = self.hosts.pop(old, self.host)
            self._job_ends = _renamed(self._job_ends, old, new)
            if self.probes is not None:
                argv = _renamed(dict(self.probes.argv), old, new)
                self.probes = dataclasses.replace(self.probes, argv=argv)
            # A periodic check that read the run's name before its await says it under the
            # new one.
            self._renamed[old] = new
            monitor.rename(new)
            log.info("run %r is now called %r, as its log says", old, new)
            return new

    async def _monitor_of(self, run: str) -> RunMonitor | None:
        """The run's monitor, made when first met; None for a run over `max_runs` (a rogue
        client making up run names must not fill the memory and the outbox): the first
        refusal is an alert."""
        if run in self.monitors:
            return self.monitors[run]
        if self.max_runs is not None and len(self.monitors) >= self.max_runs:
            self.runs_refused += 1
            if self.runs_refused == 1:
                log.error("run %r refused: this hub follows %d runs already", run, self.max_runs)
                evidence = TooManyRunsEvidence(self.max_runs, run)
                alert = Alert(
                    run, AlertType.TOO_MANY_RUNS, Severity.WARNING, None, self.now(), evidence
                )
                await self._say(RunState(run), [alert])
            return None
        self.monitors[run] = self._monitor(RunSpec(run, Path(run)))
        return self.monitors[run]

    async def notify(self, run: str, notices: list[Notice], *, replayed: bool = False) -> None:
        """Show each push on the console and queue it for the chats that want it."""
        run = self._renamed.get(run, run)
        notices = [self._placed(run, n) for n in notices]
        await self._say(self.monitors[run].state, notices, replayed=replayed)

    def _placed(self, run: str, notice: Notice) -> Notice:
        """The end of a run, with the machine it ran on and its log (when followed here):
        with several machines and runs, which one ended."""
        if not isinstance(notice, Alert) or not isinstance(notice.evidence, Placed):
            return notice
        machine = self.hosts.get(run) or self.host or notice.evidence.machine
        log = os.path.abspath(self.logs[run]) if run in self.logs else notice.evidence.log
        evidence = dataclasses.replace(notice.evidence, machine=machine, log=log)
        return dataclasses.replace(notice, evidence=evidence)

    async def _say(self, state: RunState, notices: list[Notice], *, replayed: bool = False) -> None:
        host = self.host_shown(state.name)
        for push in self.notifier.expand(state, notices, replayed=replayed):
            ctx = messages.Ctx(
                lang=self.config.general.language,
                tz=self.timezone,
                now_s=self.now(),
                host=host,
                demo=self.demo,
            )
            self.console.show(state.name, render(push, ctx), self.now())
            self._unqueued.append((state, push, host))
        await self._queue_unqueued()

    async def _queue_unqueued(self) -> None:
        """Queue the pushes said and not queued yet, in order; one that fails stays first
        (the exception goes on to the supervisor, which restarts the caller)."""
        async with self._queueing:
            while self._unqueued:
                state, push, host = self._unqueued[0]
                await self.notifier.deliver(state, push, host=host, log=self.logs.get(state.name))
                self._unqueued.popleft()

    def host_shown(self, run: str) -> str:
        """The machine to name in messages about `run`: past one machine (a hub that heard
        from several), or always when so configured; "" = none."""
        mode = self.config.notify.show_host
        host = self.hosts.get(run) or self.host
        if mode == "never" or not host:
            return ""
        machines = {h for h in self.hosts.values() if h} | set(self.host_gpus.latest)
        return host if mode == "always" or len(machines) > 1 else ""

    async def _tick(self) -> None:
        """The time-based checks of each run."""

        async def check(name: str, monitor: RunMonitor) -> None:
            await self.notify(name, self.host_gpus.name_hosts(monitor.tick(self.now())))

        await self._queue_unqueued()  # those a failure left, when no message comes to send them
        await self.supervisor.each("checks", self.monitors, check, "checks")

    async def _resources(self) -> None:
        """Each run's disk and SLURM job, read off the event loop, then folded in turn."""
        await self.supervisor.each("resources", self.logs, self._resources_of, "disk/job checks")

    async def _resources_of(self, name: str, log_path: Path) -> None:
        probes, monitor = self.probes, self.monitors[name]
        assert probes is not None
        argv = list(probes.argv.get(name, ()))
        log_dir = str(log_path.absolute().parent)
        target = monitor.checkpoint_dir(argv, probes.cwd if argv else log_dir, log_dir)
        usage = await asyncio.to_thread(probes.disk, target)
        end = await self._job_end(name, log_path)
        async with self._folding:
            notices = monitor.apply_disk(usage) if usage is not None else []
            if end is not None:
                notices += monitor.apply_job_end(end, self.now())
            await self.notify(name, notices)

    async def _job_end(self, name: str, log_path: Path) -> float | None:
        """The run's job end, read again every `probes.job_every_s`."""
        probes = self.probes
        assert probes is not None
        read_at, end = self._job_ends.get(name, (-math.inf, None))
        if self.now() - read_at >= probes.job_every_s:
            job_end = probes.job_end or slurm_job_end
            end = await asyncio.to_thread(job_end, set(self.pids), log_path)
            self._job_ends[name] = (self.now(), end)
        return end


def _renamed(entries: dict[str, V], old: str, new: str) -> dict[str, V]:
    """`entries` with key `old` called `new`, in its place."""
    return {(new if k == old else k): v for k, v in entries.items()}


class Consumer:
    """A hub folds what its agents publish. A message that cannot be folded is logged and
    skipped (acknowledged with its batch): one rogue entry must not stop every run. A database
    error is not the message's fault: it stops the consumer, which restarts and reads the
    entry again."""

    def __init__(self, bus: Bus, fold: Fold, supervisor: Supervisor) -> None:
        self.bus, self.fold, self.supervisor = bus, fold, supervisor

    async def start(self) -> None:
        self.supervisor.spawn(("consume", ""), lambda _: self._consume())

    async def stop(self) -> None:
        await self.supervisor.end(("consume", ""))
        await self.bus.aclose()

    async def _consume(self) -> None:
        async for msg in self.bus.messages():
            try:
                await self.fold.fold(msg)
            except sqlite3.Error:
                raise
            except Exception:
                log.exception("a %s message about run %r skipped", type(msg).__name__, msg.run)
                continue
            self.supervisor.works(("consume", ""))
