"""The console: where notifications go when there is no Telegram token (and always, too)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bot.messages import to_plain


class Console:
    """Prints each notification as plain text, with the local time and the run's name."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def show(self, run: str, html: str, wall_s: float) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(wall_s))
        text = to_plain(html).replace("\n", "\n    ")
        stream = self._stream or sys.stdout
        stream.write(f"[{stamp}] {run}\n    {text}\n\n")
        stream.flush()
