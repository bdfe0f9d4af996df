"""Split a byte stream into text lines, the way a terminal user would see them.

`\\n`, `\\r\\n` and a bare `\\r` all end a line, so each tqdm redraw (`\\r 45%|...`) is a line
of its own. Empty lines carry nothing for a parser and are dropped; this is also what makes a
`\\r\\n` pair one terminator even when the `\\r` ends one chunk and the `\\n` starts the next.

Bytes are decoded as UTF-8 with replacement by an incremental decoder, so a multi-byte
character split across chunks decodes whole. A byte-order mark at the start of the stream picks
the encoding instead: UTF-16 LE or BE (a Windows PowerShell `>` redirect writes UTF-16 LE), or
UTF-8; the mark itself is not part of the first line. A buffer that starts past the start of a
file (a resume at a saved offset) is given the file's first bytes as `head` to find the mark.
A line longer than `max_line` characters is cut to `max_line` and the rest of it is skipped
without being held in memory.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE = 64 * 1024
# Large inputs are split in slices this big: one non-ASCII character makes Python store its
# whole decoded slice (and every line split from it) as 2 or 4 bytes a character, so smaller
# slices keep most of a mostly-ASCII log on the fast 1-byte path (1.5x faster on real logs).
_SLICE = 32 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def bom_encoding(head: bytes) -> tuple[str, int]:
    """The encoding the byte-order mark at the start of `head` names, and the mark's length;
    UTF-8 and 0 without a mark."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    return "utf-8", 0


class LineBuffer:
    """Incremental line splitter; `feed` and `flush` never raise."""

    __slots__ = (
        *("_max_line", "_decoder", "_pending", "_skipping", "_held", "_total"),
        *("_sniffed", "_wide", "_head"),
    )

    def __init__(self, max_line: int = MAX_LINE, head: bytes | None = None) -> None:
        self._max_line = max_line
        self._sniffed = False  # the encoding is known (from `head` or the first bytes fed)
        self._wide = False  # UTF-16: terminators are found in the text, not the bytes
        self._head = b""  # first bytes that may still be the start of a mark
        self._decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-8")("replace")
        if head is not None:
            self._set_encoding(bom_encoding(head)[0])
        self._pending = ""  # start of the unfinished line, at most max_line characters
        self._skipping = False  # the unfinished line overflowed: drop text until a terminator
        self._held = 0  # bytes of the unfinished line seen so far (kept or dropped)
        self._total = 0

    @property
    def consumed(self) -> int:
        """Bytes fed so far that belong to complete lines (a safe resume offset)."""
        return self._total - self._held

    @property
    def pending(self) -> int:
        """Bytes of the unfinished line seen so far."""
        return self._held + len(self._head)

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the lines they complete, in order."""
        if not self._sniffed:
            data = self._head + data
            if len(data) < 3 and any(bom.startswith(data) for bom, _ in _BOMS):
                self._head = data  # too short to tell: wait for more
                return []
            self._head = b""
            data = self._skip_bom(data)
        if len(data) <= _SLICE:
            return self._feed(data)
        lines: list[str] = []
        for start in range(0, len(data), _SLICE):
            lines += self._feed(data[start : start + _SLICE])
        return lines

    def _set_encoding(self, encoding: str) -> None:
        self._sniffed, self._wide = True, encoding.startswith("utf-16")
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")

    def _skip_bom(self, data: bytes) -> bytes:
        """The first bytes: set the encoding their mark names and drop the mark (counted)."""
        encoding, size = bom_encoding(data)
        self._set_encoding(encoding)
        self._total += size
        return data[size:]

    def _feed(self, data: bytes) -> list[str]:
        self._total += len(data)
        text = self._decoder.decode(data)
        if self._wide:
            cut = max(text.rfind("\n"), text.rfind("\r")) + 1
            held = self._wide_bytes(text[cut:])
        else:
            # Terminators are ASCII, so the last one in the bytes is the last one in the text.
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            held = len(data) - cut
        if cut == 0:
            self._held += len(data)
            self._hold(text)
            return []
        self._held = held
        if "\r" in text:
            text = text.replace("\r", "\n")
        parts = text.split("\n")
        tail = parts.pop()
        # The first part ends the line held so far; an overflowed one is already cut.
        if self._skipping:
            parts[0] = self._pending
        elif self._pending:
            parts[0] = self._pending + parts[0]
        self._pending, self._skipping = "", False
        self._hold(tail)
        limit = self._max_line
        # A chunk's text is longer than any line in it, so most chunks skip the per-line check.
        if len(text) + len(parts[0]) > limit and max(map(len, parts)) > limit:
            parts = [p[:limit] for p in parts]
        return list(filter(None, parts))

    def _wide_bytes(self, tail: str) -> int:
        """UTF-16 bytes of `tail` and of what the decoder holds undecoded."""
        return (
            2 * len(tail) + sum(c > "\uffff" for c in tail) * 2 + len(self._decoder.getstate()[0])
        )

    def flush(self) -> list[str]:
        """Return the unfinished line, if any, as a line (at end of input)."""
        if self._head:
            self._sniffed = True
            self._feed(self._head)
            self._head = b""
        self._hold(self._decoder.decode(b"", final=True))
        line = self._pending
        self._pending, self._skipping, self._held = "", False, 0
        return [line] if line else []

    def _hold(self, text: str) -> None:
        if self._skipping or not text:
            return
        self._pending += text
        if len(self._pending) > self._max_line:
            self._pending = self._pending[: self._max_line]
            self._skipping = True


def iter_lines(f: BinaryIO, chunk_size: int = 1 << 20) -> Iterator[str]:
    """Yield the lines of a binary file, reading it `chunk_size` bytes at a time."""
    buf = LineBuffer()
    while chunk := f.read(chunk_size):
        yield from buf.feed(chunk)
    yield from buf.flush()
