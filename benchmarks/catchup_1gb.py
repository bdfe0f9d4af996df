"""Catch-up: time to parse a large existing log from scratch, as `etagram watch` does with
the backlog it finds at start-up, next to `grep -c` and a bare `for line in f` loop, same run.

The log (`--mb`, 200 MB; `--full`: 1 GB) is built in a temporary folder by repeating a real
training log (benchmarks/catchup_speed.py's builder; the nanoGPT build-nanogpt log by
default) and read once from the page cache by each row, in this order:

- `grep -c ''`: counts lines, in C (a floor no Python reader reaches);
- `for line in f` in binary mode: Python's own line splitting, nothing else;
- etagram's catch-up: 1 MB chunks through `LineBuffer` (terminators, UTF-8, line cap) into
  `RunMonitor.feed` (format detection, parser, run state, estimator, detectors): the core of
  Service._replay_backlog and Service.handle, without the event loop around it.

`--profile` adds a cProfile of the catch-up row over the first `--profile-mb` MB.

    python benchmarks/catchup_1gb.py [--mb 200] [--full] [--profile]
"""

from __future__ import annotations

import cProfile
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    machine,
    parser,
    print_profile,
    real_log,
    table,
    temp_folder,
)
from benchmarks.catchup_speed import bare_loop, build_log, generated_nanogpt_log  # noqa: E402
from bot.core.linebuf import LineBuffer  # noqa: E402
from bot.core.monitor import RunMonitor  # noqa: E402

CHUNK = 1 << 20  # as Service's BACKLOG_CHUNK


def grep_count(path: Path) -> int:
    out = subprocess.run(["grep", "-c", "", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def bare(path: Path) -> int:
    with path.open("rb") as f:
        return bare_loop(f)[0]


def build(source: Path | None, mb: int, folder: Path) -> tuple[Path, str]:
    """The log of `mb` MB repeating `source` (a generated nanoGPT log without ../shared)."""
    unit = source.read_bytes() if source is not None else generated_nanogpt_log()
    path = folder / "catchup.log"
    build_log(unit, mb, path)
    return path, source.name if source is not None else "a generated nanoGPT log"


def catch_up(path: Path, limit: int | None = None) -> int:
    """Lines read, after folding them all into a run's state as the service does."""
    monitor, buf, count = RunMonitor(path.name), LineBuffer(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            lines = buf.feed(chunk)
            monitor.feed(lines, 0.0)
            count += len(lines)
            if limit is not None and f.tell() >= limit:
                break
    return count


def timed(run: Callable[[Path], int], path: Path) -> tuple[float, float, int]:
    """(wall s, CPU s of this process and its children, lines)."""

    def cpu() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    c0, w0 = cpu(), time.perf_counter()
    lines = run(path)
    return time.perf_counter() - w0, cpu() - c0, lines


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--mb", type=int, default=200, help="log size in MB (--full: 1000)")
    ap.add_argument("--profile", action="store_true", help="profile the catch-up row")
    ap.add_argument("--profile-mb", type=int, default=20)
    args = ap.parse_args()
    mb = 1000 if args.full else args.mb
    print(machine())
    with temp_folder() as tmp:
        path, label = build(real_log(args.logs), mb, Path(tmp))
        size = path.stat().st_size
        with path.open("rb") as f:  # into the page cache: no row pays for the disk
            while f.read(1 << 24):
                pass
        print(f"log: {size / 1e6:.0f} MB built from {label}")
        rows, floor = [], 0.0
        for name, run in (
            ("grep -c ''", grep_count),
            ("for line in f (binary)", bare),
            ("etagram catch-up (LineBuffer + RunMonitor)", catch_up),
        ):
            wall, cpu, lines = timed(run, path)
            floor = floor or wall
            rows.append(
                [
                    name,
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    f"{size / 1e6 / wall:.0f}",
                    f"{lines / wall:,.0f}",
                    f"{lines:,}",
                    f"{wall / floor:.1f}",
                    f"{wall * 1e9 / size:.1f}",
                ]
            )
        table(
            ["reader", "wall s", "CPU s", "MB/s", "lines/s", "lines", "x grep", "s per GB"],
            rows,
        )
        if args.profile:
            prof_path = Path(tmp) / "catchup.prof"
            profiler = cProfile.Profile()
            profiler.runcall(catch_up, path, args.profile_mb * 1_000_000)
            profiler.dump_stats(prof_path)
            print(f"\nprofile of the catch-up row over the first {args.profile_mb} MB (cProfile):")
            print_profile(prof_path, top=20)
            print("\nthe same, etagram's own functions by cumulative time:")
            print_profile(prof_path, 12, cumulative_in="/bot/")


if __name__ == "__main__":
    main()
