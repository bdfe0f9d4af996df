"""The general reader: for a log no parser claims, its step counter, total, clock, loss and
evaluations, following the shape of its progress lines.

As in real logs (`\\` marks a line wrapped here):

    2024-11-03 10:47:25,085 - INFO - Epoch 1, Global Batch 25, Training Loss: 8.1474, \
        Validation Loss: 14.7734, Validation Accuracy: 0.00%
    55:  [2026-05-22 02:28:22.911294] iteration    14775/   15550 | consumed samples: 4964400 \
        | elapsed time per iteration (ms): 1335.8 | lm loss: 2.396001E+00 | grad norm: 0.127 |
    [11/17 13:47:11] d2.utils.events INFO:  eta: 14:05:42  iter: 36519  total_loss: 0.2449 \
        time: 0.6815  data_time: 0.0663  lr: 0.004  max_mem: 11814M
    2021-12-05 01:28:54.544 | INFO | yolox.core.trainer:after_iter:246 - epoch: 151/300, \
        iter: 10/76, mem: 16022Mb, iter_time: 0.242s, total_loss: 3.3, lr: 6.095e-04
    I20250724 11:33:30 1 unic helpers.py:163] Training - Epoch: [1/200]  [ 920/4214]  \
        eta: 0:45:54    time: 0.828172  data: 0.001407  max mem: 18934
    Training Progress:  62%|██████▏   | 268/435 [37:06<30:15, 10.87s/it]
    [2024-07-05 07:34:01,548][train_inner][INFO] - {"epoch": 2, "loss": "386.632", \
        "num_updates": "2800", "lr": "1.0695e-05"}
    Epoch 3, Batch 120/500, loss=0.4123
    Epoch 0/40 - loss: 0.6931 - val_loss: 0.6650
    {"step": 100, "loss": 2.31, "val_loss": 2.40, "epoch": 0.5}

The counter: a keyword counter (`step`, `iteration`, `iter`, `num_updates`, `Global Batch`,
`Iter(train) [N/M]`), else a bare `N/M` or `[N/M]`; with the total after the slash. tqdm bars
are left to the tqdm format (the registry switches to it when they appear). A counter within an
epoch (`iter`, `batch` or a bare `N/M` on a line that also says `epoch E[/T]`) is made global:
epochs completed before this one × iterations per epoch (the `M` of `N/M`, else the last
counter seen in the previous epoch) + the counter; the total is then `T` × `M`. `step`,
`num_updates` and `global ...` counters are global already. A log that counts whole epochs
only (`Epoch E[/T]` and the epoch's training loss, so printed at its end) counts epochs: the
iteration is `E` as printed and the work done `E + 1` when the count starts at 0 (its first
epoch says), so `Epoch 39/40` is the last; such lines are never followed once a finer counter
has been (an epoch summary among step lines is not a new launch).

The shape: a progress line is a counter on a line with a sign of training (a loss, a learning
rate, a grad norm, a rate such as `it/s` or `ms/step`). The words before the counter (digits
and punctuation left out) are the line's shape; the first progress line's shape is learnt and
from then on only lines of that shape are progress, so a dataset or download bar that also
shows `N/M` is not taken for training (bars whose words say map, download, eval... never are).
A shape that stops appearing while another one appears `RELEARN_LINES` times gives way to it,
at once when the other one's counter starts again near zero (a new launch) or was followed
before (appended runs).

The clock: the timestamp the line starts with (any `StampReader` form) and a per-iteration
duration (`time: 0.68`, `iter_time: 0.242s`, `elapsed time per iteration
(ms): 164.2`, `(1909.8 ms)`, `467ms/step`); the run clock picks the most trusted one.

The total may also come from a config dump (`MAX_ITER: 111000`, `max_iters = 5000`,
`'max_update': 80000`, `train_iters .... 11000`, `total steps 2000`): a `RunConfig` with
`max_iters`. `max_epochs` there × iterations per epoch gives the total of an epoch counter.

A validation value on a counter line gives an `Eval` for that counter, and so does the loss of
a counter line whose words say eval or valid (`validate step: 9000  loss: 3.17`); a validation line
without counter gives an `Eval` for the last counter seen, with the `Train Loss` of a preceding
counter-less line, if any. A counter that jumps ahead by a factor of a thousand (or past
10^12) is ignored. What the reader learnt and ignored is in `shape` and `notes` (for
`etagram explain`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from bot.core.events import Checkpoint, Eval, Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import (
    FeedMany,
    StampReader,
    clean,
    looks_binary,
    number,
    timestamp_seconds,
    to_float,
    to_int,
)

NAME = "generic"

RELEARN_LINES = 20  # lines of another shape, none of the learnt one, before it gives way
MAX_COUNTER = 10**12
JUMP_FACTOR = 1000
MAX_NOTES = 20

_NUM = r"([-+]?(?:nan|inf|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
_SEP = r"\s*(?:[:=]\s*)?"  # not `\s*[:=]?\s*`: two runs of spaces made long lines crawl
_FRACTION = r"(?:\[\s*)?(\d+)(?:\s*/\s*(\d+))?"
# Global counters first: on `epoch 5: 94 / 1102 ... num_updates=4500` the update count wins.
_GLOBAL = re.compile(
    r"(?i)(?<![\w.])(global[ _]?(?:step|batch|iter(?:ation)?)|num_updates|step)" + _SEP + _FRACTION
)
_LOCAL = re.compile(r"(?i)(?<![\w.])(iter(?:ation)?s?|batch)(?:\(\w+\))?" + _SEP + _FRACTION)
# No two runs of spaces side by side in these patterns: a long run of spaces must not make a
# search quadratic.
_BARE = re.compile(r"(?<![\w/.:%-])(?:\[\s*)?(\d+)\s*/\s*(\d+)(?:\s*\])?(?![\w/.:%])")
_EPOCH = re.compile(
    r"(?i)(?<![\w.])epoch(?:\(\w+\))?\s*(?:[:=]\s*)?(?:\[\s*)?(\d+)(?:\s*/\s*(\d+))?\]?"
)
_TRAINING = re.compile(
    r"(?i)grad[ _]?norm|it/s|s/it|/step|tokens?/s|samples/s"
    r"|throughput|\bppl\b|iter_time|\beta[:=]"
)
_NOT_TRAINING = re.compile(
    r"(?i)\b(?:map|filter|download|tokeni|preprocess|load|shard|extract|generat|convert|eval"
    r"|val\b|valid|test|predict|infer|sanity|fetch|upload|sav|writ|build|index|cach|process)"
)
_EVAL_SHAPE = re.compile(r"(?i)\b(?:eval|valid|val\b)")
_WORD = re.compile(r"[A-Za-z]+")
_VAL = re.compile(r"(?i)\b(?:val(?:idation)?|eval)[ _/]?loss" + _SEP + _NUM)
_TRAIN = re.compile(
    r"(?i)(?<![\w/.])(?<!val )(?<!validation )(?<!eval )(?<!test )"
    r"(?:(?:train(?:ing)?|total|lm)[ _])?loss" + _SEP + _NUM
)
_DT_MS = re.compile(
    r"(?i)(?:elapsed time per iteration \(ms\)|iter(?:ation)?[ _]time \(ms\))\s*(?:[:=]\s*)?"
    r"(\d+(?:\.\d+)?)|\((\d+(?:\.\d+)?) ?ms\)|(\d+(?:\.\d+)?) ?ms/(?:step|it)\b"
)
_DT_S = re.compile(
    r"(?i)(?<![\w.])(?:iter_)?time(?: per iter(?:ation)?)?\s*[:=]\s*(\d+(?:\.\d+)?)s?(?![\w.:])"
    r"|(?<![\w.])(\d+(?:\.\d+)?)s/(?:step|it)\b"
)
_CONFIG_TOTAL = re.compile(
    r"(?i)(?<![\w.])['\"]?(max_iters?|max_steps|max_updates?|train_iters|total_iters"
    r"|num_training_steps|total[ _]steps)['\"]?[\s:=.'\"]*(\d+)\b"
)
_CONFIG_HINTS = ("max_", "MAX_", "_iters", "teps", "TEPS", "max_epoch", "otal")
_CONFIG_EPOCHS = re.compile(r"(?i)(?<![\w.])['\"]?max_epochs?['\"]?[\s:=.'\"]*(\d+)\b")
_CHECKPOINT = re.compile(
    r"(?i)(?:sav(?:ed?|ing) (?:model )?checkpoint|checkpoint saved)(?: to)?\s*(\S*)"
)
_DIGIT = re.compile(r"\d")
_JSON_STEP = (
    "step",
    "global_step",
    "iter",
    "iteration",
    "_step",
    "current_step",
    "train/global_step",
    "num_updates",
)
_JSON_LOSS = ("loss", "train_loss", "training_loss", "train/loss")
_JSON_VAL = ("val_loss", "eval_loss", "validation_loss", "val/loss", "eval/loss")


# The fallback scores only what it scored before the general reader came (a `step`/`iter`
# counter, or `Epoch N, Batch M`, with a train or val loss): the dedicated formats' scores
# were set against these, and a framework line must go to its own parser.
_SCORE_COUNTER = re.compile(
    r"(?i)\b(?:global[ _]?(?:step|batch|iter(?:ation)?)|step|iter(?:ation)?)" + _SEP + r"\d"
)
_SCORE_BATCH = re.compile(r"(?i)\bbatch" + _SEP + r"\d")
_SCORE_TRAIN = re.compile(
    r"(?i)(?<![\w/])(?<!val )(?<!validation )(?<!eval )(?<!test )(?:train(?:ing)?[ _])?loss"
    + _SEP
    + _NUM
)


# The tqdm format's scorer asks about the same line right after this one.
@lru_cache(maxsize=4)
def score(line: str) -> int:
    """10 for a timestamped or JSON metrics line with a counter and a loss, 3 for a plain one,
    1 for a validation line without counter."""
    if line.startswith("{"):
        return 10 if _json_metrics(line) else 0
    if "oss" not in line:
        return 0
    low = _lowered(line)
    may_val = low is None or "val" in low
    if _counter_in(line, low) and (_SCORE_TRAIN.search(line) or (may_val and _VAL.search(line))):
        return 10 if timestamp_seconds(line[:40]) is not None else 3
    return 1 if may_val and _VAL.search(line) else 0


def _counter_in(line: str, low: str | None) -> bool:
    if low is not None and not ("step" in low or "iter" in low or "batch" in low):
        return False  # what both ways of counting need
    return bool(_SCORE_COUNTER.search(line) or (_EPOCH.search(line) and _SCORE_BATCH.search(line)))


def _lowered(line: str) -> str | None:
    """`line` in lower case, where a word the (?i) patterns need must appear (`in` tests are
    much faster than a case-blind search); None when such a test could miss a match: (?i) also
    matches `İ` and `ı` to `i` and `ſ` to `s`, which lower() does not fold."""
    if line.isascii() or not ("İ" in line or "ı" in line or "ſ" in line):
        return line.lower()
    return None


class _Counter:
    """A counter found on a line: its global value, total, epoch, the line's shape, the work
    done where it is not the counter (an epoch counted from 0), and the iterations per epoch
    where the counter counts epochs (1: whole epochs)."""

    __slots__ = ("step", "total", "epoch", "shape", "done", "per_epoch")

    def __init__(
        self,
        step: int,
        total: int | None,
        epoch: float | None,
        shape: str,
        done: float | None = None,
        per_epoch: int | None = None,
    ) -> None:
        self.step, self.total, self.epoch, self.shape = step, total, epoch, shape
        self.done, self.per_epoch = done, per_epoch


class GenericParser(FeedMany):
    name = NAME

    def __init__(self, loss_only: bool = False) -> None:
        """`loss_only`: progress only from lines with a loss (for a parser that reads its
        progress elsewhere, tqdm bars, and gives this one the text between them)."""
        self.last_iter: int | None = None  # a caller that counts steps itself may set it
        self._loss_only = loss_only
        self.shape: str | None = None  # the words before the counter of the lines followed
        self.notes: list[str] = []  # what was ignored, for `etagram explain` (first MAX_NOTES)
        self.total_source: str | None = None
        self._stamps = StampReader()
        self._epoch: int | None = None
        self._epoch_base = 0
        self._epoch_offset = 0
        self._last_local = 0
        self._max_epochs: int | None = None
        self._train_loss: float | None = None
        self._other_shapes = 0  # progress-like lines of another shape since the last followed
        self._learnt: set[str] = set()
        self._first_epoch: int | None = None  # of a log that counts epochs only
        self._epoch_shapes: set[str] = set()  # the shapes of its lines

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if _DIGIT.search(line) is not None and not looks_binary(line):
            brace = line.find("{")
            if brace >= 0 and line.endswith("}"):
                events = self._json(line, brace) or self._plain(line)
            else:
                events = self._plain(line)
        elif "heckpoint" in line:
            events = self._checkpoint(line, None)
        return errors.with_errors(events, line)

    def _plain(self, line: str) -> list[Event]:
        read = self._stamps.read(line)
        stamp, body = (None, line) if read is None else (read[0], line[read[1] :])
        if "heckpoint" in body and (saved := self._checkpoint(body, stamp)):
            return saved
        config = self._config(body)
        if config is not None:
            return [config]
        train, val = _TRAIN.search(body), _VAL.search(body)
        train_loss = None if train is None else to_float(train.group(1))
        val_loss = None if val is None else to_float(val.group(1))
        # tqdm bars are the tqdm format's: the registry switches to it when they appear.
        counter = None if "%|" in body else self._counter(body)
        if counter is None and train is not None:
            counter = self._epoch_only(body)
        if counter is None:
            return self._uncounted(train_loss, val_loss, stamp)
        step = counter.step
        events: list[Event] = []
        training = train is not None or (not self._loss_only and _TRAINING.search(body) is not None)
        if training and self._follows(counter):
            events.append(self._progress(counter, body, train_loss, stamp))
        elif val_loss is None and train_loss is not None and _EVAL_SHAPE.search(counter.shape):
            val_loss, train_loss = train_loss, None  # `validate step: 9000  loss: 3.17`
        else:
            train_loss = None
        if val_loss is not None:
            events.append(Eval(step, train_loss=train_loss, val_loss=val_loss, timestamp_s=stamp))
        return events

    def _progress(
        self, counter: _Counter, body: str, loss: float | None, stamp: float | None
    ) -> Progress:
        self.last_iter = counter.step
        return Progress(
            counter.step,
            total=counter.total,
            loss=loss,
            dt_s=_dt_s(body),
            timestamp_s=stamp,
            epoch=counter.epoch,
            done=counter.done,
            per_epoch=counter.per_epoch,
        )

    def _uncounted(
        self, train_loss: float | None, val_loss: float | None, stamp: float | None
    ) -> list[Event]:
        if val_loss is None:
            if train_loss is not None:
                self._train_loss = train_loss
            return []
        train_loss, self._train_loss = train_loss or self._train_loss, None
        return [Eval(self.last_iter, train_loss=train_loss, val_loss=val_loss, timestamp_s=stamp)]

    def _checkpoint(self, line: str, stamp: float | None) -> list[Event]:
        match = _CHECKPOINT.search(line)
        if match is None:
            return []
        stamp = stamp if stamp is not None else timestamp_seconds(line[:40])
        return [Checkpoint(self.last_iter, path=match.group(1) or None, timestamp_s=stamp)]

    def _config(self, body: str) -> RunConfig | None:
        """A total from a config dump (`MAX_ITER: 111000`); max_epochs is kept for later."""
        if not any(hint in body for hint in _CONFIG_HINTS):
            return None
        if (epochs := _CONFIG_EPOCHS.search(body)) is not None and int(epochs.group(1)) > 0:
            self._max_epochs = int(epochs.group(1))
        match = _CONFIG_TOTAL.search(body)
        if (
            match is None
            or int(match.group(2)) <= 0
            or _TRAINING.search(body)
            or _TRAIN.search(body)
        ):
            return None  # a progress line that prints its total too
        self.total_source = f"config dump: {match.group(0).strip()!r}"
        return RunConfig({"max_iters": int(match.group(2))})

    def _follows(self, counter: _Counter) -> bool:
        """The counter is on a line of the learnt shape, and is not a wild jump."""
        if counter.shape != self.shape and self._takes_over(counter):
            self.shape, self._other_shapes = counter.shape, 0
            self._learnt.add(counter.shape)
        if counter.shape != self.shape:
            self._other_shapes += 1
            return False
        self._other_shapes = 0
        last = self.last_iter
        if counter.step > MAX_COUNTER or (
            last is not None and counter.step > JUMP_FACTOR * (last + 1) + 10**6
        ):
            where = "" if last is None else f"from {last:,} "
            self._note(f"counter jumps {where}to {counter.step:,}: ignored")
            return False
        return True

    def _takes_over(self, counter: _Counter) -> bool:
        """A shape followed before comes back at once (appended runs); a new one is learnt
        first, when a new launch starts (the counter back near zero), or when the learnt one
        has given way to it for `RELEARN_LINES` lines."""
        if counter.shape in self._learnt:
            return True
        if _NOT_TRAINING.search(counter.shape):
            return False
        last = self.last_iter
        return (
            self.shape is None
            or self._other_shapes >= RELEARN_LINES
            or (last is not None and counter.step < last and counter.step <= max(10, last // 50))
        )

    def _note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def _counter(self, body: str) -> _Counter | None:
        """The global counter of a line, or None."""
        epoch_match = _EPOCH.search(body)
        epoch = None if epoch_match is None else int(epoch_match.group(1))
        if (match := _GLOBAL.search(body)) is not None:
            total = _int(match.group(3))
            return _Counter(int(match.group(2)), total, _float(epoch), _shape(body, match.start(2)))
        local = _LOCAL.search(body)
        if local is not None and (epoch_match is None or local.start() > epoch_match.start()):
            n, per_epoch, at = int(local.group(2)), _int(local.group(3)), local.start(2)
        elif (bare := _bare(body, epoch_match)) is not None:
            n, per_epoch, at = int(bare.group(1)), _int(bare.group(2)), bare.start()
        else:
            return None
        shape = _shape(body, at)
        if epoch is None or epoch_match is None:
            return _Counter(n, per_epoch, None, shape)
        total_epochs = _int(epoch_match.group(2)) or self._max_epochs
        step = self._global_step(epoch, n, per_epoch)
        total = None if per_epoch is None or total_epochs is None else total_epochs * per_epoch
        return _Counter(step, total, float(epoch), shape, per_epoch=per_epoch)

    def _epoch_only(self, body: str) -> _Counter | None:
        """`Epoch 3/40 - loss: 0.41`: a line whose only counter is a whole epoch, with the
        epoch's training loss, so printed at its end. Followed only in a log that counts
        nothing finer (an epoch summary among step lines is not a new launch). The count
        starts at 0 or 1, as its first epoch says: `Epoch 0` at its end is one epoch done."""
        match = _EPOCH.search(body)
        if (
            self._loss_only  # text between tqdm bars, whose steps another parser counts
            or match is None
            or _fraction(body, match)
            or (self.shape is not None and self.shape not in self._epoch_shapes)
        ):
            return None
        epoch = int(match.group(1))
        if self._first_epoch is None:
            self._first_epoch = min(epoch, 1)
        total = _int(match.group(2)) or self._max_epochs
        shape = _shape(body, match.start(1))
        self._epoch_shapes.add(shape)
        done = float(epoch - self._first_epoch + 1)
        return _Counter(epoch, total, float(epoch), shape, done, per_epoch=1)

    def _global_step(self, epoch: int, n: int, per_epoch: int | None) -> int:
        """Epochs completed before `epoch` × iterations per epoch + `n`."""
        if per_epoch is not None:
            if self._epoch is None:
                self._epoch_base = min(epoch, 1)  # epochs count from 0 or from 1
            self._epoch, self._last_local = epoch, n
            return max(0, epoch - self._epoch_base) * per_epoch + n
        if self._epoch is not None and epoch > self._epoch:
            self._epoch_offset += self._last_local * (epoch - self._epoch)
        elif self._epoch is not None and epoch < self._epoch:  # a new run from scratch
            self._epoch_offset = 0
        self._epoch, self._last_local = epoch, n
        return self._epoch_offset + n

    def _json(self, line: str, brace: int) -> list[Event]:
        metrics = _json_metrics(line[brace:])
        if metrics is None:
            return []
        step, loss, val_loss, epoch, stamp = metrics
        if stamp is None and brace:
            read = self._stamps.read(line[:brace])
            stamp = None if read is None else read[0]
        self.last_iter = step
        events: list[Event] = []
        if loss is not None:
            events.append(Progress(step, loss=loss, epoch=epoch, timestamp_s=stamp))
        if val_loss is not None:
            events.append(Eval(step, val_loss=val_loss, timestamp_s=stamp))
        return events


def _bare(body: str, epoch: re.Match[str] | None) -> re.Match[str] | None:
    """The first bare `N/M` after the epoch's own (`Epoch: [1/200]  [ 920/4214]`)."""
    start = 0 if epoch is None else epoch.end()
    return _BARE.search(body, start)


