"""Estimator: step time, change detection, event costs, and every kind of bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.estimator import Estimator, EtaEstimate, eval_steps_from_config


def feed(est: Estimator, start: int, count: int, step_s: float, t_s: float = 0.0) -> float:
    """`count` ordinary iterations after `start`, one progress line each; the clock after."""
    for it in range(start, start + count):
        est.on_progress(it, t_s)
        t_s += step_s
    return t_s - step_s


def steady(step_s: float = 0.2, count: int = 1000) -> tuple[Estimator, float]:
    est = Estimator()
    return est, feed(est, 0, count, step_s)


def sane(eta: EtaEstimate) -> None:
    assert eta.remaining_s is not None and eta.low_s is not None and eta.high_s is not None
    assert 0 <= eta.low_s <= eta.remaining_s <= eta.high_s


def test_steady_run() -> None:
    est, _ = steady()
    eta = est.estimate(5000)
    assert eta.step_s == pytest.approx(0.2)
    assert eta.iters_left == 5000 - 999
    assert eta.remaining_s == pytest.approx(4001 * 0.2)
    sane(eta)


def test_unknown_total_says_so() -> None:
    est, _ = steady()
    eta = est.estimate(None)
    assert eta.remaining_s is None and eta.low_s is None and eta.iters_left is None
    assert eta.missing == ("total_iters",)
    assert eta.step_s == pytest.approx(0.2)


def test_nothing_yet() -> None:
    eta = Estimator().estimate(1000)
    assert eta.remaining_s is None and eta.iters_done is None
    assert eta.missing == ("step_time",)


def test_one_progress_line() -> None:
    est = Estimator()
    est.on_progress(10, 5.0)
    eta = est.estimate(1000)
    assert eta.remaining_s is None
    assert eta.missing == ("step_time",)
    assert eta.iters_done == 10


def test_a_few_lines_give_a_rough_estimate() -> None:
    est = Estimator()
    for it, t in ((0, 0.0), (1, 30.0), (2, 30.5), (3, 31.0)):  # the first step is compile
        est.on_progress(it, t)
    eta = est.estimate(100)
    assert eta.step_s == pytest.approx(0.5)
    sane(eta)


def test_no_clock_no_estimate() -> None:
    est = Estimator()
    for it in range(100):
        est.on_progress(it, 0.0)  # a format with no time and no wall clock
    assert est.estimate(1000).missing == ("step_time",)


def test_lasting_slowdown_moves_the_step_time_quickly() -> None:
    est, t = steady(0.2, 2000)
    for it in range(2000, 2300):
        t += 0.24
        est.on_progress(it, t)
        step = est.step_s()
        assert step is not None
        if step > 0.235:
            break
    assert it < 2150, "a lasting 20 % slowdown must show within ~150 iterations"
    t = feed(est, it + 1, 500, 0.24, t + 0.24)
    assert est.step_s() == pytest.approx(0.24, rel=0.01)


def test_one_slow_iteration_does_not_move_the_step_time() -> None:
    est, t = steady(0.2, 2000)
    est.on_progress(2000, t + 2.0)  # one 10x iteration
    feed(est, 2001, 50, 0.2, t + 2.2)
    assert est.step_s() == pytest.approx(0.2)
    assert est.estimate(3000).pauses_s == 0.0


def test_noisy_steps_average_out() -> None:
    est = Estimator()
    t = 0.0
    for it in range(3000):
        t += (0.19, 0.21, 0.2, 0.23, 0.17)[it % 5]
        est.on_progress(it, t)
    assert est.step_s() == pytest.approx(0.2, rel=0.01)


def test_whole_second_clock_is_not_rounded_down() -> None:
    """tqdm prints elapsed in whole seconds; at 1.1 s/it most intervals read 1 s."""
    est = Estimator()
    for it in range(2000):
        est.on_progress(it, float(int(it * 1.1)))
    assert est.step_s() == pytest.approx(1.1, rel=0.01)


def test_eval_cost_learned_from_the_interval_after_the_eval() -> None:
    est = Estimator()
    t = 0.0
    for it in range(2001):
        if it % 500 == 0:
            est.on_eval(it)  # nanoGPT prints the eval, then the iteration that paid for it
            t += 6.0
        est.on_progress(it, t)
        t += 0.2
    eta = est.estimate(5000)
    assert eta.eval_interval == 500
    assert eta.eval_cost_s == pytest.approx(6.0)
    assert eta.evals_left == 6  # 2500 ... 5000
    assert eta.remaining_s == pytest.approx(2999 * 0.2 + 6 * 6.0, rel=0.01)


def test_evals_not_timed_yet_cost_what_the_config_says() -> None:
    """Before the first eval is timed, nanoGPT's config gives its cost: 2 x eval_iters forward
    passes against accumulation x (forward + backward) per step; once timed, the timing wins."""
    est, t = steady(0.2, 100)
    eta = est.estimate(5000, eval_interval=500, eval_steps=4.0)
    assert eta.evals_left == 10 and eta.eval_cost_estimated
    assert eta.eval_cost_s == pytest.approx(0.8) and eta.evals_s == pytest.approx(8.0)
    assert est.estimate(5000, eval_interval=500).evals_s == 0.0  # without the config
    for it in range(100, 601):
        if it == 500:
            est.on_eval(it)
            t += 6.0
        t += 0.2
        est.on_progress(it, t)
    timed = est.estimate(5000, eval_interval=500, eval_steps=4.0)
    assert not timed.eval_cost_estimated and timed.eval_cost_s == pytest.approx(6.0, rel=0.05)


@pytest.mark.parametrize(
    ("config", "steps"),
    [
        ({"eval_iters": 200, "gradient_accumulation_steps": 5}, 2 * 200 / (3 * 5)),
        # the printed tokens per iteration tell the accumulation in use
        (
            {"eval_iters": 200, "gradient_accumulation_steps": 40, "tokens_per_iter": 61440}
            | {"batch_size": 12, "block_size": 1024},
            2 * 200 / (3 * 5),
        ),
        ({"eval_iters": 200}, 2 * 200 / (3 * 40)),  # train.py's default accumulation
        ({"eval_iters": "many", "gradient_accumulation_steps": 5}, None),
        ({"max_iters": 5000}, None),
    ],
)
def test_eval_steps_from_config(config: dict[str, int | float | str], steps: float | None) -> None:
    assert eval_steps_from_config(config) == (pytest.approx(steps) if steps else None)


def test_configured_eval_interval_wins() -> None:
    est, _ = steady()
    assert est.estimate(5000, eval_interval=1000).evals_left == 5  # 1000 ... 5000


def test_eval_printed_after_its_pause_claims_it() -> None:
    """A buffered stdout prints the eval result well after the pause it caused."""
    est = Estimator()
    t = 0.0
    for it in range(1500):
        if it in (501, 1001):
            t += 30.0  # the evals after steps 500 and 1000
        if it in (700, 1200):
            est.on_eval(it)
        est.on_progress(it, t)
        t += 1.0
    eta = est.estimate(2000)
    assert eta.eval_cost_s == pytest.approx(30.0, abs=1.0)
    assert eta.eval_interval == 500
    assert eta.evals_left == 2  # 1500, 2000
    assert eta.pauses_s == 0.0


def test_unreported_recurring_pause_is_counted() -> None:
    est = Estimator()
    t = 0.0
    for it in range(1300):
        if it and it % 400 == 0:
            t += 20.0  # after steps 399, 799, ...: an epoch end nobody prints
        est.on_progress(it, t)
        t += 0.5
    eta = est.estimate(2000)
    assert eta.pauses_s == pytest.approx(2 * 20.0, rel=0.05)  # after 1599 and 1999


def test_checkpoint_cost_and_spacing() -> None:
    est = Estimator()
    t = 0.0
    for it in range(3001):
        est.on_progress(it, t)
        t += 0.5
        if it and it % 1000 == 0:
            est.on_checkpoint()
            t += 4.0
    eta = est.estimate(6000)
    assert eta.checkpoint_cost_s == pytest.approx(4.0)
    assert eta.checkpoints_left == 3
    assert eta.checkpoints_s == pytest.approx(12.0)


def test_paused_run_is_a_one_off() -> None:
    est, t = steady(0.2, 1000)
    before = est.estimate(5000).remaining_s
    t += 3600.0  # nothing for an hour
    feed(est, 1000, 100, 0.2, t)
    eta = est.estimate(5000)
    assert eta.pauses_s == 0.0
    assert before is not None and eta.remaining_s == pytest.approx(before - 100 * 0.2, rel=0.01)


def test_resume_backwards() -> None:
    est, t = steady(0.2, 1000)
    feed(est, 600, 300, 0.2, t + 60.0)  # restarted from the checkpoint at 600
    eta = est.estimate(2000)
    assert est.resumes == 1
    assert eta.iters_done == 899
    assert eta.remaining_s == pytest.approx(1101 * 0.2, rel=0.01)
    sane(eta)


def test_resume_forward() -> None:
    est, t = steady(0.2, 1000)
    feed(est, 47700, 200, 0.2, t + 1.0)  # a new session starts from a later checkpoint
    eta = est.estimate(100000)
    assert est.resumes == 1
    assert eta.step_s == pytest.approx(0.2)
    assert eta.remaining_s == pytest.approx((100000 - 47899) * 0.2, rel=0.01)


def test_clock_going_backwards() -> None:
    est, t = steady(0.2, 1000)
    feed(est, 1000, 200, 0.2, t - 50.0)
    eta = est.estimate(2000)
    assert est.resumes == 1
    assert eta.remaining_s == pytest.approx(801 * 0.2, rel=0.01)
    sane(eta)


def test_garbled_clock_reading_is_ignored() -> None:
    est, t = steady(0.2, 1000)
    est.on_progress(1000, float("nan"))
    est.on_progress(1001, float("inf"))
    feed(est, 1000, 10, 0.2, t + 0.2)
    eta = est.estimate(2000)
    assert eta.remaining_s == pytest.approx(991 * 0.2, rel=0.01)
    sane(eta)


def test_past_the_total() -> None:
    est, _ = steady(0.2, 1000)
    eta = est.estimate(500)
    assert eta.iters_left == 0 and eta.remaining_s == 0.0
    sane(eta)


def test_drift_is_followed() -> None:
    """Each step slower than the last (a growing attention window): the mean step ahead is
    higher than the one seen so far."""
    est = Estimator()
    t = 0.0
    for it in range(2000):
        t += 0.15 + 0.02 * it / 2000
        est.on_progress(it, t)
    eta = est.estimate(4000)
    true = sum(0.15 + 0.02 * it / 2000 for it in range(2000, 4000))
    assert eta.remaining_s == pytest.approx(true, rel=0.02)
    assert eta.step_s is not None and eta.remaining_s > 2001 * eta.step_s


def epochs(count: int) -> list[tuple[int, float]]:
    """One line per epoch, each 0.06 s slower than the last (91 s at first), on a clock
    that prints whole seconds."""
    t, points = 0.0, []
    for epoch in range(count):
        points.append((epoch, float(round(t))))
        t += 91 + 0.06 * epoch
    return points


def test_drift_of_a_per_epoch_log_is_followed() -> None:
    """A line a minute and a half apart on a whole-second clock: the trend's points come
    from the clock's quantum (1 s) and the run's length, not from 20 lines at a time."""
    est = Estimator()
    for it, t in epochs(250):
        est.on_progress(it, t)
    eta = est.estimate(500)
    true = sum(91 + 0.06 * epoch for epoch in range(250, 500))
    assert est._quantum_s == 1.0
    assert eta.remaining_s == pytest.approx(true, rel=0.02)


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_batches_fold_as_lines_do(chunk: int) -> None:
    """`add_progress` (catch-up) ends in the state `on_progress` line by line reaches:
    on a jittered millisecond clock and on a whole-second per-epoch one."""
    jittered = [(it, it * 0.1 + (it * 7919 % 13) * 1e-3) for it in range(3000)]
    for points in (jittered, epochs(400)):
        one, batched = Estimator(), Estimator()
        for it, t in points:
            one.on_progress(it, t)
        for k in range(0, len(points), chunk):
            part = points[k : k + chunk]
            batched.add_progress([i for i, _ in part], [t for _, t in part])
        assert batched.estimate(6000) == one.estimate(6000)
        assert batched.timer._history == one.timer._history


def test_scattered_step_times_are_no_trend() -> None:
    est = Estimator()
    t = 0.0
    for it in range(4000):
        t += 0.2 * (1.04 if (it // 300) % 2 else 0.96)  # data-dependent phases
        est.on_progress(it, t)
    eta = est.estimate(8000)
    assert eta.remaining_s == pytest.approx(4001 * 0.2, rel=0.05)


@given(
    st.lists(
        st.tuples(st.integers(-10, 10_000), st.floats(-1e3, 1e6, allow_nan=False)),
        min_size=1,
        max_size=60,
    ),
    st.one_of(st.none(), st.integers(0, 20_000)),
    st.lists(st.sampled_from(["eval", "checkpoint", "progress"]), max_size=60),
)
def test_never_negative_or_inverted(
    points: list[tuple[int, float]], total: int | None, kinds: list[str]
) -> None:
    est = Estimator()
    for (it, t), kind in zip(points, kinds + ["progress"] * len(points), strict=False):
        if kind == "eval":
            est.on_eval(it)
        elif kind == "checkpoint":
            est.on_checkpoint(None)
        est.on_progress(it, t)
        eta = est.estimate(total)
        if eta.remaining_s is not None:
            sane(eta)
            assert eta.remaining_s < 1e12


def test_printed_eta_is_passed_through() -> None:
    est = Estimator()
    est.on_progress(10, 0.0, printed_s=3600.0)
    assert est.estimate(100).printed_s == 3600.0
    est.on_progress(20, 10.0)
    assert est.estimate(100).printed_s is None


def test_an_eval_at_every_progress_line_is_part_of_the_step() -> None:
    """Keras/Ultralytics/Lightning print one line per epoch, each after its validation: every
    interval holds an eval, so the epoch time (validation included) is the step."""
    est = Estimator()
    for epoch in range(1, 11):
        est.on_progress(epoch, 7.0 * (epoch - 1))
        est.on_eval(epoch)
    eta = est.estimate(40)
    assert eta.step_s == 7.0 and eta.remaining_s == 30 * 7.0
