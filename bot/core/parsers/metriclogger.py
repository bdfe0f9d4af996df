"""`MetricLogger.log_every` (DINO, DETR, DeiT, MAE, LAVIS/BLIP, torchvision's references).

The line is `{header}  [{i}/{N}]  eta: {eta}  {meters}  time: {time}  data: {data}  max mem: M`,
then `{header} Total time: {h:mm:ss} ({x} s / it)` after the loop. As in real runs (`\\` marks a
line wrapped here):

    I20250724 11:33:30 1 unic helpers.py:163] Training - Epoch: [1/200]  [ 920/4214]  \
        eta: 0:45:54    time: 0.828172  data: 0.001407  max mem: 18934
    I20250724 10:58:49 1 unic helpers.py:201] Training - Epoch: [0/200] Total time: 0:57:58 \
        (0.825509 s / it)
    Train: data epoch: [5]  [   0/3511]  eta: 9:34:36  lr: 0.000015  loss: 0.7840  \
        time: 9.8197  data: 0.0001  max mem: 27469
    Evaluation  [ 10/251]  eta: 0:16:06    time: 4.0097  data: 0.4168  max mem: 27466
    Epoch: [0]  [   0/5005]  eta: 6:50:42  lr: 0.1  loss: 7.0133 (7.0133)  time: 4.9165 (4.9165) \
        data: 3.1044 (3.1044)  max mem: 7890
    Run config :  {'task': 'videoqa', 'max_epoch': 10, 'batch_size_train': 1, ...}

- A loop whose header says test, eval or val is an evaluation: not progress, but its time
  counts. In a training loop the iteration is the global step `epoch x N + i` (the epoch is the
  first `[e]` or `[e/E]` of the header, counted from 0); the total is `E x N` when the header
  says `[e/E]`, or the run config's `'max_epoch'` / `epochs=` x N.
- Clock: a glog (`I0724 ...`, `I20250724 ...`) or Python logging stamp when the line has one.
  Otherwise the log's own sums: each finished loop adds its `Total time` (x s / it x N, finer
  than h:mm:ss); inside a loop the time so far is `(i + 1) x` the global average `time` when it is
  printed (`time: 4.9 (4.9)`); when only the windowed average is (`time: 0.82`), the windowed
  averages are summed and kept inside what `eta` allows: `eta` is the global average x (N - i),
  floored to the second, so the time so far lies in [eta, eta + 1) x (i + 1) / (N - i).
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

NAME = "metriclogger"

# mmengine's `Epoch(val) [1][ 50/335]    eta: ...` has the same shape: its `(mode)` tells it apart.
_LINE = re.compile(
    r"^((?:(?!\((?:train|val|test)\)).)*?)\s*\[\s*(\d+)/(\d+)\]\s+eta: ((?:\d+ days?, )?[\d:]+)\s"
)
_EPOCH = re.compile(r"\[(\d+)(?:/(\d+))?\]")
_EVAL = re.compile(r"(?i)\b(?:test|eval\w*|val\w*)\b")
_TIME = re.compile(r"\stime: ([\d.]+)(?: \(([\d.]+)\))?")
_LOSS = re.compile(r"\bloss: (\S+)")
_TOTAL = re.compile(r"Total time: ((?:\d+ days?, )?[\d:]+)(?: \(([\d.]+) s / it\))?")
_MAX_EPOCHS = re.compile(r"'max_epoch': (\d+)|\bepochs=(\d+)")


def score(line: str) -> int:
    """10 for a `log_every` line or a `Total time` line, 0 otherwise."""
    if "eta: " in line:
        return 10 if _LINE.match(line) else 0
    return 10 if "Total time: " in line and _TOTAL.search(line) else 0


class MetricLoggerParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._stamps = YearlessClock()
        self._done_s = 0.0  # the finished loops' time
        self._loop_s = 0.0  # the current loop's time so far
        self._loop_i: int | None = None
        self._loop_n = 0
        self._max_epochs: int | None = None
        self._total: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "eta: " in line:
            events = self._progress(line)
        elif "Total time: " in line:
            self._loop_done(line)
        elif ("max_epoch" in line or "epochs=" in line) and (match := _MAX_EPOCHS.search(line)):
            self._max_epochs = int(match.group(1) or match.group(2))
        return errors.with_errors(events, line)

    def _progress(self, line: str) -> list[Event]:
        match = _LINE.match(line)
        if match is None:
            return []
        header, i, n = match.group(1), int(match.group(2)), int(match.group(3))
        self._advance(line, i, n, match.group(4))
        if _EVAL.search(header):
            return []
        epoch_match = _EPOCH.search(header)
        epoch = 0 if epoch_match is None else int(epoch_match.group(1))
        events: list[Event] = []
        epochs = self._max_epochs
        if epoch_match is not None and epoch_match.group(2):
            epochs = int(epoch_match.group(2))
        if epochs and epochs * n != self._total:
            self._total = epochs * n
            events.append(RunConfig({"max_iters": self._total}))
        loss = _LOSS.search(line, match.end())
        stamp = self._stamp(header)
        events.append(
            Progress(
                epoch * n + i,
                loss=None if loss is None else to_float(loss.group(1)),
                elapsed_s=None if stamp is not None else self._done_s + self._loop_s,
                timestamp_s=stamp,
                epoch=epoch + i / n if n else None,
            )
        )
        return events

    def _stamp(self, header: str) -> float | None:
        if header[:1] in "IWEF" and header[1:2].isdigit():
            return self._stamps.read_glog(header)
        return timestamp_seconds(header[:40]) if header[:1].isdigit() else None

    def _advance(self, line: str, i: int, n: int, eta: str) -> None:
        """The current loop's time so far, as of iteration `i` of `n`."""
        time = _TIME.search(line)
        if time is None:
            return
        if self._loop_i is not None and i <= self._loop_i:  # a loop ended without `Total time`
            self._done_s += self._loop_s
            self._loop_i = None
        if time.group(2) is not None:  # the global average is printed
            self._loop_s = (i + 1) * float(time.group(2))
        else:
            window = float(time.group(1))
            if self._loop_i is None:
                self._loop_s = (i + 1) * window
            else:
                self._loop_s += (i - self._loop_i) * window
            eta_s = clock_seconds(eta)
            if eta_s is not None and n > i:
                low = eta_s * (i + 1) / (n - i)
                self._loop_s = min(max(self._loop_s, low), low + (i + 1) / (n - i))
        self._loop_i, self._loop_n = i, n

    def _loop_done(self, line: str) -> None:
        match = _TOTAL.search(line)
        if match is None:
            return
        per_iter = match.group(2)
        if per_iter is not None and self._loop_n:
            self._done_s += float(per_iter) * self._loop_n
        else:
            self._done_s += clock_seconds(match.group(1)) or self._loop_s
        self._loop_s, self._loop_i = 0.0, None
