"""Does etagram read each log of `FORMATS_MANIFEST.json` as the log's own clock says?

The truth comes from the manifest (`../shared/logs2/FORMATS_MANIFEST.json`), written by a
separate extractor from each log's own clock; nothing here is taken from etagram's output
except what is being checked. For each file, `etagram replay --jsonl` (in process) is run and:

- progress: at every truth point `[iter, seconds]`, the last progress object with that `iter`
  (the truth is the last launch's) must exist, and its `t_s` minus the first truth point's
  `t_s` must be within 1 % (or 2 s) of the truth's seconds;
- total: where the log states it, the last progress object's `max_iters` equals it;
- alerts: every expected alert is found with its type at its iteration (± one logging
  interval, the median gap between progress lines), raised while reading a line near the
  expected one (from 50 lines before to 200 after); an expected alert with no such alert of
  its own may be folded into the alert that matched the expected alert just before it when
  both have the same type and iteration (a `ChildFailedError` or the launcher's
  `sigkill_handler` after the exception that caused them); an alert of a problem type on a
  run without failures is noise.

    python benchmarks/manifest_check.py [--logs DIR] [--file SUBSTRING] [--verbose]

Prints one row per file and exits 1 when any file fails (tests/core/test_manifest.py runs
the same checks).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.replay import replay  # noqa: E402

# ../shared/logs2 beside the repository; a worktree nested one level deeper finds it higher up.
LOGS2 = next(
    (p / "shared" / "logs2" for p in ROOT.parents if (p / "shared" / "logs2").is_dir()),
    ROOT.parent / "shared" / "logs2",
)
MANIFEST = "FORMATS_MANIFEST.json"
INFO_ALERTS = frozenset({"started", "resumed", "finished", "new_launch"})
REL_TOL = 0.01
ABS_TOL_S = 2.0


@dataclass
class FileReport:
    file: str
    framework: str
    progress: int = 0
    truth_points: int = 0
    truth_ok: int = 0
    worst: str = ""  # the worst truth point, as text
    total_expected: int | None = None
    total_got: int | None = None
    total_checked: bool = False
    alerts_expected: list[tuple[str, int | None]] = field(default_factory=list)
    alerts_got: list[tuple[str, int | None]] = field(default_factory=list)
    missing: list[tuple[str, int | None]] = field(default_factory=list)
    noise: list[tuple[str, int | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_ML_ITER = re.compile(r"Train: data epoch: \[(\d+)\]\s+\[\s*(\d+)/(\d+)\]\s+eta: (\S+)")
_ML_TOTAL = re.compile(r"Total time: \S+ \(([\d.]+) s / it\)")
_ML_LOOP = re.compile(r"\[\s*\d+/(\d+)\]")


def metriclogger_truth(path: Path, iters: list[int]) -> list[list[float]]:
    """Truth points read from a MetricLogger log's own clock: MetricLogger prints
    `eta = global_avg × (N - i)` after i + 1 iterations, so the loop's elapsed time is
    `eta × (i + 1) / (N - i)` (eta is rounded to the second, so this is exact early in a loop
    and loose at its end); a finished loop (training epoch or evaluation) adds `s / it × N`
    from its `Total time` line, which also gives the epoch's last iteration exactly. The
    manifest's LAVIS truth rescales windowed averages inside an epoch instead, off by up to 7 %."""
    done_s, loop_n, last = 0.0, 0, -1
    at: dict[int, float] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        total = _ML_TOTAL.search(line)
        if total:
            done_s += float(total.group(1)) * loop_n
            if line.lstrip().startswith("Train:") and last >= 0:
                at[last] = done_s  # the epoch's last iteration ends when the epoch does
            continue
        loop = _ML_LOOP.search(line)
        if loop:
            loop_n = int(loop.group(1))
        match = _ML_ITER.search(line)
        if match:
            epoch, i, n = int(match[1]), int(match[2]), int(match[3])
            h, m, sec = (int(x) for x in match[4].split(":"))
            at[epoch * n + i] = done_s + (h * 3600 + m * 60 + sec) * (i + 1) / (n - i)
            last = epoch * n + n - 1
    return [[it, at[it]] for it in iters if it in at]


