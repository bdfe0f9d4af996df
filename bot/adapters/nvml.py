"""GPU sampler on NVML through `pynvml` (the `nvidia-ml-py` package).

Every NVML call goes through one query helper, `NvmlQuery`, in the manner of nvitop's
`nvmlQuery`: it starts NVML lazily on first use, calls a `pynvml` function by name, and turns
"this driver, GPU or nvidia-ml-py lacks it" into None, logging each such function once. Two
failures are not "not available" and escape as exceptions the sampler turns into data:
NVML itself unusable (no library, no driver) and a GPU that fell off the bus.

`NvmlSampler.sample()` blocks (NVML calls are synchronous C calls); the service runs it with
`asyncio.to_thread`. It is serialised by a lock, so overlapping jobs cannot interleave.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pynvml

from bot.core.gpu import (
    ERROR_DRIVER_NOT_LOADED,
    ERROR_LIBRARY_NOT_FOUND,
    ERROR_NO_PERMISSION,
    ERROR_NVML,
    ERROR_VERSION_MISMATCH,
    HW_POWER_BRAKE,
    HW_SLOWDOWN,
    HW_THERMAL,
    SW_POWER_CAP,
    SW_THERMAL,
    GpuProcess,
    GpuSample,
    GpuSnapshot,
)

log = logging.getLogger(__name__)

_MIB = 1 << 20

# Newest name first: the helper skips a function once NVML or nvidia-ml-py proved it absent.
_TEMPERATURE = ("nvmlDeviceGetTemperatureV", "nvmlDeviceGetTemperature")
_POWER_LIMIT = ("nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit")
_CLOCK_REASONS = (
    "nvmlDeviceGetCurrentClocksEventReasons",  # driver R535+
    "nvmlDeviceGetCurrentClocksThrottleReasons",
)
# Called by version: the unversioned wrapper turns "function not found" into a mismatch error.
_PROCESSES = (
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
)

# Raised by pynvml's unversioned wrappers instead of "function not found" (nvidia-ml-py 12+).
_MISMATCH = getattr(pynvml, "NVMLLibraryMismatchError", pynvml.NVMLError_FunctionNotFound)

# NVML errors after which no GPU can be read at all; NVML is started again on the next sample.
_FATAL = {
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND: ERROR_LIBRARY_NOT_FOUND,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED: ERROR_DRIVER_NOT_LOADED,
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH: ERROR_VERSION_MISMATCH,
    pynvml.NVML_ERROR_UNINITIALIZED: ERROR_NVML,
}


def _reason_bit(suffix: str) -> int:
    # nvidia-ml-py renamed "throttle" to "clocks event" reasons; the bits did not change.
    bit = getattr(pynvml, "nvmlClocksEventReason" + suffix, None)
    return int(bit if bit is not None else getattr(pynvml, "nvmlClocksThrottleReason" + suffix))


_REASON_BITS = (
    (_reason_bit("HwSlowdown"), HW_SLOWDOWN),
    (_reason_bit("HwThermalSlowdown"), HW_THERMAL),
    (_reason_bit("SwThermalSlowdown"), SW_THERMAL),
    (_reason_bit("SwPowerCap"), SW_POWER_CAP),
    (_reason_bit("HwPowerBrakeSlowdown"), HW_POWER_BRAKE),
)


def decode_reasons(mask: int) -> frozenset[str]:
    """The slowdown reasons set in an NVML clock event reasons bitmask."""
    return frozenset(name for bit, name in _REASON_BITS if mask & bit)


class NvmlUnavailable(Exception):
    """NVML cannot be used at all: `code` is one of bot.core.gpu's ERROR_* codes."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class GpuLost(Exception):
    """NVML answered GPU_IS_LOST: the GPU fell off the bus."""


