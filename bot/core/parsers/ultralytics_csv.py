"""Ultralytics `results.csv`, read as a line format: the header, then one row per epoch.

As `BaseTrainer.save_metrics` writes it (recent versions: `epoch,time,...`, `%.6g` values;
older ones pad each field to 23 characters and have no `time` column):

    epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),...,val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2
    1,84.3061,1.30032,3.45661,1.31924,0.47096,...,1.07897,2.16826,1.15998,0.000184849,...
                      epoch,         train/box_loss,         train/cls_loss,...
                          1,                 1.2345,                 2.3456,...

The iteration is the `epoch` column; `time` (seconds since training started, written after
each epoch) is the clock; the loss is the sum of the `train/*loss` columns and the sum of the
`val/*loss` columns is an `Eval`. The number of epochs is not in the file.
"""

from __future__ import annotations

from bot.core.events import Eval, Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, to_float, to_int

NAME = "ultralytics_csv"


def score(line: str) -> int:
    """10: the header; 0: anything else."""
    return 10 if line.startswith("epoch,") and "train/" in line else 0


class UltralyticsCsvParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._columns: list[str] = []

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        if line.startswith("epoch,"):
            self._columns = [name.strip() for name in line.split(",")]
            return []
        if not self._columns or not line[:1].isdigit():
            return errors.with_errors([], line)
        return self._row(line.split(","))

    def _row(self, fields: list[str]) -> list[Event]:
        if len(fields) != len(self._columns):
            return []
        row = dict(zip(self._columns, (to_float(f.strip()) for f in fields), strict=True))
        epoch = row.get("epoch")
        it = None if epoch is None else to_int(str(epoch))
        if it is None:
            return []
        loss, val = _sum(row, "train/"), _sum(row, "val/")
        progress = Progress(it, loss=loss, elapsed_s=row.get("time"), epoch=float(it), per_epoch=1)
        return [progress] if val is None else [progress, Eval(it, train_loss=loss, val_loss=val)]


def _sum(row: dict[str, float | None], prefix: str) -> float | None:
    values = [v for k, v in row.items() if k.startswith(prefix) and k.endswith("loss")]
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)
