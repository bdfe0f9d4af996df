"""torchtitan's `train.py` (MetricsProcessor.log) lines.

As in real runs (colours stripped; `\\` marks a line wrapped here):

    [rank0]:[titan] 2026-05-08 09:00:48,844 - root - INFO - Trainer is initialized with local \
        batch size 3, global batch size 96, gradient accumulation steps 4, sequence length \
        2048, total steps 12500 (warmup 500)
    [rank0]:[titan] 2026-05-08 09:00:51,258 - root - INFO - Training starts at step 8001
    [rank0]:[titan] 2026-05-08 14:44:51,345 - root - INFO - step: 10260  loss:  3.01392  \
        grad_norm:  0.0128  memory: 24.09GiB(76.81%)  tps: 2,792  tflops: 21.15  mfu: 6.78%
    [rank0]:[titan] 2026-05-08 14:50:00,000 - root - INFO - validate step: 10500  \
        loss:  2.9876  memory: 24.09GiB(76.81%)  tps: 9,120

- The iteration is `step`, at the time stamped on the line; `total steps N` gives the total
  (older versions print it in `Training starts at step 1, with local batch size ...`).
- `validate step` is an `Eval`. `tps` is tokens per second.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, strip_launcher, timestamp_seconds, to_float

NAME = "torchtitan"

_STEP = re.compile(r"(?:^|\s)(validate )?step:\s*(\d+)\s+loss:\s*(\S+)(?:.*?\btps: ([\d,]+))?")
_TOTAL = re.compile(r"\btotal steps (\d+)")


def score(line: str) -> int:
    """10 for a step line with torchtitan's `memory:` field, the `total steps` line of its
    trainer's start-up or its `Training starts at step` line; 0 otherwise."""
    if "step:" in line:
        return 10 if "memory:" in line and _STEP.search(line) else 0
    if "step" not in line:
        return 0
    started = "Training starts at step" in line
    return 10 if started or ("batch size" in line and _TOTAL.search(line)) else 0


class TorchtitanParser(FeedMany):
    name = NAME

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "step:" in line:
            events = self._step(line)
        elif "total steps" in line and (match := _TOTAL.search(line)):
            events = [RunConfig({"max_iters": int(match.group(1))})]
        return errors.with_errors(events, line)

    def _step(self, line: str) -> list[Event]:
        match = _STEP.search(line)
        if match is None:
            return []
        validate, step, loss, tps = match.groups()
        stamp = timestamp_seconds(line[: match.start()])
        if validate:
            return [Eval(int(step), val_loss=to_float(loss), timestamp_s=stamp)]
        return [
            Progress(
                int(step),
                loss=to_float(loss),
                timestamp_s=stamp,
                tokens_per_s=float(tps.replace(",", "")) if tps else None,
            )
        ]
