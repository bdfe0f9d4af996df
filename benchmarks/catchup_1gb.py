"""Catch-up: a large existing log read from its start, as `etagram watch` reads the backlog it
finds at start-up, by processes of their own, next to `grep -c` and a bare `for line in f`
loop, same run.

Logs: the build-nanogpt log (nanoGPT) and the biggest llm.c log of ../shared/logs, each
repeated to `--mb` MB (50; `--full`: 1000) in a temporary folder and read once beforehand, so
no row pays for the disk. Rows, each a fresh process timed whole (start-up included) and
measured with its own peak RSS (GNU time's `%M`):

- `grep -c ''`: counts lines, in C (a floor no Python reader reaches);
- `for line in f` in binary mode: Python's own line splitting, nothing else;
- etagram, line by line: 1 MB reads through `LineBuffer` into `RunMonitor.feed` (what the
  service did with its backlog, and does with live lines);
- etagram, catch-up: the same reads into `RunMonitor.catch_up`, what `LogIntake._replay_backlog`
  does with all of a backlog but its last MB (bot/core/catchup.py).

`lines/s` is grep's line count over the process's wall time; `at speed` is the share of the
lines `catch_up` folded in batches. The two etagram rows print their final iteration, run
clock and ETA: `same state` says whether they agree (ETA within 0.1 %). A repeated log starts
its run again with each copy, so each copy's first steps (warm-up, a falling loss) are read
line by line: a real log of this size, one run, has a smaller share of them.

`--baseline DIR` adds a row for the catch-up of another tree (a `git worktree` or `git
archive` of the commit to compare with), each run by its own script, right after this tree's:
before and after side by side in the same run, on the same machine state (`same state` then
compares this tree's catch-up with the baseline's). `--no-line-by-line` leaves out the
line-by-line row (minutes for a 1 GB log). `--profile` adds a cProfile of the catch-up of the
first log (`--mb` MB), in this process.

    python benchmarks/catchup_1gb.py [--mb 50] [--full] [--logs DIR] [--baseline DIR]
        [--no-line-by-line] [--profile]
"""

from __future__ import annotations

import cProfile
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, parser, print_profile, table, temp_folder  # noqa: E402
from benchmarks.catchup_speed import SHARED_LOGS  # noqa: E402  (found from a worktree too)

CHUNK = 1 << 20  # as bot/intake.py's BACKLOG_CHUNK
# (label, file, the total to pass as --max-iters when the log prints none)
LOGS = (
    ("nanoGPT (build-nanogpt)", "build-nanogpt_AGNDM_nanogpt-train-1806877.out", "19073"),
    ("llm.c", "llmc_HectorFCardenas_gpt2_train.11685414.log", ""),
)
READERS = (
    ("grep -c ''", None),
    ("for line in f (binary)", "bare"),
    ("etagram, line by line", "feed"),
    ("etagram, catch-up", "catch_up"),
)


def child(mode: str, path: str, total: str) -> dict[str, object]:
    """One reader, in this process: what it read."""
    if mode == "bare":
        count = 0
        with open(path, "rb") as f:
            for _line in f:
                count += 1
        return {"lines": count}
    from bot.core.linebuf import LineBuffer
    from bot.core.monitor import RunMonitor

    monitor, buf = (
        RunMonitor(Path(path).name, total_iters=int(total) if total else None),
        LineBuffer(),
    )
    fold = monitor.catch_up if mode == "catch_up" else monitor.feed
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            fold(buf.feed(chunk), time.time())
    state = monitor.state
    eta = state.eta().remaining_s
    caught_up = monitor.lines_caught_up
    return {"iter": state.iter, "t_s": state.t_s, "eta_s": eta, "fast": caught_up}


