"""Configuration: a TOML file, then `ETAGRAM_*` environment variables on top.

Each `[section]` of the file is a typed msgspec Struct below, and msgspec decodes the file into
them: unknown sections and keys are refused, types and bounds are checked, and a field's
`Meta(description=...)` is what the one-line error says is expected. A key's environment
variable is `ETAGRAM_<KEY>`, or `ETAGRAM_<SECTION>_<KEY>` in the sections of `_ENV_PREFIXED`
(`ETAGRAM_LANGUAGE`, `ETAGRAM_TELEGRAM_TOKEN`). `config.example.toml` documents every key and
a test checks the two agree.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

from bot.core.detectors import Thresholds
from bot.core.parsers.pattern import compile_pattern

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"

_ALERTS = Thresholds()

Seconds = Annotated[float, Meta(gt=0, description="a positive number of seconds")]
Percent = Annotated[float, Meta(gt=0, le=100, description="a percentage such as 97")]


class ConfigError(ValueError):
    """A bad configuration value; its message is one line naming the key and what is expected."""


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One `[table]` of the file."""


class Telegram(Section, frozen=True):
    token: Annotated[str, Meta(description="a bot token from BotFather")] = ""
    token_file: Annotated[str, Meta(description="a file path (mode 600)")] = ""
    api_base_url: Annotated[
        str,
        Meta(
            pattern=r"^https?://",
            description="an http(s) URL such as https://api.telegram.org/bot",
        ),
    ] = DEFAULT_API_BASE_URL
    allowed_chat_ids: Annotated[
        tuple[int, ...], Meta(description="comma-separated integer chat ids")
    ] = ()


class General(Section, frozen=True):
    language: Annotated[Literal["fr", "en", "both"], Meta(description="fr, en or both")] = "en"
    # "" = the machine's local zone
    timezone: Annotated[str, Meta(description="an IANA time zone such as Europe/Paris")] = ""
    # "" = $XDG_STATE_HOME/etagram/<role>.sqlite3
    state_path: Annotated[str, Meta(description="a file path")] = ""
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"],
        Meta(description="DEBUG, INFO, WARNING or ERROR"),
    ] = "INFO"


class Run(Section, frozen=True):
    # what `etagram watch` follows when given no LOG
    logs: Annotated[
        tuple[str, ...], Meta(description="a list of log paths (PATH, NAME=PATH or a glob)")
    ] = ()
    max_iters: Annotated[
        int, Meta(ge=0, description="a whole number of iterations (0 = read it from the log)")
    ] = 0
    # x the iterations per epoch the log shows (Lightning's bar): the total; max_iters wins
    max_epochs: Annotated[
        int, Meta(ge=0, description="a whole number of epochs (0 = read it from the log)")
    ] = 0
    format: Annotated[str, Meta(description="a log format name")] = ""  # "" = detect
    # a user's regex for progress lines; "" = the format's parser
    progress_pattern: Annotated[
        str,
        Meta(
            description="a regular expression with a (?P<iter>...) group, such as "
            r"'step (?P<iter>\d+)/(?P<total>\d+)'"
        ),
    ] = ""
    stop_grace_s: Seconds = 30.0  # /stop: SIGINT, this long, SIGTERM, this long, SIGKILL
    # where `etagram run` writes its logs; "" = $XDG_STATE_HOME/etagram/runs
    run_log_dir: Annotated[str, Meta(description="a folder path")] = ""


class Gpu(Section, frozen=True):
    interval_s: Seconds = 5.0


