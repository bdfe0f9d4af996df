"""The state database (SQLite through aiosqlite, WAL): follower offsets, chat preferences,
and the outbox of notifications.

Every notification is written here, with an idempotency key, before any attempt to send it:
a restart or a Telegram outage loses nothing and sends nothing twice. Each write is its own
committed transaction; in WAL mode with `synchronous=NORMAL` a committed transaction survives
the process being killed (`kill -9`, OOM killer); only a power cut may lose the last ones.

The schema is versioned with `PRAGMA user_version`; each migration runs in one transaction
with the version bump, so a database is never left half-migrated.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiosqlite

from bot.adapters.tail import Position

SCHEMA_VERSION = 2
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE offsets (path TEXT PRIMARY KEY, device INTEGER, inode INTEGER, offset INTEGER);
    CREATE TABLE prefs (chat_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        chat_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        silent INTEGER NOT NULL DEFAULT 0,
        created_s REAL NOT NULL,
        sent_s REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_s REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_pending ON outbox (sent_s, chat_id, id);
    """,
    # v2: what folding needs (the notice as JSON), what happened to each row (`outcome`:
    # sent, digest, expired, refused), whether an attempt may have reached Telegram
    # (`uncertain`), and whether one was under way (`inflight`: still 1 after a kill -9
    # in the middle of a send, which makes the row uncertain).
    2: """
    ALTER TABLE outbox ADD COLUMN payload TEXT;
    ALTER TABLE outbox ADD COLUMN outcome TEXT;
    ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN inflight INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox SET outcome = 'sent' WHERE sent_s IS NOT NULL;
    """,
}
DONE = ("sent", "digest", "expired", "refused", "unconfirmed")  # outcomes that end a row


