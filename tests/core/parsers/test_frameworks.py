"""The framework parsers on lines written from each framework's own print statement (not
copied from a log), and the launcher prefixes and yearless stamps they share."""

from __future__ import annotations

import pytest

from bot.core.events import Checkpoint, Eval, Event, Progress, RunConfig
from bot.core.parsers.base import YearlessClock, strip_launcher
from bot.core.parsers.registry import AutoParser, detect, make_parser
from tests.core.parsers.helpers import feed_all
from tests.core.parsers.test_registry import SAMPLES

DAY = 86400.0


def progress(events: list[Event]) -> list[Progress]:
    return [e for e in events if isinstance(e, Progress)]


def configs(events: list[Event]) -> dict[str, int | float | str]:
    values: dict[str, int | float | str] = {}
    for event in events:
        if isinstance(event, RunConfig):
            values.update(event.values)
    return values


# --- shared helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "rest"),
    [
        (" 3: iteration 5/ 10 |", "iteration 5/ 10 |"),
        ("29: [rank29]: Traceback", "Traceback"),
        ("[rank0]:[rank0]: RuntimeError: x", "RuntimeError: x"),
        ("[default1]:step: 5  loss: 1.0", "step: 5  loss: 1.0"),
        ("(TaskRunner pid=12) step:3 - a:1", "step:3 - a:1"),
        ("(WorkerDict pid=3, ip=10.0.0.2) hi", "hi"),
        ("(pid=4471) RuntimeError: x", "RuntimeError: x"),  # a Ray task without a name
        ("(raylet.worker pid=9) 3: [rank3]: x", "x"),
        ("05/31 05:18:08 - mmengine - INFO - x", "05/31 05:18:08 - mmengine - INFO - x"),
        ("[11/17 13:47:11] d2 INFO: x", "[11/17 13:47:11] d2 INFO: x"),
        ("Train: 0 [ 0/5 (0%)]", "Train: 0 [ 0/5 (0%)]"),
    ],
)
def test_strip_launcher(line: str, rest: str) -> None:
    assert strip_launcher(line) == rest


def test_yearless_clock_crosses_new_year() -> None:
    clock = YearlessClock()
    first = clock.read("12/31 23:59:30")
    then = clock.read("01/01 00:00:30")
    assert first is not None and then is not None
    assert then - first == 60.0
    later = clock.read("01/05 00:00:30")
    assert later is not None and later - then == 4 * DAY


def test_yearless_clock_holds_small_steps_back_in_the_same_year() -> None:
    clock = YearlessClock()
    a, b = clock.read("06/01 10:00:05"), clock.read("06/01 10:00:01")  # two ranks out of order
    assert a is not None and b is not None and a - b == 4.0


def test_yearless_clock_learns_a_leap_year_from_29_february() -> None:
    common, leap = YearlessClock(), YearlessClock()
    feb_28, mar_1 = common.read("02/28 12:00:00"), common.read("03/01 12:00:00")
    assert feb_28 is not None and mar_1 is not None and mar_1 - feb_28 == DAY
    leap_28, leap_29, leap_mar = (leap.read(f"{d} 12:00:00") for d in ("02/28", "02/29", "03/01"))
    assert leap_28 is not None and leap_29 is not None and leap_mar is not None
    assert (leap_29 - leap_28, leap_mar - leap_29) == (DAY, DAY)


def test_yearless_clock_glog_stamps() -> None:
    clock = YearlessClock()
    a, b = clock.read_glog("I0724 12:00:06.250000 42 x.cc:1] a"), clock.read_glog("W0724 12:01:06")
    assert a is not None and b is not None and b - a == 59.75
    with_year = clock.read_glog("I20250724 11:33:30 1 unic helpers.py:163] x")
    assert with_year == 1753356810.0
    assert clock.read("13/45 10:00:00") is None and clock.read_glog("x") is None


# --- DeepSpeed ------------------------------------------------------------------------------

DS_STEP = (
    "[2024-03-01 10:00:{s:02d},500] [INFO] [logging.py:96:log_dist] [Rank 0] step={n}, "
    "skipped=0, lr=[1e-05], mom=[(0.9, 0.95)]"
)
DS_TIMER = (
    "[2024-03-01 10:00:{s:02d},530] [INFO] [timer.py:260:stop] epoch=0/micro_step={n}/"
    "global_step={n}, RunningAvgSamplesPerSec=100.0, CurrSamplesPerSec=101.0, "
    "MemAllocated=3.0GB, MaxMemAllocated=9.0GB"
)


