"""Each run hears of its own GPUs only, end to end: `etagram watch` in its own process with the
NVML stand-in library, the Bot API stand-in in this process, and two real writer processes.

Run alpha's log is held open by one process whose child is NVML's process on GPU 0; beta's by
another whose child is on GPU 1. GPU 1 overheats and both runs slow down: beta is told of the
heat, alpha is not (its slowdown, if flagged, blames no GPU). Then GPU 0 of an idle machine
part (no run on it) overheats: one machine-level message, not one per run.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.generated import nanogpt_lines
from tests.nvml_stub import HW_THERMAL, SW_THERMAL, FakeGpu, write_state
from tests.telegram_stub import BotApiStub, SentCall
from tests.test_redis_e2e import (  # noqa: F401 (fixtures)
    WAIT_S,
    Etagram,
    ask,
    nvml_env,
    nvml_library,
    processes,
    stub,
    telegram_env,
)
from tests.test_service_e2e import HEADER, OWNER

# Holds the log open for appending (as `python train.py > log` does), starts a child that
# stands for the GPU process, prints its PID, then writes what it reads on stdin to the log.
WRITER = """
import subprocess, sys
log = open(sys.argv[1], "a")
gpu = subprocess.Popen([sys.executable, "-c", sys.argv[-1]])
print(gpu.pid, flush=True)
for line in sys.stdin:
    log.write(line)
    log.flush()
gpu.kill()
"""
GIB = 1 << 30
# The GPU process stand-in: it ends with its parent, so a test that fails leaves nothing behind.
GPU_CHILD = "import os, time\nppid = os.getppid()\nwhile os.getppid() == ppid: time.sleep(0.1)"
SLOWED = "Training slowed down"  # the title of a slowdown with no GPU cause


class Writer:
    """A training process writing one log, with its GPU child."""

    def __init__(self, log: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log), GPU_CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.gpu_pid = int(self.proc.stdout.readline())

    def write(self, lines: list[str]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(line + "\n" for line in lines))
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[dict[str, Writer]]:
    started = {name: Writer(tmp_path / f"{name}.log") for name in ("alpha", "beta")}
    yield started
    for w in started.values():
        w.close()


def slow_lines(start: int, stop: int) -> list[str]:
    """nanoGPT's iteration lines at about 2.5 times the usual step time."""
    return [f"iter {it}: loss 2.5000, time 430.00ms, mfu 12.00%" for it in range(start, stop, 10)]


def hot_gpu(procs: list[tuple[int, int]] | None = None) -> FakeGpu:
    return FakeGpu(temp=91, sm=2100, reasons=HW_THERMAL | SW_THERMAL, procs=procs or [])


def gpus(writers: dict[str, Writer], hot: set[int]) -> list[FakeGpu]:
    def one(index: int, pids: list[int]) -> FakeGpu:
        procs = [(pid, 9 * GIB) for pid in pids]
        return hot_gpu(procs) if index in hot else FakeGpu(temp=65, procs=procs)

    placed = [[writers["alpha"].gpu_pid], [writers["beta"].gpu_pid], []]
    return [one(i, pids) for i, pids in enumerate(placed)]


def run_of(c: SentCall) -> str:
    """The run a push is about, from its bold head line ("" for the machine)."""
    head = (c.text or "").split("\n", 1)[0]
    return head.split("<b>", 1)[1].split("</b>", 1)[0] if "<b>" in head else ""


def said(api: BotApiStub, words: str) -> list[SentCall]:
    return [c for c in api.messages_to(OWNER) if words in (c.text or "")]


