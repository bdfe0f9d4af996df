"""The parts that talk to Telegram: the link (the connected bot), delivery (the outbox sender)
and the front end (the bot's commands, its live messages, connecting and reconnecting).

Notifications queue in the outbox from the start, even while Telegram cannot be reached; a
token Telegram rejects means console only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError

from bot import messages
from bot.adapters.live import LiveMessages
from bot.adapters.outbox import OutboxPolicy, OutboxSender
from bot.adapters.plot import plot_data, render_png
from bot.adapters.process import Launched, StopRequest
from bot.adapters.redact import install_token_redaction
from bot.adapters.store import Store
from bot.adapters.telegram import build_application, register_commands, send_text
from bot.config import Config
from bot.core.backoff import Backoff
from bot.core.confirm import Confirmations
from bot.core.gpumap import GpuMap
from bot.core.state import RunState
from bot.fold import Fold
from bot.messages import bot_ui
from bot.notify import Chats
from bot.parts import SHUTDOWN_TIMEOUT_S, Supervisor

log = logging.getLogger(__name__)

LIVE_TICK_S = 5.0  # how often live messages are looked at (each is edited less often)
RECONNECT = Backoff(5.0, 300.0)  # between tries to reach Telegram at start-up


class Link:
    """The connected python-telegram-bot Application, once Telegram was reached."""

    def __init__(self) -> None:
        self.app: Any = None

    async def send(self, chat_id: int, text: str, silent: bool) -> None:
        await send_text(self._bot(), chat_id, text, silent=silent)

    async def probe(self) -> object:
        return await self._bot().get_me()

    def _bot(self) -> Any:
        if self.app is None:
            raise NetworkError("not connected to Telegram yet")
        return self.app.bot


class Delivery:
    """Sends what the outbox holds, per chat, retrying (see bot/adapters/outbox.py)."""

    def __init__(
        self,
        store: Callable[[], Store],
        chats: Chats,
        now: Callable[[], float],
        policy: OutboxPolicy,
    ) -> None:
        self.store, self.chats, self.link = store, chats, Link()
        self.now, self.policy = now, policy
        self.sender: OutboxSender | None = None
        self.disabled = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.disabled:
            return
        self.sender = OutboxSender(
            self.store(),
            self.link.send,
            self.now,
            digest=self.chats.digest,
            late=self.chats.late,
            probe=self.link.probe,
            policy=self.policy,
        )
        self._task = asyncio.create_task(self.sender.run(), name="outbox")

    def disable(self) -> None:
        """Telegram rejected the token: nothing is queued any more."""
        self.disabled = True
        self.sender = None
        if self._task is not None:
            self._task.cancel()

    def reconnected(self) -> None:
        if self.sender is not None:
            self.sender.reconnected()

    async def stop(self) -> None:
        if self.sender is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sender.drain(), timeout=SHUTDOWN_TIMEOUT_S / 2)
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=SHUTDOWN_TIMEOUT_S)


class TelegramFront:
    """The bot: its commands (the backend of bot/adapters/telegram.py) and live messages."""

    def __init__(
        self,
        config: Config,
        fold: Fold,
        delivery: Delivery,
        supervisor: Supervisor,
        *,
        launched: Launched | None = None,
        reconnect: Backoff = RECONNECT,
    ) -> None:
        chats = delivery.chats
        self.config, self.fold, self.chats = config, fold, chats
        self.reconnect = reconnect
        self.live = LiveMessages(chats, fold.now, config.notify.live_every_s)
        self.link, self.delivery, self.supervisor = delivery.link, delivery, supervisor
        self.now, self.pids = fold.now, fold.pids
        self.degraded = supervisor.degraded  # parts failing and restarting, for /status
        self.allowed_chat_ids = chats.allowed_chat_ids
        self.stop_grace_s = config.run.stop_grace_s
        self._connecting: asyncio.Task[None] | None = None
        self._polling_errors: set[str] = set()  # kinds of polling failure already logged
        self.launched = launched  # what /stop can stop; None on a hub
        self.stops = Confirmations()  # /stop's questions awaiting a press
        self._timers: set[asyncio.Task[None]] = set()
        # What the handlers read, from the parts that hold it.
        self.ctx_for, self.prefs, self.save_prefs = chats.ctx, chats.prefs, chats.save
        self.run_states, self.gpu_snapshot = fold.run_states, fold.gpu_snapshot
        self.host_shown = fold.host_shown

    @property
    def app(self) -> Any:
        return self.link.app

    async def start(self) -> None:
        install_token_redaction(self.config.telegram.token)
        app = build_application(self.config.telegram.token, self.config.telegram.api_base_url, self)
        try:
            await self._connect(app)
        except TelegramError as exc:
            if self._rejected(exc):
                return
            log.error("cannot reach Telegram (%s): messages wait in the outbox; retrying", exc)
            self._connecting = asyncio.create_task(self._keep_connecting(app), name="connect")
        self.supervisor.every(("live", ""), LIVE_TICK_S, LIVE_TICK_S, self._refresh_live)

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        await self.supervisor.end(("live", ""))
        for timer in list(self._timers):
            timer.cancel()
        if self.app is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stop_bot(), timeout=SHUTDOWN_TIMEOUT_S)

    # Backend for the bot handlers ----------------------------------------------------------
    @property
    def gpu_map(self) -> GpuMap | None:
        """Which GPUs each run uses (None: not read)."""
        return self.fold.gpu_map

    async def run_for(self, chat_id: int) -> RunState | None:
        """The run a chat looks at: the one it picked in /runs, else the most recently active."""
        chosen = (await self.prefs(chat_id)).run
        if chosen in self.fold.monitors:
            return self.fold.monitors[chosen].state
        states = self.run_states()
        active = [s for s in states if s.last_progress_wall_s is not None]
        if not active:
            return states[0] if states else None
        return max(active, key=lambda s: s.last_progress_wall_s or 0.0)

    async def plot(self, run: RunState, ctx: messages.Ctx) -> tuple[bytes, str] | None:
        """The /plot picture of `run` and its caption; None without data."""
        data = plot_data(run, bot_ui.plot_labels(run, ctx))
        if data.empty:
            return None
        return await render_png(data), bot_ui.plot_caption(run, ctx)

    async def start_live(self, chat_id: int, run: str | None = None) -> None:
        prefs = await self.prefs(chat_id)
        await self.save_prefs(chat_id, prefs.with_(live_run=run))
        await self.live.show(self.app.bot, chat_id, self.live_text, fresh=True)

    async def stop_live(self, chat_id: int) -> None:
        await self.live.stop(self.app.bot, chat_id)

    async def live_text(self, chat_id: int, ctx: messages.Ctx) -> str | None:
        """The live message of a chat: the status of the run it was asked for (else the
        chat's run), and when it was brought up to date."""
        pinned = (await self.prefs(chat_id)).live_run
        if pinned in self.fold.monitors:
            run: RunState | None = self.fold.monitors[pinned].state
        else:
            run = await self.run_for(chat_id)
        if run is None:
            return None
        ctx = dataclasses.replace(ctx, host=self.host_shown(run.name))
        return bot_ui.live_text(run, self.fold.latest_gpu, ctx)

    def stop_status(self, run: str) -> str:
        """What /stop can do for `run`: `running`, `stopping`, `ended`, `not_launched`, or
        `remote` (a hub: its runs were launched on other machines)."""
        return self.launched.status(run) if self.launched is not None else "remote"

    def stop_under_way(self, run: str) -> tuple[str, str]:
        """The last signal a stop under way sent to `run`, and who asked for it."""
        assert self.launched is not None
        first = self.launched.first_name(run)
        sent = self.launched.sent.get(first)
        return (sent.name if sent else "?"), self.launched.requests[first].by

    def stop_run(self, run: str, by: str, user_id: int, chat_id: int) -> bool:
        """Start stopping `run`; False when it is not running or is being stopped already."""
        if self.launched is None:
            return False
        return self.launched.stop(run, StopRequest(by, user_id, chat_id))

    def later(self, delay_s: float, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `job` in `delay_s` (the loop's clock), unless the front end stops first."""

        async def timer() -> None:
            await asyncio.sleep(delay_s)
            try:
                await job()
            except Exception:  # a task's error would otherwise surface only at exit
                log.exception("a timed job of the Telegram front end failed")

        task = asyncio.create_task(timer(), name="timer")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    # Connecting ----------------------------------------------------------------------------
    async def _connect(self, app: Any) -> None:
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(error_callback=self._polling_failed)
        self.link.app = app
        with contextlib.suppress(TelegramError):
            await register_commands(app)
        log.info("Telegram bot @%s started", app.bot.username)

    async def _keep_connecting(self, app: Any) -> None:
        failures = 1
        while self.app is None:
            await asyncio.sleep(self.reconnect.delay_s(failures))
            try:
                await self._connect(app)
            except TelegramError as exc:
                if self._rejected(exc):
                    return
                failures += 1
                delay = self.reconnect.delay_s(failures)
                log.warning("Telegram still unreachable (%s): next try in %.0f s", exc, delay)
        self.delivery.reconnected()

    def _rejected(self, exc: TelegramError) -> bool:
        """Whether Telegram itself refused the token (a 401 or 404 it answered; a proxy's page
        in their place is no verdict: down the chain of causes lies the error of parsing it).
        Then nothing is sent any more: the console only."""
        cause: BaseException | None = exc
        while isinstance(cause, TelegramError):
            cause = cause.__cause__
        if not isinstance(exc, InvalidToken) or cause is not None:
            return False
        log.error("Telegram rejected the bot token (check ETAGRAM_TELEGRAM_TOKEN): console only")
        self.delivery.disable()
        return True

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

    async def _refresh_live(self) -> None:
        if self.app is not None:  # not before Telegram was first reached
            await self.live.refresh(self.app.bot, self.live_text)
