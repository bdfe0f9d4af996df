"""The simulated GPU of `etagram demo`, and the pure helpers of bot.core.gpu on its samples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.gpu_sim import Episode, Scenario, SimulatedGpu, simulated_sample
from bot.core.gpu import (
    GpuProcess,
    GpuSample,
    GpuSnapshot,
    GpuSource,
    is_power_limited,
    is_thermal_limited,
    memory_used_fraction,
    process_memory_mib,
    sm_clock_ratio,
)

THERMAL = Scenario(thermal=Episode(start_s=600.0, end_s=960.0))
OOM = Scenario(oom_at_s=1200.0, memory_ramp_s=120.0)


def test_steady_rtx_4070_training_flat_out() -> None:
    scenario = Scenario()
    for t_s in range(0, 3600, 7):
        gpu = simulated_sample(scenario, float(t_s))
        assert gpu.name == "NVIDIA GeForce RTX 4070"
        assert (gpu.memory_used_mib, gpu.memory_total_mib) == (6656, 12282)
        assert gpu.utilization_pct == 100
        assert gpu.temperature_c is not None and 65 <= gpu.temperature_c <= 70
        assert gpu.sm_clock_mhz is not None and 2480 <= gpu.sm_clock_mhz <= 2530
        assert gpu.reasons == frozenset() and not is_thermal_limited(gpu)
        assert gpu.processes == (GpuProcess(4242, 6656 - 350),)
        assert gpu.lost is False


def test_thermal_episode_heats_throttles_and_recovers() -> None:
    before = simulated_sample(THERMAL, 590.0)
    heating = [simulated_sample(THERMAL, 600.0 + s) for s in range(0, 61, 10)]
    peak = simulated_sample(THERMAL, 800.0)
    after = simulated_sample(THERMAL, 960.0 + 61.0)

    assert not is_thermal_limited(before)
    temperatures = [gpu.temperature_c for gpu in heating if gpu.temperature_c is not None]
    assert len(temperatures) == len(heating) and temperatures == sorted(temperatures)
    assert peak.temperature_c == 88
    assert peak.reasons == {"sw_thermal", "hw_thermal"}
    assert is_thermal_limited(peak) and not is_power_limited(peak)
    ratio = sm_clock_ratio(peak)
    steady = sm_clock_ratio(before)
    assert ratio is not None and steady is not None
    assert ratio / steady == pytest.approx(0.8, abs=0.02)
    assert after.reasons == frozenset() and after.temperature_c is not None
    assert after.temperature_c <= 70


def test_memory_ramps_to_99_percent_then_the_process_dies() -> None:
    start = simulated_sample(OOM, 1080.0)
    last = simulated_sample(OOM, 1199.9)
    dead = simulated_sample(OOM, 1200.0)

    assert start.memory_used_mib == 6656
    fraction = memory_used_fraction(last)
    assert fraction is not None and fraction == pytest.approx(0.99, abs=0.002)
    assert dead.utilization_pct == 0 and dead.processes == ()
    assert dead.memory_used_mib == 350


@given(st.floats(min_value=0.0, max_value=10_000.0))
def test_samples_stay_physical(t_s: float) -> None:
    scenario = Scenario(thermal=Episode(100.0, 130.0), oom_at_s=5000.0)
    gpu = simulated_sample(scenario, t_s)
    assert gpu.memory_used_mib is not None and gpu.memory_total_mib is not None
    assert 0 < gpu.memory_used_mib <= gpu.memory_total_mib
    assert gpu.temperature_c is not None and gpu.temperature_c <= 88
    assert gpu.sm_clock_mhz is not None and gpu.max_sm_clock_mhz is not None
    assert 0 < gpu.sm_clock_mhz <= gpu.max_sm_clock_mhz


def test_sampler_reads_the_injected_clock() -> None:
    clock = iter([800.0, 1_000.0])
    source: GpuSource = SimulatedGpu(lambda: next(clock), THERMAL)
    hot, cool = source.sample(), source.sample()
    source.shutdown()

    assert hot.taken_at_s == 800.0 and hot.error is None
    assert hot.gpus[0].temperature_c == 88
    assert cool.taken_at_s == 1_000.0 and cool.gpus[0].temperature_c is not None
    assert cool.gpus[0].temperature_c < 88


def test_an_episode_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        Episode(start_s=10.0, end_s=10.0)


def test_helpers_say_none_when_not_available() -> None:
    blank = GpuSample(index=3)
    assert memory_used_fraction(blank) is None
    assert memory_used_fraction(GpuSample(0, memory_used_mib=5, memory_total_mib=0)) is None
    assert sm_clock_ratio(blank) is None
    assert not is_thermal_limited(blank) and not is_power_limited(blank)


def test_thermal_limit_from_temperature_when_no_reasons_are_reported() -> None:
    assert is_thermal_limited(GpuSample(0, temperature_c=90, slowdown_temp_c=90))
    assert not is_thermal_limited(GpuSample(0, temperature_c=89, slowdown_temp_c=90))
    assert is_power_limited(GpuSample(0, reasons=frozenset({"sw_power_cap"})))


def test_process_memory_finds_the_training_pid_on_every_gpu() -> None:
    snapshot = GpuSnapshot(
        taken_at_s=0.0,
        gpus=(
            GpuSample(0, processes=(GpuProcess(10, 500), GpuProcess(42, 7000))),
            GpuSample(1, processes=(GpuProcess(42, None),)),
            GpuSample(2),
        ),
    )
    assert process_memory_mib(snapshot, 42) == {0: 7000, 1: None}
    assert process_memory_mib(snapshot, 7) == {}
