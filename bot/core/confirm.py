"""Confirmations asked before acting on a run from Telegram (`/stop`).

A button's data is whatever the client sends back, so it carries no authority by itself: it
holds a random nonce, and what the nonce stands for (the run, the chat it was asked in, when)
stays here. A press counts once, only in the chat that was asked, and only within `valid_s`;
anything else (made-up data, a replay, a late press) finds nothing. Pure: the caller makes
the nonce and passes the time (its monotonic clock).
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIRM_S = 60.0  # how long Stop / Cancel work
MAX_PENDING = 256  # confirmations kept at most; the oldest goes first (only allowed chats ask)


@dataclass(frozen=True, slots=True)
class Pending:
    """A question asked in `chat_id` at `asked_s` about `run`."""

    run: str
    chat_id: int
    asked_s: float


class Confirmations:
    def __init__(self, valid_s: float = CONFIRM_S) -> None:
        self.valid_s = valid_s
        self._pending: dict[str, Pending] = {}  # by nonce, oldest first

    def ask(self, nonce: str, run: str, chat_id: int, now_s: float) -> Pending:
        """Keep a new question under `nonce` (the caller's random, unguessable token)."""
        for old in [n for n, p in self._pending.items() if self._expired(p, now_s)]:
            del self._pending[old]
        while len(self._pending) >= MAX_PENDING:
            del self._pending[next(iter(self._pending))]
        pending = self._pending[nonce] = Pending(run, chat_id, now_s)
        return pending

    def take(self, nonce: str, chat_id: int, now_s: float) -> Pending | None:
        """The question `nonce` answered in `chat_id`, used up; None when there is none: never
        asked, already answered, asked in another chat, or expired."""
        pending = self._pending.get(nonce)
        if pending is None or pending.chat_id != chat_id:
            return None
        del self._pending[nonce]
        return None if self._expired(pending, now_s) else pending

    def expire(self, nonce: str, now_s: float) -> Pending | None:
        """The question `nonce`, dropped if it expired unanswered (its message then says so);
        None when it was answered or is still open."""
        pending = self._pending.get(nonce)
        if pending is None or not self._expired(pending, now_s):
            return None
        del self._pending[nonce]
        return pending

    def _expired(self, pending: Pending, now_s: float) -> bool:
        return now_s - pending.asked_s >= self.valid_s
