"""Framework prints found in real logs outside ../shared (docs/formats.md, "Logs from outside
the corpus"), written here as the frameworks' own f-strings print them."""

from __future__ import annotations

from bot.core.events import Eval, Progress, TrainingEnd
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert
from bot.core.parsers.registry import make_parser

_D2 = "[08/30 {}] d2.utils.events INFO:  eta: 0:00:08  iter: {}  total_loss: 12.96  time: 0.4365"
_D2_START = "[08/30 23:00:26] d2.engine.train_loop INFO: Starting training from iteration 0"
_D2_FAILED = "[08/30 16:32:10] d2.engine.train_loop ERROR: Exception during training:"
_D2_SPEED = (
    "[08/30 23:15:00] d2.engine.hooks INFO: Overall training speed: {} iterations in 0:14:30"
)
_D2_TOTAL = "[08/30 23:15:00] d2.engine.hooks INFO: Total training time: 0:14:31 (0:00:01 on hooks)"


def _alerts(fmt: str, lines: list[str]) -> list[tuple[str, int | None]]:
    monitor = RunMonitor("outside", fmt)
    found = [n for line in lines for _, ns in monitor.feed((line,), 0.0) for n in ns]
    found += monitor.end_of_log()
    return [(a.type.value, a.iter) for a in found if isinstance(a, Alert)]


def test_nanogpt_fork_with_a_loss_unit() -> None:
    parser = make_parser("nanogpt")
    assert parser.feed("step 0: train loss 12.5201 BPC, val loss 12.5218 BPC") == [
        Eval(0, train_loss=12.5201, val_loss=12.5218)
    ]
    assert parser.feed("iter 10: loss 10.0507 BPC, time 6704.74ms, mfu 9.31%") == [
        Progress(10, loss=10.0507, dt_s=6.70474)
    ]


def _d2_launch(last: int, max_iter: int) -> list[str]:
    metrics = [_D2.format(f"23:{i // 20 % 60:02d}:00", i) for i in range(19, last + 1, 20)]
    return [f"  MAX_ITER: {max_iter}", _D2_START, *metrics]


def test_detectron2_crash_before_the_first_metrics_is_not_cleared_by_the_closing_flush() -> None:
    lines = [
        f"  MAX_ITER: {2000}",
        _D2_START,
        _D2_FAILED,
        "Traceback (most recent call last):",
        '  File "detectron2/engine/train_loop.py", line 155, in train',
        "ValueError: too many dimensions 'Boxes'",
        "",
        _D2_TOTAL,
        "[08/30 15:22:46] d2.utils.events INFO:  iter: 0       lr: N/A  max_mem: 303M",
    ]
    assert _alerts("detectron2", lines) == [("crash", None)]


def test_detectron2_crash_after_training_keeps_its_iteration() -> None:
    lines = [
        *_d2_launch(4979, 8000),
        _D2_FAILED,
        "Traceback (most recent call last):",
        "AssertionError: Dataset 'coco_instance_rgbd_val' is empty!",
        _D2_SPEED.format(4997),
        _D2_TOTAL,
        _D2.format("16:32:10", 4999),
    ]
    assert _alerts("detectron2", lines) == [("started", 19), ("crash", 4979)]


def test_detectron2_end_of_training_and_ctrl_c() -> None:
    parser = make_parser("detectron2")
    events = [ev for line in [*_d2_launch(1999, 2000), _D2_TOTAL] for ev in parser.feed(line)]
    assert events[-1] == TrainingEnd(reason="completed")
    stopped = [ev for line in [*_d2_launch(479, 2000), _D2_TOTAL] for ev in parser.feed(line)]
    assert not [ev for ev in stopped if isinstance(ev, TrainingEnd)]


_YOLOX = (
    "2021-09-03 20:47:27.779 | INFO     | yolox.core.trainer:after_iter:246 - epoch: {}/300, "
    "iter: {}/47, mem: 1756Mb, iter_time: 0.087s, data_time: 0.000s, total_loss: 1.1, "
    "iou_loss: 0.7, l1_loss: 0.2, conf_loss: 0.1, cls_loss: 0.3, lr: 7.813e-06, size: 640, "
    "ETA: 0:00:01"
)
_YOLOX_DONE = (
    "2021-09-03 20:47:31.106 | INFO     | yolox.core.trainer:after_train:184 - Training of "
    "experiment is done and the best AP is 90.00"
)


def test_yolox_done_after_the_last_epoch_is_the_end() -> None:
    parser = make_parser("yolox")
    lines = [_YOLOX.format(300, it) for it in (10, 20, 30, 40)] + [_YOLOX_DONE]
    events = [ev for line in lines for ev in parser.feed(line)]
    assert events[-1] == TrainingEnd(reason="completed")


def test_yolox_done_printed_by_a_failing_run_is_not_the_end() -> None:
    parser = make_parser("yolox")
    lines = [_YOLOX.format(10, it) for it in (10, 20, 30, 40)] + [_YOLOX_DONE]
    assert not [ev for line in lines for ev in parser.feed(line) if isinstance(ev, TrainingEnd)]


def _epoch_loop(header: str, epochs: int) -> list[str]:
    """`for epoch ...: print(header); for batch in tqdm(loader)`, with an evaluation bar."""
    lines: list[str] = []
    for epoch in range(epochs):
        lines.append(header.format(epoch))
        lines += [
            f"{n}%|#####| {n}/100 [00:{n // 5:02d}<00:{(100 - n) // 5:02d},  5.00it/s]"
            for n in (0, 50, 100)
        ]
        lines += ["[INFO] Evaluation", "100%|#####| 431/431 [00:44<00:00,  9.75it/s]"]
    return lines


def test_tqdm_bars_opened_by_epoch_headers_count_across_epochs() -> None:
    parser = make_parser("tqdm")
    steps = [
        (ev.iter, ev.total, ev.elapsed_s)
        for line in _epoch_loop("[INFO] epoch {}", 3)
        for ev in parser.feed(line)
        if isinstance(ev, Progress)
    ]
    assert steps[-3:] == [(200, None, 40.0), (250, None, 50.0), (300, None, 60.0)]
    assert _alerts("tqdm", _epoch_loop("[INFO] epoch {}", 3)) == [("started", 0)]


def test_tqdm_epoch_headers_with_their_count_give_the_total() -> None:
    parser = make_parser("tqdm")
    lines = _epoch_loop("Epoch {}/3", 3)  # 0-based, as `print(f"Epoch {epoch}/{epochs}")`
    last = [ev for line in lines for ev in parser.feed(line) if isinstance(ev, Progress)][-1]
    assert (last.iter, last.total) == (300, 300)
