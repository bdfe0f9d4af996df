"""timm's `train.py` (pytorch-image-models) stdout.

As in a real run (`\\` marks a line wrapped here):

    Scheduled epochs: 300
    Train: 150 [   0/1251 (  0%)]  Loss:  4.161930 (4.1619)  Time: 1.954s,  524.01/s  \
        (1.954s,  524.01/s)  LR: 5.050e-04  Data: 1.808 (1.808)
    Test: [  48/48]  Time: 0.556 (1.946)  Loss:  5.9052 (6.4740)  Acc@1: 10.9670 ( 1.3580)  \
        Acc@5: 24.4104 ( 5.2700)
    *** Best metric: 72.2 (epoch 299)

- The iteration is the global step `epoch x N + i` (epochs from 0), of `Scheduled epochs x N`.
- No stamps: the clock is the log's own averages. Inside an epoch the time so far is
  `(i + 1) x` the running average `Time` (in parentheses); a finished epoch adds its last line's
  `(i + 1) x` average, and each validation block its last `Test` line's `(j + 1) x` average.
- The loss is the iteration's own value (before the parenthesised average). The last line of
  a `Test` block (`[j/j]`) is an `Eval` at the last step seen, with the block's average loss.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, strip_launcher, to_float

NAME = "timm"

_TRAIN = re.compile(
    r"^Train: (\d+) \[\s*(\d+)/(\d+) \(\s*\d+%\)\]\s+Loss:\s+(\S+) \(\s*\S+\)\s+"
    r"Time: [\d.]+s,\s+\S+\s+\(([\d.]+)s,"
)
_TEST = re.compile(
    r"^Test(?: \(EMA\))?: \[\s*(\d+)/(\d+)\]\s+Time: [\d.]+ \(\s*([\d.]+)\)"
    r"\s+Loss:\s+\S+ \(\s*(\S+)\)"
)
_EPOCHS = re.compile(r"^Scheduled epochs: (\d+)")


def score(line: str) -> int:
    """10 for a training line or the `Scheduled epochs` line, 0 otherwise."""
    line = strip_launcher(line)
    if line.startswith("Train: "):
        return 10 if _TRAIN.match(line) else 0
    return 10 if line.startswith("Scheduled epochs") and _EPOCHS.match(line) else 0


class TimmParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._epochs: int | None = None
        self._epoch: int | None = None
        self._done_s = 0.0  # finished epochs and validation blocks
        self._epoch_s = 0.0  # the current epoch so far
        self._last_step: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if line.startswith("Train: "):
            events = self._train(line)
        elif line.startswith("Test"):
            events = self._test(line)
        elif line.startswith("Scheduled epochs") and (match := _EPOCHS.match(line)):
            self._epochs = int(match.group(1))
        return errors.with_errors(events, line)

    def _train(self, line: str) -> list[Event]:
        match = _TRAIN.match(line)
        if match is None:
            return []
        epoch, i, n = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if epoch != self._epoch:
            self._done_s += self._epoch_s
        self._epoch, self._epoch_s = epoch, (i + 1) * float(match.group(5))
        self._last_step = epoch * n + i
        return [
            Progress(
                self._last_step,
                total=self._epochs * n if self._epochs else None,
                loss=to_float(match.group(4)),
                elapsed_s=self._done_s + self._epoch_s,
                epoch=epoch + (i + 1) / n,
            )
        ]

    def _test(self, line: str) -> list[Event]:
        """The last line of a validation block: its time, and its result."""
        match = _TEST.match(line)
        if match is None or int(match.group(1)) < int(match.group(2)):
            return []
        self._done_s += (int(match.group(1)) + 1) * float(match.group(3))
        return [Eval(self._last_step, val_loss=to_float(match.group(4)))]
