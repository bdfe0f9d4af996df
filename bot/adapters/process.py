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
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

import aiofiles
from aiofiles.threadpool.binary import AsyncFileIO

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
_FORWARDED = (signal.SIGINT, signal.SIGTERM)
# After the child exits, a grandchild may still hold the pipe open; do not wait on it forever.
_DRAIN_AFTER_EXIT_S = 2.0


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
