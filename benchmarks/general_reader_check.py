"""How many `FORMATS_MANIFEST.json` logs the general reader alone reads right.

Each log is replayed with `--format generic` (the dedicated parser of its framework is left
out) and checked with `manifest_check`'s rules (truth from the manifest) for the iterations and
their clock (every truth point) and the total where the log states it; alerts are not checked
here (they are the failure scanner's, the same for every format).

    python benchmarks/general_reader_check.py [--logs DIR] [--file SUBSTRING]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import manifest_check as mc  # noqa: E402
from bot.replay import replay  # noqa: E402


def check_generic(entry: dict[str, Any], logs: Path = mc.LOGS2) -> tuple[mc.FileReport, bool]:
    """The report on iterations, clock and total; and whether the iterations alone are right."""
    out = io.StringIO()
    replay(logs / entry["file"], out, fmt="generic")
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    progress = [o for o in objs if o["kind"] == "progress"]
    report = mc.FileReport(entry["file"], entry.get("framework", "?"), progress=len(progress))
    mc._check_truth(entry, progress, report)
    iters_ok = not report.problems
    mc._check_total(entry, progress, report)
    return report, iters_ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logs", type=Path, default=mc.LOGS2)
    p.add_argument("--file", default="", help="only files whose name contains this")
    args = p.parse_args()
    if not (args.logs / mc.MANIFEST).exists():
        print(f"skipped: {args.logs / mc.MANIFEST} not found (the shared logs are not here)")
        return 0
    print("| file | progress | truth ok | total (log / got) | iterations and clock | total |")
    print("|---|---|---|---|---|---|")
    good = counted = 0
    for entry in mc.load_manifest(args.logs):
        if args.file not in entry["file"] or not entry.get("truth"):
            continue
        r, iters_ok = check_generic(entry, args.logs)
        total_ok = len(r.problems) == (0 if iters_ok else 1)
        counted += 1
        good += r.ok
        print(
            f"| {r.file[:48]} | {r.progress} | {r.truth_ok}/{r.truth_points} "
            f"| {r.total_expected} / {r.total_got}{'' if r.total_checked else ' (n/c)'} "
            f"| {'yes' if iters_ok else 'NO'} | {'yes' if total_ok else 'NO'} |"
        )
    print(f"\n{good} of {counted} logs with truth points read right by the general reader alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
