"""llm.c `train_gpt2cu` stdout, its `main.log`, build-nanogpt and a look-alike custom trainer.

One parser for the family of `step N | loss X | ...` trainers, as in real runs (`\\` marks
a line wrapped here):

    step    1/19560 | loss 11.010252 (+nanz)| norm 15.1374 (+nanz)| lr 8.57e-07 | 4621.47 ms \
        | 29.2% bf16 MFU | 113446 tok/s
    val loss 6.208999
    step     0 | loss: 10.955010 | lr 8.3916e-07 | norm: 15.3421 | dt: 23547.83ms \
        | tok/sec: 22264.81
    validation loss: 10.9522
    HellaSwag accuracy: 2497/10042=0.2487
    s:0 tel:11.0092
    s:1 trl:10.9598 lr:0.000002 norm:15.24
    Tokens / optimizer step : 32,768
    Max steps               : 100,000
    [Checkpoint] resumed from ./checkpoints/latest.pt at step 47700
    step   47710 | loss 13.8450 | lr 1.79e-04 | grad 0.768 | 37.5k tok/s | mfu 37.67%
      [eval] step   48000 | val_loss 4.0749
    [Checkpoint] saved ./checkpoints/ckpt_step0047850.pt

- llm.c prints `val loss` after the step line of the step it evaluates; build-nanogpt prints
  `validation loss` before the line of the step it evaluates: the eval's iteration is the last
  step seen (llm.c) or the next one (build-nanogpt), 0 before any step.
- HellaSwag accuracy is not an `Eval` (the event has no accuracy field and one eval round must
  give one `Eval`); it is ignored.
- `main.log` (`s:N trl:X` / `s:N tel:X`) has no timing at all: Progress carries no time.
- The custom trainer prints tok/s only; with its `Tokens / optimizer step` line the step
  duration is derived as tokens per step / tok/s. Its `Max steps` line gives `max_iters`, its
  `resumed ... at step N` line gives `RunConfig({"resume_iter": N})`.
"""

from __future__ import annotations

import re

from bot.core.events import Checkpoint, Eval, Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import clean, to_float

NAME = "llmc"

_NUM = r"([-+\w.]+)"  # loose: `nan` and `inf` are losses too
_LLMC = re.compile(r"^step\s+(\d+)/(\d+) \| loss\s+" + _NUM + r".*?\|\s*(\d+(?:\.\d+)?) ms")
_LLMC_NO_TIME = re.compile(r"^step\s+(\d+)/(\d+) \| loss\s+" + _NUM)
_BUILD = re.compile(
    r"^step\s+(\d+) \| loss: "
    + _NUM
    + r".*?\| dt: (\d+(?:\.\d+)?)ms(?:.*tok/sec: (\d+(?:\.\d+)?))?"
)
_CUSTOM = re.compile(r"^step\s+(\d+) \| loss " + _NUM + r".*?\| (\d+(?:\.\d+)?)(k|M)? tok/s")
_MAIN_LOG = re.compile(r"^s:(\d+) (trl|tel):" + _NUM)
_LLMC_VAL = re.compile(r"^val loss " + _NUM)
_BUILD_VAL = re.compile(r"^validation loss: " + _NUM)
_CUSTOM_EVAL = re.compile(r"^\[eval\] step\s+(\d+) \| val_loss " + _NUM)
_SAVED = re.compile(r"^\[Checkpoint\] saved (\S+)")
_STEP_IN_PATH = re.compile(r"step_?0*(\d+)")
_RESUMED = re.compile(r"resumed from .* at step (\d+)")
_TOKENS_PER_STEP = re.compile(r"^Tokens / optimizer step\s*: ([\d,]+)")
_MAX_STEPS = re.compile(r"^Max steps\s*: ([\d,]+)")
_UNIT = {None: 1.0, "k": 1e3, "M": 1e6}


