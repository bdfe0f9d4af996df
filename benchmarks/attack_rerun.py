"""The second run of issue 15's 13 attacks, from the outside: real `python -m bot` processes
(watch / run / agent / hub / check), the Bot API stand-in (tests/telegram_stub.py) in this
process, a real redis-server on a loopback port, real files, mounts and signals.

    python benchmarks/attack_rerun.py            # ~4 min on 2 cores; run as root for tmpfs
    python benchmarks/attack_rerun.py --quick    # smaller sizes (run_all.sh)
    python benchmarks/attack_rerun.py --only 3,7 # some attacks
    ATTACK_PEOPLE=1000x1 python benchmarks/attack_rerun.py --only 6   # other stranger shapes

Prints one table: attack | what was done | what was seen | verdict (held / BROKEN).
Nothing is graded from etagram's own counters: deliveries and copies are counted at the
stand-in by message text, memory read from /proc, exit codes and stderr from the processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import cpu_s, machine, rss_mb, table  # noqa: E402
from tests.generated import nanogpt_lines  # noqa: E402
from tests.nvml_stub import HW_THERMAL, SW_THERMAL, FakeGpu, build, write_state  # noqa: E402
from tests.telegram_stub import BotApiStub  # noqa: E402

OWNER, OTHER = 4242, 4343
HEADER = [
    "Overriding config with config/train_gpt2.py:",
    "max_iters = 600",
    "eval_interval = 200",
    "eval_iters = 200",
    "log_interval = 10",
]
OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. "
    "GPU 0 has a total capacity of 11.72 GiB of which 1.02 GiB is free."
)
MILESTONE = "of the run done"  # "25% of the run done"
DEGRADED = "Restarting after a failure"  # what /status says while a part is restarted
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
WAIT_S = 45.0  # guards against a hang; not a speed claim


@dataclass
class Row:
    attack: str
    done: str
    seen: str
    held: bool | None  # None: could not be run here

    @property
    def verdict(self) -> str:
        return {True: "held", False: "BROKEN", None: "not run"}[self.held]


# Counting at the stand-in ----------------------------------------------------------------------
def sent(stub: BotApiStub, chat: int = OWNER) -> list[str]:
    """Texts of the messages the chat received (every copy), in order."""
    return [
        c.text or ""
        for c in stub.sent
        if c.ok and c.method in ("sendMessage", "sendPhoto") and c.chat_id == chat
    ]


def copies(stub: BotApiStub, needle: str, chat: int = OWNER) -> int:
    """Messages containing `needle`; an eval (EVAL_AT) counts as its own message or as a line
    of a digest ("2 evals while Telegram was unreachable: • iteration 200: ...")."""
    if needle.startswith(EVAL_AT):
        it = needle.removeprefix(EVAL_AT)
        return sum(
            f"{needle}\n" in t or (DIGEST in t and f"iteration {it}:" in t)
            for t in sent(stub, chat)
        )
    return sum(needle in t for t in sent(stub, chat))


EVAL_AT, DIGEST = "Eval at iteration ", "while Telegram was unreachable"


def eval_at(it: int) -> str:
    return f"{EVAL_AT}{it}"


async def until(check: Callable[[], bool], timeout: float = WAIT_S) -> float | None:
    """Seconds until check() held, polled every 50 ms; None when it did not within timeout."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def took_s(seconds: float | None, missing: str = "NOT delivered") -> str:
    return missing if seconds is None else f"in {seconds:.1f} s"


def append(path: Path | str, lines: Sequence[str]) -> None:
    with open(path, "a") as f:
        f.write("\n".join(lines) + "\n")


# Processes -------------------------------------------------------------------------------------
class Etagram:
    """`python -m bot ARGS`, its stdout and stderr in one file."""

    def __init__(self, args: Sequence[str | bytes], env: dict[str, str], out: Path) -> None:
        self.args, self.env, self.out = list(args), env, out
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Etagram:
        with self.out.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def text(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def said(self, needle: str, timeout: float = WAIT_S) -> bool:
        return await until(lambda: needle in self.text(), timeout) is not None

    async def exited(self, timeout: float) -> int | None:
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.proc.wait(), timeout)
        return None

    async def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            if await self.exited(20) is None:
                self.proc.kill()
        return await self.proc.wait()


async def cli(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to its end, off the event loop (the stand-in must answer it)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=90,
    )


def base_env(folder: Path, name: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETAGRAM_")}
    env.pop("LD_LIBRARY_PATH", None)
    env.update(
        ETAGRAM_STATE_PATH=str(folder / f"{name}.sqlite3"),
        ETAGRAM_LANGUAGE="en",
        ETAGRAM_TIMEZONE="UTC",
        ETAGRAM_GPU_INTERVAL_S="0.2",
        PYTHONUNBUFFERED="1",
        FAKE_NVML_STATE=str(folder / "no-gpu.nvml"),
    )
    env.update(extra)
    return env


def bot_env(stub: BotApiStub, folder: Path, name: str, **extra: str) -> dict[str, str]:
    telegram = {
        "ETAGRAM_TELEGRAM_TOKEN": stub.token,
        "ETAGRAM_TELEGRAM_API_BASE_URL": stub.base_url,
        "ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS": str(OWNER),
    }
    return base_env(folder, name, **{**telegram, **extra})


class Lab:
    """One attack's folder, its processes (stopped at the end) and the NVML stand-in."""

    def __init__(self, folder: Path, nvml_dir: Path | None) -> None:
        self.folder, self.nvml_dir = folder, nvml_dir
        self.procs: list[Etagram] = []

    def gpus(self, name: str, gpus: Sequence[FakeGpu]) -> dict[str, str]:
        """Environment that gives a process the stand-in GPUs of `name` (none without a C
        compiler)."""
        state = self.folder / f"{name}.nvml"
        write_state(state, gpus)
        if self.nvml_dir is None:
            return {}
        return {"LD_LIBRARY_PATH": str(self.nvml_dir), "FAKE_NVML_STATE": str(state)}

    async def start(self, name: str, args: Sequence[str | bytes], env: dict[str, str]) -> Etagram:
        p = await Etagram(args, env, self.folder / f"{name}.out").start()
        self.procs.append(p)
        return p

    async def watch(
        self, stub: BotApiStub, name: str, logs: Sequence[str | bytes], **extra: str
    ) -> Etagram:
        """`etagram watch LOGS` on the stand-in, once it registered its commands and follows."""
        n = len(stub.sent)
        p = await self.start(name, ["watch", *logs], bot_env(stub, self.folder, name, **extra))
        await stub.wait_for("setMyCommands", timeout=WAIT_S, since=n)
        await p.said("following ")
        return p

    async def close(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.procs))


