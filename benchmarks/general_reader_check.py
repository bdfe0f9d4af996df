"""How many `FORMATS_MANIFEST.json` logs the general reader alone reads right.

Each log is replayed with `--format generic` (the dedicated parser of its framework is left
out) and checked with `manifest_check`'s rules for the iterations and their clock (every truth
point) and the total where the log states it; alerts are not checked here.

    python benchmarks/general_reader_check.py [--logs DIR] [--file SUBSTRING]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import manifest_check as mc  # noqa: E402

from bot.replay import replay  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logs", type=Path, default=mc.LOGS2)
    p.add_argument("--file", default="", help="only files whose name contains this")
    args = p.parse_args()
    if not (args.logs / mc.MANIFEST).exists():
        print(f"skipped: {args.logs / mc.MANIFEST} not found (the shared logs are not here)")
        return 0
    print("| file | progress | truth ok | total (log / got) | iterations | total | ok |")
    print("|---|---|---|---|---|---|---|")
    good = counted = 0
    for entry in mc.load_manifest(args.logs):
        if args.file not in entry["file"] or not entry.get("truth"):
            continue
        out = io.StringIO()
        replay(args.logs / entry["file"], out, fmt="generic")
        objs = [json.loads(line) for line in out.getvalue().splitlines()]
        progress = [o for o in objs if o["kind"] == "progress"]
        r = mc.FileReport(entry["file"], entry.get("framework", "?"), progress=len(progress))
        mc._check_truth(entry, progress, r)
        iters_ok = not r.problems
        mc._check_total(entry, progress, r)
        total_ok = len(r.problems) == (0 if iters_ok else 1)
        counted += 1
        good += not r.problems
        print(
            f"| {r.file[:48]} | {r.progress} | {r.truth_ok}/{r.truth_points} "
            f"| {r.total_expected} / {r.total_got}{'' if r.total_checked else ' (n/c)'} "
            f"| {'yes' if iters_ok else 'NO'} | {'yes' if total_ok else 'NO'} "
            f"| {'yes' if not r.problems else 'NO'} |"
        )
    print(f"\n{good} of {counted} files with truth points read right by the general reader")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
