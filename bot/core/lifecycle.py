"""Where a run is in its life: the one place that says it, for every view (`/eta`, `/status`,
`/runs`, the live message, `/plot`).

`RunLife` is folded from what the rest of the core already decided: the alerts the detectors
fired (a crash, a stall, a slowdown and its end, the finish, a launch), the progress lines, the
log intake's word on a log it cannot read, a stop. `phase` reads it. Pure: times passed in.

A run that moves again after a stall or a crash (a progress line past where it stopped) is
running again, and says so once: the resume alert a relaunch already makes, else
`running_again`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.notices import (
    Alert,
    AlertType,
    CrashEvidence,
    Notice,
    RunningAgainEvidence,
    Severity,
    Slowed,
    StoppedEvidence,
)


class Phase(StrEnum):
    """What a run is doing; the value is its name in `replay --jsonl` and the texts' keys."""

    WAITING = "waiting"  # for its log, or for its first progress line
    RUNNING = "running"
    SLOWED = "slowed"  # a slowdown was said and has not ended
    STALLED = "stalled"  # a stall was said and nothing moved since
    CRASHED = "crashed"
    NOT_STARTED = "not_started"  # the process could not start (exit 127, ModuleNotFoundError...)
    STOPPED = "stopped"  # on request (`/stop`), or interrupted (Ctrl-C, SIGINT)
    FINISHED = "finished"


ENDED = frozenset({Phase.CRASHED, Phase.NOT_STARTED, Phase.STOPPED, Phase.FINISHED})
NO_COUNTDOWN = ENDED | {Phase.STALLED}  # no finish time is shown for these


NOT_STARTED = "could_not_start"  # the cause of a crash when the program never got going
INTERRUPTED = "interrupted"  # the cause of a stop etagram did not make: Ctrl-C or SIGINT


class WaitReason(StrEnum):
    """Why the log cannot be read (the follower waits and tries again)."""

    MISSING = "missing"
    PERMISSION = "permission"
    NOT_REGULAR = "not_regular"


_ENDINGS = {
    AlertType.FINISHED: Phase.FINISHED,
    AlertType.CRASH: Phase.CRASHED,
    AlertType.OOM: Phase.CRASHED,  # an OOM that the run survives is closed by its next line
    AlertType.STOPPED: Phase.STOPPED,
}
_LAUNCHES = frozenset({AlertType.STARTED, AlertType.RESUMED, AlertType.NEW_LAUNCH})


@dataclass(frozen=True, slots=True)
class Moved:
    """A progress line: its iteration, its run-clock time, the wall-clock seconds since the
    one before (None for the first)."""

    iter: int
    t_s: float
    silent_s: float | None


class RunLife:
    """What the views need to say the run's phase; `note` folds each batch of notices."""

    def __init__(self) -> None:
        self.ending: Phase | None = None
        self.ending_iter: int | None = None
        self.stalled = False
        self.slowed = False
        self.waiting: WaitReason | None = None
        self.stopped_by: str | None = None  # who asked for the stop (`/stop`), when known
        self.interrupted = False  # the stop was Ctrl-C or SIGINT, not `/stop`

    def phase(self, progressed: bool) -> Phase:
        """The run's phase; `progressed`: a progress line was read."""
        if self.ending is not None:
            return self.ending
        if self.waiting is not None:
            return Phase.WAITING
        if self.stalled:
            return Phase.STALLED
        if not progressed:
            return Phase.WAITING
        return Phase.SLOWED if self.slowed else Phase.RUNNING

    def blocks_steady(self) -> bool:
        """Lines that may move the run out of a stall or an end are folded one by one."""
        return self.stalled or self.ending is not None

    def note(self, run: str, notices: Sequence[Notice], moved: Moved | None) -> list[Notice]:
        """Fold the notices of one event; `moved`: the progress line it was, if any. The
        notices, with `running_again` when that line moved a stalled or crashed run and
        nothing else said so."""
        said = {n.type for n in notices if isinstance(n, Alert)}
        extra = self._moved(run, moved, said) if moved is not None else []
        for alert in (n for n in notices if isinstance(n, Alert)):
            self._alert(alert)
        return [*notices, *extra]

    def _moved(self, run: str, moved: Moved, said: set[AlertType]) -> list[Notice]:
        was = None
        if self.stalled:
            was = "stall"
        elif self.ending in (Phase.CRASHED, Phase.NOT_STARTED):
            was = "crash"
        past_end = self.ending_iter is None or moved.iter > self.ending_iter
        self.waiting = None
        if was is None or (was == "crash" and not past_end):
            return []
        self.stalled = False
        self.ending = None
        if said & _LAUNCHES:
            return []  # the relaunch is the message
        silent = moved.silent_s
        evidence = RunningAgainEvidence(was, round(silent, 1) if silent and silent > 0 else None)
        return [Alert(run, AlertType.RUNNING_AGAIN, Severity.INFO, moved.iter, moved.t_s, evidence)]

    def _alert(self, alert: Alert) -> None:
        kind = alert.type
        if kind in _ENDINGS:
            ev = alert.evidence
            not_started = isinstance(ev, CrashEvidence) and ev.cause == NOT_STARTED
            self.ending = Phase.NOT_STARTED if not_started else _ENDINGS[kind]
            self.interrupted = isinstance(ev, StoppedEvidence) and ev.cause == INTERRUPTED
            self.ending_iter = alert.iter
            self.stalled = self.slowed = False
        elif kind == AlertType.STALL:
            self.stalled = True
        elif isinstance(alert.evidence, Slowed) and alert.evidence.slowdown_pct is not None:
            self.slowed = alert.severity != Severity.INFO  # the info one says it is over
        elif kind in _LAUNCHES:
            self.ending = self.ending_iter = None
            self.stalled = self.slowed = False