# Where the manifest contradicts the very line it cites (or, for LAVIS, approximates what the
# log states exactly), the line wins. Each correction names
# the line that shows it, so anyone can check it with grep; the table marks corrected files.
CORRECTIONS: dict[str, dict[str, Any]] = {
    "torchtitan-crash_QIU023_torchtitan_attention_residual_175m_n12_crashed_train.log": {
        "total_iters": 20000,
        "why": "line 1529 says 'total steps 20000 (warmup 500)', not 2000",
    },
    "yolox-interrupted_CSID-DGU_2022-1-CECD3-KAC-07_train_log.txt": {
        "expected_alerts": {5: {"iter": 127}},
        "why": "the last progress line before the OOM of line 2587 is line 2479, "
        "'epoch: 2/300, iter: 40/87': global step 87 + 40 = 127 by the entry's own iter_rule",
    },
    "metriclogger-lavis_jena-shreyas_SeViLA_sevila-causalvidqa_20575253.out": {
        "truth": metriclogger_truth,
        "why": "truth read exactly from MetricLogger's eta (global average x iterations left) "
        "and each loop's Total time; the manifest rescales windowed averages inside epochs",
    },
    "nan-crash-ijepa_FalsoMoralista_FGDCC_slurm-3859.out": {
        "expected_alerts": {2: {"iter": 92170}},
        "why": "the device-side assert comes after progress lines (the last, line 7382, is "
        "'[36, 2500/ 2562]'), so the crash has an iteration: the global step 35 x 2562 + 2500 "
        "= 92170, counted like the loss_spike and nan iterations of epoch 1",
    },
}


def load_manifest(logs: Path = LOGS2) -> list[dict[str, Any]]:
    """The manifest's entries, with `CORRECTIONS` applied (each corrected entry gets `corrected`
    set to the reason)."""
    with (logs / MANIFEST).open(encoding="utf-8") as f:
        entries: list[dict[str, Any]] = json.load(f)
    for entry in entries:
        fix = CORRECTIONS.get(entry["file"])
        if fix is None:
            continue
        entry["corrected"] = fix["why"]
        if "total_iters" in fix:
            entry["total_iters"] = fix["total_iters"]
        if "truth" in fix:
            entry["truth"] = fix["truth"](logs / entry["file"], [it for it, _ in entry["truth"]])
        for index, changes in fix.get("expected_alerts", {}).items():
            entry["expected_alerts"][index].update(changes)
    return entries


def run_replay(path: Path) -> list[dict[str, Any]]:
    """The objects `etagram replay PATH --jsonl` writes."""
    out = io.StringIO()
    replay(path, out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line]


def total_is_stated(entry: dict[str, Any]) -> bool:
    """The manifest gives a total the log itself states before its end."""
    source = str(entry.get("total_iters_source") or "")
    return entry.get("total_iters") is not None and not source.startswith(
        ("not ", "only at the end", "not stated", "no ")
    )


def check(entry: dict[str, Any], logs: Path = LOGS2) -> FileReport:
    objs = run_replay(logs / entry["file"])
    report = FileReport(entry["file"], entry.get("framework", "?"))
    progress = [o for o in objs if o["kind"] == "progress"]
    report.progress = len(progress)
    _check_truth(entry, progress, report)
    _check_total(entry, progress, report)
    _check_alerts(entry, objs, progress, report)
    return report


def _check_truth(entry: dict[str, Any], progress: list[dict[str, Any]], report: FileReport) -> None:
    truth = entry.get("truth") or []
    report.truth_points = len(truth)
    if not truth:
        return
    last_t: dict[int, float] = {}
    for o in progress:
        if o["t_s"] is not None:
            last_t[o["iter"]] = o["t_s"]
    first_iter, first_s = truth[0]
    if first_iter not in last_t:
        report.problems.append(f"no progress at the first truth iter {first_iter}")
        return
    base = last_t[first_iter]
    worst_err = -1.0
    for it, true_s in truth:
        got = last_t.get(it)
        if got is None:
            report.problems.append(f"no progress at truth iter {it}")
            break
        got_s = got - base
        want_s = true_s - first_s
        err = abs(got_s - want_s)
        tol = max(REL_TOL * abs(want_s), ABS_TOL_S)
        if err <= tol:
            report.truth_ok += 1
        elif not any(p.startswith("t_s off") for p in report.problems):
            report.problems.append(f"t_s off at iter {it}: {got_s:.1f} s, truth {want_s:.1f} s")
        if err > worst_err:
            worst_err = err
            report.worst = f"iter {it}: {got_s:.1f} vs {want_s:.1f}"


