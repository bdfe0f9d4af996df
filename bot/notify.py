"""The push policy: which chat gets which notice, in which words, how loudly; and the live
status message each chat may keep.

- Evals follow the chat's `/evals` setting; progress milestones (config `milestones_pct`)
  and the run's start are derived here from the run's state as its notices flow (the core
  only reports what the log says); the `finished` alert gets the run's totals added.
- A muted chat gets only critical alerts (`critical`: OOM, crash, NaN, lost GPU by
  default); an unsubscribed chat gets nothing. Routine pushes are silent, alerts loud.
- Every push is rendered per chat and written to the outbox with an idempotency key; the
  outbox sender delivers it.
- The live message is sent once (pinned when the bot may), then edited at most every
  `live_every_s`; when the user deleted it, a new one is sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot import messages
from bot.adapters.outbox import OutboxSender
from bot.adapters.store import Store
from bot.adapters.telegram import fit
from bot.config import Config
from bot.core.estimator import EtaEstimate
from bot.core.launches import NEW
from bot.core.notices import Alert, EvalNotice, Notice
from bot.core.prefs import ChatPrefs
from bot.core.state import RunState
from bot.messages.bot_ui import milestone_text

log = logging.getLogger(__name__)

DEFAULT_CRITICAL = frozenset({"oom", "crash", "nan", "gpu_lost"})
LIVE_EVERY_S = Config.live_every_s


@dataclass(frozen=True, slots=True)
class Milestone:
    """The run went past `pct` % of its iterations."""

    run: str
    pct: int
    iter: int
    total: int
    eta: EtaEstimate
    finish_at_s: float | None


Push = Notice | Milestone
LiveRender = Callable[[int, messages.Ctx], Awaitable[str | None]]


@dataclass
class _RunMemory:
    milestones: set[int] = dataclasses.field(default_factory=set)
    launch: int = 0  # the launch the milestones were passed in: a new one passes them again


class Notifier:
    """Chat preferences, the push policy, and the live messages."""

    def __init__(
        self,
        allowed_chat_ids: Iterable[int],
        *,
        language: str,
        timezone: str,
        now: Callable[[], float],
        milestones_pct: Iterable[int] = (25, 50, 75),
        critical: frozenset[str] = DEFAULT_CRITICAL,
        live_every_s: float = LIVE_EVERY_S,
    ) -> None:
        self.allowed_chat_ids = frozenset(allowed_chat_ids)
        self.language = language
        self.timezone = timezone
        self.now = now
        self.milestones_pct = sorted(set(milestones_pct))
        self.critical = critical
        self.live_every_s = live_every_s
        self.store: Store | None = None
        self.sender: OutboxSender | None = None
        self._prefs: dict[int, ChatPrefs] = {}
        self._runs: dict[str, _RunMemory] = {}
        self._live_at: dict[int, float] = {}
        self._live_text: dict[int, str] = {}

    # Preferences --------------------------------------------------------------------------
    async def prefs(self, chat_id: int) -> ChatPrefs:
        if chat_id not in self.allowed_chat_ids:
            return ChatPrefs()  # strangers have none, and must not fill the cache
        if chat_id not in self._prefs:
            stored = await self.store.load_prefs(chat_id) if self.store else {}
            self._prefs[chat_id] = ChatPrefs.from_dict(stored)
        return self._prefs[chat_id]

    async def save(self, chat_id: int, prefs: ChatPrefs) -> None:
        if chat_id not in self.allowed_chat_ids:
            raise ValueError(f"chat {chat_id} is not allowed")
        self._prefs[chat_id] = prefs
        if self.store is not None:
            await self.store.save_prefs(chat_id, prefs.to_dict())

    async def ctx(self, chat_id: int, prefs: ChatPrefs | None = None) -> messages.Ctx:
        if prefs is None:
            prefs = await self.prefs(chat_id)
        return messages.Ctx(
            lang=prefs.lang or self.language, tz=prefs.tz or self.timezone, now_s=self.now()
        )

    # Notices ------------------------------------------------------------------------------
    def expand(self, state: RunState, notices: list[Notice], *, replayed: bool) -> list[Push]:
        """The core's notices and the progress milestones derived from the state. A replayed
        backlog (lines handled before a restart, or a log that was already long when first
        followed) rebuilds the state quietly: only its warnings and critical alerts go out."""
        memory = self._runs.setdefault(state.name, _RunMemory())
        milestone = self._milestone(state, memory)
        if replayed:
            return [n for n in notices if isinstance(n, Alert) and n.severity != "info"]
        return [milestone, *notices] if milestone is not None else list(notices)

    def _milestone(self, state: RunState, memory: _RunMemory) -> Milestone | None:
        total, it = state.total_iters, state.iter
        if not total or it is None or state.ended is not None:
            return None
        if memory.launch != state.launch_book.count:
            memory.launch = state.launch_book.count
            if state.launch is not None and state.launch.kind == NEW:
                memory.milestones = set()  # a resume goes on; a new launch passes them again
        passed = [p for p in self.milestones_pct if 100 * it >= p * total]
        new = [p for p in passed if p not in memory.milestones]
        memory.milestones.update(passed)
        if not new:
            return None
        eta = state.eta()  # only now: this runs for every batch of lines
        finish = state.finish_at(eta, self.now())
        return Milestone(state.name, max(new), it, total, eta, finish)  # one message, not a flood

    def wants(self, prefs: ChatPrefs, state: RunState, push: Push) -> bool:
        """Whether a chat with these preferences gets this push now."""
        if not prefs.subscribed:
            return False
        if isinstance(push, Alert) and push.type in self.critical:
            return True
        if prefs.muted(self.now()):
            return False
        if isinstance(push, EvalNotice):
            val, previous = push.val_loss, push.previous_best
            new_best = (
                val is not None and math.isfinite(val) and (previous is None or val < previous)
            )
            return prefs.evals.wants(_ordinal(state, push.iter), new_best)
        return True

    async def deliver(self, state: RunState, push: Push) -> None:
        """Render the push for each chat that wants it and queue it in the outbox."""
        if self.store is None or self.sender is None:
            return
        kind, ident = _identity(push)
        for chat_id in sorted(self.allowed_chat_ids):
            prefs = await self.prefs(chat_id)
            if not self.wants(prefs, state, push):
                continue
            text = render(push, await self.ctx(chat_id, prefs))
            key = f"{state.name}:{kind}:{ident}:{chat_id}"
            payload = encode_eval(push) if isinstance(push, EvalNotice) else None
            await self.store.enqueue(
                key, chat_id, kind, text, silent=is_silent(push), now_s=self.now(), payload=payload
            )
        self.sender.wake()

    async def digest(self, chat_id: int, payloads: list[str]) -> str:
        """Evals that waited in the outbox for this chat, folded into one message."""
        notices = [decode_eval(p) for p in payloads]
        return messages.digest_text(notices, await self.ctx(chat_id))

    async def late(self, chat_id: int, text: str, written_s: float) -> str:
        """A message going out late, with when it was written (its figures are from then)."""
        return messages.late_text(text, written_s, await self.ctx(chat_id))

    # Live status message ------------------------------------------------------------------
    async def refresh_live(self, bot: Bot, render_live: LiveRender) -> None:
        """Bring every live message up to date (each at most every `live_every_s`)."""
        for chat_id in sorted(self.allowed_chat_ids):
            prefs = await self.prefs(chat_id)
            last = self._live_at.get(chat_id, -math.inf)
            if not prefs.live or self.now() - last < self.live_every_s:
                continue
            try:
                await self.show_live(bot, chat_id, render_live)
            except TelegramError as exc:  # the next tick tries again
                log.warning("live message for chat %s not updated (%s)", chat_id, exc)

    async def show_live(
        self, bot: Bot, chat_id: int, render_live: LiveRender, *, fresh: bool = False
    ) -> None:
        """Edit the chat's live message, or send (and pin) a new one; `fresh`: a new one
        in any case (/live again), the old one unpinned."""
        prefs = await self.prefs(chat_id)
        text = await render_live(chat_id, await self.ctx(chat_id, prefs))
        if text is None:
            return
        text = fit(text)
        self._live_at[chat_id] = self.now()
        if fresh and prefs.live_message_id is not None:
            with contextlib.suppress(TelegramError):
                await bot.unpin_chat_message(chat_id, prefs.live_message_id)
        elif prefs.live and prefs.live_message_id is not None:
            if text == self._live_text.get(chat_id):
                return
            if await self._edit_live(bot, chat_id, prefs.live_message_id, text):
                return
        message = await bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, disable_notification=True
        )
        with contextlib.suppress(TelegramError):  # no right to pin (groups): unpinned is fine
            await bot.pin_chat_message(chat_id, message.message_id, disable_notification=True)
        self._live_text[chat_id] = text
        await self.save(chat_id, prefs.with_(live=True, live_message_id=message.message_id))

    async def _edit_live(self, bot: Bot, chat_id: int, message_id: int, text: str) -> bool:
        """True when the message shows `text`; False when it is gone and must be sent again."""
        try:
            await bot.edit_message_text(text, chat_id, message_id, parse_mode=ParseMode.HTML)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.info(
                    "live message %s of chat %s is gone (%s): new one", message_id, chat_id, exc
                )
                return False
        self._live_text[chat_id] = text
        return True

    async def stop_live(self, bot: Bot, chat_id: int) -> None:
        prefs = await self.prefs(chat_id)
        if prefs.live_message_id is not None:
            with contextlib.suppress(TelegramError):
                await bot.unpin_chat_message(chat_id, prefs.live_message_id)
        self._live_text.pop(chat_id, None)
        self._live_at.pop(chat_id, None)
        await self.save(chat_id, prefs.with_(live=False, live_message_id=None))


def render(push: Push, ctx: messages.Ctx) -> str:
    """A push in the chat's words."""
    if isinstance(push, EvalNotice):
        return messages.eval_text(push, ctx)
    if isinstance(push, Milestone):
        return milestone_text(
            push.run, push.pct, push.iter, push.total, push.eta, push.finish_at_s, ctx
        )
    return messages.alert_text(push, ctx)


