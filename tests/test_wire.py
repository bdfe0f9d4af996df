"""bot.wire: every bus message survives JSON, and anything else is one clear error."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.bus import GpuReport, LogLines, LogWait, Message, ProcessExit
from bot.core.gpu import REASONS, GpuProcess, GpuSample, GpuSnapshot
from bot.core.lifecycle import WaitReason
from bot.wire import WireError, decode, encode

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
small = st.none() | st.integers(-(2**40), 2**40)
text = st.text(max_size=30)

samples = st.builds(
    GpuSample,
    index=st.integers(0, 64),
    uuid=st.none() | text,
    name=st.none() | text,
    utilization_pct=small,
    memory_used_mib=small,
    memory_total_mib=small,
    temperature_c=small,
    slowdown_temp_c=small,
    sm_clock_mhz=small,
    max_sm_clock_mhz=small,
    power_mw=small,
    power_limit_mw=small,
    reasons=st.frozensets(st.sampled_from(sorted(REASONS)) | text, max_size=4),
    processes=st.lists(st.builds(GpuProcess, st.integers(1, 2**22), small), max_size=3).map(tuple),
    lost=st.booleans(),
)
snapshots = st.builds(
    GpuSnapshot,
    taken_at_s=finite,
    gpus=st.lists(samples, max_size=4).map(tuple),
    error=st.none() | text,
    error_detail=st.none() | text,
    driver_version=st.none() | text,
)
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(
        LogLines,
        text,
        st.lists(text, max_size=5).map(tuple),
        finite,
        st.booleans(),
        text,
        st.booleans(),
    ),
    st.builds(GpuReport, text, snapshots, text),
    st.builds(ProcessExit, text, st.none() | st.integers(-255, 255), finite, st.none() | text),
    st.builds(LogWait, text, st.none() | st.sampled_from([r.value for r in WaitReason]), finite),
)


@given(messages)
def test_every_message_survives_json(msg: Message) -> None:
    assert decode(encode(msg)) == msg
    assert decode(encode(msg).encode()) == msg


def test_lines_from_an_agent_without_catch_up_are_folded_line_by_line() -> None:
    older = {"v": 1, "type": "lines", "run": "r", "lines": ["x"], "wall_s": 1.0}
    older |= {"replayed": True, "host": "h"}
    assert decode(json.dumps(older)) == LogLines("r", ("x",), 1.0, True, "h", catch_up=False)


def test_a_thermal_report_keeps_its_reasons_and_host() -> None:
    gpu = GpuSample(0, temperature_c=88, reasons=frozenset({"hw_thermal", "sw_thermal"}))
    msg = GpuReport("node3", GpuSnapshot(12.5, (gpu,)), "gpt2")
    wire = json.loads(encode(msg))
    assert wire["type"] == "gpu" and wire["host"] == "node3" and wire["run"] == "gpt2"
    assert wire["snapshot"]["gpus"][0]["reasons"] == ["hw_thermal", "sw_thermal"]
    assert decode(encode(msg)) == msg


GOOD = {"v": 1, "type": "exit", "run": "r", "exit_code": 0, "wall_s": 1.0}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("{", "not JSON"),
        ("[]", "message: expected an object"),
        (json.dumps({**GOOD, "v": 2}), "unsupported message version 2"),
        (json.dumps({**GOOD, "type": "bogus"}), "unknown message type 'bogus'"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "run"}), "message.run: missing"),
        (json.dumps({**GOOD, "exit_code": True}), "message.exit_code: expected int"),
        (json.dumps({**GOOD, "wall_s": "now"}), "message.wall_s: expected a finite number"),
        (
            json.dumps(
                {
                    "v": 1,
                    "type": "lines",
                    "run": "r",
                    "lines": [1],
                    "wall_s": 0,
                    "replayed": False,
                    "host": "",
                }
            ),
            "message.lines: expected a list of strings",
        ),
        (
            json.dumps(
                {
                    "v": 1,
                    "type": "gpu",
                    "host": "h",
                    "run": "",
                    "snapshot": {"taken_at_s": 0, "gpus": [{"index": "0"}]},
                }
            ),
            "gpus[0].index: expected int",
        ),
    ],
)
def test_bad_payloads_are_one_clear_error(payload: str, error: str) -> None:
    with pytest.raises(WireError, match=re.escape(error)):
        decode(payload)
    # one line: it goes into a log
    with pytest.raises(WireError) as info:
        decode(payload)
    assert "\n" not in str(info.value)
