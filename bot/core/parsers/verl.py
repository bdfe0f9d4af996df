"""verl's trainers (PPO/GRPO `RayPPOTrainer.fit`): the `Training Progress` bar and the metrics
line of each step.

As in real runs (Ray's `(TaskRunner pid=...)` prefix and colours are dropped first; `\\` marks a
line wrapped here):

    Training Progress:  62%|██████▏   | 268/435 [37:06<30:15, 10.87s/it]
    (TaskRunner pid=14640) step:101 - global_seqlen/min:3349.000 - actor/entropy_loss:0.035 \
        - critic/vf_loss:0.053 - actor/pg_loss:-0.012 - timing_s/step:11.376
    (TaskRunner pid=14640) Total training steps: 435

- The bar (`tqdm(total=total_training_steps, initial=global_steps, desc="Training Progress")`)
  is the progress and its elapsed time the clock; on a resume it starts at the resumed step
  with elapsed 00:00.
- Without any bar, each `step:N` line is the progress, with `timing_s/step` as its duration.
  The loss is `actor/pg_loss` (else `critic/vf_loss`), read from the step line in either case.
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.bars import find_bars
from bot.core.parsers.base import FeedMany, clean, strip_launcher, to_float

NAME = "verl"

_BAR_DESC = "Training Progress"
_STEP = re.compile(r"^step:(\d+) - ")
_FIELD = re.compile(r"(?:^| - )([\w/@.-]+):([-+\w.]+)")
_TOTAL = re.compile(r"^Total training steps: (\d+)")
_LOSS_KEYS = ("actor/pg_loss", "critic/vf_loss")


def score(line: str) -> int:
    """10 for the `Training Progress` bar or a step metrics line, 0 otherwise."""
    if _BAR_DESC in line and "%|" in line:
        return 10 if any(bar.desc == _BAR_DESC for bar in find_bars(line)) else 0
    if "step:" in line and " - " in line:
        return 10 if _STEP.match(strip_launcher(line)) else 0
    return 0


class VerlParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._bars = False  # a `Training Progress` bar was seen: it is the progress
        self._loss: float | None = None

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "%|" in line:
            events = self._bar(line)
        elif line.startswith("step:"):
            events = self._step(line)
        elif line.startswith("Total training steps") and (match := _TOTAL.match(line)):
            events = [RunConfig({"max_iters": int(match.group(1))})]
        return errors.with_errors(events, line)

    def _bar(self, line: str) -> list[Event]:
        events: list[Event] = []
        for bar in find_bars(line):
            if bar.desc == _BAR_DESC:
                self._bars = True
                events.append(
                    Progress(
                        bar.n,
                        total=bar.total,
                        loss=self._loss,
                        elapsed_s=bar.elapsed_s,
                        remaining_s=bar.remaining_s,
                    )
                )
        return events

    def _step(self, line: str) -> list[Event]:
        match = _STEP.match(line)
        if match is None:
            return []
        fields = dict(_FIELD.findall(line))
        self._loss = next((to_float(fields[k]) for k in _LOSS_KEYS if k in fields), None)
        if self._bars:
            return []  # the bar drawn after this line carries the step
        duration = fields.get("timing_s/step")
        return [
            Progress(
                int(match.group(1)),
                loss=self._loss,
                dt_s=None if duration is None else to_float(duration),
            )
        ]
