"""Fallbacks: JSON-lines metrics and plain `step ... loss ...` lines, with or without a
Python `logging` timestamp.

As in real logs (the first two from a run of the corpus; `\\` marks a line wrapped here):

    2024-11-03 10:47:25,085 - INFO - Epoch 1, Global Batch 25, Training Loss: 8.1474, \
        Validation Loss: 14.7734, Validation Accuracy: 0.00%
    2024-11-03 10:46:40,816 - INFO - Checkpoint saved to checkpoints/checkpoint.pth
    Epoch 3, Batch 120/500, loss=0.4123
    step 1200 loss nan
    Train Loss: 1.824415, Acc: 34.808889%
    Val Loss: 1.776897, Acc: 38.440000%
    {"step": 100, "loss": 2.31, "val_loss": 2.40, "epoch": 0.5}

- The counter is a global step/iteration/batch when the line has one (`step`, `iter`,
  `global_step`, `Global Batch`). `Epoch N, Batch M` without a global counter is made global
  by adding the batches of the previous epochs (the last batch number seen in each).
- A leading timestamp becomes `timestamp_s` (naive times read as UTC, no clock read).
- A validation value on a counter line gives an `Eval` for that counter (besides the
  `Progress`); a validation line without a counter gives an `Eval` for the last counter seen,
  with the `Train Loss` of a preceding counter-less line, if any.
- `nan`/`inf` losses are floats (`float("nan")`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from bot.core.events import Checkpoint, Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, number, timestamp_seconds, to_float, to_int

NAME = "generic"

_NUM = r"([-+]?(?:nan|inf|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
_SEP = r"\s*(?:[:=]\s*)?"  # not `\s*[:=]?\s*`: two runs of spaces made long lines crawl
_GLOBAL = re.compile(
    r"(?i)\b(?:global[ _]?(?:step|batch|iter(?:ation)?)|step|iter(?:ation)?)"
    + _SEP
    + r"(\d+)(?:\s*/\s*(\d+))?"
)
_EPOCH = re.compile(r"(?i)\bepoch" + _SEP + r"(\d+)(?:\s*/\s*(\d+))?")
_BATCH = re.compile(r"(?i)\bbatch" + _SEP + r"(\d+)(?:\s*/\s*(\d+))?")
_VAL = re.compile(r"(?i)\b(?:val(?:idation)?|eval)[ _]?loss" + _SEP + _NUM)
_TRAIN = re.compile(
    r"(?i)(?<![\w/])(?<!val )(?<!validation )(?<!eval )(?<!test )(?:train(?:ing)?[ _])?loss"
    + _SEP
    + _NUM
)
_CHECKPOINT = re.compile(
    r"(?i)(?:sav(?:ed?|ing) (?:model )?checkpoint|checkpoint saved)(?: to)?\s*(\S*)"
)
_JSON_STEP = (
    "step",
    "global_step",
    "iter",
    "iteration",
    "_step",
    "current_step",
    "train/global_step",
)
_JSON_LOSS = ("loss", "train_loss", "training_loss", "train/loss")
_JSON_VAL = ("val_loss", "eval_loss", "validation_loss", "val/loss", "eval/loss")
_HINTS = ("oss", "poch", "tep", "ter", "atch", "{", "heckpoint")


# The tqdm format's scorer asks about the same line right after this one.
@lru_cache(maxsize=4)
def score(line: str) -> int:
    """10 for a timestamped or JSON metrics line with a counter and a loss, 3 for a plain one,
    1 for a validation line without counter."""
    if line.startswith("{"):
        return 10 if _json_metrics(line) else 0
    if "oss" not in line:
        return 0
    low = _lowered(line)
    may_val = low is None or "val" in low
    if _counter_in(line, low) and (_TRAIN.search(line) or (may_val and _VAL.search(line))):
        return 10 if timestamp_seconds(line[:40]) is not None else 3
    return 1 if may_val and _VAL.search(line) else 0


class GenericParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self.last_iter: int | None = None  # a caller that counts steps itself may set it
        self._epoch: int | None = None
        self._epoch_offset = 0
        self._last_batch = 0
        self._train_loss: float | None = None

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if any(hint in line for hint in _HINTS):
            events = self._json(line) if line.startswith("{") else self._plain(line)
        return errors.with_errors(events, line)

    def _plain(self, line: str) -> list[Event]:
        if "heckpoint" in line and (match := _CHECKPOINT.search(line)):
            stamp = timestamp_seconds(line[:40])
            return [Checkpoint(self.last_iter, path=match.group(1) or None, timestamp_s=stamp)]
        if "oss" not in line:
            return []
        train, val = _TRAIN.search(line), _VAL.search(line)
        if train is None and val is None:
            return []
        counter = self._counter(line)
        train_loss = None if train is None else to_float(train.group(1))
        val_loss = None if val is None else to_float(val.group(1))
        stamp = timestamp_seconds(line[:40])
        if counter is None:
            if val_loss is None:
                self._train_loss = train_loss
                return []
            train_loss, self._train_loss = train_loss or self._train_loss, None
            return [
                Eval(self.last_iter, train_loss=train_loss, val_loss=val_loss, timestamp_s=stamp)
            ]
        step, total, epoch = counter
        self.last_iter = step
        events: list[Event] = []
        if train_loss is not None:
            events.append(
                Progress(step, total=total, loss=train_loss, timestamp_s=stamp, epoch=epoch)
            )
        if val_loss is not None:
            events.append(Eval(step, train_loss=train_loss, val_loss=val_loss, timestamp_s=stamp))
        return events

    def _counter(self, line: str) -> tuple[int, int | None, float | None] | None:
        """(global step, total if printed, epoch) of a line, or None."""
        epoch_match = _EPOCH.search(line)
        epoch = None if epoch_match is None else float(epoch_match.group(1))
        if match := _GLOBAL.search(line):
            return int(match.group(1)), _total(match.group(2)), epoch
        batch = _BATCH.search(line)
        if batch is None or epoch_match is None:
            return None
        epoch_index, batch_n = int(epoch_match.group(1)), int(batch.group(1))
        if self._epoch is not None and epoch_index > self._epoch:
            self._epoch_offset += self._last_batch
        elif self._epoch is not None and epoch_index < self._epoch:  # a new run from scratch
            self._epoch_offset = 0
        self._epoch, self._last_batch = epoch_index, batch_n
        return self._epoch_offset + batch_n, None, epoch

    def _json(self, line: str) -> list[Event]:
        metrics = _json_metrics(line)
        if metrics is None:
            return []
        step, loss, val_loss, epoch, stamp = metrics
        self.last_iter = step
        events: list[Event] = []
        if loss is not None:
            events.append(Progress(step, loss=loss, epoch=epoch, timestamp_s=stamp))
        if val_loss is not None:
            events.append(Eval(step, val_loss=val_loss, timestamp_s=stamp))
        return events


def _counter_in(line: str, low: str | None) -> bool:
    if low is not None and not ("step" in low or "iter" in low or "batch" in low):
        return False  # what both ways of counting need
    return bool(_GLOBAL.search(line) or (_EPOCH.search(line) and _BATCH.search(line)))


def _lowered(line: str) -> str | None:
    """`line` in lower case, where a word the (?i) patterns need must appear (`in` tests are
    much faster than a case-blind search); None when such a test could miss a match: (?i) also
    matches `İ` and `ı` to `i` and `ſ` to `s`, which lower() does not fold."""
    if line.isascii() or not ("İ" in line or "ı" in line or "ſ" in line):
        return line.lower()
    return None


def _total(text: str | None) -> int | None:
    return None if text is None else to_int(text)


def _json_metrics(
    line: str,
) -> tuple[int, float | None, float | None, float | None, float | None] | None:
    """(step, loss, val loss, epoch, timestamp) of a JSON metrics object, or None."""
    if not line.endswith("}"):
        return None
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict):
        return None
    step = next((entry[k] for k in _JSON_STEP if isinstance(entry.get(k), int)), None)
    loss = next((number(entry[k]) for k in _JSON_LOSS if k in entry), None)
    val_loss = next((number(entry[k]) for k in _JSON_VAL if k in entry), None)
    if step is None or (loss is None and val_loss is None):
        return None
    stamp = number(entry.get("timestamp"))
    return (
        step,
        loss,
        val_loss,
        number(entry.get("epoch")),
        stamp if stamp and stamp > 1e9 else None,
    )
