"""RunState: folding events, GPU snapshots and ticks."""

from __future__ import annotations

import pytest

from bot.core.detectors import Thresholds
from bot.core.events import Checkpoint, ErrorText, Eval, Progress, RunConfig, TrainingEnd
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.launches import LAUNCHES_KEPT
from bot.core.linebuf import LineBuffer
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


# The run clock through a real parser --------------------------------------------------------


def _hf_log(steps: int, log_every: int) -> bytes:
    """HF Trainer stdout as it is written: tqdm redraws on `\\r`, and after every
    `logging_steps` the bar is cleared, the loss dict printed and the bar drawn again."""
    out = []
    for step in range(1, steps + 1):
        elapsed = 12 + 2 * step  # 12 s before the first step, then 2 s a step
        clock = f"{elapsed // 60:02d}:{elapsed % 60:02d}"
        bar = f"  1%|          | {step}/{steps} [{clock}<10:00,  2.00s/it]"
        out.append("\r" + bar)
        if step % log_every == 0:
            out.append("\r" + " " * 52 + "\r{'loss': 1.5, 'learning_rate': 5e-05, 'epoch': 0.1}\n")
            out.append("\r" + bar)
    return "".join(out).encode()


def test_hf_trainer_loss_dicts_do_not_lose_time() -> None:
    """The bar says 2 s a step; the `{'loss': ...}` dicts between redraws carry no clock and
    must neither drop nor add the time around them."""
    monitor = RunMonitor("hf", "hf")
    lines = LineBuffer().feed(_hf_log(200, 10)) + ["\n"]
    monitor.feed(lines, 1.0e9)
    state = monitor.state
    assert state.iter == 200 and state.t_s == 2 * 199
    assert state.clock.source == "elapsed" and state.launches[-1].clock_source == "elapsed"


# Launches -----------------------------------------------------------------------------------


def _run(state: RunState, its: range, dt_s: float = 0.5, total: int | None = None) -> None:
    for i in its:
        state.apply(Progress(i, loss=2.0, dt_s=dt_s, total=total), 0.0)


def test_a_resume_is_one_launch_more_and_keeps_the_step_time() -> None:
    state = RunState("r", total_iters=2000)
    _run(state, range(0, 1000, 10))
    _run(state, range(600, 700, 10))  # back part of the way: resumed from a checkpoint
    assert [launch.kind for launch in state.launches] == ["first", "resume"]
    assert state.launch is not None and state.launch.start_iter == 600
    assert state.resumes == 1 and state.estimator.step_s() == 0.5
    assert state.eta().remaining_s is not None


def test_a_counter_back_to_about_zero_is_a_new_launch_with_a_fresh_estimate() -> None:
    state = RunState("r")
    _run(state, range(0, 1000, 10), dt_s=0.5, total=1000)
    state.apply(Eval(500, 2.0, 1.9), 0.0)
    _run(state, range(0, 30, 10), dt_s=2.0, total=3000)  # the next run of a sweep, slower
    launch = state.launch
    assert launch is not None and (launch.kind, launch.start_iter) == ("new", 0)
    assert (launch.total, launch.total_source) == (3000, "progress line")
    assert state.total_iters == 3000 and state.best is None and state.evals == []
    assert [p.iter for p in state.history] == [0, 10, 20]
    # Only the new launch's own intervals: 2 s a step, nothing of the first launch's 0.5 s.
    assert state.estimator.step_s() == 2.0


def test_the_total_may_change_between_launches_from_the_config_dump() -> None:
    """detectron2 prints its config (MAX_ITER) again at every launch, before its steps."""
    state = RunState("r")
    state.apply(RunConfig({"max_iters": 1000}), 0.0)
    _run(state, range(19, 1000, 20))
    state.apply(RunConfig({"max_iters": 5000}), 0.0)
    _run(state, range(19, 400, 20))
    assert [(x.kind, x.total, x.total_source) for x in state.launches] == [
        ("first", 1000, "config"),
        ("new", 5000, "config"),
    ]
    assert state.eta().total_iters == 5000


def test_interleaved_writers_are_not_launches() -> None:
    state = RunState("r")
    state.apply(Progress(0, dt_s=0.1), 0.0)
    for i in range(10, 500, 10):
        state.apply(Progress(i, dt_s=0.1), 0.0)
        state.apply(Progress(i - 10, dt_s=0.1), 0.0)
    assert len(state.launches) == 1 and state.resumes == 0


def test_timestamps_across_new_year_keep_one_launch_and_a_sane_clock() -> None:
    year = 365 * 86400.0
    state = RunState("r")
    for i in range(10):
        shift = -year if i >= 5 else 0.0  # `12/31` then `01/01`, read in the same year
        state.apply(Progress(i * 10, timestamp_s=1.7e9 + 60.0 * i + shift), 0.0)
    assert len(state.launches) == 1
    assert state.t_s == 60.0 * 8  # only the interval across midnight is not known


def test_a_counter_that_jumps_to_1e18_does_not_break_the_state() -> None:
    state = RunState("r", total_iters=1000)
    _run(state, range(0, 200, 10))
    state.apply(Progress(10**18, dt_s=0.5), 0.0)
    _run(state, range(200, 300, 10))
    # 19 intervals of 5 s, the jump's own 0.5 s and nothing for its 10^18 iterations, then
    # the 9 intervals after it (a new launch: the counter went back to about zero).
    assert state.t_s == 19 * 5.0 + 0.5 + 9 * 5.0
    assert state.eta().remaining_s is not None


def test_launch_records_stay_bounded() -> None:
    state = RunState("r")
    for _ in range(LAUNCHES_KEPT + 20):
        _run(state, range(0, 100, 10))
    assert len(state.launches) == LAUNCHES_KEPT
    assert state.launch_book.count == LAUNCHES_KEPT + 20


def test_a_new_total_announces_a_launch_that_resumes_where_the_last_stopped() -> None:
    """detectron2: the last launch goes on from the checkpoint (no step back) with a new
    MAX_ITER in its config dump."""
    state = RunState("r")
    state.apply(RunConfig({"max_iters": 37000}), 0.0)
    _run(state, range(15019, 31019, 20))
    state.apply(RunConfig({"max_iters": 111000}), 0.0)
    _run(state, range(31019, 31419, 20))
    assert [(x.kind, x.start_iter, x.total) for x in state.launches] == [
        ("first", 15019, 37000),
        ("resume", 31019, 111000),
    ]
    state.apply(RunConfig({"max_iters": 111000}), 0.0)  # the same total again: no launch
    _run(state, range(31419, 31619, 20))
    assert len(state.launches) == 2


def test_first_eta_counts_the_evals_the_config_describes() -> None:
    """nanoGPT: `eval_iters` and the accumulation give the evals' cost before one is timed."""
    state = RunState("r")
    config = {"max_iters": 2000, "eval_interval": 250, "eval_iters": 200}
    state.apply(RunConfig(config | {"gradient_accumulation_steps": 5}), 0.0)
    state.apply(Eval(0, 5.0, 5.0), 0.0)
    for i in range(0, 60, 10):
        state.apply(Progress(i, loss=4.0, dt_s=0.17), 0.0)
    eta = state.eta()
    assert eta.evals_left == 8 and eta.eval_cost_estimated
    assert eta.step_s is not None and eta.eval_cost_s == pytest.approx(eta.step_s * 2 * 200 / 15)
