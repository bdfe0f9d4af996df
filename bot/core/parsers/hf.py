"""Hugging Face `Trainer` stdout/stderr (also TRL, and LLaMA-Factory's stdout).

Lines it prints, as in real runs (tqdm redraws split on `\\r`):

     45%|████▌     | 450/1000 [02:10<02:39,  3.45it/s]
      6%|▋         | 750/11900 [13:17<3:28:16,  1.12s/it]
    {'loss': 0.3319, 'learning_rate': 9.902310235916435e-05, 'epoch': 1.57}
    {'loss': '1.015', 'grad_norm': '0.1992', 'learning_rate': '0.000106', 'epoch': '0.1611'}
    {'eval_loss': '0.7417', 'eval_runtime': '30.28', 'epoch': '1'}
    {'train_runtime': 13190.0841, 'train_steps_per_second': 0.902, 'epoch': 24.96}
    [INFO|trainer.py:1786] 2023-07-15 04:58:27,820 >> ***** Running training *****
    [INFO|trainer.py:1792] 2023-07-15 04:58:27,821 >>   Total optimization steps = 21,600
    07/18/2023 18:19:14 - INFO - pet.core.trainer - Saving model checkpoint to out/checkpoint-1000

Which bar is training: see `bars.BarTracker` (bars with a description, dataset mapping and
shard loading, are never training; the evaluation bar nested in training is ignored). Here
`Total optimization steps = N` names the training bar's total outright, and
`***** Running training *****` or a failure line opens the way to a new session's bar.

Each training-bar redraw is a `Progress` with tqdm's elapsed and remaining time. A `{'loss': ...}`
dict is a `Progress` for the bar's current step carrying the loss and epoch but no time; an
`{'eval_loss': ...}` dict is an `Eval` at that step; `{'train_runtime': ...}` ends training.
"""

from __future__ import annotations

import ast
import re

from bot.core.events import Checkpoint, ErrorText, Eval, Event, Progress, RunConfig, TrainingEnd
from bot.core.parsers import errors
from bot.core.parsers.bars import BarTracker, bar_progress, find_bars
from bot.core.parsers.base import FeedMany, clean, number, timestamp_seconds

NAME = "hf"

_TOTAL_STEPS = re.compile(r"Total optimization steps = ([\d,]+)")
_EPOCHS = re.compile(r"Num Epochs = ([\d,]+)")
_SAVING = re.compile(r"Saving model checkpoint to (\S+)")
_STEP_IN_PATH = re.compile(r"checkpoint-(\d+)")
_DICT_KEYS = ("'loss'", "'eval_loss'", "'train_runtime'")


def _is_metrics_dict(text: str) -> bool:
    return text.startswith("{'") and any(key in text for key in _DICT_KEYS)


def score(line: str) -> int:
    """10 for the Trainer's metric dicts and banners; 2 for a bar without description."""
    if _is_metrics_dict(line) or "***** Running training *****" in line:
        return 10
    if "Total optimization steps" in line:
        return 10
    if "%|" in line and any(not bar.desc for bar in find_bars(line)):
        return 2
    return 0


class HfParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._bars = BarTracker()

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if "%|" in line:
            events += bar_progress(self._bars, line)
        if "{'" in line:
            events += self._dict(line[line.find("{'") :])
        elif ">>" in line or " - " in line:
            events += self._banner(line)
        events = errors.with_errors(events, line)
        if events and isinstance(events[-1], ErrorText):
            self._bars.open_to_new()
        return events

    def _dict(self, text: str) -> list[Event]:
        if not _is_metrics_dict(text):
            return []
        values = _literal_dict(text)
        if values is None:
            return []
        if "train_runtime" in values:
            return [TrainingEnd(reason="completed")]
        step = self._bars.step
        if step is None:
            return []
        if "eval_loss" in values:
            return [Eval(step, val_loss=number(values.get("eval_loss")))]
        return [
            Progress(
                step,
                total=self._bars.total,
                loss=number(values.get("loss")),
                epoch=number(values.get("epoch")),
            )
        ]

    def _banner(self, line: str) -> list[Event]:
        if "***** Running training *****" in line:
            self._bars.open_to_new()
            return []
        if match := _TOTAL_STEPS.search(line):
            total = int(match.group(1).replace(",", ""))
            self._bars.fix_total(total)
            return [RunConfig({"max_iters": total})]
        if match := _EPOCHS.search(line):
            return [RunConfig({"num_epochs": int(match.group(1).replace(",", ""))})]
        if match := _SAVING.search(line):
            in_path = _STEP_IN_PATH.search(match.group(1))
            step = int(in_path.group(1)) if in_path else self._bars.step
            stamp = timestamp_seconds(line[: match.start()])
            return [Checkpoint(step, path=match.group(1), timestamp_s=stamp)]
        return []


def _literal_dict(text: str) -> dict[object, object] | None:
    end = text.find("}")
    try:
        value = ast.literal_eval(text[: end + 1])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
