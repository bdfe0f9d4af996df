"""`run_command` with real child processes."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.adapters.process import Launched, StopRequest, run_command

STUCK_S = 30.0


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def test_tees_output_and_returns_the_exit_code(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    echo = io.BytesIO()
    pids: list[int] = []
    code = await run_command(
        python(
            "import sys\n"
            "for i in range(200): print(f'iter {i}: loss 2.0')\n"
            "print('bad \\u00e9', file=sys.stderr)\n"
            "sys.exit(3)"
        ),
        log,
        on_start=pids.append,
        echo=echo,
    )
    assert code == 3
    expected = "".join(f"iter {i}: loss 2.0\n" for i in range(200)) + "bad é\n"
    assert log.read_bytes() == echo.getvalue() == expected.encode()
    assert len(pids) == 1 and pids[0] > 0


async def test_appends_to_an_existing_log_and_keeps_a_last_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"earlier\n")
    code = await run_command(
        python("import sys; sys.stdout.write('no newline at the end')"), log, echo=io.BytesIO()
    )
    assert code == 0
    assert log.read_bytes() == b"earlier\nno newline at the end"


async def test_child_sees_same_env_and_cwd_and_is_unbuffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    monkeypatch.setenv("TRAIN_TEST_MARK", "42")
    await run_command(
        python(
            "import os; print(os.environ['TRAIN_TEST_MARK'], "
            "os.environ['PYTHONUNBUFFERED'], os.getcwd())"
        ),
        log,
        echo=io.BytesIO(),
    )
    assert log.read_text() == f"42 1 {os.getcwd()}\n"


async def test_child_does_not_inherit_etagrams_own_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    monkeypatch.setenv("ETAGRAM_TELEGRAM_TOKEN", "123:secret-token")
    monkeypatch.setenv("ETAGRAM_REDIS_URL", "redis://:pw@hub/0")
    await run_command(
        python("import os; print(sorted(k for k in os.environ if k.startswith('ETAGRAM')))"),
        log,
        echo=io.BytesIO(),
    )
    assert log.read_text() == "[]\n"


async def test_sigint_is_forwarded_to_the_child(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    # 'ready' is printed inside the `try`: printed before it, a SIGINT that came before the
    # child got there (a loaded machine) was a KeyboardInterrupt nobody caught (flaky).
    child = python(
        "import sys, time\n"
        "try:\n"
        "    print('ready')\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
        "    sys.exit(130)\n"
    )
    run = asyncio.create_task(run_command(child, log, echo=io.BytesIO()))
    while b"ready" not in (log.read_bytes() if log.exists() else b""):
        await asyncio.sleep(0.02)
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does to etagram
    assert await asyncio.wait_for(run, STUCK_S) == 130
    assert log.read_bytes() == b"ready\ninterrupted\n"


async def test_killed_child_reports_128_plus_signal(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    code = await run_command(
        python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), log, echo=io.BytesIO()
    )
    assert code == 128 + signal.SIGKILL


async def test_missing_command_returns_127(tmp_path: Path) -> None:
    code = await run_command(["etagram-no-such-command"], tmp_path / "run.log", echo=io.BytesIO())
    assert code == 127


async def test_not_executable_returns_126(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("echo hi\n")
    assert await run_command([str(script)], tmp_path / "run.log", echo=io.BytesIO()) == 126


async def test_empty_command_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no command"):
        await run_command([], tmp_path / "run.log")


async def test_on_start_gets_the_child_pid(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    pids: list[int] = []
    await run_command(python("import os; print(os.getpid())"), log, pids.append, echo=io.BytesIO())
    assert pids == [int(log.read_text())]


async def test_launched_knows_what_it_can_stop() -> None:
    launched = Launched(grace_s=5.0)
    request = StopRequest("@alice", 4242, 4242)
    assert launched.status("watched") == "not_launched"
    assert not launched.stop("watched", request)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import time; print('ready', flush=True); time.sleep(60)",
        process_group=0,
        stdout=asyncio.subprocess.PIPE,
    )
    # A SIGINT before the interpreter is up ends it with status 1, not by the signal.
    assert child.stdout is not None and await child.stdout.readline() == b"ready\n"
    launched.started("gpt2", child.pid)
    launched.names = {"gpt2": "shakespeare"}  # the log renamed it: found under both names
    assert launched.status("gpt2") == launched.status("shakespeare") == "running"
    assert launched.stop("shakespeare", request)
    assert launched.status("gpt2") == "stopping" and not launched.stop("gpt2", request)
    assert await asyncio.wait_for(child.wait(), 5) == -signal.SIGINT
    launched.exited("gpt2")
    await asyncio.wait_for(launched.settled("gpt2"), 5)
    assert launched.status("gpt2") == "ended"
    assert launched.sent["gpt2"] == signal.SIGINT and launched.requests["gpt2"] == request
