"""Telegram HTML: escaping of dynamic values, and plain text for the console.

Only b, i, code and pre are ever emitted. `Html` marks text that is already safe markup;
any other str that reaches a template is escaped, so a value cannot be forgotten.
"""

from __future__ import annotations

import html
import re


class Html(str):
    """A fragment of Telegram HTML that is already escaped."""

    __slots__ = ()


def esc(value: object) -> Html:
    """Any value as text safe for parse_mode HTML."""
    return Html(html.escape(str(value), quote=False))


def join(parts: list[Html], sep: str = "\n") -> Html:
    return Html(sep.join(part for part in parts if part))


def code(value: object) -> Html:
    return Html(f"<code>{esc(value)}</code>")


def bold(value: object) -> Html:
    return Html(f"<b>{esc(value)}</b>")


def clip(text: str, limit: int) -> str:
    """A name cut to `limit` characters: a runaway value must not fill a phone screen."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


NAME_CHARS = 60
VALUE_CHARS = 300  # an error line or a typed value shown back


def name(value: str) -> Html:
    """A run's name, bold and of bounded length."""
    return bold(clip(value, NAME_CHARS))


_TAG = re.compile(r"</?(?:b|i|code|pre)>")


def to_plain(text: str) -> str:
    """The console version of a message: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", text))
