"""The command line fails fast on what can never work (issue 16, point 6), and waits for what
may work later: the real `python -m bot` in a subprocess.

A bad `--format` or a log path that is a directory: one line on stderr, exit 2, no traceback.
A log that is missing or cannot be read yet: the service starts and waits for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.parsers.registry import FORMATS
from tests.test_cli import ROOT, etagram

NOBODY = 65534


def one_line_and_exit_2(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["watch", "{log}"],
        ["run", "--log", "{log}", "--", "true"],
        ["replay", "{log}", "--jsonl"],
        ["explain", "{log}"],
    ],
    ids=lambda c: c[0],
)
def test_a_bad_format_is_one_line_listing_the_valid_ones(
    tmp_path: Path, command: list[str]
) -> None:
    log = tmp_path / "train.log"
    log.write_text("iter 0: loss 2.0000, time 170.00ms, mfu 30.00%\n")
    args = [command[0], "--format", "nanoGTP", *(a.format(log=log) for a in command[1:])]
    done = etagram(*args, env={"ETAGRAM_STATE_PATH": str(tmp_path / "s")})
    line = one_line_and_exit_2(done)
    assert line.startswith(f"etagram: {command[0]}: --format 'nanoGTP': unknown log format")
    assert line.rstrip().endswith(", ".join(FORMATS))
    assert not (tmp_path / "s").exists()  # refused before anything was started


def test_a_bad_format_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    done = etagram("check", env={"ETAGRAM_FORMAT": "bogus"})
    line = one_line_and_exit_2(done)
    assert line.startswith("etagram: config error: ETAGRAM_FORMAT = 'bogus': unknown log format")
    assert "nanogpt" in line


@pytest.mark.parametrize(
    "command",
    [
        ["watch", "{log}"],
        ["run", "--log", "{log}", "--", "true"],
        ["agent", "{log}", "--redis", "redis://127.0.0.1:1/0"],
        ["replay", "{log}", "--jsonl"],
        ["explain", "{log}"],
    ],
    ids=lambda c: c[0],
)
def test_a_directory_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    args = [a.format(log=folder) for a in command]
    line = one_line_and_exit_2(etagram(*args, env={"ETAGRAM_STATE_PATH": str(tmp_path / "s")}))
    assert line == (
        f"etagram: {command[0]}: {folder} is a directory; expected a regular file (a log)\n"
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user may write in (pytest's tmp_path is the owner's only)."""
    path = Path(tempfile.mkdtemp(prefix="etagram-perm-"))
    path.chmod(0o777)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def _as_unprivileged() -> list[str]:
    """How to run a command so that file permissions apply: root reads any file."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def test_replay_of_an_unreadable_log_is_one_line(shared_dir: Path) -> None:
    log = shared_dir / "train.log"
    log.write_text("iter 0: loss 2.0000, time 170.00ms, mfu 30.00%\n")
    log.chmod(0)
    done = subprocess.run(
        [*_as_unprivileged(), sys.executable, "-m", "bot", "replay", str(log), "--jsonl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = one_line_and_exit_2(done)
    assert line == f"etagram: replay: {log}: cannot be read (Permission denied)\n"


@pytest.mark.parametrize("case", ["unreadable", "missing"])
def test_watch_waits_for_a_log_that_cannot_be_read_yet(shared_dir: Path, case: str) -> None:
    """Not refused: the log may appear, or be made readable, later; then it is followed."""
    log = shared_dir / "train.log"
    if case == "unreadable":
        log.write_text("")
        log.chmod(0)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ETAGRAM_")},
        "ETAGRAM_STATE_PATH": str(shared_dir / "state.sqlite3"),
        "LD_LIBRARY_PATH": str(shared_dir),  # no NVML
        "MPLCONFIGDIR": str(shared_dir),
    }
    proc = subprocess.Popen(
        [*_as_unprivileged(), sys.executable, "-m", "bot", "watch", f"gpt2={log}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        assert proc.poll() is None  # still running: not refused
        with log.open("a") as f:
            f.write("step 0: train loss 3.0000, val loss 3.1000\n")
            f.write("iter 0: loss 3.0000, time 170.00ms, mfu 30.00%\n")
        log.chmod(0o644)
        time.sleep(3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "train.log" in line and "following" not in line]
    if case == "unreadable":
        assert len(said) == 1 and "WARNING" in said[0] and "Permission denied" in said[0], err
    else:
        assert not [line for line in said if "WARNING" in line], err
    assert "] gpt2\n" in out, out  # followed once it could be read
