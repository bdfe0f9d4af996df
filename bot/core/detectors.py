"""Alert detectors: pure functions of the events, the GPU snapshots and the time passed in.

`Detectors` holds one run's detector state. RunMonitor calls it after folding each event
(`on_event`), each GPU snapshot (`on_gpu`), each periodic tick (`on_tick`, for the checks
that are about time passing) and at the end of a finished log (`on_end_of_log`). The state
machines it consults (losses, step time, GPU history, the current failure) are in
`bot/core/trackers.py`; this module holds the rules.

Rules that decide what is said (each alert is sent once; its condition must clear before
the same type is sent again for the run):

- `oom` (critical): the first OOM line of a failure, with the numbers it prints. One failure
  prints a traceback, OOM lines (repeated by chained exceptions and by each rank) and a
  `ChildFailedError`: these are one incident, closed when training advances again. A
  wrapper line without numbers (`Caught OutOfMemoryError in replica 0`) is held until the
  original OOM line that follows it, so the alert carries the numbers. A crash in an incident
  that already has an OOM is folded into the OOM alert: no second critical alert.
- `crash` (critical): a SLURM cancellation (its cause said: time limit or cancelled), a
  killed process (`Killed`, `srun: error: ... Killed`, a launcher killing its workers), an
  exit code that is not 0, a C++ `terminate called`, a CUDA error or a `ChildFailedError` end
  the run at once. A Python traceback alone is only a suspicion (handled exceptions print them
  too): it becomes a crash when the run exits, restarts (a progress counter going back, or a
  start-up banner: a new launch), stays silent for a grace period (`on_tick`), when the log
  ends there (`on_end_of_log`), when Hydra says the job failed, or when a second process
  prints the same exception once training ran (several ranks failed the same way); training
  that advances clears it. The alert quotes the latest exception line (a kill or an exit that
  follows one is its consequence, a `ChildFailedError` its wrapper: one alert) and carries the
  current launch's iteration, none before its first progress line (a start-up crash).
  A crash before the launch's first iteration that says the program never got going (an exit
  code 126 or 127, not executable or not found; Python's `can't open file`,
  `ModuleNotFoundError`, `ImportError`) has the cause `could_not_start`: nothing to resume.
  A failure whose first exception is a `KeyboardInterrupt` (Ctrl-C, or SIGINT from a
  scheduler) is no crash but a `stopped` warning with the cause `interrupted` (its owner may
  not have asked for it); one that came during another failure (an OOM, an exception first in
  a chain) stays that failure.
- `nan` (critical): a non-finite training or eval loss. Intermittent NaNs are one condition:
  it re-arms only after `NAN_REARM_POINTS` finite losses in a row.
- `loss_spike` (warning): a robust z-score (median/MAD of the recent losses) above
  `loss_spike_z` for `SPIKE_POINTS` losses in a row, or followed by a non-finite one. A
  session that starts mid-run (a resume) is judged from its first loss.
- `slowdown`/`thermal`/`power` (warning): the ordinary step time stays above the run's own
  baseline by `slowdown_pct` for `slowdown_min_s` of run clock. It is `thermal` or `power`
  only when NVML saw the matching clock event reasons during the episode. Without GPU
  evidence (replay, GPUs not readable) the log alone must make it plain, or it stays a drift
  the ETA and /status show: every chunk after the episode's first at least
  `BARE_SLOWDOWN_FACTOR` x the baseline and `BARE_SLOWDOWN_SPREADS` robust spreads above it,
  starting past the session's warm-up (`WARMUP_S` of run clock and `WARMUP_SHARE` of the
  total); it is then `slowdown`. Recovery is said once (same type, `info`, evidence
  `recovered`), only for an episode that was said: `RECOVERY_CHUNKS` normal chunks re-arm.
  Thermal reasons lasting `slowdown_min_s` with no slowdown give a `thermal` warning
  without a cost.
- `stall` (warning): no progress for max(stall_factor x the usual interval, the longest
  pause already survived x 1.5, stall_floor_s) of wall clock; or at once when NCCL's watchdog
  says a collective timed out (the ranks' exceptions that follow are its echo: the crash is
  said when the job is torn down).
- `memory_pressure` (warning): a GPU above `memory_pressure_pct` for `MEMORY_SAMPLES`
  snapshots in a row. `gpu_lost` (critical): NVML says a GPU fell off the bus.
- `gpu_idle`, `disk_full`, `slurm_deadline` (warning): see `bot/core/resources.py`.
- `started`, `resumed`, `new_launch`, `finished` (info): the first progress line (with the
  first ETA when known) or an eval before it, whichever comes first; an iteration that jumps
  back part of the way or to about zero (see launches.py); the last iteration or a clean exit
  (with the evidence of the end: time taken, first estimate of the total, best and last val
  loss, exit code). `stopped` (info): the launched process ended on request (`/stop`), who
  asked in `by`; (warning) a `KeyboardInterrupt` ended the run, see `crash`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, fields
from typing import TypeVar

from bot.core.events import Checkpoint, ErrorText, Eval, Event, Progress, TrainingEnd
from bot.core.gpu import (
    GpuSample,
    GpuSnapshot,
    is_thermal_limited,
    memory_used_fraction,
    sm_clock_ratio,
)
from bot.core.launches import NEW
from bot.core.lifecycle import INTERRUPTED, NOT_STARTED
from bot.core.notices import (
    Alert,
    AlertType,
    CrashEvidence,
    Evidence,
    FinishedEvidence,
    GpuLostEvidence,
    LossSpikeEvidence,
    MemoryPressureEvidence,
    NanEvidence,
    NewLaunchEvidence,
    OomEvidence,
    PowerEvidence,
    ResumedEvidence,
    Severity,
    SlowdownEvidence,
    StallEvidence,
    StartedEvidence,
    StoppedEvidence,
    ThermalEvidence,
)
from bot.core.parsers.errors import exception_shape
from bot.core.resources import DeadlineWatch, DiskUsage, DiskWatch, IdleWatch, checkpoint_dir
from bot.core.state import RunState
from bot.core.trackers import GpuWatch, Incident, Lifecycle, LossWatch, Slowdown, SlowdownChange

INFO, WARNING, CRITICAL = Severity.INFO, Severity.WARNING, Severity.CRITICAL

NAN_REARM_POINTS = 500  # finite losses in a row before a new NaN is a new alert
SPIKE_POINTS = 3  # losses in a row above the threshold: one noisy batch is not a spike
RESUMED_FROM_ITER = 100  # a session whose first iteration is past this resumes a run
CRASH_GRACE_FACTOR = 3.0  # a traceback then silence for this many usual intervals: a crash
CRASH_GRACE_FLOOR_S = 60.0
STALL_PAUSE_FACTOR = 1.5  # a pause as long as one already survived is not a stall
MEMORY_SAMPLES = 3  # snapshots in a row above the threshold before memory_pressure
MEMORY_CLEAR_PCT = 2.0  # hysteresis below the threshold
# A slowdown without GPU evidence (replay, no NVML) may be a data loader, a shared disk or a
# noisy logger: pushed only when large, beyond the run's own noise and past its warm-up.
BARE_SLOWDOWN_FACTOR = 2.0  # windowed step times of a healthy run swing by half
BARE_SLOWDOWN_SPREADS = 3.0
WARMUP_S = 600.0  # run clock after a session's first line: loaders and compilation settle
WARMUP_SHARE = 0.02  # and this share of the total, where known (epoch 0's caches)
NOT_STARTED_EXIT_CODES = (126, 127)  # not executable, not found (what a shell returns)
NOT_STARTED_ERROR = re.compile(r"can't open file|ModuleNotFoundError|ImportError")
INTERRUPT_ERROR = re.compile(r"KeyboardInterrupt\b")
# GPUs not known to be the run's are judged only while its log moves: a progress line within
# this share of the idle window, or this many usual intervals.
LOG_MOVING_SHARE = 0.5
LOG_MOVING_INTERVALS = 3.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Alert thresholds; `bot.config.Config` takes its defaults from here."""

    memory_pressure_pct: float = 97.0
    slowdown_pct: float = 15.0
    slowdown_min_s: float = 120.0
    stall_factor: float = 10.0
    stall_floor_s: float = 600.0
    loss_spike_z: float = 8.0
    gpu_idle_pct: float = 5.0
    gpu_idle_min_s: float = 600.0
    disk_full_pct: float = 95.0

    @classmethod
    def from_config(cls, config: object) -> Thresholds:
        """The thresholds of any object with these attribute names (the service's Config)."""
        return cls(**{f.name: float(getattr(config, f.name)) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class SteadyPlan:
    """Progress lines folded at once (`Detectors.steady_plan`)."""

    iters: list[int]
    losses: list[float]
    wall_s: float
    slowdown: Slowdown  # a copy, with these lines


class Detectors:
    """Turns one run's events, snapshots and ticks into alerts, each sent once."""

    def __init__(self, run: str, thresholds: Thresholds | None = None) -> None:
        self.run = run
        self.th = thresholds or Thresholds()
        self._active: set[str] = set()
        self._life = Lifecycle()
        self._incident = Incident()
        self._loss = LossWatch(self.th.loss_spike_z)
        self._slow = Slowdown(self.th.slowdown_pct / 100, self.th.slowdown_min_s)
        self._gpu = GpuWatch()
        self._iter: int | None = None  # the current launch's last iteration (None before one)
        self._idle = IdleWatch(self.th.gpu_idle_pct, self.th.gpu_idle_min_s)
        self._disk = DiskWatch(self.th.disk_full_pct)
        self._deadline = DeadlineWatch()
        self._saved_to: str | None = None  # the last checkpoint's path, as the log says it

    # Entry points --------------------------------------------------------------------------
    def on_event(self, ev: Event, state: RunState, wall_s: float) -> list[Alert]:
        """Alerts caused by `ev`, already folded into `state`, received at `wall_s`."""
        if isinstance(ev, Progress):
            return self._progress(ev, state, wall_s)
        if isinstance(ev, Eval):
            self._slow.pause()
            return self._opening_eval(ev, state) + self._eval_losses(ev, state)
        if isinstance(ev, Checkpoint):
            self._slow.pause()
            self._saved_to = ev.path or self._saved_to
            return []
        if isinstance(ev, ErrorText):
            return self._error(ev, state, wall_s)
        if isinstance(ev, TrainingEnd):
            return self._end(ev, state)
        return []

    def on_gpu(
        self, snapshot: GpuSnapshot, state: RunState, wall_s: float, *, own: bool = False
    ) -> list[Alert]:
        """Alerts from one NVML snapshot taken at `wall_s`; `own`: its GPUs are known to be
        the run's (not every GPU of the machine for want of a mapping)."""
        if snapshot.error is not None:
            return []
        self._gpu.remember(snapshot, wall_s)
        alerts = self._gpu_lost(snapshot, state)
        alerts += self._memory(snapshot, state)
        alerts += self._thermal_warning(snapshot, state, wall_s)
        alive = self._alive() and (own or self._log_moving(wall_s))
        idle = self._idle.update(snapshot.gpus, wall_s, alive=alive, own=own)
        return alerts + self._said(AlertType.GPU_IDLE, WARNING, state, idle)

    def on_disk(self, usage: DiskUsage, state: RunState) -> list[Alert]:
        """Alerts from one reading of the disk the run's checkpoints go to."""
        if self._life.over:
            return []
        return self._said(AlertType.DISK_FULL, WARNING, state, self._disk.update(usage))

    def on_job_end(self, job_end_s: float, state: RunState, wall_s: float) -> list[Alert]:
        """Alerts from the SLURM job's end (epoch seconds), read at `wall_s`."""
        finish_s = state.finish_at(state.eta(), wall_s)
        if not self._alive() or finish_s is None:
            return []
        evidence = self._deadline.update(job_end_s, finish_s, wall_s)
        severity = INFO if evidence is not None and evidence.resolved else WARNING
        return self._said(AlertType.SLURM_DEADLINE, severity, state, evidence)

    def checkpoint_dir(self, state: RunState, argv: list[str], cwd: str, log_dir: str) -> str:
        """Where the run's checkpoints go (`resources.checkpoint_dir`)."""
        return checkpoint_dir(self._saved_to, state.config, argv, cwd, log_dir)

    def _alive(self) -> bool:
        """The current launch trains: it printed progress, and neither its end nor a stall
        was said since."""
        return self._iter is not None and not self._life.over and "stall" not in self._active

    def _log_moving(self, wall_s: float) -> bool:
        """A progress line lately: GPUs not known to be the run's say nothing of its process,
        and an old log read again at start-up must not pass for a run that idles."""
        last, usual = self._life.last_wall_s, self._life.usual_interval_s() or 0.0
        window = max(self.th.gpu_idle_min_s * LOG_MOVING_SHARE, LOG_MOVING_INTERVALS * usual)
        return last is not None and wall_s - last <= window

    def _said(
        self, kind: AlertType, severity: Severity, state: RunState, evidence: Evidence | None
    ) -> list[Alert]:
        """An alert whose watch (resources.py) keeps its own once-only state."""
        if evidence is None:
            return []
        return [Alert(self.run, kind, severity, state.iter, state.t_s, evidence)]

    def on_tick(self, state: RunState, wall_s: float) -> list[Alert]:
        """Checks about time passing: a traceback followed by silence, a stall."""
        alerts = self._incident_timeout(state, wall_s)
        if alerts or self._life.over:
            return alerts
        return self._stall(state, wall_s)

    def on_end_of_log(self, state: RunState) -> list[Alert]:
        """A finished log ends here: a failure still in suspense ended the run."""
        return self._close_incident(state, confirmed=True)

    # Cool-down ----------------------------------------------------------------------------
    def _fire(
        self,
        key: str,
        kind: AlertType,
        severity: Severity,
        it: int | None,
        t_s: float,
        evidence: Evidence,
        eta_change_s: float | None = None,
    ) -> list[Alert]:
        if key in self._active:
            return []
        self._active.add(key)
        return [Alert(self.run, kind, severity, it, t_s, evidence, eta_change_s)]

    def _clear(self, *keys: str) -> None:
        self._active.difference_update(keys)

    # Progress ------------------------------------------------------------------------------
    def _progress(self, ev: Progress, state: RunState, wall_s: float) -> list[Alert]:
        life, inc = self._life, self._incident
        alerts: list[Alert] = []
        if life.first:
            alerts += self._started(ev, state)
        elif state.launched is not None:
            alerts += self._resumed(ev, state)
        if inc.open and (inc.iter is None or ev.iter > inc.iter):
            alerts += self._close_incident(state, confirmed=False)  # training went on
        self._iter = ev.iter
        stalled = "stall" in self._active
        self._clear("stall")
        life.step(ev.iter, wall_s, survived=not stalled)
        self._watch_first_eta(state)
        alerts += self._losses(ev, state)
        alerts += self._step_time(ev, state, wall_s)
        total = state.total_iters
        if total is not None and ev.iter >= total:
            alerts += self._finished(state)
        return alerts

    def steady_plan(
        self,
        iters: list[int],
        times: list[float],
        losses: list[float],
        state: RunState,
        wall_s: float,
    ) -> SteadyPlan | None:
        """What `on_event` for each of these progress lines (increasing iterations past any
        seen, run-clock times, losses, read at `wall_s`; the total unchanged) would fold,
        when it would say nothing and change no condition: mid-run, no failure open, no
        finish, the first ETA already watched, calm losses, no slowdown starting. None
        otherwise. Pure: `settle` folds the plan."""
        life, total = self._life, state.total_iters
        if (
            life.first
            or self._incident.open
            or iters[0] <= state.launch_book.high  # a launch among them
            or (total is not None and iters[-1] >= total)
            or (total is not None and life.first_eta is None and life.eta_tries > 0)
            or not math.isfinite(sum(losses))
            or not self._loss.calm(losses)
        ):
            return None
        slow = self._slow.with_progress(iters, times, wall_s)
        return None if slow is None else SteadyPlan(iters, losses, wall_s, slow)

    def settle(self, plan: SteadyPlan) -> None:
        """Fold what `steady_plan` planned."""
        self._iter = plan.iters[-1]
        stalled = "stall" in self._active
        self._clear("stall")
        self._life.steady(plan.iters, plan.wall_s, survived=not stalled)
        watch = self._loss
        watch.finite_run += len(plan.losses)
        if watch.finite_run >= NAN_REARM_POINTS:
            self._clear("nan")
        if watch.add_calm(plan.losses):
            self._clear("loss_spike")
        watch.spike_start = None
        self._slow = plan.slowdown

    def _opening_eval(self, ev: Eval, state: RunState) -> list[Alert]:
        """An eval before any progress line (nanoGPT's at iteration 0, HF's `eval_on_start`)
        opens the run: the start is said first, as it is on a first progress line."""
        if not self._life.first:
            return []
        return self._say_started(ev.iter if ev.iter is not None else state.iter, state)

    def _started(self, ev: Progress, state: RunState) -> list[Alert]:
        if ev.iter >= RESUMED_FROM_ITER:
            self._loss.resumed()
        return self._say_started(ev.iter, state)

    def _say_started(self, it: int | None, state: RunState) -> list[Alert]:
        evidence = StartedEvidence()
        if state.total_iters is not None:
            remaining = state.eta().remaining_s
            eta_s = round(remaining, 1) if remaining is not None else None
            evidence = StartedEvidence(state.total_iters, eta_s)
        return self._fire("started", AlertType.STARTED, INFO, it, state.t_s, evidence)

    def _resumed(self, ev: Progress, state: RunState) -> list[Alert]:
        """A launch after the first (launches.py): a resume, or a new launch from about zero."""
        life = self._life
        previous = life.last_iter
        alerts = self._close_incident(state, confirmed=True)
        self._reset_incident()
        self._slow.reset()
        kind = AlertType.NEW_LAUNCH if state.launched == NEW else AlertType.RESUMED
        if kind == AlertType.NEW_LAUNCH:
            self._loss.restart()  # from scratch: the old losses say nothing about the new ones
        else:
            self._loss.resumed()
        life.resume()
        self._clear("finished", "resumed", "new_launch", "loss_spike")
        evidence: Evidence = ResumedEvidence(ev.iter, previous)
        if kind == AlertType.NEW_LAUNCH:
            evidence = NewLaunchEvidence(ev.iter, previous, state.total_iters)
        return alerts + self._fire(kind, kind, INFO, ev.iter, state.t_s, evidence)

    def _watch_first_eta(self, state: RunState) -> None:
        life = self._life
        if life.first_eta is not None or life.eta_tries <= 0 or state.total_iters is None:
            return
        life.eta_tries -= 1
        eta = state.eta()
        if eta.remaining_s is not None:
            life.first_eta = (state.t_s, eta.remaining_s)

    # Finish --------------------------------------------------------------------------------
    def _finished(self, state: RunState, exit_code: int | None = None) -> list[Alert]:
        evidence = _ending(FinishedEvidence, state, exit_code)
        first = self._life.first_eta
        if first is not None and state.t_s - first[0] > 0:
            actual = state.t_s - first[0]
            evidence = dataclasses.replace(
                evidence,
                first_eta_error_pct=round(100 * (first[1] - actual) / actual, 1),
                first_total_s=round(first[0] + first[1], 1),
            )
        self._life.over = True
        return self._fire("finished", AlertType.FINISHED, INFO, state.iter, state.t_s, evidence)

    def _stopped(self, ev: TrainingEnd, state: RunState) -> list[Alert]:
        """Stopped from Telegram: who asked, how it exited, where it had got to."""
        evidence = dataclasses.replace(_ending(StoppedEvidence, state, ev.exit_code), by=ev.by)
        self._life.over = True
        return self._fire("stopped", AlertType.STOPPED, INFO, state.iter, state.t_s, evidence)

    def _end(self, ev: TrainingEnd, state: RunState) -> list[Alert]:
        if not ev.failed or ev.reason == "stopped":
            # exit 0, or a stop asked for (its KeyboardInterrupt traceback is no crash)
            self._incident.pending = None
            alerts = self._close_incident(state, confirmed=False)
            if ev.reason == "stopped":
                return alerts + self._stopped(ev, state)
            return alerts + self._finished(state, ev.exit_code)
        self._life.over = True
        pending = self._incident.pending
        # an interrupted process exits on the signal: its exit is the interruption's consequence
        interrupted = pending is not None and pending.cause == INTERRUPTED
        cause = None if interrupted else ev.reason or "exit"
        return self._crash(state, CrashEvidence(cause=cause, exit_code=ev.exit_code))

    # Failures ------------------------------------------------------------------------------
    def _error(self, ev: ErrorText, state: RunState, wall_s: float) -> list[Alert]:
        kind = ev.kind
        if kind == "start":
            return self._launch(state)
        if kind == "nccl" and "NCCL WARN" in ev.text:
            return []  # NCCL prints warnings it recovers from; a fatal one brings a traceback
        inc = self._incident
        inc.touch(self._iter, state.t_s, wall_s)
        if kind == "oom":
            return self._oom(ev, state)
        if kind == "hang":
            return self._hang(ev)
        if kind == "cancelled":
            cause = str(ev.details.get("cause", kind))
            return self._crash(state, CrashEvidence(cause=cause, error=ev.text))
        if kind in ("killed", "exit"):
            return self._crash(state, self._consequence(ev))
        if inc.pending is None:
            inc.pending = CrashEvidence(cause="exception")
        if kind == "traceback":
            return []
        if "ChildFailedError" in ev.text:  # the launcher's wrapper: folded into its cause
            inc.pending = inc.pending.over(CrashEvidence(error=ev.text))
            return self._crash(state, CrashEvidence())
        if kind == "fatal":
            return self._crash(state, CrashEvidence()) if inc.pending.error is not None else []
        if INTERRUPT_ERROR.match(ev.text):
            # Ctrl-C or SIGINT; once an exception told what failed, it is that failure's end
            if inc.pending.error is None:
                inc.pending = CrashEvidence(cause=INTERRUPTED, error=ev.text)
            return self._crash(state, CrashEvidence()) if self._repeated(ev) else []
        # the latest exception line: the one the program died of
        inc.pending = dataclasses.replace(inc.pending, error=ev.text)
        return self._crash(state, CrashEvidence()) if kind == "cuda" or self._repeated(ev) else []

    def _repeated(self, ev: ErrorText) -> bool:
        """A second process failed the same way once training ran: the job is lost. (Before the
        first iteration, libraries print handled tracebacks on every rank; after a collective
        timed out, the ranks' exceptions are its echo and the job's end comes from the abort.)"""
        inc = self._incident
        shape = exception_shape(ev.text)
        seen = shape in inc.exceptions
        inc.exceptions.add(shape)
        return seen and self._iter is not None and not inc.hang

    def _consequence(self, ev: ErrorText) -> CrashEvidence:
        """A kill or an exit: the cause, unless an exception already told it."""
        pending = self._incident.pending
        exit_code = _int(ev.details, "exit_code")
        if pending is None or pending.error is None:
            return CrashEvidence(cause=ev.kind, error=ev.text, exit_code=exit_code)
        return CrashEvidence(exit_code=exit_code)

    def _hang(self, ev: ErrorText) -> list[Alert]:
        """A collective timed out (NCCL's watchdog): the run is stuck, whatever follows."""
        inc = self._incident
        inc.hang = True
        timeout = _float(ev.details, "timeout_s")
        evidence = StallEvidence(cause="collective_timeout", error=ev.text, timeout_s=timeout)
        return self._fire("stall", AlertType.STALL, WARNING, inc.iter, inc.t_s, evidence)

    def _launch(self, state: RunState) -> list[Alert]:
        """The program printed its start-up banner: a new launch. A failure still in suspense
        ended the previous one; the next failure is a new one, at no iteration until this
        launch prints one, and silence counts from its first progress line."""
        alerts = self._close_incident(state, confirmed=True)
        if self._incident.open:
            self._reset_incident()
        self._iter = None
        self._life.over = False
        self._life.last_wall_s = None
        return alerts

    def _oom(self, ev: ErrorText, state: RunState) -> list[Alert]:
        inc = self._incident
        inc.oom = True
        inc.pending = None
        if "Caught " in ev.text and not ev.details:
            inc.held_oom = inc.held_oom or ev  # the original OOM, with numbers, follows
            return []
        inc.held_oom = None
        return self._fire_oom(ev, state)

    def _fire_oom(self, ev: ErrorText, state: RunState) -> list[Alert]:
        inc = self._incident
        evidence = OomEvidence(
            ev.text,
            _int(ev.details, "gpu_index"),
            tried_mib=_float(ev.details, "tried_mib"),
            total_gib=_float(ev.details, "total_gib"),
            free_mib=_float(ev.details, "free_mib"),
            in_use_gib=_float(ev.details, "in_use_gib"),
            allocated_gib=_float(ev.details, "allocated_gib"),
        )
        return self._fire("oom", AlertType.OOM, CRITICAL, inc.iter, inc.t_s, evidence)

    def _crash(self, state: RunState, evidence: CrashEvidence) -> list[Alert]:
        """The run died: one crash per incident, none when an OOM explains it."""
        inc = self._incident
        if not inc.open:
            inc.touch(self._iter, state.t_s, None)
        alerts = self._flush_held_oom(state)
        if inc.oom:
            return alerts
        merged = evidence.over(inc.pending or CrashEvidence())
        inc.pending = None
        inc.crashed = True
        self._life.over = True
        if merged.cause == INTERRUPTED:
            return alerts + self._interrupted(state, merged.exit_code)
        if self._iter is None and _could_not_start(merged):
            merged = dataclasses.replace(merged, cause=NOT_STARTED)
        return alerts + self._fire("crash", AlertType.CRASH, CRITICAL, inc.iter, inc.t_s, merged)

    def _interrupted(self, state: RunState, exit_code: int | None) -> list[Alert]:
        """Ctrl-C or SIGINT ended the run (not `/stop`): a stop, said as a warning, at the
        incident's iteration; one end per incident, as a crash."""
        inc = self._incident
        evidence = dataclasses.replace(
            _ending(StoppedEvidence, state, exit_code), cause=INTERRUPTED
        )
        return self._fire("crash", AlertType.STOPPED, WARNING, inc.iter, inc.t_s, evidence)

    def _flush_held_oom(self, state: RunState) -> list[Alert]:
        held, self._incident.held_oom = self._incident.held_oom, None
        return [] if held is None else self._fire_oom(held, state)

    def _close_incident(self, state: RunState, *, confirmed: bool) -> list[Alert]:
        """Training went on (`confirmed` False) or the process is known gone (True)."""
        if not self._incident.open:
            return []
        alerts = self._flush_held_oom(state)
        if not confirmed:
            self._reset_incident()
            return alerts
        if self._incident.pending is not None:
            alerts += self._crash(state, CrashEvidence())
        self._life.over = True  # the run is gone; the incident stays so its lines fold in
        return alerts

    def _reset_incident(self) -> None:
        if self._incident.crashed:
            self._life.over = False
        self._incident = Incident()
        self._clear("oom", "crash", "stall")

    def _incident_timeout(self, state: RunState, wall_s: float) -> list[Alert]:
        inc = self._incident
        if not inc.open or inc.wall_s is None:
            return []
        interval = self._life.usual_interval_s()
        grace = (
            max(CRASH_GRACE_FACTOR * interval, CRASH_GRACE_FLOOR_S)
            if interval is not None
            else self.th.stall_floor_s
        )
        if wall_s - inc.wall_s < grace:
            return []
        return self._close_incident(state, confirmed=True)

    def _stall(self, state: RunState, wall_s: float) -> list[Alert]:
        last = self._life.last_wall_s
        interval = self._life.usual_interval_s()
        if last is None or interval is None:
            return []
        limit = max(
            self.th.stall_factor * interval,
            STALL_PAUSE_FACTOR * self._life.longest_gap_s,
            self.th.stall_floor_s,
        )
        silent = wall_s - last
        if silent <= limit:
            return []
        evidence = StallEvidence(round(silent, 1), round(interval, 3), round(limit, 1))
        return self._fire("stall", AlertType.STALL, WARNING, state.iter, state.t_s, evidence)

    # Losses --------------------------------------------------------------------------------
    def _losses(self, ev: Progress, state: RunState) -> list[Alert]:
        if ev.loss is None:
            return []
        if not math.isfinite(ev.loss):
            self._loss.finite_run = 0
            # A jump the loss never came back from: the spike was real, however short.
            alerts = self._spike(state) if self._loss.spike_start is not None else []
            return alerts + self._nan(NanEvidence(str(ev.loss)), ev.iter, state)
        self._loss.finite_run += 1
        if self._loss.finite_run >= NAN_REARM_POINTS:
            self._clear("nan")
        watch = self._loss
        spike = watch.spike(ev.loss)
        if not spike:
            watch.spike_start = None
            if spike is False:
                self._clear("loss_spike")
            return []
        if watch.spike_start is None:
            watch.spike_start = (ev.iter, ev.loss, watch.median, watch.z)
            watch.spike_points = 0
        watch.spike_points += 1
        return self._spike(state) if watch.spike_points >= SPIKE_POINTS else []

    def _spike(self, state: RunState) -> list[Alert]:
        assert self._loss.spike_start is not None
        it, loss, median, z = self._loss.spike_start
        evidence = LossSpikeEvidence(loss, round(median, 6), round(z, 1))
        return self._fire("loss_spike", AlertType.LOSS_SPIKE, WARNING, it, state.t_s, evidence)

    def _eval_losses(self, ev: Eval, state: RunState) -> list[Alert]:
        for name, value in (("train_loss", ev.train_loss), ("val_loss", ev.val_loss)):
            if value is not None and not math.isfinite(value):
                it = ev.iter if ev.iter is not None else state.iter
                return self._nan(NanEvidence(str(value), name), it, state)
        return []

    def _nan(self, evidence: NanEvidence, it: int | None, state: RunState) -> list[Alert]:
        return self._fire("nan", AlertType.NAN, CRITICAL, it, state.t_s, evidence)

    # Step time -----------------------------------------------------------------------------
    def _step_time(self, ev: Progress, state: RunState, wall_s: float) -> list[Alert]:
        change = self._slow.progress(ev.iter, state.t_s, wall_s)
        if change is None:
            return []
        kind, evidence = self._explain(change)
        if change.recovered:  # once per episode by construction: no cool-down needed
            if "slowdown" not in self._active:
                return []  # the episode was not said: neither is its end
            self._clear("slowdown")
            evidence = dataclasses.replace(evidence, recovered=True)
            return [Alert(self.run, kind, INFO, ev.iter, state.t_s, evidence, change.lost_s)]
        if evidence.gpu is None and not _clear_without_gpu(change, state.total_iters):
            return []  # a drift the ETA and /status show; no push without a cause or a clear case
        eta_change = change.lost_s
        total = state.total_iters
        if total is not None and total > ev.iter:
            eta_change += (total - ev.iter) * (change.step_s - change.baseline_s)
        self._clear("thermal_gpu")
        return self._fire("slowdown", kind, WARNING, ev.iter, state.t_s, evidence, eta_change)

    def _explain(self, change: SlowdownChange) -> tuple[AlertType, SlowedEvidence]:
        """`thermal`, `power` or `slowdown`, and the evidence, from the GPU snapshots."""
        kind, gpu = self._gpu.cause(change.since_wall_s)
        record = _SLOWED[AlertType(kind)]
        evidence = dataclasses.replace(
            _gpu_evidence(record, gpu),
            slowdown_pct=round(100 * (change.step_s / change.baseline_s - 1), 1),
            minutes=round(change.duration_s / 60, 1),
            step_s=round(change.step_s, 4),
            baseline_s=round(change.baseline_s, 4),
            since_iter=change.since_iter,
        )
        return record.TYPE, evidence

    # GPU -----------------------------------------------------------------------------------
    def _gpu_lost(self, snapshot: GpuSnapshot, state: RunState) -> list[Alert]:
        lost = [g for g in snapshot.gpus if g.lost]
        if not lost:
            self._clear("gpu_lost")
            return []
        evidence = GpuLostEvidence(lost[0].index, lost_gpus=len(lost))
        return self._fire("gpu_lost", AlertType.GPU_LOST, CRITICAL, state.iter, state.t_s, evidence)

    def _memory(self, snapshot: GpuSnapshot, state: RunState) -> list[Alert]:
        used = [(f, g) for g in snapshot.gpus if (f := memory_used_fraction(g)) is not None]
        if not used:
            return []
        fraction, gpu = max(used, key=lambda pair: pair[0])
        pct = 100 * fraction
        watch = self._gpu
        if pct < self.th.memory_pressure_pct:
            watch.memory_run = 0
            if pct < self.th.memory_pressure_pct - MEMORY_CLEAR_PCT:
                self._clear("memory_pressure")
            return []
        watch.memory_run += 1
        if watch.memory_run < MEMORY_SAMPLES:
            return []
        evidence = MemoryPressureEvidence(gpu.index, used_pct=round(pct, 1))
        if gpu.memory_used_mib is not None and gpu.memory_total_mib is not None:
            evidence = dataclasses.replace(
                evidence, used_mib=gpu.memory_used_mib, total_mib=gpu.memory_total_mib
            )
        return self._fire(
            "memory_pressure", AlertType.MEMORY_PRESSURE, WARNING, state.iter, state.t_s, evidence
        )

    def _thermal_warning(
        self, snapshot: GpuSnapshot, state: RunState, wall_s: float
    ) -> list[Alert]:
        """Heat slows the clocks, but the step time has not (yet) shown it."""
        hot = [g for g in snapshot.gpus if not g.lost and is_thermal_limited(g)]
        watch = self._gpu
        if not hot:
            watch.hot_since_s = None
            self._clear("thermal_gpu")
            return []
        if watch.hot_since_s is None:
            watch.hot_since_s = wall_s
        lasting = wall_s - watch.hot_since_s >= self.th.slowdown_min_s
        if not lasting or self._slow.state != "normal" or "slowdown" in self._active:
            return []
        gpu = max(hot, key=lambda g: g.temperature_c or 0)
        evidence = _gpu_evidence(ThermalEvidence, gpu)
        return self._fire(
            "thermal_gpu", AlertType.THERMAL, WARNING, state.iter, state.t_s, evidence
        )


def _could_not_start(evidence: CrashEvidence) -> bool:
    """A failure before the launch's first iteration that says the program never got going:
    the shell's exit codes for a command not found or not executable, Python's own words for
    a script it cannot open or a module it cannot import."""
    error = evidence.error
    return evidence.exit_code in NOT_STARTED_EXIT_CODES or (
        error is not None and NOT_STARTED_ERROR.search(error) is not None
    )


def _clear_without_gpu(change: SlowdownChange, total: int | None) -> bool:
    """A slowdown no GPU explains is pushed only when the log alone makes it plain: every
    chunk of the episode at least `BARE_SLOWDOWN_FACTOR` x the baseline and
    `BARE_SLOWDOWN_SPREADS` robust spreads above it, after the session's warm-up."""
    floor = max(
        BARE_SLOWDOWN_FACTOR * change.baseline_s,
        change.baseline_s + BARE_SLOWDOWN_SPREADS * change.spread_s,
    )
    warm = change.into_s >= WARMUP_S and (
        total is None or change.into_iters >= WARMUP_SHARE * total
    )
    return warm and change.lowest_s >= floor


SlowedEvidence = ThermalEvidence | PowerEvidence | SlowdownEvidence
S = TypeVar("S", bound=SlowedEvidence)
E = TypeVar("E", FinishedEvidence, StoppedEvidence)
_SLOWED: dict[AlertType, type[SlowedEvidence]] = {
    cls.TYPE: cls for cls in (ThermalEvidence, PowerEvidence, SlowdownEvidence)
}


def _float(details: dict[str, float | str], key: str) -> float | None:
    value = details.get(key)
    return float(value) if value is not None else None


def _int(details: dict[str, float | str], key: str) -> int | None:
    value = details.get(key)
    return int(value) if value is not None else None


def _gpu_evidence(record: type[S], gpu: GpuSample | None) -> S:
    """A `record` (thermal, power, slowdown) holding a GPU's readings (None: none read)."""
    if gpu is None:
        return record()
    ratio = sm_clock_ratio(gpu)
    watts = gpu.power_mw is not None and gpu.power_limit_mw is not None
    return record(
        gpu.index,
        temperature_c=gpu.temperature_c,
        reasons=",".join(sorted(gpu.reasons)) if gpu.reasons else None,
        sm_clock_ratio=round(ratio, 3) if ratio is not None else None,
        power_w=round((gpu.power_mw or 0) / 1000, 1) if watts else None,
        power_limit_w=round((gpu.power_limit_mw or 0) / 1000, 1) if watts else None,
    )


def _ending(record: type[E], state: RunState, exit_code: int | None) -> E:
    """A `record` of the end of a run (the fields `FinishedEvidence` and `StoppedEvidence`
    share): how long it ran, its best and last val loss, the launched process's exit code."""
    best = state.best if state.best is not None and state.best.val_loss is not None else None
    last = state.evals[-1].val_loss if state.evals else None
    return record(
        elapsed_s=round(state.t_s, 1) if state.t_s > 0 else None,
        best_val_loss=best.val_loss if best is not None else None,
        best_iter=best.iter if best is not None else None,
        final_val_loss=last if last is not None and math.isfinite(last) else None,
        exit_code=exit_code,
    )
