"""Megatron-LM's `training_log` line, as Megatron-LM, Megatron-DeepSpeed and GPT-NeoX print it.

As in real runs (`\\` marks a line wrapped here; srun's ` 55: ` label is dropped first):

    55:  [2026-05-22 02:28:22.911294] iteration    14775/   15550 | consumed samples: \
        4964400 | elapsed time per iteration (ms): 1335.8 | throughput per GPU (TFLOP/s/GPU): \
        332.1 | learning rate: 4.289800E-05 | global batch size:   336 | lm loss: 2.396001E+00 \
        | loss scale: 1.0 | grad norm: 0.127 | number of skipped iterations:   0 | ...
     samples/sec: 6.090 | iteration      140/   11000 | elapsed time per iteration (ms): 164.2 \
        | learning rate: 2.999E-04 | approx flops per GPU: 19.6TFLOPS | lm_loss: 7.538007E+00 | ...
      train_iters ..................................... 15550
     validation loss at iteration 1000 | lm loss value: 2.345E+00 | lm loss PPL: 1.043E+01 |
     validation results at iteration 1000 | lm_loss value: 2.345E+00 | lm_loss_ppl value: ...
    [2026-05-22 02:45:40.247710] saving checkpoint at iteration   15549 to /ckpt in torch_dist

- The iteration line gives the iteration and the total (`N/ M`) and the loss (`lm loss`,
  GPT-NeoX's `lm_loss`, else the first `... loss:` field).
- Clock: the line's own timestamp when it has one (recent Megatron-LM). Otherwise the run's
  cumulative time is the sum of `elapsed time per iteration (ms)` x the iterations since the
  previous line: that average covers exactly those iterations. A counter that goes back (a
  new launch) adds nothing for its first line; the sum never goes back.
- `number of nan iterations` is a count, not a loss.
"""

from __future__ import annotations

import re

from bot.core.events import Checkpoint, Eval, Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, strip_launcher, timestamp_seconds, to_float

NAME = "megatron"

_ITERATION = re.compile(
    r"\biteration\s+(\d+)/\s*(\d+) \|.*?elapsed time per iteration \(ms\): ([\d.]+)"
)
_LOSS = re.compile(r"\| lm[ _]loss: ([^\s|]+)|\| [\w ]*?loss: ([^\s|]+)")
_VALIDATION = re.compile(
    r"validation (?:loss|results) at iteration\s+(\d+).*?\| lm[ _]loss value: ([^\s|]+)"
)
_TRAIN_ITERS = re.compile(r"^train_iters \.+ (\d+)")
_SAVING = re.compile(r"saving checkpoint at iteration\s+(\d+) to (\S+)")


def score(line: str) -> int:
    """10 for an iteration line, 0 otherwise."""
    if "iteration" not in line:
        return 0
    return 10 if _ITERATION.search(line) else 0


class MegatronParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._last_iter: int | None = None
        self._elapsed_s = 0.0

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        event: Event | None = None
        if "iteration" in line:
            event = self._iteration(line)
        elif line.startswith("train_iters") and (match := _TRAIN_ITERS.match(line)):
            event = RunConfig({"max_iters": int(match.group(1))})
        return errors.with_errors([] if event is None else [event], line)

    def _iteration(self, line: str) -> Event | None:
        match = _ITERATION.search(line)
        if match is not None:
            return self._progress(line, match)
        if match := _VALIDATION.search(line):
            return Eval(int(match.group(1)), val_loss=to_float(match.group(2)))
        if match := _SAVING.search(line):
            return Checkpoint(int(match.group(1)), path=match.group(2))
        return None

    def _progress(self, line: str, match: re.Match[str]) -> Progress:
        step, total, per_iter_ms = int(match.group(1)), int(match.group(2)), float(match.group(3))
        if self._last_iter is not None and step > self._last_iter:
            self._elapsed_s += per_iter_ms / 1000 * (step - self._last_iter)
        self._last_iter = step
        loss = _LOSS.search(line, match.end())
        stamp = timestamp_seconds(line[: match.start()]) if match.start() else None
        return Progress(
            step,
            total=total,
            loss=None if loss is None else to_float(loss.group(1) or loss.group(2)),
            elapsed_s=None if stamp is not None else self._elapsed_s,
            timestamp_s=stamp,
        )
