"""RunClock: the run's own time, from cumulative clocks, timestamps or per-iteration times."""

from __future__ import annotations

import pytest

from bot.core.clock import STALE_LINES, RunClock
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


def test_garbled_readings_move_nothing() -> None:
    clock = RunClock()
    evs = [Progress(1, elapsed_s=float("nan")), Progress(2, elapsed_s=10.0)]
    evs += [Progress(3, elapsed_s=float("inf")), Progress(4, elapsed_s=12.0)]
    evs += [Progress(5, dt_s=float("nan"))]
    assert times(clock, evs) == [0.0, 0.0, 0.0, 2.0, 2.0]


def test_lines_without_the_kept_source_lose_no_time() -> None:
    """HF Trainer stdout: a `{'loss': ...}` dict (no clock) between two tqdm redraws of the
    same step. The bar's next reading covers the whole interval."""
    clock = RunClock()
    evs = [
        Progress(9, elapsed_s=10.0),
        Progress(10, elapsed_s=11.0),
        Progress(10, loss=2.9),  # the dict: no clock on the line
        Progress(10, elapsed_s=11.0),  # tqdm redraws the bar after the dict
        Progress(11, elapsed_s=12.0),
        Progress(20, elapsed_s=21.0),
        Progress(20, loss=2.5),
        Progress(20, elapsed_s=21.0),
        Progress(21, elapsed_s=22.0),
    ]
    ts = times(clock, evs, wall_s=5000.0)
    assert ts == [0.0, 1.0, 1.0, 1.0, 2.0, 11.0, 11.0, 11.0, 12.0]
    assert clock.source == "elapsed"


def test_a_less_trusted_source_never_takes_over() -> None:
    """Timestamps on most lines, a per-iteration time on some: the timestamps are the clock."""
    base = 1.7e9
    evs = [
        Progress(0, timestamp_s=base),
        Progress(10, dt_s=0.5),  # would add 0.5 + 9 x 0.5 as dt
        Progress(20, timestamp_s=base + 30.0),
    ]
    assert times(RunClock(), evs) == [0.0, 0.0, 30.0]


def test_a_more_trusted_source_takes_over_continuously() -> None:
    evs = [Progress(0, dt_s=1.0), Progress(1, dt_s=1.0), Progress(2, elapsed_s=500.0)]
    evs.append(Progress(3, elapsed_s=501.5))
    assert times(RunClock(), evs) == [0.0, 1.0, 1.0, 2.5]


def test_new_year_without_a_year_jumps_back_and_the_clock_goes_on() -> None:
    """`12/31 23:59:30` then `01/01 00:00:30` read in the same year: a year back."""
    year = 365 * 86400.0
    start = 1.7e9
    evs = [
        Progress(1, timestamp_s=start),
        Progress(2, timestamp_s=start + 30.0),
        Progress(3, timestamp_s=start + 60.0 - year),  # across midnight of New Year
        Progress(4, timestamp_s=start + 90.0 - year),
        Progress(5, timestamp_s=start + 120.0 - year),
    ]
    clock = RunClock()
    ts = times(clock, evs)
    assert ts == [0.0, 30.0, 30.0, 60.0, 90.0]  # only the interval across midnight is lost


def test_new_year_read_a_year_ahead_also_goes_on() -> None:
    year = 365 * 86400.0
    evs = [Progress(i, timestamp_s=1.7e9 + 10.0 * i + (year if i >= 2 else 0)) for i in range(5)]
    assert times(RunClock(), evs) == [0.0, 10.0, 10.0, 20.0, 30.0]


@pytest.mark.parametrize("stray", [0.0, 4.07e9, 1e18])  # 1970, 2099, a garbled number
def test_a_stray_timestamp_is_ignored(stray: float) -> None:
    evs = [Progress(i, timestamp_s=1.7e9 + 10.0 * i) for i in range(4)]
    evs.insert(2, Progress(2, timestamp_s=stray))
    ts = times(RunClock(), evs)
    assert ts == [0.0, 10.0, 10.0, 20.0, 30.0]


def test_a_stray_elapsed_reading_is_ignored() -> None:
    evs = [Progress(i, elapsed_s=r) for i, r in enumerate([0.0, 10.0, 1e18, 20.0, 30.0])]
    assert times(RunClock(), evs) == [0.0, 10.0, 10.0, 20.0, 30.0]


def test_summer_time_ending_sets_timestamps_back_an_hour() -> None:
    start = 1.7e9
    readings = [start, start + 600.0, start + 1200.0 - 3600.0, start + 1800.0 - 3600.0]
    ts = times(RunClock(), [Progress(i, timestamp_s=r) for i, r in enumerate(readings)])
    assert ts == [0.0, 600.0, 600.0, 1200.0]


def test_elapsed_restart_on_resume_even_after_a_long_run() -> None:
    """A resume after 12 days of LLaMA-Factory `elapsed_time`: the clock starts again near 0."""
    evs = [Progress(100000, elapsed_s=1.0e6), Progress(100010, elapsed_s=1.0e6 + 50.0)]
    evs += [Progress(99000, elapsed_s=5.0), Progress(99010, elapsed_s=55.0)]
    clock = RunClock()
    assert times(clock, evs) == [0.0, 50.0, 55.0, 105.0]
    assert clock.restarts == 1


def test_elapsed_falling_a_little_at_a_launch_is_a_restart() -> None:
    """Resumed soon after starting: the bar restarts at 6 s where the last reading was 10 s."""
    clock = RunClock()
    times(clock, [Progress(i, elapsed_s=float(i)) for i in range(11)])
    assert clock.advance(Progress(5, elapsed_s=6.0), 0.0, launched=True) == 16.0
    assert clock.advance(Progress(6, elapsed_s=7.0), 0.0) == 17.0
    assert clock.restarts == 1


def test_elapsed_falling_a_little_without_a_launch_is_held() -> None:
    """Two writers whose lines arrive out of order (LLaMA-Factory on two ranks)."""
    clock = RunClock()
    evs = [Progress(1000, elapsed_s=15030.0), Progress(1020, elapsed_s=15399.0)]
    evs += [Progress(1010, elapsed_s=15246.0), Progress(1030, elapsed_s=15560.0)]
    assert times(clock, evs) == [0.0, 369.0, 369.0, 530.0]
    assert clock.restarts == 0


def test_a_counter_jump_adds_no_absurd_time() -> None:
    evs = [Progress(0, dt_s=0.2), Progress(10, dt_s=0.2), Progress(10**18, dt_s=0.2)]
    evs.append(Progress(10**18 + 10, dt_s=0.2))
    ts = times(RunClock(), evs)
    assert ts == pytest.approx([0.0, 2.0, 2.2, 4.2])


def test_a_source_the_log_stops_printing_hands_over() -> None:
    """A bar's elapsed on the first lines only, then timestamped lines: the clock follows the
    timestamps once the bar is clearly gone, instead of staying frozen."""
    clock = RunClock()
    times(clock, [Progress(i, elapsed_s=float(i)) for i in range(3)])
    ts = times(clock, [Progress(3 + i, timestamp_s=1.7e9 + 5.0 * i) for i in range(40)])
    assert ts[STALE_LINES - 2] == 2.0  # still waiting for the bar
    assert clock.source == "timestamp" and ts[-1] == 2.0 + 5.0 * (40 - STALE_LINES)
