"""Catch-up: a long backlog folded at speed, to the state the line-by-line path gives.

A restart re-reads the log, and a run found late is read from its start: millions of lines,
nearly all of them the format's progress line. For the formats below, one compiled regex
over a whole batch of lines finds, in one call, the lines of that exact shape (every
character checked: numbers where numbers go, the format's own words elsewhere, so no failure
word, escape or stray text can hide in one) and splits the batch into runs of them. Every
other line goes through the parser and `RunState.apply` as a live line does. A run is
folded in pieces by `RunMonitor.apply_steady`, which gives what applying each line would
(whatever came before it: an eval pending in the estimator, a pause in the slowdown
tracker), or declines when any line of the piece might say something (a spike, a slowdown,
a finish, a resume...): that piece then goes line by line too. Nothing that could alert is
ever folded here. A format's own lines that its parser reads nothing from (llm.c's
`evaluating HellaSwag: 10/1256`, a third of its lines; build-nanogpt's `rank 0 sample 1:
<generated text>` and `HellaSwag accuracy: 2497/10042=0.2487`) are checked for failure
words, then only go through auto-detection's bookkeeping (`AutoParser.pass_unread`).

Inside a piece, the work per line is done in C where it can be: the run clock by
`accumulate`, the estimator's blocks and the slowdown tracker's chunks closed at the lines
where their running sums reach their limits (`sums.reach`: bisection on the clock, then the
same additions in the same order), the loss history by slices; Python steps once per block,
chunk or kept point. The sums are the line-by-line path's own, so the fold agrees with it to
the bit (the issue allows 0.1 % on the clock and the ETA).

The service folds its backlog here, all but the last chunk before the live edge
(`LogLines.catch_up`); live lines always go line by line. tests/core/test_catchup.py checks,
on real, edited and generated logs, that the notices are those of the line-by-line path and
the state is too (run clock and ETA within 0.1 %, the rest identical).

Shapes read here (sample lines in the parser modules' docstrings):

    step    1/19560 | loss 11.009662 (+nanz)| norm 15.0789 (+nanz)| lr 8.57e-07 | 4230.95 ms \
        | 31.9% bf16 MFU | 123917 tok/s                                    (llm.c, `llmc`)
    step     1 | loss: 10.902707 | lr 1.6783e-06 | norm: 14.8630 | dt: 410.25ms \
        | tok/sec: 1277966.93                                       (build-nanogpt, `llmc`)
    iter 10: loss 3.9133, time 6704.74ms, mfu 2.23%                  (nanoGPT, `nanogpt`)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import truediv
from typing import Protocol

from bot.core.notices import Folded
from bot.core.parsers import errors
from bot.core.parsers.base import LineParser, clean
from bot.core.parsers.registry import AutoParser


class RunMonitor(Protocol):
    """What catch-up needs of bot/core/monitor.py's RunMonitor (which calls it)."""

    lines_caught_up: int

    @property
    def parser(self) -> LineParser: ...

    def feed(self, lines: Sequence[str], wall_s: float) -> Folded: ...

    def apply_steady(
        self,
        iters: list[int],
        losses: list[float],
        dts: list[float],
        total: int | None,
        wall_s: float,
    ) -> bool: ...


PIECE = 512  # lines folded at once: large enough to amortise, small enough to stay calm
SMALL_PIECE = 64  # a piece that may say something is tried again in pieces this small
MIN_LINES = 64  # a smaller batch is not worth the regex: line by line

_NUM = r"\d+\.\d+"
_SCI = r"\d\.\d+e[-+]\d+"
_Z = r"\((?:[-+]\d+\.\d+|\+nan)z\)"


@dataclass(frozen=True)
class Shape:
    """A progress line: `rows` finds, for every line of a batch joined by newlines, its
    groups (iter, total, loss, dt in ms) when it is one, then a fifth group, not empty for
    an unread line (one the parser reads nothing from and no format scores), or empty
    strings. `probe` is text that only this shape's progress lines hold."""

    probe: str
    rows: re.Pattern[str]


def _shape(probe: str, line: str, unread: str = "(?!)") -> Shape:
    rows = f"^(?:{line}|(?=.)({unread})|.*)$"
    # Every `\d+` and ` +` of these shapes is followed by a character it cannot match, so
    # giving characters back never finds a match that keeping them misses: possessive
    # repeats, which keep no state to give back, find the same rows in 3/4 of the time.
    possessive = rows.replace(r"\d+", r"\d++").replace(" +", " ++")
    return Shape(probe, re.compile(possessive, re.M))


_LLMC = _shape(
    " ms | ",
    rf"step +(\d+)/(\d+) \| loss ({_NUM}) {_Z}\| norm {_NUM} {_Z}\| lr {_SCI} "
    rf"\| ({_NUM}) ms \| -?{_NUM}% (?:bf16|fp16|fp32) MFU \| \d+ tok/s",
    r"evaluating HellaSwag: \d+/\d+",  # its eval's counter, redrawn with `\r`
)
_BUILD = _shape(
    " | dt: ",
    rf"step +(\d+)() \| loss: ({_NUM}) \| lr {_SCI} \| norm: {_NUM} \| dt: ({_NUM})ms "
    rf"\| tok/sec: {_NUM}",
    # The text it generates at each eval, on every rank, and its HellaSwag score.
    r"rank \d+ sample \d+: .*|HellaSwag accuracy: \d+/\d+=\d+\.\d+",
)
_NANOGPT = _shape(", time ", rf"iter (\d+)(): loss ({_NUM}), time ({_NUM})ms, mfu -?{_NUM}%")
SHAPES: dict[str, tuple[Shape, ...]] = {"llmc": (_LLMC, _BUILD), "nanogpt": (_NANOGPT,)}


