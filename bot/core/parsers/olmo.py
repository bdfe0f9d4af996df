"""OLMo (`olmo/train.py`) and OLMo-core (`ConsoleLoggerCallback`) console logs.

The trainer logs a progress marker, then the step's metrics one per line, in one `log.info`
call (OLMo's non-interactive format: `%(asctime)s\\t%(hostname)s:%(local_rank)s\\t%(name)s:
%(lineno)s\\t%(levelname)s\\t%(message)s`; values through `format_float`: `1,234`, `12.35`):

    2024-02-01 10:00:03.412\\tnode-1:0\\tolmo.train:967\\tINFO\\t[step=100/739328]
        train/CrossEntropyLoss=3.412
        train/Perplexity=30.33
        throughput/total_tokens=419,430,400
        System/Peak GPU Memory (MB)=41,236
    2024-02-01 10:09:12.004\\tnode-1:0\\tolmo.train:1050\\tINFO\\tc4_en-validation
        eval/c4_en-validation/CrossEntropyLoss=3.377
    [step=200/1000,epoch=1,eta=1h12m]
        train/CE loss=2.914
        train/PPL=18.43

(`\\t` is a tab; the last marker is OLMo-core's, `???` when it has no maximum). The marker's
step and maximum are the iteration and total, its timestamp the clock; the `Progress` is given
with the step's loss line (`train/CrossEntropyLoss`, `train/CE loss`), or at the first line
after the marker that is not a metric when there is none (ranks other than 0 print the marker
alone). An `eval/.../CrossEntropyLoss` (or `CE loss`) line is an `Eval` at the last step.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, timestamp_seconds, to_float

NAME = "olmo"

_MARKER = re.compile(r"\[step=(\d+)/(\d+|\?\?\?)(?:,\s*epoch=(\d+))?(?:,\s*eta=[^\]]*)?\]")
_METRIC = re.compile(r"^([A-Za-z][\w/ .()*-]*)=(-?[\d,]*\.?\d*(?:e[-+]?\d+)?|nan|-?inf)$")
_LOSS_NAMES = ("CrossEntropyLoss", "CE loss")


def score(line: str) -> int:
    """10: a progress marker; 0: anything else."""
    return 10 if "[step=" in line and _MARKER.search(line) else 0


class OlmoParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._pending: Progress | None = None  # the marker's step, waiting for its loss
        self._step: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        if "=" in line and (match := _METRIC.match(line)) is not None:
            return self._metric(match.group(1), match.group(2))
        events = self._release()
        if "[step=" in line and (marker := _MARKER.search(line)) is not None:
            step, total = int(marker.group(1)), marker.group(2)
            self._step = step
            self._pending = Progress(
                step,
                total=None if total == "???" else int(total),
                timestamp_s=timestamp_seconds(line[: marker.start()]),
                epoch=None if marker.group(3) is None else float(marker.group(3)),
            )
        return errors.with_errors(events, line)

    def _release(self) -> list[Event]:
        pending, self._pending = self._pending, None
        return [] if pending is None else [pending]

    def _metric(self, name: str, value: str) -> list[Event]:
        if not name.endswith(_LOSS_NAMES):
            return []
        loss = to_float(value.replace(",", ""))
        if name.startswith("train/") and self._pending is not None:
            pending, self._pending = self._pending, None
            return [
                Progress(
                    pending.iter,
                    total=pending.total,
                    loss=loss,
                    timestamp_s=pending.timestamp_s,
                    epoch=pending.epoch,
                )
            ]
        if name.startswith("eval/"):
            return [*self._release(), Eval(self._step, val_loss=loss)]
        return []
