"""Catch-up speed: how fast a large existing log is read and parsed, next to a bare loop.

Builds a log of about `--mb` MB by repeating a real training log from ../shared/logs (or a
generated nanoGPT log when that folder is absent) in a temporary folder, then times, in the
same run and on the same file:

- `for line in f` on the file opened in binary mode (the baseline),
- `for line in f` in text mode (UTF-8, universal newlines: Python's own decoding reader),
- `iter_lines(f)` (`bot.core.linebuf`: terminators, UTF-8 decoding, line cap),
- `iter_lines(f)` feeding `make_parser(fmt).feed(line)` (skipped if the parsers are absent).

Each column is the best of `--repeat` runs, in CPU time of this process (user + system):
on a shared machine, wall time mostly measures the other processes.

    python benchmarks/catchup_speed.py [--mb 200] [--source LOG] [--format NAME] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.linebuf import iter_lines  # noqa: E402

SHARED_LOGS = ROOT.parent / "shared" / "logs"
DEFAULT_SOURCE = SHARED_LOGS / "build-nanogpt_AGNDM_nanogpt-train-1806877.out"


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


def build_log(source: Path | None, mb: int, folder: Path) -> tuple[Path, str]:
    if source is not None and source.is_file():
        unit, label = source.read_bytes(), source.name
    else:
        unit, label = generated_nanogpt_log(), "generated nanoGPT log (../shared/logs absent)"
    if not unit.endswith(b"\n"):
        unit += b"\n"
    path = folder / "big.log"
    with open(path, "wb") as f:
        for _ in range(max(1, mb * 1_000_000 // len(unit))):
            f.write(unit)
    return path, label


def bare_loop(f: BinaryIO) -> int:
    count = 0
    for _line in f:
        count += 1
    return count


def text_loop(f: BinaryIO) -> int:
    """Python's own decoding reader: what `open(path, errors="replace")` would cost."""
    count = 0
    for _line in io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline=""):
        count += 1
    return count


def linebuf_loop(f: BinaryIO) -> int:
    count = 0
    for _line in iter_lines(f):
        count += 1
    return count


def parser_loop(fmt: str | None) -> Callable[[BinaryIO], int] | str:
    """The parse column's loop, or why it is skipped."""
    try:
        from bot.core.parsers.registry import make_parser
    except ImportError as exc:
        return f"skipped: bot.core.parsers.registry is not importable here ({exc})"

    def run(f: BinaryIO) -> int:
        parser = make_parser(fmt)
        count = 0
        for line in iter_lines(f):
            parser.feed(line)
            count += 1
        return count

    return run


def best_time(path: Path, loop: Callable[[BinaryIO], int], repeat: int) -> tuple[float, int]:
    best, lines = float("inf"), 0
    for _ in range(repeat):
        with open(path, "rb") as f:
            start = time.process_time()
            lines = loop(f)
            best = min(best, time.process_time() - start)
    return best, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=200, help="size of the built log (MB)")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="log to repeat")
    ap.add_argument("--format", default=None, help="parser format (default: auto-detect)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per column; the best is kept")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path, label = build_log(args.source, args.mb, Path(tmp))
        size = path.stat().st_size
        with open(path, "rb") as f:  # warm the page cache so no column pays for the disk
            while f.read(1 << 24):
                pass
        columns: list[tuple[str, Callable[[BinaryIO], int] | str]] = [
            ("for line in f (binary)", bare_loop),
            ("for line in f (text, utf-8)", text_loop),
            ("iter_lines (LineBuffer)", linebuf_loop),
            (f"iter_lines + parser ({args.format or 'auto'})", parser_loop(args.format)),
        ]
        print(f"log: {size / 1e6:.0f} MB built from {label}; best of {args.repeat}")
        print(f"{'reader':<34} {'MB/s':>8} {'lines/s':>12} {'lines':>10} {'x bare':>7}")
        baseline = 0.0
        for name, loop in columns:
            if isinstance(loop, str):
                print(f"{name:<34} {loop}")
                continue
            seconds, lines = best_time(path, loop, args.repeat)
            baseline = baseline or seconds
            print(
                f"{name:<34} {size / 1e6 / seconds:8.0f} {lines / seconds:12,.0f} "
                f"{lines:10,d} {seconds / baseline:7.2f}"
            )


if __name__ == "__main__":
    main()
