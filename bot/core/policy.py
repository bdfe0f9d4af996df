"""The push policy: which notices become pushes, and which chat gets which push.

- Evals follow the chat's `/evals` setting; progress milestones (`milestones_pct`) are derived
  here from the run's state as its notices flow (the detectors only report what the log says).
- A muted chat gets only critical alerts (`critical`: OOM, crash, NaN, lost GPU by default);
  an unsubscribed chat gets nothing. Routine pushes are silent, alerts and the finish loud.
- A replayed backlog rebuilds the state quietly: only its warnings and critical alerts go out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.estimator import EtaEstimate
from bot.core.launches import NEW
from bot.core.notices import Alert, EvalNotice, Notice
from bot.core.prefs import ChatPrefs
from bot.core.state import RunState

DEFAULT_CRITICAL = frozenset({"oom", "crash", "nan", "gpu_lost"})
RINGING_INFO = frozenset({"finished"})  # the push people wait for: it makes a sound


@dataclass(frozen=True, slots=True)
class Milestone:
    """The run went past `pct` % of its iterations."""

    run: str
    pct: int
    iter: int
    total: int
    eta: EtaEstimate
    finish_at_s: float | None


Push = Notice | Milestone


@dataclass
class _RunMemory:
    milestones: set[int] = dataclasses.field(default_factory=set)
    launch: int = 0  # the launch the milestones were passed in: a new one passes them again
    alerts: dict[tuple[str, int | None], int] = dataclasses.field(default_factory=dict)


class PushPolicy:
    """Who gets what; it remembers the milestones each run passed."""

    def __init__(
        self,
        milestones_pct: Iterable[int] = (25, 50, 75),
        critical: frozenset[str] = DEFAULT_CRITICAL,
    ) -> None:
        self.milestones_pct = sorted(set(milestones_pct))
        self.critical = critical
        self._runs: dict[str, _RunMemory] = {}

    def expand(
        self, state: RunState, notices: list[Notice], *, replayed: bool, now_s: float
    ) -> list[Push]:
        """The core's notices and the progress milestones derived from the state. A replayed
        backlog (lines handled before a restart, or a log that was already long when first
        followed) pushes only its warnings and critical alerts."""
        memory = self._runs.setdefault(state.name, _RunMemory())
        notices = [_counted(n, memory.alerts) for n in notices]
        milestone = self._milestone(state, memory, now_s)
        if replayed:
            return [n for n in notices if isinstance(n, Alert) and n.severity != "info"]
        return [milestone, *notices] if milestone is not None else list(notices)

    def _milestone(self, state: RunState, memory: _RunMemory, now_s: float) -> Milestone | None:
        total, it = state.total_iters, state.iter
        if not total or it is None or state.ended is not None:
            return None
        if memory.launch != state.launch_book.count:
            memory.launch = state.launch_book.count
            if state.launch is not None and state.launch.kind == NEW:
                memory.milestones = set()  # a resume goes on; a new launch passes them again
        passed = [p for p in self.milestones_pct if 100 * it >= p * total]
        new = [p for p in passed if p not in memory.milestones]
        memory.milestones.update(passed)
        if not new:
            return None
        eta = state.eta()  # only now: this runs for every batch of lines
        finish = state.finish_at(eta, now_s)
        return Milestone(state.name, max(new), it, total, eta, finish)  # one message, not a flood

    def wants(self, prefs: ChatPrefs, state: RunState, push: Push, now_s: float) -> bool:
        """Whether a chat with these preferences gets this push now."""
        if not prefs.subscribed:
            return False
        if isinstance(push, Alert) and push.type in self.critical:
            return True
        if prefs.muted(now_s):
            return False
        if isinstance(push, EvalNotice):
            val, previous = push.val_loss, push.previous_best
            new_best = (
                val is not None and math.isfinite(val) and (previous is None or val < previous)
            )
            return prefs.evals.wants(_ordinal(state, push.iter), new_best)
        return True


def is_silent(push: Push) -> bool:
    """Routine pushes make no sound; alerts do, and so does the end of a run."""
    if not isinstance(push, Alert):
        return True
    return push.severity == "info" and push.type not in RINGING_INFO


def identity(push: Push) -> tuple[str, str]:
    """(kind, what makes it unique in its run): the outbox key sends it once."""
    if isinstance(push, EvalNotice):
        return "eval", str(push.iter)
    if isinstance(push, Milestone):
        return "milestone", str(push.pct)
    if push.type == "started":  # once per run; the iteration it is noticed at varies with
        return "alert", "started"  # how the lines were batched (a restart re-reads them)
    repeat = f":{push.nth + 1}" if push.nth else ""  # the first keeps the key it always had
    return "alert", f"{push.type}:{push.iter}{repeat}"


def _counted(notice: Notice, seen: dict[tuple[str, int | None], int]) -> Notice:
    """The alert numbered among the run's alerts of its type at its iteration. Every alert
    counts, replayed or not: the backlog read again at a restart numbers its alerts as the
    first reading did, so they find their rows in the outbox."""
    if not isinstance(notice, Alert):
        return notice
    nth = seen.get((notice.type, notice.iter), 0)
    seen[(notice.type, notice.iter)] = nth + 1
    return dataclasses.replace(notice, nth=nth) if nth else notice


def _ordinal(state: RunState, it: int | None) -> int:
    """1-based rank of the eval at iteration `it` among the run's evals (pushes are made
    right after their eval, so it is among the recent ones, which are all kept)."""
    kept = len(state.evals)
    for back in range(kept):
        if state.evals[kept - 1 - back].iter == it:
            return state.eval_count - back
    return state.eval_count