async def ask(
    stub: BotApiStub, text: str, chat: int = OWNER, timeout: float = WAIT_S
) -> tuple[str, float]:
    """The owner's command and the answer's text and latency (measured at the stand-in)."""
    n = len(stub.sent)
    start = time.monotonic()
    stub.push_message(chat, text)
    reply = await stub.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == chat and c.ok, timeout, since=n
    )
    return reply.text or "", reply.time - start


class Redis:
    """A redis-server on a free loopback port, no persistence. `client()` waits until it is
    this server that answers: the free port can be taken by another program (other tests'
    servers) before it binds it, and Redis's default user accepts any password."""

    def __init__(self, folder: Path, password: str | None = None) -> None:
        self.folder, self.password = folder, password
        self._start()

    def _start(self) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(self.folder)]
        if self.password:
            cmd += ["--requirepass", self.password]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    async def client(self) -> Any:
        import redis.asyncio as aredis

        for _ in range(200):
            if self.proc.poll() is not None:  # it could not bind its port: another one
                self._start()
            r = aredis.Redis.from_url(self.url)
            with contextlib.suppress(Exception):
                answer = await r.config_get("dir")
                if Path(os.fsdecode(answer["dir"])) == self.folder.resolve():
                    return r
            await r.aclose()
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def lines_entry(run: str, lines: Sequence[str], host: str = "rogue") -> dict[str, str]:
    """A stream entry in the agents' wire format (bot/wire.py), written by hand."""
    msg = {"v": 1, "type": "lines", "run": run, "lines": list(lines), "wall_s": time.time()}
    msg.update(replayed=False, host=host, catch_up=False)
    return {"m": json.dumps(msg)}


def extreme_entries(run: str, host: str) -> list[dict[str, Any]]:
    """Messages bot/wire.py accepts, with values no agent sends: the far future and past, a
    GPU index past 64 bits, a GPU with no memory."""
    gpu: dict[str, Any] = {"index": 2**70, "uuid": None, "name": "x" * 10_000}
    gpu.update(utilization_pct=2**70, memory_used_mib=10, memory_total_mib=0)
    gpu.update(temperature_c=2**70, slowdown_temp_c=0, sm_clock_mhz=-1, max_sm_clock_mhz=0)
    gpu.update(power_mw=-5, power_limit_mw=0, reasons=["x"], processes=[[-1, 2**70]], lost=False)
    snapshot = {"taken_at_s": 1e308, "gpus": [gpu], "error": None}
    snapshot.update(error_detail=None, driver_version=None)
    base = {"v": 1, "run": run}
    return [
        {**base, "type": "lines", "lines": [], "wall_s": 1e308, "replayed": False, "host": host},
        {**base, "type": "lines", "lines": [], "wall_s": -1e308, "replayed": False, "host": host},
        {**base, "type": "gpu", "host": host, "snapshot": snapshot},
        {**base, "type": "gpu", "host": "rogue", "snapshot": {**snapshot, "taken_at_s": -1e308}},
        {**base, "type": "wait", "reason": "x" * 100_000, "wall_s": 1e308},
    ]


# The attacks ------------------------------------------------------------------------------------
async def a1_garbage(lab: Lab, quick: bool) -> Row:
    async with BotApiStub() as stub:
        log = lab.folder / "train.log"
        append(log, HEADER)
        await lab.watch(stub, "watch", [str(log)])
        outage = 8.0
        stub.fail("garbage", seconds=outage / 3)  # faults stack: the first live one answers
        stub.fail("html403", seconds=2 * outage / 3)
        stub.fail("html400", seconds=outage)
        start = time.monotonic()
        append(log, [*nanogpt_lines(0, 210), OOM])
        await asyncio.sleep(outage)
        modes = ("garbage", "html403", "html400")
        refused = "/".join(str(sum(c.description == m for c in stub.sent)) for m in modes)
        wanted = ("CUDA out of memory", eval_at(0), eval_at(200), MILESTONE)
        took = await until(lambda: all(copies(stub, w) for w in wanted), 60)
        await asyncio.sleep(2)  # copies that would follow
        oom = copies(stub, "CUDA out of memory")
        got = [w for w in wanted if copies(stub, w)]
        after = "not all" if took is None else f"{outage + took:.1f} s after the outage began"
        seen = (
            f"{refused} sends answered 200-garbage/403-HTML/400-HTML; after it: OOM ×{oom}, "
            f"{len(got)}/4 of OOM+eval 0+eval 200+25% milestone delivered ({after})"
        )
        del start
        return Row(
            "1 garbage 200/HTML replies",
            "200 non-JSON, 403 HTML, 400 HTML pages for 8 s on every call; OOM + 2 evals + "
            "a milestone written meanwhile",
            seen,
            oom == 1 and len(got) == 4,
        )


