"""The general reader alone (`--format generic`) on real logs of ../shared/logs2 whose
framework it was not written for: iterations and clock at every truth point of the manifest
(truth from the logs' own clocks), and the total where the log states it."""

from __future__ import annotations

import pytest

from benchmarks.general_reader_check import check_generic
from benchmarks.manifest_check import LOGS2, MANIFEST, load_manifest

pytestmark = pytest.mark.skipif(
    not (LOGS2 / MANIFEST).exists(),
    reason=f"{LOGS2 / MANIFEST} not found: the shared real logs are not beside the repository",
)

# The logs the general reader reads right on its own (benchmarks/general_reader_check.py).
READ_RIGHT = (
    "yolox_kun-woo-park",
    "yolox-interrupted",
    "detectron2-resume",
    "megatron-crash",
    "mmengine-mmdet",
    "mmengine-mmseg",
    "torchtitan-crash",
    "torchtitan-resume",
    "fairseq-crash",
    "fairseq-hydra-slurm-cancel",
    "megatron-gptneox",
    "metriclogger-dino-unic",
)
ENTRIES = (
    {e["file"]: e for e in load_manifest() if e["file"].startswith(READ_RIGHT)}
    if (LOGS2 / MANIFEST).exists()
    else {}
)


@pytest.mark.parametrize("file", sorted(ENTRIES), ids=[f[:40] for f in sorted(ENTRIES)])
def test_general_reader_reads_the_log(file: str) -> None:
    report, _ = check_generic(ENTRIES[file])
    assert report.ok, f"{file}: " + "; ".join(report.problems)


def test_every_log_named_is_in_the_manifest() -> None:
    assert len(ENTRIES) == len(READ_RIGHT) or not ENTRIES
