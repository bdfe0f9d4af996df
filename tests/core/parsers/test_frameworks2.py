"""The framework parsers of issue 14 on synthetic lines written from each framework's own print
statements (format strings quoted in each parser's docstring), never copied from a real log."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from bot.core.events import Eval, Event, Progress, TrainingEnd
from bot.core.parsers.registry import AutoParser, make_parser
from tests.core.parsers.helpers import feed_all


def stamp(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def progress(events: list[Event]) -> list[Progress]:
    return [e for e in events if isinstance(e, Progress)]


def auto(lines: list[str]) -> tuple[str | None, list[Event]]:
    parser = AutoParser()
    events = feed_all(parser, lines)
    return parser.format, events


# YOLOX ------------------------------------------------------------------------------------------

YOLOX_HEAD = "| INFO     | yolox.core.trainer:after_iter:253 - "


def yolox_line(
    when: str, epoch: str, it: str, loss: float, eta: str, mem: str = "mem: 3000Mb"
) -> str:
    return (
        f"2023-02-01 {when}{YOLOX_HEAD}epoch: {epoch}, iter: {it}, {mem}, iter_time: 0.550s, "
        f"data_time: 0.010s, total_loss: {loss}, iou_loss: 3.0, l1_loss: 0.0, conf_loss: 4.5, "
        f"cls_loss: 2.0, lr: 1.000e-04, size: 640, ETA: {eta}"
    )


def test_yolox_counts_global_steps_on_the_loguru_clock() -> None:
    lines = [
        "2023-02-01 10:00:00.000 | INFO     | yolox.core.trainer:before_epoch:195 - ---> start "
        "train epoch1",
        yolox_line("10:00:05.500 ", "1/3", "10/20", 9.5, "0:00:27"),
        yolox_line("10:00:10.500 ", "1/3", "20/20", 8.0, "0:00:22"),
        yolox_line(
            "10:00:16.000 ", "2/3", "10/20", 7.0, "1 day, 0:00:01", "gpu mem: 3000Mb, mem: 9.5Gb"
        ),
        "2023-02-01 10:00:20.000 | INFO     | yolox.core.trainer:after_train:191 - Training of "
        "experiment is done and the best AP is 40.43",
        yolox_line("11:00:00.000 ", "1/5", "10/30", 9.9, "0:01:00"),  # a new launch
    ]
    fmt, events = auto(lines)
    assert fmt == "yolox"
    assert events == [
        Progress(
            10,
            60,
            9.5,
            timestamp_s=stamp(2023, 2, 1, 10, 0, 5, 500000),
            remaining_s=27.0,
            epoch=0.5,
            per_epoch=20,
        ),
        Progress(
            20,
            60,
            8.0,
            timestamp_s=stamp(2023, 2, 1, 10, 0, 10, 500000),
            remaining_s=22.0,
            epoch=1.0,
            per_epoch=20,
        ),
        Progress(
            30,
            60,
            7.0,
            timestamp_s=stamp(2023, 2, 1, 10, 0, 16),
            remaining_s=86401.0,
            epoch=1.5,
            per_epoch=20,
        ),
        Progress(
            10,
            150,
            9.9,
            timestamp_s=stamp(2023, 2, 1, 11),
            remaining_s=60.0,
            epoch=1 / 3,
            per_epoch=30,
        ),
    ]


# Keras ------------------------------------------------------------------------------------------


def test_keras2_steps_inside_epochs_with_the_eta_and_epoch_times() -> None:
    lines = [
        "Epoch 1/2",
        " 1/4 [======>.......................] - ETA: 6s - loss: 0.9000",
        " 3/4 [======================>.......] - ETA: 1s - loss: 0.7000",
        "4/4 [==============================] - 5s 1s/step - loss: 0.6000 - val_loss: 0.6500",
        "Epoch 2/2",
        " 2/4 [==============>...............] - ETA: 2s - loss: nan",
        "4/4 [==============================] - 4s 1s/step - loss: 0.5000 - val_loss: 0.5500",
        "2/2 [==============================] - 0s 5ms/step - loss: 0.5100",  # evaluate()
    ]
    fmt, events = auto(lines)
    assert fmt == "keras"
    nan_step = events[4]
    assert (
        isinstance(nan_step, Progress) and nan_step.loss is not None and math.isnan(nan_step.loss)
    )
    assert events[:4] + events[5:] == [
        # ETA 6 s for 3 steps left
        Progress(1, 8, elapsed_s=2.0, remaining_s=6.0, epoch=0.25, per_epoch=4),
        Progress(3, 8, elapsed_s=3.0, remaining_s=1.0, epoch=0.75, per_epoch=4),
        Progress(4, 8, 0.6, elapsed_s=5.0, epoch=1.0, per_epoch=4),
        Eval(4, train_loss=0.6, val_loss=0.65),
        Progress(8, 8, 0.5, elapsed_s=9.0, epoch=2.0, per_epoch=4),
        Eval(8, train_loss=0.5, val_loss=0.55),
    ]
    assert nan_step == Progress(
        6, 8, nan_step.loss, elapsed_s=7.0, remaining_s=2.0, epoch=1.5, per_epoch=4
    )


def test_keras3_eta_then_elapsed_on_the_epochs_last_line() -> None:
    bar = "━" * 20
    lines = [
        "Epoch 1/2",
        f" 1/3 {bar} 4s 2s/step - accuracy: 0.5000 - loss: 1.2000",
        f" 2/3 {bar} 1s 1s/step - accuracy: 0.5000 - loss: 1.1000",
        f" 3/3 {bar} 0s 900ms/step - accuracy: 0.6000 - loss: 1.0000",
        f" 3/3 {bar} 4s 1s/step - accuracy: 0.6000 - loss: 1.0000 - val_accuracy: 0.5000 - "
        "val_loss: 1.1000 - learning_rate: 0.0010",
        "Epoch 2/2",
        f" 1/3 {bar} 2s 1s/step - accuracy: 0.7000 - loss: 0.9000",
    ]
    fmt, events = auto(lines)
    assert fmt == "keras"
    assert events == [
        Progress(1, 6, elapsed_s=2.0, remaining_s=4.0, epoch=pytest.approx(1 / 3), per_epoch=3),
        Progress(2, 6, elapsed_s=2.0, remaining_s=1.0, epoch=pytest.approx(2 / 3), per_epoch=3),
        Progress(3, 6, 1.0, elapsed_s=pytest.approx(2.7), epoch=1.0, per_epoch=3),
        Progress(3, 6, 1.0, elapsed_s=4.0, epoch=1.0, per_epoch=3),
        Eval(3, train_loss=1.0, val_loss=1.1),
        Progress(4, 6, elapsed_s=5.0, remaining_s=2.0, epoch=pytest.approx(4 / 3), per_epoch=3),
    ]


def test_keras_log_with_only_finished_epochs_counts_epochs() -> None:
    lines = [
        "Epoch 1/3",
        "50/50 [==============================] - 3s - loss: 0.5000 - val_loss: 0.6000",
        "Epoch 2/3",
        "50/50 [==============================] - 2s - loss: 0.4000 - val_loss: 0.5000",
    ]
    assert feed_all(make_parser("keras"), lines) == [
        Progress(1, 3, 0.5, elapsed_s=3.0, epoch=1.0, per_epoch=1),
        Eval(1, train_loss=0.5, val_loss=0.6),
        Progress(2, 3, 0.4, elapsed_s=5.0, epoch=2.0, per_epoch=1),
        Eval(2, train_loss=0.4, val_loss=0.5),
    ]


# Ultralytics ------------------------------------------------------------------------------------

ULTRA_HEADER = "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size"
ULTRA_VAL = (
    "                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): "
)


def ultra_train(epoch: str, losses: str, bar: str) -> str:
    return f"      {epoch}      1.50G      {losses}         12        640: {bar}"


def test_ultralytics_epochs_with_train_and_validation_time() -> None:
    done = "100% ━━━━━━━━━━━━"
    lines = [
        "Starting training for 3 epochs...",
        ULTRA_HEADER,
        ultra_train("1/3", "1.200      2.400      1.300", f"{done} 50/50 5.0it/s 10.0s"),
        ULTRA_VAL + f"{done} 5/5 2.5it/s 2.0s",
        "                   all         80        120      0.500      0.400      0.300      0.200",
        ULTRA_HEADER,
        ultra_train("2/3", "1.000      2.000      1.000", f"{done} 50/50 4.0it/s 1:05"),
        ULTRA_VAL + f"{done} 5/5 2.0it/s 2.5s",
        "2 epochs completed in 0.022 hours.",
        ULTRA_VAL + f"{done} 5/5 3.0it/s 1.7s",  # the final validation of best.pt
    ]
    fmt, events = auto(lines)
    assert fmt == "ultralytics"
    assert events == [
        Progress(1, 3, pytest.approx(4.9), elapsed_s=10.0, epoch=1.0, per_epoch=1),
        Progress(1, 3, pytest.approx(4.9), elapsed_s=12.0, epoch=1.0, per_epoch=1),
        Progress(2, 3, 4.0, elapsed_s=77.0, epoch=2.0, per_epoch=1),
        Progress(2, 3, 4.0, elapsed_s=79.5, epoch=2.0, per_epoch=1),
        TrainingEnd(reason="completed"),
    ]


def test_ultralytics_tqdm_redraws_count_batches() -> None:
    losses = "1.200      2.400      1.300"
    lines = [
        ULTRA_HEADER,
        ultra_train("1/2", losses, " 40%|████      | 20/50 [00:04<00:06,  5.00it/s]"),
        ultra_train("1/2", losses, "100%|██████████| 50/50 [00:10<00:00,  5.00it/s]"),
        ULTRA_VAL + "100%|██████████| 5/5 [00:02<00:00,  2.50it/s]",
        ultra_train("2/2", losses, " 20%|██        | 10/50 [00:02<00:08,  5.00it/s]"),
    ]
    events = feed_all(make_parser("ultralytics"), lines)
    assert [(p.iter, p.total, p.elapsed_s, p.epoch) for p in progress(events)] == [
        (20, 100, 4.0, 0.4),
        (50, 100, 10.0, 1.0),
        (50, 100, 12.0, 1.0),
        (60, 100, 14.0, 1.2),
    ]


def test_ultralytics_results_csv_rows() -> None:
    lines = [
        "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/mAP50(B),val/box_loss,"
        "val/cls_loss,val/dfl_loss,lr/pg0",
        "1,60.5,1.5,2.5,1.25,0.1,1.5,2.25,1,0.001",
        "2,121.25,1.25,2,1,0.2,1.25,2,1,0.002",
    ]
    fmt, events = auto(lines)
    assert fmt == "ultralytics_csv"
    assert events == [
        Progress(1, loss=5.25, elapsed_s=60.5, epoch=1.0, per_epoch=1),
        Eval(1, train_loss=5.25, val_loss=4.75),
        Progress(2, loss=4.25, elapsed_s=121.25, epoch=2.0, per_epoch=1),
        Eval(2, train_loss=4.25, val_loss=4.25),
    ]
    old = [  # before the `time` column: fields padded to 23 characters
        "                  epoch,         train/box_loss,           val/box_loss",
        "                      1,                    1.5,                   1.25",
    ]
    assert feed_all(make_parser("ultralytics_csv"), old) == [
        Progress(1, loss=1.5, epoch=1.0, per_epoch=1),
        Eval(1, train_loss=1.5, val_loss=1.25),
    ]


# Lightning variants -----------------------------------------------------------------------------


def test_lightning_wandb_output_log_counts_epochs() -> None:
    head = "[00:10<00:00,  4.90it/s, v_num=ab12, train/loss_step=3.20]"
    lines = [
        f"Epoch 0:  98%|█████████▊| 49/50 {head}Adjusting learning rate of group 0 to 1.0000e-04.",
        "Epoch 1:  98%|█████████▊| 49/50 [00:09<00:00,  5.10it/s, v_num=ab12, "
        "train/loss_step=2.80, val/loss=2.90, train/loss_epoch=3.00]",
        "Epoch 1: 100%|██████████| 50/50 [00:10<00:00,  5.00it/s, v_num=ab12, "
        "train/loss_step=2.70, val/loss=2.90, train/loss_epoch=3.00]",
        "`Trainer.fit` stopped: `max_epochs=2` reached.",
    ]
    fmt, events = auto(lines)
    assert fmt == "lightning"
    assert events == [
        # The epoch as printed (0-based); `done` the epochs done: 2.0 of max_epochs=2 at the end.
        Progress(0, loss=3.2, elapsed_s=10.0, epoch=0.98, done=0.98, per_epoch=1),
        Progress(1, loss=2.8, elapsed_s=19.0, epoch=1.98, done=1.98, per_epoch=1),
        Eval(1, val_loss=2.9),
        Progress(1, loss=2.7, elapsed_s=20.0, epoch=2.0, done=2.0, per_epoch=1),
        TrainingEnd(reason="completed"),
    ]


def test_lightning_hydra_epoch_callback_day_first_then_month_first() -> None:
    def line(day: str, time: str, text: str) -> str:
        return f"[{day} {time}][src.callback.progress][INFO] - {text}"

    lines = [
        line("03/02/24", "10:00:00", "Training started"),
        line("03/02/24", "10:05:00", "Epoch 0: v_loss 2.000e+00  loss 2.500e+00  v_kl 1.0e+00"),
        line("25/02/24", "10:10:30", "Epoch 1: v_loss 1.500e+00  loss 2.000e+00  kl 3.2e+01"),
        "[25/02/24 10:10:31][pytorch_lightning.utilities.rank_zero][INFO] - `Trainer.fit` "
        "stopped: `max_epochs=2` reached.",
    ]
    fmt, events = auto(lines)
    assert fmt == "lightning"
    assert events == [
        # Printed at the epoch's end: `Epoch 0:` is one epoch done.
        Progress(
            0, loss=2.5, timestamp_s=stamp(2024, 2, 3, 10, 5), epoch=1.0, done=1.0, per_epoch=1
        ),
        Eval(0, train_loss=2.5, val_loss=2.0),
        Progress(
            1,
            loss=2.0,
            timestamp_s=stamp(2024, 2, 25, 10, 10, 30),
            epoch=2.0,
            done=2.0,
            per_epoch=1,
        ),
        Eval(1, train_loss=2.0, val_loss=1.5),
        TrainingEnd(reason="completed"),
    ]
    month_first = [line("02/13/2024", "09:00:00", "Epoch 7: loss 1.0")]
    assert progress(feed_all(make_parser("lightning"), month_first)) == [
        Progress(7, loss=1.0, timestamp_s=stamp(2024, 2, 13, 9), epoch=8.0, done=8.0, per_epoch=1)
    ]


def test_nemo_megatron_progress_bar_is_a_lightning_bar() -> None:
    line = (
        "Epoch 0:   5%|▌         | 10/200 [00:12<03:48, reduced_train_loss=7.523, "
        "global_step=9.0, consumed_samples=704.0, train_step_timing in s=1.25]"
    )
    fmt, events = auto([line])
    assert fmt == "lightning"
    assert [(p.iter, p.loss, p.elapsed_s) for p in progress(events)] == [(10, 7.523, 12.0)]


# I-JEPA -----------------------------------------------------------------------------------------


def test_ijepa_iterations_and_running_mean_times() -> None:
    tail = "masks: 68.0 24.0 [wd: 4.00e-02] [lr: 2.00e-04] [mem: 6.39e+04]"
    lines = [
        f"INFO:root:[1,     0] loss: 0.910 {tail} (2000.0 ms)",
        "INFO:root:[1,     0] grad_stats: [6.34e-02 2.11e-02] (1.07e-02, 9.21e-02)",
        f"INFO:root:[1,    10] loss: 0.850 {tail} (1000.0 ms)",
        "INFO:root:avg. loss 0.830",
        f"INFO:root:[2,     0] loss: nan {tail} (500.0 ms)",
        "INFO:root:[2,   100/  500] - [Autoencoder Training] [Autoencoder Loss: 1.5000] "
        "[autoencoder lr: 1.00e-05][mem: 8.90e+03](300.0 ms)",
    ]
    fmt, events = auto(lines)
    assert fmt == "ijepa"
    got = progress(events)
    assert [(p.iter, p.elapsed_s, p.epoch) for p in got] == [
        (0, 2.0, None),
        (10, 11.0, None),
        (0, 11.5, None),
        (600, pytest.approx(11.0 + 30.3), 1.2),
    ]
    assert [p.loss for p in got][:2] + [got[3].loss] == [0.91, 0.85, 1.5]
    assert got[2].loss is not None and math.isnan(got[2].loss)


# OLMo -------------------------------------------------------------------------------------------


def test_olmo_markers_and_their_metric_lines() -> None:
    prefix = "2024-02-01 10:00:{}.000\tnode-1:0\tolmo.train:967\tINFO\t"
    lines = [
        prefix.format("00") + "[step=10/100]",
        "    train/CrossEntropyLoss=3.412",
        "    train/Perplexity=30.33",
        "    throughput/total_tokens=1,310,720",
        "    System/Peak GPU Memory (MB)=41,236",
        prefix.format("20") + "[step=20/100]",
        "    throughput/device/tokens_per_second=12,345",
        prefix.format("21") + "c4_en-validation",
        "    eval/c4_en-validation/CrossEntropyLoss=3.377",
        "[step=30/???,epoch=1,eta=1h2m]",
        "    train/CE loss=2.914",
    ]
    fmt, events = auto(lines)
    assert fmt == "olmo"
    assert events == [
        Progress(10, 100, 3.412, timestamp_s=stamp(2024, 2, 1, 10)),
        Progress(20, 100, timestamp_s=stamp(2024, 2, 1, 10, 0, 20)),
        Eval(20, val_loss=3.377),
        Progress(30, None, 2.914, epoch=1.0),
    ]


# openpi -----------------------------------------------------------------------------------------


def test_openpi_tqdm_loggable_lines_and_step_lines() -> None:
    def bar(n: str, remaining: str, elapsed: str) -> str:
        return (
            f"12:00:00.000 [I] Progress on: {n}/30.0kit rate:2.0it/s remaining:{remaining} "
            f"elapsed:{elapsed} postfix:-          (4242:tqdm_logging.py:139)"
        )

    lines = [
        bar("950it", "4:02:05", "07:55"),
        "Step 1000: grad_norm=0.2500, loss=0.0300, param_norm=1800.0000",
        bar("1.02kit", "3:50:00", "08:05"),
        "Step 1140: grad_norm=0.2400, loss=0.0290, param_norm=1800.1000",
        bar("1.13kit", "3:49:00", "09:35"),  # rounded below the exact step printed before
    ]
    fmt, events = auto(lines)
    assert fmt == "openpi"
    assert events == [
        Progress(950, 30000, elapsed_s=475.0, remaining_s=14525.0),
        Progress(1000, loss=0.03),
        Progress(1020, 30000, elapsed_s=485.0, remaining_s=13800.0),
        Progress(1140, loss=0.029),
        Progress(1140, 30000, elapsed_s=575.0, remaining_s=13740.0),
    ]


# ms-swift ---------------------------------------------------------------------------------------


def test_swift_bar_and_logging_dicts() -> None:
    lines = [
        "Train:   0%|          | 0/20 [00:00<?, ?it/s]",
        "Train:  25%|██▌       | 5/20 [00:10<00:30,  2.00s/it]",
        "{'loss': '2.10000000', 'grad_norm': '1.5', 'learning_rate': '1e-05', 'token_acc': '0.5', "
        "'epoch': '0.25', 'global_step/max_steps': '5/20', 'percentage': '25.00%', "
        "'elapsed_time': '10s', 'remaining_time': '30s', 'memory(GiB)': '5.2', "
        "'train_speed(iter/s)': '0.5'}",
        "Val: 100%|██████████| 4/4 [00:01<00:00,  3.00it/s]",
        "{'eval_loss': '1.90', 'eval_runtime': '1.3', 'epoch': '0.25', "
        "'global_step/max_steps': '5/20', 'percentage': '25.00%', 'elapsed_time': '12s', "
        "'remaining_time': '36s'}",
        "{'loss': 1.7, 'grad_norm': 1.2, 'learning_rate': 1e-05, 'epoch': 1.0, "
        "'global_step/max_steps': '20/20', 'percentage': '100.00%', 'elapsed_time': '1h 2m 3s', "
        "'remaining_time': '0s'}",
        "{'train_runtime': '3725.1', 'train_samples_per_second': '1.2', 'epoch': '1.0', "
        "'global_step/max_steps': '20/20', 'percentage': '100.00%', "
        "'elapsed_time': '1h 2m 5s', 'remaining_time': '0s'}",
    ]
    fmt, events = auto(lines)
    assert fmt == "swift"
    assert events == [
        Progress(0, 20, elapsed_s=0.0),
        Progress(5, 20, elapsed_s=10.0, remaining_s=30.0),
        Progress(5, 20, 2.1, elapsed_s=10.0, remaining_s=30.0, epoch=0.25),
        Eval(5, val_loss=1.9),
        Progress(20, 20, 1.7, elapsed_s=3723.0, remaining_s=0.0, epoch=1.0),
        TrainingEnd(reason="completed"),
    ]


# NeMo -------------------------------------------------------------------------------------------


def test_nemo_progress_printer_lines() -> None:
    def line(it: int, loss: float, samples: int, val: str = "") -> str:
        return (
            f"Training epoch 0, iteration {it}/200 | lr: 0.0003 | global_batch_size: 64 | "
            f"global_step: {it} | reduced_train_loss: {loss} | train_step_timing in s: 1.25 | "
            f"consumed_samples: {samples}{val}"
        )

    lines = [
        line(10, 7.523, 704),
        "Validation: iteration 2/4",
        line(20, 6.9, 1344, " | val_loss: 7.1"),
        line(30, 6.5, 1984, " | val_loss: 7.1"),
    ]
    fmt, events = auto(lines)
    assert fmt == "nemo"
    assert events == [
        Progress(10, 200, 7.523, dt_s=1.25, epoch=0.0),
        Progress(20, 200, 6.9, dt_s=1.25, epoch=0.0),
        Eval(20, train_loss=6.9, val_loss=7.1),
        Progress(30, 200, 6.5, dt_s=1.25, epoch=0.0),
    ]


# axolotl ----------------------------------------------------------------------------------------


def test_axolotl_is_hf_trainer_output_with_its_own_logger_lines() -> None:
    """axolotl adds its logger's lines and memory keys to the Trainer's dicts: the hf parser."""
    lines = [
        "[2024-05-01 12:00:00,123] [INFO] [axolotl.train.train:173] [PID:1234] [RANK:0] "
        "Starting trainer...",
        " 10%|█         | 10/100 [00:30<04:30,  3.00s/it]",
        "{'loss': 1.2345, 'grad_norm': 0.4, 'learning_rate': 2e-05, "
        "'memory/max_mem_active(gib)': 17.8, 'memory/max_mem_allocated(gib)': 17.8, "
        "'memory/device_mem_reserved(gib)': 19.3, 'epoch': 0.1}",
        " 11%|█         | 11/100 [00:33<04:27,  3.00s/it]",
    ]
    fmt, events = auto(lines)
    assert fmt == "hf"
    assert [(p.iter, p.loss, p.elapsed_s) for p in progress(events)] == [
        (10, None, 30.0),
        (10, 1.2345, None),
        (11, None, 33.0),
    ]


def test_keras_after_a_long_model_summary_starts_at_epoch_one() -> None:
    """The format is decided on the first 200 lines: a bigger `model.summary()` hides the `Epoch
    1/T` line from detection, and the first bar (certain) switches to keras without it."""
    summary = [
        f"│ dense_{i} (Dense)          │ (None, 64)             │         4,160 │"
        for i in range(210)
    ]
    bar = "━" * 20
    lines = [
        *summary,
        "Epoch 1/2",
        f" 1/2 {bar} 1s 1s/step - loss: 1.0000",
        f" 2/2 {bar} 2s 1s/step - loss: 0.9000",
        "Epoch 2/2",
        f" 1/2 {bar} 1s 1s/step - loss: 0.8000",
    ]
    fmt, events = auto(lines)
    assert fmt == "keras"
    assert [(p.iter, p.total, p.elapsed_s) for p in progress(events)] == [
        (1, None, 1.0),
        (2, None, 2.0),
        (3, 4, 3.0),
    ]
