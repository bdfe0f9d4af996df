"""NvmlSampler through the real pynvml, against the stand-in libnvidia-ml.so.1 (tests/nvml_stub).

pynvml finds the library by name through LD_LIBRARY_PATH, which the loader reads at process
start, so each case runs the sampler in a subprocess (tests/nvml_stub/run_sampler.py) that
prints every snapshot as a JSON line.
"""

from __future__ import annotations

import ctypes
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.nvml import NvmlQuery, NvmlSampler, decode_reasons
from bot.core.gpu import ERROR_DRIVER_NOT_LOADED, ERROR_LIBRARY_NOT_FOUND
from tests import nvml_stub
from tests.nvml_stub import FakeGpu, write_state

ROOT = Path(__file__).resolve().parents[2]
# Left out of the "old driver" build: the sampler must fall back to the older function.
OLD_DRIVER_OMITS = (
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetTemperatureV",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetComputeRunningProcesses_v3",
)


def _build(tmp_path_factory: pytest.TempPathFactory, omit: tuple[str, ...] = ()) -> Path:
    try:
        return nvml_stub.build(tmp_path_factory.getbasetemp() / "nvml-stub", omit)
    except nvml_stub.NoCompiler as err:
        pytest.skip(f"cannot build the stand-in NVML library: {err}")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory)


@pytest.fixture(scope="module")
def old_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, OLD_DRIVER_OMITS)


