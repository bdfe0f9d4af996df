"""The service: wires the followers, the core, the GPU sampler, the outbox and the bot.

One process, one asyncio loop, one APScheduler scheduler (the engine under python-telegram-
bot's JobQueue) for every periodic job, whether or not a bot runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot import messages
from bot.adapters.console import Console
from bot.adapters.redact import install_token_redaction
from bot.adapters.store import OutboxItem, Store
from bot.adapters.tail import LogFollower
from bot.adapters.telegram import build_application, register_commands
from bot.config import Config
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, EvalNotice, Notice
from bot.core.state import RunState

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 10.0
OUTBOX_IDLE_S = 1.0
OFFSET_SAVE_S = 1.0  # at most one offset checkpoint per second per log
END_DRAIN_S = 5.0  # how long the last lines of an exited process may take to be read


class GpuSource(Protocol):
    def sample(self) -> Any: ...


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
    ) -> None:
        self.config = config
        self.runs = runs
        self.monitors = {
            spec.name: RunMonitor(
                spec.name,
                spec.fmt or config.log_format or None,
                spec.total_iters or config.max_iters or None,
            )
            for spec in runs
        }
        self.allowed_chat_ids = frozenset(config.allowed_chat_ids)
        self.gpu = gpu
        self.console = console or Console()
        self.now = now
        self.store: Store | None = None
        self.app: Any = None
        self.latest_gpu: Any = None
        self.followers: dict[str, LogFollower] = {}
        self.pids: set[int] = set()
        self.stop_event = asyncio.Event()
        self._outbox_wakeup = asyncio.Event()
        self._scheduler = AsyncIOScheduler()

    # Backend for the bot handlers ----------------------------------------------------------
    async def ctx_for(self, chat_id: int) -> messages.Ctx:
        prefs = await self.store.load_prefs(chat_id) if self.store else {}
        return messages.Ctx(
            lang=prefs.get("lang", self.config.language),
            tz=prefs.get("tz", self.config.timezone or _local_zone()),
            now_s=self.now(),
        )

    async def set_pref(self, chat_id: int, key: str, value: Any) -> None:
        assert self.store is not None
        prefs = await self.store.load_prefs(chat_id)
        prefs[key] = value
        await self.store.save_prefs(chat_id, prefs)

    def current_run(self, chat_id: int) -> RunState | None:
        """The run a chat looks at: the most recently active one."""
        states = [m.state for m in self.monitors.values()]
        active = [s for s in states if s.last_progress_wall_s is not None]
        if not active:
            return states[0] if states else None
        return max(active, key=lambda s: s.last_progress_wall_s or 0.0)

    def gpu_snapshot(self) -> Any:
        return self.latest_gpu

    # Launched processes --------------------------------------------------------------------
    def set_pid(self, pid: int) -> None:
        """The PID of the training process etagram launched (for its GPU memory)."""
        self.pids.add(pid)

    async def end_run(self, name: str, exit_code: int | None) -> None:
        """The launched process exited: let the follower read its last lines, then say so."""
        spec = next(s for s in self.runs if s.name == name)
        deadline = self.now() + END_DRAIN_S
        while self.now() < deadline:
            pos = self.followers[name].position if name in self.followers else None
            if pos is not None and pos.offset >= _size(spec.path):
                break
            await asyncio.sleep(0.05)
        await self.notify(name, self.monitors[name].end(exit_code, self.now()))

    # Lifecycle -----------------------------------------------------------------------------
    async def serve(self) -> None:
        """Run until `stop()`; then shut down within SHUTDOWN_TIMEOUT_S."""
        self.store = await Store.open(self.config.resolved_state_path())
        tasks = [asyncio.create_task(self._follow(spec), name=spec.name) for spec in self.runs]
        try:
            await self._start_bot()
            self._start_jobs()
            tasks.append(asyncio.create_task(self._send_outbox(), name="outbox"))
            await self.stop_event.wait()
        finally:
            await self._shutdown(tasks)

    def stop(self) -> None:
        self.stop_event.set()

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        for follower in self.followers.values():
            follower.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain_outbox(), timeout=SHUTDOWN_TIMEOUT_S / 2)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_S)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self.app is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stop_bot(), timeout=SHUTDOWN_TIMEOUT_S)
        if self.store is not None:
            await self.store.close()

    async def _start_bot(self) -> None:
        if not self.config.telegram_enabled:
            log.info("no Telegram token: messages go to the console only")
            return
        install_token_redaction(self.config.token)
        app = build_application(self.config.token, self.config.api_base_url, self)
        try:
            await app.initialize()
        except InvalidToken:
            log.error(
                "Telegram rejected the bot token: check ETAGRAM_TELEGRAM_TOKEN; "
                "going on with the console only"
            )
            return
        except NetworkError as exc:
            log.error("cannot reach Telegram (%s): console only until restarted", exc)
            return
        self.app = app
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(drop_pending_updates=False)
        with contextlib.suppress(TelegramError):
            await register_commands(app)
        log.info("Telegram bot @%s started", app.bot.username)

    async def _stop_bot(self) -> None:
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()

    def _start_jobs(self) -> None:
        if self.gpu is not None:
            self._scheduler.add_job(
                self._sample_gpu,
                "interval",
                seconds=self.config.gpu_interval_s,
                max_instances=1,
                coalesce=True,
                next_run_time=_now_dt(),
            )
        self._scheduler.start()

    async def _sample_gpu(self) -> None:
        assert self.gpu is not None
        self.latest_gpu = await asyncio.to_thread(self.gpu.sample)

    # Following -----------------------------------------------------------------------------
    async def _follow(self, spec: RunSpec) -> None:
        """Feed a log's lines to its monitor. Lines a previous etagram already handled (before
        the saved offset) rebuild the state silently; on a first watch of an existing log, the
        catch-up is silent for evals too."""
        assert self.store is not None
        path = str(spec.path.resolve())
        saved = await self.store.load_offset(path)
        silent_until = saved.offset if saved else _size(spec.path)
        follower = LogFollower(spec.path, from_start=True)
        self.followers[spec.name] = follower
        monitor = self.monitors[spec.name]
        last_save = 0.0
        async for batch in follower.lines():
            results = monitor.feed(batch, self.now())
            pos = follower.position
            catching_up = (
                pos is not None
                and pos.offset <= silent_until
                and (saved is None or (pos.device, pos.inode) == (saved.device, saved.inode))
            )
            for _, notices in results:
                await self.notify(spec.name, notices, catching_up=catching_up)
            if pos is not None and self.now() - last_save >= OFFSET_SAVE_S:
                await self.store.save_offset(path, pos)
                last_save = self.now()
        if follower.position is not None:
            await self.store.save_offset(path, follower.position)

    async def notify(self, run: str, notices: list[Notice], *, catching_up: bool = False) -> None:
        """Render each notice for each chat and queue it; alerts even while catching up."""
        for notice in notices:
            if catching_up and not isinstance(notice, Alert):
                continue
            await self._deliver(run, notice)

    async def _deliver(self, run: str, notice: Notice) -> None:
        assert self.store is not None
        kind = "eval" if isinstance(notice, EvalNotice) else "alert"
        ident = notice.iter if isinstance(notice, EvalNotice) else f"{notice.type}:{notice.iter}"
        self.console.show(run, _render(notice, await self._console_ctx()), self.now())
        if self.app is None and not self.config.telegram_enabled:
            return
        for chat_id in sorted(self.allowed_chat_ids):
            text = _render(notice, await self.ctx_for(chat_id))
            silent = kind == "eval" or (isinstance(notice, Alert) and notice.severity == "info")
            key = f"{run}:{kind}:{ident}:{chat_id}"
            await self.store.enqueue(key, chat_id, kind, text, silent=silent, now_s=self.now())
        self._outbox_wakeup.set()

    async def _console_ctx(self) -> messages.Ctx:
        return messages.Ctx(
            lang=self.config.language, tz=self.config.timezone or _local_zone(), now_s=self.now()
        )

    # Outbox --------------------------------------------------------------------------------
    async def _send_outbox(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox_wakeup.wait(), OUTBOX_IDLE_S)
            self._outbox_wakeup.clear()
            if self.app is not None:
                await self._drain_outbox()

    async def _drain_outbox(self) -> None:
        assert self.store is not None
        if self.app is None:
            return
        for item in await self.store.pending(self.now()):
            if not await self._send(item):
                break  # keep per-chat order: retry the rest after the back-off

    async def _send(self, item: OutboxItem) -> bool:
        assert self.store is not None
        try:
            await self.app.bot.send_message(
                item.chat_id, item.text, parse_mode="HTML", disable_notification=item.silent
            )
        except RetryAfter as exc:
            await self.store.postpone(item.id, self.now() + _seconds(exc.retry_after))
            return False
        except Forbidden as exc:
            log.warning("chat %s does not accept messages (%s): dropped", item.chat_id, exc)
        except NetworkError as exc:
            delay = min(300.0, 2.0**item.attempts) * (0.5 + random.random())
            log.warning("Telegram unreachable (%s): retry in %.0f s", exc, delay)
            await self.store.postpone(item.id, self.now() + delay)
            return False
        except TelegramError as exc:
            log.error("Telegram refused a message to chat %s: %s", item.chat_id, exc)
        await self.store.mark_sent(item.id, self.now())
        return True


def _render(notice: Notice, ctx: messages.Ctx) -> str:
    if isinstance(notice, EvalNotice):
        return messages.eval_text(notice, ctx)
    return messages.alert_text(notice, ctx)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _now_dt() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
