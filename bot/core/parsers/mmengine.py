"""OpenMMLab's training logs: mmengine's `LogProcessor` (mmdet 3, mmseg 1, mmpretrain...) and
mmcv 1.x's `TextLoggerHook` (mmdet 2, mmseg 0.x).

As in real runs (`\\` marks a line wrapped here):

    05/31 05:18:08 - mmengine - INFO - Epoch(train) [13][ 50/151]  lr: 1.0000e-02  \
        eta: 0:50:29  time: 1.7391  data_time: 0.0377  memory: 17594  loss: 1.1939  ...
    01/05 04:23:47 - mmengine - INFO - Iter(train) [10050/20000]  lr: 5.3816e-03  \
        eta: 2:04:39  time: 0.7400  data_time: 0.0140  memory: 8150  loss: 0.0760  ...
    05/31 04:17:08 - mmengine - INFO - Epoch(val)  [1][ 50/335]    eta: 0:00:43  time: 0.1538
    train_cfg = dict(max_epochs=24, type='EpochBasedTrainLoop', val_interval=1)
    2022-05-06 12:00:00,123 - mmdet - INFO - Epoch [1][50/7330]	lr: 2.000e-02, eta: 1 day, \
        2:03:04, time: 0.512, data_time: 0.050, memory: 3500, loss: 1.2345
    runner = dict(type='EpochBasedRunner', max_epochs=12)

- By epoch (`Epoch(train) [e][i/N]`, epochs from 1) the iteration is the global step
  `(e - 1) x N + i`, of `max_epochs x N` (`max_epochs` from the config dump; mmengine may also
  print `[e/E]`). By iteration (`Iter(train) [i/N]`) it is `i` of `N`.
- Validation and test loops (`Epoch(val)`, `Iter(test)`) are not progress.
- The stamp is the clock: mmengine's console form `MM/DD HH:MM:SS` has no year
  (`base.YearlessClock`); its file form `YYYY/MM/DD HH:MM:SS` and mmcv's are read as they are.
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import (
    FeedMany,
    YearlessClock,
    clean,
    clock_seconds,
    strip_launcher,
    timestamp_seconds,
    to_float,
)

NAME = "mmengine"

_TRAIN = re.compile(
    r"(?:^|\s)(?:(Epoch)(?:\(train\))? +\[(\d+)(?:/(\d+))?\]|(Iter)(?:\(train\))? +)"
    r"\[\s*(\d+)/(\d+)\][\s,]+(?:lr|base_lr|eta|time)\b"
)
_LOSS = re.compile(r"[\s,]loss: (\S+?),?(?:\s|$)")
_ETA = re.compile(r"\beta: ((?:\d+ days?, )?\d+:\d\d:\d\d)")
_MAX_EPOCHS = re.compile(r"\b(?:max_epochs\s*=\s*|^total_epochs = )(\d+)")
_MAX_ITERS = re.compile(r"\bmax_iters\s*=\s*(\d+)")
_LOGGER = " - mmengine - "


def score(line: str) -> int:
    """10 for a training line, 3 for another line of mmengine's logger, 0 otherwise."""
    if ("Epoch" in line or "Iter" in line) and _TRAIN.search(line):
        return 10
    return 3 if _LOGGER in line else 0


class MmengineParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._stamps = YearlessClock()
        self._max_epochs: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "max_" in line or "total_epochs" in line:
            events = self._config(line)
        elif "Epoch" in line or "Iter" in line:
            events = self._train(line)
        return errors.with_errors(events, line)

    def _train(self, line: str) -> list[Event]:
        match = _TRAIN.search(line)
        if match is None:
            return []
        by_epoch, epoch_text, epochs_text, _, i_text, n_text = match.groups()
        i, n = int(i_text), int(n_text)
        step, total, epoch, per_epoch = i, n, None, None
        if by_epoch:
            max_epochs = int(epochs_text) if epochs_text else self._max_epochs
            done = int(epoch_text) - 1  # epochs finished before this one
            step, total = done * n + i, (max_epochs or 0) * n
            epoch, per_epoch = (done + i / n, n) if n else (None, None)
        prefix = line[: match.start()]
        stamp = self._stamps.read(prefix) if prefix[2:3] == "/" else timestamp_seconds(prefix)
        loss, eta = _LOSS.search(line, match.end()), _ETA.search(line, match.end())
        return [
            Progress(
                step,
                total=total or None,
                loss=None if loss is None else to_float(loss.group(1)),
                timestamp_s=stamp,
                remaining_s=None if eta is None else clock_seconds(eta.group(1)),
                epoch=epoch,
                per_epoch=per_epoch,
            )
        ]

    def _config(self, line: str) -> list[Event]:
        if match := _MAX_EPOCHS.search(line):
            self._max_epochs = int(match.group(1))
        elif match := _MAX_ITERS.search(line):
            return [RunConfig({"max_iters": int(match.group(1))})]
        return []
