"""Every log of `../shared/logs2/FORMATS_MANIFEST.json` read as its own clock says.

The checks are `benchmarks/manifest_check.py`'s (the truth is the manifest's, written by a
separate extractor from each log's own clock): progress at every truth point with `t_s` within
1 % (or 2 s), the total where the log states it, every expected alert at its iteration and
none on the runs without failures.
"""

from __future__ import annotations

import pytest

from benchmarks.manifest_check import LOGS2, MANIFEST, check, load_manifest

pytestmark = pytest.mark.skipif(
    not (LOGS2 / MANIFEST).exists(),
    reason=f"{LOGS2 / MANIFEST} not found: the shared real logs are not beside the repository",
)

ENTRIES = load_manifest() if (LOGS2 / MANIFEST).exists() else []


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"][:40] for e in ENTRIES])
def test_manifest_log_is_read_on_its_own_clock(entry: dict[str, object]) -> None:
    report = check(entry)
    assert report.ok, f"{report.file}: " + "; ".join(report.problems)