def run(argv: list[str]) -> tuple[float, float, float | None, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of a process run to its end. The peak RSS is
    GNU time's `%M` (a child forked from this benchmark would count its memory as its own
    until exec): None where /usr/bin/time is absent."""
    timed = Path("/usr/bin/time").is_file()
    prefix = ["/usr/bin/time", "-f", "%M"] if timed else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([*prefix, *argv], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{argv[:4]} failed: {proc.stderr[-500:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    rss = int(proc.stderr.split()[-1]) / 1024 if timed else None
    return wall, cpu, rss, proc.stdout


def build(source: Path, mb: int, path: Path) -> int:
    """Repeat `source` to about `mb` MB at `path`, the last copy cut in the middle of its run
    (so that there is an ETA to compare); its size."""
    unit = source.read_bytes()
    unit += b"" if unit.endswith(b"\n") else b"\n"
    with path.open("wb") as f:
        for _ in range(max(1, mb * 1_000_000 // len(unit))):
            f.write(unit)
        f.write(unit[: unit.index(b"\n", len(unit) // 2) + 1])
    with path.open("rb") as f:  # into the page cache: no row pays for the disk
        while f.read(1 << 24):
            pass
    return path.stat().st_size


def same_state(a: dict[str, float], b: dict[str, float]) -> str:
    """The same iteration; run clock and ETA within 0.1 % (tests/core/test_catchup.py)."""

    def close(x: float | None, y: float | None) -> bool:
        return x == y or (x is not None and y is not None and abs(x - y) <= 1e-3 * abs(x))

    same = a["iter"] == b["iter"] and close(a["t_s"], b["t_s"]) and close(a["eta_s"], b["eta_s"])
    return "yes" if same else "NO"


def measure(
    label: str, path: Path, size: int, total: str, readers: list[tuple[str, str | None, Path]]
) -> list[list[object]]:
    rows: list[list[object]] = []
    lines = 0
    states: dict[str, dict[str, float]] = {}
    for name, mode, script in readers:
        if mode is None:
            wall, cpu, rss, out = run(["grep", "-c", "", str(path)])
            lines = int(out)
        else:
            argv = [sys.executable, str(script), "--child", mode.split("@")[0], str(path), total]
            wall, cpu, rss, out = run(argv)
            states[mode] = json.loads(out)
        fast = states.get(mode or "", {}).get("fast")
        rows.append(
            [
                label,
                name,
                f"{wall:.2f}",
                f"{cpu:.2f}",
                f"{lines / wall:,.0f}",
                f"{size / 1e6 / wall:.0f}",
                "?" if rss is None else f"{rss:.0f}",
                ""
                if not (mode or "").startswith("catch_up")
                else f"{100 * (fast or 0) / lines:.0f} %",
            ]
        )
        reference = states.get("feed") or states.get("catch_up@baseline")
        same = mode == "catch_up" and reference is not None
        rows[-1].append(same_state(reference, states["catch_up"]) if same else "")
    eta = states["catch_up"]["eta_s"]
    print(
        f"{label}: {size / 1e6:.0f} MB, {lines:,} lines; after catch-up iter "
        f"{states['catch_up']['iter']}, run clock {states['catch_up']['t_s']:,.0f} s, "
        f"ETA {'none' if eta is None else f'{eta:,.0f} s'}",
        flush=True,
    )
    return rows


def profile(path: Path, total: str, out: Path) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(child, "catch_up", str(path), total)
    profiler.dump_stats(out)
    print(f"profile of the catch-up of {path.stat().st_size / 1e6:.0f} MB (cProfile):")
    print_profile(out, top=20)
    print("\nthe same, etagram's own functions by cumulative time:")
    print_profile(out, 12, cumulative_in="/bot/")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(*sys.argv[2:])))
        return
    ap = parser(__doc__)
    ap.add_argument("--mb", type=int, default=50, help="size of each built log in MB")
    ap.add_argument("--profile", action="store_true", help="profile the catch-up row")
    ap.add_argument("--baseline", type=Path, help="another tree whose catch-up to run too")
    ap.add_argument("--no-line-by-line", action="store_true", help="leave out that row")
    ap.set_defaults(logs=SHARED_LOGS)
    args = ap.parse_args()
    here = Path(__file__)
    readers = [(name, mode, here) for name, mode in READERS]
    if args.no_line_by_line:
        readers = [r for r in readers if r[1] != "feed"]
    if args.baseline is not None:
        script = args.baseline / "benchmarks" / "catchup_1gb.py"
        readers.insert(
            -1, (f"etagram, catch-up ({args.baseline.name})", "catch_up@baseline", script)
        )
    mb = 1000 if args.full else args.mb
    print(machine())
    rows: list[list[object]] = []
    with temp_folder() as tmp:
        for label, name, total in LOGS:
            source = args.logs / name
            if not source.is_file():
                print(f"{source} absent: row skipped")
                continue
            path = Path(tmp) / "backlog.log"
            size = build(source, mb, path)
            if args.profile and not rows:
                profile(path, total, Path(tmp) / "catch_up.prof")
            rows += measure(label, path, size, total, readers)
            path.unlink()
    headers = ["log", "reader", "wall s", "CPU s", "lines/s", "MB/s", "peak RSS MB"]
    if rows:
        table([*headers, "at speed", "same state"], rows)


if __name__ == "__main__":
    main()
