"""Running sums at speed: where a sum of durations, added one by one, reaches a limit.

The step time of the estimator (blocks) and of the slowdown tracker (chunks) is measured over
spans of the run clock that end at the first line where a running sum of the lines' durations
reaches a limit. A backlog has millions of such lines: `reach` finds that line by bisection on
the clock, then checks it with the very floats the running sum makes (the same additions in
the same order, in C), so the spans end at the same lines, with the same sums, as line by
line. Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from functools import reduce
from operator import add


def reach(
    times: Sequence[float],
    steps: list[float],
    start: int,
    total: float,
    limit: float,
    first: int = 0,
) -> tuple[int, float]:
    """Adding `steps` (each >= 0; `steps[j]` is `times[j]` minus the time before it) from
    `start` on to `total`, one by one: the first index, `first` or later, where the sum
    reaches `limit`, and the sum there; (len(steps), the sum of them all) when it never
    does."""
    if start >= len(steps):
        return len(steps), total
    low = max(first, start)
    # Where the clock says the sum gets there; the sums themselves may differ in the last
    # bits from the clock's differences, so the line is checked with them.
    guess = max(low, bisect_left(times, times[start] - steps[start] + (limit - total), start))
    if guess > start:
        before = reduce(add, steps[start:guess], total)  # as added one by one (`sum` may not)
        if guess > low and before >= limit:  # the sum got there a little earlier
            guess, before = start, total
    else:
        before = total
    for k in range(guess, len(steps)):
        before += steps[k]
        if k >= low and before >= limit:
            return k, before
    return len(steps), before
