"""I-JEPA-style training logs (facebookresearch/ijepa `src/train.py` and its descendants).

As the training loop logs them through `logging` (`%(levelname)s:%(name)s:` prefix), every
`log_freq` iterations; forks add the iterations per epoch (`/ 2562`) and their own losses:

    INFO:root:[1,    10] loss: 0.472 masks: 68.0 24.0 [wd: 4.00e-02] [lr: 2.00e-04] \\
        [mem: 6.39e+04] (1909.8 ms)
    INFO:root:[1,    10] grad_stats: [6.34e-02 2.11e-02] (1.07e-02, 9.21e-02)
    INFO:root:avg. loss 0.468
    INFO:root:[1,   100/ 2562] - [Autoencoder Training] [Autoencoder Loss: 1.9453] \\
        [autoencoder lr: 1.01e-05][mem: 8.90e+03](347.6 ms)

(`\\` marks a line wrapped here). `[epoch, itr]` counts within the epoch: with the iterations
per epoch printed, the iteration is the global step `(epoch - 1) x N + itr`, else `itr` as
printed. The loss is `loss:`, else the first `... Loss ...: value`. `(… ms)` is the running
average of the epoch's iteration times, so the epoch's elapsed time is about that average x
(itr + 1): the clock is that plus the finished epochs' time (a run restarting at a lower epoch,
another phase, starts it again).
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, to_float

NAME = "ijepa"

_LINE = re.compile(r"\[(\d+),\s+(\d+)(?:/\s*(\d+))?\]\s*(.*)\((\d+(?:\.\d+)?) ms\)$")
_LOSS = re.compile(r"\bloss: ([-+.\w]+)|Loss[^:\[\]]*: \[?([-+.\w]+)")


def score(line: str) -> int:
    """10: a progress line with its loss and time; 0: anything else."""
    if "ms)" in line and "oss" in line and "[" in line:
        return 10 if _LINE.search(line) else 0
    return 0


class IjepaParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._offset_s = 0.0  # the finished epochs' time
        self._epoch_s = 0.0

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if line.endswith("ms)"):
            match = _LINE.search(line)
            if match is not None:
                events.append(self._progress(match))
        return errors.with_errors(events, line)

    def _progress(self, match: re.Match[str]) -> Progress:
        epoch, itr, per_epoch = int(match.group(1)), int(match.group(2)), match.group(3)
        if self._epoch is not None and epoch != self._epoch:
            self._offset_s = self._offset_s + self._epoch_s if epoch > self._epoch else 0.0
        self._epoch = epoch
        self._epoch_s = float(match.group(5)) / 1000 * (itr + 1)
        loss = _LOSS.search(match.group(4))
        steps = int(per_epoch) if per_epoch else None
        return Progress(
            (epoch - 1) * steps + itr if steps else itr,
            loss=None if loss is None else to_float(loss.group(1) or loss.group(2)),
            elapsed_s=self._offset_s + self._epoch_s,
            epoch=epoch - 1 + itr / steps if steps else None,
        )
