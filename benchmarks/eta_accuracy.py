"""How close etagram's remaining-time estimate is to the truth, on real training logs, with
the truth taken from each log's own clock, never from etagram's.

Runs: every run of ../shared/logs/ETA_MANIFEST.json (truth read by benchmarks/eta_truth.py
with each format's own regex) and every run of ../shared/logs2/FORMATS_MANIFEST.json that
has `truth` points (written from the log's own clock by a separate extractor; read through
`manifest_check.load_manifest`, which applies its documented corrections). The truth is the
last launch's: `(iter, seconds)` points from its first progress line.

The total: the baselines are fed the truth's own total. Where the log does not state its total
before its end (`manifest_check.total_is_stated`: e.g. Lightning's total only in the final
"`max_epochs=N` reached" line, Ultralytics' results.csv), etagram is given that same total the
way a user gives it (`--max-iters`, RunMonitor's `total_iters`), so that every method has the
same total and etagram is not scored here on finding it (manifest_check checks that). Elsewhere
etagram finds the total in the log itself.

Each log is replayed as `etagram replay` does (the format detected from the log; the real
parser and `RunState`, wall_s = 0 so the run clock comes from the log alone), keeping, for
every iteration, what was known at its last progress line. Two tables:

1. The ETA, on the runs that finished (the truth's last point is the end): at the first truth
   point past 10, 25, 50, 75 and 90 % of the run's time, the absolute error of each method in
   % of the true remaining time: etagram (no estimate counts as 100 %); tqdm's EMA and
   elapsed/done, both fed the truth's own points and total (their clock and total are right
   by construction); the ETA the trainer printed itself, where it prints one.
2. The run clock: at every truth point, etagram's `t_s` since the first truth point against
   the truth's seconds, on every run with truth (finished or not).

Also printed: the same errors on two halves of the runs (split by a hash of the file name,
fixed whatever the code: a change tuned on one half is checked on the other); with `--bound`,
what any estimator made of the past's rates could reach: at each scored point, the best in
hindsight of constant rates measured over the last 2 ... 100 % of the elapsed time and of
linear trends fitted over the last 20, 50 or 100 %, all from the truth alone (a floor no
estimator that picks one of them without knowing the future gets under); with `--first`, the
first ETA on nanoGPT runs (the manifest's and the demo's log, run to its end), whose evals
are not timed yet then.

Runs whose format is not read yet (no progress line at the truth's iterations) are skipped
with a note; they count once a parser reads them.

    python benchmarks/eta_accuracy.py [--per-run] [--bound] [--first] [--logs DIR] [--logs2 DIR]
                                      [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import SHARED  # noqa: E402
from benchmarks.baselines import ElapsedOverDone, TqdmEma  # noqa: E402
from benchmarks.eta_truth import READERS, nanogpt  # noqa: E402
from benchmarks.manifest_check import MANIFEST, load_manifest, total_is_stated  # noqa: E402
from bot.core.events import Progress  # noqa: E402
from bot.core.linebuf import iter_lines  # noqa: E402
from bot.core.monitor import RunMonitor  # noqa: E402
from bot.core.parsers.registry import AutoParser  # noqa: E402
from bot.demo import DemoRun, write_run  # noqa: E402

FRACTIONS = (0.10, 0.25, 0.50, 0.75, 0.90)
METHODS = ("etagram", "tqdm EMA", "elapsed/done", "printed ETA")
CLOCK_TOL = (0.01, 2.0)  # the acceptance rule of issue 14: within 1 % or 2 s


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    path: Path
    truth: list[tuple[int, float]]
    total: int | None  # from the manifest or the log
    finished: bool
    given_total: int | None = None  # `--max-iters`, where the log states no total before its end


@dataclass(frozen=True, slots=True)
class Seen:
    """What etagram knew at the last progress line of one iteration."""

    t_s: float
    remaining_s: float | None
    low_s: float | None
    high_s: float | None
    printed_s: float | None
    total: int | None


@dataclass(slots=True)
class Score:
    run: str
    fraction: float
    true_s: float
    errors_pct: dict[str, float | None] = field(default_factory=dict)
    covered: bool | None = None


def runs(logs: Path, logs2: Path) -> list[Run]:
    found = []
    manifest = logs / "ETA_MANIFEST.json"
    if manifest.is_file():
        for entry in json.loads(manifest.read_text()):
            path = logs / entry["file"]
            truth = READERS[entry["format"]](path)
            found.append(Run(entry["file"], path, truth.points, truth.total, truth.finished))
    if (logs2 / MANIFEST).is_file():
        for entry in load_manifest(logs2):  # with manifest_check's documented corrections
            points = [(int(i), float(s)) for i, s in entry.get("truth") or []]
            if len(points) >= 2:
                path = logs2 / entry["file"]
                finished = bool(entry.get("finished"))
                total = entry.get("total_iters") or (points[-1][0] if finished else None)
                given = None if total_is_stated(entry) else total
                found.append(Run(entry["file"], path, points, total, finished, given))
    return found


def replay(run: Run) -> dict[int, Seen]:
    """Every iteration's last progress line, one event at a time as `etagram replay` does."""
    # The format detected, as `etagram replay` does it; the total as `--max-iters` gives it
    # where the log does not state it before its end.
    monitor = RunMonitor(run.name, total_iters=run.given_total)
    state, parser = monitor.state, monitor.parser
    seen: dict[int, Seen] = {}

    def fold(events: list) -> None:  # type: ignore[type-arg]
        for ev in events:
            state.apply(ev, 0.0)
            if isinstance(ev, Progress):
                eta = state.eta()
                seen[ev.iter] = Seen(
                    state.t_s, eta.remaining_s, eta.low_s, eta.high_s, ev.remaining_s,
                    state.total_iters,
                )  # fmt: skip

    with run.path.open("rb") as f:
        for line in iter_lines(f):
            fold(parser.feed_many((line,)))
    if isinstance(parser, AutoParser):
        fold(parser.flush())
    return seen


