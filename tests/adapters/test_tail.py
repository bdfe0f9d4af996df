"""Follower tests on real files; `MemoryStore` and `Reader` are shared with the soak test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.tail import LogFollower, Position
from bot.core.lifecycle import WaitReason
from bot.core.linebuf import MAX_LINE

# Only guards against a hung test; nothing asserts on durations.
STUCK_S = 15.0


class MemoryStore:
    def __init__(self) -> None:
        self.saved: dict[str, Position] = {}

    async def load_offset(self, path: str) -> Position | None:
        return self.saved.get(path)

    async def save_offset(self, path: str, pos: Position) -> None:
        self.saved[path] = pos


class Reader:
    """Drives one follower: `until` collects lines, `close` stops it cleanly."""

    def __init__(self, path: Path, store: MemoryStore | None = None, **kwargs: object) -> None:
        self.follower = LogFollower(path, store=store, **kwargs)  # type: ignore[arg-type]
        self._batches: AsyncIterator[list[str]] = self.follower.lines()
        self.lines: list[str] = []

    async def next_batch(self) -> list[str]:
        batch = await asyncio.wait_for(anext(self._batches), STUCK_S)
        self.lines += batch
        return batch

    async def until(self, count: int) -> list[str]:
        """Collect until `count` lines in all have been seen; return them."""
        while len(self.lines) < count:
            await self.next_batch()
        return self.lines

    async def close(self) -> None:
        self.follower.stop()
        async for batch in self._batches:  # ends at once: stop() was called
            self.lines += batch


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


async def test_reads_existing_lines_then_appends(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"iter 1\niter 2\n")
    reader = Reader(log)
    assert await reader.until(2) == ["iter 1", "iter 2"]
    append(log, b"iter 3\n")
    assert await reader.until(3) == ["iter 1", "iter 2", "iter 3"]
    await reader.close()


async def test_line_written_in_three_pieces_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"")
    reader = Reader(log)
    for piece in (b"iter 10: lo", b"ss 2.31", b"5, time 12.0ms\n"):
        append(log, piece)
        await asyncio.sleep(0.05)  # lets the follower see each piece on its own
    append(log, b"iter 11\n")
    assert await reader.until(2) == ["iter 10: loss 2.315, time 12.0ms", "iter 11"]
    await reader.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
async def test_file_notifications_wake_the_follower(tmp_path: Path) -> None:
    """With polls a minute apart, only inotify can bring these lines within STUCK_S."""
    log = tmp_path / "train.log"
    log.write_bytes(b"")
    reader = Reader(log, poll_interval_s=60.0)
    await asyncio.sleep(0.2)  # the follower waits at the end of the empty file
    for i in range(3):
        append(log, f"iter {i}\n".encode())
        assert await reader.next_batch() == [f"iter {i}"]
        await asyncio.sleep(0.2)  # a quiet spell: the next line is read at once
    log.rename(tmp_path / "train.log.1")
    log.write_bytes(b"new file\n")
    assert await reader.next_batch() == ["new file"]
    await reader.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
async def test_notifications_start_once_a_missing_folder_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.tail")
    log = tmp_path / "out" / "train.log"
    reader = Reader(log, poll_interval_s=0.05)
    batch = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0.2)
    log.parent.mkdir()
    log.write_bytes(b"first\n")
    await batch
    append(log, b"second\n")
    assert await reader.until(2) == ["first", "second"]
    await reader.close()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("does not exist yet" in m for m in messages) == 1
    assert any("appeared: file notifications from now on" in m for m in messages)


async def test_busy_log_is_read_in_batches_isolated_lines_one_by_one(tmp_path: Path) -> None:
    """Each read is a wake-up; a log written every 10 ms is read every MIN_READ_GAP_S (0.1 s),
    several lines at a time. Lines after quiet spells come one batch each."""
    log = tmp_path / "train.log"
    log.write_bytes(b"")
    reader = Reader(log)
    batches: list[list[str]] = []
    collect = asyncio.ensure_future(_collect(reader, 40, batches))
    await asyncio.sleep(0.2)  # the follower waits at the end of the empty file
    for i in range(40):
        append(log, f"busy {i}\n".encode())
        await asyncio.sleep(0.01)
    await collect
    assert reader.lines == [f"busy {i}" for i in range(40)]
    assert len(batches) <= 15, [len(b) for b in batches]
    await asyncio.sleep(0.3)
    for i in range(4):
        append(log, f"quiet {i}\n".encode())
        assert await reader.next_batch() == [f"quiet {i}"]
        await asyncio.sleep(0.25)
    await reader.close()


async def _collect(reader: Reader, count: int, batches: list[list[str]]) -> None:
    while len(reader.lines) < count:
        batches.append(await reader.next_batch())


async def test_tqdm_redraws_invalid_utf8_and_a_10mb_line(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"\r 10%|#  | 1/10\r 20%|## | 2/10\nbad \xff\xfe\n")
    append(log, b"z" * 10_000_000 + b"\nafter\n")
    reader = Reader(log)
    lines = await reader.until(5)
    assert lines[:3] == [" 10%|#  | 1/10", " 20%|## | 2/10", "bad \ufffd\ufffd"]
    assert lines[3] == "z" * MAX_LINE
    assert lines[4:] == ["after"]
    await reader.close()


async def test_waits_for_a_file_that_appears_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.tail")
    log = tmp_path / "later.log"
    reader = Reader(log, poll_interval_s=0.05)
    batch = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0.3)
    log.write_bytes(b"hello\n")
    await batch
    assert reader.lines == ["hello"]
    assert sum("waiting for" in r.getMessage() for r in caplog.records) == 1
    await reader.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
async def test_an_unreadable_log_is_said_once_as_a_warning_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The run shows why it waits; the log says it once, as a WARNING; once the file can be
    read, the wait is over and its lines come."""
    caplog.set_level(logging.INFO, logger="bot.adapters.tail")
    log = tmp_path / "train.log"
    log.write_bytes(b"hello\n")
    log.chmod(0)
    told: list[WaitReason | None] = []

    async def on_wait(reason: WaitReason | None) -> None:
        told.append(reason)

    follower = LogFollower(log, poll_interval_s=0.05, use_inotify=False, on_wait=on_wait)
    lines = follower.lines()
    batch = asyncio.ensure_future(anext(lines))
    await asyncio.sleep(0.3)
    assert told == [WaitReason.PERMISSION]
    log.chmod(0o644)
    assert await asyncio.wait_for(batch, 2) == ["hello"]
    assert told == [WaitReason.PERMISSION, None]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Permission denied" in warnings[0].getMessage()
    follower.stop()
    await lines.aclose()


