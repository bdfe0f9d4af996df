"""Codes and raw values that reach a message become words: NVML's failure codes, a NaN or
infinite loss, slowdown reasons in /status, an estimated eval cost."""

from __future__ import annotations

import pytest

from bot.core import gpu as core_gpu
from bot.core.notices import Alert, NanEvidence
from bot.messages import Ctx, alert_text, gpu_text, status_text, to_plain
from bot.messages.lang import Tr
from bot.messages.progress import pause_line
from tests.messages import checks
from tests.messages.scenarios import NOW, RUN, Gpu, Snapshot, reference_run

CODES = [
    core_gpu.ERROR_LIBRARY_NOT_FOUND,
    core_gpu.ERROR_DRIVER_NOT_LOADED,
    core_gpu.ERROR_VERSION_MISMATCH,
    core_gpu.ERROR_NO_PERMISSION,
    core_gpu.ERROR_NVML,
]


def ctx(lang: str) -> Ctx:
    return Ctx(lang=lang, tz="Europe/Paris", now_s=NOW)


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("error", CODES)
def test_every_nvml_failure_code_is_said_in_words(error: str, lang: str) -> None:
    text = gpu_text(Snapshot(NOW, error=error), ctx(lang))
    assert error not in text and "_" not in to_plain(text)
    if lang == "fr":
        assert checks.english_in_french(text) == []
        assert checks.french_typography_problems(text) == []


def test_a_code_from_a_newer_agent_is_shown_as_code() -> None:
    text = gpu_text(Snapshot(NOW, error="cosmic_rays"), ctx("en"))
    assert "unexpected error <code>cosmic_rays</code>" in text


@pytest.mark.parametrize(
    ("evidence", "fr", "en"),
    [
        (NanEvidence("nan"), "Loss NaN", "Loss is NaN"),
        (NanEvidence("inf"), "Loss infinie", "Loss is infinite"),
        (NanEvidence("-inf", "train_loss"), "Loss infinie", "Loss is infinite"),
        (NanEvidence("nan", "val_loss"), "Val loss NaN", "Val loss is NaN"),
        (NanEvidence("inf", "val_loss"), "Val loss infinie", "Val loss is infinite"),
        (NanEvidence("1e5"), "Loss non finie", "Loss is not a finite number"),
    ],
)
def test_a_non_finite_loss_is_named_in_the_title(evidence: NanEvidence, fr: str, en: str) -> None:
    alert = Alert(RUN, "nan", "critical", 1300, 228.0, evidence)
    assert f"<b>{fr}</b>" in alert_text(alert, ctx("fr"))
    assert f"<b>{en}</b>" in alert_text(alert, ctx("en"))


@pytest.mark.parametrize(
    ("reasons", "en"),
    [
        ({"sw_thermal", "hw_thermal"}, "GPU 0 throttled: heat"),
        ({"sw_power_cap", "hw_slowdown"}, "GPU 0 throttled: power limit and hardware signal"),
        ({"made_up"}, "GPU 0 throttled: other cause"),
    ],
)
def test_status_says_a_slowdown_reason_in_a_word(reasons: set[str], en: str) -> None:
    snap = Snapshot(NOW, (Gpu(0, reasons=frozenset(reasons)),))
    assert f"\n⚠️ {en}\n" in status_text(reference_run(), snap, ctx("en")) + "\n"


def test_an_estimated_eval_cost_says_so() -> None:
    fr, en = Tr("fr", ctx("fr")), Tr("en", ctx("en"))
    assert "(estimation)" in pause_line(fr, "eta.evals", 16, 5.8, estimated=True)
    assert to_plain(pause_line(en, "eta.evals", 16, 5.8, estimated=True)) == (
        "16 evals left × 5.8\u00a0s (estimated) ≈ 1\u00a0min\u00a033\u00a0s"
    )
    assert "estimated" not in pause_line(en, "eta.evals", 16, 5.8)
