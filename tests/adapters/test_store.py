"""The state database: migrations keep rows, writes survive the process, bad paths are one
clear line."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from bot.adapters.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError
from bot.adapters.tail import Position
from bot.config import Config


def make_v1(path: Path) -> None:
    """A database as etagram's first schema left it, with a row in each table."""
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[1])
    db.execute("INSERT INTO offsets VALUES ('/logs/train.log', 1, 2, 300)")
    db.execute('INSERT INTO prefs VALUES (42, \'{"lang": "fr"}\')')
    db.execute(
        "INSERT INTO outbox (key, chat_id, kind, text, silent, created_s, sent_s) "
        "VALUES ('gpt2:eval:200:42', 42, 'eval', 'sent before', 1, 10.0, 11.0)"
    )
    db.execute(
        "INSERT INTO outbox (key, chat_id, kind, text, silent, created_s) "
        "VALUES ('gpt2:alert:oom:250:42', 42, 'alert', 'waiting', 0, 12.0)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


async def test_a_v1_database_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    make_v1(path)
    store = await Store.open(path)
    try:
        assert await store.version() == SCHEMA_VERSION == 2
        assert await store.load_offset("/logs/train.log") == Position(1, 2, 300)
        assert await store.load_prefs(42) == {"lang": "fr"}
        pending = await store.pending()
        # The v1 row sent before is not pending: v1 marked delivery with sent_s only.
        assert [i.key for i in pending] == ["gpt2:alert:oom:250:42"]
        assert pending[0].payload is None and not pending[0].uncertain
        assert not await store.enqueue(
            "gpt2:eval:200:42", 42, "eval", "again", silent=True, now_s=1
        )
    finally:
        await store.close()


async def test_writes_are_committed_one_by_one(tmp_path: Path) -> None:
    """What another connection sees is what a restart after kill -9 finds."""
    path = tmp_path / "state.sqlite3"
    store = await Store.open(path)
    try:
        await store.save_offset("/a.log", Position(1, 2, 3))
        await store.save_prefs(7, {"lang": "en"})
        await store.enqueue("k", 7, "eval", "text", silent=True, now_s=1.0, payload="{}")
        other = sqlite3.connect(path)
        assert other.execute("SELECT offset FROM offsets").fetchall() == [(3,)]
        assert other.execute("SELECT key, payload FROM outbox").fetchall() == [("k", "{}")]
        other.close()
    finally:
        await store.close()


async def test_settle_and_failed_attempts(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    try:
        assert await store.enqueue("a", 1, "alert", "A", silent=False, now_s=1.0)
        assert await store.enqueue("b", 1, "eval", "B", silent=True, now_s=2.0)
        assert not await store.enqueue("a", 1, "alert", "A", silent=False, now_s=3.0)
        a, b = await store.pending()
        await store.attempting([a.id, b.id])
        await store.failed([b.id], uncertain=True)
        await store.attempting([b.id])
        await store.failed([b.id], uncertain=False)  # once uncertain, always uncertain
        await store.settle([a.id], "sent", 4.0)
        (left,) = await store.pending()
        assert left.key == "b" and left.attempts == 2 and left.uncertain
        assert await store.outcomes() == {"a": "sent", "b": None}
        with pytest.raises(ValueError, match="unknown outcome"):
            await store.settle([b.id], "lost", 5.0)
    finally:
        await store.close()


async def test_old_delivered_texts_are_dropped_their_keys_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = await Store.open(path)
    try:
        for key, created_s in (("old-sent", 1.0), ("old-waiting", 2.0), ("new-sent", 50.0)):
            await store.enqueue(key, 1, "eval", key, silent=True, now_s=created_s, payload="{}")
        sent = [i.id for i in await store.pending() if i.key.endswith("sent")]
        await store.settle(sent, "sent", 60.0)
        assert await store.forget_texts(before_s=10.0) == 1
        assert await store.forget_texts(before_s=10.0) == 0
        # The key still stops a duplicate; a message still to send keeps everything.
        assert not await store.enqueue("old-sent", 1, "eval", "again", silent=True, now_s=70.0)
        other = sqlite3.connect(path)
        assert other.execute("SELECT key, text, payload FROM outbox ORDER BY id").fetchall() == [
            ("old-sent", "", None),
            ("old-waiting", "old-waiting", "{}"),
            ("new-sent", "new-sent", "{}"),
        ]
        other.close()
    finally:
        await store.close()


async def test_a_directory_as_state_path_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        await Store.open(tmp_path)
    assert str(info.value) == f"state database {tmp_path}: is a directory; expected a file path"


async def test_a_file_in_the_way_of_the_folder_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot be opened") as info:
        await Store.open(tmp_path / "file" / "state.sqlite3")
    assert "\n" not in str(info.value)


async def test_a_file_that_is_not_a_database_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="not usable") as info:
        await Store.open(path)
    assert "\n" not in str(info.value)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this etagram"):
        await Store.open(path)


async def test_a_send_cut_short_by_a_kill_leaves_the_row_uncertain(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = await Store.open(path)
    await store.enqueue("a", 1, "alert", "A", silent=False, now_s=1.0)
    await store.enqueue("b", 1, "alert", "B", silent=False, now_s=1.0)
    a, b = await store.pending()
    await store.attempting([a.id])
    await store.attempting([b.id])
    await store.failed([b.id], uncertain=False)  # b's attempt ended: surely not delivered
    await store.close()  # a's attempt never ended (the process was killed)
    store = await Store.open(path)
    try:
        assert [(i.key, i.uncertain) for i in await store.pending()] == [
            ("a", True),
            ("b", False),
        ]
    finally:
        await store.close()


async def test_a_second_process_on_one_database_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    first = await Store.open(path)
    with pytest.raises(StoreError, match=rf"in use by another etagram \(PID {os.getpid()}\)"):
        await Store.open(path)
    await first.close()
    again = await Store.open(path)  # the first one gone, the database is free
    await again.close()


async def test_a_hub_and_an_agent_on_one_machine_get_their_own_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = Config()
    paths = {role: config.resolved_state_path(role) for role in ("embedded", "hub", "agent")}
    assert len(set(paths.values())) == 3
    assert paths["embedded"] == tmp_path / "etagram" / "state.sqlite3"  # as before
    stores = [await Store.open(p) for p in paths.values()]
    for store in stores:
        await store.close()


async def test_the_schema_is_created_once_when_another_connection_is_creating_it(
    tmp_path: Path,
) -> None:
    """Another connection (an etagram without the lock, a tool) is half-way through creating
    the schema: opening waits for it and finds the schema made, rather than creating the
    tables a second time ("table offsets already exists")."""
    path = tmp_path / "state.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")
    for version in range(1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                other.execute(statement)
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    opening = asyncio.create_task(Store.open(path))
    await asyncio.sleep(0.3)
    assert not opening.done()  # waiting for the other's transaction
    other.execute("COMMIT")
    store = await asyncio.wait_for(opening, 10)
    assert await store.version() == SCHEMA_VERSION
    await store.close()
    other.close()
