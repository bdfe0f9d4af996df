"""PyTorch Lightning's progress bar (TQDMProgressBar) in a log.

As in a real run:

    Sanity Checking DataLoader 0: 100%|██████████| 2/2 [00:01<00:00,  1.52it/s]
    Epoch 0:  31%|███       | 1225/3999 [1:07:35<2:33:03,  0.30it/s, v_num=29, loss=0.581]
    Validation DataLoader 0:  40%|████      | 40/100 [00:10<00:15,  3.99it/s]
    Epoch 1: 100%|██████████| 3999/3999 [3:40:12<00:00, 0.30it/s, loss=0.41, val_loss=0.52]

Only `Epoch N` bars are training. The bar restarts each epoch, so the iteration is the global
batch count `N x batches_per_epoch + n` (batches per epoch = the bar's total; in Lightning
1.x that total also counts the validation batches). The number of epochs is not printed, so
`total` is left unknown; `epoch` is `N + n / total`, the epochs done (`N` counts from 0:
`Epoch 39: 100%` is the 40th and last of `max_epochs=40`). The elapsed time restarts with each bar:
`elapsed_s` adds the previous epochs' last elapsed time (that of the bar's redraw with the
`val_loss` after validation, which ran while it ticked). Lightning redraws each batch twice
(the counter, then the new postfix): one `Progress` per batch. The loss is the postfix `loss`
(or `train_loss`, `train_loss_step`, `train_total_loss`, else the first other non-validation
`*loss*` key); a new `val_loss` (or `val/loss`) value in the postfix is an `Eval` there.

W&B's `output.log` keeps only the last redraw of each line: one bar per epoch, already at its
end (`Epoch 3:  99%|███| 92/93 [00:19<00:00, ...]`, a message glued after it). When the first
`Epoch` bar of a log is drawn at 90 % or more, the log gives nothing finer than epochs and the
iteration is the epoch `N` (the clock is the same sum of the epochs' elapsed times) and
the work done, `done`, is `N + n / total`: `Epoch 20:  99%| 92/93` is 20.99 epochs of 40.

Also read: the end of `fit` (`` `Trainer.fit` stopped: `max_epochs=500` reached. ``, a
`TrainingEnd`), and a per-epoch callback logging through Hydra's `[%(asctime)s][%(name)s]
[%(levelname)s] - %(message)s` with `key value` metrics and a `v_`/`val_` prefix for
validation (TMR's `ProgressLogger`), its date day first (`dd/mm/yy`, month first when the
second field is over 12):

    [23/09/23 21:54:11][src.callback.progress][INFO] - Epoch 0: v_recons 4.354e-01  \
        recons 4.495e-01  v_loss 6.541e-01  loss 7.168e-01  v_kl 7.706e+00  kl 6.193e+00
    [24/09/23 12:27:52][pytorch_lightning.utilities.rank_zero][INFO] - `Trainer.fit` \
        stopped: `max_epochs=500` reached.

Its iteration is the epoch and its clock the timestamp. The callback prints at the epoch's
end (`on_train_epoch_end`, with the 0-based `trainer.current_epoch`): `Epoch 0:` is one
epoch done, `Epoch 499:` the last of 500.

Every progress line says its iterations per epoch (`per_epoch`: the bar's total, 1 when the
iteration is the epoch), so `max_epochs` gives the total: from the user (`--max-epochs`), or
printed before the first progress line (a `RunConfig`), where Lightning or the script says it:

    `max_epochs` was not set. Setting it to 1000 epochs. To train without an epoch limit, \
        set `max_epochs=-1`.
    Namespace(accelerator='gpu', ..., max_epochs=40, ...)           (argparse, Lightning 1.x)
    trainer:                                 (OmegaConf.to_yaml of a Hydra config, LightningCLI)
      _target_: lightning.pytorch.trainer.Trainer
      max_epochs: 40
    ├── trainer                          (lightning-hydra-template's rich tree of the config)
    │   └── _target_: lightning.pytorch.trainer.Trainer
    │       max_epochs: 40

`max_epochs` is read only in a `Namespace(` line or indented under a `trainer` key or
branch (a scheduler's `max_epochs` elsewhere is not the run's), and never once progress began.
"""

from __future__ import annotations

import re

from bot.core.events import Eval, Event, Progress, RunConfig, TrainingEnd
from bot.core.parsers import errors
from bot.core.parsers.bars import Bar, find_bars
from bot.core.parsers.base import FeedMany, clean, timestamp_seconds, to_float

NAME = "lightning"

_EPOCH_DESC = re.compile(r"^Epoch (\d+)$")
_LOSS_KEYS = ("loss", "train_loss", "train_loss_step", "train_total_loss")
_VAL_KEYS = ("val_loss", "val/loss", "valid_loss", "val_loss_epoch")
_SNAPSHOT = 0.9  # a first bar this far along is the last redraw of its line
_FIT_END = "`Trainer.fit` stopped:"
_HYDRA_EPOCH = re.compile(
    r"^\[(\d\d)/(\d\d)/(\d\d(?:\d\d)?) (\d\d:\d\d:\d\d)\]\[[^\]]*\]\[[A-Z]+\] - Epoch (\d+):? (.*)$"
)
_DEFAULT_EPOCHS = re.compile(r"`max_epochs` was not set\. Setting it to (\d+) epochs")
_NAMESPACE = re.compile(r"\bNamespace\(.*\bmax_epochs=(\d+)[,)]")
_MAX_EPOCHS = re.compile(r"max_epochs: *(\d+) *(?:#.*)?$")
_GUIDES = "│├└─ \t"  # a rich tree's guides and the YAML indentation before a key
_METRIC = re.compile(r"([\w/]+)[ :=]+([-+]?(?:\d[\d.]*(?:e[-+]?\d+)?|nan|inf))\b")


