"""RunClock: the run's own time, from cumulative clocks, timestamps or per-iteration times."""

from __future__ import annotations

import pytest

from bot.core.clock import RunClock
from bot.core.events import Progress


def times(clock: RunClock, events: list[Progress], wall_s: float = 0.0) -> list[float]:
    return [clock.advance(ev, wall_s) for ev in events]


def test_cumulative_clock_starts_at_zero() -> None:
    evs = [Progress(i, elapsed_s=100.0 + 2 * i) for i in range(1, 4)]
    assert times(RunClock(), evs) == [0.0, 2.0, 4.0]


def test_warm_up_restart_continues_the_clock() -> None:
    """modded-nanogpt: train_time counts the compile, then restarts from 0 after step 10."""
    readings = [74.701, 75.965, 76.178, 0.214, 0.428]
    clock = RunClock()
    ts = times(clock, [Progress(i + 1, elapsed_s=r) for i, r in enumerate(readings)])
    assert ts == pytest.approx([0.0, 1.264, 1.477, 1.691, 1.905])
    assert clock.restarts == 1


def test_small_step_back_is_held() -> None:
    """Two writers or rounding: a reading slightly below the last one."""
    clock = RunClock()
    ts = times(clock, [Progress(i, elapsed_s=r) for i, r in enumerate([10.0, 20.0, 19.0, 21.0])])
    assert ts == [0.0, 10.0, 10.0, 11.0]
    assert clock.restarts == 0


def test_resume_restarts_elapsed() -> None:
    """LLaMA-Factory resumed from a checkpoint: elapsed_time starts again near zero."""
    clock = RunClock()
    ts = times(clock, [Progress(5220, elapsed_s=80000.0), Progress(5010, elapsed_s=158.0)])
    assert ts == [0.0, 158.0]


def test_timestamps() -> None:
    evs = [Progress(i, timestamp_s=1.7e9 + 3 * i) for i in range(3)]
    assert times(RunClock(), evs) == [0.0, 3.0, 6.0]


def test_eval_iteration_is_not_spread_over_unprinted_ones() -> None:
    """nanoGPT with log_interval 10: iter 250's time holds the eval, 241-249 do not."""
    clock = RunClock()
    evs = [Progress(0, dt_s=39.0)]  # compile: before the clock's zero
    evs += [Progress(i, dt_s=6.7) for i in range(10, 250, 10)]
    evs += [Progress(250, dt_s=31.2), Progress(260, dt_s=6.7)]
    ts = times(clock, evs)
    assert ts[1] == pytest.approx(67.0)
    assert ts[-2] - ts[-3] == pytest.approx(31.2 + 9 * 6.7)
    assert ts[-1] - ts[-2] == pytest.approx(67.0)


def test_every_iteration_printed() -> None:
    evs = [Progress(i, dt_s=0.17) for i in range(5)]
    assert times(RunClock(), evs) == pytest.approx([0.0, 0.17, 0.34, 0.51, 0.68])


def test_repeated_or_earlier_iteration_adds_nothing_with_dt() -> None:
    evs = [Progress(i, dt_s=0.2) for i in (0, 1, 1, 0, 2)]
    assert times(RunClock(), evs) == pytest.approx([0.0, 0.2, 0.2, 0.2, 0.6])


def test_negative_dt_is_ignored() -> None:
    evs = [Progress(0, dt_s=0.2), Progress(1, dt_s=-5.0), Progress(2, dt_s=0.2)]
    assert times(RunClock(), evs) == pytest.approx([0.0, 0.0, 0.2])


def test_wall_clock_when_the_log_has_no_time() -> None:
    clock = RunClock()
    assert clock.advance(Progress(1), 1000.0) == 0.0
    assert clock.advance(Progress(2), 1012.5) == 12.5
    assert clock.advance(Progress(3), 1005.0) == 12.5  # never backwards


def test_switch_of_source_keeps_time_continuous() -> None:
    clock = RunClock()
    clock.advance(Progress(1), 1000.0)
    clock.advance(Progress(2), 1010.0)
    assert clock.advance(Progress(3, elapsed_s=500.0), 1020.0) == 10.0
    assert clock.advance(Progress(4, elapsed_s=505.0), 1030.0) == 15.0
