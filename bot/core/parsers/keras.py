"""Keras `fit()` output (`keras.utils.Progbar`), Keras 1/2 and Keras 3.

As Progbar prints them (ANSI colours stripped):

    Epoch 1/40
     12/127 [==>...........................] - ETA: 3s - loss: 0.2349
    127/127 [==============================] - 7s - loss: 0.2349 - val_loss: 0.1870
     49/49 [==============================] - 12s 240ms/step - loss: 0.41 - val_loss: 0.52
    Epoch 1/60
     12/49 ━━━━━━━━━━━━━━━━━━━━ 11s 245ms/step - accuracy: 0.1989 - loss: 1.6479
     49/49 ━━━━━━━━━━━━━━━━━━━━ 0s 236ms/step - accuracy: 0.2267 - loss: 1.6334
     49/49 ━━━━━━━━━━━━━━━━━━━━ 14s 255ms/step - accuracy: 0.2196 - loss: 1.6121 - val_loss: 1.6042
    49/49 - 12s - 240ms/step - loss: 0.41 - val_loss: 0.52

(the last one is `verbose=2`). Keras 1/2 print `ETA: ...` while an epoch runs and the epoch's
elapsed seconds when it ends. Keras 3 prints one field for both: the ETA while `n < N`, and at
`n = N` first the ETA (`0s`) and then, on the final line, the elapsed seconds.

The clock is the finished epochs' seconds plus the time inside the current epoch: `n` x the
printed time per step (Keras 3, Keras 2 at the end of an epoch), or the elapsed time implied by
Keras 2's ETA (`ETA = time per step x steps left`). The iteration is the global step `(E - 1) x
N + n` of `T x N`; a log that shows only each epoch's final line (a non-interactive Keras 1/2
run, which prints nothing while an epoch runs) counts epochs: `E` of `T`. Bars with another
total after an epoch's last line (`evaluate()`) are not training; a bar before any `Epoch` line
(read before the format was known) starts epoch 1 of an unknown number of epochs.

The `loss` printed inside an epoch is the running mean since the epoch began, as noisy as one
batch over its first steps: the loss reported is the epoch's, on its last line (a `nan`/`inf`
inside the epoch is reported at once). `val_loss` on an epoch's last line is an `Eval` there.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, clock_seconds, to_float

NAME = "keras"

_EPOCH = re.compile(r"^Epoch (\d+)/(\d+)$")
# Each run of spaces belongs to one part of the pattern only: a long run cannot make it crawl.
_BAR = re.compile(
    r"^(\d+)/(\d+)(?: \[[=>.]*\]| [━=>.]+)? +(?:- +)?(ETA: )?(\d[\d:]*s?)"
    r"(?: +(?:- +)?(\d+)(ms|us|s)/\w+)?(.*)$"
)
_METRIC = re.compile(r" - (\w+): ([-+.\w]+)")
_UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def score(line: str) -> int:
    """10: a Progbar line with a bar and a time; 2: `Epoch E/T`; 0: anything else."""
    if line[:1].isdigit() and "/" in line and (" - " in line or "/step" in line):
        match = _BAR.match(line)
        if match is not None and (match.group(5) or (_has_bar(line) and " - loss" in line)):
            return 10
    return 2 if line.startswith("Epoch ") and _EPOCH.match(line) else 0


def _has_bar(line: str) -> bool:
    return "[" in line or "━" in line or "==" in line


@dataclass(slots=True)
class _Line:
    n: int
    total: int
    eta: bool  # the time field is an ETA (Keras 2 `ETA:`)
    seconds: float | None
    step_s: float | None
    metrics: dict[str, str]


class KerasParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._epochs = 0
        self._steps: int | None = None  # the epoch's N, once a bar of it is seen
        self._ended = False  # the epoch's last line was seen
        self._offset_s = 0.0  # seconds of the finished epochs
        self._epoch_s = 0.0  # seconds inside the current epoch so far
        self._by_step = False  # the log shows lines inside epochs

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if line.startswith("Epoch "):
            match = _EPOCH.match(line)
            if match is not None:
                self._new_epoch(int(match.group(1)), int(match.group(2)))
        elif line[:1].isdigit():
            bar = _parse(line)
            if bar is not None:
                events = self._bar(bar)
        return errors.with_errors(events, line)

    def _new_epoch(self, epoch: int, epochs: int) -> None:
        if self._epoch is not None and epoch < self._epoch:
            self._offset_s = 0.0  # a new fit(): its clock starts again
        else:
            self._offset_s += self._epoch_s
        self._epoch, self._epochs, self._epoch_s = epoch, epochs, 0.0
        self._steps, self._ended = None, False

    def _bar(self, bar: _Line) -> list[Event]:
        if self._ended and bar.total != self._steps:
            return []  # evaluate() after the epoch
        if self._epoch is None:
            self._new_epoch(1, 0)  # its `Epoch 1/T` line was not read: T is not known
        epoch = self._epoch or 1
        self._steps = bar.total
        self._by_step = self._by_step or bar.n < bar.total
        self._epoch_s = max(self._epoch_s, _epoch_seconds(bar))
        last = bar.n >= bar.total
        self._ended = self._ended or last
        if self._by_step:
            it, total = (epoch - 1) * bar.total + bar.n, self._epochs * bar.total
        else:
            it, total = epoch, self._epochs
        loss = to_float(bar.metrics["loss"]) if "loss" in bar.metrics else None
        if not last and loss is not None and math.isfinite(loss):
            loss = None  # a running mean since the epoch began: noisy over its first steps
        progress = Progress(
            it,
            total=total or None,
            loss=loss,
            elapsed_s=self._offset_s + self._epoch_s,
            remaining_s=bar.seconds if bar.eta else None,
            epoch=epoch - 1 + bar.n / bar.total if bar.total else None,
            per_epoch=(bar.total or None) if self._by_step else 1,
        )
        val = bar.metrics.get("val_loss")
        if not last or val is None:
            return [progress]
        return [progress, Eval(it, train_loss=loss, val_loss=to_float(val))]


def _parse(line: str) -> _Line | None:
    match = _BAR.match(line)
    if match is None:
        return None
    n, total, eta, seconds, step, unit, rest = match.groups()
    if int(total) <= 0 or (step is None and not _has_bar(line) and " - " not in rest):
        return None
    return _Line(
        n=int(n),
        total=int(total),
        eta=bool(eta) or int(n) < int(total),
        seconds=_seconds(seconds),
        step_s=None if step is None else int(step) * _UNIT_S[unit],
        metrics=dict(_METRIC.findall(rest)),
    )


def _seconds(text: str) -> float | None:
    """`14s`, `1:06`, `1:02:03` -> seconds."""
    if text.endswith("s"):
        return to_float(text[:-1])
    return clock_seconds(text)


def _epoch_seconds(bar: _Line) -> float:
    """The seconds spent in the epoch up to this line, from what the line prints."""
    if not bar.eta and bar.seconds:  # the epoch's elapsed, on its last line
        return bar.seconds
    if bar.step_s is not None:
        return bar.n * bar.step_s
    if bar.seconds and bar.n < bar.total:  # Keras 2: only the ETA, time per step x steps left
        return bar.seconds * bar.n / (bar.total - bar.n)
    return 0.0