class Alerts(Section, frozen=True):
    """The detectors' thresholds (`Thresholds.from_config` reads them by name)."""

    memory_pressure_pct: Percent = _ALERTS.memory_pressure_pct
    slowdown_pct: Annotated[float, Meta(gt=0, description="a percentage such as 15")] = (
        _ALERTS.slowdown_pct
    )
    slowdown_min_s: Seconds = _ALERTS.slowdown_min_s
    stall_factor: Annotated[
        float,
        Meta(gt=0, description="a positive number (times the usual gap between progress lines)"),
    ] = _ALERTS.stall_factor
    stall_floor_s: Seconds = _ALERTS.stall_floor_s
    loss_spike_z: Annotated[
        float, Meta(gt=0, description="a positive robust z-score such as 8")
    ] = _ALERTS.loss_spike_z
    gpu_idle_pct: Annotated[float, Meta(gt=0, description="a percentage such as 5")] = (
        _ALERTS.gpu_idle_pct
    )
    gpu_idle_min_s: Seconds = _ALERTS.gpu_idle_min_s
    # above 100 turns the disk alert off
    disk_full_pct: Annotated[float, Meta(gt=0, description="a percentage such as 95")] = (
        _ALERTS.disk_full_pct
    )


class Notify(Section, frozen=True):
    milestones_pct: Annotated[
        tuple[Annotated[int, Meta(gt=0, lt=100)], ...],
        Meta(description="a list of percentages between 0 and 100, such as [25, 50, 75]"),
    ] = (25, 50, 75)
    critical_alerts: Annotated[
        tuple[Annotated[str, Meta(pattern=r"^[a-z_]+$")], ...],
        Meta(description='a list of alert types, such as ["oom", "crash"]'),
    ] = ("oom", "crash", "nan", "gpu_lost")
    live_every_s: Seconds = 60.0  # the live message is edited at most this often
    outbox_max_age_s: Seconds = 21600.0  # evals and milestones older than this are not news
    # the machine in each message: past one machine, always, never
    show_host: Annotated[
        Literal["auto", "always", "never"], Meta(description="auto, always or never")
    ] = "auto"


class Metrics(Section, frozen=True):
    port: Annotated[int, Meta(ge=0, le=65535, description="a TCP port number (0 = no metrics)")] = (
        0  # Prometheus exposition
    )
    addr: Annotated[str, Meta(description="an address to bind")] = "127.0.0.1"


