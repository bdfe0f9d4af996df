"""Running sums at speed: where a sum of durations, added one by one, reaches a limit.

The step time of the estimator (blocks) and of the slowdown tracker (chunks) is measured over
spans of the run clock that end at the first line where a running sum reaches a limit. A
backlog has millions of such lines: `reach` finds that line with sums made in C, each the very
float the running sum makes (the same additions, in the same order), so the spans end at the
same lines as line by line. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, islice

_FIRST_WINDOW = 64  # steps summed at a time, doubled until the limit is reached


def reach(
    steps: Sequence[float], start: int, total: float, limit: float, first: int = 0
) -> tuple[int, float]:
    """Adding `steps` (each >= 0) from `start` on to `total`, one by one: the first index,
    `first` or later, where the sum reaches `limit`, and the sum there; (len(steps), the
    sum of them all) when it never does."""
    size = _FIRST_WINDOW
    while start < len(steps):
        sums = list(accumulate(islice(steps, start, start + size), initial=total))
        k = bisect_left(sums, limit, max(1, first - start + 1))
        if k < len(sums):
            return start + k - 1, sums[k]
        start, total, size = start + len(sums) - 1, sums[-1], 2 * size
    return len(steps), total
