"""The labelled alert cases (benchmarks/alert_cases.py): every real log and generated episode
raises exactly its expected alerts, each once, at its iteration, and nothing else."""

from __future__ import annotations

import pytest

from benchmarks.alert_cases import (
    GENERATED_CASES,
    REAL_CASES,
    SHARED_LOGS,
    GeneratedCase,
    RealCase,
    info_types,
    matches,
    problems,
    replay_alerts,
)
from bot.core.parsers.registry import FORMATS


def test_every_real_log_has_a_case() -> None:
    if not SHARED_LOGS.is_dir():
        pytest.skip(f"real logs not found at {SHARED_LOGS}")
    logs = {p.name for p in SHARED_LOGS.iterdir()} - {"SOURCES.md", "ETA_MANIFEST.json"}
    assert logs == {case.file for case in REAL_CASES}


@pytest.mark.parametrize("case", REAL_CASES, ids=[case.file[:60] for case in REAL_CASES])
def test_real_log(case: RealCase) -> None:
    path = SHARED_LOGS / case.file
    if not path.is_file():
        pytest.skip(f"real log not found: {path}")
    if case.fmt not in FORMATS:
        pytest.skip(f"no {case.fmt} parser in this tree")
    alerts = replay_alerts(path)
    assert matches(case.alerts, problems(alerts)), problems(alerts)
    assert info_types(alerts) == case.info
    # Each informational type but `resumed` and `new_launch` (one per launch) is said once.
    launches = ("resumed", "new_launch")
    kinds = [a.type for a in alerts if a.severity == "info" and a.type not in launches]
    assert len(kinds) == len(set(kinds))


@pytest.mark.parametrize("case", GENERATED_CASES, ids=[case.name for case in GENERATED_CASES])
def test_generated_episode(case: GeneratedCase) -> None:
    alerts = case.make()
    assert matches(case.alerts, problems(alerts)), problems(alerts)
    assert info_types(alerts) == case.info