class Config(Section, frozen=True):
    telegram: Telegram = msgspec.field(default_factory=Telegram)
    general: General = msgspec.field(default_factory=General)
    run: Run = msgspec.field(default_factory=Run)
    gpu: Gpu = msgspec.field(default_factory=Gpu)
    alerts: Alerts = msgspec.field(default_factory=Alerts)
    notify: Notify = msgspec.field(default_factory=Notify)
    metrics: Metrics = msgspec.field(default_factory=Metrics)

    def resolved_state_path(self, role: str = "embedded") -> Path:
        """The state database; by default one per role, so that a hub and an agent on one
        machine do not share one (a database serves one process)."""
        if self.general.state_path:
            return Path(self.general.state_path).expanduser()
        name = "state.sqlite3" if role == "embedded" else f"{role}.sqlite3"
        return _state_home() / name

    def resolved_run_log_dir(self) -> Path:
        """Where `etagram run` writes each run's log (one file per run, named after it)."""
        if self.run.run_log_dir:
            return Path(self.run.run_log_dir).expanduser()
        return _state_home() / "runs"

    def with_changes(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys changed, such as `with_changes(general={"language": "fr"})`."""
        changed = {
            name: msgspec.structs.replace(getattr(self, name), **values)
            for name, values in sections.items()
        }
        return msgspec.structs.replace(self, **changed)


def _state_home() -> Path:
    """etagram's folder under $XDG_STATE_HOME (~/.local/state): state and logs of runs."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "etagram"


# Each key's type, by (section, key), in the order of the file's sections.
_TYPES = {
    (section.name, key.name): key.type
    for section in msgspec.structs.fields(Config)
    for key in msgspec.structs.fields(section.type)
}
Origins = dict[tuple[str, str], tuple[str, Any]]  # (section, key): (file key or variable, raw)
_ENV_PREFIXED = ("telegram", "gpu", "metrics")
# Words people write in either case.
_CASE: dict[str, Callable[[str], str]] = {
    "language": str.lower,
    "log_level": str.upper,
    "show_host": str.lower,
}


def _timezone(text: str) -> None:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError from exc  # its words repeat the value, which _bad says once


def _log_format(text: str) -> None:
    from bot.core.parsers.registry import FORMATS  # every parser: only when one is named

    if text not in FORMATS:
        raise ValueError(f"unknown log format (known: {', '.join(FORMATS)})")


# What a type cannot say, checked on a value given ("" = the default) once the file is decoded.
_CHECKS: dict[tuple[str, str], Callable[[str], object]] = {
    ("general", "timezone"): _timezone,
    ("run", "format"): _log_format,
    ("run", "progress_pattern"): compile_pattern,  # PatternError (a ValueError) says why
}


def keys() -> Iterator[tuple[str, str, str]]:
    """Every (section, key, environment variable)."""
    for section, key in _TYPES:
        prefix = f"{section}_" if section in _ENV_PREFIXED else ""
        yield section, key, f"ETAGRAM_{prefix}{key}".upper()


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), then the environment; raise ConfigError on a bad value."""
    env = os.environ if env is None else env
    table = _read_toml(Path(path)) if path else {}
    if path and _section(table, "telegram").get("token"):  # refused like a readable token file
        _private(Path(path), "config file {path} holds telegram.token and")
    # Where each value came from, and as it was written there, for the error message.
    where = {
        (s, k): (f"{s}.{k}", v)
        for s in table
        if isinstance(table[s], dict)
        for k, v in table[s].items()
    }
    for section, key, variable in keys():
        if env.get(variable, "") != "":
            _section(table, section)[key] = _from_env(section, key, env[variable])
            where[(section, key)] = (variable, env[variable])
    config = _decode(table, where)
    if config.telegram.token_file and not config.telegram.token:
        token = _read_token_file(Path(config.telegram.token_file).expanduser())
        config = config.with_changes(telegram={"token": token})
    return config


def _section(table: dict[str, Any], name: str) -> dict[str, Any]:
    entries = table.setdefault(name, {})
    return entries if isinstance(entries, dict) else {}


def _from_env(section: str, key: str, text: str) -> Any:
    field_type = _TYPES[(section, key)]
    if get_origin(field_type) is Annotated:
        field_type = get_args(field_type)[0]
    if get_origin(field_type) is tuple:  # lists come comma-separated
        return [item.strip() for item in text.replace(";", ",").split(",") if item.strip()]
    return text


def _decode(table: dict[str, Any], where: Origins) -> Config:
    for entries in table.values():
        for key, value in list(entries.items()) if isinstance(entries, dict) else ():
            if key in _CASE and isinstance(value, str):
                entries[key] = _CASE[key](value.strip())
    try:
        config = msgspec.convert(table, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), where)) from None
    for (section, key), check in _CHECKS.items():
        value = getattr(getattr(config, section), key)
        try:
            if value:
                check(value)
        except ValueError as exc:
            raise ConfigError(_bad(section, key, where, exc)) from None
    return config


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `(?P<name>[^`]+)`")


def _explain(error: str, where: Origins) -> str:
    """msgspec's error as one line naming the key and what is expected."""
    at = _AT.search(error)
    path = re.sub(r"\[\d+\]", "", at.group("path")) if at else ""
    unknown = _UNKNOWN.search(error)
    if unknown and not path:
        sections = sorted({section for section, _ in _TYPES})
        return f"[{unknown.group('name')}]: unknown section; expected one of {sections}"
    if unknown:
        known = sorted(key for section, key in _TYPES if section == path)
        return f"{path}.{unknown.group('name')}: unknown key; expected one of {known}"
    if "." not in path:
        return f"{path}: expected a [{path}] table"
    section, key = path.split(".", 1)
    return _bad(section, key, where, None)


def _bad(section: str, key: str, where: Origins, why: Exception | None) -> str:
    label, raw = where[(section, key)]
    shown = "<hidden>" if key == "token" else repr(raw)
    reason = f"{why}; " if why is not None and str(why) else ""
    expected = get_args(_TYPES[(section, key)])[1].description
    return f"{label} = {shown}: {reason}expected {expected}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None


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
