"""detectron2's `CommonMetricPrinter` (utils/events.py) and its config dump.

As in a real run (`\\` marks a line wrapped here):

    [11/16 02:58:10] d2.engine.train_loop INFO: Starting training from iteration 0
    [11/17 13:47:11] d2.utils.events INFO:  eta: 14:05:42  iter: 36519  total_loss: 0.2449  \
        loss_cls: 0.1288  loss_box_reg: 0.08682  time: 0.6815  data_time: 0.0663  lr: 0.004  \
        max_mem: 11814M
    [11/17 13:47:11 d2.utils.events]:  eta: 0:00:42  iter: 19  total_loss: 1.57  ...
      MAX_ITER: 111000

- The second form is detectron2's coloured logger once its colours are stripped.
- The stamp has no year (`base.YearlessClock`): it is the clock. `eta` is the printer's own
  remaining time. The loss is `total_loss` (else `loss`).
- `MAX_ITER: N` of the config dump is the total; each launch dumps its own.

How a launch ends (`TrainerBase.train`: `except Exception: logger.exception("Exception during
training:"); raise` then `finally: self.after_train()`, whose hooks print the speed and the
total time, then flush the last metrics):

    [08/30 16:32:10] d2.engine.train_loop ERROR: Exception during training:
    AssertionError: Dataset 'coco_instance_rgbd_val' is empty!
    [08/30 16:32:10] d2.engine.hooks INFO: Overall training speed: 4997 iterations in 0:35:51 \
        (0.4305 s / it)
    [08/30 16:32:10] d2.engine.hooks INFO: Total training time: 0:35:55 (0:00:04 on hooks)
    [08/30 16:32:10] d2.utils.events INFO:  eta: 0:21:29  iter: 4999  total_loss: 1.013 ...

- After `Exception during training:` the metrics line is that flush, not training going on
  (`iter: 0  lr: N/A` when it died at once): it is not progress, so the crash stands.
- `Total training time` with no exception and the last iteration at `MAX_ITER - 1` (the
  counter is 0-based) is the end of training. Ctrl-C (not an `Exception`) prints the times
  too, short of `MAX_ITER`: not an end.
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress, RunConfig, TrainingEnd
from bot.core.parsers import errors
from bot.core.parsers.base import (
    FeedMany,
    YearlessClock,
    clean,
    clock_seconds,
    strip_launcher,
    to_float,
)

NAME = "detectron2"

# Two spaces after the iteration: YOLOX's `iter: 10/76,` is not this line.
_ITER = re.compile(r"(?:^|\s)(?:eta: ((?:\d+ days?, )?\S+)\s+)?iter: (\d+)  +(?=\S+: )")
_LOSS = re.compile(r"\b(?:total_)?loss: (\S+)")
_MAX_ITER = re.compile(r"^MAX_ITER: (\d+)$")
_START = "Starting training from iteration "
_FAILED = "Exception during training:"
_TOTAL_TIME = "Total training time: "


def score(line: str) -> int:
    """10 for a metrics line or the config's `MAX_ITER`, 0 otherwise."""
    if "iter: " in line:
        return 10 if _ITER.search(line) else 0
    if "MAX_ITER: " not in line:
        return 0
    return 10 if _MAX_ITER.match(strip_launcher(line)) else 0


class Detectron2Parser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._clock = YearlessClock()
        self._max_iter: int | None = None
        self._last_iter: int | None = None
        self._failed = False  # this launch's loop raised: what follows is its closing flush

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "iter: " in line:
            events = [] if self._failed else self._metrics(line)
        elif line.startswith("MAX_ITER: ") and (match := _MAX_ITER.match(line)):
            self._max_iter = int(match.group(1))
            events = [RunConfig({"max_iters": self._max_iter})]
        elif _START in line:
            self._failed, self._last_iter = False, None
        elif _FAILED in line:
            self._failed = True
        elif _TOTAL_TIME in line and self._completed():
            events = [TrainingEnd(reason="completed")]
        return errors.with_errors(events, line)

    def _completed(self) -> bool:
        last, total = self._last_iter, self._max_iter
        return not self._failed and last is not None and total is not None and last + 1 >= total

    def _metrics(self, line: str) -> list[Event]:
        match = _ITER.search(line)
        if match is None:
            return []
        eta, step = match.group(1), int(match.group(2))
        self._last_iter = step
        loss = _LOSS.search(line, match.end())
        stamp = self._clock.read(line[1:]) if line.startswith("[") else None
        return [
            Progress(
                step,
                loss=None if loss is None else to_float(loss.group(1)),
                timestamp_s=stamp,
                remaining_s=None if eta is None else clock_seconds(eta),
            )
        ]