async def a2_follower(lab: Lab, quick: bool) -> Row:
    async with BotApiStub() as stub:
        full = lab.folder / "full"
        full.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(full)],
            capture_output=True,
        )
        seen_full = "tmpfs not mountable here"
        ok_full: bool | None = None
        if mounted.returncode == 0:
            try:
                ok_full, seen_full = await _disk_full(lab, stub, full)
            finally:
                await lab.close()
                subprocess.run(["umount", "-l", str(full)], capture_output=True)
        ok_names, seen_names = await _not_utf8(lab, stub)
        held = ok_names if ok_full is None else (ok_full and ok_names)
        return Row(
            "2 follower faults",
            "state DB on a 600 KB tmpfs filled up while evals are written, then freed + OOM; "
            "a log named b'train-\\xff.log' with --name b'run-\\xfe'",
            f"disk full: {seen_full}; non-UTF-8: {seen_names}",
            held,
        )


async def _disk_full(lab: Lab, stub: BotApiStub, full: Path) -> tuple[bool, str]:
    log = lab.folder / "train.log"
    append(log, HEADER)
    p = await lab.watch(stub, "full", [str(log)], ETAGRAM_STATE_PATH=str(full / "state.sqlite3"))
    filler = full / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    before = len(p.text().splitlines())
    append(log, nanogpt_lines(0, 260))
    await asyncio.sleep(4)
    errors = [line for line in p.text().splitlines()[before:] if "ERROR" in line]
    try:
        status = "says" if DEGRADED in (await ask(stub, "/status", timeout=10))[0] else "NOT"
    except TimeoutError:
        status = "no answer to"
    filler.unlink()
    append(log, [*nanogpt_lines(260, 310), OOM])
    took = await until(lambda: copies(stub, "CUDA out of memory") > 0, 60)
    await until(lambda: copies(stub, eval_at(200)) > 0, 10)
    evals = copies(stub, eval_at(200))
    alive = p.alive()
    seen = (
        f"{len(errors)} ERROR lines while full ({errors[0][24:100] if errors else 'none'}…); "
        f"after freeing, OOM {took_s(took, 'NOT delivered')}, "
        f"eval 200 ×{evals}, process {'alive' if alive else 'gone'}; /status while full "
        f"{status} '{DEGRADED}'"
    )
    return status == "says" and bool(errors) and took is not None and evals >= 1 and alive and len(
        errors
    ) < 50, seen


async def _not_utf8(lab: Lab, stub: BotApiStub) -> tuple[bool, str]:
    log = os.fsencode(lab.folder) + b"/train-\xff.log"
    append(os.fsdecode(log), HEADER)
    n = len(stub.sent)
    p = await lab.start(
        "utf8", ["watch", "--name", b"run-\xfe", log], bot_env(stub, lab.folder, "utf8")
    )
    await stub.wait_for("setMyCommands", timeout=WAIT_S, since=n)
    await p.said("following ")
    append(os.fsdecode(log), [*nanogpt_lines(0, 210), OOM])
    took = await until(lambda: copies(stub, "CUDA out of memory") > 0, 30)
    evals = copies(stub, eval_at(200))
    traces = p.text().count("Traceback")
    seen = f"OOM {took_s(took, 'NOT delivered')}, eval 200 ×{evals}, {traces} tracebacks"
    return took is not None and evals >= 1 and traces == 0 and p.alive(), seen


async def a3_poison(lab: Lab, quick: bool) -> Row:
    redis = Redis(lab.folder)
    try:
        async with BotApiStub() as stub:
            r = await redis.client()
            log = lab.folder / "train.log"
            append(log, HEADER)
            hub_env = bot_env(stub, lab.folder, "hub")
            hub = await lab.start("hub", ["hub", "--redis", redis.url], hub_env)
            agent_args = ["agent", "--redis", redis.url, "--run", "gpt2", "--host", "node1"]
            agent = await lab.start("agent", [*agent_args, str(log)], base_env(lab.folder, "a"))
            await stub.wait_for("setMyCommands", timeout=WAIT_S)
            await agent.said("following ")
            append(log, nanogpt_lines(0, 10))
            await until(lambda: copies(stub, eval_at(0)) > 0)
            await hub.stop()
            nested = "[" * 100_000 + "]" * 100_000
            await r.xadd("etagram:events", {"m": nested})
            await r.xadd(
                "etagram:events", lines_entry("bad\udcff", [*HEADER, *nanogpt_lines(0, 20)])
            )
            await r.xadd("etagram:events", {"m": json.dumps({"v": 1, "type": "lines"})})
            # As a hub that died on them: read, never acknowledged, pending at its restart.
            await r.xreadgroup("hub", "hub", {"etagram:events": ">"}, count=100)
            pending_before = (await r.xpending("etagram:events", "hub"))["pending"]
            n = len(stub.sent)
            hub = await lab.start("hub2", ["hub", "--redis", redis.url], hub_env)
            await stub.wait_for("setMyCommands", timeout=WAIT_S, since=n)
            for entry in extreme_entries("gpt2", "node1"):  # well-formed, absurd values
                await r.xadd("etagram:events", {"m": json.dumps(entry)})
            append(log, [*nanogpt_lines(10, 210), OOM])
            took = await until(lambda: copies(stub, "CUDA out of memory") > 0, 30)
            answered = []
            for command in ("/eta", "/gpu", "/status"):
                with contextlib.suppress(TimeoutError):
                    answered.append((await ask(stub, command, timeout=10))[0])
            await asyncio.sleep(1)
            pending_after = (await r.xpending("etagram:events", "hub"))["pending"]
            alive = hub.alive()
            traces = hub.text().count("Traceback")
            lines = [ln for ln in hub.text().splitlines() if "WARNING" in ln or "ERROR" in ln]
            await r.aclose()
        seen = (
            f"{pending_before} poisoned entries pending at restart, {pending_after} after; "
            f"real OOM {took_s(took, 'NOT delivered')}; "
            f"hub {'alive' if alive else 'DEAD'}, {len(lines)} warning/error lines, "
            f"{traces} tracebacks; with absurd values in the real run: eval 200 "
            f"×{copies(stub, eval_at(200))}, {len(answered)}/3 of /eta /gpu /status answered"
        )
        return Row(
            "3 poisoned stream entries",
            "hub stopped; rogue XADD: 100,000-deep JSON, run name 'bad\\udcff', a truncated "
            "message, read unacked; hub restarted on them; then well-formed entries with absurd "
            "values (wall_s 1e308, GPU index 2^70, 0 MiB total) for the real run; its OOM",
            seen,
            took is not None
            and alive
            and pending_after == 0
            and len(answered) == 3
            and copies(stub, eval_at(200)) >= 1,
        )
    finally:
        redis.stop()


