"""bot.core.hosts: the GPUs of several machines, for /gpu and for a run's detectors."""

from __future__ import annotations

from bot.core.gpu import ERROR_LIBRARY_NOT_FOUND, GpuSample, GpuSnapshot
from bot.core.hosts import HostGpus, host_of
from bot.core.notices import Alert, NanEvidence, ThermalEvidence


def snap(t: float, *temps: int) -> GpuSnapshot:
    return GpuSnapshot(t, tuple(GpuSample(i, temperature_c=c) for i, c in enumerate(temps)))


def test_one_machine_passes_through_unchanged() -> None:
    gpus, s = HostGpus(), snap(1.0, 60, 61)
    assert gpus.update("", s) is s
    assert gpus.for_run("", s, "gpt2") is s
    assert gpus.latest == {}


def test_gpu_view_lists_every_host_with_its_own_indices() -> None:
    gpus = HostGpus()
    gpus.update("node2", snap(1.0, 60, 61), "gpt2")
    view = gpus.update("node1", snap(2.0, 70), "gpt2")
    assert [(host_of(g), g.index, g.temperature_c) for g in view.gpus] == [
        ("node1", 0, 70),
        ("node2", 0, 60),
        ("node2", 1, 61),
    ]
    assert view.taken_at_s == 2.0 and view.error is None
    view = gpus.update("node1", snap(3.0, 88), "gpt2")  # the latest of each host
    assert [g.temperature_c for g in view.gpus] == [88, 60, 61]


def test_a_host_without_nvml_does_not_hide_the_others() -> None:
    gpus = HostGpus()
    gpus.update("login", GpuSnapshot(1.0, error=ERROR_LIBRARY_NOT_FOUND))
    assert gpus.view().error == ERROR_LIBRARY_NOT_FOUND
    assert gpus.update("node1", snap(2.0, 70)).error is None


def test_detectors_see_the_hosts_of_their_run_numbered_and_alerts_name_the_host() -> None:
    gpus = HostGpus()
    gpus.update("node1", snap(1.0, 60, 61), "gpt2")
    gpus.update("other", snap(1.0, 50), "llama")
    gpus.update("node3", snap(1.0, 62, 88), "gpt2")
    seen = gpus.for_run("node3", gpus.latest["node3"], "gpt2")
    assert [(g.index, host_of(g)) for g in seen.gpus] == [
        (0, "node1"),
        (1, "node1"),
        (2, "node3"),
        (3, "node3"),
    ]
    assert gpus.runs("node3", ["gpt2", "llama"]) == ["gpt2"]

    hot = Alert("gpt2", "thermal", "warning", 100, 50.0, ThermalEvidence(gpu=3, temperature_c=88))
    other = Alert("gpt2", "nan", "critical", 100, 50.0, NanEvidence("nan"))
    named = gpus.name_hosts([hot, other])
    assert named[0] == Alert(
        "gpt2",
        "thermal",
        "warning",
        100,
        50.0,
        ThermalEvidence(gpu=1, host="node3", temperature_c=88),
    )
    assert named[1] is other
    # numbers are stable: a host reporting again or late keeps its GPUs' numbers
    gpus.update("node0", snap(2.0, 55), "gpt2")
    again = gpus.for_run("node0", gpus.latest["node0"], "gpt2")
    assert {(host_of(g), g.index) for g in again.gpus} >= {("node3", 3), ("node1", 0)}


def test_a_host_for_every_run_concerns_each_run() -> None:
    gpus = HostGpus()
    gpus.update("box", snap(1.0, 60))
    assert gpus.runs("box", ["a", "b"]) == ["a", "b"]
    assert [host_of(g) for g in gpus.for_run("box", gpus.latest["box"], "a").gpus] == ["box"]
