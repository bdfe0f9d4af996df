"""Delivers the outbox: in order per chat, with back-off and jitter, honouring RetryAfter.

A notification is marked sent only once Telegram accepted it; until then it stays in the
state database and survives restarts and outages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.adapters.store import OutboxItem, Store

log = logging.getLogger(__name__)

IDLE_S = 1.0  # look for due items at least this often
MAX_BACKOFF_S = 300.0

Send = Callable[[OutboxItem], Awaitable[None]]


class OutboxSender:
    """Drains the outbox through `send` (which raises python-telegram-bot's errors)."""

    def __init__(self, store: Store, send: Send, now: Callable[[], float]) -> None:
        self._store = store
        self._send = send
        self._now = now
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: look now rather than at the next idle tick."""
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver forever (until cancelled)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), IDLE_S)
            self._wakeup.clear()
            await self.drain()

    async def drain(self) -> None:
        """Send everything due now, oldest first; stop a chat at its first failure."""
        blocked: set[int] = set()
        for item in await self._store.pending(self._now()):
            if item.chat_id in blocked:
                continue  # keep per-chat order: retry the rest after the back-off
            if not await self._deliver(item):
                blocked.add(item.chat_id)

    async def _deliver(self, item: OutboxItem) -> bool:
        try:
            await self._send(item)
        except RetryAfter as exc:
            await self._store.postpone(item.id, self._now() + _seconds(exc.retry_after))
            return False
        except (Forbidden, BadRequest) as exc:
            log.error("Telegram refused a message to chat %s (%s): dropped", item.chat_id, exc)
        except NetworkError as exc:
            delay = min(MAX_BACKOFF_S, 2.0**item.attempts) * (0.5 + random.random())
            log.warning("Telegram unreachable (%s): retry in %.0f s", exc, delay)
            await self._store.postpone(item.id, self._now() + delay)
            return False
        except TelegramError as exc:
            log.error("Telegram error for chat %s (%s): dropped", item.chat_id, exc)
        await self._store.mark_sent(item.id, self._now())
        return True


def _seconds(value: Any) -> float:
    """RetryAfter.retry_after is an int today and a timedelta in a later PTB."""
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
