"""The one back-off policy: a wait that doubles with each failure in a row, from `first_s`
up to `max_s`. Callers count the failures and sleep; tests pass shorter policies."""

from __future__ import annotations

from dataclasses import dataclass

MAX_DOUBLINGS = 64  # 2**64 times any first wait is past any cap; more would overflow a float


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float
    max_s: float

    def delay_s(self, failures: int) -> float:
        """The wait after `failures` failures in a row (1: the first)."""
        doublings = min(max(failures - 1, 0), MAX_DOUBLINGS)
        return min(self.max_s, self.first_s * 2.0**doublings)
