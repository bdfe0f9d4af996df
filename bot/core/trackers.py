"""The small state machines the alert detectors consult (bot/core/detectors.py decides what
is said; these keep track of what happened): where the run is, the failure lines since it last
advanced, recent losses, step time against the run's own baseline, recent GPU snapshots.
Pure: no I/O, times passed in.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections import deque
from dataclasses import dataclass

from bot.core.events import ErrorText
from bot.core.gpu import (
    GpuSample,
    GpuSnapshot,
    is_power_limited,
    is_thermal_limited,
    sm_clock_ratio,
)
from bot.core.notices import CrashEvidence

SPIKE_WINDOW = 50  # recent losses the z-score is measured against
SPIKE_MIN_POINTS = 10  # a fresh run's first losses are too few to judge
SPIKE_REL_FLOOR = 0.05  # the loss scale is at least 5 % of the median (smooth logged losses)
# After a restart from scratch, a loss this many times the old median (and above the floor) is
# an explosion, not how a run starts: the first losses of a new run are a few times the old.
EXPLOSION_FACTOR = 1000.0
EXPLOSION_FLOOR = 1000.0
GPU_HISTORY = 720  # snapshots kept to explain a slowdown
GPU_EVIDENCE_SHARE = 0.3  # share of the episode's snapshots that must show the reason
CHUNK_MIN_S = 10.0  # step time is measured over chunks of at least this much run clock
CHUNK_MIN_ITERS = 20  # and this many iterations: batch lengths vary, one step says little
WARMUP_INTERVALS = 2  # the first intervals of a session (compilation, caches) are skipped
BASELINE_CHUNKS = 60
MIN_BASELINE_CHUNKS = 5
MIN_SLOW_CHUNKS = 3
RECOVERY_CHUNKS = 3


class Lifecycle:
    """Where the run is: first line, last iteration, usual interval between lines."""

    def __init__(self) -> None:
        self.first = True
        self.over = False  # finished or crashed: silence is expected
        self.last_iter: int | None = None
        self.last_wall_s: float | None = None
        self.longest_gap_s = 0.0
        self._intervals: deque[float] = deque(maxlen=21)
        self.first_eta: tuple[float, float] | None = None  # (t_s, remaining_s) when first known
        self.eta_tries = 100

    def resume(self) -> None:
        self.over = False

    def step(self, it: int, wall_s: float, *, survived: bool) -> None:
        """A progress line; `survived` is False after a pause that was reported as a stall."""
        if self.last_wall_s is not None and wall_s > self.last_wall_s:
            gap_s = wall_s - self.last_wall_s
            if survived and len(self._intervals) >= 3:
                self.longest_gap_s = max(self.longest_gap_s, gap_s)
            self._intervals.append(gap_s)
        self.first = False
        self.last_iter = it
        self.last_wall_s = wall_s

    def steady(self, iters: list[int], wall_s: float, *, survived: bool) -> None:
        """`step` for each of these increasing iterations, all read at `wall_s`."""
        self.step(iters[0], wall_s, survived=survived)
        self.last_iter = iters[-1]

    def usual_interval_s(self) -> float | None:
        """Median wall-clock seconds between progress lines (None before a few lines)."""
        if len(self._intervals) < 2:
            return None
        return statistics.median(self._intervals)


class Incident:
    """Failure lines since training last advanced: one failure, however many lines."""

    def __init__(self) -> None:
        self.open = False
        self.iter: int | None = None
        self.t_s = 0.0
        self.wall_s: float | None = None
        self.oom = False
        self.crashed = False
        self.held_oom: ErrorText | None = None
        self.pending: CrashEvidence | None = None  # a traceback not yet known to be fatal
        self.exceptions: set[str] = set()  # shapes of its exception lines (errors.exception_shape)
        self.hang = False  # a collective timed out: the ranks' exceptions that follow are its echo

    def touch(self, it: int | None, t_s: float, wall_s: float | None) -> None:
        if not self.open:
            self.open, self.iter, self.t_s = True, it, t_s
        if wall_s is not None:
            self.wall_s = wall_s


class LossWatch:
    """Recent finite losses and the robust z-score of a new one."""

    def __init__(self, z_threshold: float) -> None:
        self.z_threshold = z_threshold
        self.window: deque[float] = deque(maxlen=SPIKE_WINDOW)
        self.min_points = SPIKE_MIN_POINTS
        self.finite_run = 0
        self.median = 0.0
        self.z = 0.0
        # (iter, loss, median, z) of the first loss of the current run of high ones
        self.spike_start: tuple[int, float, float, float] | None = None
        self.spike_points = 0
        self.before_restart: float | None = None  # the median before a restart, for explosions

    def restart(self) -> None:
        if len(self.window) >= SPIKE_MIN_POINTS:
            self.before_restart = _median(sorted(self.window))
        self.window.clear()
        self.min_points = SPIKE_MIN_POINTS

    def resumed(self) -> None:
        self.min_points = 1

    def calm(self, losses: list[float]) -> bool:
        """Whether none of these finite losses can be a spike, whatever the median: each
        above the smallest one (the median's floor) by less than half the threshold's share
        of it. Then `add_calm` gives what `spike` would for each."""
        if self.before_restart is not None and len(self.window) < self.min_points:
            return False  # an explosion after a restart is judged line by line
        floor = min(min(losses), min(self.window, default=math.inf))
        limit = floor * (1 + SPIKE_REL_FLOOR * self.z_threshold / 2) * (1 - 1e-9)
        return self.z_threshold > 0 and floor > 0 and max(losses) < limit

    def add_calm(self, losses: list[float]) -> bool:
        """Fold calm losses; whether any was judged clearly normal (the last one's median
        and z come from `spike` itself)."""
        judged = len(self.window) + len(losses) - 1 >= self.min_points
        self.window.extend(losses[:-1])
        self.spike(losses[-1])
        return judged

    def spike(self, loss: float) -> bool | None:
        """True: a spike; False: clearly normal; None: in between or too few points."""
        verdict: bool | None = None
        if len(self.window) < self.min_points:
            verdict = self._explosion(loss)
        else:
            self.before_restart = None
            self.median = _median(sorted(self.window))
            # Only upward jumps matter: skip the MAD (a hot path).
            self.z = 0.0 if loss <= self.median else self._z(loss)
            if self.z > self.z_threshold:
                verdict = True
            elif self.z < self.z_threshold / 2:
                verdict = False
        if not verdict:  # a spike must not become its own baseline
            self.window.append(loss)
        return verdict

    def _z(self, loss: float) -> float:
        """How far above the recent losses, in robust spreads. Positive losses are compared
        by their logarithms: a per-batch loss's noise is a factor (0.002 to 0.8 on a healthy
        run), a logged average's a few per cent; either way a spike is a jump by a factor."""
        if min(self.window) > 0:
            centre = math.log(self.median)
            spread = _median(sorted([abs(math.log(x) - centre) for x in self.window]))
            return (math.log(loss) - centre) / max(1.4826 * spread, SPIKE_REL_FLOOR)
        mad = _median(sorted([abs(x - self.median) for x in self.window]))
        scale = max(1.4826 * mad, SPIKE_REL_FLOOR * abs(self.median), 1e-12)
        return (loss - self.median) / scale

    def _explosion(self, loss: float) -> bool | None:
        """Too few losses since a restart to judge, unless this one is absurd next to the old."""
        old = self.before_restart
        if old is None or loss < max(EXPLOSION_FACTOR * abs(old), EXPLOSION_FLOOR):
            return None
        self.median = old
        self.z = (loss - old) / max(SPIKE_REL_FLOOR * abs(old), 1e-12)
        return True


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    return (ordered[n // 2] + ordered[(n - 1) // 2]) / 2


@dataclass(frozen=True, slots=True)
class SlowdownChange:
    """A slowdown confirmed, or its end."""

    recovered: bool
    step_s: float
    baseline_s: float
    since_iter: int
    since_wall_s: float
    duration_s: float
    lost_s: float  # run-clock seconds lost to the slowdown so far
    lowest_s: float  # the fastest chunk after the first (which straddles the change)
    spread_s: float  # robust spread (1.4826 x MAD) of the baseline chunks
    into_s: float  # run clock from the session's first line to the episode's start
    into_iters: int  # iterations from the session's first line to the episode's start


class Slowdown:
    """Step time over chunks of run clock against the run's own recent baseline.

    States: normal (chunks feed the baseline), suspect (a chunk was slower than the
    threshold; a clearly normal chunk cancels it), active (alert sent; the baseline is
    frozen until `RECOVERY_CHUNKS` normal chunks in a row end the episode).
    """

    def __init__(self, pct: float, min_s: float) -> None:
        self.pct = pct
        self.min_s = min_s
        self.chunk_s = max(CHUNK_MIN_S, min_s / 12)
        self.baseline: deque[float] = deque(maxlen=BASELINE_CHUNKS)
        self.reset()

    def reset(self) -> None:
        """A new session: its first intervals are warm-up; an episode in progress is moot."""
        self.state = "normal"
        self.baseline.clear()
        self._last: tuple[int, float] | None = None
        self._paused = False
        self._warmup = WARMUP_INTERVALS
        self._chunk: list[float] | None = None  # [t0, iter0, wall0, seconds, iterations]
        self._episode: list[tuple[float, float]] = []  # (rate, chunk seconds)
        self._since: tuple[float, int, float] = (0.0, 0, 0.0)  # t_s, iter, wall_s
        self._base = 0.0
        self._spread = 0.0
        self._normal_run = 0
        self._start: tuple[int, float] | None = None  # the session's first (iter, t_s)

    def pause(self) -> None:
        """An eval or a checkpoint: the next interval is not an ordinary one."""
        self._paused = True

    def progress(self, it: int, t_s: float, wall_s: float) -> SlowdownChange | None:
        last = self._last
        if last is not None and it <= last[0]:
            return None  # a line of an interleaved writer, or a repeat: not an interval
        self._last = (it, t_s)
        self._start = self._start or (it, t_s)
        paused, self._paused = self._paused, False
        if last is None or t_s < last[1]:
            return None
        if self._warmup > 0:
            self._warmup -= 1
            return None
        if paused:
            return None
        chunk = self._chunk or [last[1], float(last[0]), wall_s, 0.0, 0.0]
        chunk[3] += t_s - last[1]
        chunk[4] += it - last[0]
        self._chunk = chunk
        if chunk[3] < self.chunk_s or chunk[4] < CHUNK_MIN_ITERS:
            return None
        self._chunk = None
        return self._judge(chunk[3] / chunk[4], chunk, t_s)

    def copy(self) -> Slowdown:
        """An independent copy (to fold lines into before keeping them)."""
        other = copy.copy(self)
        other.baseline, other._episode = self.baseline.copy(), list(self._episode)
        other._chunk = None if self._chunk is None else list(self._chunk)
        return other

    def with_progress(self, iters: list[int], times: list[float], wall_s: float) -> Slowdown | None:
        """A copy of this tracker after `progress` for each of these lines (increasing
        iterations and times, read at `wall_s`), when none of them confirms or ends a
        slowdown; None when one would. Each chunk is judged by `_judge`; the lines in
        between are added up here, as `progress` would."""
        sd, k = self.copy(), 0
        while k < len(iters) and (sd._last is None or sd._paused or sd._warmup):
            if sd.progress(iters[k], times[k], wall_s) is not None:
                return None
            k += 1
        if sd._last is None:
            return sd
        (last_it, last_t), chunk = sd._last, sd._chunk
        head, secs, its = (chunk[:3], chunk[3], chunk[4]) if chunk else (None, 0.0, 0.0)
        for it, t in zip(iters[k:], times[k:], strict=True):
            if it <= last_it or t < last_t:
                return None  # not what this shortcut is for
            if head is None:
                head, secs, its = [last_t, float(last_it), wall_s], 0.0, 0.0
            secs += t - last_t
            its += it - last_it
            last_it, last_t = it, t
            if secs >= self.chunk_s and its >= CHUNK_MIN_ITERS:
                if sd._judge(secs / its, [*head, secs, its], t) is not None:
                    return None
                head = None
        sd._last, sd._chunk = (last_it, last_t), None if head is None else [*head, secs, its]
        return sd

    def _judge(self, rate: float, chunk: list[float], t_end: float) -> SlowdownChange | None:
        if len(self.baseline) < MIN_BASELINE_CHUNKS and self.state == "normal":
            self.baseline.append(rate)
            return None
        base = self._base if self.state == "active" else statistics.median(self.baseline)
        ratio = rate / base if base > 0 else 1.0
        if self.state == "normal":
            if ratio > 1 + self.pct:
                self.state = "suspect"
                self._since = (chunk[0], int(chunk[1]), chunk[2])
                self._episode = [(rate, chunk[3])]
            else:
                self.baseline.append(rate)
            return None
        if self.state == "suspect":
            return self._suspect(rate, ratio, chunk, base, t_end)
        return self._active(rate, ratio, chunk, t_end)

    def _suspect(
        self, rate: float, ratio: float, chunk: list[float], base: float, t_end: float
    ) -> SlowdownChange | None:
        if ratio < 1 + self.pct / 2:
            self.state = "normal"
            self.baseline.append(rate)
            return None
        self._episode.append((rate, chunk[3]))
        slow = statistics.median(r for r, _ in self._episode)
        duration = t_end - self._since[0]
        lasting = duration >= self.min_s and len(self._episode) >= MIN_SLOW_CHUNKS
        if not lasting or slow / base <= 1 + self.pct:
            return None
        self.state, self._base, self._normal_run = "active", base, 0
        self._spread = 1.4826 * statistics.median(abs(r - base) for r in self.baseline)
        return self._change(False, slow, t_end)

    def _active(
        self, rate: float, ratio: float, chunk: list[float], t_end: float
    ) -> SlowdownChange | None:
        self._episode.append((rate, chunk[3]))
        self._normal_run = self._normal_run + 1 if ratio < 1 + self.pct / 2 else 0
        if self._normal_run < RECOVERY_CHUNKS:
            return None
        self.state = "normal"
        slow = statistics.median(r for r, _ in self._episode[: -self._normal_run])
        return self._change(True, slow, t_end)

    def _change(self, recovered: bool, slow: float, t_end: float) -> SlowdownChange:
        lost = sum(seconds * (1 - self._base / rate) for rate, seconds in self._episode)
        t0, it0, wall0 = self._since
        start_it, start_t = self._start or (it0, t0)
        return SlowdownChange(
            recovered,
            slow,
            self._base,
            it0,
            wall0,
            t_end - t0,
            max(0.0, lost),
            min(r for r, _ in self._episode[1:] or self._episode),
            self._spread,
            t0 - start_t,
            it0 - start_it,
        )


class GpuWatch:
    """Recent snapshots, reduced to what explains a slowdown."""

    def __init__(self) -> None:
        self.history: deque[tuple[float, GpuSnapshot]] = deque(maxlen=GPU_HISTORY)
        self.memory_run = 0
        self.hot_since_s: float | None = None

    def remember(self, snapshot: GpuSnapshot, wall_s: float) -> None:
        self.history.append((wall_s, snapshot))

    def cause(self, since_wall_s: float) -> tuple[str, GpuSample | None]:
        """The reason NVML showed during the episode, and the GPU that shows it best."""
        before = [s for w, s in self.history if w < since_wall_s][-1:]
        # The snapshot just before the slowdown counts: heat comes before the clocks drop.
        seen = before + [s for w, s in self.history if w >= since_wall_s]
        if not seen:
            return "slowdown", None
        for kind, test in (("thermal", is_thermal_limited), ("power", is_power_limited)):
            counts: dict[int, list[GpuSample]] = {}
            for snapshot in seen:
                for gpu in snapshot.gpus:
                    if not gpu.lost and test(gpu):
                        counts.setdefault(gpu.index, []).append(gpu)
            if counts:
                samples = max(counts.values(), key=len)
                if len(samples) >= GPU_EVIDENCE_SHARE * len(seen):
                    return kind, max(samples, key=lambda g: g.temperature_c or 0)
        latest = [g for g in seen[-1].gpus if not g.lost]
        return "slowdown", min(latest, key=lambda g: sm_clock_ratio(g) or 1.0, default=None)
