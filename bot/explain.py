"""`etagram explain LOG`: what etagram reads in a log, and why there is no ETA when there is
none, in one screen (or one JSON object with `--json`; keys in docs/explain.md).

The log is read three times: its bytes (line lengths, encoding), then exactly as `replay` reads
it (format detection, run state, alerts), then once more with the format chosen, line by line,
to find the lines that look like progress but gave nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.events import Checkpoint, Eval, Event, Progress
from bot.core.linebuf import MAX_LINE
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert
from bot.core.parsers.base import (
    MAX_YEAR,
    MIN_YEAR,
    LineParser,
    StampReader,
    clean,
    looks_binary,
)
from bot.core.parsers.generic import GenericParser
from bot.core.parsers.pattern import PatternParser
from bot.core.parsers.registry import FORMATS, make_parser
from bot.replay import numbered_lines

FIRST_SHOWN = 5
NEW_LAUNCH_FRACTION = 0.02  # a counter back under 2 % of where it was starts a new launch
INFO_ALERTS = frozenset({"started", "resumed", "finished", "new_launch"})

_FRACTION = re.compile(r"(?<![\w/.:>-])(\d+)\s*/\s*(\d+)(?![\w/.:])")
_COUNTER_WORD = re.compile(r"(?i)\b(?:step|iter(?:ation)?)\b\s*(?:[:=]\s*)?(?:\[\s*)?\d")
SHOWN_LAUNCHES = 5
_NUMBER = re.compile(r"\d+")
_YEAR = re.compile(r"\b(\d{4})[-/]\d\d[-/]\d\d[ T]\d\d:\d\d")
_TERMINATOR = re.compile(rb"[\r\n]")
_CLOCK_TRUST = ("elapsed", "timestamp", "dt", "wall")  # the run clock's order
_CLOCKS = {
    "elapsed": "the trainer's own cumulative clock (elapsed time printed on the lines)",
    "timestamp": "timestamps on the progress lines",
    "dt": "per-iteration durations printed on the lines, summed",
    "wall": "none in the log: when following live, the time lines arrive",
}


@dataclass
class Launch:
    line: int
    kind: str  # "start", "new launch" (counter back to about zero) or "resume"
    first_iter: int
    last_iter: int


@dataclass
class Explanation:
    file: str
    lines: int = 0
    format: str = "none"
    shape: str | None = None
    switches: list[tuple[int, str, str]] = field(default_factory=list)
    launches: list[Launch] = field(default_factory=list)
    total: int | None = None
    total_source: str = ""
    per_epoch: int | None = None  # the log counts epochs, this many iterations each
    clock: str = "wall"
    progress_lines: int = 0
    eval_lines: int = 0
    checkpoints: int = 0
    last_iter: int | None = None
    eta_s: float | None = None
    not_read: list[tuple[int, str]] = field(default_factory=list)
    not_read_count: int = 0
    input_notes: list[tuple[int, str]] = field(default_factory=list)
    alerts: list[tuple[str, int | None, int]] = field(default_factory=list)
    no_eta: tuple[str, str] | None = None  # (why, what to pass)
    noted: set[str] = field(default_factory=set)  # kinds of input notes made once

    def note_once(self, kind: str, line: int, text: str) -> None:
        if kind not in self.noted:
            self.noted.add(kind)
            self.input_notes.append((line, text))


def explain(
    path: Path,
    *,
    fmt: str | None = None,
    max_iters: int | None = None,
    max_epochs: int | None = None,
    progress_pattern: str | None = None,
) -> Explanation:
    """What etagram reads in the log at `path` (raises ValueError for an unknown format)."""
    report = Explanation(path.name)
    _scan_bytes(path, report)
    monitor = RunMonitor(
        path.name, fmt, max_iters, progress_pattern=progress_pattern, max_epochs=max_epochs
    )
    progress = _read_as_replay(path, monitor, report)
    _state_facts(monitor, report)
    final = fmt if progress_pattern is None else None
    parser = (
        PatternParser(progress_pattern)
        if progress_pattern
        else make_parser(final or _chosen(monitor) or "generic")
    )
    # Line by line with the format chosen, progress lines have their own line numbers (the
    # detecting parser reports the lines it held back at the line that decided).
    progress = _not_read(path, parser, report) or progress
    report.launches = launches(progress)
    report.no_eta = _why_no_eta(report, fmt, progress_pattern)
    return report


def launches(progress: list[tuple[int, int]]) -> list[Launch]:
    """Launches from (line, iteration) of each progress line: a counter that goes back to
    about zero (to where the first launch began, or under 2 % of where it was) starts a new
    launch, one that goes back part of the way is a resume."""
    found: list[Launch] = []
    for line, it in progress:
        if not found:
            found.append(Launch(line, "start", it, it))
            continue
        last = found[-1]
        if it < last.last_iter:
            near_zero = it <= max(10, found[0].first_iter, NEW_LAUNCH_FRACTION * last.last_iter)
            found.append(Launch(line, "new launch" if near_zero else "resume", it, it))
        else:
            last.last_iter = it
    return found


def _scan_bytes(path: Path, report: Explanation) -> None:
    """Lines longer than what is read of them, and the encoding, from the raw bytes."""
    with path.open("rb") as f:
        head = f.read(4096)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            report.note_once("utf-16", 1, "UTF-16 text with a BOM: read with its NULs dropped")
        elif head and head.count(b"\x00") * 3 > len(head):
            report.note_once("utf-16", 1, "looks like UTF-16 without a BOM: NULs dropped")
        f.seek(0)
        for line, length in _long_lines(f):
            report.input_notes.append(
                (line, f"line {line:,} is {_size(length)} long; read its first 64 KiB")
            )


def _long_lines(f: Any) -> Iterator[tuple[int, int]]:
    """(line number, bytes) of each line over `MAX_LINE`; lines end at `\n`, `\r` (a tqdm
    redraw) or both, and are numbered as `grep -n` does (by `\n`)."""
    line, length = 1, 0
    while chunk := f.read(1 << 20):
        start = 0
        for match in _TERMINATOR.finditer(chunk):
            length += match.start() - start
            start = match.end()
            if length > MAX_LINE:
                yield line, length
            line += match.group() == b"\n"
            length = 0
        length += len(chunk) - start
    if length > MAX_LINE:
        yield line, length


def _read_as_replay(path: Path, monitor: RunMonitor, report: Explanation) -> list[tuple[int, int]]:
    """Feed the log as `replay` does; (line, iter) of each progress event."""
    progress: list[tuple[int, int]] = []
    fmt = None
    line_no = 0

    def fold(folded: list[tuple[Event, list[Any]]]) -> None:
        for ev, notices in folded:
            _count(ev, line_no, progress, report)
            report.alerts += [
                (n.type, n.iter, line_no)
                for n in notices
                if isinstance(n, Alert) and n.type not in INFO_ALERTS
            ]

    with path.open("rb") as f:
        for line_no, line in numbered_lines(f):
            _input_note(line, line_no, report)
            fold(monitor.feed((line,), 0.0))
            now = getattr(monitor.parser, "format", None)
            if now != fmt:
                if fmt is not None and now is not None:
                    report.switches.append((line_no, fmt, now))
                fmt = now
    fold(monitor.flush(0.0))
    for notice in monitor.end_of_log():
        if isinstance(notice, Alert) and notice.type not in INFO_ALERTS:
            report.alerts.append((notice.type, notice.iter, line_no))
    report.lines = line_no
    return progress


def _count(ev: Event, line_no: int, progress: list[tuple[int, int]], report: Explanation) -> None:
    if isinstance(ev, Progress):
        progress.append((line_no, ev.iter))
        report.progress_lines += 1
        report.clock = min(report.clock, _clock(ev), key=_CLOCK_TRUST.index)
    elif isinstance(ev, Eval):
        report.eval_lines += 1
    elif isinstance(ev, Checkpoint):
        report.checkpoints += 1


def _clock(ev: Progress) -> str:
    """The source the run clock takes from this line (its order of trust)."""
    if ev.elapsed_s is not None:
        return "elapsed"
    if ev.timestamp_s is not None:
        return "timestamp"
    return "dt" if ev.dt_s is not None else "wall"


def _input_note(line: str, line_no: int, report: Explanation) -> None:
    """The first binary line, the first line not in UTF-8, the first year out of range."""
    cleaned = clean(line)
    if looks_binary(cleaned):
        report.note_once("binary", line_no, f"binary data at line {line_no:,}: not read")
    elif "\ufffd" in line and "utf-16" not in report.noted:
        report.note_once(
            "encoding",
            line_no,
            f"not UTF-8 from line {line_no:,} (Latin-1?): odd letters read as ?",
        )
    year = _YEAR.search(cleaned[:64])
    if year and not MIN_YEAR <= int(year.group(1)) <= MAX_YEAR:
        report.note_once(
            "year", line_no, f"timestamp from {year.group(1)} at line {line_no:,}: ignored"
        )


def _chosen(monitor: RunMonitor) -> str | None:
    fmt = getattr(monitor.parser, "format", None)
    return fmt if isinstance(fmt, str) else getattr(monitor.parser, "name", None)


def _state_facts(monitor: RunMonitor, report: Explanation) -> None:
    state = monitor.state
    report.format = _chosen(monitor) or "none"
    report.total = state.total_iters
    report.per_epoch = state.per_epoch
    report.last_iter = state.iter
    report.eta_s = state.eta().remaining_s if state.iter is not None else None
    if state.user_total_iters:
        report.total_source = "--max-iters"
    elif state.total_source == "user epochs":
        report.total_source = (
            f"--max-epochs {state.user_max_epochs} x {state.per_epoch:,} per epoch"
        )
    elif state.total_source == "config epochs":
        epochs = state.config["max_epochs"]
        report.total_source = f"max_epochs {epochs} in the log x {state.per_epoch:,} per epoch"
    elif state.line_total:
        report.total_source = "printed on the progress lines (N/M)"
    elif report.total is not None:
        report.total_source = "the config dump printed in the log"


def _not_read(path: Path, parser: LineParser, report: Explanation) -> list[tuple[int, int]]:
    """Lines that look like progress (`N/M`, `step`/`iter` and a number) but gave nothing,
    and what the general reader learnt and ignored; (line, iter) of each progress line."""
    progress: list[tuple[int, int]] = []
    notes = 0
    stamps = StampReader()
    # A parser may give a line's progress with the next line (a tqdm bar is told when the next
    # redraw shows it was not redrawn): a line is read when either gives its iteration, or
    # when it shows the iteration read last (a bar redrawn).
    held: tuple[int, str] | None = None
    with path.open("rb") as f:
        for line_no, line in numbered_lines(f):
            events = parser.feed(line)
            progress += [(line_no, ev.iter) for ev in events if isinstance(ev, Progress)]
            if isinstance(parser, GenericParser) and len(parser.notes) > notes:
                report.input_notes += [
                    (line_no, f"{n} (line {line_no:,})") for n in parser.notes[notes:]
                ]
                notes = len(parser.notes)
            if held is not None and not _tells(events, held[1]):
                _not_read_line(report, *held)
            held = None
            redraw = bool(progress) and str(progress[-1][1]) in _NUMBER.findall(line)
            if not events and not redraw and _looks_like_progress(stamps, clean(line)):
                held = (line_no, line)
    if held is not None:
        _not_read_line(report, *held)
    if isinstance(parser, GenericParser):
        report.shape = parser.shape
        if parser.total_source and report.total_source.startswith("the config"):
            report.total_source = parser.total_source
    return progress


def _tells(events: list[Event], line: str) -> bool:
    """Some progress event is about `line`: its iteration is a number on it."""
    numbers = set(_NUMBER.findall(line))
    return any(isinstance(ev, Progress) and str(ev.iter) in numbers for ev in events)


def _not_read_line(report: Explanation, line_no: int, line: str) -> None:
    report.not_read_count += 1
    if len(report.not_read) < FIRST_SHOWN:
        report.not_read.append((line_no, clean(line)[:160]))


def _looks_like_progress(stamps: StampReader, line: str) -> bool:
    """A counter word and a number, or a fraction `N/M` with N <= M, after the timestamp."""
    read = stamps.read(line)
    body = (line if read is None else line[read[1] :])[:2000]
    if _COUNTER_WORD.search(body):
        return True
    return any(int(n) <= int(m) for n, m in _FRACTION.findall(body))


def _why_no_eta(
    report: Explanation, fmt: str | None, pattern: str | None
) -> tuple[str, str] | None:
    if report.eta_s is not None:
        return None
    if report.progress_lines == 0:
        advice = (
            "--format F if the log is in a known format (" + ", ".join(FORMATS) + "), or "
            "--progress-pattern REGEX with a (?P<iter>...) group for your own progress lines"
        )
        if pattern:
            advice = "a --progress-pattern that matches your progress lines"
        return "no progress line was read", advice
    if report.total is None:
        return (
            "the log does not say how many iterations the run will make",
            "--max-epochs N (Lightning's max_epochs, or [run] max_epochs)"
            if report.per_epoch
            else "--max-iters N (or [run] max_iters), or a total group in --progress-pattern",
        )
    if report.last_iter is not None and report.last_iter >= report.total:
        return "the run reached its total", "nothing"
    return "too few progress lines to estimate from yet", "nothing; it comes with more lines"


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.0f} {unit}"
    return f"{n} bytes"


def render(r: Explanation) -> str:
    """The report, in English, for a terminal."""
    out = [f"{r.file}: {_lines(r.lines)}"]
    fmt = r.format
    if fmt == "generic":
        fmt = "none claimed it: the general reader"
        if r.shape is not None:
            fmt += f", following lines whose counter comes after {r.shape!r}"
    out.append(f"format: {fmt}")
    out += [f"  line {line:,}: switched from {a} to {b}" for line, a, b in r.switches]
    out.append(f"launches: {len(r.launches)}")
    shown: list[Launch | None] = list(r.launches)
    if len(shown) > SHOWN_LAUNCHES:
        shown = [*r.launches[:2], None, *r.launches[-2:]]
    out += [
        f"  ... {len(r.launches) - 4:,} more"
        if x is None
        else f"  line {x.line:,}: {x.kind}, iterations {x.first_iter:,} to {x.last_iter:,}"
        for x in shown
    ]
    total = "unknown" if r.total is None else f"{r.total:,} ({r.total_source})"
    if r.total is None and r.per_epoch:
        total += f" (epochs of {r.per_epoch:,} iterations; how many is not said)"
    out.append(f"total: {total}")
    out.append(f"clock: {_CLOCKS[r.clock]}")
    out.append(
        f"read: {r.progress_lines:,} progress lines, {r.eval_lines:,} evaluations, "
        f"{r.checkpoints:,} checkpoints; last iteration {_n(r.last_iter)}"
    )
    if r.not_read_count:
        out.append(f"looked like progress but not read: {_lines(r.not_read_count)}, first:")
        out += [f"  {line:,}: {text}" for line, text in r.not_read]
    if r.input_notes:
        out.append("input:")
        out += [f"  {text}" for _, text in r.input_notes[:10]]
    out.append(f"alerts: {len(r.alerts)}")
    out += [f"  {kind} at iteration {_n(it)} (line {line:,})" for kind, it, line in r.alerts[:8]]
    if r.no_eta is None:
        out.append(f"ETA: {r.eta_s:,.0f} s left at the end of the log")
    else:
        out.append(f"no ETA: {r.no_eta[0]}; pass: {r.no_eta[1]}")
    return "\n".join(out) + "\n"


def as_json(r: Explanation) -> dict[str, Any]:
    """The same facts as one JSON object (keys documented in docs/explain.md)."""
    return {
        "file": r.file,
        "lines": r.lines,
        "format": r.format,
        "shape": r.shape,
        "format_switches": [{"line": n, "from": a, "to": b} for n, a, b in r.switches],
        "launches": [
            {"line": x.line, "kind": x.kind, "first_iter": x.first_iter, "last_iter": x.last_iter}
            for x in r.launches
        ],
        "total": r.total,
        "total_source": r.total_source or None,
        "iters_per_epoch": r.per_epoch,
        "clock": r.clock,
        "progress_lines": r.progress_lines,
        "eval_lines": r.eval_lines,
        "checkpoints": r.checkpoints,
        "last_iter": r.last_iter,
        "eta_s": None if r.eta_s is None else round(r.eta_s, 1),
        "not_read": {
            "count": r.not_read_count,
            "first": [{"line": n, "text": t} for n, t in r.not_read],
        },
        "input_notes": [{"line": n, "text": t} for n, t in r.input_notes],
        "alerts": [{"type": k, "iter": it, "line": n} for k, it, n in r.alerts],
        "no_eta": None if r.no_eta is None else {"why": r.no_eta[0], "pass": r.no_eta[1]},
    }


def _lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n:,} lines"


def _n(value: int | None) -> str:
    return "none" if value is None else f"{value:,}"
