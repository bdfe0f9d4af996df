"""The reference scenario of DESIGN.md, on a generated nanoGPT `train.py` log.

max_iters 20000, eval_interval 500, eval_iters 200; ~170 ms per ordinary iteration (168-186 ms
seen), ~5.8-6 s for an eval iteration; read up to iteration 1300, checked at 02:30 local time.
By hand: 18,662 ordinary iterations (~3,172 s) + 38 evals (~228 s) = ~3,400 s, finishing
around 03:25-03:35. The log goes through the real nanoGPT parser and RunState.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.parsers.registry import make_parser
from bot.core.state import RunState

MAX_ITERS = 20000
EVAL_INTERVAL = 500
READ_UP_TO = 1300
ZONE = ZoneInfo("Europe/Paris")
CHECKED_AT = datetime(2026, 3, 14, 2, 30, tzinfo=ZONE).timestamp()

HEADER = f"""Overriding config with config/train_gpt2.py:
eval_interval = {EVAL_INTERVAL}
eval_iters = 200
log_interval = {{log_interval}}
max_iters = {MAX_ITERS}
lr_decay_iters = {MAX_ITERS}
tokens per iteration will be: 491,520
number of parameters: 123.59M
using fused AdamW: True
compiling the model... (takes a ~minute)"""


@dataclass
class Line:
    text: str
    wall_s: float  # when the trainer printed it


def ordinary_dt(rng: random.Random) -> float:
    """168-186 ms, most of them near 170 ms (the cube skews the jitter to the low end)."""
    return 0.168 + 0.018 * rng.random() ** 3


def nanogpt_log(log_interval: int, seed: int = 4070) -> tuple[list[Line], float]:
    """The log up to READ_UP_TO, and the true remaining seconds after it (nanoGPT's loop:
    an eval when iter_num % eval_interval == 0, 0 and max_iters included; dt is one
    iteration's time, the eval's included)."""
    rng = random.Random(seed)
    dts = []
    for it in range(MAX_ITERS + 1):
        dt = ordinary_dt(rng)
        if it % EVAL_INTERVAL == 0:
            dt += 5.6 + 0.2 * rng.random()
        if it == 0:
            dt += 40.0  # torch.compile
        dts.append(dt)
    wall = CHECKED_AT - sum(dts[: READ_UP_TO + 1])
    lines = [Line(text, wall) for text in HEADER.format(log_interval=log_interval).split("\n")]
    for it in range(READ_UP_TO + 1):
        if it % EVAL_INTERVAL == 0:
            loss = 10.9 - it / 1000
            lines.append(
                Line(f"step {it}: train loss {loss:.4f}, val loss {loss + 0.01:.4f}", wall)
            )
            if it > 0:
                lines.append(Line("saving checkpoint to out", wall))
        wall += dts[it]
        if it % log_interval == 0:
            text = f"iter {it}: loss {10.9 - it / 1000:.4f}, time {dts[it] * 1000:.2f}ms, mfu 31.0%"
            lines.append(Line(text, wall))
    return lines, sum(dts[READ_UP_TO + 1 :])


def replay(lines: list[Line]) -> RunState:
    parser, state = make_parser("nanogpt"), RunState("gpt2")
    for line in lines:
        for ev in parser.feed(line.text):
            state.apply(ev, line.wall_s)
    return state


@pytest.mark.parametrize("log_interval", [1, 10])
def test_reference_scenario(log_interval: int) -> None:
    lines, true_remaining = nanogpt_log(log_interval)
    state = replay(lines)
    eta = state.eta()

    assert (eta.iters_done, eta.total_iters, eta.iters_left) == (1300, 20000, 18700)
    assert eta.evals_left == 38  # 1500, 2000, ..., 20000
    assert eta.step_s == pytest.approx(0.170, abs=0.004)
    assert eta.eval_cost_s == pytest.approx(5.7, abs=0.2)
    assert eta.remaining_s == pytest.approx(3400, rel=0.03)
    assert eta.remaining_s == pytest.approx(true_remaining, rel=0.02)
    assert eta.low_s is not None and eta.high_s is not None
    assert eta.low_s < true_remaining < eta.high_s
    assert eta.low_s > 45 * 60 and eta.high_s < 70 * 60
    assert not eta.missing

    finish = state.finish_at(eta, CHECKED_AT + 1.0)
    assert finish == pytest.approx(CHECKED_AT + eta.remaining_s)
    local = datetime.fromtimestamp(finish, ZONE)
    assert local.replace(hour=3, minute=25) <= local <= local.replace(hour=3, minute=35)
