"""Past one machine, end to end: a real redis-server, a hub and two agents as separate
processes on loopback, the Bot API stand-in in this process.

One agent (node1) follows the training log; the other (node3) only has GPUs, one of which
overheats (the NVML stand-in library, through LD_LIBRARY_PATH): one thermal alert names
node3 and its GPU, `/gpu` and the Prometheus metrics show each host's GPUs. The hub is
stopped and started again mid-run, then the log's agent: every eval message arrives once,
nothing twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import RedisServer, free_port
from tests.generated import nanogpt_lines
from tests.nvml_stub import HW_THERMAL, SW_THERMAL, FakeGpu, NoCompiler, build, write_state
from tests.telegram_stub import BotApiStub, SentCall
from tests.test_service_e2e import EVAL, HEADER, OWNER, append

ROOT = Path(__file__).resolve().parents[1]
DB = 1  # the other Redis tests use db 0
WAIT_S = 30.0  # guards against a hang; not a speed claim
COOL = [FakeGpu(temp=67), FakeGpu(temp=66)]
HOT = [FakeGpu(temp=66), FakeGpu(temp=91, sm=2480, reasons=HW_THERMAL | SW_THERMAL)]


class Etagram:
    """`python -m bot ARGS` in its own process, its output in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], out: Path) -> None:
        self.name, self.args, self.env, self.out = name, args, env, out
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.out.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int | None:
        """SIGTERM, as systemd or SLURM would; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    async def said(self, text: str) -> None:
        """Wait until the process has written `text` to its output."""
        async with asyncio.timeout(WAIT_S):
            while text not in self.out.read_text(errors="replace"):
                await asyncio.sleep(0.05)

    async def stopped(self) -> int | None:
        """`stop()` off the event loop: the Bot API stand-in, on this loop, must answer the
        process while it shuts down (its last messages, its last getUpdates)."""
        return await asyncio.to_thread(self.stop)


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


@pytest.fixture
def nvml_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return build(tmp_path_factory.getbasetemp() / "nvml")
    except NoCompiler as exc:
        pytest.skip(f"NVML stand-in library: {exc}")


@pytest.fixture
def processes() -> Iterator[list[Etagram]]:
    started: list[Etagram] = []
    yield started
    for p in started:
        p.stop()


def base_env(tmp_path: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETAGRAM_")}
    env.update(
        ETAGRAM_STATE_PATH=str(tmp_path / f"{name}.sqlite3"),
        ETAGRAM_LANGUAGE="en",
        ETAGRAM_TIMEZONE="UTC",
        ETAGRAM_GPU_INTERVAL_S="0.2",
        PYTHONUNBUFFERED="1",
    )
    return env


def telegram_env(tmp_path: Path, name: str, stub: BotApiStub) -> dict[str, str]:
    """`base_env` for a process that talks to the stand-in Bot API, the owner's chat allowed."""
    env = base_env(tmp_path, name)
    env.update(
        ETAGRAM_TELEGRAM_TOKEN=stub.token,
        ETAGRAM_TELEGRAM_API_BASE_URL=stub.base_url,
        ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS=str(OWNER),
    )
    return env


def nvml_env(nvml_library: Path, nvml_state: Path) -> dict[str, str]:
    """What makes a process load the stand-in NVML library, reading the GPUs of `nvml_state`."""
    return {"LD_LIBRARY_PATH": str(nvml_library), "FAKE_NVML_STATE": str(nvml_state)}


def thermal(c: SentCall) -> bool:
    return "Thermal slowdown" in (c.text or "")


def eval_at(it: int) -> Callable[[SentCall], bool]:
    return lambda c: EVAL in (c.text or "") and f"Eval at iteration {it}\n" in (c.text or "")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return str(r.read().decode())


async def ask(stub: BotApiStub, command: str) -> str:
    n = len(stub.sent)
    stub.push_message(OWNER, command)
    reply = await stub.wait_for("sendMessage", timeout=WAIT_S, since=n)
    return reply.text or ""


