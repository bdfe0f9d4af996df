"""nanoGPT `train.py` (karpathy/nanoGPT) stdout.

Lines it prints, as in a real run:

    Overriding config with config/train_shakespeare_char.py:
    eval_interval = 250 # keep frequent because we'll overfit
    max_iters = 5000
    Overriding: max_iters = 20000
    tokens per iteration will be: 16,384
    step 0: train loss 5.2213, val loss 5.2199
    iter 0: loss 5.2389, time 39098.19ms, mfu -100.00%
    iter 10: loss 3.9133, time 6704.74ms, mfu 2.23%
    saving checkpoint to out-mitos

Forks that measure the loss in another unit print it after the number (the f-string
`f"iter {iter_num}: loss {lossf:.4f} BPC, time {dt*1000:.2f}ms, mfu {running_mfu*100:.2f}%"`):

    step 0: train loss 12.5201 BPC, val loss 12.5218 BPC
    iter 10: loss 10.0507 BPC, time 263.86ms, mfu 9.31%

`time` is that one iteration's duration (`dt_s`); an eval iteration's time includes the eval.
A checkpoint is saved right after an eval, so it gets the last eval's step as its iteration.
Config lines give `RunConfig` with the known keys only (a stray `x = 1` in the log is not
configuration); values are parsed as int, float or string (quotes removed).
"""

from __future__ import annotations

import re

from bot.core.events import Checkpoint, Eval, Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, to_float, to_int

NAME = "nanogpt"

CONFIG_KEYS = frozenset(
    {
        "max_iters",
        "eval_interval",
        "eval_iters",
        "log_interval",
        "batch_size",
        "gradient_accumulation_steps",
        "block_size",
        "warmup_iters",
        "lr_decay_iters",
        "init_from",
        "eval_only",
        "always_save_checkpoint",
        "out_dir",
    }
)

# A unit word may follow a loss (`loss 3.91 BPC`): forks print bits per character.
_UNIT = r"(?: [A-Za-z/]+)?"
_ITER = re.compile(rf"^iter (\d+): loss (\S+?){_UNIT}, time (\d+(?:\.\d+)?)ms")
_EVAL = re.compile(rf"^step (\d+): train loss (\S+?){_UNIT}, val loss (\S+?)(?:,|$|\s)")
_CONFIG = re.compile(r"^(?:Overriding: )?(\w+) = ([^#]+?)\s*(?:#.*)?$")
_TOKENS = re.compile(r"^tokens per iteration will be: ([\d,]+)")
_CONFIG_FILE = re.compile(r"^Overriding config with (\S+?):?$")
_SAVING = "saving checkpoint to "


def score(line: str) -> int:
    """10: a line only nanoGPT prints; 1: a config line it could print; 0: anything else."""
    if line.startswith("iter ") and _ITER.match(line):
        return 10
    if line.startswith("step ") and _EVAL.match(line):
        return 10
    if line.startswith(("Overriding config with ", "Overriding: ", "tokens per iteration")):
        return 10
    if " = " in line:
        match = _CONFIG.match(line)
        if match and match.group(1) in CONFIG_KEYS:
            return 1
    return 0


def config_value(text: str) -> int | float | str:
    """`5000` -> 5000, `1e-3` -> 0.001, `'out'` -> "out", `True` -> "True"."""
    text = text.strip()
    number = to_int(text) if text.lstrip("-").isdigit() else to_float(text)
    if number is not None:
        return number
    return text.strip("'\"")


class NanoGptParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._last_eval_iter: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        if line.startswith("iter "):
            event = self._progress(line)
            if event is not None:
                return errors.with_errors([event], line)
        elif line.startswith("step "):
            match = _EVAL.match(line)
            if match is not None:
                self._last_eval_iter = int(match.group(1))
                return [
                    Eval(
                        self._last_eval_iter,
                        train_loss=to_float(match.group(2)),
                        val_loss=to_float(match.group(3)),
                    )
                ]
        elif line.startswith(_SAVING):
            return [Checkpoint(self._last_eval_iter, path=line[len(_SAVING) :].strip())]
        elif " = " in line:
            config = self._config(line)
            if config is not None:
                return [config]
        elif line.startswith("Overriding config with "):
            match = _CONFIG_FILE.match(line)
            if match is not None:
                return [RunConfig({"config_file": match.group(1)})]
        elif line.startswith("tokens per iteration"):
            match = _TOKENS.match(line)
            if match is not None:
                tokens = int(match.group(1).replace(",", ""))
                return [RunConfig({"tokens_per_iter": tokens})]
        return errors.with_errors([], line)

    def _progress(self, line: str) -> Progress | None:
        match = _ITER.match(line)
        if match is None:
            return None
        return Progress(
            int(match.group(1)), loss=to_float(match.group(2)), dt_s=float(match.group(3)) / 1000
        )

    def _config(self, line: str) -> RunConfig | None:
        match = _CONFIG.match(line)
        if match is None or match.group(1) not in CONFIG_KEYS:
            return None
        return RunConfig({match.group(1): config_value(match.group(2))})
