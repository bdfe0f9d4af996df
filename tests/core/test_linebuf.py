import io
import random
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from bot.core.linebuf import MAX_LINE, LineBuffer, iter_lines


def feed_all(chunks: list[bytes], max_line: int = MAX_LINE) -> tuple[list[str], LineBuffer]:
    buf = LineBuffer(max_line)
    lines: list[str] = []
    for chunk in chunks:
        lines += buf.feed(chunk)
    return lines, buf


def test_splits_on_all_terminators() -> None:
    lines, buf = feed_all([b"a\nb\r\nc\rd\n"])
    assert lines == ["a", "b", "c", "d"]
    assert buf.consumed == 9 and buf.pending == 0


def test_partial_line_is_held_until_its_newline() -> None:
    buf = LineBuffer()
    assert buf.feed(b"iter 1") == []
    assert buf.feed(b"0: loss") == []
    assert buf.consumed == 0 and buf.pending == 13
    assert buf.feed(b" 2.5\nnext") == ["iter 10: loss 2.5"]
    assert buf.consumed == 18 and buf.pending == 4
    assert buf.flush() == ["next"]
    assert buf.flush() == []


def test_tqdm_redraws_are_lines() -> None:
    data = b"\r 10%|#    | 1/10\r 20%|##   | 2/10\r100%|#####| 10/10\ndone\n"
    lines, _ = feed_all([data])
    assert lines == [" 10%|#    | 1/10", " 20%|##   | 2/10", "100%|#####| 10/10", "done"]


def test_crlf_split_across_chunks_is_one_terminator() -> None:
    lines, buf = feed_all([b"a\r", b"\nb\r\n"])
    assert lines == ["a", "b"]
    assert buf.consumed == 6


def test_multibyte_char_split_across_chunks() -> None:
    data = "étape 1 → ok\n".encode()
    for cut in range(1, len(data)):
        lines, _ = feed_all([data[:cut], data[cut:]])
        assert lines == ["étape 1 → ok"]


def test_invalid_utf8_is_replaced() -> None:
    lines, _ = feed_all([b"ok \xff\xfe bad\n\x80\n"])
    assert lines == ["ok \ufffd\ufffd bad", "\ufffd"]


def test_long_line_is_capped_without_holding_it() -> None:
    buf = LineBuffer()
    chunk = b"x" * (1 << 20)
    tracemalloc.start()
    try:
        for _ in range(10):
            assert buf.feed(chunk) == []
        lines = buf.feed(b"tail\nnext\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20  # one decoded chunk and the cap, not the 10 MB line
    assert lines == ["x" * MAX_LINE, "next"]
    assert buf.consumed == 10 * (1 << 20) + 10


def test_long_line_inside_one_chunk_is_capped() -> None:
    lines, _ = feed_all([b"a\n" + b"y" * (3 * MAX_LINE) + b"\nb\n"])
    assert lines == ["a", "y" * MAX_LINE, "b"]


def test_iter_lines_reads_a_file_in_chunks() -> None:
    data = b"".join(b"line %d\r\n" % i for i in range(1000)) + b"last"
    got = list(iter_lines(io.BytesIO(data), chunk_size=7))
    assert got == [f"line {i}" for i in range(1000)] + ["last"]


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=20))
def test_any_chunking_gives_the_same_lines(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    whole, whole_buf = feed_all([data], max_line=64)
    pieces, pieces_buf = feed_all(chunks, max_line=64)
    assert pieces + pieces_buf.flush() == whole + whole_buf.flush()


@given(st.binary(max_size=2000))
def test_consumed_is_a_line_boundary(data: bytes) -> None:
    lines, buf = feed_all([data])
    # Re-reading from the consumed offset yields exactly the lines not handed out yet.
    rest = LineBuffer()
    assert buf.consumed + buf.pending == len(data)
    assert rest.feed(data[buf.consumed :]) + rest.flush() == buf.flush()


def test_large_inputs_split_like_small_ones() -> None:
    rng = random.Random(7)
    alphabet = [b"a", b"b", b" ", b"\n", b"\r", b"\r\n", "é".encode(), "→".encode(), b"\xff"]
    data = b"".join(rng.choices(alphabet, weights=[30, 30, 10, 3, 1, 1, 2, 2, 1], k=300_000))
    data += b"z" * 200_000 + b"\nend"  # an overflowing line across the internal slices
    whole, whole_buf = feed_all([data], max_line=1000)
    cuts = sorted(rng.sample(range(1, len(data)), 500))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    pieces, pieces_buf = feed_all(chunks, max_line=1000)
    assert pieces == whole
    assert pieces_buf.consumed == whole_buf.consumed == len(data) - 3
    assert pieces_buf.flush() == whole_buf.flush() == ["end"]