def test_deepspeed_one_progress_per_step_and_total_from_the_epoch_banner() -> None:
    lines = [
        "cmd = deepspeed main.py --num_train_epochs 2 --gradient_accumulation_steps 4",
        "Beginning of Epoch 1/2, Total Micro Batches 100",
        DS_STEP.format(s=10, n=10),
        DS_TIMER.format(s=10, n=10),
        "worker-0: " + DS_STEP.format(s=20, n=20),
        DS_TIMER.format(s=30, n=30),  # no log_dist line for this step: the timer tells it
    ]
    events = feed_all(make_parser("deepspeed"), lines)
    assert [(p.iter, p.timestamp_s) for p in progress(events)] == [
        (10, 1709287210.5),
        (20, 1709287220.5),
        (30, 1709287230.53),
    ]
    assert configs(events) == {"max_iters": 50}  # 2 x 100 micro batches / 4


def test_deepspeed_lines_do_not_take_over_a_trainer_that_reads_progress() -> None:
    hf = [f"{{'loss': 1.{i}, 'learning_rate': 5e-05, 'epoch': 0.{i}}}" for i in range(3)]
    parser = make_parser(None)
    assert isinstance(parser, AutoParser)
    feed_all(parser, [*hf, DS_STEP.format(s=1, n=10), *hf])
    assert parser.format == "hf"


def test_megatron_deepspeed_is_read_as_megatron() -> None:
    """Megatron-DeepSpeed prints DeepSpeed's engine lines between its own iteration lines."""
    lines = []
    for n in (10, 20, 30):
        lines += [DS_STEP.format(s=n, n=n), DS_TIMER.format(s=n, n=n), megatron_line(n, 100.0)]
    parser = make_parser(None)
    assert isinstance(parser, AutoParser)
    events = feed_all(parser, lines)
    assert parser.format == "megatron"
    # DeepSpeed's first step line was read before the first iteration line told the format.
    assert [p.iter for p in progress(events)] == [10, 10, 20, 30]


# --- Megatron-LM / GPT-NeoX -----------------------------------------------------------------


def megatron_line(it: int, ms: float, stamp: str = "") -> str:
    return (
        f"{stamp} iteration {it:8d}/{1000:8d} | consumed samples: {it * 8:12d} | elapsed time "
        f"per iteration (ms): {ms:.1f} | learning rate: 1.000000E-04 | global batch size:     8 "
        f"| lm loss: {2.5:.6E} | loss scale: 1.0 | number of skipped iterations:   0 | number of "
        "nan iterations:   0 |"
    )


def test_megatron_sums_the_per_iteration_time_without_stamps() -> None:
    lines = [
        megatron_line(10, 900.0),
        megatron_line(20, 500.0),
        " 3: " + megatron_line(40, 250.0),  # srun's label
        " validation loss at iteration 40 | lm loss value: 2.400000E+00 | lm loss PPL: 11.02 |",
        megatron_line(50, 100.0),
    ]
    events = feed_all(make_parser("megatron"), lines)
    got = [(p.iter, p.total, p.loss, p.elapsed_s, p.timestamp_s) for p in progress(events)]
    assert got == [
        (10, 1000, 2.5, 0.0, None),
        (20, 1000, 2.5, 5.0, None),
        (40, 1000, 2.5, 10.0, None),
        (50, 1000, 2.5, 11.0, None),
    ]
    assert Eval(40, val_loss=2.4) in events


def test_megatron_stamped_lines_and_gpt_neox() -> None:
    stamped = megatron_line(7, 50.0, " [2026-05-22 02:28:22.500000]")
    [event] = make_parser("megatron").feed(stamped)
    assert isinstance(event, Progress) and event.timestamp_s == 1779416902.5
    assert event.elapsed_s is None
    neox = (
        " samples/sec: 6.0 | iteration      30/   11000 | elapsed time per iteration (ms): 164.4 "
        "| learning rate: 3.000E-04 | approx flops per GPU: 19.6TFLOPS | lm_loss: 8.341663E+00 | "
        "number of skipped iterations:   0 | number of nan iterations:   0 |"
    )
    assert make_parser("megatron").feed(neox) == [
        Progress(30, total=11000, loss=8.341663, elapsed_s=0.0)
    ]
    events = feed_all(
        make_parser("megatron"),
        ["  train_iters ..................... 11000", " saving checkpoint at iteration 30 to ck"],
    )
    assert events == [RunConfig({"max_iters": 11000}), Checkpoint(30, path="ck")]


