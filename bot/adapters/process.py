"""Launch the training command for `etagram run -- CMD...` and tee its output to a log.

The child gets etagram's environment (less its `ETAGRAM_*` variables, the bot token among them)
and working directory, plus `PYTHONUNBUFFERED=1` so a
Python trainer writes its lines as they happen rather than in 8 KiB blocks. Its stdout and
stderr share one pipe (the order the user would see in a terminal); every byte goes to the
terminal and is appended to the log, which a `LogFollower` on that path parses live.

The child runs in its own process group and etagram forwards SIGINT and SIGTERM to it once:
with a shared group, Ctrl-C would reach a Python trainer twice (from the terminal and from
etagram) and interrupt its own KeyboardInterrupt handler. The price is that the child cannot
read from the terminal, which a training job does not do. If etagram is killed outright the
training keeps running. The forwarding handlers replace the loop's own SIGINT/SIGTERM handlers
while the child runs and are removed when it has exited: a caller with handlers of its own
installs them again afterwards.

`Launched` stops a launched run when asked from Telegram (`/stop`), as Ctrl-C in its terminal
would, then harder: SIGINT to the whole process group (a trainer can save a checkpoint, and
torchrun's workers hear it too), SIGTERM if anything of the group is left `grace_s` later,
SIGKILL `grace_s` after that. The default grace, 30 s, is SLURM's KillWait and Kubernetes'
termination grace period: the wait between "please stop" and "stop now" that training code
already expects (`[run] stop_grace_s`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import aiofiles
from aiofiles.threadpool.binary import AsyncFileIO

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
_FORWARDED = (signal.SIGINT, signal.SIGTERM)
# After the child exits, a grandchild may still hold the pipe open; do not wait on it forever.
_DRAIN_AFTER_EXIT_S = 2.0
DEFAULT_STOP_GRACE_S = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
_GONE_POLL_S = 0.1  # how often a group being stopped is looked at


async def run_command(
    argv: list[str],
    log_path: Path,
    on_start: Callable[[int], None] | None = None,
    *,
    echo: BinaryIO | None = None,
) -> int:
    """Run `argv` to completion; return its exit code, 128+N if signal N killed it.

    A command that cannot be started returns 127 (not found) or 126 (not executable), as a
    shell would, after logging why. An empty `argv` is a ValueError (the CLI rejects it).
    """
    if not argv:
        raise ValueError("no command to run")
    out = echo if echo is not None else sys.stdout.buffer
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Opened first: a log that cannot be written is an error before anything runs. Writes go
    # through aiofiles' thread: a log on network storage must not stall the event loop.
    async with aiofiles.open(log_path, "ab", buffering=0) as sink:
        return await _run(argv, sink, out, on_start)


async def _run(
    argv: list[str], sink: AsyncFileIO, out: BinaryIO, on_start: Callable[[int], None] | None
) -> int:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_child_env(),
            process_group=0,
        )
    except FileNotFoundError:
        log.error("command not found: %s", argv[0])
        return 127
    except OSError as exc:
        log.error("cannot start %s: %s", argv[0], exc)
        return 126
    if on_start is not None:
        on_start(proc.pid)
    loop = asyncio.get_running_loop()
    for sig in _FORWARDED:
        loop.add_signal_handler(sig, _forward, proc, sig)
    try:
        assert proc.stdout is not None
        pump = asyncio.create_task(_tee(proc.stdout, sink, out))
        code = await proc.wait()
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pump), _DRAIN_AFTER_EXIT_S)
        pump.cancel()
        with suppress(asyncio.CancelledError):
            await pump
    finally:
        for sig in _FORWARDED:
            loop.remove_signal_handler(sig)
    return 128 - code if code < 0 else code


def _child_env() -> dict[str, str]:
    """etagram's environment without its own variables: the bot token, a Redis URL with its
    password, have no business in the training process (nor in what it logs or spawns)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETAGRAM_")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _forward(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        proc.send_signal(sig)


async def _tee(stream: asyncio.StreamReader, sink: AsyncFileIO, out: BinaryIO) -> None:
    while data := await stream.read(_READ_SIZE):
        # The log first, as it is what gets parsed; then the terminal.
        await sink.write(data)
        with suppress(OSError, ValueError):  # a closed terminal must not stop the log
            out.write(data)
            out.flush()


@dataclass(frozen=True, slots=True)
class StopRequest:
    """A stop asked from Telegram: who pressed the button, in which chat."""

    by: str  # as the end message shows it: "@alice", or the user's name
    user_id: int
    chat_id: int


class Launched:
    """The process groups etagram launched, by run, and the stops asked of them."""

    def __init__(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
        self.grace_s = grace_s
        self.requests: dict[str, StopRequest] = {}  # kept after the exit, for the end message
        self.sent: dict[str, signal.Signals] = {}  # the last signal a stop sent
        self._groups: dict[str, int] = {}  # run -> process group, while its leader runs
        self._stops: dict[str, asyncio.Task[None]] = {}
        self._runs: set[str] = set()  # every run launched
        self.names: Mapping[str, str] = {}  # first name -> name now (the log may rename it)

    def started(self, run: str, pid: int) -> None:
        """`pid` leads its own process group (run_command starts it so)."""
        self._groups[run] = pid
        self._runs.add(run)

    def exited(self, run: str) -> None:
        """The leader was reaped: its group can no longer be asked to stop (its id may be
        reused once empty); a stop under way goes on with what is left of it."""
        self._groups.pop(run, None)

    def first_name(self, run: str) -> str:
        """The name `run` was launched under, from its name now."""
        if run in self._runs:
            return run
        return next((first for first, now in self.names.items() if now == run), run)

    def status(self, run: str) -> str:
        """`running`, `stopping`, `ended`, or `not_launched` (a log etagram only follows)."""
        run = self.first_name(run)
        if run not in self._runs:
            return "not_launched"
        if run not in self._groups:
            return "ended"
        return "stopping" if run in self._stops else "running"

    def stop(self, run: str, request: StopRequest) -> bool:
        """Start stopping `run`; False when it is not running or a stop is already under way."""
        run = self.first_name(run)
        if run not in self._groups or run in self._stops:
            return False
        self.requests[run] = request
        pgid = self._groups[run]
        self._stops[run] = asyncio.create_task(self._escalate(run, pgid), name=f"stop {run}")
        return True

    async def settled(self, run: str) -> None:
        """Wait until a stop under way is over (its group gone, or SIGKILL sent)."""
        if (task := self._stops.get(run)) is not None:
            await asyncio.shield(task)

    async def _escalate(self, run: str, pgid: int) -> None:
        for sig in STOP_SIGNALS:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            except OSError as exc:
                log.error(
                    "run %r: cannot send %s to process group %d: %s", run, sig.name, pgid, exc
                )
                return
            self.sent[run] = sig
            log.warning("run %r: %s sent to process group %d", run, sig.name, pgid)
            if sig == signal.SIGKILL or await _gone(pgid, self.grace_s):
                return


async def _gone(pgid: int, within_s: float) -> bool:
    """Whether every process of group `pgid` exits within `within_s` (the loop's clock)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_GONE_POLL_S)
