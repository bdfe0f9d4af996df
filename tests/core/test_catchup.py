"""Catch-up folds a backlog to the state, and the notices, of the line-by-line path.

Both paths read the same real logs in the same batches (as the service's backlog reader
gives them). Every notice is the same (type, iteration, order, every field), the run's
iteration, total, launches, evals and loss history are identical, and the floats (run clock,
ETA, the ETA each eval notice carries) agree within `TOLERANCE`. Logs edited near their end
(an eval, a NaN, an OOM), edited at random (hypothesis) and generated with failures on the
borders of batches and pieces check that the fast path steps aside for every line that could
say something.
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections import deque
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.clock import RunClock
from bot.core.events import Progress
from bot.core.linebuf import LineBuffer
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, Notice
from bot.core.state import Point, RunState
from bot.core.sums import reach
from bot.core.trackers import Lifecycle, Slowdown
from tests.core.parsers.helpers import SHARED_LOGS

LLMC = "llmc_HectorFCardenas_gpt2_train.11685414.log"
REAL_LOGS = (
    "build-nanogpt_AGNDM_nanogpt-train-1806877.out",
    LLMC,
    "llmc_HectorFCardenas_gpt2_train.11672114.log",
    "llmc-nan_HectorFCardenas_gpt2_train.11672255.log",
    "llmc-nan_HectorFCardenas_gpt2_train.11679031.log",
    "nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt",
    "modded-nanogpt_2024-10-20_ScaleUp1B_87bd51fd.txt",  # no fast shape: line by line
)
needs_logs = pytest.mark.skipif(
    not SHARED_LOGS.is_dir(), reason=f"{SHARED_LOGS} (the shared real logs) is absent"
)


# The issue allows catch-up's state to differ from the line-by-line path's: the run clock and
# the ETA within 0.1 %, so that a fold may sum the same durations another way (in C, by chunk).
# Today's fold makes the very same sums (the run clock by `accumulate`, the estimator's blocks
# and the slowdown tracker's chunks by `sums.reach`), so it agrees to the bit; what a change
# may not alter is exact here whatever the tolerance: iterations, totals, launches, losses,
# the loss history, and every notice's kind, iteration and order.
TOLERANCE = 1e-3


def snapshot(obj: Any, depth: int = 0, *, exact: bool = True) -> Any:
    """Everything an object holds, as plain values; floats by repr when `exact` (NaN equals
    NaN), else as floats for `assert_close`."""
    if isinstance(obj, float):
        return repr(obj) if exact else obj
    if obj is None or isinstance(obj, str | int | bool | re.Pattern):
        return obj
    if isinstance(obj, list | tuple | deque):
        return [snapshot(x, depth + 1, exact=exact) for x in obj]
    if isinstance(obj, set | frozenset):
        return sorted(map(repr, obj))
    if isinstance(obj, dict):
        return {repr(k): snapshot(v, depth + 1, exact=exact) for k, v in obj.items()}
    assert depth < 12, f"too deep at {type(obj)}"
    names = list(getattr(obj, "__dict__", {})) or [
        n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())
    ]
    return {
        type(obj).__name__: {n: snapshot(getattr(obj, n), depth + 1, exact=exact) for n in names}
    }


def assert_close(got: Any, expected: Any, where: str = "", rel: float = TOLERANCE) -> None:
    """Snapshots (`exact=False`) equal but for floats, which agree within `rel`."""
    if isinstance(got, float) and isinstance(expected, float):
        same = got == expected or (math.isnan(got) and math.isnan(expected))
        assert same or math.isclose(got, expected, rel_tol=rel, abs_tol=1e-9), where
    elif isinstance(got, dict) and isinstance(expected, dict):
        assert got.keys() == expected.keys(), where
        for key in got:
            assert_close(got[key], expected[key], f"{where}.{key}", rel)
    elif isinstance(got, list) and isinstance(expected, list):
        assert len(got) == len(expected), f"{where}: {len(got)} items, not {len(expected)}"
        for k, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_close(a, b, f"{where}[{k}]", rel)
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


def assert_same_notices(got: list[Notice], expected: list[Notice], where: str) -> None:
    """The same notices in the same order, each field equal but the floats (an eval's ETA,
    finish time, run clock) within the tolerance."""
    assert [type(n).__name__ for n in got] == [type(n).__name__ for n in expected], where
    assert [(getattr(n, "type", None), n.iter) for n in got] == [
        (getattr(n, "type", None), n.iter) for n in expected
    ], where
    assert_close(snapshot(got, exact=False), snapshot(expected, exact=False), where)


def fold_both(lines: Sequence[str], batch: int) -> tuple[RunMonitor, RunMonitor, list[Notice]]:
    """The same lines through `feed` and `catch_up`, in batches read a second apart;
    asserts the notices and the ETA are the same all along and returns both monitors."""
    slow, fast = RunMonitor("run"), RunMonitor("run")
    said: list[Notice] = []
    for k in range(0, len(lines), batch):
        chunk, wall_s = lines[k : k + batch], 1000.0 + k / batch
        expected = [n for _, notices in slow.feed(chunk, wall_s) for n in notices]
        got = [n for _, notices in fast.catch_up(chunk, wall_s) for n in notices]
        assert_same_notices(got, expected, f"the batch at line {k}")
        where = f"ETA after the batch at line {k}"
        assert_close(
            snapshot(fast.state.eta(), exact=False), snapshot(slow.state.eta(), exact=False), where
        )
        said += expected
    return slow, fast, said


def read_lines(path: Path) -> list[str]:
    buf = LineBuffer()
    return buf.feed(path.read_bytes()) + buf.flush()


def assert_same(slow: RunMonitor, fast: RunMonitor) -> None:
    """The parser identical; the run state identical but for the floats of the run clock
    and the estimator's sums (compared through the ETA it gives)."""
    assert snapshot(fast.parser) == snapshot(slow.parser)
    assert fast.state.iter == slow.state.iter
    assert fast.state.total_iters == slow.state.total_iters
    assert [(p.iter, repr(p.loss)) for p in fast.state.history] == [
        (p.iter, repr(p.loss)) for p in slow.state.history
    ]
    state = {k: v for k, v in vars(fast.state).items() if k != "estimator"}
    expected = {k: v for k, v in vars(slow.state).items() if k != "estimator"}
    assert_close(snapshot(state, exact=False), snapshot(expected, exact=False), "state")
    eta, expected_eta = fast.state.eta(), slow.state.eta()
    assert_close(snapshot(eta, exact=False), snapshot(expected_eta, exact=False), "ETA")


