"""Long texts are split on line ends into parts Telegram accepts, nothing lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.telegram import MAX_TEXT, fit, split_html
from bot.messages.markup import esc
from tests.telegram_stub import parse_html


def check(text: str, limit: int) -> list[str]:
    parts = split_html(text, limit)
    for part in parts:
        assert len(part.encode("utf-16-le")) // 2 <= limit
        parse_html(part)  # balanced tags, valid entities
    return parts


def test_short_text_is_one_part() -> None:
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]


def test_cut_on_lines_with_tags_reopened() -> None:
    rows = "\n".join(f"GPU {i} · 100 % · 67 °C" for i in range(400))
    text = f"<b>title</b>\n<pre>{rows}</pre>\nend &amp; more"
    parts = check(text, MAX_TEXT)
    assert len(parts) > 1
    assert parts[1].startswith("<pre>GPU") and parts[0].endswith("</pre>")
    assert "\n".join(parse_html(p) for p in parts) == parse_html(text)


def test_one_huge_line_is_cut_between_entities() -> None:
    text = "<code>" + "a &amp; b &lt; " * 2000 + "</code>"
    parts = check(text, MAX_TEXT)
    assert "".join(parse_html(p) for p in parts) == parse_html(text)


def test_fit_keeps_the_first_part() -> None:
    caption = "\n".join(f"line {i}" for i in range(500))
    assert fit(caption, 1024).startswith("line 0\n") and len(fit(caption, 1024)) <= 1024


words = st.text(alphabet=st.characters(codec="utf-8"), max_size=80).map(esc)
lines = st.lists(
    st.tuples(st.sampled_from(["", "b", "code", "i"]), words).map(
        lambda tw: f"<{tw[0]}>{tw[1]}</{tw[0]}>" if tw[0] else tw[1]
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(lines, st.integers(min_value=200, max_value=600))
def test_any_valid_html_splits_into_valid_parts(body: list[str], limit: int) -> None:
    text = "\n".join(body)
    parts = check(text, limit)
    rebuilt = "".join(parse_html(p) for p in parts)
    assert rebuilt.replace("\n", "") == parse_html(text).replace("\n", "")
