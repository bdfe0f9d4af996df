"""Follow a growing log file, the way Fluent Bit tail, Filebeat or Vector's file source do.

- Starts at the beginning, at the end (`from_start=False`) or at a saved checkpoint.
- Hands out complete lines only (see `bot.core.linebuf`): a partial line waits for its end.
- Rename-and-recreate rotation (the path now names another inode, or the open file was
  deleted): the old file is read to its end, then the new one from its start.
- Copy-truncate (the file shrank, or its first bytes changed): read again from the start.
  Lines the writer appended after our last read and before the truncation are in the copy
  only; every log shipper loses those, as nothing can tell them apart.
- A missing file is waited for, and so is a deleted one until it is recreated.
- After a restart from a checkpoint whose file was rotated meanwhile, the rotated file is
  found by inode beside the log (`train.log.1`, ...) and finished first.

Wake-ups come from inotify (Linux), its descriptor watched by the event loop itself, with a
poll every second as a safety net (inotify misses events on network and some container
filesystems); where notifications cannot be had at all (another OS, no inotify watches left),
the poll runs every `poll_interval_s`. A busy log is read at most every `MIN_READ_GAP_S`, so a
writer flushing each line costs a bounded number of wake-ups.
`benchmarks/follow_latency.py` measures both: inotify delivers a line within milliseconds,
polling alone in up to `poll_interval_s`.

Known limits, shared with the shippers above: a checkpoint stores (device, inode, offset), so a
file truncated, or deleted and recreated with a reused inode, while etagram was stopped is
resumed at the old offset if it has grown past it again; one path is followed, not a glob, so
a file rotated away before the follower opened it (two rotations within one poll, or during a
stop) is skipped, and so are lines a writer appends to a renamed file after the new one has
appeared and the old one has been read to its end.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import stat
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from inotify_simple import INotify, flags

from bot.core.lifecycle import WaitReason
from bot.core.linebuf import LineBuffer

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
SAFETY_POLL_S = 1.0  # the poll behind working file notifications (they may miss a change)
# Bytes from the start of the file that identify it; a change means it was truncated and
# rewritten between two reads, even if it already grew past the old offset.
_FINGERPRINT = 64
# Changes in the log's folder that concern the log: written or truncated, created, renamed
# to or from, deleted. The folder, not the file: a rotated log is a new file under the name.
_CHANGES = flags.MODIFY | flags.CREATE | flags.MOVED_TO | flags.MOVED_FROM | flags.DELETE
# A busy log (lines again within MIN_READ_GAP_S) is read in batches, 1/MIN_READ_GAP_S times a
# second, however often it is written; a line after a quiet spell is read at once. Each
# wake-up costs ~0.3 ms of CPU on these virtual machines whatever it then does (a bare asyncio
# loop woken by inotify: benchmarks/wakeup_cost.py).
MIN_READ_GAP_S = 0.1


@dataclass(frozen=True)
class Position:
    """Where to resume: `offset` counts bytes consumed into complete lines."""

    device: int
    inode: int
    offset: int


def not_a_file(path: Path) -> str | None:
    """What `path` is when it exists and is not a regular file ("a FIFO"...); None otherwise.
    A device never ends (/dev/zero), a FIFO blocks and loses what it passed on: no log."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # not there (yet): waited for
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), None)


class OffsetStore(Protocol):
    async def load_offset(self, path: str) -> Position | None: ...

    async def save_offset(self, path: str, pos: Position) -> None: ...


