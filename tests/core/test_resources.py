"""The run's surroundings: GPUs idle while it trains, its disk almost full, its SLURM job
ending first. The rules alone, then through a RunMonitor fed real nanoGPT lines."""

from __future__ import annotations

from bot.core.detectors import Thresholds
from bot.core.events import Checkpoint, RunConfig, TrainingEnd
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert
from bot.core.resources import (
    DeadlineWatch,
    DiskUsage,
    DiskWatch,
    IdleWatch,
    checkpoint_dir,
)
from tests.generated import nanogpt_lines

GIB = 1 << 30


def gpus(*utils: int | None) -> tuple[GpuSample, ...]:
    return tuple(GpuSample(index=i, utilization_pct=u) for i, u in enumerate(utils))


def idle_over(watch: IdleWatch, samples: list[tuple[int | None, ...]], own: bool = True) -> list:
    """One sample a minute; what each said."""
    return [watch.update(gpus(*s), 60.0 * n, alive=True, own=own) for n, s in enumerate(samples)]


# --- GPU idle -------------------------------------------------------------------------------


def test_idle_for_ten_minutes_is_said_once_then_again_after_the_gpu_worked() -> None:
    watch = IdleWatch(5.0, 600.0)
    said = idle_over(watch, [(2,)] * 10)
    assert said == [None] * 10  # 9 minutes
    first = watch.update(gpus(3), 600.0, alive=True, own=True)
    assert first is not None and first.gpu == 0 and first.idle_s == 600.0
    assert watch.update(gpus(1), 660.0, alive=True, own=True) is None  # once per episode
    assert watch.update(gpus(7), 720.0, alive=True, own=True) is None  # not clearly back
    assert watch.update(gpus(3), 780.0, alive=True, own=True) is None
    assert watch.update(gpus(95), 840.0, alive=True, own=True) is None  # back: episode over
    again = [watch.update(gpus(0), 900.0 + 60 * n, alive=True, own=True) for n in range(11)]
    assert [e is not None for e in again] == [False] * 10 + [True]


def test_one_busy_sample_restarts_the_clock() -> None:
    watch = IdleWatch(5.0, 600.0)
    said = idle_over(watch, [(0,)] * 6 + [(60,)] + [(0,)] * 8)
    assert not any(said)


def test_a_run_that_is_not_alive_is_never_idle() -> None:
    watch = IdleWatch(5.0, 600.0)
    said = [watch.update(gpus(0), 60.0 * n, alive=False, own=True) for n in range(30)]
    assert not any(said)


def test_own_gpus_any_idle_counts_every_gpu_all_must_be() -> None:
    """A rank that hangs idles its GPU while its peers spin; but without a mapping, a busy
    GPU may be the run's and an idle one another user's spare."""
    own = IdleWatch(5.0, 600.0)
    found = idle_over(own, [(100, 0, 100)] * 11, own=True)
    assert found[-1] is not None and found[-1].gpu == 1 and found[-1].idle_gpus == 1
    machine = IdleWatch(5.0, 600.0)
    assert not any(idle_over(machine, [(100, 0, 100)] * 30, own=False))
    assert idle_over(IdleWatch(5.0, 600.0), [(0, 1, 2)] * 11, own=False)[-1] is not None


def test_unknown_utilisation_or_no_gpu_is_not_idle() -> None:
    watch = IdleWatch(5.0, 600.0)
    assert not any(idle_over(watch, [(None,)] * 20))
    assert not any(idle_over(watch, [()] * 20))


# --- disk -----------------------------------------------------------------------------------


def usage(pct: float, total: int = 1000 * GIB) -> DiskUsage:
    used = int(total * pct / 100)
    return DiskUsage("/scratch/out", "/scratch", total, used, total - used)


def test_disk_full_is_said_once_until_it_drops_below_the_hysteresis() -> None:
    watch = DiskWatch(95.0)
    assert watch.update(usage(90)) is None
    said = watch.update(usage(95.5))
    assert said is not None and said.mount == "/scratch" and said.used_pct == 95.5
    assert said.free_bytes == usage(95.5).free_bytes
    assert watch.update(usage(97)) is None
    assert watch.update(usage(94)) is None  # below the threshold, not by enough
    assert watch.update(usage(96)) is None
    assert watch.update(usage(92)) is None
    assert watch.update(usage(96)) is not None


def test_used_percent_counts_reserved_blocks_as_df_does() -> None:
    """ext4 keeps 5 % for root: 95 GB used of 100, 0 free to users is 100 % full."""
    assert DiskUsage("/", "/", 100, 95, 0).used_pct == 100.0
    assert DiskUsage("/", "/", 0, 0, 0).used_pct == 0.0


# --- SLURM ----------------------------------------------------------------------------------

NOW = 1_800_000_000.0


def test_shortfall_said_once_again_when_it_moves_a_lot_and_when_resolved() -> None:
    watch = DeadlineWatch()
    end = NOW + 3600
    assert watch.update(end, end - 600, NOW) is None  # fits
    assert watch.update(end, end + 120, NOW) is None  # within the estimate's own error
    said = watch.update(end, end + 2700, NOW)
    assert said is not None and said.short_s == 2700 and said.job_end_s == round(end)
    assert watch.update(end, end + 3000, NOW + 60) is None  # moved, not by much
    more = watch.update(end, end + 5400, NOW + 120)  # twice as short
    assert more is not None and more.short_s == 5400
    assert watch.update(end, end - 60, NOW + 180) is None  # fits, barely: not yet said
    resolved = watch.update(end + 7200, end + 5400, NOW + 240)  # the job was extended
    assert resolved is not None and resolved.resolved
    assert watch.update(end + 7200, end + 5400, NOW + 300) is None


