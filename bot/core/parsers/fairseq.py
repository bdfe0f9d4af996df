"""fairseq's `progress_bar` lines (`fairseq-train`, `fairseq-hydra-train`): the `simple` and
`json` log formats, with the plain or the Hydra logging prefix.

As in real runs (`\\` marks a line wrapped here):

    2022-12-16 11:46:50 | INFO | train_inner | epoch 005:     94 / 1102 loss=4.884, \
        nll_loss=3.515, ppl=11.43, wps=2998.1, ups=0.83, wpb=3593.8, bsz=151.7, \
        num_updates=4500, lr=0.000471405, gnorm=1.159, loss_scale=32, train_wall=22, wall=1616
    2022-12-16 12:08:37 | INFO | valid | epoch 008 | valid on 'valid' subset | loss 4.278 | \
        nll_loss 2.72 | ppl 6.59 | bleu 31.29 | wps 2009.1 | num_updates 8814 | best_bleu 32.41
    [2024-07-05 07:34:01,548][train_inner][INFO] - {"epoch": 2, "update": 1.602, "loss": \
        "386.632", "ntokens": "14464", "num_updates": "2800", "lr": "1.0695e-05", \
        "train_wall": "348", "wall": "5016"}
    [2024-07-05 06:10:13,321][fairseq_cli.train][INFO] - {'_name': None, 'common': {...}, \
        'optimization': {'_name': None, 'max_epoch': 0, 'max_update': 80000, ...}, ...}

- The iteration is `num_updates`; the loss is `loss`. A `valid` line is an `Eval` at its
  `num_updates` (`valid_num_updates` in JSON).
- Clock: the line's stamp; without one, fairseq's own cumulative `wall` seconds.
- Total: `max_update` from the config dump; when it is 0 (no limit), `max_epoch` x the
  updates of an epoch (the `/ N` of the simple format, divided by `update_freq`).
"""

from __future__ import annotations

import json
import re

from bot.core.events import Eval, Event, Progress, RunConfig
from bot.core.parsers import errors
from bot.core.parsers.base import (
    FeedMany,
    clean,
    number,
    strip_launcher,
    timestamp_seconds,
)

NAME = "fairseq"

_SIMPLE = re.compile(r"\bepoch \d+:\s+\d+ / (\d+) (.*\bnum_updates=\d+.*)$")
_FIELD = re.compile(r"(\w+)=([^,\s]+)")
_VALID = re.compile(r"\| valid on '[^']*' subset \| (.*)$")
_VALID_FIELD = re.compile(r"(\w+) ([^|\s]+)")
_MAX = re.compile(r"'(max_update|max_epoch)': (\d+)")
_UPDATE_FREQ = re.compile(r"'update_freq': \[(\d+)")


def score(line: str) -> int:
    """10 for a `train_inner` line, 0 otherwise."""
    if "num_updates" not in line:
        return 0
    return 10 if "train_inner" in line and (_SIMPLE.search(line) or "{" in line) else 0


class FairseqParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._max_update = 0
        self._max_epoch = 0
        self._update_freq = 1
        self._total: int | None = None

    def feed(self, line: str) -> list[Event]:
        line = strip_launcher(clean(line))
        events: list[Event] = []
        if "num_updates" in line:
            events = self._updates(line)
        elif "'max_update'" in line:
            events = self._config(line)
        return errors.with_errors(events, line)

    def _updates(self, line: str) -> list[Event]:
        brace = line.find("{")
        if brace >= 0:
            fields = _json_fields(line[brace:])
        elif match := _SIMPLE.search(line):
            fields = dict(_FIELD.findall(match.group(2)))
            self._per_epoch(int(match.group(1)))
        elif match := _VALID.search(line):
            fields = {"valid_" + k: v for k, v in _VALID_FIELD.findall(match.group(1))}
        else:
            return []
        stamp = timestamp_seconds(line[:brace] if brace >= 0 else line[:40])
        return self._events(fields, stamp)

    def _events(self, fields: dict[str, object], stamp: float | None) -> list[Event]:
        if "valid_num_updates" in fields:
            step = number(fields["valid_num_updates"])
            loss = number(fields.get("valid_loss"))
            return [] if step is None else [Eval(int(step), val_loss=loss, timestamp_s=stamp)]
        step = number(fields.get("num_updates"))
        if step is None:
            return []
        wall = number(fields.get("wall"))
        return [
            Progress(
                int(step),
                total=self._total,
                loss=number(fields.get("loss")),
                elapsed_s=wall if stamp is None else None,
                timestamp_s=stamp,
                epoch=number(fields.get("epoch")),
            )
        ]

    def _per_epoch(self, batches: int) -> None:
        if not self._max_update and self._max_epoch:
            self._total = self._max_epoch * batches // self._update_freq

    def _config(self, line: str) -> list[Event]:
        values = dict(_MAX.findall(line))
        self._max_update = int(values.get("max_update", 0))
        self._max_epoch = int(values.get("max_epoch", 0))
        if match := _UPDATE_FREQ.search(line):
            self._update_freq = max(1, int(match.group(1)))
        self._total = self._max_update or None
        return [RunConfig({"max_iters": self._max_update})] if self._max_update else []


def _json_fields(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
