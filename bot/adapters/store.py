"""The state database (SQLite through aiosqlite, WAL): follower offsets, chat preferences,
and the outbox of notifications.

Every notification is written here, with an idempotency key, before any attempt to send it:
a restart or a Telegram outage loses nothing and sends nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.adapters.tail import Position

SCHEMA_VERSION = 1
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
}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    key: str
    chat_id: int
    kind: str  # eval, alert, ... (alerts are never folded or dropped)
    text: str
    silent: bool
    created_s: float
    attempts: int


class Store:
    """One SQLite file. Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path))
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        store = cls(db)
        await store._migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await self._db.executescript(MIGRATIONS[target])
            await self._db.execute(f"PRAGMA user_version = {target}")
        await self._db.commit()

    # Follower offsets (tail.OffsetStore) -------------------------------------------------
    async def load_offset(self, path: str) -> Position | None:
        sql = "SELECT device, inode, offset FROM offsets WHERE path = ?"
        async with self._db.execute(sql, (path,)) as cur:
            row = await cur.fetchone()
        return Position(int(row[0]), int(row[1]), int(row[2])) if row else None

    async def save_offset(self, path: str, pos: Position) -> None:
        await self._db.execute(
            "INSERT INTO offsets VALUES (?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "device = excluded.device, inode = excluded.inode, offset = excluded.offset",
            (path, pos.device, pos.inode, pos.offset),
        )
        await self._db.commit()

    # Chat preferences --------------------------------------------------------------------
    async def load_prefs(self, chat_id: int) -> dict[str, Any]:
        async with self._db.execute("SELECT data FROM prefs WHERE chat_id = ?", (chat_id,)) as cur:
            row = await cur.fetchone()
        return dict(json.loads(row[0])) if row else {}

    async def save_prefs(self, chat_id: int, prefs: dict[str, Any]) -> None:
        await self._db.execute(
            "INSERT INTO prefs VALUES (?, ?) "
            "ON CONFLICT(chat_id) DO UPDATE SET data = excluded.data",
            (chat_id, json.dumps(prefs, sort_keys=True)),
        )
        await self._db.commit()

    # Outbox ------------------------------------------------------------------------------
    async def enqueue(
        self, key: str, chat_id: int, kind: str, text: str, *, silent: bool, now_s: float
    ) -> bool:
        """Store a notification once; False if that key was already stored (a duplicate)."""
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO outbox (key, chat_id, kind, text, silent, created_s) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, chat_id, kind, text, int(silent), now_s),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def pending(self, now_s: float, limit: int = 50) -> list[OutboxItem]:
        """Unsent notifications due now, oldest first."""
        sql = (
            "SELECT id, key, chat_id, kind, text, silent, created_s, attempts FROM outbox "
            "WHERE sent_s IS NULL AND next_try_s <= ? ORDER BY id LIMIT ?"
        )
        async with self._db.execute(sql, (now_s, limit)) as cur:
            rows = await cur.fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]

    async def mark_sent(self, item_id: int, now_s: float) -> None:
        await self._db.execute("UPDATE outbox SET sent_s = ? WHERE id = ?", (now_s, item_id))
        await self._db.commit()

    async def postpone(self, item_id: int, until_s: float) -> None:
        await self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_try_s = ? WHERE id = ?",
            (until_s, item_id),
        )
        await self._db.commit()
