"""Exact texts of fixed situations in each language, checked into tests/golden/.

Run with UPDATE_GOLDEN=1 to rewrite the files after a deliberate change, then read them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.messages import button_label
from bot.messages.lang import SEPARATOR
from tests.messages import checks
from tests.messages.scenarios import SCENARIOS, Scenario, ctx

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = [(s, lang) for s in SCENARIOS for lang in s.langs]
IDS = [f"{s.name}.{lang}" for s, lang in CASES]


@pytest.mark.parametrize(("scenario", "lang"), CASES, ids=IDS)
def test_golden(scenario: Scenario, lang: str) -> None:
    text = scenario.render(ctx(lang, scenario))
    path = GOLDEN / f"{scenario.name}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert text + "\n" == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("scenario", "lang"), CASES, ids=IDS)
def test_message_quality(scenario: Scenario, lang: str) -> None:
    text = scenario.render(ctx(lang, scenario))
    assert checks.html_problems(text) == []
    assert checks.value_problems(text) == []
    assert len(text) <= 4096
    if lang == "fr":
        assert checks.english_in_french(text, scenario.names) == []
        assert checks.french_typography_problems(text) == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_both_is_french_then_english_with_one_head(scenario: Scenario) -> None:
    fr, en, both = (scenario.render(ctx(lang, scenario)) for lang in ("fr", "en", "both"))
    french, english = both.split(SEPARATOR)
    assert french == fr
    assert en.endswith(english)
    dropped = checks.VERBATIM.sub("", en[: len(en) - len(english)]).splitlines()
    assert len(dropped) <= 2  # the head and the figures, shown once in the French part


@pytest.mark.parametrize("lang", ["fr", "en", "both"])
def test_buttons(lang: str) -> None:
    """The buttons under /eta and /status, one a line as a phone shows them in `both` mode."""
    text = "\n".join(button_label(key, lang) for key in ("refresh", "plot", "mute_1h"))
    path = GOLDEN / f"buttons.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == path.read_text(encoding="utf-8")