def truth_total(run: Run) -> int:
    """The baselines' total, in the truth's own units: a finished run's last truth point is
    its end, so the work done there is the whole run. Where the counter is a 0-based epoch
    printed at the epoch's end (Lightning: `Epoch 39` of `max_epochs=40`), that is 39, not the
    stated 40, which would leave them one epoch to do at the end. etagram is given the stated
    total as a user gives it (`Run.given_total`) and must work that out itself."""
    return run.truth[-1][0]


def score_eta(run: Run, seen: dict[int, Seen]) -> list[Score]:
    """Errors at the first truth point past each fraction of the run's time."""
    truth = run.truth
    final = truth[-1][1]
    total = truth_total(run)
    tqdm, linear = TqdmEma(), ElapsedOverDone()
    fed = 0
    scores = []
    for fraction in FRACTIONS:
        k = next(k for k, (_, s) in enumerate(truth) if s >= fraction * final)
        while fed <= k:  # the baselines see the truth up to this point
            tqdm.update(*truth[fed])
            linear.update(*truth[fed], restarted=False)
            fed += 1
        it, s = truth[k]
        true = final - s
        if true <= 0:
            continue
        point = seen.get(it)
        estimates = {
            "etagram": point.remaining_s if point else None,
            "tqdm EMA": tqdm.remaining(total),
            "elapsed/done": linear.remaining(total),
        }
        sc = Score(run.name, fraction, true)
        for method, value in estimates.items():
            # No estimate is as bad as an estimate of zero: 100 %.
            sc.errors_pct[method] = 100.0 if value is None else abs(value - true) / true * 100
        if point is not None and point.printed_s is not None:
            sc.errors_pct["printed ETA"] = abs(point.printed_s - true) / true * 100
        if point is not None and point.low_s is not None and point.high_s is not None:
            sc.covered = point.low_s <= true <= point.high_s
        scores.append(sc)
    return scores


@dataclass(frozen=True, slots=True)
class ClockCheck:
    run: str
    points: int  # truth points
    read: int  # of which etagram had a progress line at that iteration
    within: int  # of which its t_s is within CLOCK_TOL
    errors_pct: list[float]  # |t_s - truth| / truth, in %
    worst: str


def check_clock(run: Run, seen: dict[int, Seen]) -> ClockCheck:
    """Differences from the first truth point etagram read (the first, unless its parser
    misses it: a point missed is counted as not read)."""
    read_points = [(it, s, seen[it]) for it, s in run.truth if it in seen]
    errors: list[float] = []
    within, worst, worst_err = 0, "", -1.0
    if not read_points:
        return ClockCheck(run.name, len(run.truth) - 1, 0, 0, errors, worst)
    _, s0, base = read_points[0]
    read = len(read_points) - 1
    for it, s, point in read_points[1:]:
        got, want = point.t_s - base.t_s, s - s0
        diff = abs(got - want)
        within += diff <= max(CLOCK_TOL[0] * want, CLOCK_TOL[1])
        if want > 0:
            errors.append(diff / want * 100)
        if diff > worst_err:
            worst, worst_err = f"iter {it}: {got:.0f} s vs {want:.0f} s", diff
    return ClockCheck(run.name, len(run.truth) - 1, read, within, errors, worst)


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>7} {'-':>7}"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):6.2f}% {p90:6.2f}%"


