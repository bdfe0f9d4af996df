"""modded-nanogpt (KellerJordan/modded-nanogpt) logs.

The log starts with the training script's own source code, then a `=====` separator, the
versions and `nvidia-smi`, another separator, then the step lines, as in real runs:

    import os
    import sys
    with open(sys.argv[0]) as f:
    ====================================================================================================
    step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms
    step:1/1393 train_time:17608ms step_avg:nanms
    step:6200/6200 train_loss:3.2533 train_time:1339065ms step_avg:216.33ms
    step:1/3325 train_time:178.564s step_avg:178564.12ms

`train_time` is the run's cumulative training clock (it excludes the evals: the trainer stops
it while validating), given in ms or in s; it becomes `elapsed_s`. A log that begins like
Python source is code until its first separator (or its first step line): nothing in the code
is an event, not even a `raise ValueError(...)` or a `Traceback` in a string.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, to_float

NAME = "modded"

_STEP = re.compile(
    r"^step:(\d+)/(\d+) (?:(train_loss|val_loss):(\S+) )?train_time:(\d+(?:\.\d+)?)(ms|s)\b"
)
_CODE_START = ("import ", "from ", '"""', "#", "with open(sys.argv[0]")
_SEPARATOR = "=" * 20


def score(line: str) -> int:
    """10 for a step line or the code-logging idiom modded-nanogpt starts with, else 0."""
    if line.startswith("step:") and _STEP.match(line):
        return 10
    if line.startswith("with open(sys.argv[0]"):
        return 10
    return 0


class ModdedParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._started = False
        self._in_code = False

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        if not self._started:
            if not line:
                return []
            self._started = True
            self._in_code = line.startswith(_CODE_START) or line.startswith(_SEPARATOR)
            if self._in_code:
                return []
        if line.startswith("step:"):
            self._in_code = False
            return errors.with_errors(_step(line), line)
        if self._in_code:
            self._in_code = not line.startswith(_SEPARATOR)
            return []
        return errors.with_errors([], line)


def _step(line: str) -> list[Event]:
    match = _STEP.match(line)
    if match is None:
        return []
    step, total, kind, loss, clock, unit = match.groups()
    elapsed_s = float(clock) / 1000 if unit == "ms" else float(clock)
    value = None if loss is None else to_float(loss)
    if kind == "val_loss":
        return [Eval(int(step), val_loss=value, elapsed_s=elapsed_s)]
    return [Progress(int(step), total=int(total), loss=value, elapsed_s=elapsed_s)]
