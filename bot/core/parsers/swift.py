"""ms-swift (`swift sft`, `swift rlhf`, `swift pt`) stdout: its `Train:` bar and its logging dicts.

ms-swift's trainer callback draws a `Train:` bar (`Val:` for evaluation) and prints each
logging step's dict with its own keys, values quoted in recent versions (elapsed and remaining
times through its `format_time`: `34s`, `1m 39s`, `2h 3m 4s`, `1d 2h 3m 4s`):

    Train:  11%|█         | 10/94 [00:20<02:52,  2.05s/it]
    {'loss': '1.56617603', 'grad_norm': '12.8125', 'learning_rate': '9.92e-06', \\
        'token_acc': '0.61519274', 'epoch': '0.11', 'global_step/max_steps': '10/94', \\
        'percentage': '10.64%', 'elapsed_time': '20s', 'remaining_time': '2m 52s', \\
        'memory(GiB)': '5.64', 'train_speed(iter/s)': '0.485796'}
    {'eval_loss': '1.4873', 'eval_token_acc': '0.6431', 'eval_runtime': '3.21', \\
        'epoch': '0.53', 'global_step/max_steps': '50/94', 'percentage': '53.19%', \\
        'elapsed_time': '1m 42s', 'remaining_time': '1m 29s'}
    {'train_runtime': '191.2', 'train_samples_per_second': '3.9', 'epoch': '1.0', \\
        'global_step/max_steps': '94/94', 'percentage': '100.00%', ...}

(`\\` marks a line wrapped here; older versions print the numbers unquoted). The bar's
redraws and the training dicts are `Progress` for `global_step` of `max_steps`, with the
bar's elapsed time or the dict's `elapsed_time` (the same clock, started with training); an
`eval_loss` dict is an `Eval`, `train_runtime` ends training.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress, TrainingEnd
from bot.core.parsers import errors
from bot.core.parsers.bars import find_bars
from bot.core.parsers.base import FeedMany, clean, to_float

NAME = "swift"

_KEY = "'global_step/max_steps'"
_ITEM = re.compile(r"'([^']+)': '?([^',}]*)'?")
_STEPS = re.compile(r"^(\d+)/(\d+)$")
_DURATION = re.compile(r"^(?:(\d+)d\s*)?(?:(\d+)h\s*)?(?:(\d+)m\s*)?(?:(\d+)s)?$")


def score(line: str) -> int:
    """10: a logging dict with `global_step/max_steps`; 0: anything else."""
    return 10 if line.startswith("{'") and _KEY in line else 0


def duration_seconds(text: str) -> float | None:
    """ms-swift's `format_time`: `1d 2h 3m 4s`, `3m 4s`, `4s` -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


class SwiftParser(FeedMany):
    name = NAME

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if line.startswith("{'") and _KEY in line:
            events = _dict(dict(_ITEM.findall(line)))
        elif "Train:" in line and "%|" in line:
            events = [
                Progress(
                    bar.n, total=bar.total, elapsed_s=bar.elapsed_s, remaining_s=bar.remaining_s
                )
                for bar in find_bars(line)
                if bar.desc == "Train"
            ]
        return errors.with_errors(events, line)


def _dict(values: dict[str, str]) -> list[Event]:
    steps = _STEPS.match(values.get("global_step/max_steps", ""))
    if steps is None:
        return []
    step, total = int(steps.group(1)), int(steps.group(2))
    if "train_runtime" in values:
        return [TrainingEnd(reason="completed")]
    if "eval_loss" in values:
        return [Eval(step, val_loss=to_float(values["eval_loss"]))]
    remaining = values.get("remaining_time")
    return [
        Progress(
            step,
            total=total,
            loss=to_float(values["loss"]) if "loss" in values else None,
            elapsed_s=duration_seconds(values.get("elapsed_time", "")),
            remaining_s=None if remaining is None else duration_seconds(remaining),
            epoch=to_float(values["epoch"]) if "epoch" in values else None,
        )
    ]
