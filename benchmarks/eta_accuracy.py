"""How close etagram's remaining-time estimate is to the truth, on real training logs.

For every run listed in ../shared/logs/ETA_MANIFEST.json (relative to the repository root),
the log is replayed exactly as `etagram replay` does it (`iter_lines`, then `RunMonitor`:
the real parser and `RunState`, with wall_s=0.0 so the run clock comes from the log alone).
At the first progress line past 10, 25, 50, 75 and 90 % of the run's final clock, the
estimate made from the lines so far is compared with the true remaining time (final t_s -
t_s there), next to tqdm's EMA estimator, the elapsed/done extrapolation, and the ETA the
trainer printed itself (tqdm's `<mm:ss`, LLaMA-Factory's `remaining_time`) where the format
has one.

    python benchmarks/eta_accuracy.py [--per-run] [--logs DIR]

Prints the absolute error in % of the true remaining time (median and 90th percentile) per
checkpoint and overall, and how often etagram's 10-90 % range holds the truth. Formats with
no parser yet are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.baselines import ElapsedOverDone, TqdmEma  # noqa: E402
from bot.core.events import Progress  # noqa: E402
from bot.core.linebuf import iter_lines  # noqa: E402
from bot.core.monitor import RunMonitor  # noqa: E402
from bot.core.parsers.registry import FORMATS  # noqa: E402

LOGS = ROOT.parent / "shared" / "logs"
FRACTIONS = (0.10, 0.25, 0.50, 0.75, 0.90)
METHODS = ("etagram", "tqdm EMA", "elapsed/done", "printed ETA")


@dataclass(slots=True)
class Point:
    """What every estimator said at one progress line."""

    t_s: float
    estimates: dict[str, float | None]
    low_s: float | None
    high_s: float | None


@dataclass(slots=True)
class Score:
    run: str
    fraction: float
    true_s: float
    errors_pct: dict[str, float | None] = field(default_factory=dict)
    covered: bool | None = None


def replay(name: str, fmt: str, lines: Iterable[str]) -> list[Point]:
    """Feed the lines to a RunMonitor and the baselines; one Point per progress line."""
    monitor = RunMonitor(name, fmt)
    state = monitor.state
    tqdm, linear = TqdmEma(), ElapsedOverDone()
    points: list[Point] = []
    for line in lines:
        # What RunMonitor.feed does, one event at a time so the state is read after each.
        for ev in monitor.parser.feed(line):
            restarts = state.clock.restarts
            state.apply(ev, 0.0)
            if not isinstance(ev, Progress):
                continue
            tqdm.update(ev.iter, state.t_s)
            linear.update(ev.iter, state.t_s, restarted=state.clock.restarts > restarts)
            eta, total = state.eta(), state.total_iters
            estimates = {
                "etagram": eta.remaining_s,
                "tqdm EMA": tqdm.remaining(total),
                "elapsed/done": linear.remaining(total),
                "printed ETA": ev.remaining_s,
            }
            points.append(Point(state.t_s, estimates, eta.low_s, eta.high_s))
    return points


def score(name: str, points: list[Point]) -> list[Score]:
    """Errors at the first progress line past each fraction of the run's final clock."""
    if not points or points[-1].t_s <= 0:
        return []
    final = points[-1].t_s
    scores = []
    for fraction in FRACTIONS:
        point = next(p for p in points if p.t_s >= fraction * final)
        true = final - point.t_s
        if true <= 0:
            continue
        s = Score(name, fraction, true)
        for method, value in point.estimates.items():
            s.errors_pct[method] = None if value is None else abs(value - true) / true * 100
        if point.low_s is not None and point.high_s is not None:
            s.covered = point.low_s <= true <= point.high_s
        scores.append(s)
    return scores


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>7} {'-':>7}"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):6.2f}% {p90:6.2f}%"


def table(scores: list[Score]) -> str:
    """Median and p90 absolute error per checkpoint and overall, and the range coverage."""
    head = f"{'at':>8} {'n':>3} | " + " | ".join(f"{m:^15}" for m in METHODS) + " | coverage"
    sub = f"{'':>8} {'':>3} | " + " | ".join(f"{'median':>7} {'p90':>7}" for _ in METHODS) + " |"
    lines = [head, sub, "-" * len(head)]
    groups = [(f"{f:.0%}", [s for s in scores if s.fraction == f]) for f in FRACTIONS]
    for label, group in [*groups, ("overall", scores)]:
        cells = [
            _stats([e for s in group if (e := s.errors_pct.get(m)) is not None]) for m in METHODS
        ]
        covered = [s.covered for s in group if s.covered is not None]
        coverage = f"{sum(covered) / len(covered):6.0%}" if covered else "     -"
        lines.append(f"{label:>8} {len(group):>3} | " + " | ".join(cells) + f" | {coverage}")
    return "\n".join(lines)


def per_run(scores: list[Score]) -> str:
    lines = [f"{'run':<60} {'at':>4} " + " ".join(f"{m[:12]:>12}" for m in METHODS) + " in80"]
    for s in scores:
        cells = [
            f"{e:11.2f}%" if (e := s.errors_pct.get(m)) is not None else f"{'-':>12}"
            for m in METHODS
        ]
        covered = "-" if s.covered is None else ("yes" if s.covered else "NO")
        lines.append(f"{s.run[:60]:<60} {s.fraction:4.0%} " + " ".join(cells) + f" {covered}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-run", action="store_true", help="also print every scored point")
    ap.add_argument("--logs", type=Path, default=LOGS, help=f"the real logs (default {LOGS})")
    args = ap.parse_args(argv)
    manifest = args.logs / "ETA_MANIFEST.json"
    if not manifest.is_file():
        print(f"no manifest at {manifest}: the real logs sit beside the repository")
        return 1
    scores: list[Score] = []
    for entry in json.loads(manifest.read_text()):
        name, fmt = entry["file"], entry["format"]
        if fmt not in FORMATS:
            print(f"skipped {name}: no parser for format {fmt!r} yet")
            continue
        with (args.logs / name).open("rb") as f:
            scores += score(name, replay(name, fmt, iter_lines(f)))
    runs = len({s.run for s in scores})
    print(f"\n{runs} runs, {len(scores)} points; absolute error in % of the true remaining time\n")
    print(table(scores))
    if args.per_run:
        print("\n" + per_run(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
