"""openpi (`scripts/train.py`, JAX) logs: `tqdm_loggable` progress lines and `Step N:` lines.

Without a terminal, openpi's `tqdm_loggable` bar logs a line every 10 s (openpi's format
`%(asctime)s.%(msecs)03d [%(levelname)s] %(message)-80s (%(process)d:%(filename)s:%(lineno)s)`,
time of day only), and the loop writes the mean metrics every `log_interval` steps:

    12:00:41.212 [I] Progress on: 12.7kit/200kit rate:3.2it/s remaining:16:15:33 \\
        elapsed:1:06:12 postfix:-  (81234:tqdm_logging.py:139)
    Step 12700: grad_norm=0.2513, loss=0.0214, param_norm=1802.4126

(`\\` marks a line wrapped here). The counters of `Progress on:` go through tqdm's
`format_sizeof` (`5.00it`, `950it`, `12.7kit`, `1.20Mit`): three significant digits, so the
iteration read there is never taken below the last exact `Step` counter; the total is the
bar's, `elapsed` (the bar's, restarting when a run resumes) is the clock and `remaining` the
trainer's own ETA. A `Step` line is a `Progress` with the loss and no time.
"""

from __future__ import annotations

import re

from bot.core.events import Event, Progress
from bot.core.parsers import errors
from bot.core.parsers.base import FeedMany, clean, clock_seconds, to_float

NAME = "openpi"

_COUNT = r"(-|\d+(?:\.\d+)?)([kMGTPEZY]?)[A-Za-z]*"
# The counters are the token before ` rate:`; the bar's name before them may hold anything.
_PROGRESS = re.compile(
    r"(?:^|[ :])" + _COUNT + "/" + _COUNT + r" rate:\S* remaining:(\S+) elapsed:(\S+)"
)
_STEP = re.compile(r"^Step (\d+): (.*)$")
_LOSS = re.compile(r"(?:^|, )loss=([-+.\w]+)")
_SI = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def score(line: str) -> int:
    """10: a `Progress on:` line with a total and elapsed time; 0: anything else."""
    return 10 if "Progress on:" in line and _PROGRESS.search(line) else 0


def _count(digits: str, prefix: str) -> int | None:
    if digits == "-":
        return None
    value = to_float(digits)
    return None if value is None or prefix not in _SI else round(value * _SI[prefix])


class OpenpiParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._step = 0  # the last exact step counter

    def feed(self, line: str) -> list[Event]:
        line = clean(line)
        events: list[Event] = []
        if "Progress on:" in line:
            match = _PROGRESS.search(line)
            if match is not None:
                events.append(self._progress(match))
        elif line.startswith("Step "):
            match = _STEP.match(line)
            loss = _LOSS.search(match.group(2)) if match is not None else None
            if match is not None and loss is not None:
                self._step = int(match.group(1))
                events.append(Progress(self._step, loss=to_float(loss.group(1))))
        return errors.with_errors(events, line)

    def _progress(self, match: re.Match[str]) -> Progress:
        n, total = _count(*match.group(1, 2)), _count(*match.group(3, 4))
        remaining = match.group(5)
        return Progress(
            max(n or 0, self._step),
            total=total,
            elapsed_s=clock_seconds(match.group(6)),
            remaining_s=None if remaining == "?" else clock_seconds(remaining),
        )
