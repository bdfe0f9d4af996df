"""Alert types and their evidence records: one record per type, each saying its type."""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.notices import EVIDENCE, Alert, AlertType, CrashEvidence, OomEvidence


def test_every_alert_type_has_its_own_record_which_says_its_type() -> None:
    assert set(EVIDENCE) == set(AlertType)
    assert all(kind == cls.TYPE for kind, cls in EVIDENCE.items())
    assert len(set(EVIDENCE.values())) == len(AlertType)  # no record serves two types


def test_records_are_frozen_and_slotted() -> None:
    for cls in EVIDENCE.values():
        assert "__slots__" in vars(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        OomEvidence().gpu = 1  # type: ignore[misc]


def test_an_alert_with_another_types_record_is_refused() -> None:
    with pytest.raises(TypeError, match="oom alert with CrashEvidence"):
        Alert("r", AlertType.OOM, "critical", None, 0.0, CrashEvidence())  # type: ignore[arg-type]


def test_a_crash_record_completes_an_older_one_without_overriding_it() -> None:
    older = CrashEvidence(cause="exception", error="KeyError: 'x'")
    assert CrashEvidence(exit_code=1).over(older) == CrashEvidence(
        cause="exception", error="KeyError: 'x'", exit_code=1
    )
    assert CrashEvidence(cause="killed").over(older).cause == "killed"