async def a4_retry_after(lab: Lab, quick: bool) -> Row:
    async with BotApiStub() as stub:
        log = lab.folder / "train.log"
        append(log, HEADER)
        await lab.watch(
            stub, "watch", [str(log)], ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS=f"{OWNER},{OTHER}"
        )
        stub.fail("429", methods={"sendMessage"}, retry_after=86400, times=1)
        append(log, nanogpt_lines(0, 10))
        hit = await stub.wait_for(lambda c: c.status == 429, WAIT_S)
        _, eta_s = await ask(stub, "/eta", chat=OTHER if hit.chat_id == OWNER else OWNER)
        free = OTHER if hit.chat_id == OWNER else OWNER
        other = await until(lambda: copies(stub, eval_at(0), free) > 0, 20)
        cmd_s = (await ask(stub, "/status", chat=hit.chat_id))[1]
        # Again, the 429 on a command's own answer this time: the next command is answered.
        stub.fail("429", methods={"sendMessage"}, retry_after=86400, times=1)
        n = len(stub.sent)
        stub.push_message(OWNER, "/eta")
        await stub.wait_for(lambda c: c.status == 429, WAIT_S, since=n)
        next_s = (await ask(stub, "/status"))[1]
        seen = (
            f"429 on chat {hit.chat_id}'s eval; /eta answered in {eta_s:.2f} s, the other chat's "
            f"eval {took_s(other, 'NOT sent')}, /status in the throttled chat {cmd_s:.2f} s; "
            f"429 on /eta's answer: the next /status in {next_s:.2f} s"
        )
        return Row(
            "4 retry_after 86400",
            "sendMessage answered 429 retry_after=86400 once (an eval, two chats), commands "
            "sent meanwhile; then once more on a command's answer",
            seen,
            eta_s < 5 and other is not None and other < 10 and cmd_s < 5 and next_s < 10,
        )


async def a5_clock(lab: Lab, quick: bool) -> Row:
    if not FAKETIME_LIB.exists():
        return Row("5 backward clock step", "libfaketime missing", "-", None)
    back_ok, back = await _clock_step(lab, "-1d")
    ahead_ok, ahead = await _clock_step(lab, "+1d")
    return Row(
        "5 backward clock step",
        "libfaketime (file-driven, monotonic untouched): Telegram 500s, OOM+evals+milestone "
        "queued, wall clock set back 1 day (then, another run: ahead 1 day), outage ends, GPU "
        "temperature changed",
        f"back 1 day: {back}; ahead 1 day: {ahead}",
        back_ok and ahead_ok,
    )


async def _clock_step(lab: Lab, step: str) -> tuple[bool, str]:
    async with BotApiStub() as stub:
        name = f"clock{step}"
        log = lab.folder / f"{name}.log"
        append(log, HEADER)
        offset = lab.folder / f"{name}.faketime"
        offset.write_text("+0\n")
        gpus = lab.gpus(name, [FakeGpu(temp=60)])
        fake = {
            "LD_PRELOAD": str(FAKETIME_LIB),
            "FAKETIME_TIMESTAMP_FILE": str(offset),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # as NTP steps it: the wall clock only
        }
        await lab.watch(stub, name, [str(log)], **gpus, **fake)
        stub.fail("500", methods={"sendMessage"})
        append(log, [*nanogpt_lines(0, 310), OOM])
        await asyncio.sleep(3)
        offset.write_text(f"{step}\n")
        await asyncio.sleep(3)
        stub.heal()
        wanted = ("CUDA out of memory", eval_at(0), eval_at(200), MILESTONE)
        took = await until(lambda: all(copies(stub, w) for w in wanted), 40)
        gpu_seen = "no NVML stand-in"
        sampled = True
        if gpus:
            write_state(lab.folder / f"{name}.nvml", [FakeGpu(temp=83)])
            changed = time.monotonic()
            text = ""
            while "83" not in text and time.monotonic() - changed < 15:
                await asyncio.sleep(1)
                text, _ = await ask(stub, "/gpu")
            sampled = "83" in text
            shown = f"in {time.monotonic() - changed:.0f} s" if sampled else "NOT in 15 s"
            gpu_seen = f"/gpu shows the new 83 °C {shown}"
        got = [w.split(" ")[-1] for w in wanted if copies(stub, w)]
        late = copies(stub, "Sent ")  # "🕒 Sent 1 day late (written at ...)"
        seen = (
            f"{len(got)}/4 of OOM+evals+milestone delivered "
            f"{took_s(took, '(not all in 40 s: ' + ', '.join(got) + ')')}, {late} said late; "
            f"{gpu_seen}"
        )
        return took is not None and sampled and late == 0, seen


