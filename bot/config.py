"""Configuration: a TOML file, then `ETAGRAM_*` environment variables on top.

Every key is declared once in `KEYS` (its TOML place, its variable, its parser and default);
`config.example.toml` documents them all and a test checks the two agree.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.detectors import Thresholds
from bot.core.parsers.pattern import PatternError, compile_pattern

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
LANGUAGES = ("fr", "en", "both")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


_ALERTS = Thresholds()


class ConfigError(ValueError):
    """A bad configuration value; its message is one line naming the key and what is expected."""


@dataclass(frozen=True)
class Config:
    token: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    allowed_chat_ids: tuple[int, ...] = ()
    language: str = "en"
    timezone: str = ""  # "" = the machine's local zone
    state_path: str = ""  # "" = $XDG_STATE_HOME/etagram/state.sqlite3
    gpu_interval_s: float = 5.0
    log_level: str = "INFO"
    max_iters: int = 0  # 0 = read it from the log
    log_format: str = ""  # "" = detect
    progress_pattern: str = ""  # a user's regex for progress lines; "" = the format's parser
    logs: tuple[str, ...] = ()  # what `etagram watch` follows when given no LOG
    # Alert thresholds: the detectors' own defaults, overridable here.
    memory_pressure_pct: float = _ALERTS.memory_pressure_pct
    slowdown_pct: float = _ALERTS.slowdown_pct
    slowdown_min_s: float = _ALERTS.slowdown_min_s
    stall_factor: float = _ALERTS.stall_factor
    stall_floor_s: float = _ALERTS.stall_floor_s
    loss_spike_z: float = _ALERTS.loss_spike_z
    milestones_pct: tuple[int, ...] = (25, 50, 75)
    critical_alerts: tuple[str, ...] = ("oom", "crash", "nan", "gpu_lost")
    live_every_s: float = 60.0  # the live message is edited at most this often
    metrics_port: int = 0  # Prometheus exposition; 0 = off
    metrics_addr: str = "127.0.0.1"
    outbox_max_age_s: float = 21600.0  # evals and milestones older than this are not news

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.token)

    def resolved_state_path(self, role: str = "embedded") -> Path:
        """The state database; by default one per role, so that a hub and an agent on one
        machine do not share one (a database serves one process)."""
        if self.state_path:
            return Path(self.state_path).expanduser()
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        name = "state.sqlite3" if role == "embedded" else f"{role}.sqlite3"
        return Path(base) / "etagram" / name


def _positive(kind: Callable[[str], float]) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        number = kind(str(value))
        if number <= 0:
            raise ValueError
        return number

    return parse


def _chat_ids(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return tuple(int(str(item).strip()) for item in items if str(item).strip())


def _choice(options: tuple[str, ...], transform: Callable[[str], str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = transform(str(value).strip())
        if text not in options:
            raise ValueError
        return text

    return parse


def _timezone(value: Any) -> str:
    text = str(value).strip()
    if text:
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError from exc
    return text


def _url(value: Any) -> str:
    text = str(value).strip()
    if not text.startswith(("http://", "https://")):
        raise ValueError
    return text


def _percent_list(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    numbers = tuple(int(str(item).strip()) for item in items if str(item).strip())
    if any(not 0 < n < 100 for n in numbers):
        raise ValueError
    return numbers


def _names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    names = tuple(str(item).strip().lower() for item in items if str(item).strip())
    if any(not name.replace("_", "").isalpha() for name in names):
        raise ValueError
    return names


def _paths(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _nonnegative_int(value: Any) -> int:
    number = int(str(value))
    if number < 0:
        raise ValueError
    return number


class _NotKnown(ValueError):
    """A name that is none of those known; its message lists them."""


def _log_format(value: Any) -> str:
    """A format name etagram knows, or "" to detect it."""
    text = str(value).strip()
    if text:
        from bot.core.parsers.registry import FORMATS  # every parser: only when one is named

        if text not in FORMATS:
            raise _NotKnown(", ".join(FORMATS))
    return text


def _progress_pattern(value: Any) -> str:
    text = str(value)
    if text:
        compile_pattern(text)  # PatternError (a ValueError) says what is wrong
    return text


@dataclass(frozen=True)
class Key:
    attr: str
    toml: tuple[str, str]  # (table, key)
    env: str
    parse: Callable[[Any], Any]
    expected: str


KEYS = (
    Key(
        "token", ("telegram", "token"), "ETAGRAM_TELEGRAM_TOKEN", str, "a bot token from BotFather"
    ),
    Key(
        "api_base_url",
        ("telegram", "api_base_url"),
        "ETAGRAM_TELEGRAM_API_BASE_URL",
        _url,
        "an http(s) URL such as https://api.telegram.org/bot",
    ),
    Key(
        "allowed_chat_ids",
        ("telegram", "allowed_chat_ids"),
        "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS",
        _chat_ids,
        "comma-separated integer chat ids",
    ),
    Key(
        "language",
        ("general", "language"),
        "ETAGRAM_LANGUAGE",
        _choice(LANGUAGES, str.lower),
        "fr, en or both",
    ),
    Key(
        "timezone",
        ("general", "timezone"),
        "ETAGRAM_TIMEZONE",
        _timezone,
        "an IANA time zone such as Europe/Paris",
    ),
    Key("state_path", ("general", "state_path"), "ETAGRAM_STATE_PATH", str, "a file path"),
    Key(
        "log_level",
        ("general", "log_level"),
        "ETAGRAM_LOG_LEVEL",
        _choice(LOG_LEVELS, str.upper),
        "DEBUG, INFO, WARNING or ERROR",
    ),
    Key(
        "max_iters",
        ("run", "max_iters"),
        "ETAGRAM_MAX_ITERS",
        _nonnegative_int,
        "a whole number of iterations (0 = read it from the log)",
    ),
    Key(
        "log_format",
        ("run", "format"),
        "ETAGRAM_FORMAT",
        _log_format,
        "one of these log format names",
    ),
    Key(
        "progress_pattern",
        ("run", "progress_pattern"),
        "ETAGRAM_PROGRESS_PATTERN",
        _progress_pattern,
        "a regular expression with a (?P<iter>...) group, such as "
        r"'step (?P<iter>\d+)/(?P<total>\d+)'",
    ),
    Key(
        "gpu_interval_s",
        ("gpu", "interval_s"),
        "ETAGRAM_GPU_INTERVAL_S",
        _positive(float),
        "a positive number of seconds",
    ),
    Key(
        "memory_pressure_pct",
        ("alerts", "memory_pressure_pct"),
        "ETAGRAM_MEMORY_PRESSURE_PCT",
        _positive(float),
        "a percentage such as 97",
    ),
    Key(
        "slowdown_pct",
        ("alerts", "slowdown_pct"),
        "ETAGRAM_SLOWDOWN_PCT",
        _positive(float),
        "a percentage such as 15",
    ),
    Key(
        "slowdown_min_s",
        ("alerts", "slowdown_min_s"),
        "ETAGRAM_SLOWDOWN_MIN_S",
        _positive(float),
        "a positive number of seconds",
    ),
    Key(
        "stall_factor",
        ("alerts", "stall_factor"),
        "ETAGRAM_STALL_FACTOR",
        _positive(float),
        "a positive number (times the usual gap between progress lines)",
    ),
    Key(
        "stall_floor_s",
        ("alerts", "stall_floor_s"),
        "ETAGRAM_STALL_FLOOR_S",
        _positive(float),
        "a positive number of seconds",
    ),
    Key(
        "loss_spike_z",
        ("alerts", "loss_spike_z"),
        "ETAGRAM_LOSS_SPIKE_Z",
        _positive(float),
        "a positive robust z-score such as 8",
    ),
    Key(
        "milestones_pct",
        ("notify", "milestones_pct"),
        "ETAGRAM_MILESTONES_PCT",
        _percent_list,
        "a list of percentages between 0 and 100, such as [25, 50, 75]",
    ),
    Key(
        "logs",
        ("run", "logs"),
        "ETAGRAM_LOGS",
        _paths,
        "a list of log paths (PATH, NAME=PATH or a glob)",
    ),
    Key(
        "critical_alerts",
        ("notify", "critical_alerts"),
        "ETAGRAM_CRITICAL_ALERTS",
        _names,
        'a list of alert types, such as ["oom", "crash"]',
    ),
    Key(
        "metrics_port",
        ("metrics", "port"),
        "ETAGRAM_METRICS_PORT",
        _nonnegative_int,
        "a TCP port number (0 = no metrics)",
    ),
    Key("metrics_addr", ("metrics", "addr"), "ETAGRAM_METRICS_ADDR", str, "an address to bind"),
    Key(
        "outbox_max_age_s",
        ("notify", "outbox_max_age_s"),
        "ETAGRAM_OUTBOX_MAX_AGE_S",
        _positive(float),
        "a positive number of seconds",
    ),
    Key(
        "live_every_s",
        ("notify", "live_every_s"),
        "ETAGRAM_LIVE_EVERY_S",
        _positive(float),
        "a positive number of seconds",
    ),
)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), then the environment; raise ConfigError on a bad value."""
    env = os.environ if env is None else env
    table = _read_toml(Path(path)) if path else {}
    _reject_unknown(table)
    if path and table.get("telegram", {}).get("token"):  # refused like a readable token file
        _private(Path(path), "config file {path} holds telegram.token and")
    values: dict[str, Any] = {}
    for key in KEYS:
        section, name = key.toml
        raw_file = table.get(section, {}).get(name)
        if raw_file is not None:
            values[key.attr] = _parse(key, raw_file, f"{section}.{name}")
        if key.env in env and env[key.env] != "":
            values[key.attr] = _parse(key, env[key.env], key.env)
    token_file = table.get("telegram", {}).get("token_file") or env.get(
        "ETAGRAM_TELEGRAM_TOKEN_FILE"
    )
    if token_file and not values.get("token"):
        values["token"] = _read_token_file(Path(str(token_file)).expanduser())
    return Config(**values)


