"""The general reader on in-house formats made up here (none of them is a known framework's)."""

from __future__ import annotations

import pytest

from bot.core.events import Eval, Event, Progress, RunConfig
from bot.core.parsers.base import StampReader
from bot.core.parsers.generic import RELEARN_LINES, GenericParser
from bot.core.parsers.registry import make_parser


def read(lines: list[str]) -> tuple[GenericParser, list[Event]]:
    parser = GenericParser()
    events: list[Event] = []
    for line in lines:
        events += parser.feed(line)
    return parser, events


def progress(events: list[Event]) -> list[Progress]:
    return [e for e in events if isinstance(e, Progress)]


def test_fraction_counter_iso_clock_and_ms_per_step() -> None:
    _, events = read(
        [
            "[2024-05-01T10:00:00Z] trainer | step 10/1000 | loss 2.30 | 95.0 ms/step",
            "[2024-05-01T10:00:01.5Z] trainer | step 20/1000 | loss 2.10 | 96.0 ms/step",
        ]
    )
    first, second = progress(events)
    assert (first.iter, first.total, first.loss, first.dt_s) == (10, 1000, 2.30, 0.095)
    assert second.timestamp_s is not None and first.timestamp_s is not None
    assert second.timestamp_s - first.timestamp_s == pytest.approx(1.5)


def test_a_line_of_another_shape_with_n_of_m_is_not_progress_once_the_shape_is_learnt() -> None:
    parser, events = read(
        [
            "Tokenizing shards 400/1000 (3 it/s)",  # a preprocessing bar: never learnt
            "train | it 1/500 | loss 3.0 | grad_norm 1.2",
            "train | it 2/500 | loss 2.9 | grad_norm 1.1",
            "worker 3/8 done | loss 0.5 | grad_norm 0.1",  # another shape
            "eval | it 2/50 | loss 0.4 | grad_norm 0.0",
            "train | it 3/500 | loss 2.8 | grad_norm 1.0",
        ]
    )
    assert [(p.iter, p.total) for p in progress(events)] == [(1, 500), (2, 500), (3, 500)]
    assert parser.shape == "train it"
    assert [e for e in events if isinstance(e, Eval)] == [Eval(2, val_loss=0.4)]


def test_a_shape_that_stops_gives_way_to_the_one_that_goes_on() -> None:
    lines = ["alpha 1/9 loss 1.0"] + [f"beta {n}/900 loss 0.5" for n in range(100, 130)]
    parser, events = read(lines)
    iters = [p.iter for p in progress(events)]
    assert iters[0] == 1 and iters[1] == 100 + RELEARN_LINES
    assert parser.shape == "beta"


def test_a_new_launch_in_another_shape_is_followed_at_once_and_the_old_one_comes_back() -> None:
    _, events = read(
        [
            "run A step 500/1000 loss 1.0",
            "run A step 600/1000 loss 0.9",
            "B-trainer iteration 1 loss 2.0",  # a new launch: counter back near zero
            "B-trainer iteration 2 loss 1.9",
            "run A step 700/1000 loss 0.8",  # the first shape, followed before
        ]
    )
    assert [p.iter for p in progress(events)] == [500, 600, 1, 2, 700]


@pytest.mark.parametrize(
    ("lines", "iters", "total"),
    [
        # 1-based epochs, iterations per epoch from `N/M`: (epoch - 1) x M + N.
        (["epoch 2/10 iter 5/100 loss 1.0", "epoch 3/10 iter 5/100 loss 0.9"], [105, 205], 1000),
        # 0-based epochs in brackets.
        (["Epoch: [0/4]  [ 50/100]  eta: 0:01:00  loss: 1.2"], [50], 400),
        # No iterations per epoch printed: the last counter seen in the previous epoch.
        (["Epoch 1, Batch 40, loss=0.5", "Epoch 2, Batch 10, loss=0.3"], [40, 50], None),
    ],
)
def test_epoch_times_iterations_per_epoch(
    lines: list[str], iters: list[int], total: int | None
) -> None:
    _, events = read(lines)
    assert [p.iter for p in progress(events)] == iters
    assert progress(events)[-1].total == total


@pytest.mark.parametrize(("first", "done"), [(0, [1.0, 2.0, 3.0]), (1, [1.0, 2.0, 3.0])])
def test_a_log_that_counts_epochs_only_gives_the_epochs_done(first: int, done: list[float]) -> None:
    # `print(f"Epoch {epoch}/{epochs} - loss: {loss}")` after each epoch, from 0 or from 1.
    lines = [f"Epoch {e}/3 - loss: {1 / (e + 1):.3f} - lr: 0.001" for e in range(first, first + 3)]
    _, events = read(lines)
    assert [(p.iter, p.total, p.done) for p in progress(events)] == [
        (e, 3, d) for e, d in zip(range(first, first + 3), done, strict=True)
    ]


def test_an_epoch_summary_among_step_lines_is_not_progress() -> None:
    _, events = read(
        [
            "step 100/300 | loss 2.0 | lr 1e-3",
            "Epoch 0 done - train loss: 1.9 - val loss: 2.1",
            "step 200/300 | loss 1.8 | lr 1e-3",
            "{'loss': 1.7, 'learning_rate': 1e-05, 'epoch': 0.67}",
        ]
    )
    assert [p.iter for p in progress(events)] == [100, 200]
    assert [e.iter for e in events if isinstance(e, Eval)] == [100]  # the last step seen