class SamplerProcess:
    """A sampler in a child process; `sample()` returns its next snapshot as a dict."""

    def __init__(self, library_dir: Path | None, state: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.nvml_stub.run_sampler"],
            cwd=ROOT,
            env=nvml_stub.environment(library_dir, state),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def command(self, name: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"sampler process died: {self.finish()}"
        result: dict[str, Any] = json.loads(line)
        return result

    def sample(self) -> dict[str, Any]:
        return self.command("sample")

    def finish(self) -> list[str]:
        """Ends the child; returns its log records."""
        _, err = self.proc.communicate(timeout=60)
        return err.splitlines()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "nvml-state"


@pytest.fixture
def spawn() -> Iterator[Any]:
    children: list[SamplerProcess] = []

    def start(library_dir: Path | None, state: Path) -> SamplerProcess:
        children.append(SamplerProcess(library_dir, state))
        return children[-1]

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.communicate()


def test_reads_every_field_of_every_gpu(library: Path, state: Path, spawn: Any) -> None:
    write_state(
        state,
        [
            FakeGpu(
                uuid="GPU-4070",
                temp=88,
                sm=1980,
                reasons=nvml_stub.SW_THERMAL | nvml_stub.HW_THERMAL | nvml_stub.GPU_IDLE,
                procs=[(4242, 6000 << 20), (99, 300 << 20)],
            ),
            FakeGpu(name="NVIDIA H100 80GB HBM3", mem_total=81559 << 20, mem_used=1 << 20),
        ],
        driver="555.42.06",
    )
    sampler = spawn(library, state)
    snapshot = sampler.sample()
    sampler.finish()

    assert snapshot["error"] is None
    assert snapshot["taken_at_s"] == 1000.0
    assert snapshot["driver_version"] == "555.42.06"
    first, second = snapshot["gpus"]
    assert first == {
        "index": 0,
        "uuid": "GPU-4070",
        "name": "NVIDIA GeForce RTX 4070",
        "utilization_pct": 100,
        "memory_used_mib": 6656,
        "memory_total_mib": 12282,
        "temperature_c": 88,
        "slowdown_temp_c": 90,
        "sm_clock_mhz": 1980,
        "max_sm_clock_mhz": 3105,
        "power_mw": 180_000,
        "power_limit_mw": 200_000,
        "reasons": ["hw_thermal", "sw_thermal"],  # GPU idle is not a slowdown
        "processes": [[4242, 6000], [99, 300]],
        "lost": False,
    }
    assert second["name"] == "NVIDIA H100 80GB HBM3"
    assert second["uuid"] == "GPU-00000000-0000-0000-0000-000000000001"
    assert (second["memory_used_mib"], second["memory_total_mib"]) == (1, 81559)
    assert second["reasons"] == [] and second["processes"] == []


def test_follows_values_that_change_between_samples(library: Path, state: Path, spawn: Any) -> None:
    write_state(state, [FakeGpu(temp=67, sm=2475)])
    sampler = spawn(library, state)
    before = sampler.sample()["gpus"][0]
    write_state(
        state,
        [FakeGpu(temp=88, sm=1980, mem_used=12100 << 20, reasons=nvml_stub.HW_POWER_BRAKE)],
    )
    after = sampler.sample()["gpus"][0]
    sampler.finish()

    assert (before["temperature_c"], before["sm_clock_mhz"], before["reasons"]) == (67, 2475, [])
    assert (after["temperature_c"], after["sm_clock_mhz"]) == (88, 1980)
    assert after["memory_used_mib"] == 12100
    assert after["reasons"] == ["hw_power_brake"]


def test_not_supported_is_none_and_logged_once(library: Path, state: Path, spawn: Any) -> None:
    write_state(
        state,
        [FakeGpu(), FakeGpu()],
        fail={"nvmlDeviceGetPowerUsage": nvml_stub.NOT_SUPPORTED},
    )
    sampler = spawn(library, state)
    snapshots = [sampler.sample() for _ in range(3)]
    logs = sampler.finish()

    for snapshot in snapshots:
        assert [gpu["power_mw"] for gpu in snapshot["gpus"]] == [None, None]
        assert [gpu["temperature_c"] for gpu in snapshot["gpus"]] == [67, 67]
    about_power = [line for line in logs if "nvmlDeviceGetPowerUsage" in line]
    assert about_power == [
        "DEBUG bot.adapters.nvml NVML nvmlDeviceGetPowerUsage not available: Not Supported"
    ]


def test_older_driver_falls_back_and_logs_each_missing_function_once(
    old_library: Path, state: Path, spawn: Any
) -> None:
    write_state(
        state,
        [FakeGpu(temp=71, reasons=nvml_stub.SW_POWER_CAP, procs=[(7, 2 << 30)])] * 2,
    )
    sampler = spawn(old_library, state)
    snapshots = [sampler.sample() for _ in range(3)]
    logs = sampler.finish()

    for snapshot in snapshots:
        for gpu in snapshot["gpus"]:
            assert gpu["temperature_c"] == 71  # nvmlDeviceGetTemperature
            assert gpu["reasons"] == ["sw_power_cap"]  # ...ThrottleReasons
            assert gpu["power_limit_mw"] == 200_000  # nvmlDeviceGetPowerManagementLimit
            assert gpu["processes"] == [[7, 2048]]  # ..._v2
    for function in OLD_DRIVER_OMITS:
        mentions = [line for line in logs if function in line]
        assert mentions == [
            f"INFO bot.adapters.nvml NVML function {function} not available: "
            "absent from the NVML library (older driver)"
        ]


def test_a_lost_gpu_is_marked_and_the_others_still_read(
    library: Path, state: Path, spawn: Any
) -> None:
    write_state(state, [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b")])
    sampler = spawn(library, state)
    sampler.sample()
    write_state(state, [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b", lost=True)])
    lost = [sampler.sample() for _ in range(2)]
    write_state(state, [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b")])
    back = sampler.sample()
    logs = sampler.finish()

    for snapshot in lost:
        healthy, gone = snapshot["gpus"]
        assert snapshot["error"] is None
        assert healthy["lost"] is False and healthy["temperature_c"] == 67
        assert gone["lost"] is True
        assert gone["uuid"] == "GPU-b"  # identity known from before the loss
        assert gone["temperature_c"] is None
    assert back["gpus"][1]["lost"] is False and back["gpus"][1]["temperature_c"] == 67
    assert [line for line in logs if "lost" in line] == [
        "WARNING bot.adapters.nvml GPU 1 is lost (fell off the bus)"
    ]


def test_driver_not_loaded_is_a_snapshot_error(library: Path, state: Path, spawn: Any) -> None:
    write_state(state, [FakeGpu()], init_error=nvml_stub.DRIVER_NOT_LOADED)
    sampler = spawn(library, state)
    first, second = sampler.sample(), sampler.sample()
    write_state(state, [FakeGpu()])  # the driver is loaded later: NVML starts then
    recovered = sampler.sample()
    logs = sampler.finish()

    for snapshot in (first, second):
        assert snapshot["gpus"] == []
        assert snapshot["error"] == ERROR_DRIVER_NOT_LOADED
        assert "Driver Not Loaded" in snapshot["error_detail"]
    assert recovered["error"] is None and len(recovered["gpus"]) == 1
    assert len([line for line in logs if "NVML unusable" in line]) == 1


def test_shutdown_then_sample_starts_nvml_again(library: Path, state: Path, spawn: Any) -> None:
    write_state(state, [FakeGpu()])
    sampler = spawn(library, state)
    sampler.sample()
    sampler.command("shutdown")
    again = sampler.sample()
    sampler.finish()

    assert again["error"] is None and again["gpus"][0]["utilization_pct"] == 100


def test_samples_from_many_threads_at_once(library: Path, state: Path, spawn: Any) -> None:
    write_state(state, [FakeGpu(procs=[(4242, 1 << 30)])] * 8)
    sampler = spawn(library, state)
    reference = sampler.sample()
    distinct = sampler.command("threads 8")["distinct"]
    sampler.finish()

    assert [json.loads(snapshot) for snapshot in distinct] == [reference]


def _real_nvml_present() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(_real_nvml_present(), reason="this machine has a real NVML library")
def test_no_library_is_a_snapshot_error(state: Path, spawn: Any) -> None:
    write_state(state, [FakeGpu()])
    sampler = spawn(None, state)
    snapshot = sampler.sample()
    logs = sampler.finish()

    assert snapshot["gpus"] == [] and snapshot["error"] == ERROR_LIBRARY_NOT_FOUND
    assert any("NVML unusable" in line for line in logs)


@pytest.mark.skipif(_real_nvml_present(), reason="this machine has a real NVML library")
def test_no_library_in_process() -> None:
    sampler = NvmlSampler(now=lambda: 5.0)
    snapshot = sampler.sample()
    sampler.shutdown()

    assert snapshot.taken_at_s == 5.0
    assert snapshot.gpus == () and snapshot.error == ERROR_LIBRARY_NOT_FOUND


def test_function_missing_from_nvidia_ml_py_is_none_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    query = NvmlQuery()
    with caplog.at_level(logging.INFO, logger="bot.adapters.nvml"):
        assert query("nvmlDeviceGetSomethingFromTheFuture", object()) is None
        assert query("nvmlDeviceGetSomethingFromTheFuture", object()) is None

    assert [r.getMessage() for r in caplog.records] == [
        "NVML function nvmlDeviceGetSomethingFromTheFuture not available: "
        "absent from the installed nvidia-ml-py"
    ]


def test_decode_reasons_keeps_only_slowdowns() -> None:
    assert decode_reasons(0) == frozenset()
    assert (
        decode_reasons(0x1 | 0x2 | 0x10 | 0x100) == frozenset()
    )  # idle, app clocks, sync, display
    assert decode_reasons(0x4 | 0x8 | 0x20 | 0x40 | 0x80) == {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal",
        "hw_thermal",
        "hw_power_brake",
    }
