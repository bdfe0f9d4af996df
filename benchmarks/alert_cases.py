"""Labelled alert cases: the real logs of ../shared/logs and generated episodes.

Each case lists the alerts it must raise that are not informational, in order, as
(type, iteration), plus the informational types it must raise (started, resumed, finished,
a recovery). A case passes when the detectors say exactly that: every problem once, at its
iteration, and nothing else. Real logs go through the path of `etagram replay --jsonl`
(line splitting, format detection, RunMonitor, RunState) and end with `end_of_log()`.

    python benchmarks/alert_cases.py        # prints the table (kept in ALERT_CASES.md)
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bot` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.gpu import HW_SLOWDOWN, SW_POWER_CAP, SW_THERMAL, GpuSample, GpuSnapshot
from bot.core.linebuf import iter_lines
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, Slowed
from bot.core.parsers.registry import FORMATS
from bot.demo import DemoRun, write_run

ROOT = Path(__file__).resolve().parents[1]
# ../shared/logs beside the repository; a worktree nested deeper finds it higher up.
SHARED_LOGS = next(
    (p / "shared" / "logs" for p in ROOT.parents if (p / "shared" / "logs").is_dir()),
    ROOT.parent / "shared" / "logs",
)

# (type, iteration): an iteration, None (unknown), or a range lo..hi (hi excluded) for
# generated episodes whose detection depends on the run clock's smoothing.
Expected = tuple[tuple[str, int | None | tuple[int, int]], ...]
Got = tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class RealCase:
    file: str
    fmt: str  # the format the parsers detect: cases whose parser is absent are skipped
    alerts: Expected = ()  # (type, iteration) of each warning or critical alert, in order
    info: frozenset[str] = frozenset({"started"})
    note: str = ""


def _info(*types: str) -> frozenset[str]:
    return frozenset(types)


SF = _info("started", "finished")
SR = _info("started", "resumed")
SN = _info("started", "new_launch")

REAL_CASES = [
    RealCase("build-nanogpt_AGNDM_nanogpt-train-1806877.out", "llmc"),
    RealCase(
        "custom-step-resume-spike_Pratic2001_Qwen3-Non-MOE_train.out",
        "llmc",
        (("loss_spike", 47710),),
        note="broken resume: 1.47 -> 13.8 right after step 47700",
    ),
    RealCase(
        "hf-trainer-tqdm-crash_Chevolier_LLaMA-Factory_train.out",
        "hf",
        (("crash", 24),),
        note="TypeError on 8 ranks + ChildFailedError: one crash",
    ),
    RealCase("hf-trainer-tqdm-eval_Ishihara-Masabumi_Llama_SFT_train_log.txt", "hf", info=SF),
    RealCase(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_epoch25_1e-4.txt",
        "hf",
        info=SF,
    ),
    RealCase(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_epoch50.txt",
        "hf",
        info=SF,
    ),
    RealCase(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_WebQSP_ChatGLMv2_lora_epoch200.txt",
        "hf",
        (("crash", 2120), ("crash", 6287)),
        SN,
        "AssertionError then restart; two failed restarts end the log",
    ),
    RealCase(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_WebQSP_ChatGLMv2_p-tuning_epoch100.txt",
        "hf",
        (("crash", 4845),),
        SN,
        "AssertionError, then a new launch from 0",
    ),
    RealCase(
        "hf-trl-tqdm-stderr_guoyu-zhang_PEFT-TRL-LLMs_train.err",
        "tqdm",
        (("crash", None),),
        SN,
        "launches that die at start-up (wandb UsageError, SyntaxError) before the one that "
        "trains: a crash without an iteration, said when wandb starts the next launch",
    ),
    RealCase("hf_trainer_state_suzushi-tw_luojiu-7b-base.json", "trainer_state", info=SF),
    RealCase(
        "lightning_TengFeiyang01_EAGNet_train.out",
        "lightning",
        (("slowdown", 1202), ("crash", 1225)),
        note="steps go from 1.7 s to ~35 s from iteration ~1168, then SIGTERM",
    ),
    RealCase(
        "llamafactory_112292454_ChatGLM-Efficient-Tuning_CCKS_lora_epoch50_trainer_log.jsonl",
        "llamafactory",
        info=SF,
    ),
    RealCase(
        "llamafactory_rameyjm7_SFT-Training-LLM_trainer_log.jsonl",
        "llamafactory",
        info=SR,
        note="interleaved writers are not resumes; the resume 5220 -> 5010 is",
    ),
    RealCase("llamafactory_suzushi-tw_luojiu-7b-base_trainer_log.jsonl", "llamafactory", info=SF),
    RealCase(
        "llamafactory_syGOAT_Mistral-v0.2-Translator_trainer_log.jsonl", "llamafactory", info=SF
    ),
    RealCase(
        "llamafactory_xueh88401_qwen2.5-7b-medical_trainer_log.jsonl", "llamafactory", info=SF
    ),
    RealCase(
        "llmc-nan_HectorFCardenas_gpt2_train.11672255.log",
        "llmc",
        (("nan", 0), ("crash", 902)),
        note="val loss nan at step 0, then every loss; SLURM time limit",
    ),
    RealCase(
        "llmc-nan_HectorFCardenas_gpt2_train.11679031.log",
        "llmc",
        (("nan", 0), ("crash", 16256)),
        note="nan for 16256 steps: one alert; SLURM cancellation",
    ),
    RealCase(
        "llmc_HectorFCardenas_gpt2_train.11672114.log",
        "llmc",
        (("crash", 750),),
        note="SLURM time limit during the eval",
    ),
    RealCase("llmc_HectorFCardenas_gpt2_train.11685414.log", "llmc", info=SF),
    RealCase("modded-nanogpt_2024-10-10_Muon.txt", "modded", info=SF),
    RealCase("modded-nanogpt_2024-10-13_llmc_main.log", "llmc"),
    RealCase(
        "modded-nanogpt_2024-10-20_ScaleUp1B_87bd51fd.txt",
        "modded",
        info=SF,
        note="noisy single-batch losses: no spike",
    ),
    RealCase("modded-nanogpt_2024-11-24_WindowWarmup.txt", "modded", info=SF),
    RealCase("modded-nanogpt_2025-01-16_Sub3Min.txt", "modded", info=SF),
    RealCase("modded-nanogpt_2025-07-12_BosAlign.txt", "modded", info=SF),
    RealCase("modded-nanogpt_2026-07-17_FP8DownProjection_baseline.txt", "modded", info=SF),
    RealCase("modded-nanogpt_medium_2025-01-18.txt", "modded", info=SF),
    RealCase("modded-nanogpt_medium_2025-11-12_BlockMaskRedundantOp.txt", "modded", info=SF),
    RealCase("modded-nanogpt_track3_2026-04-30_muonh.txt", "modded", info=SF),
    RealCase("nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt", "nanogpt", info=SF),
    RealCase(
        "oom_gtseligas_lcn-llama_train.err",
        "tqdm",
        (("oom", None),),
        note="OOM at step 0/1000: format detection holds the bar back, so no iteration yet",
    ),
    RealCase(
        "pylogging-nan_AdityaAshvin_ScalingDown_training.log",
        "generic",
        (("loss_spike", 3025), ("nan", 34)),
        _info("started", "resumed", "new_launch"),
        "resume 3125 -> 3025 with loss 0.25 -> 0.90; 14 nan lines over restarts: one alert",
    ),
    RealCase("tqdm-nested_KevinCarpricorn_EchoAlign_processed_train.log", "tqdm", info=SF),
]


def replay_alerts(path: Path) -> list[Alert]:
    """The alerts `etagram replay --jsonl` makes of a finished log, end of the log included."""
    monitor = RunMonitor(path.name)
    alerts: list[Alert] = []
    with path.open("rb") as f:
        for line in iter_lines(f):
            for _, notices in monitor.feed((line,), 0.0):
                alerts += [n for n in notices if isinstance(n, Alert)]
    for _, notices in monitor.flush(0.0):
        alerts += [n for n in notices if isinstance(n, Alert)]
    alerts += [n for n in monitor.end_of_log() if isinstance(n, Alert)]
    return alerts


def problems(alerts: list[Alert]) -> Got:
    return tuple((a.type, a.iter) for a in alerts if a.severity != "info")


def info_types(alerts: list[Alert]) -> frozenset[str]:
    return frozenset(
        "recovered" if isinstance(a.evidence, Slowed) and a.evidence.recovered else a.type
        for a in alerts
        if a.severity == "info"
    )


# Generated episodes ------------------------------------------------------------------------

GPU_EVERY_S = 5.0


def gpu_snapshot(wall_s: float, reasons: frozenset[str] = frozenset()) -> GpuSnapshot:
    """One fake GPU: hot and clocked down while `reasons` holds a thermal reason."""
    hot = SW_THERMAL in reasons or HW_SLOWDOWN in reasons
    gpu = GpuSample(
        0,
        name="Simulated RTX 4070",
        utilization_pct=100,
        memory_used_mib=6500,
        memory_total_mib=12282,
        temperature_c=88 if hot else 71,
        slowdown_temp_c=90,
        sm_clock_mhz=2100 if not reasons else 1700,
        max_sm_clock_mhz=2475,
        power_mw=200_000,
        power_limit_mw=200_000,
        reasons=reasons,
    )
    return GpuSnapshot(wall_s, (gpu,))


def demo_alerts(run: DemoRun, reasons: frozenset[str] | None, speed: float = 1.0) -> list[Alert]:
    """The demo trainer's log through the core at `speed` (wall clock = run clock / speed),
    with a fake GPU sampled every 5 wall-clock seconds that shows `reasons` while the
    throttled iterations run (no GPU at all when `reasons` is None); the launched process's
    exit at the end."""
    out = io.StringIO()
    code = write_run(out, run, speed=1.0, sleep=lambda _: None)
    monitor = RunMonitor("demo", "nanogpt")
    state = monitor.state
    alerts: list[Alert] = []
    next_sample = 0.0
    for line in out.getvalue().splitlines():
        for _, notices in monitor.feed((line,), state.t_s / speed):
            alerts += [n for n in notices if isinstance(n, Alert)]
        while reasons is not None and state.t_s / speed >= next_sample:
            throttled = state.iter is not None and run.thermal_from <= state.iter < run.thermal_to
            snapshot = gpu_snapshot(next_sample, reasons if throttled else frozenset())
            alerts += [n for n in monitor.apply_gpu(snapshot, next_sample) if isinstance(n, Alert)]
            next_sample += GPU_EVERY_S
    alerts += [n for n in monitor.end(code, state.t_s / speed) if isinstance(n, Alert)]
    return alerts


def nanogpt_lines(
    start: int, stop: int, loss: Callable[[int], float] = lambda i: 3.0 - i / 10_000
) -> Iterator[str]:
    for i in range(start, stop, 10):
        yield f"iter {i}: loss {loss(i):.4f}, time {170 + (i * 7) % 11:.2f}ms, mfu 31.00%"


def generated_alerts(lines: list[str], tick_at: list[float] | None = None) -> list[Alert]:
    """Lines received one per second of wall clock, then ticks (live) or the end of the log."""
    monitor = RunMonitor("generated", "nanogpt")
    alerts: list[Alert] = []
    for n, line in enumerate(lines):
        for _, notices in monitor.feed((line,), float(n)):
            alerts += [x for x in notices if isinstance(x, Alert)]
    if tick_at is None:
        return alerts + [x for x in monitor.end_of_log() if isinstance(x, Alert)]
    for wall_s in tick_at:
        alerts += [x for x in monitor.tick(len(lines) + wall_s) if isinstance(x, Alert)]
    return alerts


TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "train.py", line 297, in <module>',
    "    logits, loss = model(X, Y)",
    "RuntimeError: Expected all tensors to be on the same device",
]


@dataclass(frozen=True)
class GeneratedCase:
    name: str
    make: Callable[[], list[Alert]]
    alerts: Expected
    info: frozenset[str] = field(default_factory=frozenset)
    note: str = ""


DEMO = DemoRun(oom_at=None)
_THERMAL = frozenset({SW_THERMAL})
_POWER = frozenset({SW_POWER_CAP})
# The slowdown is reported once it has lasted slowdown_min_s (about 570 throttled
# iterations), before the episode ends; `since_iter` in the evidence says where it began.
_DETECTED_AT = (DEMO.thermal_from, DEMO.thermal_to)

GENERATED_CASES = [
    GeneratedCase(
        "demo thermal episode + fake NVML (sw_thermal)",
        lambda: demo_alerts(DEMO, _THERMAL),
        (("thermal", _DETECTED_AT),),
        _info("started", "finished", "recovered"),
        "iterations 600-1350 22 % slower; GPU 88 °C with sw_thermal",
    ),
    GeneratedCase(
        "demo at 10x as `etagram demo` runs it",
        lambda: demo_alerts(replace(DEMO, oom_at=1830), _THERMAL, speed=10.0),
        (("thermal", _DETECTED_AT), ("oom", 1820)),
        _info("started", "recovered"),
        "GPU sampled every 5 s of wall clock: 3 samples in the episode",
    ),
    GeneratedCase(
        "demo power episode + fake NVML (sw_power_cap)",
        lambda: demo_alerts(DEMO, _POWER),
        (("power", _DETECTED_AT),),
        _info("started", "finished", "recovered"),
    ),
    GeneratedCase(
        "demo slowdown, no GPU (replay)",
        lambda: demo_alerts(DEMO, None),
        (),
        _info("started", "finished"),
        "without GPU evidence 22 % slower (in the run's first minutes) is a drift the ETA shows,"
        " not a push",
    ),
    GeneratedCase(
        "demo OOM at 1830, then exit 1",
        lambda: demo_alerts(replace(DEMO, oom_at=1830), _THERMAL),
        (("thermal", _DETECTED_AT), ("oom", 1820)),
        _info("started", "recovered"),
        "the crash the OOM causes is folded into the OOM alert",
    ),
    GeneratedCase(
        "stall: silence after iteration 990",
        lambda: generated_alerts(list(nanogpt_lines(0, 1000)), [60.0 * k for k in range(1, 30)]),
        (("stall", 990),),
        _info("started"),
        "ticks every minute for half an hour: one stall",
    ),
    GeneratedCase(
        "crash: traceback ends the log at 490",
        lambda: generated_alerts([*nanogpt_lines(0, 500), *TRACEBACK]),
        (("crash", 490),),
        _info("started"),
    ),
    GeneratedCase(
        "crash: traceback then silence (live)",
        lambda: generated_alerts([*nanogpt_lines(0, 500), *TRACEBACK], [30.0, 90.0, 900.0]),
        (("crash", 490),),
        _info("started"),
        "confirmed by a tick after the grace period, no stall after it",
    ),
    GeneratedCase(
        "handled traceback, training goes on",
        lambda: generated_alerts([*nanogpt_lines(0, 500), *TRACEBACK, *nanogpt_lines(500, 800)]),
        (),
        _info("started"),
    ),
    GeneratedCase(
        "loss spike x3 at 600",
        lambda: generated_alerts(
            list(nanogpt_lines(0, 900, lambda i: 3.0 if i < 600 or i > 700 else 9.0))
        ),
        (("loss_spike", 600),),
        _info("started"),
    ),
    GeneratedCase(
        "nan from 400, finite again, nan again",
        lambda: generated_alerts(
            list(nanogpt_lines(0, 900, lambda i: float("nan") if 400 <= i < 500 or i > 700 else 3))
        ),
        (("nan", 400),),
        _info("started"),
        "intermittent NaN is one condition",
    ),
]


def matches(expected: Expected, got: Got) -> bool:
    if len(expected) != len(got):
        return False
    for (kind, want), (got_kind, it) in zip(expected, got, strict=True):
        if kind != got_kind:
            return False
        if isinstance(want, tuple):
            if it is None or not want[0] <= it < want[1]:
                return False
        elif want != it:
            return False
    return True


def _fmt(alerts: Expected | Got) -> str:
    def where(it: int | None | tuple[int, int]) -> str:
        return f"{it[0]}..{it[1]}" if isinstance(it, tuple) else str(it)

    return ", ".join(f"{t}@{where(i)}" for t, i in alerts) or "-"


Row = tuple[str, str, str, str, str, str]


def table() -> list[Row]:
    """(case, expected, got, informational, verdict, note) for every case."""
    rows: list[Row] = []
    for case in REAL_CASES:
        path = SHARED_LOGS / case.file
        if not path.is_file() or case.fmt not in FORMATS:
            why = "no log" if not path.is_file() else f"no {case.fmt} parser"
            rows.append((case.file, _fmt(case.alerts), "", "", f"skipped ({why})", case.note))
            continue
        got = replay_alerts(path)
        rows.append(_row(case.file, case.alerts, case.info, got, case.note))
    for gen in GENERATED_CASES:
        rows.append(_row(gen.name, gen.alerts, gen.info, gen.make(), gen.note))
    return rows


def _row(name: str, expected: Expected, info: frozenset[str], got: list[Alert], note: str) -> Row:
    ok = matches(expected, problems(got)) and info_types(got) == info
    infos = ", ".join(sorted(info_types(got))) or "-"
    return name, _fmt(expected), _fmt(problems(got)), infos, "ok" if ok else "WRONG", note


def main() -> int:
    rows = table()
    print("| case | expected (type@iteration) | got | informational | verdict | note |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    wrong = sum(1 for row in rows if row[4] == "WRONG")
    print(f"\n{len(rows)} cases, {wrong} wrong")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
