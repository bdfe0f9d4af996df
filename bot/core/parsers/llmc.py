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
from bot.core.parsers.base import FeedMany, clean, to_float

NAME = "llmc"

_NUM = r"([-+\w.]+)"  # loose: `nan` and `inf` are losses too
_DURATION = r"(\d+(?:\.\d+)?)"
# The three step lines in one pattern (one match per line instead of up to four): after the
# step number, llm.c goes on with `/total`, build-nanogpt with ` | loss: ` and the custom
# trainer with ` | loss `, so at most one branch can match.
_STEP = re.compile(
    r"^step\s+(\d+)(?:"
    rf"/(\d+) \| loss\s+{_NUM}(?:.*?\|\s*{_DURATION} ms)?"  # llm.c; no time: a line cut short
    rf"| \| loss: {_NUM}.*?\| dt: {_DURATION}ms(?:.*tok/sec: {_DURATION})?"  # build-nanogpt
    rf"| \| loss {_NUM}.*?\| {_DURATION}(k|M)? tok/s"  # the custom trainer
    r")"
)
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
    if line.startswith("step ") and _STEP.match(line):
        return 10
    if line.startswith("s:") and _MAIN_LOG.match(line):
        return 10
    if line.startswith("[eval]") and _CUSTOM_EVAL.match(line):
        return 10
    return 0


class LlmcParser(FeedMany):
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
        match = _STEP.match(line)
        if match is None:
            return None
        step, total, loss, dt_ms, build_loss, build_dt_ms, rate, custom_loss, k_rate, unit = (
            match.groups()
        )
        self._last_iter = int(step)
        if total is not None:  # llm.c
            dt_s = None if dt_ms is None else float(dt_ms) / 1000
            return Progress(self._last_iter, total=int(total), loss=to_float(loss), dt_s=dt_s)
        if build_loss is not None:  # build-nanogpt
            return Progress(
                self._last_iter,
                loss=to_float(build_loss),
                dt_s=float(build_dt_ms) / 1000,
                tokens_per_s=float(rate) if rate else None,
            )
        tokens_per_s = float(k_rate) * _UNIT[unit]  # the custom trainer
        dt_s = None
        if self._tokens_per_step and tokens_per_s > 0:
            dt_s = self._tokens_per_step / tokens_per_s
        return Progress(
            self._last_iter, loss=to_float(custom_loss), dt_s=dt_s, tokens_per_s=tokens_per_s
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