@needs_logs
@pytest.mark.parametrize("name", REAL_LOGS)
@pytest.mark.parametrize("batch", [10_000, 1_500])
def test_real_log_caught_up_to_the_same_state(name: str, batch: int) -> None:
    lines = read_lines(SHARED_LOGS / name)
    slow, fast, _ = fold_both(lines, batch)
    assert_same(slow, fast)
    assert fast.state.iter == slow.state.iter is not None


@needs_logs
@pytest.mark.parametrize("name", REAL_LOGS[:3])
def test_fast_path_folds_most_lines_of_a_steady_log(name: str) -> None:
    """Engaged, not only harmless: most progress lines of these runs go at speed."""
    lines = read_lines(SHARED_LOGS / name)
    fast = RunMonitor("run")
    for k in range(0, len(lines), 10_000):
        fast.catch_up(lines[k : k + 10_000], 0.0)
    progress = sum(1 for line in lines if line.startswith("step "))
    assert fast.lines_caught_up > 0.8 * progress


def _llmc_with_trouble_near_the_end() -> tuple[list[str], int]:
    lines = read_lines(SHARED_LOGS / LLMC)
    steps = [k for k, line in enumerate(lines) if line.startswith("step ")]
    at = steps[-300]
    step = lines[at]
    nan_step = re.sub(r"loss \S+", "loss nan", lines[at + 50])
    trouble = [
        "val loss 3.141592",
        *lines[at + 1 : at + 50],
        nan_step,
        *lines[at + 51 : at + 120],
        "Traceback (most recent call last):",
        '  File "train_gpt2.py", line 12, in <module>',
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; "
        "39.39 GiB total capacity; 36.10 GiB already allocated; 1.20 GiB free)",
    ]
    return [*lines[: at + 1], *trouble, step], len(lines[: at + 1])


@needs_logs
def test_an_eval_a_nan_and_an_oom_near_the_end_alert_exactly_as_line_by_line() -> None:
    lines, _ = _llmc_with_trouble_near_the_end()
    slow, fast, said = fold_both(lines, 4_000)
    assert_same(slow, fast)
    kinds = [n.type for n in said if isinstance(n, Alert)]
    assert "nan" in kinds and "oom" in kinds
    assert slow.state.evals[-1].val_loss == 3.141592


