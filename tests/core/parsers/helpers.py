"""Feeding text to parsers the way the log follower does."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from bot.core.events import Event
from bot.core.parsers.base import LineParser
from bot.core.parsers.registry import AutoParser

ROOT = Path(__file__).resolve().parents[3]
# ../shared/logs beside the repository; a worktree nested one level deeper finds it higher up.
SHARED_LOGS = next(
    (p / "shared" / "logs" for p in ROOT.parents if (p / "shared" / "logs").is_dir()),
    ROOT.parent / "shared" / "logs",
)
SHARED_LOGS2 = SHARED_LOGS.parent / "logs2"  # the second collection, with FORMATS_MANIFEST.json

_TERMINATOR = re.compile(rb"\r\n|\r|\n")


def split_lines(data: bytes) -> list[str]:
    """Split on `\\n`, `\\r\\n` and bare `\\r`, decode UTF-8 (replace): as the follower does."""
    return [raw.decode("utf-8", errors="replace") for raw in _TERMINATOR.split(data)]


def feed_all(parser: LineParser, lines: Iterable[str]) -> list[Event]:
    events: list[Event] = []
    for line in lines:
        events += parser.feed(line)
    if isinstance(parser, AutoParser):
        events += parser.flush()
    return events