def _check_total(entry: dict[str, Any], progress: list[dict[str, Any]], report: FileReport) -> None:
    report.total_expected = entry.get("total_iters")
    report.total_got = progress[-1]["max_iters"] if progress else None
    if total_is_stated(entry) and progress:
        report.total_checked = True
        if report.total_got != report.total_expected:
            report.problems.append(
                f"max_iters {report.total_got}, the log states {report.total_expected}"
            )


def _interval(progress: list[dict[str, Any]]) -> int:
    gaps = [b["iter"] - a["iter"] for a, b in zip(progress, progress[1:], strict=False)]
    gaps = [g for g in gaps if g > 0]
    return int(statistics.median(gaps)) if gaps else 1


def _check_alerts(
    entry: dict[str, Any],
    objs: list[dict[str, Any]],
    progress: list[dict[str, Any]],
    report: FileReport,
) -> None:
    wanted = sorted(entry.get("expected_alerts") or [], key=lambda a: a["line_no"])
    expected = [(a["type"], a.get("iter")) for a in wanted]
    alerts = [o for o in objs if o["kind"] == "alert" and o["type"] not in INFO_ALERTS]
    got = [(o["type"], o["iter"]) for o in alerts]
    report.alerts_expected, report.alerts_got = expected, got
    slack = _interval(progress)
    unused = list(range(len(alerts)))
    previous: tuple[str, int | None, int] | None = None  # type, iter, index of the last match
    for want in wanted:
        kind, it, line = want["type"], want.get("iter"), want["line_no"]
        index = next(
            (
                i
                for i in unused
                if alerts[i]["type"] == kind
                and _near(alerts[i]["iter"], it, slack)
                and line - 50 <= alerts[i].get("line", line) <= line + 200
            ),
            None,
        )
        if index is not None:
            unused.remove(index)
            previous = (kind, it, index)
        elif previous is not None and previous[:2] == (kind, it):
            pass  # folded into the alert of the same failure just before
        else:
            report.missing.append((kind, it))
    if report.missing:
        report.problems.append(f"missing alerts {report.missing}")
    if not expected and got:
        report.noise = got
        report.problems.append(f"alerts on a run without failures: {got[:5]}")


def _near(got: int | None, want: int | None, slack: int) -> bool:
    if want is None:
        return got is None
    return got is not None and abs(got - want) <= slack


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logs", type=Path, default=LOGS2)
    p.add_argument("--file", default="", help="only files whose name contains this")
    p.add_argument("--verbose", action="store_true", help="print every problem")
    args = p.parse_args()
    if not (args.logs / MANIFEST).exists():
        print(f"skipped: {args.logs / MANIFEST} not found (the shared logs are not here)")
        return 0
    entries = [e for e in load_manifest(args.logs) if args.file in e["file"]]
    print("| file | progress | truth ok | worst | total (log / got) | alerts (want / got) | ok |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    for entry in entries:
        r = check(entry, args.logs)
        failed += not r.ok
        total = f"{r.total_expected} / {r.total_got}" + ("" if r.total_checked else " (n/c)")
        mark = " (corrected)" if entry.get("corrected") else ""
        print(
            f"| {r.file[:48]}{mark} | {r.progress} | {r.truth_ok}/{r.truth_points} | {r.worst} "
            f"| {total} | {r.alerts_expected} / {r.alerts_got[:6]} | {'yes' if r.ok else 'NO'} |"
        )
        if args.verbose:
            if entry.get("corrected"):
                print(f"    - manifest corrected: {entry['corrected']}")
            for problem in r.problems:
                print(f"    - {problem}")
    print(f"\n{len(entries) - failed} of {len(entries)} files pass")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