def encode_eval(notice: EvalNotice) -> str:
    """An eval notice as JSON, kept in the outbox so that waiting evals can be folded."""
    return json.dumps(dataclasses.asdict(notice))


def decode_eval(payload: str) -> EvalNotice:
    data = json.loads(payload)
    eta = data.pop("eta")
    eta["missing"] = tuple(eta.get("missing", ()))
    return EvalNotice(**data, eta=EtaEstimate(**eta))


def is_silent(push: Push) -> bool:
    """Routine pushes make no sound; alerts do."""
    return not isinstance(push, Alert) or push.severity == "info"


def _identity(push: Push) -> tuple[str, str]:
    """(kind, what makes it unique in its run): the outbox key sends it once."""
    if isinstance(push, EvalNotice):
        return "eval", str(push.iter)
    if isinstance(push, Milestone):
        return "milestone", str(push.pct)
    if push.type == "started":  # once per run; the iteration it is noticed at varies with
        return "alert", "started"  # how the lines were batched (a restart re-reads them)
    return "alert", f"{push.type}:{push.iter}"


def _ordinal(state: RunState, it: int | None) -> int:
    """1-based rank of the eval at iteration `it` among the run's evals (pushes are made
    right after their eval, so it is among the recent ones, which are all kept)."""
    kept = len(state.evals)
    for back in range(kept):
        if state.evals[kept - 1 - back].iter == it:
            return state.eval_count - back
    return state.eval_count