def test_max_epochs_in_the_config_dump_times_iterations_per_epoch() -> None:
    _, events = read(
        [
            "train_cfg = dict(max_epochs=24, val_interval=1)",
            "Epoch(train) [3][ 50/151]  lr: 1.0e-02  time: 1.7  loss: 1.19",
        ]
    )
    [p] = progress(events)
    assert (p.iter, p.total, p.dt_s) == (2 * 151 + 50, 24 * 151, 1.7)


@pytest.mark.parametrize(
    ("line", "total"),
    [
        ("  MAX_ITER: 111000", 111000),
        ("max_iters = 5000", 5000),
        ("{'max_update': 80000, 'lr': [0.1]}", 80000),
        ("Trainer is initialized with batch size 8, total steps 2000 (warmup 100)", 2000),
        ("  train_iters ..................... 11000", 11000),
        ('"max_steps": 300,', 300),
    ],
)
def test_total_from_a_config_dump(line: str, total: int) -> None:
    parser, events = read([line])
    assert events == [RunConfig({"max_iters": total})]
    assert parser.total_source is not None


@pytest.mark.parametrize(
    ("line", "dt_s"),
    [
        ("iter 5 | loss 1.0 | (1909.8 ms)", 1.9098),
        ("iteration 5/ 100 | elapsed time per iteration (ms): 164.2 | lm loss: 7.5", 0.1642),
        ("epoch: 1/3, iter: 5/76, iter_time: 0.242s, total_loss: 3.3", 0.242),
        ("iter: 5  total_loss: 0.24  time: 0.6815  data_time: 0.0663", 0.6815),
        ("step 5/49 - 467ms/step - loss: 0.71", 0.467),
    ],
)
def test_per_iteration_durations(line: str, dt_s: float) -> None:
    [p] = progress(read([line])[1])
    assert p.dt_s == pytest.approx(dt_s)


@pytest.mark.parametrize(
    ("first", "second", "seconds"),
    [
        # detectron2/mmengine style, no year, across New Year's Eve.
        ("[12/31 23:59:50]", "[01/01 00:00:10]", 20),
        ("12/31 23:59:50 -", "01/01 00:00:05 -", 15),
        # glog, with and without a year.
        ("I0724 12:00:06.123456 1 t.py:1]", "I0724 12:00:08.623456 1 t.py:1]", 2.5),
        ("I20250724 11:33:30 1 t.py:1]", "I20250724 11:34:30 1 t.py:1]", 60),
        # loguru and Python logging.
        ("2021-12-05 01:28:54.544 | INFO |", "2021-12-05 01:28:55.044 | INFO |", 0.5),
        ("2024-03-01 12:00:00,123 - INFO -", "2024-03-01 12:00:01,123 - INFO -", 1),
    ],
)
def test_timestamps_in_common_forms(first: str, second: str, seconds: float) -> None:
    lines = [f"{first} x: iter: 10 loss: 1.0", f"{second} x: iter: 20 loss: 0.9"]
    a, b = progress(read(lines)[1])
    assert a.timestamp_s is not None and b.timestamp_s is not None
    assert b.timestamp_s - a.timestamp_s == pytest.approx(seconds)


def test_an_eta_field_is_not_a_timestamp() -> None:
    [p] = progress(read(["iter: 5  eta: 14:05:42  loss: 0.2"])[1])
    assert p.timestamp_s is None


def test_timestamps_from_1970_or_2099_are_ignored() -> None:
    reader = StampReader()
    assert reader.read("1970-01-01 00:00:00 - step 1 loss 1") is None
    assert reader.read("2099-06-01 00:00:00 - step 1 loss 1") is None
    assert reader.read("2024-06-01 00:00:00 - step 1 loss 1") is not None


def test_a_counter_that_jumps_to_10_to_the_18_is_ignored_and_noted() -> None:
    parser, events = read(["step 1200 loss 1.0", f"step {10**18} loss 1.0", "step 1300 loss 0.9"])
    assert [p.iter for p in progress(events)] == [1200, 1300]
    assert parser.notes == [f"counter jumps from 1,200 to {10**18:,}: ignored"]
    first = GenericParser()
    assert first.feed(f"step {10**13} loss 1.0") == []
    assert first.notes == [f"counter jumps to {10**13:,}: ignored"]


def test_a_validation_shaped_counter_line_is_an_eval() -> None:
    _, events = read(
        [
            "root - INFO - step: 8990  loss:  3.2  tps: 4,600",
            "root - INFO - validate step: 9000  loss:  3.1758  tps: 4,609",
        ]
    )
    assert [e for e in events if isinstance(e, Eval)] == [Eval(9000, val_loss=3.1758)]


def test_embedded_json_after_a_logging_prefix() -> None:
    _, events = read(
        [
            '[2024-07-05 07:34:01,548][train_inner][INFO] - {"epoch": 2, "loss": "386.6", '
            '"num_updates": "2800"}'
        ]
    )
    [p] = progress(events)
    assert (p.iter, p.loss, p.epoch) == (2800, 386.6, 2.0) and p.timestamp_s is not None


def test_binary_lines_give_nothing() -> None:
    parser = make_parser("generic")
    assert parser.feed("\x01\x02step 5/10 loss 1.0 \x03\ufffd\ufffd") == []
    assert parser.feed("\x07RuntimeError: CUDA out of memory\x05\x06") == []
