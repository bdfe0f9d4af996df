"""One followed run: its parser, its state and its detectors. Lines in, notices out; pure.

Each event is folded into the state first (`RunState.apply`), then the detectors look at the
event and the state it made; the state knows nothing of the detectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.core import catchup
from bot.core.detectors import Detectors, Thresholds
from bot.core.events import Event, Progress, TrainingEnd
from bot.core.gpu import GpuSnapshot
from bot.core.lifecycle import Moved, WaitReason
from bot.core.notices import AlertType, Folded, Notice
from bot.core.parsers.base import LineParser
from bot.core.parsers.pattern import PatternParser
from bot.core.parsers.registry import AutoParser, make_parser
from bot.core.resources import DiskUsage
from bot.core.state import RunState


class RunMonitor:
    """Parses a run's log lines, folds them into its RunState and runs its detectors."""

    def __init__(
        self,
        name: str,
        fmt: str | None = None,
        total_iters: int | None = None,
        eval_interval: int | None = None,
        thresholds: Thresholds | None = None,
        progress_pattern: str | None = None,
        max_epochs: int | None = None,
    ) -> None:
        """`progress_pattern`, a user's regex (see `parsers.pattern`), replaces the format;
        `max_epochs` x the iterations per epoch the log shows is the total (`total_iters` wins)."""
        self.parser: LineParser = (
            PatternParser(progress_pattern) if progress_pattern else make_parser(fmt)
        )
        self.state = RunState(name, total_iters, eval_interval, max_epochs)
        self.detectors = Detectors(name, thresholds)
        self.lines_caught_up = 0  # progress lines `catch_up` folded at speed

    def rename(self, name: str) -> None:
        """The run is called `name` from now on (its log said which run it is)."""
        self.state.name = self.detectors.run = name

    def feed(self, lines: Iterable[str], wall_s: float) -> Folded:
        """Parse lines received at wall-clock time wall_s and fold their events."""
        apply = self.apply
        return [(ev, apply(ev, wall_s)) for ev in self.parser.feed_many(lines)]

    def flush(self, wall_s: float) -> Folded:
        """Let an auto-detecting parser decide with the lines it still holds back (at the end
        of a finished log, or when a followed log goes quiet before its format is certain)."""
        events = self.parser.flush() if isinstance(self.parser, AutoParser) else []
        return [(ev, self.apply(ev, wall_s)) for ev in events]

    def apply(self, ev: Event, wall_s: float) -> list[Notice]:
        """Fold one event received at wall-clock time wall_s; what is to be said about it."""
        state = self.state
        last_moved = state.last_progress_wall_s
        notices = state.apply(ev, wall_s)
        alerts = self.detectors.on_event(ev, state, wall_s)
        # The start comes before what the line that opened the run says (an eval's losses).
        first = [a for a in alerts if a.type == AlertType.STARTED]
        notices = [*first, *notices, *(a for a in alerts if a not in first)]
        if not isinstance(ev, Progress):
            return self._marked(notices)
        silent_s = wall_s - last_moved if last_moved is not None else None
        return self._marked(notices, Moved(ev.iter, state.t_s, silent_s))

    def apply_gpu(self, snapshot: GpuSnapshot, wall_s: float, *, own: bool = False) -> list[Notice]:
        """Fold one NVML snapshot taken at wall-clock time wall_s (`own`: only the run's GPUs)."""
        self.state.apply_gpu(snapshot)
        return self._marked(self.detectors.on_gpu(snapshot, self.state, wall_s, own=own))

    def apply_disk(self, usage: DiskUsage) -> list[Notice]:
        """Fold one reading of the disk the run's checkpoints go to."""
        return self._marked(self.detectors.on_disk(usage, self.state))

    def apply_job_end(self, job_end_s: float, wall_s: float) -> list[Notice]:
        """Fold the SLURM job's end (epoch seconds), read at wall-clock time wall_s."""
        return self._marked(self.detectors.on_job_end(job_end_s, self.state, wall_s))

    def checkpoint_dir(self, argv: list[str], cwd: str, log_dir: str) -> str:
        """Where the run's checkpoints go, as far as its log and command say."""
        return self.detectors.checkpoint_dir(self.state, argv, cwd, log_dir)

    def tick(self, wall_s: float) -> list[Notice]:
        """Time passed with nothing new: the checks about silence (stall, a crash)."""
        return self._marked(self.detectors.on_tick(self.state, wall_s))

    def end_of_log(self) -> list[Notice]:
        """A finished log ends here (replay): a failure still in suspense ended the run."""
        return self._marked(self.detectors.on_end_of_log(self.state))

    def _marked(self, notices: Sequence[Notice], moved: Moved | None = None) -> list[Notice]:
        """The notices, folded into the run's phase (with `running_again` when `moved`, a
        progress line, moved it out of a stall or a crash), their alerts kept as marks on the
        run's chart."""
        state = self.state
        said = state.life.note(state.name, notices, moved)
        return state.alert_marks.noted(said, state.iter)

    def end(
        self, exit_code: int | None, wall_s: float, stopped_by: str | None = None
    ) -> list[Notice]:
        """The launched process exited; `stopped_by`: on whose request (`/stop`), if so."""
        if stopped_by is not None:
            self.state.life.stopped_by = stopped_by
            return self.apply(TrainingEnd(exit_code, "stopped", stopped_by), wall_s)
        reason = "exit" if exit_code == 0 else "crash"
        return self.apply(TrainingEnd(exit_code, reason), wall_s)

    def waiting(self, reason: WaitReason | None) -> None:
        """The log intake cannot read the log (`reason`), or can again (None)."""
        self.state.life.waiting = reason

    def catch_up(self, lines: Sequence[str], wall_s: float) -> Folded:
        """`feed` for the lines of a long backlog: the same state, at speed (catchup.py)."""
        return catchup.fold(self, lines, wall_s)

    def apply_steady(
        self,
        iters: list[int],
        losses: list[float],
        dts: list[float],
        total: int | None,
        wall_s: float,
    ) -> bool:
        """Fold at once consecutive progress lines (finite losses) read at `wall_s`, when
        they can say nothing: the run goes on at its pace. False, with nothing folded, when
        any of them might (the caller applies them one by one)."""
        if self.state.life.blocks_steady():
            return False  # the first line may move the run out of a stall or an end
        timed = self.state.steady_times(iters, dts, total)
        if timed is None:
            return False
        times, typical_dt_s = timed
        plan = self.detectors.steady_plan(iters, times, losses, self.state, wall_s)
        if plan is None:
            return False
        self.state.settle_steady(iters, times, losses, typical_dt_s, wall_s)
        self.detectors.settle(plan)
        return True