class _Cursor:
    """The blocking side of the follower: file system calls only, in a worker thread while
    catching up (see `LogFollower.lines`)."""

    def __init__(self, path: Path, start: Position | None, from_start: bool) -> None:
        self._path = path
        self._start = start
        self._skip_existing = not from_start and start is None
        self._file: BinaryIO | None = None
        self._dev = self._ino = 0
        self._base = 0  # file offset where the line buffer started
        self._read = 0  # file offset of the next read
        self._buf = LineBuffer()
        self._fingerprint = b""
        self._waiting: str | None = None  # what was logged about the wait going on
        self.waiting: WaitReason | None = None  # why the log cannot be read now, if known

    @property
    def position(self) -> Position | None:
        if self._file is None:
            return self._start
        return Position(self._dev, self._ino, self._base + self._buf.consumed)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def step(self) -> tuple[list[str], bool]:
        """Read one chunk; return the lines it completes and whether to call again at once."""
        try:
            return self._step()
        except OSError as exc:
            # A read error (NFS hiccup, permissions changed): reopen later at the last line end.
            log.warning("cannot read %s (%s); retrying", self._path, exc)
            self._start = self.position
            self.close()
            self._file = None
            return [], False

    def _step(self) -> tuple[list[str], bool]:
        opened = self._file is not None or self._open()
        self._skip_existing = False  # only a file present at start has old content to skip
        if not opened:
            return [], False
        if self._truncated():
            log.info("%s was truncated; reading it again from the start", self._path)
            self._reset(0)
        data = self._read_chunk()
        if data:
            # A short read reached the end: the next wake-up or poll looks for more (and for a
            # rotation), which saves a thread hand-off per write on a busy log.
            return self._buf.feed(data), len(data) == CHUNK_SIZE
        return self._at_eof()

    def _open(self) -> bool:
        if kind := not_a_file(self._path):  # replaced after start: opening a FIFO would block
            message = f"cannot open %s: it is {kind}, not a regular file; retrying"
            self._log_wait(message, WaitReason.NOT_REGULAR)
            return False
        file = self._open_rotated_start() if self._start else None
        try:
            file = file or open(self._path, "rb", buffering=0)  # noqa: SIM115 - held across steps
        except FileNotFoundError:
            self._log_wait("waiting for %s to appear", WaitReason.MISSING, logging.INFO)
            return False
        except OSError as exc:
            denied = WaitReason.PERMISSION if isinstance(exc, PermissionError) else None
            self._log_wait(f"cannot open %s ({exc.strerror or exc}); retrying", denied)
            return False
        st = os.fstat(file.fileno())
        self._file, self._dev, self._ino = file, st.st_dev, st.st_ino
        offset = self._initial_offset(st.st_size)
        self._start, self._waiting, self.waiting = None, None, None
        self._reset(offset)
        log.info("following %s from byte %d", file.name, offset)
        return True

    def _open_rotated_start(self) -> BinaryIO | None:
        """The file the checkpoint points into, if it was renamed beside the log."""
        assert self._start is not None
        want = (self._start.device, self._start.inode)
        try:
            st = os.stat(self._path)
            if (st.st_dev, st.st_ino) == want:
                return None
        except OSError:
            pass
        try:
            for entry in os.scandir(self._path.parent):
                if entry.name.startswith(self._path.name) and entry.name != self._path.name:
                    est = entry.stat(follow_symlinks=False)
                    if (est.st_dev, est.st_ino) == want:
                        log.info("resuming in rotated file %s", entry.path)
                        return open(entry.path, "rb", buffering=0)  # noqa: SIM115
        except OSError:
            pass
        return None

    def _initial_offset(self, size: int) -> int:
        start = self._start
        if start and (start.device, start.inode) == (self._dev, self._ino):
            if start.offset <= size:
                return start.offset
            log.info("%s is shorter than its checkpoint; reading it from the start", self._path)
        elif start:
            log.info("%s is not the checkpointed file; reading it from the start", self._path)
        return size if self._skip_existing else 0

    def _reset(self, offset: int) -> None:
        assert self._file is not None
        self._file.seek(offset)
        self._base = self._read = offset
        self._fingerprint = os.pread(self._file.fileno(), min(offset, _FINGERPRINT), 0)
        # Past the start, the file's byte-order mark (UTF-16 logs) is not in what is read.
        self._buf = LineBuffer(head=self._fingerprint[:4] if offset else None)

    def _read_chunk(self) -> bytes:
        assert self._file is not None
        data = self._file.read(CHUNK_SIZE)
        if self._read < _FINGERPRINT:
            self._fingerprint += data[: _FINGERPRINT - self._read]
        self._read += len(data)
        return data

    def _truncated(self) -> bool:
        assert self._file is not None
        fd = self._file.fileno()
        if os.fstat(fd).st_size < self._read:
            return True
        fp = self._fingerprint
        return bool(fp) and os.pread(fd, len(fp), 0) != fp

    def _at_eof(self) -> tuple[list[str], bool]:
        assert self._file is not None
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            # Still read to its end: what the writer adds to the open file is not lost.
            self._log_wait("%s was removed; waiting for it to be recreated", None, logging.INFO)
            return [], False
        except OSError:
            return [], False
        deleted = os.fstat(self._file.fileno()).st_nlink == 0
        if not deleted and (st.st_dev, st.st_ino) == (self._dev, self._ino):
            return [], False
        # Rotated: finish the old file (the writer may have appended since our last read).
        lines: list[str] = []
        while data := self._read_chunk():
            lines += self._buf.feed(data)
        lines += self._buf.flush()
        self._file.close()
        self._file = None
        log.info("%s was rotated; following the new file", self._path)
        self._open()
        return lines, True

    def _log_wait(
        self, message: str, reason: WaitReason | None, level: int = logging.WARNING
    ) -> None:
        """Say once why the log cannot be read (again if that changes): a log that does not
        exist yet is the ordinary wait for a training about to start (INFO); one that cannot
        be read must be fixed by someone (WARNING)."""
        self.waiting = reason
        if self._waiting != message:
            log.log(level, message, self._path)
            self._waiting = message


