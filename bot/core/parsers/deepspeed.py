"""DeepSpeed's engine lines (any script on `deepspeed.initialize`) and DeepSpeed-Chat's banners.

As in real runs (DeepSpeedExamples' DeepSpeed-Chat step 1; `\\` marks a line wrapped here):

    cmd = deepspeed main.py --data_path Dahoas/rm-static --num_train_epochs 16 \
        --gradient_accumulation_steps 1 --zero_stage 2 --deepspeed --output_dir ./output
    Beginning of Epoch 1/16, Total Micro Batches 460
    [2023-04-18 01:46:59,142] [INFO] [logging.py:96:log_dist] [Rank 0] step=10, skipped=6, \
        lr=[9.649992967150629e-06, 9.649992967150629e-06], mom=[(0.9, 0.95), (0.9, 0.95)]
    [2023-04-18 01:46:59,171] [INFO] [timer.py:199:stop] epoch=0/micro_step=10/global_step=10, \
        RunningAvgSamplesPerSec=173.44, CurrSamplesPerSec=171.97, MemAllocated=3.96GB, \
        MaxMemAllocated=22.95GB
    [2023-06-09 05:24:38,201] [INFO] [config.py:964:print]   gradient_accumulation_steps .. 1

- The engine's `log_dist` line `step=N` (every `steps_per_print` optimizer steps) is the
  progress, at the time stamped on it. The throughput timer's `global_step=N` line says the
  same step: whichever of the two comes first for a step is its progress.
- `Beginning of Epoch e/E, Total Micro Batches M` (DeepSpeed-Chat) gives the total: E x M micro
  batches, divided by the gradient accumulation steps (from `--gradient_accumulation_steps` on
  the command line or the engine's config print; 1 when neither is seen).
- Lines may carry a launcher prefix (pdsh `worker-0: `, srun ` 3: `): the patterns are searched.
- DeepSpeed's lines also appear under other trainers (HF Trainer, Megatron-DeepSpeed): the
  registry lets them take over only from the generic fallback.
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, timestamp_seconds

NAME = "deepspeed"

_STEP = re.compile(r"\[Rank \d+\] step=(\d+), skipped=\d+")
_TIMER = re.compile(r"\bepoch=\d+/micro_step=\d+/global_step=(\d+),")
_EPOCHS = re.compile(r"Beginning of Epoch (\d+)/(\d+), Total Micro Batches (\d+)")
_ACCUMULATION = re.compile(
    r"(?:--gradient_accumulation_steps[ =]|gradient_accumulation_steps \.+ )(\d+)"
)


def score(line: str) -> int:
    """10 for the engine's step line, 3 for its timer line and DeepSpeed-Chat's epoch banner."""
    if "step=" not in line and "Total Micro" not in line:
        return 0
    if _STEP.search(line):
        return 10
    return 3 if _TIMER.search(line) or _EPOCHS.search(line) else 0


class DeepSpeedParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._last_step: int | None = None
        self._accumulation = 1

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if "step=" in line:
            events = self._step(line)
        elif "Total Micro" in line:
            events = self._epochs(line)
        elif "gradient_accumulation_steps" in line and (match := _ACCUMULATION.search(line)):
            self._accumulation = max(1, int(match.group(1)))
        return errors.with_errors(events, line)

    def _step(self, line: str) -> list[Event]:
        match = _STEP.search(line) or _TIMER.search(line)
        if match is None or int(match.group(1)) == self._last_step:
            return []
        self._last_step = int(match.group(1))
        stamp = timestamp_seconds(line[: match.start()])
        return [Progress(self._last_step, timestamp_s=stamp)]

    def _epochs(self, line: str) -> list[Event]:
        match = _EPOCHS.search(line)
        if match is None:
            return []
        micro_batches = int(match.group(2)) * int(match.group(3))
        return [RunConfig({"max_iters": micro_batches // self._accumulation})]