# --- detectron2 -----------------------------------------------------------------------------


def test_detectron2_both_logger_forms_year_wrap_and_config() -> None:
    metrics = "eta: {eta}  iter: {it}  total_loss: 0.9  loss_cls: 0.5  time: 0.6  lr: 0.01"
    lines = [
        "SOLVER:",
        "  MAX_ITER: 90000",
        "[12/31 23:59:00] d2.utils.events INFO:  " + metrics.format(eta="1:00:00", it=19),
        "\x1b[32m[01/01 00:01:00 d2.utils.events]: \x1b[0m " + metrics.format(eta="0:59:00", it=39),
    ]
    events = feed_all(make_parser("detectron2"), lines)
    first, second = progress(events)
    assert (first.iter, second.iter, first.loss, first.remaining_s) == (19, 39, 0.9, 3600.0)
    assert first.timestamp_s is not None and second.timestamp_s is not None
    assert second.timestamp_s - first.timestamp_s == 120.0
    assert configs(events) == {"max_iters": 90000}


def test_detectron2_does_not_read_yolox_lines() -> None:
    yolox = (
        "2021-12-05 01:28:54.544 | INFO     | yolox.core.trainer:after_iter:246 - epoch: 151/300, "
        "iter: 10/76, mem: 16022Mb, iter_time: 0.242s, total_loss: 3.3, lr: 6.095e-04"
    )
    assert make_parser("detectron2").feed(yolox) == []
    assert detect([yolox]) != "detectron2"


# --- mmengine / mmcv ------------------------------------------------------------------------


def test_mmengine_by_epoch_counts_global_steps_of_max_epochs() -> None:
    line = (
        "{stamp} - mmengine - INFO - Epoch(train) [{e}][{i:>3}/120]  lr: 1.0000e-02  eta: 0:30:00"
        "  time: 0.5000  data_time: 0.0100  memory: 3000  loss: 0.8000  loss_cls: 0.3000"
    )
    lines = [
        "train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)",
        line.format(stamp="12/31 23:58:00", e=1, i=100),
        "12/31 23:59:00 - mmengine - INFO - Epoch(val) [1][ 50/200]    eta: 0:01:00  time: 0.1",
        line.format(stamp="01/01 00:02:00", e=2, i=10),
    ]
    events = feed_all(make_parser("mmengine"), lines)
    first, second = progress(events)
    assert (first.iter, first.total, first.loss) == (100, 1440, 0.8)
    assert (second.iter, second.total, second.remaining_s) == (130, 1440, 1800.0)
    assert first.timestamp_s is not None and second.timestamp_s is not None
    assert second.timestamp_s - first.timestamp_s == 240.0


def test_mmengine_by_iteration_and_mmcv() -> None:
    iter_line = (
        "2024/01/05 04:23:47 - mmengine - INFO - Iter(train) [  550/20000]  lr: 5.3816e-03  "
        "eta: 2:04:39  time: 0.7400  data_time: 0.0140  memory: 8150  loss: 0.0760"
    )
    [event] = make_parser("mmengine").feed(iter_line)
    assert isinstance(event, Progress)
    assert (event.iter, event.total, event.timestamp_s) == (550, 20000, 1704428627.0)
    mmcv = (
        "2022-05-06 12:00:00,123 - mmdet - INFO - Epoch [3][50/500]\tlr: 2.000e-02, eta: 1 day, "
        "2:03:04, time: 0.512, data_time: 0.050, memory: 3500, loss_cls: 0.5, loss: 1.2345"
    )
    events = feed_all(
        make_parser("mmengine"), ["runner = dict(type='EpochBasedRunner', max_epochs=24)", mmcv]
    )
    [event] = progress(events)
    assert (event.iter, event.total, event.loss) == (1050, 12000, 1.2345)
    assert event.remaining_s == 93784.0


# --- MetricLogger ---------------------------------------------------------------------------