def test_small_shortfall_on_a_long_run_is_within_its_error() -> None:
    """5 % of three days left is 3.6 h: a 1 h shortfall is noise, not news."""
    watch = DeadlineWatch()
    end = NOW + 3 * 86400 - 3600
    assert watch.update(end, NOW + 3 * 86400, NOW) is None


# --- where checkpoints go ---------------------------------------------------------------------


def test_checkpoint_dir_from_the_log_then_the_config_then_the_command() -> None:
    cwd, log_dir = "/home/a/nanoGPT", "/home/a/logs"
    assert checkpoint_dir("out/ckpt.pt", {}, [], cwd, log_dir) == "/home/a/nanoGPT/out/ckpt.pt"
    assert checkpoint_dir(None, {"out_dir": "'out-shakespeare'"}, [], cwd, log_dir) == (
        "/home/a/nanoGPT/out-shakespeare"
    )
    for argv in (
        ["train.py", "--output_dir", "/scratch/run1"],
        ["train.py", "--output_dir=/scratch/run1"],
        ["train.py", "config/x.py", "--out_dir=/scratch/run1"],
        ["train.py", "output_dir=/scratch/run1"],
        ["train.py", "--output-dir", "/scratch/run1"],
    ):
        assert checkpoint_dir(None, {}, argv, cwd, log_dir) == "/scratch/run1", argv
    assert checkpoint_dir(None, {}, ["train.py", "--lr=3e-4"], cwd, log_dir) == log_dir


# --- through the monitor --------------------------------------------------------------------


def fed(lines: list[str], wall_s: float = 0.0, th: Thresholds | None = None) -> RunMonitor:
    monitor = RunMonitor("run", "nanogpt", 5000, thresholds=th)
    monitor.feed(lines, wall_s)
    return monitor


def snap(util: int) -> GpuSnapshot:
    return GpuSnapshot(0.0, (GpuSample(index=0, utilization_pct=util),))


def idle_alerts(monitor: RunMonitor, start_s: float, minutes: int, own: bool = True) -> list:
    found = []
    for n in range(minutes + 1):
        found += monitor.apply_gpu(snap(0), start_s + 60 * n, own=own)
    return [a for a in found if isinstance(a, Alert) and a.type == "gpu_idle"]


def test_monitor_says_idle_gpus_of_a_training_run() -> None:
    monitor = fed(nanogpt_lines(0, 300))
    found = idle_alerts(monitor, 0.0, 12)
    assert len(found) == 1 and found[0].severity == "warning" and found[0].iter == 290


def test_monitor_quiet_before_the_first_iteration_and_after_the_end() -> None:
    loading = RunMonitor("run", "nanogpt", 5000)
    loading.feed(["Overriding: max_iters = 5000"], 0.0)  # still loading data
    assert idle_alerts(loading, 0.0, 30) == []
    finished = fed(nanogpt_lines(0, 300))
    finished.apply(TrainingEnd(0, "exit"), 0.0)
    assert idle_alerts(finished, 0.0, 30) == []


def test_monitor_quiet_once_a_stall_was_said() -> None:
    monitor = fed([])
    for n, line in enumerate(nanogpt_lines(0, 300)):
        monitor.feed([line], float(n))
    stalled = [a for a in monitor.tick(5000.0) if isinstance(a, Alert)]
    assert [a.type for a in stalled] == ["stall"]
    assert idle_alerts(monitor, 5000.0, 30) == []


def test_monitor_disk_full_quiet_after_the_run_ended() -> None:
    monitor = fed(nanogpt_lines(0, 100))
    assert [a.type for a in monitor.apply_disk(usage(97)) if isinstance(a, Alert)] == ["disk_full"]
    ended = fed(nanogpt_lines(0, 100))
    ended.apply(TrainingEnd(1, "crash"), 0.0)
    assert ended.apply_disk(usage(99)) == []


def test_monitor_remembers_where_checkpoints_go() -> None:
    monitor = fed(nanogpt_lines(0, 100))
    assert monitor.checkpoint_dir([], "/cwd", "/logs") == "/logs"
    monitor.apply(RunConfig({"out_dir": "out-a"}), 0.0)
    assert monitor.checkpoint_dir([], "/cwd", "/logs") == "/cwd/out-a"
    monitor.apply(Checkpoint(100, path="/big/out-b"), 0.0)
    assert monitor.checkpoint_dir([], "/cwd", "/logs") == "/big/out-b"


def test_monitor_says_the_job_ends_first_from_its_eta() -> None:
    monitor = fed(nanogpt_lines(0, 1000), wall_s=NOW)
    finish = monitor.state.finish_at(monitor.state.eta(), NOW)
    assert finish is not None
    fits = monitor.apply_job_end(finish + 3600, NOW)
    assert fits == []
    short = [a for a in monitor.apply_job_end(finish - 1800, NOW) if isinstance(a, Alert)]
    assert [a.type for a in short] == ["slurm_deadline"]
    assert abs(float(short[0].evidence.short_s) - 1800) <= 1


def test_every_gpu_watched_needs_a_moving_log() -> None:
    """No mapping: an old log read again at start-up (its lines all at once) is not a live
    run whose GPUs idle; a run whose log goes on while every GPU idles is one."""
    stale = fed(nanogpt_lines(0, 300))
    assert idle_alerts(stale, 0.0, 30, own=False) == []
    moving = fed(nanogpt_lines(0, 100))
    found = []
    for n in range(12):
        moving.feed(nanogpt_lines(100 + 10 * n, 110 + 10 * n), 60.0 * n)
        found += moving.apply_gpu(snap(0), 60.0 * n, own=False)
    assert [a.type for a in found if isinstance(a, Alert)] == ["gpu_idle"]
