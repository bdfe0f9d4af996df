"""RunState: folding events, GPU snapshots and ticks."""

from __future__ import annotations

from bot.core.detectors import Thresholds
from bot.core.events import Checkpoint, ErrorText, Eval, Progress, RunConfig, TrainingEnd
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, EvalNotice
from bot.core.state import EVALS_KEPT, RunState


def test_apply_folds_events_and_keeps_its_public_attributes() -> None:
    state = RunState("r", eval_interval=100)
    state.apply(RunConfig({"max_iters": 300}), 0.0)
    for i in range(0, 210, 10):
        state.apply(Progress(i, loss=3.0 - i / 1000, dt_s=0.5), float(i))
    notices = state.apply(Eval(200, 2.9, 2.8), 200.0)
    state.apply(Checkpoint(200), 200.0)
    state.apply(ErrorText("error", "ValueError: x"), 201.0)
    assert isinstance(notices[0], EvalNotice) and notices[0].best_val_loss == 2.8
    assert (state.iter, state.total_iters, state.eval_interval) == (200, 300, 100)
    assert state.t_s == 100.0 and state.loss == 2.8 and state.checkpoints == 1
    assert state.best is not None and state.best.iter == 200
    assert len(state.errors) == 1 and state.last_progress_wall_s == 200.0
    assert len(state.history) == 21 and state.resumes == 0
    assert state.eta().remaining_s is not None


def test_apply_gpu_keeps_the_latest_snapshot() -> None:
    state = RunState("r")
    snapshot = GpuSnapshot(5.0, (GpuSample(0, memory_used_mib=10, memory_total_mib=100),))
    state.apply_gpu(snapshot)
    assert state.gpu is snapshot


def test_tick_and_end_of_log_on_a_quiet_run_say_nothing() -> None:
    monitor = RunMonitor("r")
    assert monitor.tick(0.0) == [] and monitor.end_of_log() == []
    monitor.apply(Progress(0, loss=1.0), 0.0)
    assert monitor.tick(1.0) == [] and monitor.end_of_log() == []


def test_thresholds_reach_the_detectors() -> None:
    monitor = RunMonitor("r", thresholds=Thresholds(stall_floor_s=5.0, stall_factor=1.0))
    for i in range(10):
        monitor.apply(Progress(i), float(i))
    found = [n for n in monitor.tick(9 + 6.0) if isinstance(n, Alert)]
    assert [a.type for a in found] == ["stall"]
    ended = monitor.apply(TrainingEnd(2, "crash"), 16.0)
    assert [n.type for n in ended if isinstance(n, Alert)] == ["crash"]


def test_eval_records_stay_bounded_and_counted() -> None:
    state = RunState("long")
    for k in range(3 * EVALS_KEPT):
        state.apply(Eval(k * 10, 2.0, 2.0 - k / 1e5), 0.0)
    assert state.eval_count == 3 * EVALS_KEPT
    assert len(state.evals) <= EVALS_KEPT
    recent = [e.iter for e in state.evals[-EVALS_KEPT // 2 :]]
    assert recent == [k * 10 for k in range(3 * EVALS_KEPT - EVALS_KEPT // 2, 3 * EVALS_KEPT)]
    assert state.best is not None and state.best.iter == (3 * EVALS_KEPT - 1) * 10
