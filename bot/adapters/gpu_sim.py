"""A simulated GPU for `etagram demo` and tests: the NVML sampler's interface, no NVML.

By default an RTX 4070 training flat out (12 GiB, 6.5 GiB used, 100 %, 65-70 degC,
~2.5 GHz SM). A scenario can add a thermal episode (the temperature climbs to 88 degC, the
thermal clock event reasons come on and the SM clock drops ~20 %) and a memory ramp that
ends in an out-of-memory crash. Everything is a function of the simulated time passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.core.gpu import HW_THERMAL, SW_THERMAL, GpuProcess, GpuSample, GpuSnapshot


@dataclass(frozen=True, slots=True)
class Episode:
    """A span of simulated time, in seconds."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not self.end_s > self.start_s:
            raise ValueError(f"an episode must end after it starts: {self.start_s}-{self.end_s} s")


@dataclass(frozen=True, slots=True)
class Scenario:
    """What the simulated GPU does; times are in seconds of the simulated clock."""

    name: str = "NVIDIA GeForce RTX 4070"
    uuid: str = "GPU-7e3a6d1c-4070-4b2e-9c5f-0000e7a6a000"
    pid: int = 4242  # the training process
    memory_total_mib: int = 12282
    memory_used_mib: int = 6656
    desktop_memory_mib: int = 350  # held by the display, not by the training process
    temperature_c: float = 67.5  # the middle of a slow 65-70 degC swing
    slowdown_temp_c: int = 90
    sm_clock_mhz: int = 2505
    max_sm_clock_mhz: int = 3105
    power_mw: int = 185_000
    power_limit_mw: int = 200_000
    thermal: Episode | None = None
    thermal_peak_c: float = 88.0
    thermal_clock_drop: float = 0.2  # fraction of the SM clock lost at the peak
    thermal_ramp_s: float = 60.0  # time to heat up to the peak, and to cool down after
    oom_at_s: float | None = None  # the training process dies of OOM then
    memory_ramp_s: float = 120.0  # memory climbs to 99 % over this time before the OOM


def thermal_intensity(scenario: Scenario, t_s: float) -> float:
    """0 outside the thermal episode, 1 at its peak, linear while heating and cooling."""
    episode = scenario.thermal
    if episode is None or t_s <= episode.start_s:
        return 0.0
    ramp_s = max(scenario.thermal_ramp_s, 1e-9)
    if t_s <= episode.end_s:
        return min(1.0, (t_s - episode.start_s) / ramp_s)
    peak = min(1.0, (episode.end_s - episode.start_s) / ramp_s)
    return max(0.0, peak - (t_s - episode.end_s) / ramp_s)


def simulated_sample(scenario: Scenario, t_s: float) -> GpuSample:
    """The simulated GPU at simulated time `t_s`."""
    identity = GpuSample(
        index=0,
        uuid=scenario.uuid,
        name=scenario.name,
        memory_total_mib=scenario.memory_total_mib,
        slowdown_temp_c=scenario.slowdown_temp_c,
        max_sm_clock_mhz=scenario.max_sm_clock_mhz,
        power_limit_mw=scenario.power_limit_mw,
    )
    if scenario.oom_at_s is not None and t_s >= scenario.oom_at_s:
        # The training process is gone: an idle GPU that holds only the desktop's memory.
        return replace(
            identity,
            utilization_pct=0,
            memory_used_mib=scenario.desktop_memory_mib,
            temperature_c=45,
            sm_clock_mhz=210,
            power_mw=22_000,
        )
    heat = thermal_intensity(scenario, t_s)
    # Slow, incommensurate swings so successive samples differ like a real GPU's.
    swing = math.sin(2 * math.pi * t_s / 300.0)
    temperature_c = scenario.temperature_c + 2.5 * swing
    temperature_c += (scenario.thermal_peak_c - temperature_c) * heat
    clock_mhz = scenario.sm_clock_mhz + 15 * math.sin(2 * math.pi * t_s / 47.0)
    slowdown = 1.0 - scenario.thermal_clock_drop * heat
    used_mib = _memory_used_mib(scenario, t_s)
    return replace(
        identity,
        utilization_pct=100,
        memory_used_mib=used_mib,
        temperature_c=round(temperature_c),
        sm_clock_mhz=round(clock_mhz * slowdown),
        power_mw=round(scenario.power_mw * slowdown),
        reasons=_thermal_reasons(heat),
        processes=(GpuProcess(scenario.pid, used_mib - scenario.desktop_memory_mib),),
    )


def _memory_used_mib(scenario: Scenario, t_s: float) -> int:
    base = scenario.memory_used_mib
    if scenario.oom_at_s is None or scenario.memory_ramp_s <= 0:
        return base
    progress = 1.0 - (scenario.oom_at_s - t_s) / scenario.memory_ramp_s
    if progress <= 0:
        return base
    return round(base + (0.99 * scenario.memory_total_mib - base) * progress)


def _thermal_reasons(heat: float) -> frozenset[str]:
    # Software thermal control acts first; the hardware slowdown only near the peak.
    if heat >= 0.9:
        return frozenset({SW_THERMAL, HW_THERMAL})
    if heat >= 0.5:
        return frozenset({SW_THERMAL})
    return frozenset()


class SimulatedGpu:
    """`sample()` as NvmlSampler's, read from a scenario at the simulated time `now()`."""

    def __init__(self, now: Callable[[], float], scenario: Scenario | None = None) -> None:
        self._now = now
        self._scenario = scenario if scenario is not None else Scenario()

    def sample(self) -> GpuSnapshot:
        t_s = self._now()
        return GpuSnapshot(taken_at_s=t_s, gpus=(simulated_sample(self._scenario, t_s),))

    def shutdown(self) -> None:
        """Nothing to release."""
