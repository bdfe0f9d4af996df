"""The terminal's live line, one per run, in French and English (golden files).

One golden file per language holds every situation, one line each, as the terminal shows it.
Run with UPDATE_GOLDEN=1 to rewrite them after a deliberate change, then read them.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from bot.core.events import TrainingEnd
from bot.core.lifecycle import WaitReason
from bot.core.state import RunState
from bot.messages import Ctx, live_line, live_more
from tests.messages import checks
from tests.messages.scenarios import (
    NOW,
    PARIS,
    REFERENCE,
    TOMORROW,
    UNKNOWN_TOTAL,
    _run_in,
    _waiting,
    reference_run,
)
from tests.messages.test_golden import GOLDEN

SLOW = dataclasses.replace(REFERENCE, step_s=12.5, remaining_s=18700 * 12.5)


def _ended(at: int | None) -> RunState:
    run = reference_run()
    run.iter = at
    run.ended = TrainingEnd(0, "completed")
    return run


def _lines(ctx: Ctx) -> list[str]:
    return [
        live_line(reference_run(), ctx),
        live_line(reference_run(UNKNOWN_TOTAL), ctx),
        live_line(reference_run(SLOW), ctx),
        live_line(reference_run(TOMORROW), ctx),
        live_line(RunState("gpt2-124m"), ctx),
        live_line(_ended(20000), ctx),
        live_line(_ended(None), ctx),
        live_line(_run_in("stalled"), ctx),
        live_line(_run_in("crashed"), ctx),
        live_line(_run_in("stopped"), ctx),
        live_line(_waiting(WaitReason.PERMISSION), ctx),
        live_more(1, ctx),
        live_more(3, ctx),
    ]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_live_line_golden(lang: str) -> None:
    text = "\n".join(_lines(Ctx(lang=lang, tz=PARIS, now_s=NOW))) + "\n"
    path = GOLDEN / f"live_line.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_live_line_is_one_plain_line(lang: str) -> None:
    for line in _lines(Ctx(lang=lang, tz=PARIS, now_s=NOW)):
        assert "\n" not in line and "<" not in line and "&" not in line
        assert checks.value_problems(line) == []
        if lang == "fr":
            assert checks.english_in_french(line, ("shakespeare-char", "gpt2-124m")) == []
            assert checks.french_typography_problems(line) == []


def test_both_reads_one_language() -> None:
    both = live_line(reference_run(), Ctx(lang="both", tz=PARIS, now_s=NOW))
    assert both == live_line(reference_run(), Ctx(lang="fr", tz=PARIS, now_s=NOW))