def _edit(lines: list[str], at: int, kind: str) -> list[str]:
    """One edit of a real llm.c step line at `at`."""
    line = lines[at]
    loss = re.search(r"loss (\S+)", line)
    dt = re.search(r"\| (\d+\.\d+) ms", line)
    assert loss is not None and dt is not None
    edits = {
        "spike": line.replace(loss.group(1), f"{float(loss.group(1)) * 4:.6f}"),
        "slow": line.replace(dt.group(1), f"{float(dt.group(1)) * 6:.2f}"),
        "nan": line.replace(loss.group(1), "nan"),
        "error": "RuntimeError: CUDA error: an illegal memory access was encountered",
        "killed": line + " Killed",
        "eval": "val loss 3.500000",
        "unread": "evaluating HellaSwag: 10/1256",
        "garbage": "\x1b[31mstep 7/ | loss",
        "blank": "   ",
    }
    if kind == "back":  # a resume from an earlier checkpoint
        step = int(re.findall(r"\d+", line)[0])
        return [re.sub(r"step +\d+", f"step {max(1, step - 100):5d}", line)]
    if kind in ("eval", "unread", "error", "garbage", "blank"):
        return [line, edits[kind]]
    return [edits[kind]]


@needs_logs
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2_999),
            st.sampled_from(
                ["spike", "slow", "nan", "error", "killed", "eval", "unread", "garbage"]
                + ["blank", "back"]
            ),
        ),
        max_size=8,
    ),
    st.sampled_from([700, 3_000]),
)
def test_edited_logs_fold_to_the_same_state_and_alerts(
    edits: list[tuple[int, str]], batch: int
) -> None:
    lines = read_lines(SHARED_LOGS / LLMC)
    steps = [k for k, line in enumerate(lines) if line.startswith("step ")]
    base = lines[: steps[5_000] + 1]  # the head (config, first evals), then 5,000 steps
    body = lines[steps[5_000] + 1 : steps[8_000]]
    chosen = dict(edits)
    edited = [
        new
        for k, line in enumerate(body)
        for new in (
            _edit(body, k, chosen[k]) if k in chosen and line.startswith("step ") else [line]
        )
    ]
    slow, fast, _ = fold_both(base + edited, batch)
    assert_same(slow, fast)
    assert math.isfinite(fast.state.t_s)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=60), st.integers(0, 30))
def test_lifecycle_steady_is_step_for_each(gaps: list[int], before: int) -> None:
    one, many = Lifecycle(), Lifecycle()
    for it in range(0, 10 * before, 10):
        one.step(it, 5.0, survived=True)
        many.step(it, 5.0, survived=True)
    iters = [10 * before + sum(gaps[: k + 1]) for k in range(len(gaps))]
    for it in iters:
        one.step(it, 6.0, survived=True)
    many.steady(iters, 6.0, survived=True)
    assert snapshot(many) == snapshot(one)


OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; "
    "39.39 GiB total capacity; 36.10 GiB already allocated; 1.20 GiB free)"
)


def _step_line(fmt: str, step: int, loss: float, dt_ms: float) -> str:
    """A progress line as each trainer prints it (their own format strings)."""
    if fmt == "llmc":  # llm.c train_gpt2.cu
        return (
            f"step {step:4d}/20000 | loss {loss:7.6f} (+0.12z)| norm {1.2345:6.4f} (-0.50z)| "
            f"lr {6e-4:.2e} | {dt_ms:.2f} ms | 32.1% bf16 MFU | {125000:.0f} tok/s"
        )
    if fmt == "build":  # build-nanogpt train_gpt2.py
        return (
            f"step {step:5d} | loss: {loss:.6f} | lr {6e-4:.4e} | norm: {1.2345:.4f} | "
            f"dt: {dt_ms:.2f}ms | tok/sec: {1265000.5:.2f}"
        )
    return f"iter {step}: loss {loss:.4f}, time {dt_ms:.2f}ms, mfu {2.23:.2f}%"  # nanoGPT


def _eval_line(fmt: str, loss: float) -> str:
    return {
        "llmc": f"val loss {loss:f}",
        "build": f"validation loss: {loss:.4f}",
        "nanogpt": f"step 0: train loss {loss:.4f}, val loss {loss:.4f}",
    }[fmt]


