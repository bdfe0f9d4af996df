"""Any script that draws tqdm bars, nested or not, and prints its losses in plain lines.

As in a real log (inner bar redrawn under the outer one with ESC[A, which is stripped):

      0%|          | 0/100 [00:00<?, ?it/s]epoch 1
      3%|▎         | 10/352 [00:03<01:07,  5.10it/s]
    100%|██████████| 352/352 [00:37<00:00,  9.37it/s]
      1%|          | 1/100 [00:43<1:11:46, 43.50s/it]Train Loss: 1.824415, Acc: 34.808889%
    Val Loss: 1.776897, Acc: 38.440000%

A bare bar right after a line that announces data preparation is that preparation's loop
(lmqg encoding its dataset before `start model training`), not training:

    2023-08-25 09:10:55 INFO     encode all the data       : 75722
      0%|          | 61/75722 [00:00<02:05, 603.06it/s]

A plain `for epoch ...: print(...); for batch in tqdm(loader)` loop draws one bar per epoch
after a header line (FreePose's `train.py`; the evaluation bar has another total):

    [INFO] epoch 1
    100%|██████████| 3517/3517 [11:22<00:00,  5.15it/s]
    [INFO] Evaluation
    100%|██████████| 431/431 [00:44<00:00,  9.75it/s]

Progress is counted by `bars.BarTracker` (with `epoch_headers`: each bar after such a header is
one epoch, counted on across epochs; `Epoch 3/10` also gives the total). With an outer epoch
bar (drawn at 0 before the inner bar starts), the iteration is the global batch count
`epochs_done x batches_per_epoch + n` of `epochs x batches_per_epoch`, and the elapsed time the
outer bar's plus the inner bar's. Text around the bars goes to the generic parser (`Val Loss`
-> `Eval` at the current global batch count).
"""

from __future__ import annotations

from bot.core.events import Event
from bot.core.parsers import errors, generic
from bot.core.parsers.bars import BarTracker, bar_progress, find_bars
from bot.core.parsers.base import FeedMany, clean

NAME = "tqdm"


def score(line: str) -> int:
    """2 for a bar without description (as HF scores it), plus the generic score."""
    bar = 2 if "%|" in line and any(not bar.desc for bar in find_bars(line)) else 0
    return bar + generic.score(line)


class TqdmParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._bars = BarTracker(epoch_headers=True)
        self._text = generic.GenericParser(loss_only=True)

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        if "%|" not in line:
            return self._feed_text(line)
        events = bar_progress(self._bars, line)
        after = line.rfind("]")
        rest = line[after + 1 :] if after >= 0 else ""
        if rest.strip():
            return events + self._feed_text(rest)
        return errors.with_errors(events, line)

    def _feed_text(self, text: str) -> list[Event]:
        self._bars.announce(text)
        if self._bars.step is not None:
            self._text.last_iter = self._bars.step
        return self._text.feed(text)