class NvmlQuery:
    """Calls `pynvml` functions by name; None means "not available". Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._initialized = False
        self._missing: set[str] = set()
        self._logged: set[tuple[object, ...]] = set()

    def __call__(self, name: str, *args: Any) -> Any:
        """`pynvml.<name>(*args)`, or None when the function or the value is not available.

        Raises NvmlUnavailable when NVML is unusable and GpuLost when the GPU is gone.
        """
        if name in self._missing:
            return None
        func = getattr(pynvml, name, None)
        if func is None:
            self._mark_missing(name, "absent from the installed nvidia-ml-py")
            return None
        self._ensure_init()
        try:
            value = func(*args)
        except (pynvml.NVMLError_FunctionNotFound, _MISMATCH):
            self._mark_missing(name, "absent from the NVML library (older driver)")
            return None
        except pynvml.NVMLError as err:
            return self._failed(name, err)
        except UnicodeDecodeError as err:  # a garbled name or UUID from the driver
            self._once(("decode", name), logging.WARNING, "NVML %s: %s", name, err)
            return None
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    def first(self, names: Sequence[str], *args: Any) -> Any:
        """The first available answer among functions that give the same value."""
        for name in names:
            value = self(name, *args)
            if value is not None:
                return value
        return None

    def shutdown(self) -> None:
        with self._lock:
            if not self._initialized:
                return
            self._initialized = False
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError as err:
                log.debug("nvmlShutdown: %s", err)

    def _ensure_init(self) -> None:
        if self._initialized:
            return
        failure = None
        with self._lock:
            if self._initialized:
                return
            try:
                pynvml.nvmlInit()
                self._initialized = True
            except pynvml.NVMLError as err:
                failure = err
        if failure is not None:  # raised outside the lock: logging it takes the lock again
            raise self._unavailable("nvmlInit", failure) from failure
        log.debug("NVML started")

    def _failed(self, name: str, err: Any) -> None:
        code = err.value
        if code == pynvml.NVML_ERROR_GPU_IS_LOST:
            raise GpuLost(name)
        if code in _FATAL:
            self._initialized = False  # let the next call start NVML again
            raise self._unavailable(name, err)
        level = logging.DEBUG if code == pynvml.NVML_ERROR_NOT_SUPPORTED else logging.WARNING
        self._once((name, code), level, "NVML %s not available: %s", name, err)
        return None

    def _unavailable(self, name: str, err: Any) -> NvmlUnavailable:
        detail = f"{name}: {err}"
        if err.value == pynvml.NVML_ERROR_NO_PERMISSION:
            code = ERROR_NO_PERMISSION
        else:
            code = _FATAL.get(err.value, ERROR_NVML)
        self._once(("fatal", code), logging.WARNING, "NVML unusable: %s", detail)
        return NvmlUnavailable(code, detail)

    def _mark_missing(self, name: str, why: str) -> None:
        with self._lock:
            self._missing.add(name)
        self._once(("missing", name), logging.INFO, "NVML function %s not available: %s", name, why)

    def _once(self, key: tuple[object, ...], level: int, msg: str, *args: object) -> None:
        with self._lock:
            if key in self._logged:
                return
            self._logged.add(key)
        log.log(level, msg, *args)


@dataclass(frozen=True, slots=True)
class _Device:
    """What does not change while the driver runs, read once per GPU."""

    handle: Any
    uuid: str | None
    name: str | None
    max_sm_clock_mhz: int | None
    slowdown_temp_c: int | None


class NvmlSampler:
    """Reads every GPU of this machine; `sample()` never raises for NVML trouble."""

    def __init__(self, now: Callable[[], float], query: NvmlQuery | None = None) -> None:
        self._now = now
        self._query = query if query is not None else NvmlQuery()
        self._lock = threading.Lock()
        self._count: int | None = None
        self._driver_version: str | None = None
        self._devices: dict[int, _Device] = {}
        self._lost: dict[int, GpuSample] = {}  # last known identity of lost GPUs

    def sample(self) -> GpuSnapshot:
        with self._lock:
            taken_at_s = self._now()
            try:
                count = self._device_count()
                if count is None:
                    return GpuSnapshot(taken_at_s, error=ERROR_NVML, error_detail="no GPU count")
                gpus = tuple(self._sample_gpu(index) for index in range(count))
            except NvmlUnavailable as err:
                self._forget()
                return GpuSnapshot(taken_at_s, error=err.code, error_detail=err.detail)
            return GpuSnapshot(taken_at_s, gpus, driver_version=self._driver_version)

    def shutdown(self) -> None:
        with self._lock:
            self._forget()
            self._query.shutdown()

    def _forget(self) -> None:
        self._count = None
        self._devices.clear()

    def _device_count(self) -> int | None:
        if self._count is None:
            self._count = self._query("nvmlDeviceGetCount")
            self._driver_version = self._query("nvmlSystemGetDriverVersion")
        return self._count

    def _sample_gpu(self, index: int) -> GpuSample:
        try:
            device = self._device(index)
            if device is None:
                return GpuSample(index)
            sample = self._read(index, device)
        except GpuLost:
            known = self._devices.pop(index, None)  # a reset GPU comes back with a new handle
            if index not in self._lost:
                log.warning("GPU %d is lost (fell off the bus)", index)
                self._lost[index] = GpuSample(
                    index,
                    uuid=None if known is None else known.uuid,
                    name=None if known is None else known.name,
                    lost=True,
                )
            return self._lost[index]
        self._lost.pop(index, None)
        return sample

    def _device(self, index: int) -> _Device | None:
        device = self._devices.get(index)
        if device is not None:
            return device
        q = self._query
        handle = q("nvmlDeviceGetHandleByIndex", index)
        if handle is None:
            return None
        device = _Device(
            handle=handle,
            uuid=q("nvmlDeviceGetUUID", handle),
            name=q("nvmlDeviceGetName", handle),
            max_sm_clock_mhz=q("nvmlDeviceGetMaxClockInfo", handle, pynvml.NVML_CLOCK_SM),
            slowdown_temp_c=q(
                "nvmlDeviceGetTemperatureThreshold",
                handle,
                pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
            ),
        )
        self._devices[index] = device
        return device

    def _read(self, index: int, device: _Device) -> GpuSample:
        q, handle = self._query, device.handle
        utilization = q("nvmlDeviceGetUtilizationRates", handle)
        memory = q("nvmlDeviceGetMemoryInfo", handle)
        reasons = q.first(_CLOCK_REASONS, handle)
        processes = q.first(_PROCESSES, handle)
        return GpuSample(
            index=index,
            uuid=device.uuid,
            name=device.name,
            utilization_pct=None if utilization is None else utilization.gpu,
            memory_used_mib=None if memory is None else memory.used // _MIB,
            memory_total_mib=None if memory is None else memory.total // _MIB,
            temperature_c=q.first(_TEMPERATURE, handle, pynvml.NVML_TEMPERATURE_GPU),
            slowdown_temp_c=device.slowdown_temp_c,
            sm_clock_mhz=q("nvmlDeviceGetClockInfo", handle, pynvml.NVML_CLOCK_SM),
            max_sm_clock_mhz=device.max_sm_clock_mhz,
            power_mw=q("nvmlDeviceGetPowerUsage", handle),
            power_limit_mw=q.first(_POWER_LIMIT, handle),
            reasons=frozenset() if reasons is None else decode_reasons(reasons),
            processes=() if processes is None else tuple(map(_process, processes)),
        )


def _process(info: Any) -> GpuProcess:
    used = info.usedGpuMemory  # pynvml gives None where the driver cannot tell
    return GpuProcess(int(info.pid), None if used is None else used // _MIB)