async def a6_strangers(lab: Lab, quick: bool) -> Row:
    async with BotApiStub() as stub:
        log = lab.folder / "train.log"
        append(log, [*HEADER, *nanogpt_lines(0, 100)])
        await lab.watch(stub, "watch", [str(log)])
        base = sorted([(await ask(stub, "/eta"))[1] for _ in range(3)])[1]
        people, each = (100, 5) if quick else (200, 5)
        if os.environ.get("ATTACK_PEOPLE"):
            people, each = map(int, os.environ["ATTACK_PEOPLE"].split("x"))
        for i in range(each):
            for chat in range(people):
                stub.push_message(10_000 + chat, "/eta" if i % 2 else "hello")
        for i in range(60):
            stub.push_message(-5555, "/eta", chat_type="group", user_id=20_000 + i)
        _, under = await ask(stub, "/eta")
        await asyncio.sleep(3)
        to_strangers = [c for c in stub.sent if c.ok and c.chat_id not in (OWNER, None)]
        chats = len({c.chat_id for c in to_strangers})
        most = max((sum(c.chat_id == x for c in to_strangers) for x in {-5555}), default=0)
        seen = (
            f"owner's /eta {base:.2f} s before, {under:.2f} s after {people * each + 60} "
            f"stranger messages; {len(to_strangers)} answers to {chats} stranger chats "
            f"(group: {most})"
        )
        return Row(
            "6 strangers",
            f"{people} private chats × {each} messages + 60 from one group, then the owner's /eta",
            seen,
            under < max(2.0, 5 * base) and len(to_strangers) <= people + 1,
        )


async def a7_rogue_runs(lab: Lab, quick: bool) -> Row:
    redis = Redis(lab.folder)
    try:
        async with BotApiStub() as stub:
            r = await redis.client()
            log = lab.folder / "train.log"
            append(log, HEADER)
            hub = await lab.start(
                "hub", ["hub", "--redis", redis.url], bot_env(stub, lab.folder, "hub")
            )
            args = ["agent", "--redis", redis.url, "--run", "gpt2", "--host", "node1", str(log)]
            agent = await lab.start("agent", args, base_env(lab.folder, "agent"))
            await stub.wait_for("setMyCommands", timeout=WAIT_S)
            await agent.said("following ")
            append(log, nanogpt_lines(0, 10))
            await until(lambda: copies(stub, eval_at(0)) > 0)
            await asyncio.sleep(1)
            rss_before = rss_mb(hub.pid)[0]
            n_msgs = len(sent(stub))
            rogues = 5_000 if quick else 20_000
            for start in range(0, rogues, 1000):
                pipe = r.pipeline(transaction=False)
                for i in range(start, start + 1000):
                    pipe.xadd(
                        "etagram:events",
                        lines_entry(f"made-up-{i}", [*HEADER, *nanogpt_lines(0, 10)]),
                    )
                await pipe.execute()
            written = time.monotonic()
            append(log, [*nanogpt_lines(10, 50), OOM])
            took = await until(lambda: copies(stub, "CUDA out of memory") > 0, 60)
            await asyncio.sleep(2)
            rss_after, peak = rss_mb(hub.pid)
            later = sent(stub)[n_msgs:]
            runs = len({m.group(1) for t in later if (m := re.search("<b>([^<]*)</b>", t))})
            refusals = sum("Too many runs" in t for t in later)
            await r.aclose()
        del written
        seen = (
            f"real OOM {took_s(took, 'NOT delivered in 60 s')}; "
            f"hub RSS {rss_before:.0f} → {rss_after:.0f} MB (peak {peak:.0f}); "
            f"{len(later)} messages to the owner after the flood, naming {runs} runs "
            f"(the hub's cap: 64), {refusals} 'Too many runs' alert"
        )
        return Row(
            "7 rogue run names",
            f"{rogues:,} made-up runs XADDed (eval lines each) while the real run writes an OOM",
            seen,
            took is not None
            and took < 30
            and rss_after - rss_before < 100
            and runs <= 65
            and refusals == 1
            and len(later) <= 3 * 64,
        )
    finally:
        redis.stop()


async def a8_slow_send(lab: Lab, quick: bool) -> Row:
    async with BotApiStub() as stub:
        log = lab.folder / "train.log"
        append(log, HEADER)
        await lab.watch(stub, "watch", [str(log)])
        delay = 30.0
        stub.fail("slow", methods={"sendMessage"}, delay_s=delay)
        append(log, [*nanogpt_lines(150, 160), OOM])  # 25%: one milestone; an OOM alert
        await asyncio.sleep(2 * delay + 10)
        stub.heal()
        await asyncio.sleep(5)
        texts = [m.get("text") or "" for m in stub.chat_messages(OWNER)]
        shown = sum(MILESTONE in t for t in texts)
        ooms = sum("CUDA out of memory" in t for t in texts)
        probes = sum(c.method == "getMe" for c in stub.sent)
        seen = f"in the chat: the milestone ×{shown}, the OOM alert ×{ooms} ({probes} getMe probes)"
        return Row(
            "8 sendMessage answers after 30 s",
            "sendMessage processed at once, answered after 30 s (getMe fast) for 70 s; one "
            "milestone and one OOM alert due",
            seen,
            1 <= shown <= 2 and 1 <= ooms <= 2,
        )


