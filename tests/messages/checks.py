"""What every message must satisfy, as functions returning the problems found.

Used by the golden scenarios (all checks) and by the property tests (HTML validity).
"""

from __future__ import annotations

import re
import string

from bot.messages import en, fr

ALLOWED_TAGS = ("b", "i", "code", "pre")
TAG = re.compile(r"<(/?)([a-zA-Z0-9]+)>")
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+);")
VERBATIM = re.compile(r"<(code|pre)>.*?</\1>", re.S)  # values shown as typed: not prose
COMMAND = re.compile(r"/[a-z_]+")
WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+")

# Floats nobody chose a precision for (losses carry 4 decimals, as trainers print them).
RAW_FLOAT = re.compile(r"\d+\.\d{5,}|\d\.?\d*e[+-]?\d", re.I)
RAW_VALUES = re.compile(r"\b(?:None|nan|inf|True|False)\b")

# English that French ML speakers use as is, and units and names.
ALLOWED_IN_FRENCH = {
    "loss",
    "val",
    "train",
    "batch",
    "gpu",
    "cuda",
    "oom",
    "nvml",
    "log",
    "bot",
    "chat",
    "etagram",
    "learning",
    "rate",
    "activation",
    "checkpointing",
    "min",
    "ms",
    "s",
    "h",
    "w",
    "mhz",
    "mib",
    "gib",
    "utc",
    "nan",
    "xid",
    "bf",
    "fp",
    "total",
    "notifications",
    "alerte",
}


def html_problems(text: str) -> list[str]:
    """Telegram HTML: only b/i/code/pre, balanced, and no raw `<`, `>` or `&` in text."""
    problems: list[str] = []
    stack: list[str] = []
    for match in TAG.finditer(text):
        closing, name = match.group(1), match.group(2)
        if name not in ALLOWED_TAGS:
            problems.append(f"tag {match.group(0)!r}")
        elif not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            problems.append(f"unbalanced {match.group(0)!r}")
    if stack:
        problems.append(f"unclosed {stack}")
    bare = TAG.sub("", text)
    if "<" in bare or ">" in bare:
        problems.append("raw < or > outside a tag")
    if "&" in ENTITY.sub("", bare):
        problems.append("raw & outside an entity")
    return problems


def prose(text: str) -> str:
    """The words of a message: verbatim values, command names and tags taken out."""
    return TAG.sub("", COMMAND.sub(" ", VERBATIM.sub(" ", text)))


def value_problems(text: str) -> list[str]:
    words = prose(text)
    problems = [f"raw float {m!r}" for m in RAW_FLOAT.findall(words)]
    problems += [f"raw value {m!r}" for m in RAW_VALUES.findall(words)]
    return problems


def _catalog_words(messages: dict[str, str]) -> set[str]:
    words: set[str] = set()
    for key, text in messages.items():
        if key.startswith("pattern."):
            continue
        literal = "".join(part for part, _, _, _ in string.Formatter().parse(text))
        words |= {w.lower() for w in WORD.findall(prose(literal))}
    return words


COMMON_ENGLISH = {
    "the",
    "and",
    "of",
    "to",
    "in",
    "for",
    "at",
    "is",
    "on",
    "with",
    "from",
    "left",
    "done",
    "around",
    "tomorrow",
    "iteration",
    "iterations",
    "eval",
    "evals",
    "best",
    "step",
    "time",
    "finish",
    "finished",
    "remaining",
    "unknown",
    "error",
    "memory",
    "slowed",
    "down",
}
ENGLISH_ONLY = (_catalog_words(en.MESSAGES) | COMMON_ENGLISH) - _catalog_words(fr.MESSAGES)
ENGLISH_ONLY -= ALLOWED_IN_FRENCH


def english_in_french(text: str, names: tuple[str, ...] = ()) -> list[str]:
    """English words in a French text; `names` (a city, a run) are not words to translate."""
    for name in names:
        text = text.replace(name, " ")
    return sorted({w for w in WORD.findall(prose(text)) if w.lower() in ENGLISH_ONLY})


HIGH_PUNCTUATION = re.compile(r"(.)([:;!?])")


def french_typography_problems(text: str) -> list[str]:
    """A no-break space (narrow or not) before : ; ! ? in French prose."""
    return [
        f"no no-break space before {m.group(2)!r} after {m.group(1)!r}"
        for m in HIGH_PUNCTUATION.finditer(prose(text))
        if m.group(1) not in "\u202f\u00a0"
    ]
