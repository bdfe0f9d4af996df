"""Split a byte stream into text lines, the way a terminal user would see them.

`\\n`, `\\r\\n` and a bare `\\r` all end a line, so each tqdm redraw (`\\r 45%|...`) is a line
of its own. Empty lines carry nothing for a parser and are dropped; this is also what makes a
`\\r\\n` pair one terminator even when the `\\r` ends one chunk and the `\\n` starts the next.

Bytes are decoded as UTF-8 with replacement, only up to the last terminator of a chunk: a
multi-byte character split across chunks stays as bytes until it is whole. A line longer than
`max_line` characters is cut to `max_line` and the rest of it is skipped without being held in
memory: an unfinished line keeps at most `4 * max_line` bytes, which always decode to at least
`max_line` characters, so the cut does not depend on how the input was chunked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE = 64 * 1024


class LineBuffer:
    """Incremental line splitter; `feed` and `flush` never raise."""

    __slots__ = ("_max_line", "_keep", "_pending", "_skipping", "_held", "_total")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max_line = max_line
        self._keep = 4 * max_line + 4
        self._pending = b""  # start of the unfinished line, at most `_keep` bytes
        self._skipping = False  # the unfinished line overflowed: drop bytes until a terminator
        self._held = 0  # bytes of the unfinished line seen so far (kept or dropped)
        self._total = 0

    @property
    def consumed(self) -> int:
        """Bytes fed so far that belong to complete lines (a safe resume offset)."""
        return self._total - self._held

    @property
    def pending(self) -> int:
        """Bytes of the unfinished line seen so far."""
        return self._held

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the lines they complete, in order."""
        self._total += len(data)
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if cut == 0:
            self._hold(data)
            return []
        head = data[:cut] if cut < len(data) else data
        first: list[str] = []
        if self._skipping:
            # The overflowed line ends at the first terminator of this chunk.
            first = [self._decode(self._pending)]
            head = head[_first_terminator(head) :]
            self._pending, self._skipping = b"", False
        elif self._pending:
            head = self._pending + head
            self._pending = b""
        self._held = 0
        lines = first + self._split(head)
        if cut < len(data):
            self._hold(data[cut:])
        return lines

    def flush(self) -> list[str]:
        """Return the unfinished line, if any, as a line (at end of input)."""
        line = self._pending
        self._pending, self._skipping, self._held = b"", False, 0
        return [self._decode(line)] if line else []

    def _hold(self, data: bytes) -> None:
        self._held += len(data)
        if self._skipping:
            return
        room = self._keep - len(self._pending)
        if len(data) > room:
            self._pending += data[:room]
            self._skipping = True
        else:
            self._pending += data

    def _split(self, head: bytes) -> list[str]:
        text = head.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r", "\n")
        parts = text.split("\n")
        # A chunk's text is longer than any line in it, so most chunks skip the per-line check.
        if len(text) > self._max_line and max(map(len, parts)) > self._max_line:
            parts = [p[: self._max_line] for p in parts]
        return [p for p in parts if p]

    def _decode(self, line: bytes) -> str:
        return line.decode("utf-8", "replace")[: self._max_line]


def _first_terminator(data: bytes) -> int:
    positions = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    return min(positions)


def iter_lines(f: BinaryIO, chunk_size: int = 1 << 20) -> Iterator[str]:
    """Yield the lines of a binary file, reading it `chunk_size` bytes at a time."""
    buf = LineBuffer()
    while chunk := f.read(chunk_size):
        yield from buf.feed(chunk)
    yield from buf.flush()