def test_metriclogger_global_average_and_finished_loops() -> None:
    line = "Epoch: [{e}/{E}]  [{i:>3}/100]  eta: {eta}  loss: 2.0 (2.1)  time: {t} ({g})  data: 0.1"
    lines = [
        line.format(e=0, E=3, i=0, eta="0:03:20", t="2.0", g="2.0"),
        line.format(e=0, E=3, i=50, eta="0:00:49", t="0.9", g="1.0"),
        "Epoch: [0/3] Total time: 0:01:45 (1.0500 s / it)",
        "Test:  [ 0/10]  eta: 0:00:10  loss: 1.0 (1.0)  time: 1.0 (1.0)  data: 0.1 (0.1)",
        "Test: Total time: 0:00:09 (0.9000 s / it)",
        line.format(e=1, E=3, i=0, eta="0:01:40", t="1.0", g="1.0"),
    ]
    events = feed_all(make_parser("metriclogger"), lines)
    got = [(p.iter, p.loss, p.elapsed_s) for p in progress(events)]
    assert got == [(0, 2.0, 2.0), (50, 2.0, 51.0), (100, 2.0, 105.0 + 9.0 + 1.0)]
    assert configs(events) == {"max_iters": 300}


def test_metriclogger_windowed_time_kept_inside_what_eta_allows() -> None:
    line = "Train: data epoch: [0]  [{i:>4}/1000]  eta: {eta}  loss: 0.5  time: {t}  data: 0.0"
    parser = make_parser("metriclogger")
    events = feed_all(parser, ["Run config :  {'task': 'x', 'max_epoch': 4, 'batch_size': 1}"])
    # The window average says 1.0 s/it, but eta (global average x remaining) says 2.0 s/it.
    events += feed_all(parser, [line.format(i=0, eta="0:33:20", t="2.0")])
    events += feed_all(parser, [line.format(i=100, eta="0:30:00", t="1.0")])
    [_, late] = progress(events)
    assert 202.0 <= (late.elapsed_s or 0) < 202.0 + 101 / 900
    assert configs(events) == {"max_iters": 4000}


def test_metriclogger_evaluation_loops_and_mmengine_lines_are_not_progress() -> None:
    parser = make_parser("metriclogger")
    assert parser.feed("Evaluation  [ 10/251]  eta: 0:16:06    time: 4.0097  data: 0.4168") == []
    mmengine_val = "05/31 04:17:08 - mmengine - INFO - Epoch(val)  [1][ 50/335]    eta: 0:00:43  t"
    assert parser.feed(mmengine_val) == []
    assert detect([mmengine_val]) != "metriclogger"


# --- timm -----------------------------------------------------------------------------------


def timm_line(epoch: int, i: int, avg: float) -> str:
    return (
        f"Train: {epoch} [{i:>4d}/200 ({100 * i / 200:>3.0f}%)]  Loss: 3.250 (3.30)  "
        f"Time: 0.400s, 1280.00/s  ({avg:.3f}s, 1000.00/s)  LR: 1.000e-03  Data: 0.010 (0.020)"
    )


def test_timm_clock_from_running_averages_and_validation() -> None:
    lines = [
        "Scheduled epochs: 10",
        timm_line(0, 0, 2.0),
        timm_line(0, 199, 0.5),
        "Test: [   0/9]  Time: 1.000 (1.000)  Loss:  2.0000 (2.0000)  Acc@1: 10.0000 (10.0000)",
        "Test: [   9/9]  Time: 0.100 (0.300)  Loss:  1.5000 (1.8000)  Acc@1: 20.0000 (15.0000)",
        timm_line(1, 0, 0.6),
    ]
    events = feed_all(make_parser("timm"), lines)
    got = [(p.iter, p.total, p.loss, p.elapsed_s) for p in progress(events)]
    assert got == [(0, 2000, 3.25, 2.0), (199, 2000, 3.25, 100.0), (200, 2000, 3.25, 103.6)]
    assert Eval(199, val_loss=1.8) in events


# --- fairseq --------------------------------------------------------------------------------


def test_fairseq_simple_json_hydra_and_valid() -> None:
    config = (
        "2023-01-01 09:59:00 | INFO | fairseq_cli.train | {'_name': None, 'optimization': "
        "{'_name': None, 'max_epoch': 0, 'max_update': 3000, 'update_freq': [1]}}"
    )
    simple = (
        "2023-01-01 10:00:00 | INFO | train_inner | epoch 001:    101 / 900 loss=7.5, ppl=181.02,"
        " wps=1000, ups=2.5, wpb=3000, bsz=100, num_updates=100, lr=5e-05, gnorm=1.2, wall=40"
    )
    hydra = (
        '[2023-01-01 10:01:00,500][train_inner][INFO] - {"epoch": 1, "update": 0.22, "loss": '
        '"6.5", "num_updates": "200", "lr": "0.0001", "wall": "100"}'
    )
    valid = (
        "2023-01-01 10:05:00 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 6.1 | "
        "ppl 68.6 | wps 2000 | num_updates 900 | best_loss 6.1"
    )
    events = feed_all(make_parser("fairseq"), [config, simple, hydra, valid])
    assert progress(events) == [
        Progress(100, total=3000, loss=7.5, timestamp_s=1672567200.0),
        Progress(200, total=3000, loss=6.5, timestamp_s=1672567260.5, epoch=1.0),
    ]
    assert Eval(900, val_loss=6.1, timestamp_s=1672567500.0) in events
    assert configs(events) == {"max_iters": 3000}


