"""The run's surroundings, end to end against the Bot API stand-in.

- GPU idle: `etagram watch` in its own process, the NVML stand-in library, a real writer
  process whose child is NVML's process on GPU 0 (the run's own GPU, found through /proc).
- Disk almost full and the SLURM job ending first: the service in this process, its disk and
  job readers injected at the adapter boundary (a full disk needs root to make).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General, Run, Telegram
from bot.core.resources import DiskUsage
from bot.parts import RunSpec
from bot.resources import Probes
from tests.generated import nanogpt_lines
from tests.nvml_stub import FakeGpu, write_state
from tests.telegram_stub import BotApiStub
from tests.test_gpumap_e2e import GIB, Writer, said
from tests.test_redis_e2e import (  # noqa: F401 (fixtures)
    WAIT_S,
    Etagram,
    nvml_env,
    nvml_library,
    processes,
    stub,
    telegram_env,
)
from tests.test_service_e2e import HEADER, OWNER, append

IDLE = "GPU idle while training runs"


async def test_idle_gpu_of_a_live_run_is_said_once_per_episode(
    stub: BotApiStub,  # noqa: F811 (the fixture imported above)
    nvml_library: Path,  # noqa: F811
    processes: list[Etagram],  # noqa: F811
    tmp_path: Path,
) -> None:
    writer = Writer(tmp_path / "alpha.log")
    try:
        nvml_state = tmp_path / "gpus.nvml"

        def gpus(util: int) -> list[FakeGpu]:  # the run's GPU, and a spare one kept idle
            return [FakeGpu(util=util, procs=[(writer.gpu_pid, 9 * GIB)]), FakeGpu(util=0)]

        write_state(nvml_state, gpus(100))
        env = telegram_env(tmp_path, "watch", stub)
        env.update(ETAGRAM_GPU_IDLE_MIN_S="1", **nvml_env(nvml_library, nvml_state))
        etagram = Etagram(
            "watch", ["watch", f"alpha={tmp_path / 'alpha.log'}"], env, tmp_path / "o"
        )
        processes.append(etagram)
        etagram.start()
        await stub.wait_for("setMyCommands", timeout=WAIT_S)
        await etagram.said("following ")
        await asyncio.sleep(1.5)  # busy run's GPU, the spare idle: nothing to say
        assert said(stub, IDLE) == []  # before the first iteration: loading is not idling
        writer.write([*HEADER.splitlines(), *nanogpt_lines(0, 210)])
        await stub.wait_for(lambda c: "Training started" in (c.text or ""), WAIT_S)
        await asyncio.sleep(1.5)  # the spare GPU idles: not the run's
        assert said(stub, IDLE) == []

        write_state(nvml_state, gpus(0))
        first = await stub.wait_for(lambda c: IDLE in (c.text or ""), WAIT_S)
        assert "GPU 0 has been below 5% utilization" in (first.text or ""), first.text
        await asyncio.sleep(1.5)
        assert len(said(stub, IDLE)) == 1  # once per episode

        write_state(nvml_state, gpus(100))  # back to work, then idle again: a new episode
        writer.write(nanogpt_lines(210, 300))  # (one at the same iteration is the same hang)
        await asyncio.sleep(1.0)
        n = len(stub.sent)
        write_state(nvml_state, gpus(0))
        await stub.wait_for(lambda c: IDLE in (c.text or ""), WAIT_S, since=n)
        assert len(said(stub, IDLE)) == 2
        assert await etagram.stopped() == 0, (tmp_path / "o").read_text()[-3000:]
    finally:
        writer.close()


class Readings:
    """The disk and the job's end as the test sets them; what the service asked."""

    def __init__(self) -> None:
        self.used_pct = 50.0
        self.job_end_s: float | None = None
        self.paths: list[str] = []

    def disk(self, path: str) -> DiskUsage:
        self.paths.append(path)
        total = 1000 * GIB
        used = int(total * self.used_pct / 100)
        return DiskUsage(path, "/scratch", total, used, total - used)

    def job_end(self, pids: object, log: Path) -> float | None:
        return self.job_end_s


async def test_disk_full_and_job_ending_first_reach_the_chat(
    stub: BotApiStub,  # noqa: F811
    tmp_path: Path,
) -> None:
    log = tmp_path / "train.log"
    readings = Readings()
    config = Config(
        telegram=Telegram(token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)),
        general=General(language="en", timezone="UTC", state_path=str(tmp_path / "state.sqlite3")),
        run=Run(max_iters=200_000),
    )
    probes = Probes(readings.disk, readings.job_end, every_s=0.1, job_every_s=0.0)
    service = assemble.embedded(
        config, [RunSpec("gpt2", log)], console=Console(io.StringIO()), probes=probes
    )
    serving = asyncio.create_task(service.serve())
    try:
        await stub.wait_for("setMyCommands", timeout=WAIT_S)
        await append(
            log, [*HEADER.splitlines(), "saving checkpoint to out-gpt2", *nanogpt_lines(0, 250)]
        )
        await stub.wait_for(lambda c: "Training started" in (c.text or ""), WAIT_S)
        await asyncio.sleep(0.5)
        assert said(stub, "Disk almost full") == [] and said(stub, "SLURM") == []
        assert readings.paths[-1] == str(tmp_path / "out-gpt2")  # the log names the folder

        readings.used_pct = 96.0
        disk = await stub.wait_for(lambda c: "Disk almost full" in (c.text or ""), WAIT_S)
        text = disk.text or ""
        assert "<code>/scratch</code> is 96% full: 40\u00a0GiB left." in text, text
        await asyncio.sleep(0.5)
        assert len(said(stub, "Disk almost full")) == 1  # once, until it drops below

        readings.job_end_s = service.fold.now() + 3600  # the run needs far longer
        short = await stub.wait_for(lambda c: "SLURM job ends" in (c.text or ""), WAIT_S)
        assert " short." in (short.text or ""), short.text
        await asyncio.sleep(0.5)
        assert len(said(stub, "SLURM job ends")) == 1
    finally:
        service.stop()
        await asyncio.wait_for(serving, 15)
