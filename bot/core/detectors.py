"""Alert detectors: pure functions of the events and the run state.

Each condition fires once, and again only after it has cleared (a NaN loss that comes back
after finite losses is a new alert; forty NaN lines in a row are one).
"""

from __future__ import annotations

import math

from bot.core.events import ErrorText, Event, Progress, TrainingEnd
from bot.core.notices import Alert


class Detectors:
    """Turns events into alerts for one run, remembering which conditions are active."""

    def __init__(self, run: str) -> None:
        self.run = run
        self._active: set[str] = set()

    def check(self, ev: Event, it: int | None, t_s: float) -> list[Alert]:
        """Alerts caused by this event, given the run's current iteration and clock."""
        if isinstance(ev, Progress) and ev.loss is not None:
            return self._edge(
                "nan", not math.isfinite(ev.loss), "critical", it, t_s, {"loss": str(ev.loss)}
            )
        if isinstance(ev, ErrorText) and ev.kind == "oom":
            return self._once("oom", "critical", it, t_s, dict(ev.details))
        if isinstance(ev, TrainingEnd):
            return self._end(ev, it, t_s)
        return []

    def _end(self, ev: TrainingEnd, it: int | None, t_s: float) -> list[Alert]:
        if ev.exit_code not in (None, 0) or ev.reason == "crash":
            code: dict[str, float | int | str] = {}
            if ev.exit_code is not None:
                code["exit_code"] = ev.exit_code
            return self._once("crash", "critical", it, t_s, code)
        return self._once("finished", "info", it, t_s, {})

    def _edge(
        self,
        kind: str,
        on: bool,
        severity: str,
        it: int | None,
        t_s: float,
        evidence: dict[str, float | int | str],
    ) -> list[Alert]:
        if not on:
            self._active.discard(kind)
            return []
        return self._once(kind, severity, it, t_s, evidence)

    def _once(
        self,
        kind: str,
        severity: str,
        it: int | None,
        t_s: float,
        evidence: dict[str, float | int | str],
    ) -> list[Alert]:
        if kind in self._active:
            return []
        self._active.add(kind)
        return [Alert(self.run, kind, severity, it, t_s, evidence)]