def generated_log(fmt: str, steps: int, trouble: dict[int, str], seed: int) -> list[str]:
    """A steady run (evals every 250 steps) with `trouble` injected before the step lines
    at these indices: "nan", "spike", "slow" (a 3x slower step), "eval", "oom" (a
    traceback then an OOM), "back" (a resume 300 steps back), "unread" (a line the parser
    reads nothing from)."""
    rng = random.Random(seed)
    lines, step = ["using fused AdamW: True"], 0
    for k in range(steps):
        loss, dt_ms = 3.0 + rng.random() * 0.05, 400.0 + rng.random() * 8
        kind = trouble.get(k)
        if kind == "back":
            step = max(1, step - 300)
        elif kind == "oom":
            lines += ["Traceback (most recent call last):", '  File "train.py", line 1', OOM]
        elif kind in ("eval", "unread"):
            lines.append(_eval_line(fmt, 3.5) if kind == "eval" else "HellaSwag: counting")
        if step % 250 == 0 and step:
            lines.append(_eval_line(fmt, 3.2))
        loss = {"nan": math.nan, "spike": loss * 6}.get(kind or "", loss)
        dt_ms *= 3 if kind == "slow" else 1
        lines.append(_step_line(fmt, step, loss, dt_ms))
        step += 1
    return lines


@pytest.mark.parametrize("fmt", ["llmc", "build", "nanogpt"])
@pytest.mark.parametrize("batch", [1_000, 1_537])
def test_generated_log_with_failures_at_batch_borders(fmt: str, batch: int) -> None:
    """No shared logs needed: failures on the first and last lines of batches, and next to
    the pieces catch-up folds (every 512 and 64 lines from a batch's start)."""
    kinds = ["nan", "oom", "eval", "spike", "slow", "back", "unread"]
    borders = [b + d for b in range(batch, 9 * batch, batch) for d in (-1, 0, 1)]
    borders += [3 * batch + 512, 5 * batch + 64, 6 * batch + 575]
    trouble = {at: kinds[k % len(kinds)] for k, at in enumerate(borders)}
    lines = generated_log(fmt, 10 * batch, trouble, seed=batch)
    slow, fast, said = fold_both(lines, batch)
    assert_same(slow, fast)
    kinds_said = {n.type for n in said if isinstance(n, Alert)}
    assert {"nan", "oom", "resumed"} <= kinds_said
    assert fast.lines_caught_up > len(lines) // 2  # and most lines went at speed


durations = st.floats(0.0, 50.0, allow_nan=False)


@given(st.lists(durations, max_size=400), st.integers(0, 400), st.floats(0.0, 100.0))
def test_reach_is_the_running_sum(steps: list[float], first: int, limit: float) -> None:
    total, found = 1.5, None
    for k, step in enumerate(steps):
        total += step
        if k >= first and total >= limit:
            found = (k, total)
            break
    times = list(accumulate(steps, initial=100.0))[1:]
    assert reach(times, steps, 0, 1.5, limit, first) == (found or (len(steps), total))


@given(st.lists(st.tuples(st.integers(1, 3), durations), min_size=1, max_size=300))
def test_slowdown_with_progress_is_progress_for_each(steps: list[tuple[int, float]]) -> None:
    """Chunks judged at the same lines with the same sums, whatever the spacing (a slow
    stretch in the middle may start an episode: then both say so)."""
    one, before = Slowdown(0.15, 120.0), Slowdown(0.15, 120.0)
    it, t = 0, 0.0
    for _ in range(40):  # a baseline
        it, t = it + 1, t + 1.0
        one.progress(it, t, 5.0)
        before.progress(it, t, 5.0)
    iters, times = [], []
    for gap, dt in steps:
        it, t = it + gap, t + dt
        iters.append(it)
        times.append(t)
    changes = [one.progress(i, ti, 6.0) for i, ti in zip(iters, times, strict=True)]
    many = before.with_progress(iters, times, 6.0)
    if any(changes):
        assert many is None
    else:
        assert many is not None and snapshot(many) == snapshot(one)


