"""GPU telemetry records: what one NVML sample read, per GPU, and small pure helpers.

Every field with a unit carries it in its name. A field is None when the GPU or the driver
cannot report it ("not available"); a GPU that fell off the bus is a sample with `lost=True`
and nothing else known but what was read before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

# Clock event reasons ("throttle reasons") that slow a GPU down and that we report.
# Idle, application clocks, sync boost and display clocks are deliberate, never a cost.
HW_SLOWDOWN: Final = "hw_slowdown"
HW_THERMAL: Final = "hw_thermal"
SW_THERMAL: Final = "sw_thermal"
SW_POWER_CAP: Final = "sw_power_cap"
HW_POWER_BRAKE: Final = "hw_power_brake"
REASONS: Final = frozenset({HW_SLOWDOWN, HW_THERMAL, SW_THERMAL, SW_POWER_CAP, HW_POWER_BRAKE})
THERMAL_REASONS: Final = frozenset({HW_THERMAL, SW_THERMAL})
# HW slowdown is raised for both heat and power-brake events; NVML cannot tell which.
POWER_REASONS: Final = frozenset({SW_POWER_CAP, HW_POWER_BRAKE})

# Why a whole snapshot is empty (`GpuSnapshot.error`): stable codes, rendered by bot/messages.
ERROR_LIBRARY_NOT_FOUND: Final = "library_not_found"  # no libnvidia-ml.so.1: no NVIDIA driver
ERROR_DRIVER_NOT_LOADED: Final = "driver_not_loaded"  # library present, kernel module absent
ERROR_VERSION_MISMATCH: Final = "version_mismatch"  # driver upgraded without a reboot
ERROR_NO_PERMISSION: Final = "no_permission"
ERROR_NVML: Final = "nvml_error"  # any other NVML failure; `error_detail` says which


class GpuProcess(NamedTuple):
    """One process holding memory on a GPU."""

    pid: int
    used_memory_mib: int | None  # None where the driver cannot tell (Windows WDDM)


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One GPU at one instant."""

    index: int
    uuid: str | None = None
    name: str | None = None
    utilization_pct: int | None = None
    memory_used_mib: int | None = None
    memory_total_mib: int | None = None
    temperature_c: int | None = None
    slowdown_temp_c: int | None = None
    sm_clock_mhz: int | None = None
    max_sm_clock_mhz: int | None = None
    power_mw: int | None = None
    power_limit_mw: int | None = None
    reasons: frozenset[str] = frozenset()  # subset of REASONS; empty when NVML cannot tell
    processes: tuple[GpuProcess, ...] = ()
    lost: bool = False


@dataclass(frozen=True, slots=True)
class GpuSnapshot:
    """All GPUs of one machine at one sampling instant.

    `error` is set (and `gpus` empty) when NVML itself is unusable; the service goes on.
    """

    taken_at_s: float
    gpus: tuple[GpuSample, ...] = ()
    error: str | None = None  # one of the ERROR_* codes
    error_detail: str | None = None  # NVML's own words, for logs and `etagram check`
    driver_version: str | None = None


class GpuSource(Protocol):
    """Anything that samples GPUs: the NVML sampler, the simulated GPU of `etagram demo`."""

    def sample(self) -> GpuSnapshot: ...

    def shutdown(self) -> None: ...


def memory_used_fraction(gpu: GpuSample) -> float | None:
    """Used over total memory, in [0, 1]; None when either is unknown."""
    if gpu.memory_used_mib is None or not gpu.memory_total_mib:
        return None
    return gpu.memory_used_mib / gpu.memory_total_mib


def sm_clock_ratio(gpu: GpuSample) -> float | None:
    """Current over maximum SM clock: 0.8 means the SMs run 20 % below their top speed."""
    if gpu.sm_clock_mhz is None or not gpu.max_sm_clock_mhz:
        return None
    return gpu.sm_clock_mhz / gpu.max_sm_clock_mhz


def is_thermal_limited(gpu: GpuSample) -> bool:
    """NVML says heat slows the clocks, or the GPU is at its own slowdown temperature.

    The temperature test covers drivers that report no clock event reasons.
    """
    if gpu.reasons & THERMAL_REASONS:
        return True
    return (
        gpu.temperature_c is not None
        and gpu.slowdown_temp_c is not None
        and gpu.temperature_c >= gpu.slowdown_temp_c
    )


def is_power_limited(gpu: GpuSample) -> bool:
    """NVML says the power cap or the power brake slows the clocks."""
    return bool(gpu.reasons & POWER_REASONS)


def process_memory_mib(snapshot: GpuSnapshot, pid: int) -> dict[int, int | None]:
    """GPU index -> memory held by `pid` there, for every GPU where `pid` runs."""
    return {
        gpu.index: proc.used_memory_mib
        for gpu in snapshot.gpus
        for proc in gpu.processes
        if proc.pid == pid
    }
