"""NeMo 2 (`nemo.lightning`) `ProgressPrinter` lines, the non-interactive progress of NeMo's
Megatron-based training.

As its `on_train_batch_end` prints them every `log_interval` steps (metrics averaged over the
interval, whole numbers without decimals, others with 4 significant digits):

    Training epoch 0, iteration 100/5000 | lr: 0.0003 | global_batch_size: 512 | \\
        global_step: 100 | reduced_train_loss: 6.131 | train_step_timing in s: 1.742 | \\
        consumed_samples: 51712
    Training epoch 0, iteration 200/5000 | lr: 0.0003 | global_batch_size: 512 | \\
        global_step: 200 | reduced_train_loss: 5.402 | train_step_timing in s: 1.738 | \\
        consumed_samples: 102912 | val_loss: 5.517
    Validation: iteration 10/32

(`\\` marks a line wrapped here). The iteration is `iteration n` of the total printed beside
it (`max_steps`); the loss is `reduced_train_loss` (else `train_loss`, `loss`); `train_step_
timing in s`, the mean step time, is the step's duration; a new `val_loss` is an `Eval`.
NeMo's interactive `MegatronProgressBar` is a Lightning bar (`Epoch 0:  2%|▏| 100/5000
[02:54<2:22:10, reduced_train_loss=6.131, global_step=99.0, ...]`), read by `lightning`.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, to_float

NAME = "nemo"

_LINE = re.compile(r"^Training epoch (\d+), iteration (\d+)/(\d+)((?: \| [^|:]+: [^|]*)*)$")
_ITEM = re.compile(r"\|\s*([^|:]+):\s*([^|]*)")
_LOSS_KEYS = ("reduced_train_loss", "train_loss", "loss")


def score(line: str) -> int:
    """10: a `Training epoch E, iteration n/N` line; 0: anything else."""
    return 10 if line.startswith("Training epoch ") and _LINE.match(line) else 0


class NemoParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._val: str | None = None

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if line.startswith("Training epoch "):
            match = _LINE.match(line)
            if match is not None:
                events = self._progress(match)
        return errors.with_errors(events, line)

    def _progress(self, match: re.Match[str]) -> list[Event]:
        epoch, it, total = (int(g) for g in match.group(1, 2, 3))
        metrics = {k.strip(): v.strip() for k, v in _ITEM.findall(match.group(4))}
        loss_key = next((k for k in _LOSS_KEYS if k in metrics), None)
        loss = None if loss_key is None else to_float(metrics[loss_key])
        timing = metrics.get("train_step_timing in s")
        events: list[Event] = [
            Progress(
                it,
                total=total,
                loss=loss,
                dt_s=None if timing is None else to_float(timing),
                epoch=float(epoch),
            )
        ]
        val = metrics.get("val_loss")
        if val is not None and val != self._val:
            self._val = val
            events.append(Eval(it, train_loss=loss, val_loss=to_float(val)))
        return events
