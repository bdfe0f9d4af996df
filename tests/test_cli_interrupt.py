"""`replay --jsonl` of logs ended by Ctrl-C (or a scheduler's SIGINT), in a real subprocess:
an interruption is a stop, not a crash, unless it came during another failure."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import check_schema, etagram

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 90, in train_one_epoch\n'
    "    loss_total.backward()\n"
)


def replay_alerts(tmp_path: Path, ending: str) -> list[tuple[object, object, object]]:
    log = tmp_path / "train.log"
    steps = "".join(
        f"iter {i}: loss 2.5000, time 170.00ms, mfu 30.00%\n" for i in range(0, 300, 10)
    )
    log.write_text(steps + ending)
    result = etagram("replay", str(log), "--jsonl")
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    check_schema(objs)
    return [(o["type"], o["iter"], o["line"]) for o in objs if o["kind"] == "alert"]


def test_replay_says_a_keyboard_interrupt_stopped_the_run(tmp_path: Path) -> None:
    found = replay_alerts(tmp_path, TRACEBACK + "KeyboardInterrupt\n")
    assert found == [("started", 0, 1), ("stopped", 290, 34)]  # the KeyboardInterrupt line


def test_replay_keeps_an_oom_interrupted_afterwards_an_oom(tmp_path: Path) -> None:
    oom = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n"
    found = replay_alerts(tmp_path, TRACEBACK + oom + TRACEBACK + "KeyboardInterrupt\n")
    assert found == [("started", 0, 1), ("oom", 290, 34)]