async def a9_two_processes(lab: Lab, quick: bool) -> Row:
    rounds = 8 if quick else 16
    log = lab.folder / "train.log"
    append(log, HEADER)
    bad = ("duplicate column", "already exists", "database is locked", "Traceback")
    one_each = clear = 0
    problems: list[str] = []

    async def pair(i: int) -> None:
        nonlocal one_each, clear
        env = base_env(lab.folder, f"pair{i}")
        ps = await asyncio.gather(*(lab.start(f"p{i}{s}", ["watch", str(log)], env) for s in "ab"))
        await until(lambda: any(not p.alive() for p in ps), 20)
        await asyncio.sleep(1)
        alive = [p for p in ps if p.alive()]
        dead = [p for p in ps if not p.alive()]
        if len(alive) == 1 and len(dead) == 1:
            one_each += 1
            if str(alive[0].pid) in dead[0].text() and dead[0].text().count("\n") <= 3:
                clear += 1
        problems.extend(w for p in ps for w in bad if w in p.text())
        await asyncio.gather(*(p.stop() for p in alive))

    for batch in range(0, rounds, 4):
        await asyncio.gather(*(pair(i) for i in range(batch, min(rounds, batch + 4))))
    # kill -9 the one that runs: the next start must not be refused by what it left behind
    env = base_env(lab.folder, "killed")
    first = await lab.start("k1", ["watch", str(log)], env)
    await first.said("following ")
    assert first.proc is not None
    first.proc.kill()
    await first.proc.wait()
    second = await lab.start("k2", ["watch", str(log)], env)
    after_kill = await second.said("following ", 20) and second.alive()
    await second.stop()
    # hub and agent on one machine, default paths
    home = lab.folder / "home"
    home.mkdir()
    async with BotApiStub() as stub:
        redis = Redis(lab.folder)
        try:
            await (await redis.client()).aclose()
            env_h = bot_env(stub, lab.folder, "x", HOME=str(home))
            env_a = base_env(lab.folder, "x", HOME=str(home))
            for env in (env_h, env_a):
                del env["ETAGRAM_STATE_PATH"]
                env.pop("XDG_STATE_HOME", None)
            hub = await lab.start("dhub", ["hub", "--redis", redis.url], env_h)
            agent = await lab.start("dagent", ["agent", "--redis", redis.url, str(log)], env_a)
            await stub.wait_for("setMyCommands", timeout=WAIT_S)
            await agent.said("following ")
            both = hub.alive() and agent.alive()
            dbs = sorted(p.name for p in home.rglob("*.sqlite3"))
            # 409: another poller on the token for 5 s
            before = hub.text().count("409")
            stub.fail("409", methods={"getUpdates"}, seconds=5)
            await asyncio.sleep(7)
            conflict_lines = hub.text().count("409") - before
            _, after_409 = await ask(stub, "/status")
            await hub.stop()
            await agent.stop()
        finally:
            redis.stop()
    seen = (
        f"{one_each}/{rounds} pairs: one ran, one stopped ({clear} naming the other's PID); "
        f"{len(problems)} schema/lock errors {sorted(set(problems))}; after kill -9 of the "
        f"one running, a new one {'runs' if after_kill else 'is REFUSED'}; hub+agent default "
        f"paths: "
        f"{'both up' if both else 'NOT both up'}, DBs {dbs}; 5 s of 409: {conflict_lines} "
        f"lines, /status after in {after_409:.2f} s"
    )
    return Row(
        "9 two processes, one DB",
        f"{rounds}× two `watch` on one state DB started together; hub + agent with one HOME; "
        "getUpdates answered 409 for 5 s; kill -9, start again",
        seen,
        one_each == rounds
        and clear == rounds
        and not problems
        and after_kill
        and both
        and len(dbs) == 2
        and 1 <= conflict_lines <= 3,
    )