async def test_only_the_run_on_the_hot_gpu_hears_of_heat(
    stub: BotApiStub,  # noqa: F811 (the fixture imported above)
    nvml_library: Path,  # noqa: F811
    processes: list[Etagram],  # noqa: F811
    writers: dict[str, Writer],
    tmp_path: Path,
) -> None:
    nvml_state = tmp_path / "gpus.nvml"
    write_state(nvml_state, gpus(writers, hot=set()))
    env = telegram_env(tmp_path, "watch", stub)
    env.update(ETAGRAM_SLOWDOWN_MIN_S="1", **nvml_env(nvml_library, nvml_state))
    logs = [f"{name}={tmp_path / name}.log" for name in writers]
    etagram = Etagram("watch", ["watch", *logs], env, tmp_path / "watch.out")
    processes.append(etagram)
    etagram.start()
    await stub.wait_for("setMyCommands", timeout=WAIT_S)
    await etagram.said("following ")
    for w in writers.values():
        w.write([*HEADER.splitlines(), *nanogpt_lines(0, 410)])
    for name in writers:  # the eval at 400 is the last line: both baselines are built
        await stub.wait_for(
            lambda c, n=name: run_of(c) == n and "iteration 400" in (c.text or ""), WAIT_S
        )

    table = await ask(stub, "/gpu alpha")
    assert "alpha</b> runs on: GPU 0." in table, table
    table = await ask(stub, "/gpu beta")
    assert "beta</b> runs on: GPU 1." in table, table
    assert table.index("<pre>1 ·") < table.index("\n0 ·"), table  # beta's GPU first

    write_state(nvml_state, gpus(writers, hot={1}))
    await asyncio.sleep(1.5)  # hot for longer than ETAGRAM_SLOWDOWN_MIN_S
    await stub.wait_for(lambda c: run_of(c) == "beta" and "Thermal" in (c.text or ""), WAIT_S)
    for start in range(410, 590, 10):  # both runs slow down, over a second or so of wall clock
        for w in writers.values():
            w.write(slow_lines(start, start + 10))
        await asyncio.sleep(0.05)
    slowed = await stub.wait_for(
        lambda c: run_of(c) == "alpha" and SLOWED in (c.text or ""), WAIT_S
    )
    # A cool GPU's run is slower too, and blames no GPU's heat.
    assert "GPU 1" not in (slowed.text or "") and "°C" not in (slowed.text or ""), slowed.text
    await asyncio.sleep(2.0)  # time for a wrong alert to alpha to arrive too

    heat = said(stub, "Thermal") + said(stub, "GPU 1 at")
    assert heat and {run_of(c) for c in heat} == {"beta"}, [c.text for c in heat]
    about_alpha = [c.text or "" for c in stub.messages_to(OWNER) if run_of(c) == "alpha"]
    assert not [t for t in about_alpha if "GPU 1" in t or "°C" in t], about_alpha

    # GPU 2, which no run uses, overheats: one message for the machine, none per run.
    n = len(stub.sent)
    write_state(nvml_state, gpus(writers, hot={1, 2}))
    machine = await stub.wait_for(lambda c: "GPU 2 at 91" in (c.text or ""), WAIT_S, since=n)
    assert "No followed run is on this GPU" in (machine.text or ""), machine.text
    await asyncio.sleep(2.0)
    about_gpu2 = said(stub, "GPU 2")
    assert len(about_gpu2) == 1 and run_of(about_gpu2[0]) == "GPU", [c.text for c in about_gpu2]
    assert await etagram.stopped() == 0, (tmp_path / "watch.out").read_text()[-3000:]


# `etagram run` launches this: it starts its GPU child, says the child's PID in a file, prints
# a nanoGPT header and a few iterations, then waits for the test to let it finish.
TRAINER = """
import pathlib, subprocess, sys, time
pid_file, done = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
gpu = subprocess.Popen([sys.executable, "-c", sys.argv[-1]])
pid_file.write_text(str(gpu.pid))
print(sys.argv[3], flush=True)
while not done.exists():
    time.sleep(0.05)
gpu.kill()
"""


async def test_a_launched_run_owns_the_gpus_of_its_process_tree(
    stub: BotApiStub,  # noqa: F811
    nvml_library: Path,  # noqa: F811
    processes: list[Etagram],  # noqa: F811
    tmp_path: Path,
) -> None:
    """`etagram run`: the run's GPU is its child's; heat on another GPU is the machine's."""
    nvml_state, pid_file, done = tmp_path / "gpus.nvml", tmp_path / "pid", tmp_path / "done"
    write_state(nvml_state, [FakeGpu(), FakeGpu()])
    env = telegram_env(tmp_path, "run", stub)
    env.update(ETAGRAM_SLOWDOWN_MIN_S="1", **nvml_env(nvml_library, nvml_state))
    lines = "\n".join([*HEADER.splitlines(), *nanogpt_lines(0, 50)])
    argv = [sys.executable, "-c", TRAINER, str(pid_file), str(done), lines, GPU_CHILD]
    log = tmp_path / "solo.log"
    run = ["run", "--log", str(log), "--name", "solo", "--", *argv]
    etagram = Etagram("run", run, env, tmp_path / "run.out")
    processes.append(etagram)
    etagram.start()
    await stub.wait_for("setMyCommands", timeout=WAIT_S)
    async with asyncio.timeout(WAIT_S):
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.05)
    procs = [(int(pid_file.read_text()), 9 * GIB)]
    write_state(nvml_state, [FakeGpu(procs=procs), hot_gpu()])
    machine = await stub.wait_for(lambda c: "GPU 1 at 91" in (c.text or ""), WAIT_S)
    assert run_of(machine) == "GPU", machine.text
    assert "solo</b> runs on: GPU 0." in await ask(stub, "/gpu")

    write_state(nvml_state, [hot_gpu(procs), FakeGpu()])
    alert = await stub.wait_for(lambda c: "GPU 0 at 91" in (c.text or ""), WAIT_S)
    assert run_of(alert) == "solo", alert.text
    done.touch()
    assert await etagram.stopped() is not None
    assert len(said(stub, "GPU 1 at 91")) == 1
