"""Per-chat preferences and the parsing of command arguments and button data (pure).

Everything a user types reaches here first: `/mute 2h`, `/tz Europe/Paris`, `/lang fr`,
`/evals every 5`, a run's name (`/eta gpt`), and the data of a pressed button. Bad input
raises `PrefError`, whose `key` names the one-line error message (see
`bot.messages.error_text`) and whose `value` is what the user typed, shortened; nothing else
escapes.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

LANGS = ("fr", "en", "both")
MAX_MUTE_S = 7 * 86400.0  # longer than a week is a mistake (/mute alone or forever: until /unmute)
MAX_EVERY = 1000
MAX_ARG_CHARS = 64  # what we echo back or look at of a user's argument
CALLBACK_VERSION = "v1"
MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data
ACTIONS = frozenset({"eta", "status", "plot", "mute", "run", "stop", "nostop"})
_UNIT_S = {"m": 60.0, "min": 60.0, "mn": 60.0, "h": 3600.0, "d": 86400.0, "j": 86400.0}
_DURATION = re.compile(r"([0-9]+)\s*(min|mn|m|h|d|j)")
_ARG = re.compile(r"[A-Za-z0-9_.-]{0,40}")


class PrefError(ValueError):
    """An argument that cannot be used: `key` picks the message, `value` is shown back,
    `choices` are what it could have meant (an ambiguous time zone)."""

    def __init__(self, key: str, value: str, choices: tuple[str, ...] = ()) -> None:
        super().__init__(f"{key}: {value!r}")
        self.key = key
        self.value = shorten(value)
        self.choices = choices


def shorten(text: str) -> str:
    """A user's text cut to what is worth echoing back."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_ARG_CHARS else text[: MAX_ARG_CHARS - 1] + "…"


# --- arguments ------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """`90m`, `2h`, `1d`, `1h30m`, `2 h` -> seconds, at most MAX_MUTE_S.

    PrefError `bad_mute` when unreadable or zero, `mute_too_long` past the maximum.
    """
    compact = text.strip().lower()
    if not compact or len(compact) > MAX_ARG_CHARS:
        raise PrefError("bad_mute", text)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(compact):
        if compact[pos : match.start()].strip():
            raise PrefError("bad_mute", text)
        total += int(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    if pos == 0 or compact[pos:].strip() or total <= 0:
        raise PrefError("bad_mute", text)
    if total > MAX_MUTE_S:
        raise PrefError("mute_too_long", text)
    return total


def parse_mute(text: str) -> float | None:
    """`/mute`'s argument: seconds (see `parse_duration`), or None for until /unmute (no
    duration, or `forever`)."""
    if text.strip().lower() in ("", "forever"):
        return None
    return parse_duration(text)


@functools.cache
def _zones() -> dict[str, str]:
    """Known IANA names by their lower-case form (so `/tz europe/paris` works)."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


@functools.cache
def _cities() -> dict[str, tuple[str, ...]]:
    """Zone names by the lower-case city part of the name (`paris` -> Europe/Paris)."""
    cities: dict[str, list[str]] = {}
    for name in sorted(zoneinfo.available_timezones()):
        cities.setdefault(name.rsplit("/", 1)[-1].lower(), []).append(name)
    return {city: tuple(names) for city, names in cities.items()}


def parse_tz(text: str) -> str:
    """An IANA zone name as zoneinfo spells it, from the full name or its city part in any
    case (`paris`, `new york`); PrefError `bad_tz` when none matches, `tz_ambiguous` (with
    the candidates) when the city part of several does."""
    name = text.strip()
    if not 0 < len(name) <= MAX_ARG_CHARS:
        raise PrefError("bad_tz", text)
    key = "_".join(name.lower().split())
    found = _zones().get(key) or _zones().get(name.lower())
    if found is not None:
        return found
    candidates = _cities().get(key, ())
    if len(candidates) > 1:
        raise PrefError("tz_ambiguous", text, candidates)
    if not candidates:
        raise PrefError("bad_tz", text)
    return candidates[0]


def match_runs(asked: str, names: Iterable[str]) -> list[str]:
    """The runs `asked` designates: the one spelt so, else those spelt so in another case,
    else every run whose name starts with it (any case). One: found; none or several: the
    user has to say more."""
    asked = asked.strip()
    names = list(names)
    folded = asked.casefold()
    for matches in (
        [n for n in names if n == asked],
        [n for n in names if n.casefold() == folded],
        [n for n in names if n.casefold().startswith(folded)],
    ):
        if matches:
            return matches
    return []


