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
    to_float,
)

NAME = "detectron2"

# Two spaces after the iteration: YOLOX's `iter: 10/76,` is not this line.
_ITER = re.compile(r"(?:^|\s)(?:eta: ((?:\d+ days?, )?\S+)\s+)?iter: (\d+)  +(?=\S+: )")
_LOSS = re.compile(r"\b(?:total_)?loss: (\S+)")
_MAX_ITER = re.compile(r"^MAX_ITER: (\d+)$")


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

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "iter: " in line:
            events = self._metrics(line)
        elif line.startswith("MAX_ITER: ") and (match := _MAX_ITER.match(line)):
            events = [RunConfig({"max_iters": int(match.group(1))})]
        return errors.with_errors(events, line)

    def _metrics(self, line: str) -> list[Event]:
        match = _ITER.search(line)
        if match is None:
            return []
        eta, step = match.group(1), int(match.group(2))
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
