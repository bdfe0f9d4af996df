"""Both catalogs define every message with the same placeholders, and the code's keys exist."""

from __future__ import annotations

import re
import string
from datetime import datetime
from pathlib import Path

import pytest
from babel.dates import format_datetime

from bot.messages import command_descriptions
from bot.messages.alerts import KNOWN
from bot.messages.chat import COMMANDS
from bot.messages.gpu import REASONS
from bot.messages.lang import CATALOGS
from tests.messages import checks

SOURCES = Path(__file__).resolve().parents[2] / "bot" / "messages"


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_same_keys() -> None:
    assert set(CATALOGS["fr"]) == set(CATALOGS["en"])


@pytest.mark.parametrize("key", sorted(CATALOGS["en"]))
def test_same_placeholders(key: str) -> None:
    assert placeholders(CATALOGS["fr"][key]) == placeholders(CATALOGS["en"][key])


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_plural_forms_come_in_pairs(lang: str) -> None:
    keys = set(CATALOGS[lang])
    for key in keys:
        stem, _, form = key.rpartition(".")
        if form in ("one", "other"):
            assert {f"{stem}.one", f"{stem}.other"} <= keys


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_catalog_html_is_valid(lang: str) -> None:
    for key, text in CATALOGS[lang].items():
        assert checks.html_problems(text) == [], key


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_date_patterns_format(lang: str) -> None:
    moment = datetime(2026, 12, 1, 15, 0)
    for key, pattern in CATALOGS[lang].items():
        if key.startswith("pattern."):
            assert format_datetime(moment, pattern, locale=lang)


def test_every_key_the_code_names_exists() -> None:
    """Literal keys in the renderers, and the keys built from the lists of kinds."""
    code = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES.glob("*.py"))
    literal = set(re.findall(r'\.t\(\s*"([a-z0-9_.]+)"', code))
    plural = set(re.findall(r'\.plural\(\s*"([a-z0-9_.]+)"', code))
    built = {f"alert.{k}" for k in KNOWN} | {f"reason.{r}" for r in REASONS}
    built |= {f"cmd.{c}" for c in COMMANDS}
    plural |= {
        f"eta.{kind}{variant}"
        for kind in ("steps", "evals", "checkpoints")
        for variant in ("", "_unmeasured", "_negligible")
    }
    keys = set(CATALOGS["en"])
    assert literal - keys == set()
    assert built - keys == set()
    assert {p for p in plural if f"{p}.one" not in keys} == set()
    assert len(literal) > 50  # the regexes did find the calls


@pytest.mark.parametrize("lang", ["fr", "en", "both", "xx"])
def test_command_descriptions_fit_bot_api(lang: str) -> None:
    pairs = command_descriptions(lang)
    assert [name for name, _ in pairs] == COMMANDS
    for name, description in pairs:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
        assert 3 <= len(description) <= 256
        assert "<" not in description and "&" not in description


def test_french_catalog_has_narrow_spaces_before_high_punctuation() -> None:
    for key, text in CATALOGS["fr"].items():
        if not key.startswith(("pattern.", "cmd.")):
            assert checks.french_typography_problems(text) == [], key