async def a10_secrets(lab: Lab, quick: bool) -> Row:
    found: list[str] = []
    async with BotApiStub() as stub:
        # (a) check against a proxy page that quotes the request path (token included)
        stub.fail("echo")
        env = bot_env(stub, lab.folder, "check", **lab.gpus("g", [FakeGpu()]))
        out = await cli(["check"], env)
        secret = stub.token.split(":", 1)[1]
        leaks_check = secret in out.stdout + out.stderr
        echoed = "Bad Gateway" in out.stdout + out.stderr  # check saw the page
        found.append(
            f"check on an echoing 502 ({'seen' if echoed else 'NOT seen'}): token "
            f"{'PRINTED' if leaks_check else 'not printed'}"
        )
        stub.heal()
        # (b) the Redis password: from the environment and from a 600 file, never the cmdline
        redis = Redis(lab.folder, password="s3cret-pw")
        try:
            r = await redis.client()
            log = lab.folder / "train.log"
            append(log, [*HEADER, *nanogpt_lines(0, 20)])
            env_a = base_env(lab.folder, "agent", ETAGRAM_REDIS_URL=redis.url)
            a = await lab.start("agent", ["agent", "--run", "gpt2", str(log)], env_a)
            url_file = lab.folder / "redis-url"
            url_file.write_text(redis.url + "\n")
            url_file.chmod(0o600)
            b = await lab.start(
                "agent2",
                ["agent", "--redis-file", str(url_file), "--run", "g2", str(log)],
                base_env(lab.folder, "agent2"),
            )
            for _ in range(200):  # until both agents published what they read (20 s at most)
                await asyncio.sleep(0.1)
                entries = b" ".join(e[1][b"m"] for e in await r.xrange("etagram:events"))
                if b'"run":"gpt2"' in entries and b'"run":"g2"' in entries:
                    break
            n = await r.xlen("etagram:events")
            cmdlines = [Path(f"/proc/{p.pid}/cmdline").read_bytes() for p in (a, b) if p.alive()]
            in_cmd = any(b"s3cret-pw" in c for c in cmdlines)
            url_file.chmod(0o644)
            c = await lab.start(
                "agent3",
                ["agent", "--redis-file", str(url_file), "--run", "g3", str(log)],
                base_env(lab.folder, "agent3"),
            )
            refused_644 = await c.exited(30) not in (None, 0)
            in_output = any("s3cret-pw" in p.text() for p in (a, b, c))
            await r.aclose()
        finally:
            redis.stop()
        found.append(
            f"Redis via env + 600 file: {len(cmdlines)}/2 agents up, {n} entries, password "
            f"{'IN' if in_cmd else 'not in'} /proc/PID/cmdline"
            f"{' but IN their output' if in_output else ''}, 644 file "
            f"{'refused' if refused_644 else 'ACCEPTED'}"
        )
        # (c) etagram run: the training does not inherit ETAGRAM_*
        run_log = lab.folder / "run.log"
        child = "import os; print('ETAGRAM vars:', sorted(k for k in os.environ if 'ETAGRAM' in k))"
        run = await cli(
            ["run", "--log", str(run_log), "--", sys.executable, "-c", child],
            bot_env(stub, lab.folder, "run"),
        )
        seen_vars = (
            next(
                (ln for ln in run_log.read_text().splitlines() if "ETAGRAM vars" in ln), "no output"
            )
            if run_log.exists()
            else f"no log (exit {run.returncode})"
        )
        inherits = "ETAGRAM_" in seen_vars or "no " in seen_vars
        found.append(f"run's child says {seen_vars!r}")
        # (d) an inline token in a 644 config
        config = lab.folder / "etagram.toml"
        config.write_text(f'[telegram]\ntoken = "{stub.token}"\napi_base_url = "{stub.base_url}"\n')
        config.chmod(0o644)
        env = base_env(lab.folder, "cfg")
        cfg = await cli(["watch", "--config", str(config), str(log)], env)
        refused_cfg = cfg.returncode != 0 and cfg.stderr.strip().count("\n") == 0
        leaks_cfg = secret in cfg.stdout + cfg.stderr
        found.append(
            f"644 config with inline token: {'refused, one line' if refused_cfg else 'ACCEPTED'} "
            f"(exit {cfg.returncode}{', token PRINTED' if leaks_cfg else ''})"
        )
    return Row(
        "10 secrets",
        "check vs a 502 echoing the path; agents given the Redis password by env / 600 file / "
        "644 file; `run` child's env; inline token in a 644 config",
        "; ".join(found),
        echoed
        and not leaks_check
        and not in_cmd
        and not in_output
        and len(cmdlines) == 2
        and n > 0
        and refused_644
        and not inherits
        and refused_cfg
        and not leaks_cfg,
    )


async def a11_special_files(lab: Lab, quick: bool) -> Row:
    fifo = lab.folder / "train.fifo"
    os.mkfifo(fifo)
    results = []
    ok = True
    for name, path in (("/dev/zero", "/dev/zero"), ("FIFO", str(fifo))):
        p = await lab.start(
            name.strip("/").replace("/", "-"), ["watch", path], base_env(lab.folder, "sp")
        )
        code = await p.exited(20)
        cpu = ""
        if code is None:  # it did not refuse the path: what 5 s of following it costs
            await asyncio.sleep(5)
            with contextlib.suppress(OSError):
                cpu = f", {cpu_s(p.pid):.1f} CPU s"
            await p.stop()
        size = p.out.stat().st_size
        lines = p.text().strip().splitlines()
        results.append(
            f"{name}: exit {code}, {len(lines)} line(s), {size} bytes of output{cpu}"
            + (f" ({lines[-1][:80]!r})" if lines else "")
        )
        ok = ok and code not in (None, 0) and len(lines) == 1
    # The path does not exist at start, then a FIFO appears there, then a log with an OOM.
    late = lab.folder / "late.log"
    p = await lab.start("late", ["watch", str(late)], base_env(lab.folder, "late"))
    await p.said("waiting for ")
    os.mkfifo(late)
    before, cpu_before = len(p.text().splitlines()), cpu_s(p.pid)
    await asyncio.sleep(5)
    added, cpu = len(p.text().splitlines()) - before, cpu_s(p.pid) - cpu_before
    late.unlink()
    append(late, [*HEADER, *nanogpt_lines(0, 30), OOM])
    oom = await p.said("CUDA out of memory", 20)
    results.append(
        f"FIFO appearing after start: {added} line(s) and {cpu:.2f} CPU s in 5 s, then the "
        f"log's OOM {'alerted' if oom else 'NOT alerted'}"
    )
    return Row(
        "11 device / FIFO as the log",
        "`watch /dev/zero`; `watch FIFO`; `watch PATH` where a FIFO, then a log, appears",
        "; ".join(results),
        ok and added <= 2 and cpu < 0.5 and oom,
    )