def test_fairseq_without_stamps_uses_wall_and_max_epoch() -> None:
    config = "{'optimization': {'max_epoch': 5, 'max_update': 0, 'update_freq': [2]}}"
    line = "epoch 002:    50 / 400 loss=5.0, num_updates=250, lr=1e-4, wall=321"
    events = feed_all(make_parser("fairseq"), [config, line])
    assert progress(events) == [Progress(250, total=1000, loss=5.0, elapsed_s=321.0)]


# --- torchtitan -----------------------------------------------------------------------------


def test_torchtitan_coloured_rank_prefixed_lines() -> None:
    prefix = "[rank0]:[titan] 2025-02-01 10:00:{s:02d},000 - root - INFO - "
    lines = [
        prefix.format(s=0) + "Trainer is initialized with local batch size 8, global batch size "
        "64, gradient accumulation steps 1, sequence length 2048, total steps 3000 (warmup 100)",
        prefix.format(s=1) + "Training starts at step 1",
        prefix.format(s=10) + "\x1b[31mstep: 10  \x1b[32mloss:  7.1234  \x1b[33mmemory: "
        "30.00GiB(40.00%)  \x1b[34mtps: 12,345  \x1b[36mtflops: 100.00  "
        "\x1b[35mmfu: 10.00%\x1b[39m",
        prefix.format(s=20) + "\x1b[33mvalidate step: 10  \x1b[32mloss:  6.9000  memory: 1GiB",
    ]
    events = feed_all(make_parser("torchtitan"), lines)
    assert progress(events) == [
        Progress(10, loss=7.1234, timestamp_s=1738404010.0, tokens_per_s=12345.0)
    ]
    assert Eval(10, val_loss=6.9, timestamp_s=1738404020.0) in events
    assert configs(events) == {"max_iters": 3000}


# --- verl -----------------------------------------------------------------------------------


def test_verl_bar_is_the_progress_and_step_lines_give_the_loss() -> None:
    lines = [
        "\x1b[36m(TaskRunner pid=9)\x1b[0m Total training steps: 40",
        "Training Progress:  25%|██▌       | 10/40 [00:00<?, ?it/s]",
        "\x1b[36m(TaskRunner pid=9)\x1b[0m step:11 - actor/pg_loss:-0.020 - timing_s/step:9.5",
        "Training Progress:  28%|██▊       | 11/40 [00:10<04:50, 10.00s/it]",
    ]
    events = feed_all(make_parser("verl"), lines)
    assert progress(events) == [
        Progress(10, total=40, elapsed_s=0.0),
        Progress(11, total=40, loss=-0.02, elapsed_s=10.0, remaining_s=290.0),
    ]
    assert configs(events) == {"max_iters": 40}


def test_verl_step_lines_alone_are_the_progress() -> None:
    lines = [
        f"(TaskRunner pid=9) step:{n} - critic/vf_loss:0.5 - timing_s/step:12.0" for n in (1, 2)
    ]
    assert progress(feed_all(make_parser("verl"), lines)) == [
        Progress(1, loss=0.5, dt_s=12.0),
        Progress(2, loss=0.5, dt_s=12.0),
    ]


FRAMEWORKS = (
    "deepspeed",
    "megatron",
    "detectron2",
    "mmengine",
    "metriclogger",
    "timm",
    "fairseq",
    "torchtitan",
    "verl",
)


@pytest.mark.parametrize("fmt", FRAMEWORKS)
@pytest.mark.parametrize(
    "prefix", [" 7: ", "13: ", "[rank0]:", "\x1b[36m(TaskRunner pid=1)\x1b[0m "]
)
def test_launcher_prefixes_hide_nothing(fmt: str, prefix: str) -> None:
    [line] = SAMPLES[fmt]
    assert detect([prefix + line]) == fmt
    plain = feed_all(make_parser(fmt), [line])
    assert plain and feed_all(make_parser(fmt), [prefix + line]) == plain