class StoreError(Exception):
    """The state database cannot be used; the message is one line naming the file."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    key: str
    chat_id: int
    kind: str  # eval, milestone, alert (alerts are never folded nor dropped)
    text: str
    silent: bool
    created_s: float
    attempts: int
    payload: str | None = None  # the notice as JSON, for the digest (evals)
    uncertain: bool = False  # an earlier attempt may have been delivered


class Store:
    """One SQLite file. Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(self, db: aiosqlite.Connection, owner: TextIO | None = None) -> None:
        self._db = db
        self._owner = owner  # the lock file held while this process uses the database
        self._lock = asyncio.Lock()  # one transaction at a time on the shared connection

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        """Open (creating it and its folder) and migrate; StoreError if it cannot be used,
        or if another process uses it (two would send every message twice)."""
        where = str(path)
        owner = None
        try:
            if where != ":memory:":
                _check_path(Path(path))
                owner = _take(Path(path))
            db = await aiosqlite.connect(where)
        except (OSError, sqlite3.Error) as exc:
            if owner is not None:
                owner.close()
            raise StoreError(f"state database {where}: cannot be opened ({_reason(exc)})") from None
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            store = cls(db, owner)
            await store._migrate()
        except (sqlite3.Error, StoreError) as exc:
            await db.close()
            if owner is not None:
                owner.close()
            raise StoreError(f"state database {where}: not usable ({_reason(exc)})") from None
        return store

    async def close(self) -> None:
        await self._db.close()
        if self._owner is not None:
            self._owner.close()  # the lock goes with the descriptor

    async def version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        """Bring the schema up to date in one write transaction, the version read inside it:
        a process that finds another migrating waits for it, then finds nothing to do."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            version = await self.version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"schema version {version} is newer than this etagram's ({SCHEMA_VERSION})"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        await self._db.execute(statement)
                await self._db.execute(f"PRAGMA user_version = {target}")
        except BaseException:
            await self._db.rollback()
            raise
        await self._db.commit()

    async def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        args = tuple(storable(a) if isinstance(a, str) else a for a in args)
        async with self._lock:
            cur = await self._db.execute(sql, args)
            await self._db.commit()
            return cur.rowcount

    # Follower offsets (tail.OffsetStore) -------------------------------------------------
    async def load_offset(self, path: str) -> Position | None:
        sql = "SELECT device, inode, offset FROM offsets WHERE path = ?"
        async with self._db.execute(sql, (storable(path),)) as cur:
            row = await cur.fetchone()
        return Position(int(row[0]), int(row[1]), int(row[2])) if row else None

    async def save_offset(self, path: str, pos: Position) -> None:
        await self._write(
            "INSERT INTO offsets VALUES (?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "device = excluded.device, inode = excluded.inode, offset = excluded.offset",
            (path, pos.device, pos.inode, pos.offset),
        )

    # Chat preferences --------------------------------------------------------------------
    async def load_prefs(self, chat_id: int) -> dict[str, Any]:
        async with self._db.execute("SELECT data FROM prefs WHERE chat_id = ?", (chat_id,)) as cur:
            row = await cur.fetchone()
        return dict(json.loads(row[0])) if row else {}

    async def save_prefs(self, chat_id: int, prefs: dict[str, Any]) -> None:
        await self._write(
            "INSERT INTO prefs VALUES (?, ?) "
            "ON CONFLICT(chat_id) DO UPDATE SET data = excluded.data",
            (chat_id, json.dumps(prefs, sort_keys=True)),
        )

    # Outbox ------------------------------------------------------------------------------
    async def enqueue(
        self,
        key: str,
        chat_id: int,
        kind: str,
        text: str,
        *,
        silent: bool,
        now_s: float,
        payload: str | None = None,
        adopt: str | None = None,
    ) -> bool:
        """Store a notification once; False if that key was already stored (a duplicate).

        Keys are kept after delivery: the backlog replayed at each start-up produces the same
        keys again, and they must find their row. `adopt`: the key an earlier etagram gave the
        same event (before keys named the log): a row under it is this one, renamed `key`."""
        if adopt is not None and await self._write(
            "UPDATE OR IGNORE outbox SET key = ? WHERE key = ?", (key, adopt)
        ):
            return False
        count = await self._write(
            "INSERT OR IGNORE INTO outbox (key, chat_id, kind, text, silent, created_s, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, chat_id, kind, text, int(silent), now_s, payload),
        )
        return count == 1

    async def pending(self) -> list[OutboxItem]:
        """Every notification not yet dealt with, oldest first."""
        sql = (
            "SELECT id, key, chat_id, kind, text, silent, created_s, attempts, payload, "
            "MAX(uncertain, inflight) FROM outbox WHERE outcome IS NULL ORDER BY id"
        )
        async with self._db.execute(sql) as cur:
            rows = await cur.fetchall()
        return [
            OutboxItem(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8], bool(r[9]))
            for r in rows
        ]

    async def settle(self, item_ids: list[int], outcome: str, now_s: float) -> None:
        """Close rows: `sent` (accepted by Telegram), `digest` (accepted inside a digest),
        `expired` (too old to be news), `refused` (Telegram refused it for good),
        `unconfirmed` (sent twice, neither answer came back: not sent a third time)."""
        if outcome not in DONE:
            raise ValueError(f"unknown outcome {outcome!r}")
        marks = ",".join("?" * len(item_ids))
        await self._write(
            f"UPDATE outbox SET outcome = ?, sent_s = ?, inflight = 0 "  # noqa: S608
            f"WHERE id IN ({marks})",
            (outcome, now_s, *item_ids),
        )

    async def attempting(self, item_ids: list[int]) -> None:
        """An attempt starts: if the process dies before `settle` or `failed`, the rows are
        uncertain at the next start (Telegram may have taken the message)."""
        marks = ",".join("?" * len(item_ids))
        await self._write(
            f"UPDATE outbox SET attempts = attempts + 1, inflight = 1 "  # noqa: S608
            f"WHERE id IN ({marks})",
            tuple(item_ids),
        )

    async def failed(self, item_ids: list[int], *, uncertain: bool) -> None:
        """The attempt failed; `uncertain`: it may have reached Telegram all the same."""
        marks = ",".join("?" * len(item_ids))
        await self._write(
            f"UPDATE outbox SET inflight = 0, "  # noqa: S608
            f"uncertain = MAX(uncertain, ?) WHERE id IN ({marks})",
            (int(uncertain), *item_ids),
        )

    async def forget_texts(self, before_s: float) -> int:
        """Empty the text and payload of rows dealt with and created before `before_s`; how
        many. The keys stay: a log replayed at start-up re-queues its alerts, which must still
        find their row (deleting old rows would send a months-old OOM alert again)."""
        marks = ",".join("?" * len(DONE))
        return await self._write(
            f"UPDATE outbox SET text = '', payload = NULL "  # noqa: S608
            f"WHERE outcome IN ({marks}) AND created_s < ? AND text != ''",
            (*DONE, before_s),
        )

    async def outcomes(self) -> dict[str, str | None]:
        """Each row's outcome by key (tests and the fault table read it)."""
        async with self._db.execute("SELECT key, outcome FROM outbox") as cur:
            return {str(k): v for k, v in await cur.fetchall()}


def storable(text: str) -> str:
    """`text` as SQLite and Telegram take it: a file name or argument with bytes that are not
    UTF-8 reaches Python as lone surrogates, which UTF-8 cannot encode; they become "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _take(path: Path) -> TextIO:
    """Lock `path`.lock for this process, its PID written in it; StoreError naming the
    process that holds it."""
    lock_path = path.resolve().with_name(path.resolve().name + ".lock")
    owner = lock_path.open("a+")
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.seek(0)
        pid = owner.read().strip() or "?"
        owner.close()
        raise StoreError(
            f"state database {path}: in use by another etagram (PID {pid}); give each "
            "process its own state_path"
        ) from None
    owner.truncate(0)
    owner.write(f"{os.getpid()}\n")
    owner.flush()
    return owner


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"state database {path}: is a directory; expected a file path")
    path.parent.mkdir(parents=True, exist_ok=True)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]