def _shape(body: str, at: int) -> str:
    """The words before the counter's number, lower case (`Iter(val) [` gives `iter val`): the
    first three (the logger, the phase) and the last four: what progress lines share."""
    words = _WORD.findall(body[:at])
    if len(words) > 7:
        words = words[:3] + words[-4:]
    return " ".join(words).lower()


def _dt_s(body: str) -> float | None:
    # The substring tests spare most lines the two slow case-blind searches.
    if "ms" in body and (ms := _DT_MS.search(body)) is not None:
        return float(next(g for g in ms.groups() if g is not None)) / 1000
    if ("ime" in body or "s/" in body) and (s := _DT_S.search(body)) is not None:
        return float(next(g for g in s.groups() if g is not None))
    return None


def _fraction(body: str, epoch: re.Match[str]) -> bool:
    """The epoch is a fraction (`epoch: 0.52`, HF Trainer's), not a count."""
    end = epoch.end()
    return body[end : end + 1] == "." and body[end + 1 : end + 2].isdigit()


def _int(text: str | None) -> int | None:
    return None if text is None else to_int(text)


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


def _json_metrics(
    text: str,
) -> tuple[int, float | None, float | None, float | None, float | None] | None:
    """(step, loss, val loss, epoch, timestamp) of a JSON metrics object, or None."""
    if not text.endswith("}"):
        return None
    try:
        entry = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict):
        return None
    step = next((s for k in _JSON_STEP if (s := _json_int(entry.get(k))) is not None), None)
    loss = next((number(entry[k]) for k in _JSON_LOSS if k in entry), None)
    val_loss = next((number(entry[k]) for k in _JSON_VAL if k in entry), None)
    if step is None or (loss is None and val_loss is None):
        return None
    stamp = number(entry.get("timestamp"))
    return (
        step,
        loss,
        val_loss,
        number(entry.get("epoch")),
        stamp if stamp and stamp > 1e9 else None,
    )


def _json_int(value: object) -> int | None:
    """A step: an int, or an int in a string (fairseq-hydra prints `"num_updates": "2800"`)."""
    if type(value) is int:
        return value
    return to_int(value) if isinstance(value, str) and value.isdigit() else None
