"""The chats and what is queued for them: each allowed chat's preferences (cached, stored)
and words (language, time zone); each push of the policy (bot/core/policy.py) rendered per
chat and written to the outbox with an idempotency key, which the outbox sender delivers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from bot import messages
from bot.adapters.outbox import OutboxSender
from bot.adapters.store import Store
from bot.core.estimator import EtaEstimate
from bot.core.notices import EvalNotice, Notice
from bot.core.policy import Milestone, Push, PushPolicy, identity, is_silent
from bot.core.prefs import ChatPrefs
from bot.core.state import RunState
from bot.messages.bot_ui import milestone_text

StoreOf = Callable[[], Store | None]  # the state database once open


class Chats:
    """The allowed chats' preferences and words; strangers have none."""

    def __init__(
        self,
        allowed_chat_ids: Iterable[int],
        *,
        language: str,
        timezone: str,
        now: Callable[[], float],
        store: StoreOf,
        demo: bool = False,
    ) -> None:
        """`demo`: `now` is `etagram demo`'s accelerated clock, which the messages' times say."""
        self.allowed_chat_ids = frozenset(allowed_chat_ids)
        self.demo = demo
        self.language, self.timezone, self.now, self.store = language, timezone, now, store
        self._prefs: dict[int, ChatPrefs] = {}

    async def prefs(self, chat_id: int) -> ChatPrefs:
        if chat_id not in self.allowed_chat_ids:
            return ChatPrefs()  # strangers have none, and must not fill the cache
        if chat_id not in self._prefs:
            store = self.store()
            self._prefs[chat_id] = ChatPrefs.from_dict(
                await store.load_prefs(chat_id) if store else {}
            )
        return self._prefs[chat_id]

    async def save(self, chat_id: int, prefs: ChatPrefs) -> None:
        if chat_id not in self.allowed_chat_ids:
            raise ValueError(f"chat {chat_id} is not allowed")
        self._prefs[chat_id] = prefs
        if (store := self.store()) is not None:
            await store.save_prefs(chat_id, prefs.to_dict())

    async def ctx(self, chat_id: int, prefs: ChatPrefs | None = None) -> messages.Ctx:
        if prefs is None:
            prefs = await self.prefs(chat_id)
        return messages.Ctx(
            lang=prefs.lang or self.language,
            tz=prefs.tz or self.timezone,
            now_s=self.now(),
            demo=self.demo,
        )

    async def digest(self, chat_id: int, payloads: list[str]) -> str:
        """Evals that waited in the outbox for this chat, folded into one message."""
        notices = [decode_eval(p) for p in payloads]
        return messages.digest_text(notices, await self.ctx(chat_id))

    async def late(self, chat_id: int, text: str, written_s: float) -> str:
        """A message going out late, with when it was written (its figures are from then)."""
        return messages.late_text(text, written_s, await self.ctx(chat_id))


class Notifier:
    """Applies the push policy for every allowed chat and queues what each gets."""

    def __init__(
        self,
        policy: PushPolicy,
        chats: Chats,
        *,
        now: Callable[[], float],
        outbox: Callable[[], OutboxSender | None] = lambda: None,
    ) -> None:
        """`outbox`: the sender to wake once a push is queued; None: console only."""
        self.policy, self.chats, self.now, self._outbox = policy, chats, now, outbox

    def expand(self, state: RunState, notices: list[Notice], *, replayed: bool) -> list[Push]:
        return self.policy.expand(state, notices, replayed=replayed, now_s=self.now())

    async def deliver(
        self, state: RunState, push: Push, *, host: str = "", log: Path | None = None
    ) -> None:
        """Render the push for each chat that wants it and queue it in the outbox; `host`:
        the machine to name in it ("" = none); `log`: the run's log, when followed here."""
        store, sender = self.chats.store(), self._outbox()
        if store is None or sender is None:
            return
        kind, ident = identity(push)
        # The log file in the key: tomorrow's `etagram run` of the same command (same name, a
        # new log) says "started" and "finished" again; the same file read again does not.
        of_log = await _file_id(log)
        for chat_id in sorted(self.chats.allowed_chat_ids):
            prefs = await self.chats.prefs(chat_id)
            if not self.policy.wants(prefs, state, push, self.now()):
                continue
            ctx = dataclasses.replace(await self.chats.ctx(chat_id, prefs), host=host)
            text = render(push, ctx)
            key = f"{state.name}:{kind}:{ident}:{chat_id}"
            payload = encode_eval(push) if isinstance(push, EvalNotice) else None
            await store.enqueue(
                key + of_log,
                chat_id,
                kind,
                text,
                silent=is_silent(push),
                now_s=self.now(),
                payload=payload,
                adopt=key if of_log else None,  # a row an earlier version keyed without it
            )
        sender.wake()


async def _file_id(path: Path | None) -> str:
    """`@device:inode` of the file at `path`; "" when there is none (not yet, or a hub's run,
    whose log is on its agent's machine)."""
    if path is None:
        return ""
    try:
        st = await asyncio.to_thread(os.stat, path)
    except OSError:
        return ""
    return f"@{st.st_dev}:{st.st_ino}"


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
