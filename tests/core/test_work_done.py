"""The work done at a progress line where the counter does not say it (`Progress.done`): an
epoch index printed at the epoch's end. Lightning counts epochs from 0, so with
`--max-iters 40` (max_epochs=40) `Epoch 39: 100%` leaves nothing to do and `Epoch 20:  99%|
92/93` leaves 19 epochs and a batch; Keras (`Epoch 3/40` at an epoch's start, its bar at the
end) and Ultralytics (`  3/100` on the train bar) count from 1 and need nothing.

Real logs from ../shared/logs2, truth from their manifest (the log's own clock), never from
etagram; those tests skip when ../shared is absent."""

from __future__ import annotations

import pytest

from benchmarks.manifest_check import MANIFEST, load_manifest
from bot.core.estimator import Estimator
from bot.core.events import Progress
from bot.core.linebuf import iter_lines
from bot.core.monitor import RunMonitor
from tests.core.parsers.helpers import SHARED_LOGS2

WANDB = "lightning-wandb_33zzstar_unitraj_poly_output.log"
HYDRA = "lightning-custom-progress_MukundShankar-dev_TMR_humanml3d_train.out"
KERAS = "keras_Rob-M-F_CarND-Behavioral-Cloning-P3_training_output.txt"
ULTRA = "ultralytics-stdout_JackTheProgrammer_Fine-tuned-YOLO11_training_output.txt"
real_logs = pytest.mark.skipif(
    not (SHARED_LOGS2 / MANIFEST).is_file(), reason=f"real logs not found at {SHARED_LOGS2}"
)


def test_estimator_counts_the_work_left_from_done() -> None:
    # Epochs of 20 s printed as their 0-based index at their end: index e is e + 1 done.
    est = Estimator()
    for epoch in range(10):
        est.on_progress(epoch, 20.0 * epoch, done=epoch + 1.0)
    eta = est.estimate(40)
    assert (eta.iters_done, eta.iters_left) == (10, 30)
    assert eta.remaining_s == pytest.approx(30 * 20.0)
    est.on_progress(39, 20.0 * 39, done=40.0)
    eta = est.estimate(40)
    assert (eta.iters_done, eta.iters_left, eta.remaining_s) == (40, 0, 0.0)


def test_a_redraw_further_along_counts_and_a_line_without_done_is_its_iteration() -> None:
    est = Estimator()
    for epoch in range(10):
        est.on_progress(epoch, 20.0 * epoch, done=epoch + 0.5)
    est.on_progress(9, 185.0, done=10.0)  # the same epoch's bar, redrawn at its end
    assert est.estimate(40).remaining_s == pytest.approx(30 * 20.0)
    est.on_progress(10, 200.0)  # a format that says nothing: the iteration is the work done
    eta = est.estimate(40)
    assert (eta.iters_done, eta.iters_left) == (10, 30)
    assert eta.remaining_s == pytest.approx(30 * 20.0)


def test_lines_folded_at_speed_after_a_line_with_done_are_their_iterations() -> None:
    est = Estimator()
    for epoch in range(10):
        est.on_progress(epoch, 20.0 * epoch, done=epoch + 1.0)
    est.add_progress([10, 11], [200.0, 220.0])  # a catch-up's batch: no `done`
    eta = est.estimate(40)
    assert (eta.iters_done, eta.iters_left) == (11, 29)
    assert eta.remaining_s == pytest.approx(29 * 20.0)


def lightning_bar(epoch: int, n: int, total: int, elapsed_s: int) -> str:
    pct = round(100 * n / total)
    return (
        f"Epoch {epoch}: {pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} "
        f"[00:{elapsed_s:02d}<00:00,  4.50it/s, v_num=ab12, train/loss_step=2.0]"
    )