def eta_table(scores: list[Score]) -> str:
    """Median and p90 absolute error per checkpoint and overall, and the range coverage."""
    head = f"| {'at':>8} | {'n':>3} | " + " | ".join(f"{m:^15}" for m in METHODS) + " | in 10-90 |"
    sub = f"| {'':>8} | {'':>3} | " + " | ".join(f"{'median':>7} {'p90':>7}" for _ in METHODS)
    lines = [head, sub + " | |", "|---" * (len(METHODS) + 3) + "|"]
    groups = [(f"{f:.0%}", [s for s in scores if s.fraction == f]) for f in FRACTIONS]
    for label, group in [*groups, ("overall", scores)]:
        cells = [
            _stats([e for s in group if (e := s.errors_pct.get(m)) is not None]) for m in METHODS
        ]
        covered = [s.covered for s in group if s.covered is not None]
        coverage = f"{sum(covered) / len(covered):6.0%}" if covered else "     -"
        lines.append(f"| {label:>8} | {len(group):>3} | " + " | ".join(cells) + f" | {coverage} |")
    printed = [s for s in scores if s.errors_pct.get("printed ETA") is not None]
    ours = [e for s in printed if (e := s.errors_pct.get("etagram")) is not None]
    theirs = [e for s in printed if (e := s.errors_pct.get("printed ETA")) is not None]
    lines.append(f"\non the {len(printed)} points where the log printed its own ETA (median, p90):")
    lines.append(f"  etagram {_stats(ours)}   printed ETA {_stats(theirs)}")
    return "\n".join(lines)