async def test_rename_rotation_finishes_the_old_file_first(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"old 1\n")
    reader = Reader(log)
    await reader.until(1)
    with open(log, "ab") as old:
        log.rename(tmp_path / "train.log.1")
        # The writer still appends to the renamed file before switching.
        old.write(b"old 2\nold 3 without newline")
    log.write_bytes(b"new 1\n")
    assert await reader.until(4) == ["old 1", "old 2", "old 3 without newline", "new 1"]
    append(log, b"new 2\n")
    assert (await reader.until(5))[-1] == "new 2"
    await reader.close()


async def test_copy_truncate_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"line 1\nline 2\nline 3\n")
    reader = Reader(log)
    await reader.until(3)
    shutil.copyfile(log, tmp_path / "train.log.1")
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, b"line 4\n")
    assert await reader.until(4) == ["line 1", "line 2", "line 3", "line 4"]
    await reader.close()


async def test_truncate_then_regrow_past_the_offset_is_seen(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"line 1\n")
    reader = Reader(log, use_inotify=False, poll_interval_s=0.05)
    await reader.until(1)
    # Shrinks and grows past the old offset between two polls: the size alone cannot tell.
    with open(log, "r+b") as f:
        f.truncate(0)
        f.write(b"line 2\nline 3\n")
    assert await reader.until(3) == ["line 1", "line 2", "line 3"]
    await reader.close()


async def test_delete_and_recreate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.adapters.tail")
    log = tmp_path / "train.log"
    log.write_bytes(b"run 1\n")
    reader = Reader(log, poll_interval_s=0.05)
    await reader.until(1)
    log.unlink()
    batch = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0.3)
    log.write_bytes(b"run 2\n")
    await batch
    assert reader.lines == ["run 1", "run 2"]
    assert any("recreated" in r.getMessage() for r in caplog.records)
    await reader.close()