def test_lightning_last_epoch_at_its_end_leaves_nothing() -> None:
    # W&B's output.log: one bar per epoch, each already at 98 %, then the last one at 100 %.
    lines = [lightning_bar(e, 49, 50, 20) for e in range(4)] + [lightning_bar(3, 50, 50, 20)]
    monitor = RunMonitor("run", total_iters=4)  # --max-iters 4 for max_epochs=4
    monitor.feed(lines[:3], 0.0)
    eta = monitor.state.eta()
    assert monitor.state.iter == 2  # the epoch as printed
    assert eta.iters_done == 3 and eta.iters_left == 1  # 2.98 epochs done of 4
    assert eta.step_s == pytest.approx(20.0)
    assert eta.remaining_s == pytest.approx((4 - 2.98) * 20.0)
    monitor.feed(lines[3:], 0.0)
    eta = monitor.state.eta()
    assert monitor.state.iter == 3
    assert (eta.iters_done, eta.iters_left, eta.remaining_s) == (4, 0, 0.0)


def test_general_reader_epochs_from_zero_with_the_total_given() -> None:
    # An in-house loop printing its 0-based epoch at the epoch's end, 30 s each; no total.
    stamp = "2024-03-01 10:{:02d}:{:02d}"
    lines = [
        f"{stamp.format(e // 2, 30 * (e % 2))} INFO Epoch {e} - train loss: 0.5 - val loss: 0.6"
        for e in range(10)
    ]
    monitor = RunMonitor("run", "generic", total_iters=10)  # --max-iters 10 for 10 epochs
    monitor.feed(lines[:5], 0.0)
    eta = monitor.state.eta()
    assert (monitor.state.iter, eta.iters_done, eta.iters_left) == (4, 5, 5)
    assert eta.remaining_s == pytest.approx(5 * 30.0)
    monitor.feed(lines[5:], 0.0)
    eta = monitor.state.eta()
    assert (monitor.state.iter, eta.iters_left, eta.remaining_s) == (9, 0, 0.0)


def replay(name: str, total: int) -> dict[int, float | None]:
    """Every iteration's remaining time at its last progress line, given `total` as a user
    gives `--max-iters`."""
    monitor = RunMonitor(name, total_iters=total)
    state, seen = monitor.state, {}
    with (SHARED_LOGS2 / name).open("rb") as f:
        for line in iter_lines(f):
            for ev, _ in monitor.feed((line,), 0.0):
                if isinstance(ev, Progress):
                    seen[ev.iter] = state.eta().remaining_s
    return seen


def truth(name: str) -> list[tuple[int, float]]:
    entry = next(e for e in load_manifest(SHARED_LOGS2) if e["file"] == name)
    return [(int(i), float(s)) for i, s in entry["truth"]]


@real_logs
@pytest.mark.parametrize(("name", "total"), [(WANDB, 40), (HYDRA, 500)])
def test_lightning_real_logs_end_with_nothing_left_and_count_the_last_epoch(
    name: str, total: int
) -> None:
    points, seen = truth(name), replay(name, total)
    last_iter, end_s = points[-1]
    assert last_iter == total - 1  # the manifest's iteration: the 0-based epoch as printed
    assert seen[last_iter] == 0.0
    # Half-way and after, the ETA is within 5 % (or 3 s: whole-second epoch times) of the
    # log's own clock; it was 8-28 % off on the W&B log while it counted one epoch too many.
    for it, s in points:
        if s >= 0.5 * end_s and it != last_iter:
            remaining = seen[it]
            assert remaining is not None
            true = end_s - s
            assert abs(remaining - true) <= max(0.05 * true, 3.0), (it, remaining, true)


@real_logs
@pytest.mark.parametrize(("name", "total"), [(KERAS, 40), (ULTRA, 100)])
def test_one_based_epoch_counters_end_with_nothing_left(name: str, total: int) -> None:
    last_iter, _ = truth(name)[-1]
    assert last_iter == total  # Keras `Epoch 40/40`, Ultralytics `100/100`: counted from 1
    assert replay(name, total)[last_iter] == 0.0
