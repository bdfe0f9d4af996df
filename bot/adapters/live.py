"""The live status message of each chat on Telegram: sent once (pinned when the bot may),
then edited at most every `every_s`; sent again when the user deleted it. The text last
shown is cached so that an unchanged status costs no request."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot import messages
from bot.adapters.telegram import fit
from bot.core.prefs import ChatPrefs

log = logging.getLogger(__name__)

LiveRender = Callable[[int, messages.Ctx], Awaitable[str | None]]


class Chats(Protocol):
    allowed_chat_ids: frozenset[int]

    async def prefs(self, chat_id: int) -> ChatPrefs: ...
    async def save(self, chat_id: int, prefs: ChatPrefs) -> None: ...
    async def ctx(self, chat_id: int, prefs: ChatPrefs | None = None) -> messages.Ctx: ...


class LiveMessages:
    def __init__(self, chats: Chats, now: Callable[[], float], every_s: float) -> None:
        self.chats, self.now, self.every_s = chats, now, every_s
        self._live_at: dict[int, float] = {}
        self._live_text: dict[int, str] = {}

    async def refresh(self, bot: Bot, render_live: LiveRender) -> None:
        """Bring every live message up to date (each at most every `every_s`)."""
        for chat_id in sorted(self.chats.allowed_chat_ids):
            prefs = await self.chats.prefs(chat_id)
            last = self._live_at.get(chat_id, -math.inf)
            if not prefs.live or self.now() - last < self.every_s:
                continue
            try:
                await self.show(bot, chat_id, render_live)
            except TelegramError as exc:  # the next tick tries again
                log.warning("live message for chat %s not updated (%s)", chat_id, exc)

    async def show(
        self, bot: Bot, chat_id: int, render_live: LiveRender, *, fresh: bool = False
    ) -> None:
        """Edit the chat's live message, or send (and pin) a new one; `fresh`: a new one
        in any case (/live again), the old one unpinned."""
        prefs = await self.chats.prefs(chat_id)
        text = await render_live(chat_id, await self.chats.ctx(chat_id, prefs))
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
            if await self._edit(bot, chat_id, prefs.live_message_id, text):
                return
        message = await bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, disable_notification=True
        )
        with contextlib.suppress(TelegramError):  # no right to pin (groups): unpinned is fine
            await bot.pin_chat_message(chat_id, message.message_id, disable_notification=True)
        self._live_text[chat_id] = text
        await self.chats.save(chat_id, prefs.with_(live=True, live_message_id=message.message_id))

    async def _edit(self, bot: Bot, chat_id: int, message_id: int, text: str) -> bool:
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

    async def stop(self, bot: Bot, chat_id: int) -> None:
        prefs = await self.chats.prefs(chat_id)
        if prefs.live_message_id is not None:
            with contextlib.suppress(TelegramError):
                await bot.unpin_chat_message(chat_id, prefs.live_message_id)
        self._live_text.pop(chat_id, None)
        self._live_at.pop(chat_id, None)
        await self.chats.save(chat_id, prefs.with_(live=False, live_message_id=None, live_run=None))