class LogFollower:
    """Async follower of one log file; `lines()` yields batches of complete lines, in order.

    Checkpoints are at-least-once: the position after a batch is saved (at most every
    `checkpoint_every_s`, and on stop) only once the consumer asks for the next batch, so a
    crash may hand the last batch out again but never skips one. After `stop()` the pending
    `lines()` iteration ends cleanly, having saved the position. One follower runs once.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        store: OffsetStore | None = None,
        from_start: bool = True,
        poll_interval_s: float = 0.25,
        checkpoint_every_s: float = 1.0,
        use_inotify: bool = True,
        on_wait: Callable[[WaitReason | None], Awaitable[None]] | None = None,
    ) -> None:
        """`on_wait`: told why the log cannot be read when that changes (None: it can)."""
        self._path = Path(path)
        self._on_wait = on_wait
        self._key = str(self._path.resolve())  # the key the service uses for this log too
        self._store = store
        self._from_start = from_start
        self._poll_interval_s = poll_interval_s
        self._checkpoint_every_s = checkpoint_every_s
        self._use_inotify = use_inotify
        self._stopped = False
        self._folder_awaited = False  # the log's folder was missing: watch it once it exists
        self._gathering = False  # the log is busy: reads are MIN_READ_GAP_S apart
        self._last_lines = -math.inf  # monotonic time of the last read that found lines
        self._wake = asyncio.Event()
        self._delivered: Position | None = None
        self._saved: Position | None = None
        self._handed: Position | None = None  # after the last batch handed out

    @property
    def position(self) -> Position | None:
        """Position after the last batch the consumer has finished with."""
        return self._delivered

    @property
    def handed_out(self) -> Position | None:
        """Position after the last batch handed out, whether or not the consumer finished
        with it (one that failed on a batch goes on after it: its lines were folded)."""
        return self._handed

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def lines(self) -> AsyncGenerator[list[str], None]:
        if self._store is not None:
            self._delivered = self._saved = await self._store.load_offset(self._key)
        cursor = _Cursor(self._path, self._delivered, self._from_start)
        changes = self._watch() if self._use_inotify else None
        last_save = time.monotonic()
        more = True
        waiting: WaitReason | None = None
        try:
            while not self._stopped:
                self._wake.clear()
                # Catching up, a step reads a whole chunk: off the loop. At the live edge it
                # reads the few bytes just written, cheaper than the thread hand-off itself.
                batch, more = await asyncio.to_thread(cursor.step) if more else cursor.step()
                read_at = time.monotonic()
                if cursor.waiting != waiting and self._on_wait is not None:
                    waiting = cursor.waiting
                    await self._on_wait(waiting)
                if batch:
                    self._handed = cursor.position
                    yield batch
                self._delivered = cursor.position
                if time.monotonic() - last_save >= self._checkpoint_every_s:
                    await self._checkpoint()
                    last_save = time.monotonic()
                if more or self._stopped:
                    continue
                if changes is None and self._folder_awaited:
                    changes = self._watch()
                await self._until_more(changes, bool(batch), read_at)
        finally:
            if changes is not None:
                changes.close()
            await self._checkpoint()
            await asyncio.to_thread(cursor.close)

    async def _until_more(self, changes: _Changes | None, found: bool, read_at: float) -> None:
        """Wait for the next read. A busy log (lines again less than MIN_READ_GAP_S after the
        last ones, or found by a gathered read) gathers; otherwise until a change or the poll:
        a line after a quiet spell is read at once."""
        busy = self._gathering or read_at - self._last_lines < MIN_READ_GAP_S
        self._gathering = found and busy
        if found:
            self._last_lines = read_at
        if self._gathering and changes is not None:
            await self._gather(changes)
        elif changes is not None:  # with file notifications working, the poll is a safety net
            await self._wait(max(SAFETY_POLL_S, self._poll_interval_s))
        else:
            await self._wait(self._poll_interval_s)

    async def _wait(self, timeout_s: float) -> None:
        """Until the log changes, `timeout_s` at most, or `stop()`."""
        with suppress(TimeoutError):  # asyncio.timeout: no task per wait
            async with asyncio.timeout(timeout_s):
                await self._wake.wait()

    async def _gather(self, changes: _Changes) -> None:
        """The log is busy: let MIN_READ_GAP_S of its next lines gather, notifications off,
        and read them together; one wake-up for them all, not one per write."""
        changes.pause()
        try:
            await self._wait(MIN_READ_GAP_S)
        finally:
            changes.resume()

    def _watch(self) -> _Changes | None:
        """File notifications, or None (then the follower polls). A folder that does not exist
        yet (`watch out/train.log` before the training made `out/`) is tried again at each
        poll, so notifications start once it appears."""
        try:
            changes = _Changes(self._path, self._wake)
        except FileNotFoundError:
            if not self._folder_awaited:
                log.info("%s does not exist yet: polling until it does", self._path.parent)
            self._folder_awaited = True
            return None
        except OSError as exc:
            log.info(
                "no file notifications for %s (%s); polling every %.2f s",
                self._path,
                exc,
                self._poll_interval_s,
            )
            return None
        if self._folder_awaited:
            log.info("%s appeared: file notifications from now on", self._path.parent)
            self._folder_awaited = False
        return changes

    async def _checkpoint(self) -> None:
        pos = self._delivered
        if self._store is None or pos is None or pos == self._saved:
            return
        try:
            await self._store.save_offset(self._key, pos)
        except Exception as exc:  # a failing store must not stop the follower
            log.warning("could not save the offset of %s: %s", self._path, exc)
            return
        self._saved = pos


class _Changes:
    """inotify on the log's folder, its descriptor watched by the event loop's own epoll: no
    thread, no timer, nothing runs while the log is quiet. `wake` is set when the log is
    written, truncated, created, renamed or deleted (Linux only)."""

    def __init__(self, path: Path, wake: asyncio.Event) -> None:
        """OSError where there are none: another OS, no such folder yet, the user's inotify
        instances or watches used up."""
        if not sys.platform.startswith("linux"):
            raise OSError("inotify is Linux only")
        self._inotify = INotify(nonblocking=True)
        try:
            self._inotify.add_watch(path.parent, _CHANGES)
        except OSError:
            self._inotify.close()
            raise
        self._name, self._wake = path.name, wake
        self._fd = self._inotify.fileno()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._changed)

    def _changed(self) -> None:
        # A full kernel queue lost events: wake, to be sure nothing is missed.
        events = self._inotify.read(timeout=0)
        if any(e.name == self._name or e.mask & flags.Q_OVERFLOW for e in events):
            self._wake.set()

    def pause(self) -> None:
        """No wake-ups until `resume()`; the kernel keeps queueing the changes."""
        self._loop.remove_reader(self._fd)

    def resume(self) -> None:
        """Drop the changes queued meanwhile (the caller reads next) and watch again."""
        self._inotify.read(timeout=0)
        self._loop.add_reader(self._fd, self._changed)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        self._inotify.close()