def _parse(key: Key, raw: Any, where: str) -> Any:
    try:
        return key.parse(raw)
    except (ValueError, TypeError) as exc:
        shown = "<hidden>" if key.attr == "token" else repr(raw)
        if isinstance(exc, _NotKnown):
            raise ConfigError(f"{where} = {shown}: expected {key.expected}: {exc}") from None
        why = f"{exc}; " if isinstance(exc, PatternError) else ""
        raise ConfigError(f"{where} = {shown}: {why}expected {key.expected}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None


def _reject_unknown(table: dict[str, Any]) -> None:
    """A typo in a key must not be silently ignored."""
    known: dict[str, set[str]] = {}
    for key in KEYS:
        known.setdefault(key.toml[0], set()).add(key.toml[1])
    known["telegram"].add("token_file")
    for section, entries in table.items():
        if section not in known:
            raise ConfigError(f"[{section}]: unknown section; expected one of {sorted(known)}")
        if not isinstance(entries, dict):
            raise ConfigError(f"{section}: expected a [{section}] table")
        for name in entries:
            if name not in known[section]:
                raise ConfigError(
                    f"{section}.{name}: unknown key; expected one of {sorted(known[section])}"
                )


def _read_token_file(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"telegram.token_file {path}: cannot be read ({exc.strerror})") from None
    _private(path, "telegram.token_file {path}:")
    return text


def _private(path: Path, what: str) -> None:
    """ConfigError when a file holding the token can be read by other users."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise ConfigError(
            f"{what.format(path=path)} is readable by others (mode {mode & 0o777:o}); "
            "expected chmod 600"
        )
