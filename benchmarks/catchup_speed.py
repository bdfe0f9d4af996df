"""Catch-up speed: how fast a large existing log is read and parsed, next to a bare loop.

For each format, builds a log of about `--mb` MB by repeating a real training log from
../shared/logs (or a generated nanoGPT log when that folder is absent) in a temporary folder,
then times, in the same run and on the same file:

- `for line in f` on the file opened in binary mode (the baseline, `x bare` = 1),
- `for line in f` in text mode (UTF-8, universal newlines: Python's own decoding reader),
- `iter_lines(f)` (`bot.core.linebuf`: terminators, UTF-8 decoding, line cap),
- `iter_lines(f)` building one `Progress(n)` per line and nothing else (`+Progress`): the
  least a parser that returns an event per line can cost, whatever it parses,
- `iter_lines(f)` through `make_parser(fmt).feed_many(lines)` per chunk of lines, as the
  service's `RunMonitor.feed` does: the format named (`parse`) and auto-detected (`auto`).

Each column is the best of `--repeat` runs, taken in turn, in CPU time of this process (user +
system): on a shared machine, wall time mostly measures the other processes. `x bare` is the
column's time over the binary loop's; `lines` counts the binary loop's lines (`\n` only: a
tqdm log has many more `\r` lines, which the text loop and `iter_lines` split); `ev/line` is
how many events the parser returned per `iter_lines` line. Repeated training logs make almost
every line an event, and each event costs at least a regex match, number parsing and the
construction of a frozen dataclass. The last row adds up the times and sizes of all rows.

    python benchmarks/catchup_speed.py [--quick] [--mb 200] [--repeat 3]
    python benchmarks/catchup_speed.py --source LOG [--format NAME]   # one log only
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.events import Progress  # noqa: E402
from bot.core.linebuf import iter_lines  # noqa: E402

# ../shared/logs beside the repository; a worktree nested one level deeper finds it higher up.
SHARED_LOGS = next(
    (p / "shared" / "logs" for p in ROOT.parents if (p / "shared" / "logs").is_dir()),
    ROOT.parent / "shared" / "logs",
)
# (row label, format, file in ../shared/logs): the biggest real log of each format.
ROWS = (
    ("llm.c", "llmc", "llmc_HectorFCardenas_gpt2_train.11685414.log"),
    ("build-nanogpt", "llmc", "build-nanogpt_AGNDM_nanogpt-train-1806877.out"),
    ("modded-nanogpt", "modded", "modded-nanogpt_2024-10-20_ScaleUp1B_87bd51fd.txt"),
    (
        "hf tqdm",
        "hf",
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_epoch50.txt",
    ),
    (
        "llamafactory",
        "llamafactory",
        "llamafactory_112292454_ChatGLM-Efficient-Tuning_CCKS_lora_epoch50_trainer_log.jsonl",
    ),
    ("nanoGPT", "nanogpt", "nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt"),
    ("tqdm nested", "tqdm", "tqdm-nested_KevinCarpricorn_EchoAlign_processed_train.log"),
    ("lightning", "lightning", "lightning_TengFeiyang01_EAGNet_train.out"),
    ("python logging", "generic", "pylogging-nan_AdityaAshvin_ScalingDown_training.log"),
)
BATCH = 1024  # lines per feed_many call, about what one read of a followed file gives

Loop = Callable[[BinaryIO], tuple[int, int]]  # (lines, events)


def generated_nanogpt_log(iters: int = 20_000) -> bytes:
    """A nanoGPT `train.py` log of the usual shape, for machines without ../shared."""
    rng = random.Random(0)
    out = ["Overriding: max_iters = 20000", "tokens per iteration will be: 491,520"]
    for i in range(iters):
        if i % 2000 == 0:
            out.append(f"step {i}: train loss {3 - i / 1e4:.4f}, val loss {3.1 - i / 1e4:.4f}")
            out.append(f"saving checkpoint to out-{i}")
        loss, ms, mfu = rng.uniform(2, 4), rng.uniform(90, 140), rng.uniform(30, 40)
        out.append(f"iter {i}: loss {loss:.4f}, time {ms:.2f}ms, mfu {mfu:.2f}%")
    return ("\n".join(out) + "\n").encode()


def build_log(unit: bytes, mb: int, path: Path) -> None:
    if not unit.endswith(b"\n"):
        unit += b"\n"
    with open(path, "wb") as f:
        for _ in range(max(1, mb * 1_000_000 // len(unit))):
            f.write(unit)
    with open(path, "rb") as f:  # warm the page cache so no column pays for the disk
        while f.read(1 << 24):
            pass


def bare_loop(f: BinaryIO) -> tuple[int, int]:
    count = 0
    for _line in f:
        count += 1
    return count, 0


def text_loop(f: BinaryIO) -> tuple[int, int]:
    """Python's own decoding reader: what `open(path, errors="replace")` would cost."""
    count = 0
    for _line in io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline=""):
        count += 1
    return count, 0


def linebuf_loop(f: BinaryIO) -> tuple[int, int]:
    count = 0
    for _line in iter_lines(f):
        count += 1
    return count, 0


