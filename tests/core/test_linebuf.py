import io
import random
import tracemalloc

import pytest
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
    # Re-reading from the consumed offset yields exactly the lines not handed out yet (a resume
    # past the start gives the file's first bytes, where a byte-order mark would be).
    rest = LineBuffer(head=data[:4] if buf.consumed else None)
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


TEXT = "Epoch 1/2\r\n 1/49 ━━━━ 11s 245ms/step - loss: 1.5802\r\nété 𝄞\r\n\r\nlast"
LINES = ["Epoch 1/2", " 1/49 ━━━━ 11s 245ms/step - loss: 1.5802", "été 𝄞", "last"]
BOMS = [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"\xef\xbb\xbf", "utf-8")]


@pytest.mark.parametrize(("bom", "encoding"), BOMS, ids=[e for _, e in BOMS])
def test_a_byte_order_mark_picks_the_encoding_in_any_chunks(bom: bytes, encoding: str) -> None:
    data = bom + TEXT.encode(encoding)
    for size in (1, 2, 3, 5, 64, len(data)):
        lines, buf = feed_all([data[i : i + size] for i in range(0, len(data), size)])
        assert lines + buf.flush() == LINES, size


@pytest.mark.parametrize(("bom", "encoding"), BOMS, ids=[e for _, e in BOMS])
def test_consumed_counts_bytes_of_the_encoding_and_a_resume_reads_on(
    bom: bytes, encoding: str
) -> None:
    data = bom + TEXT.encode(encoding)
    for cut in range(len(data)):
        _, buf = feed_all([data[:cut]])
        start = buf.consumed
        assert data[:start].decode(encoding).endswith(("\n", "\r")) or start in (0, len(bom))
        rest = LineBuffer(head=data[:4] if start else None)
        done, _ = feed_all([data[:start]])
        assert done + rest.feed(data[start:]) + rest.flush() == LINES, cut


@given(st.text(max_size=300), st.lists(st.integers(0, 700), max_size=10))
def test_utf16_any_text_any_chunking(text: str, cuts: list[int]) -> None:
    data = b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    whole, whole_buf = feed_all([data])
    pieces, pieces_buf = feed_all(chunks)
    assert pieces + pieces_buf.flush() == whole + whole_buf.flush()
    assert pieces_buf.consumed == whole_buf.consumed <= len(data)


def test_a_mark_split_across_the_first_chunks_and_only_at_the_start() -> None:
    lines, buf = feed_all([b"\xff", b"\xfe" + "ok\n".encode("utf-16-le")])
    assert lines == ["ok"] and buf.consumed == 8
    lines, _ = feed_all([b"ab\n\xff\xfe\n"])  # later in the file: plain (bad) UTF-8
    assert lines == ["ab", "\ufffd\ufffd"]