async def test_restart_resumes_at_the_saved_offset(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    store = MemoryStore()
    log.write_bytes(b"a\nb\npartial")
    first = Reader(log, store)
    assert await first.until(2) == ["a", "b"]
    await first.close()
    assert first.follower.position is not None and first.follower.position.offset == 4
    append(log, b" line\nc\n")
    second = Reader(log, store)
    assert await second.until(2) == ["partial line", "c"]
    await second.close()


async def test_utf16_log_is_decoded_also_after_a_restart(tmp_path: Path) -> None:
    """A PowerShell `>` redirect writes UTF-16 LE with a mark: the restart at the saved offset
    reads past the mark and still decodes UTF-16."""
    log = tmp_path / "train.log"
    store = MemoryStore()
    log.write_bytes(b"\xff\xfe" + "Epoch 1/2\r\n 1/49 ━━ 0s\r\n".encode("utf-16-le"))
    first = Reader(log, store)
    assert await first.until(2) == ["Epoch 1/2", " 1/49 ━━ 0s"]
    await first.close()
    append(log, "Epoch 2/2\r\n".encode("utf-16-le"))
    second = Reader(log, store)
    assert await second.until(1) == ["Epoch 2/2"]
    await second.close()


async def test_restart_after_a_rotation_while_stopped(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    store = MemoryStore()
    log.write_bytes(b"a\n")
    first = Reader(log, store)
    await first.until(1)
    await first.close()
    append(log, b"b\n")
    log.rename(tmp_path / "train.log.1")
    log.write_bytes(b"c\n")
    second = Reader(log, store)
    assert await second.until(2) == ["b", "c"]
    await second.close()


async def test_unconfirmed_batch_is_delivered_again(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    store = MemoryStore()
    log.write_bytes(b"a\n")
    follower = LogFollower(log, store=store, checkpoint_every_s=0.0)
    batches = follower.lines()
    assert await anext(batches) == ["a"]
    append(log, b"b\n")
    assert await anext(batches) == ["b"]
    await batches.aclose()  # a crash while handling ["b"]: it was never confirmed
    again = Reader(log, store)
    assert await again.until(1) == ["b"]
    await again.close()


async def test_from_end_skips_existing_content(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"old\n")
    reader = Reader(log, from_start=False)
    batch = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0.2)
    append(log, b"new\n")
    assert await batch == ["new"]
    await reader.close()


async def test_polling_only_mode(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    reader = Reader(log, use_inotify=False, poll_interval_s=0.02)
    batch = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0.1)
    log.write_bytes(b"x\n")
    assert await batch == ["x"]
    await reader.close()


async def test_a_path_that_cannot_be_opened_yet_is_retried(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.mkdir()  # something else holds the name for now
    reader = Reader(log, poll_interval_s=0.02)
    batch = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0.2)
    log.rmdir()
    log.write_bytes(b"ok\n")
    assert await batch == ["ok"]
    await reader.close()


async def test_checkpoints_wait_for_the_interval_or_the_stop(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    store = MemoryStore()
    log.write_bytes(b"a\n")
    reader = Reader(log, store, checkpoint_every_s=3600.0)
    await reader.until(1)
    append(log, b"b\n")
    await reader.until(2)
    assert store.saved == {}
    await reader.close()
    (pos,) = store.saved.values()
    assert pos.offset == 4 and pos.inode == log.stat().st_ino


async def test_a_fifo_in_place_of_the_log_is_not_opened(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes, and what it passes on is gone: the
    follower waits for a regular file instead, and stops when asked."""
    fifo = tmp_path / "train.log"
    os.mkfifo(fifo)
    told: list[WaitReason | None] = []

    async def on_wait(reason: WaitReason | None) -> None:
        told.append(reason)

    follower = LogFollower(fifo, poll_interval_s=0.05, use_inotify=False, on_wait=on_wait)

    async def read() -> None:
        async for _ in follower.lines():
            pass

    task = asyncio.create_task(read())
    try:
        await asyncio.sleep(0.3)
        follower.stop()
        await asyncio.wait_for(task, 2)
        assert told == [WaitReason.NOT_REGULAR]  # the run shows why it waits
    finally:  # a reader blocked in open() would hold the test up for good: release it
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
