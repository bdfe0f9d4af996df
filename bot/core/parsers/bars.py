"""tqdm progress bars found in a line: the piece HF, Lightning and generic tqdm logs share.

A bar as tqdm draws it (`{desc}: {percentage}%|{bar}| {n}/{total} [{elapsed}<{remaining},
{rate}{postfix}]`), as in real logs:

    45%|████▌     | 450/1000 [02:10<02:39,  3.45it/s]
    Epoch 0:  31%|███       | 1225/3999 [1:07:35<2:33:03,  0.30it/s, v_num=29, loss=0.581]
    Loading checkpoint shards: 100%|██████████| 7/7 [00:08<00:00,  1.20s/it]

`desc` is the text before the percentage only when it ends with `:` (tqdm's own separator);
other text before a bar is an unrelated message printed without a newline and is not a desc.
Bars without a known total (`450it [02:10, 3.45it/s]`) are not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.core.events import Event, Progress
from bot.core.parsers.base import clock_seconds

_AFTER_PCT = re.compile(
    r"%\|[^|]*\|\s*(\d+)/(\d+) \[(\d[\d:]*)<(\d[\d:]*|\?)(?:,\s*([^\],=]*)(?=[,\]]))?"
    r"((?:,[^\]]*)?)\]"
)
# What scripts print before a `tqdm(dataset)` loop that prepares data (verbs, not nouns: a
# line that merely names the tokenizer or the encoder announces nothing).
_PREPARATION = re.compile(
    r"(?i)\b(?:pre-?process(?:ing)?|encod(?:e|ing)|tokeni[sz](?:e|ing)|download(?:ing)?"
    r"|caching|mapping|filtering|convert(?:ing)?)\b"
)
# A line that opens an epoch in a plain `for epoch ...: for batch in tqdm(loader)` loop:
# `[INFO] epoch 0`, `Epoch 3/10`, `epoch: 2 of 50` (a line with a loss closes one instead).
_EPOCH_HEADER = re.compile(r"(?i)\bepoch\b[\s:#]*(\d+)(?:\s*(?:/|of)\s*(\d+))?")
# Keys as Lightning and W&B log them: `loss`, `train/loss_step`, `val/loss`.
_POSTFIX_ITEM = re.compile(r"([\w/.-]+)=([^,\s]+)")


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and a bar is built
# per redraw (half the lines of a tqdm log). Bars are shared by `find_bars`' cache: read only.
@dataclass(slots=True)
class Bar:
    desc: str
    n: int
    total: int
    elapsed_s: float | None
    remaining_s: float | None
    postfix: dict[str, str]


# Several scorers ask about the same line in a row during detection.
@lru_cache(maxsize=4)
def find_bars(line: str) -> tuple[Bar, ...]:
    """Every bar drawn in `line` (a cleaned line), left to right."""
    bars: list[Bar] = []
    start = line.find("%|")
    while start >= 0:
        match = _AFTER_PCT.match(line, start)
        if match is not None:
            bars.append(_bar(line, start, match))
        start = line.find("%|", start + 2)
    return tuple(bars)


def _bar(line: str, pct_end: int, match: re.Match[str]) -> Bar:
    n, total, elapsed, remaining, _rate, postfix = match.groups()
    return Bar(
        desc=_desc(line, pct_end),
        n=int(n),
        total=int(total),
        elapsed_s=clock_seconds(elapsed),
        remaining_s=None if remaining == "?" else clock_seconds(remaining),
        postfix=dict(_POSTFIX_ITEM.findall(postfix)) if postfix else {},
    )


def _desc(line: str, pct_end: int) -> str:
    if line.rfind(":", 0, pct_end) < 0:  # the usual bar: no desc, nothing to cut
        return ""
    before = line[:pct_end].rstrip("0123456789").rstrip()
    desc = before[:-1].strip() if before.endswith(":") else ""
    # The desc is what follows the previous bar or message on the same line.
    cut = max(desc.rfind("]"), desc.rfind("|"))
    return desc[cut + 1 :].strip() if cut >= 0 else desc


class BarTracker:
    """Picks the training bar among all the bars of a log and turns its redraws into Progress.

    Bars with a description (`Map: ...`, `Loading checkpoint shards: ...`) and bars of total 1
    are never training. The first other bar is the training bar. When a bar with another total
    appears:

    - if the training bar never moved from 0 and the new bar starts at 0, the first was an
      outer bar (epochs) and the new one is the inner bar (batches): progress is then counted
      across epochs, `epochs_done x batches_per_epoch + n`, of `epochs x batches_per_epoch`,
      and the elapsed time is the outer bar's (cumulative, redrawn after each epoch) plus the
      inner bar's;
    - if `open_to_new()` was called (a new session: a `Running training` banner, a crash),
      the new bar becomes the training bar;
    - otherwise it is a bar nested in training or drawn after it, the evaluation bar, and is
      ignored (even once the training bar has finished: the final evaluation draws one).

    The outer bar's first draw (at 0) is reported as progress 0 of its own total: nothing tells
    it from a training bar until the inner bar starts. A redraw identical to the previous one
    (tqdm repeats a bar after a printed line) is skipped.

    With `epoch_headers` (plain tqdm loops), a line opening an epoch (`[INFO] epoch 0`, `Epoch
    3/10`) printed before the first training bar makes each bar one epoch: the iteration is
    `(E - base) x batches_per_epoch + n` with E the latest header's epoch (base 0 or 1, the
    first header's), of `epochs x batches_per_epoch` when the header says how many (else no
    total: the bar's own total would end the run after its first epoch), and the elapsed time
    the finished epochs' last draws plus the current one.

    A bare bar with a new total that starts right after a line announcing data preparation
    (`encode all the data : 75722`, `Tokenizing the corpus`, `Downloading ...`,
    `preprocessing`: see `announce`) and carries no loss is the preparation's own bar (a
    `tqdm(dataset)` loop), not training: its redraws are ignored.
    """

    def __init__(self, *, epoch_headers: bool = False) -> None:
        self.total: int | None = None  # the training bar's total
        self.step: int | None = None  # the last progress reported
        self._fixed = False
        self._open = True
        self._last: Bar | None = None
        self._moved = False
        self._outer: Bar | None = None
        self._epochs_done = 0
        self._prep_next = False  # the last text line announced data preparation
        self._prep_total: int | None = None  # the total of the preparation bar being drawn
        self._headers = epoch_headers
        self._header: tuple[int, int | None] | None = None  # the latest epoch header: E, epochs
        self._base: int | None = None  # the first header's epoch is 0 or 1: bars are epochs
        self._epoch_elapsed = (-1, 0.0, 0.0)  # epoch, elapsed before it, its last draw's

    def fix_total(self, total: int) -> None:
        """The log named the training bar's total (`Total optimization steps = N`)."""
        self.total, self._fixed, self._open, self._last, self._outer = (
            total,
            True,
            False,
            None,
            None,
        )

    def open_to_new(self) -> None:
        """The next bar with a new total starts a new session."""
        self._open, self._fixed = True, False

    def announce(self, text: str) -> None:
        """A line of text (not a bar): does it announce data preparation, or open an epoch?"""
        if text.strip():
            self._prep_next = _PREPARATION.search(text) is not None
        if not self._headers or "loss" in text.lower():
            return
        match = _EPOCH_HEADER.search(text)
        if match is None or (self.total is not None and self._base is None):
            return
        epoch = int(match.group(1))
        if self._header is not None and epoch != self._header[0]:
            self._last = None  # the new epoch's bar may look just like the last one's end
        self._header = (epoch, None if match.group(2) is None else int(match.group(2)))
        if self._base is None:
            self._base = min(epoch, 1)

    def feed(self, bar: Bar) -> Progress | None:
        if bar.desc or bar.total <= 1 or bar == self._last or bar.total == self._prep_total:
            return None
        if self._outer is not None and bar.total == self._outer.total:
            self._outer = bar
            return None
        if bar.total != self.total:
            if self._prep_next and not any("loss" in key for key in bar.postfix):
                self._prep_total = bar.total
                return None
            if not self._adopt(bar):
                return None
        return self._progress(bar)

    def _adopt(self, bar: Bar) -> bool:
        last = self._last
        nested = bar.n == 0 and last is not None and not self._moved and not self._fixed
        if nested and self._outer is None:
            self._outer = last
        elif self._open or self.total is None:
            self._outer = None
        else:
            return False
        self.total, self._open, self._last, self._moved, self._epochs_done = (
            bar.total,
            False,
            None,
            False,
            0,
        )
        self._prep_total = None
        return True

    def _progress(self, bar: Bar) -> Progress:
        last, self._last = self._last, bar
        self._open = False
        if last is not None and bar.n != last.n:
            self._moved = True
        if self._base is not None and self._header is not None:
            return self._epoch_progress(bar)
        if self._outer is None:
            self.step = bar.n
            return Progress(
                bar.n, total=bar.total, elapsed_s=bar.elapsed_s, remaining_s=bar.remaining_s
            )
        if last is not None and bar.n < last.n:
            self._epochs_done += 1
        epochs_done = max(self._epochs_done, self._outer.n)
        outer_elapsed = self._outer.elapsed_s or 0.0
        self.step = epochs_done * bar.total + bar.n
        return Progress(
            self.step,
            total=self._outer.total * bar.total,
            elapsed_s=None if bar.elapsed_s is None else outer_elapsed + bar.elapsed_s,
            epoch=epochs_done + bar.n / bar.total,
        )

    def _epoch_progress(self, bar: Bar) -> Progress:
        """A bar that is one epoch, as its header said (see the class docstring)."""
        assert self._header is not None and self._base is not None
        epoch, epochs = self._header
        done = max(0, epoch - self._base)
        seen, before, last_elapsed = self._epoch_elapsed
        if epoch != seen:
            before += last_elapsed if seen >= 0 else 0.0
        self._epoch_elapsed = (epoch, before, bar.elapsed_s or 0.0)
        self.step = done * bar.total + bar.n
        return Progress(
            self.step,
            total=None if epochs is None else epochs * bar.total,
            elapsed_s=None if bar.elapsed_s is None else before + bar.elapsed_s,
            epoch=done + bar.n / bar.total,
        )


def bar_progress(tracker: BarTracker, line: str) -> list[Event]:
    """The Progress events of the training bars drawn in `line`."""
    events: list[Event] = []
    for bar in find_bars(line):
        progress = tracker.feed(bar)
        if progress is not None:
            events.append(progress)
    return events
