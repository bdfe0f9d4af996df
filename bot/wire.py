"""Bus messages to JSON and back: what travels between an `etagram agent` and the hub.

Pure: no I/O. `decode` checks every field, so a hub fed by a newer agent, another program
or a corrupt entry gets a `WireError` (one clear line) instead of a half-built message.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bot.bus import GpuReport, LogLines, LogWait, Message, ProcessExit
from bot.core.gpu import GpuProcess, GpuSample, GpuSnapshot

VERSION = 1

# GpuSample fields that are an int or None (NVML's "not available").
_OPTIONAL_INTS = (
    "utilization_pct",
    "memory_used_mib",
    "memory_total_mib",
    "temperature_c",
    "slowdown_temp_c",
    "sm_clock_mhz",
    "max_sm_clock_mhz",
    "power_mw",
    "power_limit_mw",
)


class WireError(ValueError):
    """A payload that is not a message of this version."""


def encode(msg: Message) -> str:
    """One message as compact JSON text."""
    return json.dumps(to_dict(msg), separators=(",", ":"), allow_nan=False)


def decode(text: str | bytes) -> Message:
    """The message `encode` made; WireError for anything else."""
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    except RecursionError:  # a rogue client's deeply nested arrays
        raise WireError("not JSON this program can read: nested too deeply") from None
    return from_dict(obj)


def to_dict(msg: Message) -> dict[str, Any]:
    if isinstance(msg, LogLines):
        return {
            "v": VERSION,
            "type": "lines",
            "run": msg.run,
            "lines": list(msg.lines),
            "wall_s": msg.wall_s,
            "replayed": msg.replayed,
            "host": msg.host,
            "catch_up": msg.catch_up,
        }
    if isinstance(msg, GpuReport):
        snap = _snapshot_dict(msg.snapshot)
        return {"v": VERSION, "type": "gpu", "host": msg.host, "run": msg.run, "snapshot": snap}
    if isinstance(msg, LogWait):
        return {
            "v": VERSION,
            "type": "wait",
            "run": msg.run,
            "reason": msg.reason,
            "wall_s": msg.wall_s,
        }
    return {
        "v": VERSION,
        "type": "exit",
        "run": msg.run,
        "exit_code": msg.exit_code,
        "wall_s": msg.wall_s,
        "stopped_by": msg.stopped_by,
    }


def from_dict(obj: Any) -> Message:
    o = _Obj(obj, "message")
    if o.get("v", int) != VERSION:
        raise WireError(f"unsupported message version {obj.get('v')!r} (expected {VERSION})")
    kind = o.get("type", str)
    if kind == "lines":
        lines = o.get("lines", list)
        if not all(isinstance(line, str) for line in lines):
            raise WireError("message.lines: expected a list of strings")
        return LogLines(
            o.get("run", str),
            tuple(lines),
            o.number("wall_s"),
            o.get("replayed", bool),
            o.get("host", str),
            bool(o.optional("catch_up", bool)),  # absent from older agents: line by line
        )
    if kind == "gpu":
        snapshot = _snapshot(_Obj(o.get("snapshot", dict), "snapshot"))
        return GpuReport(o.get("host", str), snapshot, o.get("run", str))
    if kind == "exit":
        code, by = o.optional("exit_code", int), o.optional("stopped_by", str)
        return ProcessExit(o.get("run", str), code, o.number("wall_s"), by)
    if kind == "wait":
        return LogWait(o.get("run", str), o.optional("reason", str), o.number("wall_s"))
    raise WireError(f"unknown message type {kind!r}")


def _snapshot_dict(snap: GpuSnapshot) -> dict[str, Any]:
    return {
        "taken_at_s": snap.taken_at_s,
        "gpus": [_sample_dict(g) for g in snap.gpus],
        "error": snap.error,
        "error_detail": snap.error_detail,
        "driver_version": snap.driver_version,
    }


def _sample_dict(g: GpuSample) -> dict[str, Any]:
    d: dict[str, Any] = {"index": g.index, "uuid": g.uuid, "name": g.name}
    d.update({name: getattr(g, name) for name in _OPTIONAL_INTS})
    d["reasons"] = sorted(g.reasons)
    d["processes"] = [[p.pid, p.used_memory_mib] for p in g.processes]
    d["lost"] = g.lost
    return d


def _snapshot(o: _Obj) -> GpuSnapshot:
    gpus = o.get("gpus", list)
    return GpuSnapshot(
        o.number("taken_at_s"),
        tuple(_sample(_Obj(g, f"gpus[{i}]")) for i, g in enumerate(gpus)),
        o.optional("error", str),
        o.optional("error_detail", str),
        o.optional("driver_version", str),
    )


def _sample(o: _Obj) -> GpuSample:
    index = o.get("index", int)
    reasons = o.get("reasons", list)
    if not all(isinstance(r, str) for r in reasons):
        raise WireError(f"{o.where}.reasons: expected a list of strings")
    return GpuSample(
        index=index,
        uuid=o.optional("uuid", str),
        name=o.optional("name", str),
        **{name: o.optional(name, int) for name in _OPTIONAL_INTS},
        reasons=frozenset(reasons),
        processes=tuple(_process(p, f"{o.where}.processes") for p in o.get("processes", list)),
        lost=o.get("lost", bool),
    )


def _process(item: Any, where: str) -> GpuProcess:
    if (
        not isinstance(item, list)
        or len(item) != 2
        or not _is_int(item[0])
        or not (item[1] is None or _is_int(item[1]))
    ):
        raise WireError(f"{where}: expected [pid, MiB or null]")
    return GpuProcess(item[0], item[1])


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class _Obj:
    """A decoded JSON object whose fields are read with their expected type."""

    def __init__(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            raise WireError(f"{where}: expected an object")
        self.obj, self.where = obj, where

    def get(self, key: str, kind: type[Any]) -> Any:
        if key not in self.obj:
            raise WireError(f"{self.where}.{key}: missing")
        value = self.obj[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise WireError(f"{self.where}.{key}: expected {kind.__name__}, got {value!r:.40}")
        return value

    def optional(self, key: str, kind: type[Any]) -> Any:
        return None if self.obj.get(key) is None else self.get(key, kind)

    def number(self, key: str) -> float:
        value: Any = self.obj.get(key)
        if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            raise WireError(f"{self.where}.{key}: expected a finite number, got {value!r:.40}")
        return float(value)
