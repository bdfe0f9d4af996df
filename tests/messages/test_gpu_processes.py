from bot.core.gpu import GpuProcess, GpuSample, GpuSnapshot
from bot.messages import Ctx, gpu_text, to_plain

SNAP = GpuSnapshot(
    1.8e9,
    (
        GpuSample(
            0,
            name="RTX 4070",
            memory_used_mib=7000,
            memory_total_mib=12282,
            processes=(GpuProcess(4242, 6300), GpuProcess(99, 350)),
        ),
    ),
)


def test_the_launched_training_process_shows_its_memory() -> None:
    text = to_plain(gpu_text(SNAP, Ctx(lang="en", now_s=1.8e9), {4242}))
    assert "pid 4242 · 6.2\u00a0GiB" in text  # 6,300 MiB
    assert "pid 99" not in text  # the desktop's process is not the run's


def test_without_a_launched_process_no_process_row() -> None:
    assert "pid" not in to_plain(gpu_text(SNAP, Ctx(lang="fr", now_s=1.8e9)))
