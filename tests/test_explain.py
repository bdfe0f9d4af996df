"""`etagram explain`: what etagram read, in one screen; and bad input through replay/explain."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from bot.explain import Launch, as_json, explain, launches, render
from bot.replay import replay
from tests.test_cli import etagram

PROBLEMS = {"oom", "crash", "nan", "stall", "gpu_lost", "loss_spike", "slowdown"}


def in_house(n: int = 30, start: int = 0, total: str = "/3000") -> list[str]:
    return [
        f"2024-05-01 10:{i // 60:02d}:{i % 60:02d} trainer | step {start + i * 10}{total} | "
        f"loss={3 - i * 0.01:.2f}"
        for i in range(n)
    ]


def write(tmp_path: Path, lines: list[str], name: str = "train.log") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def replayed(path: Path) -> list[dict[str, object]]:
    out = io.StringIO()
    replay(path, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def problem_alerts(objs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [o for o in objs if o["kind"] == "alert" and o["type"] in PROBLEMS]


def test_an_in_house_log_in_one_screen(tmp_path: Path) -> None:
    lines = ["== trainer v3 ==", "Tokenizing 500/1000 (done)", *in_house()]
    report = explain(write(tmp_path, lines))
    text = render(report)
    assert "general reader" in text and "'trainer step'" in text
    assert "total: 3,000 (printed on the progress lines (N/M))" in text
    assert "clock: timestamps on the progress lines" in text
    assert "read: 30 progress lines" in text
    assert "  2: Tokenizing 500/1000 (done)" in text
    assert "ETA: " in text and "no ETA" not in text
    assert len(text.splitlines()) <= 25


def test_no_total_says_to_pass_max_iters(tmp_path: Path) -> None:
    path = write(tmp_path, in_house(total=""))
    report = explain(path)
    assert report.no_eta is not None and "--max-iters N" in report.no_eta[1]
    assert explain(path, max_iters=3000).no_eta is None


def test_no_progress_says_what_to_pass(tmp_path: Path) -> None:
    path = write(tmp_path, ["booting", "model ready", "epoch one of many: going"])
    text = render(explain(path))
    assert "no ETA: no progress line was read" in text
    assert "--format F" in text and "--progress-pattern" in text


def test_a_progress_pattern_is_what_reads(tmp_path: Path) -> None:
    path = write(tmp_path, ["## 3 of 90 ## cost 2.5", "## 4 of 90 ## cost 2.4"])
    report = explain(
        path, progress_pattern=r"## (?P<iter>\d+) of (?P<total>\d+) ## cost (?P<loss>\S+)"
    )
    assert (report.format, report.progress_lines, report.total) == ("pattern", 2, 90)


def test_launches_new_and_resumed() -> None:
    found = launches([(1, 100), (2, 500), (3, 1), (4, 300), (5, 200), (6, 400)])
    assert found == [
        Launch(1, "start", 100, 500),
        Launch(3, "new launch", 1, 300),
        Launch(5, "resume", 200, 400),
    ]


def test_alerts_with_iteration_and_line(tmp_path: Path) -> None:
    lines = [
        *in_house(10),
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    ]
    report = explain(write(tmp_path, lines))
    assert [(kind, line) for kind, _, line in report.alerts] == [("oom", 11)]


def test_json_through_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, in_house())
    result = etagram("explain", str(path), "--json")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert set(obj) == set(as_json(explain(path)))
    assert obj["total"] == 3000 and obj["launches"][0]["kind"] == "start"
    assert obj["no_eta"] is None and obj["eta_s"] > 0


def test_unknown_format_and_missing_file_are_one_line_errors(tmp_path: Path) -> None:
    path = write(tmp_path, in_house(3))
    bad = etagram("explain", str(path), "--format", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "expected one of:" in bad.stderr
    missing = etagram("explain", str(tmp_path / "absent.log"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


# Bad input: no crash, no alert made of noise, a clear line in explain --------------------


def test_latin1_log(tmp_path: Path) -> None:
    path = tmp_path / "latin1.log"
    path.write_bytes("\n".join(f"{line} | épreuve" for line in in_house()).encode("latin-1"))
    assert sum(o["kind"] == "progress" for o in replayed(path)) == 30
    assert any("not UTF-8 from line 1" in t for _, t in explain(path).input_notes)


def test_utf16_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "utf16.log"
    path.write_bytes("\n".join(in_house()).encode("utf-16-le"))
    assert sum(o["kind"] == "progress" for o in replayed(path)) == 30
    notes = [t for _, t in explain(path).input_notes]
    assert "looks like UTF-16 without a BOM: NULs dropped" in notes


def test_binary_garbage_makes_no_alert(tmp_path: Path) -> None:
    rng = random.Random(14)
    blob = bytes(rng.randrange(256) for _ in range(200_000))
    strings = b"\x01RuntimeError: CUDA out of memory\x02\nKilled\x03\x04\n"
    strings += b"Traceback (most recent call last):\x05\n"
    path = tmp_path / "garbage.bin"
    path.write_bytes(blob[:100_000] + strings + blob[100_000:])
    objs = replayed(path)
    assert problem_alerts(objs) == [] and objs[-1]["kind"] == "end"
    notes = [t for _, t in explain(path).input_notes]
    assert any(t.startswith("binary data at line ") for t in notes)


def test_a_line_of_100_mb(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    with path.open("w") as f:
        f.write("\n".join(in_house(10)) + "\n")
        f.write("x" * 100_000_000 + "\n")
        f.write("\n".join(in_house(10, start=100)) + "\n")
    assert sum(o["kind"] == "progress" for o in replayed(path)) == 20
    notes = [t for _, t in explain(path).input_notes]
    assert "line 11 is 100 MB long; read its first 64 KiB" in notes


def test_a_counter_that_jumps_back_or_to_10_to_the_18(tmp_path: Path) -> None:
    lines = [*in_house(10, total=""), f"2024-05-01 10:00:10 trainer | step {10**18} | loss=1.0"]
    lines += [line.replace("10:00", "10:01") for line in in_house(10, start=40, total="")]
    path = write(tmp_path, lines)
    objs = replayed(path)
    assert max(o["iter"] for o in objs if o["kind"] == "progress") == 130
    assert problem_alerts(objs) == []
    report = explain(path)
    assert [x.kind for x in report.launches] == ["start", "resume"]
    assert f"counter jumps from 90 to {10**18:,}: ignored (line 11)" in [
        t for _, t in report.input_notes
    ]


@pytest.mark.parametrize("year", ["1970", "2099"])
def test_a_timestamp_from_another_century(tmp_path: Path, year: str) -> None:
    lines = in_house(20)
    lines[10] = lines[10].replace("2024", year)
    path = write(tmp_path, lines)
    objs = replayed(path)
    times = [o["t_s"] for o in objs if o["kind"] == "progress"]
    assert times[-1] < 60 and problem_alerts(objs) == []
    notes = [t for _, t in explain(path).input_notes]
    assert f"timestamp from {year} at line 11: ignored" in notes


def test_tqdm_bars_and_their_redraws_are_read(tmp_path: Path) -> None:
    bars = "".join(
        f"\r{n:3d}%|{'#' * (n // 10):<10}| {n}/100 [00:{n:02d}<01:00,  1.00it/s]"
        for n in range(1, 60)
    )
    path = tmp_path / "bars.log"
    path.write_text("Starting training\n" + bars + "\n")
    report = explain(path)
    assert report.progress_lines > 0 and report.not_read_count == 0, report.not_read