async def test_hub_and_two_agents_across_a_hub_restart(
    redis_server: RedisServer,
    stub: BotApiStub,
    nvml_library: Path,
    processes: list[Etagram],
    tmp_path: Path,
) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/{DB}"
    redis.Redis.from_url(url).flushdb()
    log = tmp_path / "train.log"
    log.write_text("\n".join(HEADER.splitlines()) + "\n")
    hub_env = telegram_env(tmp_path, "hub", stub)
    hub_env.update(ETAGRAM_SLOWDOWN_MIN_S="1")  # a GPU hot for a second is worth a warning here
    metrics_port = free_port()
    hub_args = ["hub", "--redis", url, "--metrics-port", str(metrics_port)]
    hub = Etagram("hub", hub_args, hub_env, tmp_path / "hub.out")
    agents = []
    for host, logs in (("node1", [str(log)]), ("node3", [])):
        nvml_state = tmp_path / f"{host}.nvml"
        write_state(nvml_state, COOL)
        env = base_env(tmp_path, host)
        env.update(nvml_env(nvml_library, nvml_state))
        args = ["agent", "--redis", url, "--run", "gpt2", "--host", host, *logs]
        agents.append(Etagram(host, args, env, tmp_path / f"{host}.out"))
    processes += [hub, *agents]
    for p in processes:
        p.start()

    await stub.wait_for("setMyCommands", timeout=WAIT_S)
    await agents[0].said("following ")  # else what is written before is a silent backlog
    await append(log, nanogpt_lines(0, 250))
    await stub.wait_for(eval_at(200), WAIT_S)

    write_state(tmp_path / "node3.nvml", HOT)
    alert = (await stub.wait_for(thermal, WAIT_S)).text or ""
    assert "91" in alert, alert
    assert "GPU node3:1 at 91" in alert, alert
    table = await ask(stub, "/gpu")
    assert "91\u00a0°C" in table and "67\u00a0°C" in table, table  # node3's hot GPU beside node1's
    assert "node1:0 ·" in table and "node3:1 ·" in table, table
    metrics = await asyncio.to_thread(scrape, metrics_port)
    assert 'etagram_gpu_temperature_celsius{gpu="1",host="node3",run="gpt2"} 91.0' in metrics

    assert await hub.stopped() == 0
    await append(log, nanogpt_lines(250, 450))  # the agent goes on; Redis keeps it
    n = len(stub.sent)
    hub.start()
    await stub.wait_for("setMyCommands", timeout=WAIT_S, since=n)
    await stub.wait_for(eval_at(400), WAIT_S)

    follower = agents[0]  # the log's agent restarts too: it goes on from its offset
    assert await follower.stopped() == 0
    await append(log, nanogpt_lines(450, 610))
    follower.start()
    await stub.wait_for(eval_at(600), WAIT_S)

    status = await ask(stub, "/status")
    assert "600" in status, status  # the restarted hub rebuilt the run from the stream
    for p in processes:
        assert await p.stopped() == 0, (tmp_path / f"{p.name}.out").read_text()[-3000:]

    alerts = [c.text for c in stub.messages_to(OWNER) if thermal(c)]
    assert len(alerts) == 1, "\n---\n".join(alerts)
    sent = [c.text for c in stub.messages_to(OWNER) if c.method == "sendMessage"]
    twice = [t for t in set(sent) if sent.count(t) > 1]
    assert not twice, twice  # nothing said twice across the restarts
    assert not [t for t in sent if "Training resumed" in (t or "")], sent  # nor folded twice
    evals = [c.text or "" for c in stub.messages_to(OWNER) if EVAL in (c.text or "")]
    assert len(evals) == 4, "\n---\n".join(
        evals
    )  # iterations 0, 200, 400 and 600: each once, none lost