def score(line: str) -> int:
    """10 for a step or eval line of this family, 0 otherwise."""
    if line.startswith("step ") and (
        _LLMC_NO_TIME.match(line) or _BUILD.match(line) or _CUSTOM.match(line)
    ):
        return 10
    if line.startswith("s:") and _MAIN_LOG.match(line):
        return 10
    if line.startswith("[eval]") and _CUSTOM_EVAL.match(line):
        return 10
    return 0


class LlmcParser:
    name = NAME

    def __init__(self) -> None:
        self._last_iter: int | None = None
        self._tokens_per_step: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        event: Event | None = None
        if line.startswith("step "):
            event = self._step(line)
        elif line.startswith("s:"):
            event = self._main_log(line)
        elif line.startswith(("val", "[eval]")):
            event = self._eval(line)
        elif line.startswith("["):
            event = self._bracketed(line)
        elif line.startswith(("Tokens /", "Max steps")):
            event = self._config(line)
        return errors.with_errors([] if event is None else [event], line)

    def _step(self, line: str) -> Progress | None:
        progress = _llmc(line) or _build(line) or self._custom(line)
        if progress is not None:
            self._last_iter = progress.iter
        return progress

    def _custom(self, line: str) -> Progress | None:
        match = _CUSTOM.match(line)
        if match is None:
            return None
        rate = float(match.group(3)) * _UNIT[match.group(4)]
        dt_s = None
        if self._tokens_per_step and rate > 0:
            dt_s = self._tokens_per_step / rate
        return Progress(
            int(match.group(1)), loss=to_float(match.group(2)), dt_s=dt_s, tokens_per_s=rate
        )

    def _main_log(self, line: str) -> Event | None:
        match = _MAIN_LOG.match(line)
        if match is None:
            return None
        step, value = int(match.group(1)), to_float(match.group(3))
        if match.group(2) == "tel":
            return Eval(step, val_loss=value)
        self._last_iter = step
        return Progress(step, loss=value)

    def _eval(self, line: str) -> Eval | None:
        if match := _LLMC_VAL.match(line):
            return Eval(self._last_iter or 0, val_loss=to_float(match.group(1)))
        if match := _BUILD_VAL.match(line):
            next_iter = 0 if self._last_iter is None else self._last_iter + 1
            return Eval(next_iter, val_loss=to_float(match.group(1)))
        if match := _CUSTOM_EVAL.match(line):
            return Eval(int(match.group(1)), val_loss=to_float(match.group(2)))
        return None

    def _bracketed(self, line: str) -> Event | None:
        if match := _SAVED.match(line):
            in_path = _STEP_IN_PATH.search(match.group(1))
            step = int(in_path.group(1)) if in_path else self._last_iter
            return Checkpoint(step, path=match.group(1))
        if match := _RESUMED.search(line):
            return RunConfig({"resume_iter": int(match.group(1))})
        return None

    def _config(self, line: str) -> RunConfig | None:
        if match := _TOKENS_PER_STEP.match(line):
            self._tokens_per_step = int(match.group(1).replace(",", ""))
            return RunConfig({"tokens_per_iter": self._tokens_per_step})
        if match := _MAX_STEPS.match(line):
            return RunConfig({"max_iters": int(match.group(1).replace(",", ""))})
        return None


def _llmc(line: str) -> Progress | None:
    match = _LLMC.match(line)
    if match is not None:
        return Progress(
            int(match.group(1)),
            total=int(match.group(2)),
            loss=to_float(match.group(3)),
            dt_s=float(match.group(4)) / 1000,
        )
    match = _LLMC_NO_TIME.match(line)  # a line cut mid-write still counts the step
    if match is None:
        return None
    return Progress(int(match.group(1)), total=int(match.group(2)), loss=to_float(match.group(3)))


def _build(line: str) -> Progress | None:
    match = _BUILD.match(line)
    if match is None:
        return None
    rate = match.group(4)
    return Progress(
        int(match.group(1)),
        loss=to_float(match.group(2)),
        dt_s=float(match.group(3)) / 1000,
        tokens_per_s=float(rate) if rate else None,
    )
