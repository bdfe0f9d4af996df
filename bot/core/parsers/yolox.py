"""YOLOX (`yolox/core/trainer.py`) logs: loguru lines, as its `after_iter` and
`after_train` print them.

As the trainer writes them (`train_log.txt` or stdout; `\\` marks a line wrapped here):

    2021-12-05 00:36:56.589 | INFO     | yolox.core.trainer:before_epoch:188 - ---> start \
        train epoch1
    2021-12-05 00:37:01.352 | INFO     | yolox.core.trainer:after_iter:246 - epoch: 1/300, \
        iter: 10/76, mem: 16022Mb, iter_time: 0.476s, data_time: 0.068s, total_loss: 12.4, \
        iou_loss: 3.0, l1_loss: 0.0, conf_loss: 6.6, cls_loss: 2.8, lr: 2.164e-05, size: 640, \
        ETA: 3:00:41
    2024-01-10 09:12:03 | INFO     | yolox.core.trainer:after_iter:265 - epoch: 3/300, \
        iter: 20/87, gpu mem: 5120Mb, mem: 9.3Gb, iter_time: 0.233s, data_time: 0.001s, \
        total_loss: 7.1, iou_loss: 3.0, l1_loss: 0.0, conf_loss: 3.4, cls_loss: 0.7, \
        lr: 1.250e-03, size: 640, ETA: 1 day, 2:03:39
    2021-12-05 02:19:31.642 | INFO     | yolox.core.trainer:after_train:184 - Training of \
        experiment is done and the best AP is 40.43

`epoch: E/T, iter: I/N` counts within the epoch (`print_interval` iterations apart): the
iteration is the global step `(E - 1) x N + I` of `T x N`; `ETA` is YOLOX's own remaining
time. The loguru timestamp is the clock. A file often holds several launches (YOLOX appends
to `train_log.txt`): each starts again at epoch 1 (or at its resumed epoch), which the state
downstream tells from the counter. `Training of experiment is done` is printed by `after_train`
in a `finally` block, also when the run died (the error follows it): it is the end of training
only when the last progress line was the last epoch's last print (`iter` within one print
interval of `N`, the interval read from the epoch's previous line), as in

    2021-09-03 20:47:27.779 | INFO     | yolox.core.trainer:after_iter:246 - epoch: 300/300, \
        iter: 40/47, mem: 1756Mb, iter_time: 0.087s, ...
    2021-09-03 20:47:31.106 | INFO     | yolox.core.trainer:after_train:184 - Training of \
        experiment is done and the best AP is 90.00
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress, TrainingEnd
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, clock_seconds, timestamp_seconds, to_float

NAME = "yolox"

_PROGRESS = re.compile(r"\bepoch: (\d+)/(\d+), iter: (\d+)/(\d+),")
_LOSS = re.compile(r"\btotal_loss: (\S+?),")
_ETA = re.compile(r"\bETA: ((?:\d+ days?, )?\d+:\d\d:\d\d)")
_DONE = "Training of experiment is done"


def score(line: str) -> int:
    """10: a YOLOX progress line; 0: anything else."""
    return 10 if "epoch: " in line and _PROGRESS.search(line) else 0


class YoloxParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._last: tuple[int, int, int, int] | None = None  # epoch, epochs, iter, per epoch
        self._interval = 0  # iterations between two prints inside an epoch

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if "epoch: " in line:
            match = _PROGRESS.search(line)
            if match is not None:
                self._remember(match)
                events.append(_progress(line, match))
        elif _DONE in line and self._at_end():
            events.append(TrainingEnd(reason="completed"))
        return errors.with_errors(events, line)

    def _remember(self, match: re.Match[str]) -> None:
        epoch, epochs, it, per_epoch = (int(g) for g in match.groups())
        last = self._last
        same_epoch = last is not None and last[0] == epoch and it > last[2]
        self._interval = it - last[2] if last is not None and same_epoch else it
        self._last = (epoch, epochs, it, per_epoch)

    def _at_end(self) -> bool:
        if self._last is None:
            return False
        epoch, epochs, it, per_epoch = self._last
        return epoch == epochs and it + self._interval > per_epoch


def _progress(line: str, match: re.Match[str]) -> Progress:
    epoch, epochs, it, per_epoch = (int(g) for g in match.groups())
    loss = _LOSS.search(line, match.end())
    eta = _ETA.search(line, match.end())
    return Progress(
        (epoch - 1) * per_epoch + it,
        total=epochs * per_epoch,
        loss=None if loss is None else to_float(loss.group(1)),
        timestamp_s=timestamp_seconds(line[: match.start()]),
        remaining_s=None if eta is None else clock_seconds(eta.group(1)),
        epoch=epoch - 1 + it / per_epoch if per_epoch else None,
        per_epoch=per_epoch or None,
    )
