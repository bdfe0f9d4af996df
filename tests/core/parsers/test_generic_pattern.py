"""`[run] progress_pattern`: a user's regex for an in-house progress line."""

from __future__ import annotations

import pytest

from bot.core.events import ErrorText, Eval, Progress
from bot.core.parsers.pattern import PatternError, PatternParser, compile_pattern

PATTERN = (
    r"^(?P<timestamp>\S+ \S+) it (?P<iter>\d+)/(?P<total>\d+) .*loss=(?P<loss>[\d.]+)"
    r"(?: val=(?P<val_loss>[\d.]+))? .*\((?P<dt_ms>\d+)ms\)"
)


def test_every_group_becomes_its_field() -> None:
    parser = PatternParser(PATTERN)
    [p] = parser.feed("2024-05-01 10:00:00 it 120/5000 | loss=2.31 | (812ms)")
    assert p == Progress(120, total=5000, loss=2.31, dt_s=0.812, timestamp_s=1714557600.0)
    [p, e] = parser.feed("2024-05-01 10:00:02 it 130/5000 | loss=2.2 val=2.5 | (800ms)")
    assert isinstance(p, Progress) and e == Eval(130, train_loss=2.2, val_loss=2.5)


def test_elapsed_epoch_and_dt_s_groups() -> None:
    parser = PatternParser(
        r"E(?P<epoch>\d+) S(?P<iter>\d+) (?P<elapsed_s>[\d:]+) (?P<dt_s>[\d.]+)s"
    )
    [p] = parser.feed("E3 S77 1:02:03 0.5s")
    assert (p.iter, p.epoch, p.elapsed_s, p.dt_s) == (77, 3.0, 3723.0, 0.5)  # type: ignore[union-attr]


def test_other_lines_give_nothing_but_failures_are_still_read() -> None:
    parser = PatternParser(PATTERN)
    assert parser.feed("step 5/10 loss=1.0") == []
    [error] = parser.feed("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB")
    assert isinstance(error, ErrorText) and error.kind == "oom"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"step (?P<iter>\d+", "not a regular expression"),
        (r"step (\d+) loss", "no (?P<iter>...) group"),
        (r"step (?P<iter>\d+) (?P<lose>\d+)", "unknown group 'lose'"),
    ],
)
def test_unusable_patterns_say_why(pattern: str, why: str) -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern(pattern)
    assert why in str(raised.value) and "\n" not in str(raised.value)
