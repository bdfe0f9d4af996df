"""Which GPUs each run uses, and what each run's detectors and the machine's see."""

from __future__ import annotations

from bot.core.gpu import HW_THERMAL, GpuProcess, GpuSample, GpuSnapshot
from bot.core.gpumap import (
    NO_PROCESSES,
    PID_NAMESPACE,
    GpuMap,
    map_gpus,
    ordered_for,
    unused_view,
    view_for,
)
from bot.core.monitor import RunMonitor

# Run "a": launcher 10 writes its log, worker 11 on GPU 0. Run "b": writer 20 itself on GPU 1.
# GPU 2: someone else's job (pid 30). GPU 3: idle.
SNAP = GpuSnapshot(
    100.0,
    (
        GpuSample(0, temperature_c=60, processes=(GpuProcess(11, 9000),)),
        GpuSample(1, temperature_c=60, processes=(GpuProcess(20, 9000),)),
        GpuSample(2, temperature_c=60, processes=(GpuProcess(30, 500),)),
        GpuSample(3, temperature_c=40),
    ),
)
LINEAGES = {11: (11, 10, 5), 20: (20, 5), 30: (30, 7)}
ROOTS = {"a": {10}, "b": {20}, "ended": set[int]()}


def test_each_run_gets_the_gpus_of_its_process_tree() -> None:
    mapped = map_gpus(SNAP, LINEAGES, ROOTS)
    assert mapped.unknown is None
    assert mapped.gpus_of("a") == {0}
    assert mapped.gpus_of("b") == {1}
    assert mapped.gpus_of("ended") == frozenset()  # no process left: no GPU
    assert mapped.gpus_of("never-seen") == frozenset()


def test_a_shared_ancestor_is_not_a_root() -> None:
    # 5 is the parent of both runs' processes (a shell): it owns neither unless it writes a log.
    assert map_gpus(SNAP, LINEAGES, {"shell": {5}}).gpus_of("shell") == {0, 1}
    assert map_gpus(SNAP, LINEAGES, {"a": {10}}).gpus_of("a") == {0}


def test_unknown_when_no_pid_is_visible_or_none_is_listed() -> None:
    assert map_gpus(SNAP, {11: None, 20: None, 30: None}, ROOTS).unknown == PID_NAMESPACE
    idle = GpuSnapshot(0.0, (GpuSample(0), GpuSample(1)))
    assert map_gpus(idle, {}, ROOTS).unknown == NO_PROCESSES
    # One PID found is enough to trust the others' absence (they ended between two reads).
    assert map_gpus(SNAP, {11: LINEAGES[11]}, ROOTS).gpus_of("a") == {0}


def test_views_split_the_gpus_between_runs_and_machine() -> None:
    mapped = map_gpus(SNAP, LINEAGES, ROOTS)
    assert [g.index for g in view_for(SNAP, mapped, "a").gpus] == [0]
    assert [g.index for g in view_for(SNAP, mapped, "ended").gpus] == []
    unused = unused_view(SNAP, mapped)
    assert unused is not None and [g.index for g in unused.gpus] == [2, 3]
    assert [g.index for g in ordered_for(SNAP, mapped, "b").gpus] == [1, 0, 2, 3]


def test_unknown_map_keeps_todays_behaviour() -> None:
    unknown = GpuMap(unknown=PID_NAMESPACE)
    for gpu_map in (None, unknown):
        assert view_for(SNAP, gpu_map, "a") == SNAP
        assert unused_view(SNAP, gpu_map) is None
        assert ordered_for(SNAP, gpu_map, "b") == SNAP


def hot(index: int, snap: GpuSnapshot, at: float) -> GpuSnapshot:
    gpus = tuple(
        GpuSample(g.index, temperature_c=91, slowdown_temp_c=90, reasons=frozenset({HW_THERMAL}))
        if g.index == index
        else g
        for g in snap.gpus
    )
    return GpuSnapshot(at, gpus)


def test_heat_reaches_only_the_run_on_the_hot_gpu() -> None:
    """The detectors see what `view_for` gives them: GPU 1 hot warns "b" only."""
    mapped = map_gpus(SNAP, LINEAGES, ROOTS)
    runs = {name: RunMonitor(name) for name in ("a", "b")}
    warned: dict[str, list[str]] = {"a": [], "b": []}
    for t in range(0, 400, 10):
        snap = hot(1, SNAP, float(t))
        for name, state in runs.items():
            warned[name] += [n.type for n in state.apply_gpu(view_for(snap, mapped, name), t)]
    assert warned == {"a": [], "b": ["thermal"]}


def test_heat_on_a_gpu_no_run_uses_goes_once_to_the_machine() -> None:
    mapped = map_gpus(SNAP, LINEAGES, ROOTS)
    machine, runs = RunMonitor(""), [RunMonitor("a"), RunMonitor("b")]
    said: list[str] = []
    for t in range(0, 400, 10):
        snap = hot(2, SNAP, float(t))
        for monitor in runs:
            assert monitor.apply_gpu(view_for(snap, mapped, monitor.state.name), t) == []
        unused = unused_view(snap, mapped)
        assert unused is not None
        said += [n.type for n in machine.apply_gpu(unused, t)]
    assert said == ["thermal"]