def event_floor_loop(f: BinaryIO) -> tuple[int, int]:
    """The frozen dataclass alone: one `Progress` per line, no parsing at all."""
    count = 0
    for _line in iter_lines(f):
        Progress(count)
        count += 1
    return count, count


def parser_loop(fmt: str | None) -> Loop:
    from bot.core.parsers.registry import make_parser

    def run(f: BinaryIO) -> tuple[int, int]:
        parser = make_parser(fmt)
        lines = iter_lines(f)
        count = events = 0
        while batch := list(islice(lines, BATCH)):
            count += len(batch)
            events += len(parser.feed_many(batch))
        return count, events

    return run


@dataclass
class Column:
    name: str
    loop: Loop
    seconds: float = 0.0
    lines: int = 0
    events: int = 0
    totals: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # s, lines, events

    def measure(self, path: Path) -> None:
        """One more run; `seconds` keeps the best."""
        with open(path, "rb") as f:
            start = time.process_time()
            self.lines, self.events = self.loop(f)
            self.seconds = min(self.seconds, time.process_time() - start)

    def add_to_totals(self) -> None:
        self.totals = [
            self.totals[0] + self.seconds,
            self.totals[1] + self.lines,
            self.totals[2] + self.events,
        ]


def columns(fmt: str | None) -> list[Column]:
    cols = [
        Column("bare", bare_loop),
        Column("text", text_loop),
        Column("iter_lines", linebuf_loop),
        Column("+Progress", event_floor_loop),
    ]
    if fmt is not None:
        cols.append(Column(f"parse {fmt}", parser_loop(fmt)))
    cols.append(Column("auto", parser_loop(None)))
    return cols


def header(cols: list[Column]) -> str:
    """Two lines: column groups, then units."""
    top = f"{'':<16} {'':>6} {'':>10} {'bare (binary)':>21}"
    units = f"{'log':<16} {'MB':>6} {'lines':>10} {'MB/s':>8} {'lines/s':>12}"
    for col in cols[1:]:
        parse = col.name.startswith(("parse", "auto"))
        width = 28 if parse else 10
        top += f" {col.name:>{width}}"
        units += f" {'lines/s':>12} {'ev/line':>7} {'x bare':>7}" if parse else f" {'x bare':>10}"
    return top + "\n" + units


def row(label: str, size: float, cols: list[Column], total: bool = False) -> str:
    bare = cols[0]
    seconds, lines = (bare.totals[0], bare.totals[1]) if total else (bare.seconds, bare.lines)
    text = f"{label:<16} {size / 1e6:6.0f} {lines:10,.0f} {size / 1e6 / seconds:8.0f} "
    text += f"{lines / seconds:12,.0f}"
    for col in cols[1:]:
        s, n, ev = col.totals if total else (col.seconds, col.lines, col.events)
        if col.name.startswith(("parse", "auto")):
            text += f" {n / s:12,.0f} {ev / max(n, 1):7.2f} {s / seconds:7.2f}"
        else:
            text += f" {s / seconds:10.2f}"
    return text


def run_rows(rows: list[tuple[str, str | None, bytes]], mb: int, repeat: int) -> None:
    explicit = any(fmt is not None for _, fmt, _ in rows)
    cols = columns("explicit" if explicit else None)
    print(f"each log repeated to about {mb} MB; best of {repeat}; CPU time of this process")
    print(header(cols).replace("parse explicit", "parse (format named)"))
    total_size = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.log"
        for label, fmt, unit in rows:
            build_log(unit, mb, path)
            size = path.stat().st_size
            total_size += size
            if explicit:
                cols[4].loop = parser_loop(fmt)
            for col in cols:
                col.seconds = float("inf")
            # Round robin: a burst of load elsewhere slows one run of each column, not one
            # column's every run.
            for _ in range(repeat):
                for col in cols:
                    col.measure(path)
            for col in cols:
                col.add_to_totals()
            print(row(label, size, cols), flush=True)
            path.unlink()
    if len(rows) > 1:
        print(row("all", total_size, cols, total=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 MB per log, best of 2")
    ap.add_argument("--mb", type=int, default=None, help="size of each built log (MB)")
    ap.add_argument("--repeat", type=int, default=None, help="runs per column; the best is kept")
    ap.add_argument("--logs", type=Path, default=SHARED_LOGS, help="folder of the real logs")
    ap.add_argument("--source", type=Path, default=None, help="one log to repeat")
    ap.add_argument("--format", default=None, help="with --source: its format, if known")
    args = ap.parse_args()
    mb = args.mb or (50 if args.quick else 200)
    repeat = args.repeat or (2 if args.quick else 3)

    if args.source is not None:
        rows = [(args.source.name[:16], args.format, args.source.read_bytes())]
    elif args.logs.is_dir():
        rows = [(label, fmt, (args.logs / name).read_bytes()) for label, fmt, name in ROWS]
    else:
        print(f"{args.logs} absent: timing a generated nanoGPT log")
        rows = [("generated", "nanogpt", generated_nanogpt_log())]
    run_rows(rows, mb, repeat)


if __name__ == "__main__":
    main()