def parse_lang(text: str) -> str:
    choice = text.strip().lower()
    if choice not in LANGS:
        raise PrefError("bad_lang", text)
    return choice


@dataclass(frozen=True, slots=True)
class EvalsMode:
    """Which eval messages a chat gets: all, new bests only, one in `every`, or none."""

    mode: str = "all"  # all, best, every, off
    every: int = 1

    def wants(self, ordinal: int, new_best: bool) -> bool:
        """Whether the `ordinal`-th eval of a run (1-based) is pushed."""
        if self.mode == "off":
            return False
        if self.mode == "best":
            return new_best
        if self.mode == "every":
            return ordinal % self.every == 0
        return True


def parse_evals(args: list[str]) -> EvalsMode:
    """`all`, `best`, `off`, `every N` (1 <= N <= MAX_EVERY); PrefError `bad_evals`."""
    words = [a.lower() for a in args]
    if words in (["all"], ["best"], ["off"]):
        return EvalsMode(words[0])
    if len(words) == 2 and words[0] == "every" and words[1].isascii() and words[1].isdigit():
        n = int(words[1][:6])
        if 1 <= n <= MAX_EVERY:
            return EvalsMode("every", n) if n > 1 else EvalsMode("all")
    raise PrefError("bad_evals", " ".join(args))


# --- button data ----------------------------------------------------------------------------


class CallbackError(ValueError):
    """Button data we cannot act on: `stale` (an older bot's button) or `foreign`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Callback:
    action: str
    arg: str = ""

    def encode(self) -> str:
        data = f"{CALLBACK_VERSION}:{self.action}:{self.arg}"
        if (
            self.action not in ACTIONS
            or not _ARG.fullmatch(self.arg)
            or len(data.encode()) > MAX_CALLBACK_BYTES
        ):
            raise ValueError(f"bad callback {self.action!r} {self.arg!r}")
        return data


def parse_callback(data: str | None) -> Callback:
    """Button data made by `Callback.encode`; CallbackError otherwise."""
    if not data or len(data) > MAX_CALLBACK_BYTES or data.count(":") != 2:
        raise CallbackError("foreign")
    version, action, arg = data.split(":")
    if not re.fullmatch(r"v[0-9]{1,3}", version) or not _ARG.fullmatch(arg):
        raise CallbackError("foreign")
    if version != CALLBACK_VERSION or action not in ACTIONS:
        raise CallbackError("stale")
    return Callback(action, arg)


def run_token(name: str) -> str:
    """A short, button-safe stand-in for a run name (names may hold any character)."""
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:12]


# --- preferences ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """One chat's choices; None means the configured default."""

    lang: str | None = None
    tz: str | None = None
    muted_until_s: float | None = None  # math.inf: until /unmute
    evals: EvalsMode = field(default_factory=EvalsMode)
    subscribed: bool = True
    run: str | None = None  # the run this chat looks at; None: the most recently active
    live: bool = False
    live_message_id: int | None = None
    live_run: str | None = None  # the run the live message shows; None: the chat's run

    def muted(self, now_s: float) -> bool:
        return self.muted_until_s is not None and now_s < self.muted_until_s

    def with_(self, **changes: Any) -> ChatPrefs:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        until = self.muted_until_s
        return {
            "lang": self.lang,
            "tz": self.tz,
            "muted_until_s": "forever" if until is not None and math.isinf(until) else until,
            "evals": self.evals.mode,
            "evals_every": self.evals.every,
            "subscribed": self.subscribed,
            "run": self.run,
            "live": self.live,
            "live_message_id": self.live_message_id,
            "live_run": self.live_run,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatPrefs:
        """Stored prefs; a value that is missing or not valid falls back to its default."""
        return cls(
            lang=_valid(data.get("lang"), parse_lang),
            tz=_valid(data.get("tz"), parse_tz),
            muted_until_s=_until(data.get("muted_until_s")),
            evals=_evals(data.get("evals"), data.get("evals_every")),
            subscribed=data.get("subscribed") is not False,
            run=data["run"] if isinstance(data.get("run"), str) else None,
            live=data.get("live") is True,
            live_message_id=_int(data.get("live_message_id")),
            live_run=data["live_run"] if isinstance(data.get("live_run"), str) else None,
        )


def _valid(value: Any, parse: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        result: str = parse(value)
    except PrefError:
        return None
    return result


def _until(value: Any) -> float | None:
    if value == "forever":
        return math.inf
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _evals(mode: Any, every: Any) -> EvalsMode:
    try:
        if mode == "every":
            return parse_evals(["every", str(every)])
        return parse_evals([str(mode)])
    except PrefError:
        return EvalsMode()


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
