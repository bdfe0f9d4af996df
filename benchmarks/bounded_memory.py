"""Bounded memory: `etagram replay` of a multi-million-line log, resident memory over time.

The log is built in a temporary file from a real one (../shared/logs, the nanoGPT
build-nanogpt log by default): the log is repeated with its `step N` numbers shifted at each
repetition, so that the run looks like one long run rather than a run resumed over and over
(a generated nanoGPT log when the folder is absent). Each row runs in a fresh interpreter:

- `etagram replay` path: `bot.replay.replay(path, out)` with `out` a sink that counts and
  throws the JSON lines away (as `> /dev/null` would) and reads the RSS every 1 % of the
  lines; the run's state is read at the end: progress points kept for /plot
  (state.history, HISTORY_POINTS with stride doubling), eval records, errors kept;
- baseline: a bare `for line in f` loop over the same file, RSS read the same way.

"Start" is the RSS once 5 % of the lines are read (imports and first allocations done).

    python benchmarks/bounded_memory.py [--lines 1000000] [--full: 5,000,000]
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, parser, real_log, rss_mb, table, temp_folder  # noqa: E402

CHILD_FLAG = "--child"
_STEP = re.compile(rb"^step\s+(\d+)")


def build_log(source: Path | None, lines: int, path: Path) -> str:
    """Write `lines` lines to `path` from `source` (step numbers shifted at each repeat)."""
    if source is None:
        from benchmarks.catchup_speed import generated_nanogpt_log

        unit, label = generated_nanogpt_log().splitlines(keepends=True), "a generated nanoGPT log"
    else:
        unit, label = source.read_bytes().splitlines(keepends=True), source.name
    last = max((int(m.group(1)) for line in unit if (m := _STEP.match(line))), default=0) + 1
    written, shift = 0, 0
    with path.open("wb") as f:
        while written < lines:
            chunk = unit[: lines - written]
            if shift:
                chunk = [_shift(line, shift) for line in chunk]
            f.writelines(chunk)
            written += len(chunk)
            shift += last
    return label


def _shift(line: bytes, by: int) -> bytes:
    m = _STEP.match(line)
    if m is None:
        return line
    return line[: m.start(1)] + str(int(m.group(1)) + by).encode() + line[m.end(1) :]


class RssSink:
    """A text sink that throws the lines away and reads the RSS every `every` lines; at the
    `end` line, it looks at the run's state (which replay() keeps private) through the GC."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.lines = 0
        self.samples: list[float] = []
        self.state: dict[str, int] = {}

    def write(self, text: str) -> int:
        self.lines += 1
        if self.lines % self.every == 0:
            self.samples.append(rss_mb(os.getpid())[0])
        if text.startswith('{"kind":"end"'):
            self.state = _state_sizes()
        return len(text)


def _state_sizes() -> dict[str, int]:
    from bot.core.state import RunState

    for o in gc.get_objects():
        if isinstance(o, RunState):
            return {"history": len(o.history), "evals": len(o.evals), "errors": len(o.errors)}
    return {}


def child(kind: str, path: Path, total: int) -> None:
    """One row, in this fresh interpreter; prints its figures as JSON."""
    from bot.replay import replay

    sink = RssSink(total // 100)
    start = time.perf_counter()
    figures: dict[str, object] = {}
    if kind == "replay":
        replay(path, sink)  # type: ignore[arg-type]  # only write() is used
        figures["outputs"] = sink.lines
    else:
        with path.open("rb") as f:
            for _ in f:
                sink.write("")
    figures["seconds"] = time.perf_counter() - start
    figures |= sink.state
    figures["samples"] = sink.samples
    figures["peak"] = rss_mb(os.getpid())[1]
    print(json.dumps(figures))


def run_child(kind: str, path: Path, total: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, CHILD_FLAG, kind, str(path), str(total)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines (--full: 5,000,000)")
    args = ap.parse_args()
    lines = 5_000_000 if args.full else args.lines
    print(machine())
    with temp_folder() as tmp:
        path = Path(tmp) / "long.log"
        label = build_log(real_log(args.logs), lines, path)
        print(f"log: {lines:,} lines, {path.stat().st_size / 1e6:.0f} MB, built from {label}")
        rows = []
        for name, kind in (
            ("bare for line in f", "bare"),
            ("etagram replay > /dev/null", "replay"),
        ):
            fig = run_child(kind, path, lines)
            samples = [float(s) for s in fig["samples"]]  # type: ignore[attr-defined]
            first, end = samples[max(0, len(samples) // 20 - 1)], samples[-1]
            rows.append(
                [
                    name,
                    f"{fig['seconds']:.1f}",
                    f"{first:.1f}",
                    f"{samples[len(samples) // 2]:.1f}",
                    f"{end:.1f}",
                    f"{fig['peak']:.1f}",
                    f"{100 * (end - first) / first:+.1f} %",
                    str(fig.get("history", "")),
                    str(fig.get("evals", "")),
                ]
            )
    table(
        [
            "path",
            "wall s",
            "RSS at 5 % MB",
            "at 50 %",
            "at end",
            "peak",
            "growth 5 %->end",
            "/plot points",
            "eval records",
        ],
        rows,
    )
    print("target: growth < 10 %; /plot history bounded (state.HISTORY_POINTS)")


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD_FLAG]:
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