def clock_table(checks: list[ClockCheck]) -> str:
    lines = [
        "| run | truth points | read | within 1 % or 2 s | median error | worst |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        median = f"{statistics.median(c.errors_pct):.2f}%" if c.errors_pct else "-"
        lines.append(
            f"| {c.run[:64]} | {c.points} | {c.read} | {c.within} | {median} | {c.worst} |"
        )
    every = [e for c in checks for e in c.errors_pct]
    within = sum(c.within for c in checks)
    read = sum(c.read for c in checks)
    lines.append(
        f"\nall runs: {within} of {read} points read within 1 % or 2 s; error {_stats(every)}"
    )
    return "\n".join(lines)


def halves_table(scores: list[Score]) -> str:
    """Median and p90 of etagram and elapsed/done on each half of the runs."""
    lines = [
        "| half | runs | points | etagram median p90 | elapsed/done median p90 |",
        "|---" * 5 + "|",
    ]
    for half in (0, 1):
        group = [s for s in scores if zlib.crc32(s.run.encode()) % 2 == half]
        cells = [_stats([s.errors_pct[m] or 0.0 for s in group]) for m in METHODS[::2][:2]]
        runs_in = len({s.run for s in group})
        lines.append(f"| {'AB'[half]} | {runs_in} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


WINDOWS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)  # shares of the elapsed time
TREND_WINDOWS = (0.2, 0.5, 1.0)


def bound(run: Run) -> list[float]:
    """At each scored point, the error of the best in hindsight of the past-rate estimates."""
    truth, errors = run.truth, []
    final, total = truth[-1][1], truth_total(run)
    for fraction in FRACTIONS:
        k = next(k for k, (_, s) in enumerate(truth) if s >= fraction * final)
        it, s = truth[k]
        true, left = final - s, total - it
        if true <= 0:
            continue
        guesses = []
        for share in WINDOWS + TREND_WINDOWS:
            j = min(k - 1, next(j for j, (_, t) in enumerate(truth) if t >= s * (1 - share)))
            if j < 0:
                continue
            rate = (s - truth[j][1]) / (it - truth[j][0])
            guesses.append(rate * left)
            m = (j + k) // 2
            if share in TREND_WINDOWS and j < m < k:  # two halves' rates: a slope
                (i0, t0), (im, tm) = truth[j], truth[m]
                early, late = (tm - t0) / (im - i0), (s - tm) / (it - im)
                slope = (late - early) / ((it - i0) / 2)
                guesses.append(left * (late + slope * ((it - im) / 2 + left / 2)))
        errors.append(min(abs(g - true) / true * 100 for g in guesses))
    return errors


def first_eta(path: Path) -> tuple[int, float, float, int, float | None, bool] | None:
    """(iteration, etagram's remaining s, true remaining s, evals left, eval cost counted,
    whether estimated) at the first progress line with an estimate, truth from nanoGPT's
    printed times (benchmarks/eta_truth.py)."""
    truth = nanogpt(path)
    at, end = dict(truth.points), truth.points[-1][1]
    monitor = RunMonitor(path.name)
    with path.open("rb") as f:
        for line in iter_lines(f):
            for ev in monitor.parser.feed_many((line,)):
                monitor.state.apply(ev, 0.0)
                eta = monitor.state.eta()
                if isinstance(ev, Progress) and eta.remaining_s is not None and ev.iter in at:
                    return (
                        ev.iter, eta.remaining_s, end - at[ev.iter], eta.evals_left,
                        eta.eval_cost_s, eta.eval_cost_estimated,
                    )  # fmt: skip
    return None


def first_table(logs: Path) -> str:
    demo = Path(tempfile.mkdtemp()) / "demo-to-the-end.log"
    with demo.open("w") as out:  # the demo's run without its crash, printed at once
        write_run(out, DemoRun(oom_at=None), speed=1e9, sleep=lambda _: None)
    paths = [logs / e["file"] for e in json.loads((logs / "ETA_MANIFEST.json").read_text())]
    lines = ["| run | at iter | ETA s | true s | error | evals left x cost |", "|---" * 6 + "|"]
    for path in [p for p in paths if p.name.startswith("nanogpt")] + [demo]:
        got = first_eta(path)
        if got is None:
            continue
        it, eta, true, evals, cost, estimated = got
        each = f"{cost:.2f} s{' (estimated)' if estimated else ''}" if cost else "not counted"
        lines.append(
            f"| {path.name[:48]} | {it} | {eta:.0f} | {true:.0f} | {(eta - true) / true:+.1%} "
            f"| {evals} x {each} |"
        )
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
    ap.add_argument("--logs", type=Path, default=SHARED / "logs", help="ETA_MANIFEST's folder")
    ap.add_argument("--logs2", type=Path, default=SHARED / "logs2", help="FORMATS_MANIFEST's")
    ap.add_argument("--only", default="", help="only the runs whose file name has this")
    ap.add_argument("--bound", action="store_true", help="also the best-in-hindsight floor")
    ap.add_argument("--first", action="store_true", help="also the first ETA on nanoGPT runs")
    ap.add_argument("--full", action="store_true", help="(run_all.sh's flag: same sizes here)")
    args = ap.parse_args(argv)
    found = [r for r in runs(args.logs, args.logs2) if args.only in r.name]
    if not found:
        print(f"no manifest with truth under {args.logs} or {args.logs2}")
        return 1
    scores: list[Score] = []
    checks: list[ClockCheck] = []
    skipped: list[str] = []
    for run in found:
        seen = replay(run)
        check = check_clock(run, seen)
        if not check.read:
            skipped.append(f"{run.name}: no progress line at the truth's iterations (not read yet)")
            continue
        checks.append(check)
        if run.finished:
            scores += score_eta(run, seen)
    scored_runs = {s.run for s in scores}
    scored = len(scored_runs)
    print(f"\n## ETA: {scored} finished runs, {len(scores)} points")
    print("absolute error in % of the true remaining time (truth: each log's own clock)\n")
    print(eta_table(scores))
    print("\nthe same on two halves of the runs (split by a hash of the file name):\n")
    print(halves_table(scores))
    if args.bound:
        floor = [e for run in found if run.finished and run.name in scored_runs for e in bound(run)]
        print(
            "\nbest in hindsight of past-rate estimates (constant rates over the last 2-100 % of"
            f" the elapsed time, linear trends), {len(floor)} points: median, p90 {_stats(floor)};"
            f" {sum(e > 3 for e in floor)} points over 3 %"
        )
    if args.first:
        print("\n## First ETA on nanoGPT runs (evals not timed yet)\n")
        print(first_table(args.logs))
    print(f"\n## Run clock: etagram's t_s against the log's own clock, {len(checks)} runs\n")
    print(clock_table(checks))
    if skipped:
        print(f"\nskipped {len(skipped)} runs:\n" + "\n".join(f"- {s}" for s in skipped))
    if args.per_run:
        print("\n" + per_run(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
