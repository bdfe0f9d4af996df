"""The bot's interface texts: both catalogs alike, valid HTML, every key used exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.messages import Ctx
from bot.messages.bot_ui import (
    ALERT_WORDS,
    PLOT_WORDS,
    UI,
    mute_too_long_text,
    tz_current_text,
)
from tests.telegram_stub import parse_html

SOURCE = Path(__file__).resolve().parents[2] / "bot" / "messages" / "bot_ui.py"


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_same_keys_and_placeholders() -> None:
    assert UI["fr"].keys() == UI["en"].keys()
    for key in UI["en"]:
        assert fields(UI["fr"][key]) == fields(UI["en"][key]), key


def test_every_key_used_exists() -> None:
    source = SOURCE.read_text(encoding="utf-8")
    used = set(re.findall(r'\.ui\(\s*"([a-z0-9_.]+)"', source))
    used |= {f"ui.plot.{name}" for name in PLOT_WORDS} | {f"ui.plot.alert.{k}" for k in ALERT_WORDS}
    used |= {f"ui.plot.{key}" for key in re.findall(r'word\(\s*"([a-z0-9_.]+)"', source)}
    assert used - UI["en"].keys() == set() and len(used) > 5


@pytest.mark.parametrize("lang", ["fr", "en", "both"])
def test_texts_are_valid_telegram_html(lang: str) -> None:
    ctx = Ctx(lang=lang, now_s=1.7e9, tz="Europe/Paris")
    for text in (mute_too_long_text(ctx, "<9999h&>", 7 * 86400), tz_current_text(ctx)):
        assert "&lt;9999h&amp;&gt;" in text or "Europe/Paris" in text
        parse_html(text)
