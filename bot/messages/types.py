"""What the renderers are given: the chat's context and the shape of GPU records.

GPU records come from `bot.core.gpu`; they are typed here structurally (Protocol) so that
messages depend on the fields they read, not on the module that samples them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class Ctx:
    """One chat's preferences and the wall clock (epoch seconds) at rendering time."""

    lang: str  # "fr", "en" or "both"
    now_s: float
    tz: str = "UTC"
    clock24: bool | None = None  # None: the language's habit (fr 24 h, en 12 h)


class GpuSampleLike(Protocol):
    """One GPU at one instant; None means NVML could not tell."""

    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str | None: ...
    @property
    def utilization_pct(self) -> float | None: ...
    @property
    def memory_used_mib(self) -> float | None: ...
    @property
    def memory_total_mib(self) -> float | None: ...
    @property
    def temperature_c(self) -> float | None: ...
    @property
    def slowdown_temp_c(self) -> float | None: ...
    @property
    def sm_clock_mhz(self) -> float | None: ...
    @property
    def max_sm_clock_mhz(self) -> float | None: ...
    @property
    def power_mw(self) -> float | None: ...
    @property
    def power_limit_mw(self) -> float | None: ...
    @property
    def reasons(self) -> frozenset[str]: ...
    @property
    def lost(self) -> bool: ...
    @property
    def processes(self) -> Sequence[tuple[int, int | None]]: ...  # (pid, used memory MiB)


class GpuSnapshotLike(Protocol):
    """All GPUs sampled at once, or why sampling failed."""

    @property
    def taken_at_s(self) -> float: ...
    @property
    def gpus(self) -> Sequence[GpuSampleLike]: ...
    @property
    def error(self) -> str | None: ...
