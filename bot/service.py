"""The service: wires the followers, the GPU sampler, the bus, the core, the outbox and the bot.

Producers (log followers, the GPU sampler, a launched process) publish what they read; it is
folded into each run's state, one message at a time, and notices become messages. In one
process the producer folds its message itself; an agent publishes to Redis Streams, and the
hub's consumer folds what arrives. Every long-lived task (a follower, the consumer, each
periodic job) is supervised: when it fails it is logged, named by /status and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError

from bot import messages
from bot.adapters.console import Console
from bot.adapters.outbox import DEFAULT_POLICY, OutboxPolicy, OutboxSender
from bot.adapters.plot import plot_data, render_png
from bot.adapters.procs import PROC, gpu_map
from bot.adapters.redact import install_token_redaction
from bot.adapters.store import Store, storable
from bot.adapters.tail import LogFollower, Position
from bot.adapters.telegram import build_application, register_commands, send_text
from bot.bus import Bus, GpuReport, LogLines, Message, ProcessExit
from bot.config import Config
from bot.core.detectors import Thresholds
from bot.core.gpu import GpuSnapshot
from bot.core.gpumap import GpuMap, unused_view, view_for
from bot.core.hosts import HostGpus
from bot.core.linebuf import LineBuffer
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, Evidence, Notice
from bot.core.prefs import ChatPrefs
from bot.core.state import RunState
from bot.messages import bot_ui
from bot.notify import Notifier, render

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 10.0
OFFSET_SAVE_S = 5.0  # per log; a crash reads at most this much again (the outbox keys dedupe)
BACKLOG_CHUNK = 1 << 20
OUTBOX_TEXTS_KEPT_S = 30 * 86400.0  # a delivered message's text is kept this long; its key always
END_DRAIN_S = 5.0  # how long the last lines of an exited process may take to be read
LIVE_TICK_S = 5.0  # how often live messages are looked at (each is edited less often)
MACHINE = ""  # the name under which alerts about GPUs no followed run uses are said
MAX_HUB_RUNS = 64  # runs a hub follows at most; reports about others are ignored
TICK_S = 5.0  # how often the time-based checks (stall, a traceback then silence) run
RESTART_FIRST_S = 1.0  # a failed task (log follower, Redis consumer...) restarts after this,
RESTART_MAX_S = 60.0  # doubling up to this while it keeps failing


class GpuSource(Protocol):
    def sample(self) -> GpuSnapshot: ...


@dataclass(frozen=True)
class RunSpec:
    """A log to follow, under a name."""

    name: str
    path: Path
    fmt: str | None = None
    total_iters: int | None = None


class Service:
    """Follows runs and tells the allowed chats (and the console) what happens."""

    def __init__(
        self,
        config: Config,
        runs: list[RunSpec],
        *,
        gpu: GpuSource | None = None,
        console: Console | None = None,
        now: Callable[[], float] = time.time,
        bus: Bus | None = None,
        role: str = "embedded",
        host: str = "",
        gpu_run: str = "",
        metrics: tuple[str, int] | None = None,
        outbox: OutboxPolicy = DEFAULT_POLICY,
    ) -> None:
        """`role`: "embedded" (one process does all), "agent" (follows and samples, publishes
        to `bus`, tagged with `host`; its GPUs train `gpu_run`, "" = every run) or "hub"
        (consumes `bus`, holds the state and the bot). `metrics`: (address, port) where
        Prometheus metrics are served."""
        self.config = config
        # The config's age limit, unless a caller (a test) passed a policy of its own.
        self.outbox = (
            outbox
            if outbox is not DEFAULT_POLICY
            else dataclasses.replace(outbox, max_age_s=config.outbox_max_age_s)
        )
        # A name from a file name or argument that is not UTF-8 would fail every message.
        self.runs = [dataclasses.replace(s, name=storable(s.name)) for s in runs]
        self.role, self.host, self.gpu_run = role, host, gpu_run
        self.monitors = {} if role == "agent" else {s.name: self._monitor(s) for s in self.runs}
        self.allowed_chat_ids = frozenset(config.allowed_chat_ids)
        self.gpu = gpu
        self.console = console or Console()
        self.now = now
        self.bus = bus  # agents publish to it, a hub consumes it; None: one process does all
        self.store: Store | None = None
        self.sender: OutboxSender | None = None
        self.app: Any = None  # the connected python-telegram-bot Application
        self._connecting: asyncio.Task[None] | None = None
        self._polling_errors: set[str] = set()  # kinds of polling failure already logged
        self.latest_gpu: GpuSnapshot | None = None
        # Which GPUs each run uses, read in /proc (None: not read, e.g. a simulated GPU); the
        # GPUs no run uses have detectors of their own, whose alerts go once to the machine.
        self.proc_root: Path | None = PROC
        self.gpu_map: GpuMap | None = None
        self.machine = self._monitor(RunSpec(MACHINE, Path(MACHINE))).state
        self.host_gpus = HostGpus()
        self.metrics_at = metrics
        self.metrics: Any = None
        self.followers: dict[str, LogFollower] = {}
        self.pids: set[int] = set()
        # The parts that failed and are being restarted, (kind, run): /status names them.
        self.degraded: dict[tuple[str, str], str] = {}
        self.runs_refused = 0  # reports about runs over MAX_HUB_RUNS, ignored
        self.stop_event = asyncio.Event()
        self._folding = asyncio.Lock()  # one message folded at a time, in the order published
        self.timezone = config.timezone or _local_zone()  # read once: it is on every push
        self.notifier = Notifier(
            self.allowed_chat_ids,
            language=config.language,
            timezone=self.timezone,
            now=now,
            milestones_pct=config.milestones_pct,
            critical=frozenset(config.critical_alerts),
            live_every_s=config.live_every_s,
        )

    def _monitor(self, spec: RunSpec) -> RunMonitor:
        fmt = spec.fmt or self.config.log_format or None
        total = spec.total_iters or self.config.max_iters or None
        return RunMonitor(
            spec.name,
            fmt,
            total,
            thresholds=Thresholds.from_config(self.config),
            progress_pattern=self.config.progress_pattern or None,
        )

    # Backend for the bot handlers ----------------------------------------------------------
    async def ctx_for(self, chat_id: int) -> messages.Ctx:
        return await self.notifier.ctx(chat_id)

    async def prefs(self, chat_id: int) -> ChatPrefs:
        return await self.notifier.prefs(chat_id)

    async def save_prefs(self, chat_id: int, prefs: ChatPrefs) -> None:
        await self.notifier.save(chat_id, prefs)

    def run_states(self) -> list[RunState]:
        return [m.state for m in self.monitors.values()]

    async def run_for(self, chat_id: int) -> RunState | None:
        """The run a chat looks at: the one it picked in /runs, else the most recently active."""
        chosen = (await self.prefs(chat_id)).run
        if chosen in self.monitors:
            return self.monitors[chosen].state
        states = self.run_states()
        active = [s for s in states if s.last_progress_wall_s is not None]
        if not active:
            return states[0] if states else None
        return max(active, key=lambda s: s.last_progress_wall_s or 0.0)

    def gpu_snapshot(self) -> GpuSnapshot | None:
        return self.latest_gpu

    async def plot(self, chat_id: int, ctx: messages.Ctx) -> tuple[bytes, str] | None:
        """The /plot picture of the chat's run and its caption; None without data."""
        run = await self.run_for(chat_id)
        if run is None:
            return None
        data = plot_data(run, bot_ui.plot_labels(run, ctx))
        if data.empty:
            return None
        return await render_png(data), bot_ui.plot_caption(run, ctx)

    async def start_live(self, chat_id: int) -> None:
        await self.notifier.show_live(self.app.bot, chat_id, self.live_text, fresh=True)

    async def stop_live(self, chat_id: int) -> None:
        await self.notifier.stop_live(self.app.bot, chat_id)

    async def live_text(self, chat_id: int, ctx: messages.Ctx) -> str | None:
        """The live message of a chat: its run's status, and when it was brought up to date."""
        run = await self.run_for(chat_id)
        return bot_ui.live_text(run, self.latest_gpu, ctx) if run else None

    # Launched processes --------------------------------------------------------------------
    def set_pid(self, pid: int) -> None:
        """The PID of the training process etagram launched (for its GPU memory)."""
        self.pids.add(pid)

    async def end_run(self, name: str, exit_code: int | None) -> None:
        """The launched process exited: let the follower read its last lines, then say so."""
        name = storable(name)
        spec = next(s for s in self.runs if s.name == name)
        deadline = self.now() + END_DRAIN_S
        while self.now() < deadline:
            pos = self.followers[name].position if name in self.followers else None
            if pos is not None and pos.offset >= _size(spec.path):
                break
            await asyncio.sleep(0.05)
        await self.publish(ProcessExit(name, exit_code, self.now()))
        while self.bus is not None and not self.bus.idle():  # in Redis before the caller stops us
            await asyncio.sleep(0.01)

    # Lifecycle -----------------------------------------------------------------------------
    async def serve(self) -> None:
        """Run until `stop()`; then shut down within SHUTDOWN_TIMEOUT_S."""
        self.store = await Store.open(self.config.resolved_state_path(self.role))
        self.notifier.store = self.store
        if forgotten := await self.store.forget_texts(self.now() - OUTBOX_TEXTS_KEPT_S):
            log.info("outbox: dropped the texts of %d delivered messages", forgotten)
        sizes = {spec.name: _size(spec.path) for spec in self.runs}  # the backlog at start-up
        tasks: list[asyncio.Task[None]] = []
        try:
            if self.role != "agent":
                self._serve_metrics()
                await self._start_bot()
            if self.role == "hub":
                consume = self._supervised(("consume", ""), lambda _: self._consume())
                tasks.append(asyncio.create_task(consume, name="consume"))
            tasks += [
                asyncio.create_task(
                    self._supervised(
                        ("follow", spec.name),
                        functools.partial(self._follow, spec, sizes[spec.name]),
                    ),
                    name=spec.name,
                )
                for spec in self.runs
            ]
            tasks += self._jobs()
            if self.sender is not None:
                tasks.append(asyncio.create_task(self.sender.run(), name="outbox"))
            await self.stop_event.wait()
        finally:
            await self._shutdown(tasks)

    def stop(self) -> None:
        self.stop_event.set()

    async def _supervised(
        self, part: tuple[str, str], work: Callable[[bool], Awaitable[None]]
    ) -> None:
        """Run `work` until it returns. When it raises, the error is logged once with its
        cause, the part is shown as failing in /status, and the work starts again after a
        back-off (`work(True)`: a restart); the part clears itself once it works again."""
        delay, again = RESTART_FIRST_S, False
        while True:
            try:
                await work(again)
                return
            except Exception as exc:
                if part not in self.degraded:
                    delay = RESTART_FIRST_S
                    log.exception("%s failed (%s): restarting it", _part_name(part), exc)
                self.degraded[part] = str(exc)
            await asyncio.sleep(delay)
            delay, again = min(2 * delay, RESTART_MAX_S), True

    def _works(self, part: tuple[str, str]) -> None:
        """The part did its work: it is no longer failing."""
        if self.degraded and self.degraded.pop(part, None) is not None:
            log.info("%s works again", _part_name(part))

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        for follower in self.followers.values():
            follower.stop()
        if self._connecting is not None:
            self._connecting.cancel()
        if self.sender is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sender.drain(), timeout=SHUTDOWN_TIMEOUT_S / 2)
        for task in tasks:
            task.cancel()
        if tasks:  # none on an agent for GPUs only
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_S)
        if self.bus is not None:
            await self.bus.aclose()
        if self.metrics is not None:
            self.metrics.close()
        if self.app is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stop_bot(), timeout=SHUTDOWN_TIMEOUT_S)
        if self.store is not None:
            await self.store.close()

    def _serve_metrics(self) -> None:
        if self.metrics_at is None:
            return
        from bot.adapters.metrics import serve_metrics

        addr, port = self.metrics_at
        try:
            self.metrics = serve_metrics(self, port, addr)
        except OSError as exc:
            log.error("cannot serve metrics on %s:%d (%s): going on without", addr, port, exc)
            return
        log.info("Prometheus metrics on http://%s:%d/metrics", addr, self.metrics.port)

    async def _start_bot(self) -> None:
        """The bot, and the outbox sender. Notifications queue in the outbox from the start,
        even while Telegram cannot be reached; a rejected token means console only."""
        if not self.config.telegram_enabled:
            log.info("no Telegram token: messages go to the console only")
            return
        install_token_redaction(self.config.token)
        app = build_application(self.config.token, self.config.api_base_url, self)
        assert self.store is not None
        self.sender = OutboxSender(
            self.store,
            self._send,
            self.now,
            digest=self.notifier.digest,
            late=self.notifier.late,
            probe=self._probe,
            policy=self.outbox,
        )
        self.notifier.sender = self.sender
        try:
            await self._connect(app)
        except TelegramError as exc:
            if _token_rejected(exc):
                log.error(
                    "Telegram rejected the bot token (check ETAGRAM_TELEGRAM_TOKEN): console only"
                )
                self.sender = self.notifier.sender = None
                return
            log.error("cannot reach Telegram (%s): messages wait in the outbox; retrying", exc)
            self._connecting = asyncio.create_task(self._keep_connecting(app), name="connect")

    async def _connect(self, app: Any) -> None:
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(error_callback=self._polling_failed)
        self.app = app
        with contextlib.suppress(TelegramError):
            await register_commands(app)
        log.info("Telegram bot @%s started", app.bot.username)

    async def _keep_connecting(self, app: Any) -> None:
        delay = 5.0
        while self.app is None:
            await asyncio.sleep(delay)
            try:
                await self._connect(app)
            except TelegramError as exc:
                if _token_rejected(exc):
                    log.error("Telegram rejected the bot token: console only")
                    self.sender = self.notifier.sender = None
                    return
                delay = min(300.0, delay * 2)
                log.warning("Telegram still unreachable (%s): next try in %.0f s", exc, delay)
        if self.sender is not None:
            self.sender.reconnected()

    def _polling_failed(self, exc: TelegramError) -> None:
        """python-telegram-bot retries polling itself, logging a traceback each time: one line
        per kind of failure instead."""
        kind = type(exc).__name__
        if kind in self._polling_errors:
            log.debug("polling Telegram failed again (%s)", exc)
            return
        self._polling_errors.add(kind)
        if isinstance(exc, Conflict):
            log.error(
                "another program polls Telegram with this bot's token (409 Conflict): stop it "
                "or give etagram its own bot; retrying meanwhile"
            )
        else:
            log.warning("polling Telegram failed (%s); retrying", exc)

    async def _stop_bot(self) -> None:
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()

    async def _send(self, chat_id: int, text: str, silent: bool) -> None:
        if self.app is None:
            raise NetworkError("not connected to Telegram yet")
        await send_text(self.app.bot, chat_id, text, silent=silent)

    async def _probe(self) -> object:
        if self.app is None:
            raise NetworkError("not connected to Telegram yet")
        return await self.app.bot.get_me()

    def _jobs(self) -> list[asyncio.Task[None]]:
        """The periodic jobs: GPU sampling (at once, then every `gpu_interval_s`), the live
        messages, the time-based checks. Each is a supervised loop timed by the event loop's
        monotonic clock: a scheduler on the wall clock waits a day when the clock is set back
        one."""
        jobs: list[tuple[str, float, float, Callable[[], Awaitable[None]]]] = []
        if self.gpu is not None:
            jobs.append(("gpu", 0.0, self.config.gpu_interval_s, self._sample_gpu))
        if self.sender is not None:
            jobs.append(("live", LIVE_TICK_S, LIVE_TICK_S, self._refresh_live))
        jobs.append(("tick", TICK_S, TICK_S, self._tick))
        return [
            asyncio.create_task(
                self._supervised(
                    (kind, ""), functools.partial(self._every, (kind, ""), first_s, every_s, job)
                ),
                name=kind,
            )
            for kind, first_s, every_s, job in jobs
        ]

    async def _every(
        self,
        part: tuple[str, str],
        first_s: float,
        every_s: float,
        job: Callable[[], Awaitable[None]],
        again: bool,
    ) -> None:
        """`job` after `first_s` (`every_s` when restarted), then every `every_s` after it
        ends."""
        await asyncio.sleep(every_s if again else first_s)
        while True:
            await job()
            self._works(part)
            await asyncio.sleep(every_s)

    async def _refresh_live(self) -> None:
        if self.app is not None:  # not before Telegram was first reached
            await self.notifier.refresh_live(self.app.bot, self.live_text)

    async def _tick(self) -> None:
        """The time-based checks of each run; one that fails does not hold up the others."""
        for name, monitor in list(self.monitors.items()):
            try:
                await self.notify(name, self.host_gpus.name_hosts(monitor.state.tick(self.now())))
            except Exception as exc:
                if ("checks", name) not in self.degraded:
                    log.exception("checks of run %r failed (%s)", name, exc)
                self.degraded["checks", name] = str(exc)
            else:
                self._works(("checks", name))

    # Producers -----------------------------------------------------------------------------
    async def _sample_gpu(self) -> None:
        assert self.gpu is not None
        snapshot = await asyncio.to_thread(self.gpu.sample)
        if self.role == "embedded" and self.proc_root is not None:
            logs = {s.name: s.path for s in self.runs}
            self.gpu_map = await asyncio.to_thread(
                gpu_map, snapshot, logs, set(self.pids), self.proc_root
            )
        await self.publish(GpuReport(self.host, snapshot, self.gpu_run))

    async def _follow(self, spec: RunSpec, size_at_start: int, again: bool = False) -> None:
        """Publish a log's lines: first its backlog, silently, then what is written next;
        `again` (a restart after a failure): from the saved offset, the state already built."""
        assert self.store is not None
        if not again:
            await self._replay_backlog(spec, size_at_start)
        follower = LogFollower(spec.path, store=self.store, checkpoint_every_s=OFFSET_SAVE_S)
        self.followers[spec.name] = follower
        async for batch in follower.lines():
            # Returns once the lines are folded and their notices queued (or, on an agent, in
            # Redis): the follower saves its offset when asked for the next batch, and lines
            # before a saved offset are replayed silently after a restart.
            await self.publish(LogLines(spec.name, tuple(batch), self.now(), host=self.host))
            self._works(("follow", spec.name))

    async def publish(self, msg: Message) -> None:
        """Hand on what a producer read: to the bus on an agent; anywhere else, folded at
        once in the producer's own task. A queue and a consumer task here cost two task
        switches per message, a third of etagram's CPU on a log written 20 times a second."""
        if self.role == "agent":
            assert self.bus is not None
            await self.bus.publish(msg)
            return
        async with self._folding:
            await self.handle(msg)

    async def _replay_backlog(self, spec: RunSpec, size_at_start: int) -> None:
        """Read, as `replayed` lines, what an earlier etagram already handled (up to its saved
        offset) or, on a first watch, what the log already held: they rebuild the run's state
        but cause no eval message. Then save where the follower goes on from."""
        assert self.store is not None
        key = str(spec.path.resolve())
        saved = await self.store.load_offset(key)
        if saved is not None and self.role == "agent":
            return  # the hub holds the state and had these lines: the follower goes on
        try:
            f = spec.path.open("rb")
        except OSError:
            return  # not there yet: the follower waits for it
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
                    msg = LogLines(spec.name, tuple(lines), self.now(), True, self.host, fast)
                    await self.publish(msg)
        await self.store.save_offset(key, Position(st.st_dev, st.st_ino, buf.consumed))

    # Consumer ------------------------------------------------------------------------------
    async def _consume(self) -> None:
        """A hub folds what its agents publish. A message that cannot be folded is logged and
        skipped (acknowledged with its batch): one rogue entry must not stop every run. A
        database error is not the message's fault: it stops the consumer, which restarts and
        reads the entry again."""
        assert self.bus is not None
        async for msg in self.bus.messages():
            async with self._folding:
                try:
                    await self.handle(msg)
                except sqlite3.Error:
                    raise
                except Exception:
                    log.exception("a %s message about run %r skipped", type(msg).__name__, msg.run)
                    continue
            self._works(("consume", ""))

    async def handle(self, msg: Message) -> None:
        """Fold one bus message into the state and say what must be said."""
        if isinstance(msg, GpuReport):
            self.latest_gpu = self.host_gpus.update(msg.host, msg.snapshot, msg.run)
            if msg.run:  # a node with GPUs only may report before the log's node
                await self._monitor_of(msg.run)
            # Our clock, as for log lines: the demo's simulated GPU stamps its own time. An
            # agent's NVML stamps the node's: a restarted hub replays the same timeline.
            at = msg.snapshot.taken_at_s if msg.host else self.now()
            for name in self.host_gpus.runs(msg.host, list(self.monitors)):
                seen = self.host_gpus.for_run(msg.host, msg.snapshot, name)
                seen = view_for(seen, self.gpu_map, name)
                notices = self.monitors[name].state.apply_gpu(seen, at)
                await self.notify(name, self.host_gpus.name_hosts(notices))
            if (unused := unused_view(msg.snapshot, self.gpu_map)) is not None:
                await self._say(self.machine, self.machine.apply_gpu(unused, at))
        elif (monitor := await self._monitor_of(msg.run)) is None:
            return
        elif isinstance(msg, LogLines):
            fold = monitor.catch_up if msg.catch_up else monitor.feed
            fed = fold(msg.lines, msg.wall_s)
            notices = [notice for _, batch in fed for notice in batch]
            # A slowdown read from the log is blamed on a GPU by its number on a hub, too.
            await self.notify(msg.run, self.host_gpus.name_hosts(notices), replayed=msg.replayed)
        else:
            ended = monitor.end(msg.exit_code, msg.wall_s)
            await self.notify(msg.run, self.host_gpus.name_hosts(ended))

    async def _monitor_of(self, run: str) -> RunMonitor | None:
        """A hub meets its runs as their agents report them, MAX_HUB_RUNS at most: a rogue
        client making up run names must not fill its memory and outbox. None for a run
        refused; the first refusal is an alert."""
        if run in self.monitors:
            return self.monitors[run]
        if self.role == "hub" and len(self.monitors) >= MAX_HUB_RUNS:
            self.runs_refused += 1
            if self.runs_refused == 1:
                log.error("run %r refused: this hub follows %d runs already", run, MAX_HUB_RUNS)
                evidence: Evidence = {"max": MAX_HUB_RUNS, "refused": run}
                alert = Alert(run, "too_many_runs", "warning", None, self.now(), evidence)
                await self._say(RunState(run), [alert])
            return None
        self.monitors[run] = self._monitor(RunSpec(run, Path(run)))
        return self.monitors[run]

    async def notify(self, run: str, notices: list[Notice], *, replayed: bool = False) -> None:
        """Show each push on the console and queue it for the chats that want it."""
        await self._say(self.monitors[run].state, notices, replayed=replayed)

    async def _say(self, state: RunState, notices: list[Notice], *, replayed: bool = False) -> None:
        run = state.name
        for push in self.notifier.expand(state, notices, replayed=replayed):
            self.console.show(run, render(push, await self._console_ctx()), self.now())
            await self.notifier.deliver(state, push)

    async def _console_ctx(self) -> messages.Ctx:
        return messages.Ctx(lang=self.config.language, tz=self.timezone, now_s=self.now())


def _token_rejected(exc: TelegramError) -> bool:
    """Telegram itself refused the token (a 401 or 404 it answered; a proxy's page in their
    place is no verdict: down the chain of causes lies the error of parsing it)."""
    cause: BaseException | None = exc
    while isinstance(cause, TelegramError):
        cause = cause.__cause__
    return isinstance(exc, InvalidToken) and cause is None


def _part_name(part: tuple[str, str]) -> str:
    """For the log: "follow train.log", "consume", "gpu", "checks"."""
    return " ".join(filter(None, part))


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _local_zone() -> str:
    """The machine's IANA zone name, from $TZ or /etc/localtime; UTC when unknown."""
    tz = os.environ.get("TZ", "")
    if tz and "/" in tz:
        return tz.lstrip(":")
    with contextlib.suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return "UTC"
