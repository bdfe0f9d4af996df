"""Arbitrary input never makes a parser raise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.parsers import errors, registry, trainer_state
from bot.core.parsers.base import clean
from bot.core.parsers.registry import AutoParser, make_parser
from tests.core.parsers.helpers import feed_all, split_lines

# Pieces of real lines, so that the generated text reaches deep into the parsers.
FRAGMENTS = [
    "iter ",
    "step ",
    "step:",
    "s:",
    ": loss ",
    "train loss ",
    "val loss ",
    "time ",
    "ms",
    "/",
    " | ",
    "loss: ",
    "dt: ",
    "tok/s",
    "%|",
    "█",
    "| ",
    " [",
    "<",
    "?it/s",
    "s/it",
    "]",
    ", ",
    "{'loss': ",
    "{'eval_loss': ",
    "{'train_runtime': ",
    '{"current_steps": ',
    '"loss": ',
    '"elapsed_time": "',
    "1 day, ",
    "0:02:12",
    "Epoch ",
    "Batch ",
    "Global Batch ",
    "=",
    "train_time:",
    "val_loss:",
    "nan",
    "inf",
    "-1",
    "0",
    "7",
    "1e309",
    "99999999999999999999",
    "\x1b[A",
    "\x00",
    "Traceback (most recent call last):",
    "CUDA out of memory. Tried to allocate ",
    " MiB",
    " GiB",
    "GPU ",
    "Killed",
    "CANCELLED AT ",
    "[Checkpoint] saved ",
    "saving checkpoint to ",
    "Overriding: ",
    "max_iters = ",
    "}",
    "{",
    '"log_history": [',
    "\n",
    "2024-03-01 12:00:00,123 - ",
    "Total optimization steps = ",
    "***** Running training *****",
    "with open(sys.argv[0])",
]
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=25).map(
    "".join
)
LINES = st.lists(TEXT, max_size=30)


@settings(max_examples=60, deadline=None)
@given(lines=LINES)
def test_every_parser_takes_any_text(lines: list[str]) -> None:
    for fmt in (None, *registry.FORMATS):
        feed_all(make_parser(fmt), lines)


@settings(max_examples=60, deadline=None)
@given(lines=LINES, sizes=st.lists(st.integers(1, 8), min_size=1, max_size=8))
def test_feed_many_returns_what_feed_does(lines: list[str], sizes: list[int]) -> None:
    for fmt in (None, *registry.FORMATS):
        batched, start, parser = [], 0, make_parser(fmt)
        for size in sizes * len(lines):
            batched += parser.feed_many(lines[start : start + size])
            start += size
        if isinstance(parser, AutoParser):
            batched += parser.flush()
        assert list(map(repr, batched)) == list(map(repr, feed_all(make_parser(fmt), lines)))


@settings(max_examples=200, deadline=None)
@given(line=TEXT)
def test_lines_skipped_by_the_scorers_score_nothing(line: str) -> None:
    cleaned = clean(line)
    if not registry._may_score(cleaned):
        assert set(registry._scores(cleaned).values()) == {0}


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2000))
def test_auto_detection_takes_any_bytes(data: bytes) -> None:
    feed_all(make_parser(None), split_lines(data))


@settings(max_examples=60, deadline=None)
@given(text=TEXT)
def test_trainer_state_document_takes_any_text(text: str) -> None:
    trainer_state.parse_document(text)
    trainer_state.TrainerStateParser().feed_document(text)


@settings(max_examples=200, deadline=None)
@given(lines=LINES)
def test_batch_gates_answer_as_every_line_would(lines: list[str]) -> None:
    """Catch-up checks a batch of unread lines once, over the lines joined: the answer is
    what asking each line gives (scoring), and never misses a line that reports a failure."""
    lines = [line for line in lines if "\n" not in line]  # as LineBuffer gives them
    assert registry._may_score_any(lines) == any(map(registry._may_score, lines))
    if not errors.may_report("\n".join(lines)):
        assert not any(errors.with_errors([], line) for line in lines)