@given(st.integers(0, 5_000), st.integers(1, 9_000))
def test_remember_many_is_remember_for_each(before: int, count: int) -> None:
    one, many = RunState("run"), RunState("run")
    for k in range(before):
        one._remember(Point(k, float(k), 1.0))
        many._remember(Point(k, float(k), 1.0))
    iters = list(range(before, before + count))
    times, losses = [float(k) for k in iters], [k / 7 for k in iters]
    for k, t, loss in zip(iters, times, losses, strict=True):
        one._remember(Point(k, t, loss))
    many._remember_many(iters, times, losses)
    assert snapshot(many.history) == snapshot(one.history)
    assert (many._seen, many._stride) == (one._seen, one._stride)


@given(st.lists(durations, min_size=2, max_size=200), st.integers(1, 3))
def test_clock_dt_times_is_advance_for_each(dts: list[float], first_gap: int) -> None:
    """Lines one iteration apart take the summed path; others (a first gap) the loop."""
    one = RunClock()
    one.advance(Progress(0, dt_s=1.0), 0.0)
    one.advance(Progress(1, dt_s=dts[0]), 0.0)  # the typical duration starts here
    many = copy.deepcopy(one)
    iters = [1 + first_gap + k for k in range(len(dts) - 1)]
    for it, dt in zip(iters, dts[1:], strict=True):
        one.advance(Progress(it, dt_s=dt), 0.0)
    timed = many.dt_times(iters, dts[1:])
    assert timed is not None
    many.settle_dt(iters[-1], timed[0][-1], timed[1])
    assert snapshot(many) == snapshot(one)


@needs_logs
def test_generated_text_that_reads_like_a_failure_is_read_line_by_line() -> None:
    """build-nanogpt's samples are model output: one may say anything, and what the
    line-by-line path makes of it, catch-up must too."""
    lines = read_lines(SHARED_LOGS / REAL_LOGS[0])
    samples = [k for k, line in enumerate(lines) if line.startswith("rank 0 sample 0: ")]
    at = samples[len(samples) // 2]
    lines[at] = "rank 0 sample 0: Hello, I'm a language model, and CUDA out of memory. Tried"
    slow, fast, said = fold_both(lines, 5_000)
    assert_same(slow, fast)
    assert "oom" in [n.type for n in said if isinstance(n, Alert)]


@needs_logs
def test_a_slowdown_and_a_spike_mid_log_alert_through_the_fast_path() -> None:
    """A sustained slowdown (300 steps at twice the time) and a spike (5 steps at 4 times
    the loss) in the middle of a long run of steady lines, where catch-up folds at speed:
    both still alert, at the same lines as line by line (`fold_both` compares every
    notice)."""
    lines = read_lines(SHARED_LOGS / LLMC)
    steps = [k for k, line in enumerate(lines) if line.startswith("step ")]
    slow_steps, spike = set(steps[6_000:6_300]), set(steps[7_000:7_005])
    edited = []
    for k, line in enumerate(lines[: steps[8_000]]):
        if k in slow_steps:
            dt = re.search(r"\| (\d+\.\d+) ms", line)
            assert dt is not None
            line = line.replace(dt.group(1), f"{float(dt.group(1)) * 2:.2f}")
        elif k in spike:
            loss = re.search(r"loss (\S+)", line)
            assert loss is not None
            line = line.replace(loss.group(1), f"{float(loss.group(1)) * 4:.6f}")
        edited.append(line)
    slow, fast, said = fold_both(edited, 10_000)
    assert_same(slow, fast)
    assert {"slowdown", "loss_spike"} <= {n.type for n in said if isinstance(n, Alert)}
    assert fast.lines_caught_up > 0.8 * 8_000  # the rest went at speed


def test_a_drift_beyond_the_tolerance_is_caught() -> None:
    """The comparison itself: an ETA or run clock 0.2 % off, or one alert missing, fails."""
    lines = generated_log("llmc", 3_000, {}, seed=1)
    slow, fast, said = fold_both(lines, 1_000)
    assert_same(slow, fast)
    step = fast.state.estimator.timer.step_s
    assert step is not None
    fast.state.estimator.timer.step_s = step * 1.002
    with pytest.raises(AssertionError):
        assert_same(slow, fast)
    fast.state.estimator.timer.step_s = step
    fast.state.t_s *= 1.002
    with pytest.raises(AssertionError):
        assert_same(slow, fast)
    with pytest.raises(AssertionError):
        assert_same_notices(said[:-1], said, "one notice fewer")
