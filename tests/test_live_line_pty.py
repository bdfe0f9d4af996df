"""The live line as a terminal sees it: `etagram run` and `watch` under a real pseudo-terminal.

The training's output must reach the terminal whole, line by line, in its order; the live
line is drawn between its lines and never inside one.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS, ROWS = 120, 30

TRAINER = """
import sys, time
print("Overriding: out_dir = out-tiny")
for i in range(30):
    print(f"iter {i}: loss {3 - i / 100:.4f}, time 100.00ms, mfu 30.00%", flush=True)
    time.sleep(0.1)
sys.stdout.write("a line the training finishes later")
sys.stdout.flush()
time.sleep(1.2)
print(" ...finished")
"""

# A live line drawn, then erased before the next output (cursor-ups for the lines above).
DRAWN = re.compile(r"[^\n\x1b]*\r\x1b\[K(?:\x1b\[1A\x1b\[K)*")
ETAGRAM_OWN = re.compile(r"\d{4}-\d\d-\d\d \d\d:|\[\d\d:\d\d:\d\d\] |    |$")


def under_pty(argv: list[str], env: dict[str, str], stop_after_s: float | None = None) -> str:
    """Run `argv` with a terminal of COLUMNS x ROWS as stdin, stdout and stderr; all it
    wrote there."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ETAGRAM_")}
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**full_env, "TERM": "xterm", **env},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    stop_at = time.monotonic() + stop_after_s if stop_after_s else None
    try:
        while time.monotonic() < deadline:
            if stop_at is not None and time.monotonic() > stop_at:
                proc.send_signal(signal.SIGINT)
                stop_at = None
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the terminal's other side is closed
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.kill()
        proc.wait(timeout=30)
    return out.decode("utf-8", errors="replace")


def without_live_lines(screen: str) -> str:
    return DRAWN.sub("", screen)


def test_run_draws_the_live_line_and_keeps_the_training_output_whole(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    env = {
        "ETAGRAM_STATE_PATH": str(tmp_path / "s.db"),
        "ETAGRAM_MAX_ITERS": "30",
        "ETAGRAM_LANGUAGE": "en",
        "LD_LIBRARY_PATH": str(tmp_path),
    }
    argv = [sys.executable, "-m", "bot", "run", "--log", str(log), "--"]
    screen = under_pty([*argv, sys.executable, "-c", TRAINER], env)
    # Drawn in place: its iteration, the total, the pace; its name from the log's out_dir.
    assert re.search(r"tiny · \d+/30 \([\d.]+%\) · [\d.]+\sit/s · ", screen), screen
    # Off the screen when etagram leaves: the last thing written erases it.
    assert screen.endswith("\r\x1b[K"), screen[-200:]
    # What is left once the live lines are taken out: etagram's own lines (log records and
    # notifications) and the training's lines, whole and in order (the terminal turns \n
    # into \r\n).
    lines = without_live_lines(screen).split("\r\n")
    training = [line for line in lines if not ETAGRAM_OWN.match(line)]
    assert training == log.read_text().splitlines()
    assert "a line the training finishes later ...finished" in training


def test_watch_draws_one_line_per_run(tmp_path: Path) -> None:
    for run in ("alpha", "beta"):
        (tmp_path / run).mkdir()
        lines = [f"iter {i}: loss 2.0000, time 100.00ms, mfu 30.00%\n" for i in range(0, 50, 10)]
        (tmp_path / run / "train.log").write_text("".join(lines))
    env = {
        "ETAGRAM_STATE_PATH": str(tmp_path / "s.db"),
        "ETAGRAM_LANGUAGE": "fr",
        "ETAGRAM_MAX_ITERS": "100",
        "LD_LIBRARY_PATH": str(tmp_path),
    }
    logs = [str(tmp_path / "alpha" / "train.log"), str(tmp_path / "beta" / "train.log")]
    screen = under_pty([sys.executable, "-m", "bot", "watch", *logs], env, stop_after_s=4)
    assert re.search(r"alpha · 40/100 \(40\s%\) · [\d,]+\sit/s[^\n]*\nbeta · 40/100", screen)
    assert "\r\x1b[K\x1b[1A\x1b[K" in screen  # both lines erased before anything else
    drawn = [m.group(0).split("\r")[0] for m in DRAWN.finditer(screen)]
    assert drawn and all(len(line) < COLUMNS for line in drawn)  # never wrapped