def fold(monitor: RunMonitor, lines: Sequence[str], wall_s: float) -> Folded:
    """What `monitor.feed(lines, wall_s)` does, at speed where the lines allow."""
    folded: Folded = []
    start = 0
    while _format(monitor) is None and start < len(lines):
        # Auto-detection holds the first lines back until it is sure: they go one by one.
        folded += monitor.feed(lines[start : start + MIN_LINES], wall_s)
        start += MIN_LINES
    return folded + _fold_known(monitor, lines[start:], wall_s)


def _fold_known(monitor: RunMonitor, lines: Sequence[str], wall_s: float) -> Folded:
    fmt = _format(monitor)
    shapes = SHAPES.get(fmt or "", ()) if len(lines) >= MIN_LINES else ()
    text = "\n".join(lines) if shapes else ""
    shape = next((s for s in shapes if s.probe in text), None)
    rows = shape.rows.findall(text) if shape is not None else []
    if not rows or len(rows) != len(lines):  # no such line, or one the join did not keep
        return monitor.feed(lines, wall_s)
    iters, totals, losses, dts, unread = zip(*rows, strict=True)  # tuples: index() is fast
    folded: Folded = []
    start = 0
    while start < len(lines):
        end = _run_end(iters, start)
        if end > start:
            columns = (iters, totals, losses, dts)
            folded += _fold_run(monitor, fmt, lines, columns, range(start, end), wall_s)
            start = end
            continue
        # Unread lines, or other lines, up to the next progress line.
        kind = bool(unread[start])
        while end < len(lines) and not iters[end] and bool(unread[end]) is kind:
            end += 1
        if not (kind and _format(monitor) == fmt and _pass_unread(monitor, lines[start:end])):
            folded += monitor.feed(lines[start:end], wall_s)
        start = end
    return folded


def _fold_run(
    monitor: RunMonitor,
    fmt: str | None,
    lines: Sequence[str],
    columns: tuple[Sequence[str], ...],
    run: range,
    wall_s: float,
) -> Folded:
    """A run of progress lines, in pieces at speed where the state allows; a piece that
    may say something is tried again in small pieces, and those that may go line by
    line."""
    folded: Folded = []
    for piece in range(run.start, run.stop, PIECE):
        stop = min(piece + PIECE, run.stop)
        if _format(monitor) == fmt and _steady(monitor, lines, columns, piece, stop, wall_s):
            continue
        for small in range(piece, stop, SMALL_PIECE):
            small_stop = min(small + SMALL_PIECE, stop)
            if _format(monitor) != fmt or not _steady(
                monitor, lines, columns, small, small_stop, wall_s
            ):
                folded += monitor.feed(lines[small:small_stop], wall_s)
    return folded


def _format(monitor: RunMonitor) -> str | None:
    parser = monitor.parser
    return parser.format if isinstance(parser, AutoParser) else parser.name


def _run_end(iters: Sequence[str], start: int) -> int:
    """The end of the run of progress lines at `start` (`start` itself when there is none)."""
    try:
        return iters.index("", start)
    except ValueError:
        return len(iters)


def _pass_unread(monitor: RunMonitor, lines: Sequence[str]) -> bool:
    """Lines the parser reads nothing from, unless one reports a failure (a sample of
    generated text may say anything): only auto-detection keeps track of them."""
    text = "\n".join(lines)
    # Each failure word looked for once over the batch; escapes and NULs, which `clean`
    # drops (and may so join a word), send it line by line.
    if (errors.may_report(text) or "\x1b" in text or "\x00" in text) and any(
        errors.with_errors([], clean(line)) for line in lines
    ):
        return False
    parser = monitor.parser
    return parser.pass_unread(lines) if isinstance(parser, AutoParser) else True


def _steady(
    monitor: RunMonitor,
    lines: Sequence[str],
    columns: tuple[Sequence[str], ...],
    start: int,
    stop: int,
    wall_s: float,
) -> bool:
    """Fold lines[start:stop], progress lines of the shape, at once if the state allows."""
    iter_col, total_col, loss_col, dt_col = (col[start:stop] for col in columns)
    iters = list(map(int, iter_col))
    losses = list(map(float, loss_col))
    dts = list(map(truediv, map(float, dt_col), repeat(1000)))  # as the parser: ms / 1000
    if not math.isfinite(sum(dts)) or total_col.count(total_col[0]) != len(total_col):
        return False
    total = int(total_col[0]) if total_col[0] else None
    if not monitor.apply_steady(iters, losses, dts, total, wall_s):
        return False
    # The parser's own state after these lines is what the last one leaves.
    monitor.parser.feed_many((lines[stop - 1],))
    monitor.lines_caught_up += stop - start
    return True
