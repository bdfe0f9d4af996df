"""The console: where notifications go when there is no Telegram token (and always, too), and
the live line, one per run, redrawn in place on a terminal.

The live line goes to stderr, and only when stderr is a terminal (not TERM=dumb): stdout
keeps the notifications and, for `etagram run`, the training's own output, byte for byte. Any
other output (a notification, a log record, the training's output) clears the live lines
first and draws them again after, once its cursor is back at the start of a line: a line the
training has not finished (a tqdm bar redrawn with \\r) is never written into.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from typing import BinaryIO, TextIO, cast

from bot.messages import to_plain

_CLEAR_LINE = "\r\x1b[K"
_UP_CLEAR = "\x1b[1A\x1b[K"
_MIN_COLUMNS = 20
_DEFAULT_SIZE = os.terminal_size((80, 24))


class Console:
    """Prints each notification as plain text, with the local time and the run's name; keeps
    the live lines (`live`: the terminal they are drawn on, None: none)."""

    def __init__(self, stream: TextIO | None = None, *, live: TextIO | None = None) -> None:
        self._stream = stream
        self.live = live
        self._lines: list[str] = []  # what the live lines say now
        self._shown = 0  # live lines on the screen
        self._midline = False  # the last output did not end its line: draw nothing now
        self.lock = threading.RLock()  # log records may come from worker threads

    @classmethod
    def for_terminal(cls, stream: TextIO | None = None) -> Console:
        """The console of a command run by a person: live lines when stderr is a terminal;
        notifications on `stream` (None: stdout)."""
        tty = sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"
        return cls(stream, live=sys.stderr if tty else None)

    def show(self, run: str, html: str, wall_s: float) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(wall_s))
        text = to_plain(html).replace("\n", "\n    ")
        stream = self._stream or sys.stdout
        with self.lock:
            self.before_output(stream)
            stream.write(f"[{stamp}] {run}\n    {text}\n\n")
            stream.flush()
            self.after_output(ended_line=True)

    def draw(self, lines: list[str]) -> None:
        """Show `lines` as the live lines (the caller paces this: twice a second at most)."""
        if self.live is None:
            return
        with self.lock:
            if lines == self._lines and self._shown:
                return
            self._lines = list(lines)
            self._erase()
            self._draw()

    def close(self) -> None:
        """Take the live lines off the screen (etagram is leaving)."""
        with self.lock:
            self._erase()
            self._lines = []

    def rows(self) -> int:
        """How many live lines the terminal has room for."""
        return max(1, self._size().lines - 2)

    def tee(self, out: BinaryIO) -> BinaryIO:
        """`out` (the training's output on the terminal) with the live lines kept clear of it;
        `out` itself when they are not on the same terminal."""
        if self.live is None or not _is_terminal(out):
            return out
        # What the tee calls of its terminal: write and flush.
        return cast(BinaryIO, _Interleaved(self, out))

    def guard_logging(self) -> None:
        """Log records written to the live lines' terminal clear them first."""
        if self.live is None:
            return
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.live:
                handler.setStream(_Guarded(self, self.live))

    # What every writer to the terminal calls around its output (holding `lock`) ---------
    def before_output(self, stream: TextIO | None = None) -> None:
        """The live lines off; `stream` (etagram's own text) starts a line of its own even
        when the training left one unfinished."""
        self._erase()
        if stream is not None and self._midline:
            stream.write("\n")
            self._midline = False

    def after_output(self, *, ended_line: bool) -> None:
        """The live lines back, unless the output left its line unfinished."""
        self._midline = not ended_line
        self._draw()

    # Drawing -------------------------------------------------------------------------
    def _erase(self) -> None:
        if self.live is None or not self._shown:
            return
        self._write(_CLEAR_LINE + _UP_CLEAR * (self._shown - 1))
        self._shown = 0

    def _draw(self) -> None:
        if self.live is None or self._shown or self._midline or not self._lines:
            return
        size = self._size()
        # A line as wide as the terminal would wrap, and the cursor-up would miss it.
        width = max(_MIN_COLUMNS, size.columns - 1)
        lines = [_fit(line, width) for line in self._lines[: max(1, size.lines - 2)]]
        self._write("\n".join(lines))
        self._shown = len(lines)

    def _write(self, text: str) -> None:
        assert self.live is not None
        try:
            self.live.write(text)
            self.live.flush()
        except (OSError, ValueError):  # a closed terminal: no more live lines
            self.live = None

    def _size(self) -> os.terminal_size:
        try:
            assert self.live is not None
            size = os.get_terminal_size(self.live.fileno())
        except (OSError, ValueError, AssertionError, io.UnsupportedOperation):
            return _DEFAULT_SIZE
        return size if size.columns > 0 and size.lines > 0 else _DEFAULT_SIZE  # 0: unknown


def _is_terminal(stream: BinaryIO) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


class _Interleaved:
    """The training's bytes, as they are, with the live lines taken off before them."""

    def __init__(self, console: Console, out: BinaryIO) -> None:
        self.console, self.out = console, out

    def flush(self) -> None:
        self.out.flush()

    def write(self, data: bytes) -> int:
        with self.console.lock:
            self.console.before_output()
            self.out.write(data)
            self.out.flush()
            if data:
                self.console.after_output(ended_line=data.endswith(b"\n"))
        return len(data)


class _Guarded(io.TextIOBase):
    """A log handler's stream (the terminal of the live lines): a record clears them first."""

    def __init__(self, console: Console, stream: TextIO) -> None:
        self.console, self.stream = console, stream

    def write(self, text: str) -> int:
        with self.console.lock:
            self.console.before_output(self.stream)
            self.stream.write(text)
            self.stream.flush()
            if text:
                self.console.after_output(ended_line=text.endswith("\n"))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
