"""Delivers the outbox: per chat, alerts first, with back-off and jitter, honouring RetryAfter.

A notification is settled only once Telegram accepted it (or refused it for good); until then
it stays in the state database and survives restarts and outages. The rules:

- Per chat, alerts go out first, then the rest, each in the order queued; a chat stops at
  its first failure and is tried again after an exponential back-off with jitter (or
  Telegram's `retry_after`, at most the longest back-off: one 429 must not silence a chat
  for a day). Other chats are not held up.
- Evals fold: when more than one eval waits for a chat that Telegram failed to reach (its
  queue holds a row already tried), they go out as one digest (`bot.messages.digest_text`,
  "5 evals while Telegram was unreachable: ...") placed where the newest of them stood;
  every folded row is settled as `digest`. Alerts are always sent one by one.
- A routine row (eval, milestone) older than `max_age_s` is no longer news: it is settled as
  `expired` with a log line. An alert is delivered whatever its age (a log line says late).
  Once read, a row's age counts on the monotonic clock: a wall clock stepped ahead a day
  must not make the news queued meanwhile a day old.
- Only a well-formed refusal from Telegram settles a row as `refused`: a 400 (tried once
  more as plain text first), a 403 (blocked by the user), a chat gone. A reply that cannot be
  parsed (a proxy's or captive portal's HTML page, a 200 that is not JSON) says nothing about
  the message: it is retried like a network error.
- A message that goes out more than `LATE_NOTE_S` after it was written says so (`late`,
  `bot.messages.late_text`: "Sent 40 min late (written at 2:30 AM)"): its figures are from
  then. A digest says it waited already.

What "sent once" can and cannot mean (Telegram has no idempotency key):

- When Telegram answered with an error (5xx, 429) or the connection was never made, the
  message was not delivered: retrying cannot duplicate it.
- When the request went out and no answer came back (read timeout, connection closed), it
  may have been delivered (a "lost reply"). The row is marked `uncertain`. An uncertain eval
  is never sent again as the same message: it goes out inside a digest ("1 eval while
  Telegram was unreachable: ..."), so the user sees at worst a recap line, not a copy, and
  nothing is lost when it had not arrived. An uncertain alert or milestone is sent again:
  an OOM alert shown twice is better than none. Before anything uncertain is sent again,
  a cheap call (`probe`, getMe) must succeed: while replies keep getting lost, nothing is
  re-sent. An uncertain message is sent again once: when that reply is lost too (Telegram
  slow to answer sends while getMe is fast), it is settled as `unconfirmed`, so it is shown
  at most twice, not once per retry. That second copy, and a long text split in parts whose
  first part arrived, are the residual risks.
- A row is marked in flight before its send: if etagram is killed before it learns the
  outcome, the row is uncertain at the next start and follows the rule above.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import logging
import math
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.adapters.store import OutboxItem, Store
from bot.adapters.telegram import retry_after_s
from bot.core.backoff import Backoff
from bot.messages.markup import to_plain

log = logging.getLogger(__name__)

IDLE_S = 1.0  # the shortest sleep between delivery rounds while rows wait
QUIET_S = 60.0  # with nothing waiting, look anyway this often (a safety net, not a tick)
BACKOFF = Backoff(2.0, 300.0)  # per chat, with jitter; the cap bounds a RetryAfter too
MAX_AGE_S = 6 * 3600.0  # an eval older than this is not news any more
ROUTINE = frozenset({"eval", "milestone"})
LATE_NOTE_S = 60.0  # later than this, a message says when it was written

Send = Callable[[int, str, bool], Awaitable[None]]  # chat id, Telegram HTML, silent
Digest = Callable[[int, list[str]], Awaitable[str]]  # chat id, eval payloads -> text
Late = Callable[[int, str, float], Awaitable[str]]  # chat id, text, written at -> text
Probe = Callable[[], Awaitable[object]]  # any call that succeeds only if Telegram answers
# Connection errors raised before a byte of the request left: it cannot have been delivered.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """How long to wait, how long routine news stays news (tests shorten them)."""

    max_age_s: float = MAX_AGE_S
    backoff: Backoff = BACKOFF
    idle_s: float = IDLE_S


DEFAULT_POLICY = OutboxPolicy()


@dataclass(frozen=True, slots=True)
class _Unit:
    """One message to send: a row, or the evals folded into a digest."""

    items: tuple[OutboxItem, ...]
    text: str
    silent: bool
    digest: bool


class OutboxSender:
    """Drains the outbox through `send` (which raises python-telegram-bot's errors); `digest`
    renders folded evals (None: no folding); `late` adds when a late message was written."""

    def __init__(
        self,
        store: Store,
        send: Send,
        now: Callable[[], float],
        *,
        digest: Digest | None = None,
        late: Late | None = None,
        probe: Probe | None = None,
        policy: OutboxPolicy = DEFAULT_POLICY,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`now`: the wall clock (when a message was written, how old it is); `clock`: the
        back-offs' (monotonic: a wall clock set back a day must not hold them up a day)."""
        self._store = store
        self._send = send
        self._now = now
        self._clock = clock
        self._digest = digest
        self._late = late
        self._probe = probe
        self.policy = policy
        self._jitter = jitter
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()  # one drain at a time: the loop's and the shutdown's
        self._failures: dict[int, int] = {}  # chat -> failed attempts in a row
        self._not_before: dict[int, float] = {}  # chat -> when to try again
        # Rows Telegram accepted whose outcome the database did not take (disk full): never
        # sent again by this process, saved as soon as it can.
        self._unsaved: dict[int, tuple[str, float]] = {}  # row id -> (outcome, when)
        self._last_read: float | None = None  # `clock` when the waiting rows were last read
        self._written: dict[int, float] = {}  # waiting row -> when it was written, on `clock`

    def wake(self) -> None:
        """Something was queued: look now rather than at the next idle tick."""
        self._wakeup.set()

    def reconnected(self) -> None:
        """Telegram answers again (the bot just connected): the back-offs earned while it
        could not be reached no longer apply; deliver now."""
        self._failures.clear()
        self._not_before.clear()
        self._wakeup.set()

    async def run(self) -> None:
        """Deliver forever (until cancelled). Between rounds it sleeps until something is
        queued or a back-off ends, not on a fixed tick: an idle outbox costs nothing."""
        delay = self.policy.idle_s
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                due = await self.drain()
            except Exception:  # a bug or a database error: log it, keep the loop alive
                log.exception("outbox: delivery round failed; trying again")
                due = self._clock() + self.policy.idle_s
            delay = QUIET_S if due is None else max(self.policy.idle_s, due - self._clock())

    async def drain(self) -> float | None:
        """Send everything due now, per chat in order; a chat stops at its first failure.
        Returns when rows left waiting are next due, on `clock` (None when nothing waits)."""
        async with self._lock:
            await self._save_outcomes()
            queues: dict[int, list[OutboxItem]] = {}
            read_at = self._clock()
            pending = await self._store.pending()
            self._note_written(pending, read_at)
            for item in pending:
                if item.id not in self._unsaved:
                    queues.setdefault(item.chat_id, []).append(item)
            for chat_id, items in queues.items():
                if self._not_before.get(chat_id, -math.inf) <= self._clock():
                    await self._drain_chat(chat_id, items)
            pending = await self._store.pending() if queues else []
            left = {item.chat_id for item in pending if item.id not in self._unsaved}
            if not left:
                return None
            return min(self._not_before.get(chat_id, self._clock()) for chat_id in left)

    def _note_written(self, items: list[OutboxItem], read_at: float) -> None:
        """Note when each waiting row was written, on `clock`. A row not seen at the last read
        was queued since: its age is at most the time since then, whatever the wall clock
        says (stepped a day ahead meanwhile, it would make fresh news a day old); a row from
        before this process has its wall-clock age. Rows settled since are forgotten."""
        since_last = math.inf if self._last_read is None else read_at - self._last_read
        now, known = self._now(), self._written
        self._written = {
            i.id: known.get(i.id, read_at - min(max(0.0, now - i.created_s), since_last))
            for i in items
        }
        self._last_read = read_at

    def _age_s(self, item: OutboxItem) -> float:
        written = self._written.get(item.id, item.created_s - self._now() + self._clock())
        return max(0.0, self._clock() - written)

    async def _drain_chat(self, chat_id: int, items: list[OutboxItem]) -> None:
        for unit in await self._plan(chat_id, items):
            if any(i.uncertain for i in unit.items) and not await self._answers(chat_id):
                return
            if not await self._deliver(chat_id, unit):
                return

    async def _answers(self, chat_id: int) -> bool:
        """Whether Telegram answers now (always True without a probe)."""
        if self._probe is None:
            return True
        try:
            await self._probe()
        except TelegramError as exc:
            await self._retry(chat_id, [], exc, None, uncertain=False)
            return False
        return True

    async def _plan(self, chat_id: int, items: list[OutboxItem]) -> list[_Unit]:
        """The messages to send, in order: stale routine rows expired, evals folded."""
        live = [item for item in items if await self._fresh(item)]
        evals = [i for i in live if i.kind == "eval" and i.payload is not None]
        waited = any(i.attempts for i in live)  # Telegram failed this chat: the evals waited
        fold = (len(evals) > 1 and waited) or any(i.uncertain for i in evals)
        digest = await self._fold(chat_id, evals) if fold else None
        units: list[_Unit] = []
        for item in live:
            if digest is None or item not in evals:
                units.append(_Unit((item,), await self._text(item), item.silent, False))
            elif item is evals[-1]:
                units.append(_Unit(tuple(evals), digest, True, True))
        # Alerts first: a flood of routine news (a rogue agent's runs) must not bury an OOM.
        return sorted(units, key=lambda unit: unit.items[0].kind != "alert")

    async def _text(self, item: OutboxItem) -> str:
        if self._late is None or self._age_s(item) <= LATE_NOTE_S:
            return item.text
        return await self._late(item.chat_id, item.text, item.created_s)

    async def _fold(self, chat_id: int, evals: list[OutboxItem]) -> str | None:
        """The digest of these evals; None (send them one by one) when it cannot be made."""
        if self._digest is None:
            return None
        try:
            return await self._digest(chat_id, [str(i.payload) for i in evals])
        except Exception:  # a payload from another version, a rendering bug: not a dead end
            log.exception("outbox: cannot fold %d evals for chat %s", len(evals), chat_id)
            return None

    async def _fresh(self, item: OutboxItem) -> bool:
        age = self._age_s(item)
        if age <= self.policy.max_age_s or item.kind not in ROUTINE:
            return True
        log.info("outbox: %s for chat %s is %.0f s old: dropped", item.key, item.chat_id, age)
        await self._store.settle([item.id], "expired", self._now())
        return False

    async def _deliver(self, chat_id: int, unit: _Unit) -> bool:
        """Send one message; False when the chat must wait (the failure is recorded)."""
        ids = [item.id for item in unit.items]
        await self._store.attempting(ids)
        try:
            await self._send(chat_id, unit.text, unit.silent)
        except RetryAfter as exc:
            wait_s = min(retry_after_s(exc), self.policy.backoff.max_s)  # not a day
            await self._retry(chat_id, ids, exc, wait_s, uncertain=False)
            return False
        except TelegramError as exc:
            if not _refusal(exc):  # Telegram away, or something else answered for it
                maybe = _maybe_delivered(exc)
                if maybe:  # a second lost reply: this copy may have arrived like the first
                    ids = await self._unconfirmed([i for i in unit.items if i.uncertain], ids)
                await self._retry(chat_id, ids, exc, None, uncertain=maybe)
                return False
            return await self._refused(chat_id, unit, exc)
        self._recovered(chat_id, unit)
        outcome = "digest" if unit.digest else "sent"
        self._unsaved.update(dict.fromkeys(ids, (outcome, self._now())))
        await self._save_outcomes()
        return True

    async def _save_outcomes(self) -> None:
        """Record the outcomes of the rows sent; those the database refuses wait here."""
        for outcome, at in set(self._unsaved.values()):
            ids = [i for i, done in self._unsaved.items() if done == (outcome, at)]
            try:
                await self._store.settle(ids, outcome, at)
            except sqlite3.Error as exc:
                log.warning("outbox: %d sent messages not recorded yet (%s)", len(ids), exc)
                return
            for i in ids:
                del self._unsaved[i]

    async def _unconfirmed(self, resent: list[OutboxItem], ids: list[int]) -> list[int]:
        """Settle the rows whose earlier attempt had already lost its reply (this was their
        second copy): sent again, they could show three times. The ids left to retry."""
        if not resent:
            return ids
        log.warning("outbox: %s sent twice without an answer: not sent again", _keys(resent))
        await self._store.settle([i.id for i in resent], "unconfirmed", self._now())
        return [i for i in ids if i not in {item.id for item in resent}]

    async def _refused(self, chat_id: int, unit: _Unit, exc: TelegramError) -> bool:
        """Telegram refused the message: a 400 (its markup, say) is tried once more as plain
        text; anything else (blocked by the user, a chat gone) is given up."""
        ids = [i.id for i in unit.items]
        if isinstance(exc, BadRequest) and (plain := html.escape(to_plain(unit.text))) != unit.text:
            log.warning(
                "outbox: Telegram refused %s (%s): sending it as plain text", _keys(unit), exc
            )
            return await self._deliver(chat_id, dataclasses.replace(unit, text=plain))
        log.error("outbox: Telegram refused %s for chat %s (%s)", _keys(unit), chat_id, exc)
        await self._store.settle(ids, "refused", self._now())
        return True

    async def _retry(
        self, chat_id: int, ids: list[int], exc: Exception, wait_s: float | None, *, uncertain: bool
    ) -> None:
        failures = self._failures.get(chat_id, 0)
        if wait_s is None:
            wait_s = self.policy.backoff.delay_s(failures + 1)
            wait_s *= 0.5 + self._jitter()  # spread the retries of many chats and bots
        self._failures[chat_id] = failures + 1
        self._not_before[chat_id] = self._clock() + wait_s
        level = logging.WARNING if failures == 0 else logging.DEBUG  # one line per outage
        log.log(level, "outbox: chat %s not reached (%s); retry in %.1f s", chat_id, exc, wait_s)
        if ids:
            await self._store.failed(ids, uncertain=uncertain)

    def _recovered(self, chat_id: int, unit: _Unit) -> None:
        failures = self._failures.pop(chat_id, 0)
        self._not_before.pop(chat_id, None)
        if failures:
            log.info("outbox: chat %s reached again after %d failed attempts", chat_id, failures)
        late = [i for i in unit.items if self._age_s(i) > self.policy.max_age_s]
        for item in late:
            log.warning("outbox: %s delivered %.0f s late", item.key, self._age_s(item))


def _refusal(exc: TelegramError) -> bool:
    """Whether Telegram itself said no, for good: a well-formed answer (a reply that could not
    be parsed, such as a proxy's HTML page, is chained to the parsing error) that is not a
    network error nor a rejected token."""
    if exc.__cause__ is not None:
        return False
    if isinstance(exc, BadRequest):  # a NetworkError subclass in python-telegram-bot
        return True
    return type(exc) is not TelegramError and not isinstance(exc, (NetworkError, InvalidToken))


def _maybe_delivered(exc: Exception) -> bool:
    """Whether the request may have reached Telegram although no answer came back (or a
    success answer came that could not be read)."""
    if type(exc) is TelegramError:  # "Invalid server response": a 2xx whose body is not JSON
        return True
    if isinstance(exc, InvalidToken) or not isinstance(exc, NetworkError):
        return False
    cause = exc.__cause__
    if cause is None or isinstance(cause, TelegramError):  # an HTTP error answer (500, 502,
        return False  # a proxy's page...): Telegram did not take it
    return not isinstance(cause, _NOT_SENT)


def _keys(unit: _Unit | list[OutboxItem]) -> str:
    return ", ".join(item.key for item in (unit.items if isinstance(unit, _Unit) else unit))