async def a12_thermal_name(lab: Lab, quick: bool) -> Row:
    redis = Redis(lab.folder)
    try:
        async with BotApiStub() as stub:
            await (await redis.client()).aclose()
            log = lab.folder / "train.log"
            append(log, HEADER)
            hub_env = bot_env(stub, lab.folder, "hub", ETAGRAM_SLOWDOWN_MIN_S="1")
            await lab.start("hub", ["hub", "--redis", redis.url], hub_env)
            cool = [FakeGpu(temp=66)]
            env_a = base_env(lab.folder, "a", **lab.gpus("node-a", cool))
            env_b = base_env(lab.folder, "b", **lab.gpus("node-b", cool))
            common = ["agent", "--redis", redis.url, "--run", "gpt2", "--host"]
            a = await lab.start("node-a", [*common, "node-a", str(log)], env_a)
            await lab.start("node-b", [*common, "node-b"], env_b)
            await stub.wait_for("setMyCommands", timeout=WAIT_S)
            await a.said("following ")
            append(log, nanogpt_lines(0, 400))
            await until(lambda: copies(stub, eval_at(200)) > 0)
            hot = FakeGpu(temp=89, sm=2480, reasons=HW_THERMAL | SW_THERMAL)
            write_state(lab.folder / "node-b.nvml", [hot])
            await asyncio.sleep(2)
            for it in range(400, 700, 10):
                append(log, [f"iter {it}: loss 2.5000, time 400.00ms, mfu 12.00%"])
                await asyncio.sleep(0.05)
            await until(lambda: copies(stub, "Thermal slowdown") > 0, 20)
            await asyncio.sleep(2)
            alerts = [t for t in sent(stub) if "Thermal slowdown" in t]
        named = [t for t in alerts if "node-b:0" in t]
        wrong = [t for t in alerts if "GPU 1 " in t or ("GPU 0 " in t and "node-b:0" not in t)]
        gpu_lines = [ln for t in alerts for ln in t.splitlines() if "GPU" in ln and "°C" in ln]
        seen = f"{len(alerts)} thermal alert(s), {len(named)} naming node-b:0: {gpu_lines}"
        return Row(
            "12 hub thermal GPU name",
            "hub + node-a (log, cool GPU) + node-b (GPU 0 at 89 °C, thermal reasons); steps "
            "slow from 170 to 400 ms",
            seen,
            bool(alerts) and len(named) == len(alerts) and not wrong,
        )
    finally:
        redis.stop()


async def a13_fresh_check(lab: Lab, quick: bool) -> Row:
    async with BotApiStub() as stub:
        home = lab.folder / "fresh-home"
        home.mkdir()
        gpus = lab.gpus("g", [FakeGpu()])
        seen = []
        codes = []
        for label, chats in (("fresh HOME", str(OWNER)), ("no allowed chat", "")):
            env = bot_env(stub, lab.folder, "x", HOME=str(home), **gpus)
            del env["ETAGRAM_STATE_PATH"]
            env.pop("XDG_STATE_HOME", None)
            env["ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS"] = chats
            out = await cli(["check"], env)
            text = out.stdout + out.stderr
            fails = [ln.strip() for ln in text.splitlines() if "[FAIL]" in ln]
            warns = [ln.strip() for ln in text.splitlines() if "[warn]" in ln]
            codes.append((out.returncode, fails, warns, "all good" in text))
            seen.append(
                f"{label}: exit {out.returncode}, {len(fails)} FAIL, {len(warns)} WARN"
                + (f" ({(fails or warns)[0][:70]!r})" if fails or warns else "")
                + (", says 'all good'" if "all good" in text else "")
            )
        fresh, no_chat = codes
        return Row(
            "13 check on a fresh machine",
            "`check` with an empty HOME (no ~/.local/state); then with no allowed chat",
            "; ".join(seen),
            fresh[0] == 0 and not fresh[1] and not no_chat[3] and bool(no_chat[1] or no_chat[2]),
        )


ATTACKS: list[Callable[[Lab, bool], Awaitable[Row]]] = [
    a1_garbage,
    a2_follower,
    a3_poison,
    a4_retry_after,
    a5_clock,
    a6_strangers,
    a7_rogue_runs,
    a8_slow_send,
    a9_two_processes,
    a10_secrets,
    a11_special_files,
    a12_thermal_name,
    a13_fresh_check,
]
# Mostly waiting on a slow reply: run beside the others (not beside 6, which times replies).
BESIDE = {8}


async def one(number: int, quick: bool, nvml_dir: Path | None, keep: bool) -> Row:
    folder = Path(tempfile.mkdtemp(prefix=f"etagram-attack{number}-"))
    lab = Lab(folder, nvml_dir)
    started = time.monotonic()
    try:
        row = await ATTACKS[number - 1](lab, quick)
    except Exception as exc:  # an attack that cannot finish is a finding, not a crash
        row = Row(f"{number}", "raised", f"{type(exc).__name__}: {exc}"[:300], False)
    finally:
        await lab.close()
    row.done += f" [{time.monotonic() - started:.0f} s]"
    if row.held is False or keep:
        print(f"attack {number}: outputs kept in {folder}", file=sys.stderr)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return row


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (run_all.sh)")
    p.add_argument("--full", action="store_true", help="the issue's sizes (the default)")
    p.add_argument("--only", help="comma-separated attack numbers")
    p.add_argument("--keep", action="store_true", help="keep each attack's folder")
    args = p.parse_args()
    chosen = [int(n) for n in args.only.split(",")] if args.only else list(range(1, 14))
    try:
        nvml_dir: Path | None = build(Path(tempfile.gettempdir()) / "etagram-attack-nvml")
    except Exception as exc:  # noqa: BLE001 - no C compiler: the GPU parts say so
        print(f"NVML stand-in unavailable: {exc}", file=sys.stderr)
        nvml_dir = None
    print(machine())
    started = time.monotonic()
    beside = [n for n in chosen if n in BESIDE]
    background = [asyncio.create_task(one(n, args.quick, nvml_dir, args.keep)) for n in beside]
    rows: dict[int, Row] = {}
    for n in chosen:
        if n not in BESIDE:
            if n == 6 and background:
                await asyncio.wait(background)
            rows[n] = await one(n, args.quick, nvml_dir, args.keep)
    for n, task in zip(beside, background, strict=True):
        rows[n] = await task
    table(
        ["attack", "what was done", "what was seen", "verdict"],
        [[r.attack, r.done, r.seen, r.verdict] for _, r in sorted(rows.items())],
    )
    print(
        f"\n{sum(r.held is True for r in rows.values())}/{len(rows)} held; "
        f"{time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