def score(line: str) -> int:
    if "Epoch " in line and "%|" in line:
        return 10 if any(_EPOCH_DESC.match(bar.desc) for bar in find_bars(line)) else 0
    if line.startswith("[") and "] - Epoch " in line and "loss" in line:
        return 10 if _HYDRA_EPOCH.match(line) else 0
    return 0


class LightningParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._offset_s = 0.0
        self._last_elapsed_s = 0.0
        self._last: Bar | None = None
        self._val: str | None = None
        self._by_epoch: bool | None = None  # decided by the first epoch bar
        self._day_first = True
        self._trainer_at: int | None = None  # the indent of a `trainer` key/branch being read
        self._started = False  # a progress line was read: no config is read any more

    def feed(self, line: str) -> list[Event]:
        if not self._started and "Epoch " not in line:
            return errors.with_errors(self._config(line), clean(line))
        line = clean(line)
        events: list[Event] = []
        if "%|" in line:
            for bar in find_bars(line):
                events += self._bar(bar)
        elif _FIT_END in line:
            events.append(TrainingEnd(reason="completed"))
        elif line.startswith("[") and "] - Epoch " in line:
            events = self._callback(line)
        self._started = self._started or bool(events)
        return errors.with_errors(events, line)

    def _bar(self, bar: Bar) -> list[Event]:
        match = _EPOCH_DESC.match(bar.desc)
        if match is None:
            return []
        last, self._last = self._last, bar
        if last is not None and (last.desc, last.n) == (bar.desc, bar.n):
            # A redraw: at the epoch's end, after validation, its elapsed time includes it.
            self._last_elapsed_s = max(self._last_elapsed_s, bar.elapsed_s or 0.0)
            epoch = int(match.group(1))
            return self._eval(bar, epoch if self._by_epoch else epoch * bar.total + bar.n)
        epoch = int(match.group(1))
        if self._epoch is not None and epoch != self._epoch:
            # A lower epoch is a restart: its clock starts again too.
            self._offset_s = self._offset_s + self._last_elapsed_s if epoch > self._epoch else 0.0
        self._epoch = epoch
        self._last_elapsed_s = bar.elapsed_s or 0.0
        if self._by_epoch is None:
            self._by_epoch = bar.total > 1 and bar.n >= _SNAPSHOT * bar.total
        step = epoch if self._by_epoch else epoch * bar.total + bar.n
        epochs_done = epoch + bar.n / bar.total if bar.total else float(epoch)
        progress = Progress(
            step,
            loss=_train_loss(bar.postfix),
            elapsed_s=None if bar.elapsed_s is None else self._offset_s + bar.elapsed_s,
            epoch=epochs_done,
            done=epochs_done if self._by_epoch else None,
            per_epoch=1 if self._by_epoch else bar.total or None,
        )
        return [progress, *self._eval(bar, step)]

    def _config(self, raw: str) -> list[Event]:
        """`max_epochs` printed before progress, in a dump (see the docstring)."""
        text = raw.rstrip()
        key = text.lstrip(_GUIDES)
        indent = len(text) - len(key)
        if key in ("trainer:", "trainer") and (key[-1] == ":" or "── " in text):
            self._trainer_at = indent
            return []
        if self._trainer_at is not None and key and indent <= self._trainer_at:
            self._trainer_at = None  # the next key or branch at the trainer's level
        match = None
        if self._trainer_at is not None:
            match = _MAX_EPOCHS.match(key)
        elif "max_epochs" in text:
            match = _NAMESPACE.search(text) or _DEFAULT_EPOCHS.search(text)
        if match is None or int(match.group(1)) <= 0:
            return []
        return [RunConfig({"max_epochs": int(match.group(1))})]

    def _eval(self, bar: Bar, step: int) -> list[Event]:
        val = next((bar.postfix[k] for k in _VAL_KEYS if k in bar.postfix), None)
        if val is None or val == self._val:
            return []
        self._val = val
        return [Eval(step, val_loss=to_float(val))]

    def _callback(self, line: str) -> list[Event]:
        match = _HYDRA_EPOCH.match(line)
        if match is None:
            return []
        first, second, year, clock, epoch, text = match.groups()
        if int(first) > 12 or int(second) > 12:
            self._day_first = int(first) > 12
        day, month = (first, second) if self._day_first else (second, first)
        year = year if len(year) == 4 else "20" + year
        metrics = dict(_METRIC.findall(text))
        loss = to_float(metrics["loss"]) if "loss" in metrics else None
        it = int(epoch)
        events: list[Event] = [
            Progress(
                it,
                loss=loss,
                timestamp_s=timestamp_seconds(f"{year}-{month}-{day} {clock}"),
                epoch=float(it + 1),
                done=float(it + 1),  # printed at the epoch's end
                per_epoch=1,
            )
        ]
        val = next((metrics[k] for k in ("v_loss", "val_loss", "val/loss") if k in metrics), None)
        if val is not None:
            events.append(Eval(it, train_loss=loss, val_loss=to_float(val)))
        return events


def _train_loss(postfix: dict[str, str]) -> float | None:
    key = next((k for k in _LOSS_KEYS if k in postfix), None)
    if key is None:  # e.g. `train_total_loss` among several `train_*_loss_step`
        key = next((k for k in postfix if "loss" in k and not k.startswith("val")), None)
    return None if key is None else to_float(postfix[key])
