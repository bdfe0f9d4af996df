"""`etagram replay LOG --jsonl`: a finished log through the core at full speed.

One JSON object per line (schema in docs/replay.md): `progress` for every progress line with the
estimate made from the lines up to it, `eval`, `alert` (with `line`, the 1-based number of the
log line being read when the alert was raised, counted as `grep -n` counts), and `end` last.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from bot.core.events import Eval, Event, Progress
from bot.core.linebuf import LineBuffer
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, Notice
from bot.core.parsers.registry import AutoParser
from bot.core.state import RunState

_READ_CHARS = 1 << 20  # a longer line is read in pieces (a 100 MB line is never held whole)


def replay(
    path: Path,
    out: IO[str],
    *,
    fmt: str | None = None,
    max_iters: int | None = None,
    max_epochs: int | None = None,
    eval_interval: int | None = None,
    progress_pattern: str | None = None,
) -> None:
    """Write the JSON lines for the log at `path` to `out`."""
    monitor = RunMonitor(
        path.name,
        fmt,
        max_iters,
        eval_interval,
        progress_pattern=progress_pattern,
        max_epochs=max_epochs,
    )
    state = monitor.state

    line_no = 0

    def emit(events: Iterable[Event], line_no: int) -> None:
        # One event at a time, each written with the state right after it: lines held back
        # while the format was uncertain come out together, each with its own t_s.
        for ev in events:
            for obj in _objects(ev, monitor.apply(ev, 0.0), state, line_no):
                out.write(json.dumps(obj, separators=(",", ":")) + "\n")

    parser = monitor.parser
    with path.open("rb") as f:
        for line_no, line in numbered_lines(f):
            emit(parser.feed_many((line,)), line_no)
    # A short log whose format was never certain.
    emit(parser.flush() if isinstance(parser, AutoParser) else [], line_no)
    for notice in monitor.end_of_log():  # a traceback that ends the log ended the run
        if isinstance(notice, Alert):
            out.write(json.dumps(_alert(notice, line_no), separators=(",", ":")) + "\n")
    end = {"kind": "end", "t_s": _num(state.t_s), "iter": state.iter}
    out.write(json.dumps(end, separators=(",", ":")) + "\n")


def numbered_lines(f: IO[bytes]) -> Iterator[tuple[int, str]]:
    """The lines `iter_lines` yields, each with the number of the file line it is on (what
    `grep -n` says: a tqdm redraw after a bare `\\r` stays on its line, blank lines count)."""
    buf = LineBuffer()
    line_no = 1
    while raw := f.readline(_READ_CHARS):
        for line in buf.feed(raw):
            yield line_no, line
        line_no += raw.endswith(b"\n")
    for line in buf.flush():
        yield line_no, line


def _objects(
    ev: Event, notices: list[Notice], state: RunState, line_no: int
) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    if isinstance(ev, Progress):
        eta = state.eta()
        objs.append(
            {
                "kind": "progress",
                "iter": ev.iter,
                "max_iters": state.total_iters,
                "t_s": _num(state.t_s),
                "eta_s": _num(eta.remaining_s),
                "eta_low_s": _num(eta.low_s),
                "eta_high_s": _num(eta.high_s),
            }
        )
    elif isinstance(ev, Eval):
        last = state.evals[-1]
        objs.append(
            {
                "kind": "eval",
                "iter": last.iter,
                "t_s": _num(state.t_s),
                "train_loss": _num(ev.train_loss),
                "val_loss": _num(ev.val_loss),
            }
        )
    objs.extend(_alert(n, line_no) for n in notices if isinstance(n, Alert))
    return objs


def _alert(n: Alert, line_no: int) -> dict[str, Any]:
    return {"kind": "alert", "type": n.type, "iter": n.iter, "t_s": _num(n.t_s), "line": line_no}


def _num(value: float | None) -> float | None:
    """JSON has no NaN: a non-finite number is written as null."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 3)
