"""Ultralytics (YOLOv8/YOLO11) training stdout: the per-epoch train bar and validation bar.

As `ultralytics/engine/trainer.py` and `models/yolo/detect/val.py` print them, with the
Ultralytics `TQDM` of 8.3.x (`{desc}: {pct}% {bar} {n}/{total} {rate} {elapsed}<{remaining}`;
elapsed `38.5s`, `M:SS` or `H:MM:SS`):

    Starting training for 100 epochs...
          Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size
          1/100      2.13G      1.596      2.455      1.443          1        640: 45% \
        ━━━━━╸────── 184/409 1.5it/s 2:01<2:31
          1/100      2.13G      1.596      2.455      1.443          1        640: 100% \
        ━━━━━━━━━━━━ 409/409 1.5it/s 4:25
                     Class     Images  Instances      Box(P          R      mAP50  \
        mAP50-95): 100% ━━━━━━━━━━━━ 58/58 1.5it/s 38.5s
                       all        925       1248      0.622      0.391      0.351      0.169
    100 epochs completed in 5.089 hours.

(`\\` marks a line wrapped here), and with tqdm before it (`640: 100%|██████████| 409/409
[04:25<00:00,  1.54it/s]`). Each bar
restarts its clock: the run clock is the finished epochs' train and validation time plus the
current bar's elapsed time. The iteration is the epoch `E` of `T` when the log keeps only each
epoch's last bar (a notebook, a W&B copy), and the global batch `(E - 1) x N + n` of `T x N`
once it shows a train bar before its end (a redirected stdout keeps every redraw). The
validation bar's last draw gives the epoch's time again, train plus validation; the final
validation of `best.pt` after the last epoch is not training. The loss is the sum of the
printed losses (box, cls, dfl...), as Ultralytics sums them to train.
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress, TrainingEnd
from bot.core.parsers import errors
from bot.core.parsers.bars import find_bars
from bot.core.parsers.base import FeedMany, clean, clock_seconds, to_float

NAME = "ultralytics"

_TRAIN = re.compile(r"^(\d+)/(\d+)\s+[\d.]+[KMGT]?\s+((?:[-\d.e+naif]+\s+)+)\d+:\s*\d+%")
_VAL = re.compile(r"^(?:Class|classes)\s.*(?:mAP50|top1_acc)")
# The Ultralytics TQDM bar, after the percentage.
_NEW_BAR = re.compile(r"\d+% [━─╸]+ (\d+)/(\d+)\s+(?:\S+/s\s+)?(\d[\d:.]*)s?(?:<\d[\d:.]*s?)?")
_DONE = re.compile(r"^\d+ epochs? completed in [\d.]+ hours\.")


def score(line: str) -> int:
    """10: an epoch's train bar or a validation bar; 0: anything else."""
    if "%" in line and line[:1].isdigit() and _TRAIN.match(line) and _bar(line) is not None:
        return 10
    return 0


def _bar(line: str) -> tuple[int, int, float | None] | None:
    """(n, total, elapsed seconds) of the bar drawn in `line`."""
    match = _NEW_BAR.search(line)
    if match is not None:
        return int(match.group(1)), int(match.group(2)), _seconds(match.group(3))
    bars = find_bars(line) if "%|" in line else ()
    if not bars:
        return None
    return bars[-1].n, bars[-1].total, bars[-1].elapsed_s


def _seconds(text: str) -> float | None:
    return clock_seconds(text) if ":" in text else to_float(text)


class UltralyticsParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._epochs = 0
        self._steps = 0
        self._offset_s = 0.0  # train and validation seconds of the finished epochs
        self._train_s = 0.0  # the current epoch's train bar elapsed
        self._val_s: float | None = None  # the current epoch's validation, once done
        self._by_step = False
        self._loss: float | None = None

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if "%" in line:
            if line[:1].isdigit():
                events = self._train(line)
            elif _VAL.match(line):
                events = self._val(line)
        elif line[:1].isdigit() and _DONE.match(line):
            events = [TrainingEnd(reason="completed")]
        return errors.with_errors(events, line)

    def _train(self, line: str) -> list[Event]:
        match = _TRAIN.match(line)
        bar = _bar(line) if match is not None else None
        if match is None or bar is None:
            return []
        epoch, epochs = int(match.group(1)), int(match.group(2))
        n, steps, elapsed = bar
        if epoch != self._epoch:
            self._new_epoch(epoch)
        self._epochs, self._steps = epochs, steps
        self._by_step = self._by_step or n < steps
        self._train_s = max(self._train_s, elapsed or 0.0)
        self._loss = _loss_sum(match.group(3))
        return [self._progress(n)]

    def _new_epoch(self, epoch: int) -> None:
        if self._epoch is not None and epoch < self._epoch:
            self._offset_s = 0.0  # a new launch: its clock starts again
        else:
            self._offset_s += self._train_s + (self._val_s or 0.0)
        self._epoch, self._train_s, self._val_s = epoch, 0.0, None

    def _val(self, line: str) -> list[Event]:
        bar = _bar(line)
        if self._epoch is None or self._val_s is not None or bar is None:
            return []
        n, total, elapsed = bar
        if n < total:
            return []
        self._val_s = elapsed or 0.0
        return [self._progress(self._steps)]

    def _progress(self, n: int) -> Progress:
        assert self._epoch is not None
        if self._by_step:
            it, total = (self._epoch - 1) * self._steps + n, self._epochs * self._steps
        else:
            it, total = self._epoch, self._epochs
        return Progress(
            it,
            total=total,
            loss=self._loss,
            elapsed_s=self._offset_s + self._train_s + (self._val_s or 0.0),
            epoch=self._epoch - 1 + n / self._steps if self._steps else None,
            per_epoch=(self._steps or None) if self._by_step else 1,
        )


def _loss_sum(columns: str) -> float | None:
    """The losses: the columns between GPU_mem and Instances (`columns` ends with it)."""
    values = [to_float(v) for v in columns.split()[:-1]]
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)
