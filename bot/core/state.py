"""RunState: everything etagram knows about one run, folded from its events."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat
from operator import lt, sub

from bot.core.clock import RunClock
from bot.core.estimator import Estimator, EtaEstimate, eval_steps_from_config
from bot.core.events import Checkpoint, ErrorText, Eval, Event, Progress, RunConfig, TrainingEnd
from bot.core.gpu import GpuSnapshot
from bot.core.launches import NEW, Launch, Launches
from bot.core.lifecycle import ENDED, Phase, RunLife
from bot.core.notices import EvalNotice, Notice
from bot.core.traces import AlertMarks, GpuTrace

HISTORY_POINTS = 2000  # loss-curve points kept for /plot; older ones are thinned out
EVALS_KEPT = 1000  # eval records kept: the recent half whole, older ones thinned


@dataclass(frozen=True, slots=True)
class EvalRecord:
    iter: int | None
    t_s: float
    train_loss: float | None
    val_loss: float | None


@dataclass(frozen=True, slots=True)
class Point:
    iter: int
    t_s: float
    loss: float | None


class RunState:
    """One run. `apply` folds an event (and returns the eval notice an eval makes);
    `apply_gpu` keeps a GPU snapshot. The alerts are the detectors' (bot/core/monitor.py
    calls them after folding)."""

    def __init__(
        self,
        name: str,
        total_iters: int | None = None,
        eval_interval: int | None = None,
        max_epochs: int | None = None,
    ) -> None:
        self.name = name
        self.user_total_iters = total_iters  # given by the user: wins over the log
        self.user_max_epochs = max_epochs  # likewise, once the log says the epoch's length
        self.per_epoch: int | None = None  # iterations per epoch, from the last progress line
        self.user_eval_interval = eval_interval
        self.config: dict[str, int | float | str] = {}
        self.iter: int | None = None
        self.line_total: int | None = None  # total printed on progress lines
        self.loss: float | None = None
        self.t_s = 0.0
        self.last_progress_wall_s: float | None = None
        self.evals: list[EvalRecord] = []
        self.eval_count = 0  # every eval seen, including those thinned out of `evals`
        self.best: EvalRecord | None = None
        self.checkpoints = 0
        self.errors: list[ErrorText] = []
        self.ended: TrainingEnd | None = None
        self.resumes = 0  # launches after the first: resumes and new launches
        self.launch_book = Launches()
        self.launched: str | None = None  # first, new or resume: the last progress line's launch
        self._announced = False  # a new total was printed since the last progress line
        self.history: list[Point] = []
        self._stride = 1  # keep every n-th progress point in history
        self._seen = 0
        self.clock = RunClock()
        self.estimator = Estimator()
        self.gpu: GpuSnapshot | None = None  # the latest snapshot
        self.gpu_trace = GpuTrace()  # for /plot, as are the alert marks
        self.alert_marks = AlertMarks()
        self.life = RunLife()  # its phase, folded by RunMonitor from what the detectors said

    @property
    def phase(self) -> Phase:
        """Waiting, running, slowed, stalled, or how it ended (lifecycle.py)."""
        phase = self.life.phase(self.iter is not None)
        if phase in ENDED or self.ended is None:
            return phase
        if self.ended.reason == "stopped":
            return Phase.STOPPED
        return Phase.CRASHED if self.ended.failed else Phase.FINISHED

    @property
    def total_iters(self) -> int | None:
        """Given by the user, else printed on progress lines, else from the config dump."""
        return self._total()[0]

    @property
    def total_source(self) -> str | None:
        return self._total()[1]

    def _total(self) -> tuple[int | None, str | None]:
        if self.user_total_iters:
            return self.user_total_iters, "user"
        if self.user_max_epochs and self.per_epoch:
            return self.user_max_epochs * self.per_epoch, "user epochs"
        if self.line_total:
            return self.line_total, "progress line"
        value = self.config.get("max_iters")
        if isinstance(value, int | float) and value > 0:
            return int(value), "config"
        epochs = self.config.get("max_epochs")
        if isinstance(epochs, int) and epochs > 0 and self.per_epoch:
            return epochs * self.per_epoch, "config epochs"
        return None, None

    @property
    def launches(self) -> list[Launch]:
        """The launches this log held, oldest first (the latest `LAUNCHES_KEPT`)."""
        return self.launch_book.records

    @property
    def launch(self) -> Launch | None:
        """The current launch: the ETA, the milestones and /status follow it."""
        return self.launch_book.current

    @property
    def eval_interval(self) -> int | None:
        if self.user_eval_interval:
            return self.user_eval_interval
        value = self.config.get("eval_interval")
        return int(value) if isinstance(value, int | float) and value > 0 else None

    def apply(self, ev: Event, wall_s: float) -> list[Notice]:
        """Fold one event received at wall-clock time wall_s."""
        notices: list[Notice] = []
        if isinstance(ev, Progress):
            self._progress(ev, wall_s)
        elif isinstance(ev, Eval):
            notices.append(self._eval(ev, wall_s))
        elif isinstance(ev, Checkpoint):
            self.checkpoints += 1
            self.estimator.on_checkpoint(ev.iter)
        elif isinstance(ev, RunConfig):
            self._config(ev)
        elif isinstance(ev, ErrorText):
            self.errors = [*self.errors[-19:], ev]
        elif isinstance(ev, TrainingEnd):
            self.ended = ev
        return notices

    def steady_times(
        self, iters: list[int], dts: list[float], total: int | None
    ) -> tuple[list[float], float] | None:
        """For consecutive progress lines that carry an iteration, a printed duration (finite,
        >= 0) and the same total or none: their run-clock times and the typical step, when
        they can be folded at once (`settle_steady`); None when they must be applied one by
        one. Catch-up of a long backlog folds most of its lines this way."""
        launch = self.launch_book.current
        if (
            self.iter is None
            or launch is None
            or self._announced  # the next line starts a launch
            or iters[0] <= self.iter
            or total not in (None, self.line_total)
            or not all(map(lt, iters, iters[1:]))  # increasing: no resume among them
        ):
            return None
        return self.clock.dt_times(iters, dts)

    def settle_steady(
        self,
        iters: list[int],
        times: list[float],
        losses: list[float],
        typical_dt_s: float,
        wall_s: float,
    ) -> None:
        """Fold, as `apply` would one by one, the lines `steady_times` timed."""
        launch = self.launch_book.current
        assert launch is not None  # `steady_times` timed them
        self.clock.settle_dt(iters[-1], times[-1], typical_dt_s)
        self.launch_book.go_on(iters)
        self.launched = None
        self.t_s, self.iter, self.loss = times[-1], iters[-1], losses[-1]
        self.last_progress_wall_s = wall_s
        # As in `_progress`: the estimator counts from the launch's start.
        start = launch.start_t_s
        self.estimator.add_progress(iters, list(map(sub, times, repeat(start))))
        self._remember_many(iters, times, losses)

    def apply_gpu(self, snapshot: GpuSnapshot) -> None:
        """Keep the latest NVML snapshot."""
        self.gpu = snapshot
        self.gpu_trace.add(self.iter, snapshot)

    def _progress(self, ev: Progress, wall_s: float) -> None:
        kind = self.launched = self.launch_book.observe(ev.iter, self._announced)
        self._announced = False
        self.t_s = self.clock.advance(ev, wall_s, launched=kind is not None)
        launch = self.launch_book.current
        assert launch is not None
        if kind is not None:
            launch.start_t_s = self.t_s
        if kind == NEW:
            self._new_launch()
        if kind is not None and self.iter is not None:
            self.resumes += 1
            self.ended = None  # it runs again
        self.iter, self.last_progress_wall_s = ev.iter, wall_s
        if ev.total:
            self.line_total = ev.total
        if ev.per_epoch:
            self.per_epoch = ev.per_epoch
        if ev.loss is not None:
            self.loss = ev.loss
        launch.total, launch.total_source = self._total()
        launch.clock_source = self.clock.source
        # The estimator counts from the launch's start: its elapsed time is the launch's.
        self.estimator.on_progress(ev.iter, self.t_s - launch.start_t_s, ev.remaining_s, ev.done)
        self._remember(Point(ev.iter, self.t_s, ev.loss))

    def _config(self, ev: RunConfig) -> None:
        """A config dump; one that changes the total once progress began announces a launch."""
        before = self.total_iters
        self.config.update(ev.values)
        if self.iter is not None and before is not None and self.total_iters != before:
            self._announced = True  # a first total is news, not a launch

    def _new_launch(self) -> None:
        """A counter back to about zero: a new run in the same file. What was learnt about
        the previous one (speed, evals, total, loss curve, best eval) does not hold for it."""
        self.estimator = Estimator()
        self.line_total = None
        self.history, self._stride, self._seen = [], 1, 0
        self.evals, self.best = [], None

    def _remember(self, point: Point) -> None:
        """Bounded history: when full, drop every other point and keep half as many."""
        self._seen += 1
        if self._seen % self._stride:
            return
        self.history.append(point)
        if len(self.history) >= HISTORY_POINTS:
            self.history = self.history[::2]
            self._stride *= 2

    def _remember_many(self, iters: list[int], times: list[float], losses: list[float]) -> None:
        """`_remember` for each point, taking those kept by slices."""
        seen, n = self._seen, len(iters)
        k = -(seen + 1) % self._stride  # the first kept: (seen + k + 1) % stride == 0
        while k < n:
            stride, room = self._stride, HISTORY_POINTS - len(self.history)
            kept = range(k, n, stride)[:room]
            cut = slice(kept.start, kept.stop, stride)
            self.history += map(Point, iters[cut], times[cut], losses[cut])
            if len(self.history) < HISTORY_POINTS:
                break
            self.history = self.history[::2]
            self._stride *= 2
            last = kept[-1]
            k = last + 1 + (-(seen + last + 2) % self._stride)
        self._seen += n

    def _eval(self, ev: Eval, wall_s: float) -> EvalNotice:
        it = ev.iter if ev.iter is not None else self.iter
        record = EvalRecord(it, self.t_s, ev.train_loss, ev.val_loss)
        self.evals.append(record)
        self.eval_count += 1
        if len(self.evals) > EVALS_KEPT:
            recent = EVALS_KEPT // 2
            self.evals = self.evals[:-recent][::2] + self.evals[-recent:]
        self.estimator.on_eval(it)
        previous = self.best.val_loss if self.best else None
        if (
            ev.val_loss is not None
            and math.isfinite(ev.val_loss)
            and (previous is None or ev.val_loss < previous)
        ):
            self.best = record
        eta = self.eta()
        return EvalNotice(
            self.name,
            it,
            ev.train_loss,
            ev.val_loss,
            self.best.val_loss if self.best else None,
            self.best.iter if self.best else None,
            previous,
            eta,
            self.finish_at(eta, wall_s),
        )

    def eta(self) -> EtaEstimate:
        return self.estimator.estimate(
            self.total_iters, self.eval_interval, eval_steps=eval_steps_from_config(self.config)
        )

    def finish_at(self, eta: EtaEstimate, now_wall_s: float) -> float | None:
        """Wall-clock finish: the estimate counts from the last progress line, not from now."""
        if eta.remaining_s is None:
            return None
        start = self.last_progress_wall_s if self.last_progress_wall_s is not None else now_wall_s
        return start + eta.remaining_s
