"""Truth for the runs of ../shared/logs/ETA_MANIFEST.json, read from each log's own clock.

Nothing here comes from etagram: each format's clock is read with its own small regex, so a
wrong run clock in etagram cannot grade itself right. The points are `(iter, seconds)`, the
seconds counted from the first point of the log's last clock segment (a clock that starts
again from zero, a bar that restarts: the last launch is the one scored).

- modded-nanogpt: `step:N/M ... train_time:Tms` of the training steps (not the `val_loss`
  lines), cumulative milliseconds (restarted once after the warm-up steps);
- LLaMA-Factory `trainer_log.jsonl`: `current_steps`, `total_steps`, `elapsed_time` (H:MM:SS,
  `1 day, H:MM:SS`) of the training rows (an eval's row repeats the step after the eval);
- Hugging Face tqdm bar: `N/M [elapsed<remaining` of the training bar (the total most lines
  show: evaluation bars are shorter-lived);
- nanoGPT: `iter N: loss L, time Tms` summed; the iterations between two printed lines are
  not printed, each is counted at the median of the three printed times around it (an eval
  iteration's long time is its own, not its neighbours').

    python benchmarks/eta_truth.py [--logs DIR]   (prints each run's truth summary)
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import SHARED_LOGS  # noqa: E402

_MODDED = re.compile(r"step:(\d+)/(\d+) (?!val_loss).*?train_time:(\d+)ms")
_BAR = re.compile(r"(\d+)/(\d+) \[(?:(\d+):)?(\d+):(\d+)<")
_NANOGPT = re.compile(r"^iter (\d+): loss [\d.naif]+, time ([\d.]+)ms")
_MAX_ITERS = re.compile(r"^max_iters\s*=\s*(\d+)")
_HMS = re.compile(r"(?:(\d+) days?, )?(\d+):(\d\d):(\d\d)")


@dataclass(frozen=True, slots=True)
class Truth:
    points: list[tuple[int, float]]  # (iter, seconds since the first point), last segment
    total: int | None
    finished: bool  # the last point is the end of training


def _lines(path: Path) -> Iterator[str]:
    """The log's lines, tqdm's carriage-return redraws split like newlines."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            yield from line.split("\r")


def _segments(raw: list[tuple[int, float]], restarted: Callable[[float, float], bool]) -> list:
    """The points after the last restart of the clock, one per iteration (the last reading),
    shifted to start at zero."""
    start = 0
    for k in range(1, len(raw)):
        if restarted(raw[k - 1][1], raw[k][1]):
            start = k
    last: dict[int, float] = {}
    for it, s in raw[start:]:
        last[it] = s
    points = sorted(last.items())
    if not points:
        return []
    origin = points[0][1]
    return [(it, s - origin) for it, s in points]


def _falls_by_half(before: float, after: float) -> bool:
    return after < 0.5 * before


def modded(path: Path) -> Truth:
    raw, total = [], None
    for line in _lines(path):
        if (m := _MODDED.search(line)) is not None:
            raw.append((int(m[1]), int(m[3]) / 1000))
            total = int(m[2])
    points = _segments(raw, _falls_by_half)
    return Truth(points, total, bool(points) and points[-1][0] == total)


def llamafactory(path: Path) -> Truth:
    raw, total = [], None
    for line in _lines(path):
        try:
            row = json.loads(line)
            if row.get("eval_loss") is not None:
                continue  # an eval's row: its time is after the step's
            step, total = int(row["current_steps"]), int(row["total_steps"])
            m = _HMS.fullmatch(row["elapsed_time"])
        except (ValueError, KeyError, TypeError):
            continue
        if m is not None:
            days, h, mi, s = (int(x) if x else 0 for x in m.groups())
            raw.append((step, days * 86400.0 + h * 3600 + mi * 60 + s))
    points = _segments(raw, _falls_by_half)
    return Truth(points, total, bool(points) and points[-1][0] == total)


def tqdm_bar(path: Path) -> Truth:
    bars: list[tuple[int, int, float]] = []
    for line in _lines(path):
        for m in _BAR.finditer(line):
            h = int(m[3]) if m[3] else 0
            bars.append((int(m[1]), int(m[2]), h * 3600.0 + int(m[4]) * 60 + int(m[5])))
    if not bars:
        return Truth([], None, False)
    total = Counter(t for _, t, _ in bars).most_common(1)[0][0]
    raw = [(n, s) for n, t, s in bars if t == total]
    # A new session's bar starts again from 0 steps and 00:00.
    points = _segments(raw, lambda before, after: after < before)
    return Truth(points, total, bool(points) and points[-1][0] == total)


def nanogpt(path: Path) -> Truth:
    rows: list[tuple[int, float]] = []
    total = None
    for line in _lines(path):
        if (m := _MAX_ITERS.match(line)) is not None:
            total = int(m[1])
        elif (m := _NANOGPT.match(line)) is not None:
            it = int(m[1])
            if rows and it <= rows[-1][0]:
                rows = []  # a new launch: its own clock
            rows.append((it, float(m[2]) / 1000))
    points: list[tuple[int, float]] = []
    clock = 0.0
    for k, (it, dt) in enumerate(rows):
        if k:
            around = [d for _, d in rows[max(0, k - 1) : k + 2]]
            clock += dt + (it - rows[k - 1][0] - 1) * statistics.median(around)
        points.append((it, clock))
    finished = bool(points) and total is not None and points[-1][0] >= total
    return Truth(points, total, finished)


READERS: dict[str, Callable[[Path], Truth]] = {
    "modded": modded,
    "llamafactory": llamafactory,
    "tqdm": tqdm_bar,
    "hf": tqdm_bar,
    "nanogpt": nanogpt,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logs", type=Path, default=SHARED_LOGS)
    args = ap.parse_args()
    for entry in json.loads((args.logs / "ETA_MANIFEST.json").read_text()):
        truth = READERS[entry["format"]](args.logs / entry["file"])
        first, last = truth.points[0], truth.points[-1]
        print(
            f"{entry['file'][:70]:<70} {len(truth.points):>6} points  {first[0]}..{last[0]}"
            f" / {truth.total}  {last[1]:>10.1f} s  finished={truth.finished}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
