"""LLaMA-Factory's `trainer_log.jsonl` (one JSON object per logging step).

As in real runs:

    {"current_steps": 10, "total_steps": 6566, "loss": 0.8548, "lr": 9.99e-06, "epoch": 0.0107,
     "percentage": 0.15, "elapsed_time": "0:02:12", "remaining_time": "1 day, 0:08:23"}
    {"current_steps": 500, "total_steps": 6750, "eval_loss": 1.6410622596740723, "epoch": 0.22,
     "percentage": 7.41, "elapsed_time": "0:29:27", "remaining_time": "6:08:08"}

(each object is on one line in the file). `elapsed_time` is the run's clock (`elapsed_s`),
`remaining_time` LLaMA-Factory's own ETA (elapsed / steps done x steps left).

Every line is reported as it says. Real files show two things the state downstream must
handle: a resumed run starts again at its checkpoint's step with `elapsed_time` back near 0
(steps 5220 -> 5010), and two writers (ranks) logging each step twice, out of order.
"""

from __future__ import annotations

import json

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, clock_seconds, number

NAME = "llamafactory"

_PREFIX = '{"current_steps"'


def score(line: str) -> int:
    return 10 if line.startswith(_PREFIX) else 0


class LlamaFactoryParser(FeedMany):
    name = NAME

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        if not line.startswith(_PREFIX):
            return errors.with_errors([], line)
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            return []
        return [] if not isinstance(entry, dict) else _events(entry)


def _events(entry: dict[str, object]) -> list[Event]:
    step = entry.get("current_steps")
    if not isinstance(step, int):
        return []
    elapsed_s = _clock(entry.get("elapsed_time"))
    events: list[Event] = []
    loss, val_loss = number(entry.get("loss")), number(entry.get("eval_loss"))
    if loss is not None or val_loss is None:
        total = entry.get("total_steps")
        events.append(
            Progress(
                step,
                total=total if isinstance(total, int) else None,
                loss=loss,
                elapsed_s=elapsed_s,
                remaining_s=_clock(entry.get("remaining_time")),
                epoch=number(entry.get("epoch")),
            )
        )
    if val_loss is not None:  # newer versions print `"eval_loss": null` on training entries
        events.append(Eval(step, val_loss=val_loss, elapsed_s=elapsed_s))
    return events


def _clock(value: object) -> float | None:
    return clock_seconds(value) if isinstance(value, str) else None
