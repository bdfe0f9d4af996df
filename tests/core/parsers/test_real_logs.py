"""Every real log of ../shared/logs: detected, parsed, counted.

The expected numbers were read off the files (grep of each format's own lines), not taken from
SOURCES.md, which counts some things differently: tqdm redraws of equal bars, HF `{'loss'}`
dicts (here a Progress each, at the bar's step), the llm.c main.log counting from step 0.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

import pytest

from bot.core.events import ErrorText, Eval, Progress, TrainingEnd
from bot.core.parsers import registry, trainer_state
from bot.core.parsers.base import clean
from bot.core.parsers.registry import AutoParser, make_parser
from tests.core.parsers.helpers import SHARED_LOGS, feed_all, split_lines

pytestmark = pytest.mark.skipif(
    not SHARED_LOGS.is_dir(), reason=f"real logs not found at {SHARED_LOGS}"
)


class Expected(NamedTuple):
    file: str
    fmt: str
    progress: int
    evals: int
    final_iter: int | None
    error_kinds: tuple[str, ...] = ()
    nan_losses: int = 0
    ended: bool = False


CASES = [
    Expected("build-nanogpt_AGNDM_nanogpt-train-1806877.out", "llmc", 19073, 78, 19072),
    Expected("custom-step-resume-spike_Pratic2001_Qwen3-Non-MOE_train.out", "llmc", 966, 19, 57350),
    Expected(
        "hf-trainer-tqdm-crash_Chevolier_LLaMA-Factory_train.out",
        "hf",
        # 50 bar steps, and DeepSpeed's engine line `[Rank 0] step=0` at its start-up (line
        # 7037), read while nothing else read progress, before the Trainer's banner
        51,
        0,
        24,
        ("error", "exit", "start", "traceback"),
    ),
    Expected(
        "hf-trainer-tqdm-eval_Ishihara-Masabumi_Llama_SFT_train_log.txt",
        "hf",
        1803,
        3,
        1677,
        ended=True,
    ),
    Expected(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_epoch25_1e-4.txt",
        "hf",
        13094,
        0,
        11900,
        ended=True,
    ),
    Expected(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_epoch50.txt",
        "hf",
        26181,
        0,
        23800,
        ended=True,
    ),
    Expected(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_WebQSP_ChatGLMv2_lora_epoch200.txt",
        "hf",
        9250,
        0,
        6287,
        ("error", "traceback"),
    ),
    Expected(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_WebQSP_ChatGLMv2_p-tuning_epoch100.txt",
        "hf",
        21023,
        0,
        14261,
        ("error", "traceback"),
    ),
    # stderr only: no Trainer dict or banner, so the bars alone decide (generic tqdm rules).
    Expected(
        "hf-trl-tqdm-stderr_guoyu-zhang_PEFT-TRL-LLMs_train.err",
        "tqdm",
        1004,
        0,
        500,
        ("error", "start", "traceback"),
    ),
    Expected(
        "hf_trainer_state_suzushi-tw_luojiu-7b-base.json",
        "trainer_state",
        1742,
        0,
        8710,
        ended=True,
    ),
    Expected(
        "lightning_TengFeiyang01_EAGNet_train.out",
        "lightning",
        1226,
        0,
        1225,
        ("killed", "start", "traceback"),
    ),
    Expected(
        "llamafactory_112292454_ChatGLM-Efficient-Tuning_CCKS_lora_epoch50_trainer_log.jsonl",
        "llamafactory",
        2380,
        0,
        23800,
    ),
    Expected(
        "llamafactory_rameyjm7_SFT-Training-LLM_trainer_log.jsonl", "llamafactory", 1360, 0, 6565
    ),
    Expected(
        "llamafactory_suzushi-tw_luojiu-7b-base_trainer_log.jsonl", "llamafactory", 1743, 0, 8712
    ),
    Expected(
        "llamafactory_syGOAT_Mistral-v0.2-Translator_trainer_log.jsonl",
        "llamafactory",
        867,
        0,
        8660,
    ),
    Expected(
        "llamafactory_xueh88401_qwen2.5-7b-medical_trainer_log.jsonl", "llamafactory", 676, 13, 6750
    ),
    Expected(
        "llmc-nan_HectorFCardenas_gpt2_train.11672255.log", "llmc", 902, 4, 902, ("cancelled",), 902
    ),
    Expected(
        "llmc-nan_HectorFCardenas_gpt2_train.11679031.log",
        "llmc",
        16256,
        66,
        16256,
        ("cancelled",),
        16256,
    ),
    Expected("llmc_HectorFCardenas_gpt2_train.11672114.log", "llmc", 750, 4, 750, ("cancelled",)),
    Expected("llmc_HectorFCardenas_gpt2_train.11685414.log", "llmc", 19560, 80, 19560),
    Expected("modded-nanogpt_2024-10-10_Muon.txt", "modded", 6200, 51, 6200),
    Expected("modded-nanogpt_2024-10-13_llmc_main.log", "llmc", 19560, 80, 19559),
    Expected("modded-nanogpt_2024-10-20_ScaleUp1B_87bd51fd.txt", "modded", 20344, 164, 20344),
    Expected("modded-nanogpt_2024-11-24_WindowWarmup.txt", "modded", 1750, 15, 1750),
    Expected("modded-nanogpt_2025-01-16_Sub3Min.txt", "modded", 1393, 13, 1393),
    Expected("modded-nanogpt_2025-07-12_BosAlign.txt", "modded", 1750, 15, 1750),
    Expected("modded-nanogpt_2026-07-17_FP8DownProjection_baseline.txt", "modded", 1390, 7, 1390),
    Expected("modded-nanogpt_medium_2025-01-18.txt", "modded", 7500, 61, 7500),
    Expected("modded-nanogpt_medium_2025-11-12_BlockMaskRedundantOp.txt", "modded", 5960, 49, 5960),
    Expected("modded-nanogpt_track3_2026-04-30_muonh.txt", "modded", 3325, 28, 3325),
    Expected("nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt", "nanogpt", 501, 21, 5000),
    # oumi stderr: no Trainer dict or banner before the crash, one bar at 0/1000.
    Expected("oom_gtseligas_lcn-llama_train.err", "tqdm", 2, 0, 0, ("oom", "traceback")),
    # Appended runs: the last one restarts at epoch 4, so its batch count starts again.
    Expected(
        "pylogging-nan_AdityaAshvin_ScalingDown_training.log", "generic", 845, 855, 11, (), 14
    ),
    Expected(
        "tqdm-nested_KevinCarpricorn_EchoAlign_processed_train.log", "tqdm", 13029, 100, 35200
    ),
]


def test_every_real_log_has_a_case() -> None:
    logs = {p.name for p in SHARED_LOGS.iterdir() if p.suffix != ".md"} - {"ETA_MANIFEST.json"}
    assert logs == {case.file for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.file[:50] for case in CASES])
def test_real_log(case: Expected) -> None:
    parser = make_parser(None)
    events = feed_all(parser, split_lines((SHARED_LOGS / case.file).read_bytes()))
    progress = [e for e in events if isinstance(e, Progress)]
    assert parser.name == "auto"
    assert getattr(parser, "format", None) == case.fmt
    assert len(progress) == case.progress
    assert sum(isinstance(e, Eval) for e in events) == case.evals
    assert (progress[-1].iter if progress else None) == case.final_iter
    assert tuple(sorted({e.kind for e in events if isinstance(e, ErrorText)})) == case.error_kinds
    nan = sum(1 for e in progress if e.loss is not None and math.isnan(e.loss))
    assert nan == case.nan_losses
    assert any(isinstance(e, TrainingEnd) for e in events) == case.ended


def test_oom_numbers_of_the_real_oom() -> None:
    lines = split_lines((SHARED_LOGS / "oom_gtseligas_lcn-llama_train.err").read_bytes())
    events = feed_all(make_parser(None), lines)
    ooms = [e for e in events if isinstance(e, ErrorText) and e.kind == "oom"]
    details = ooms[-1].details
    assert details["tried_mib"] == pytest.approx(512.0)
    assert details["gpu_index"] == 0
    assert details["total_gib"] == pytest.approx(63.42)
    assert details["free_mib"] == pytest.approx(1.20 * 1024)


def test_trainer_state_read_whole_matches_the_line_replay() -> None:
    text = (SHARED_LOGS / "hf_trainer_state_suzushi-tw_luojiu-7b-base.json").read_text()
    whole = trainer_state.parse_document(text)
    replayed = feed_all(make_parser("trainer_state"), split_lines(text.encode()))
    assert whole == replayed
    assert sum(isinstance(e, Progress) for e in whole) == 1742


def _last_progress(name: str) -> Progress:
    events = feed_all(make_parser(None), split_lines((SHARED_LOGS / name).read_bytes()))
    return [e for e in events if isinstance(e, Progress)][-1]


def test_run_clocks_of_the_real_logs() -> None:
    """Each format's own time reaches the events (the run clock is rebuilt downstream)."""
    modded = _last_progress("modded-nanogpt_track3_2026-04-30_muonh.txt")
    assert modded.elapsed_s == pytest.approx(678.197)
    nanogpt = _last_progress("nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt")
    assert nanogpt.dt_s == pytest.approx(31.24925)
    factory = _last_progress("llamafactory_syGOAT_Mistral-v0.2-Translator_trainer_log.jsonl")
    assert (factory.elapsed_s, factory.remaining_s) == (20386.0, 0.0)
    nested = _last_progress("tqdm-nested_KevinCarpricorn_EchoAlign_processed_train.log")
    assert nested.elapsed_s is not None and 3900 < nested.elapsed_s < 4040  # 1:07:13 in all
    assert nested.total == 35200
    hf = _last_progress(
        "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_epoch50.txt"
    )
    assert hf.iter == hf.total == 23800


@pytest.mark.parametrize("fmt", [None, *registry.FORMATS], ids=lambda fmt: fmt or "auto")
def test_feed_many_returns_what_feed_does(fmt: str | None) -> None:
    """Batches of any size (1 to a few thousand lines) give the events line-by-line feeding
    gives, on every real log: the fast paths change nothing."""
    rng = random.Random(fmt)
    for case in CASES:
        lines = split_lines((SHARED_LOGS / case.file).read_bytes())
        one_by_one = feed_all(make_parser(fmt), lines)
        parser, batched, start = make_parser(fmt), [], 0
        while start < len(lines):
            size = rng.choice((1, 3, 64, 1024, 4096))
            batched += parser.feed_many(lines[start : start + size])
            start += size
        if isinstance(parser, AutoParser):
            batched += parser.flush()
        # repr: a nan loss is not equal to itself
        assert list(map(repr, batched)) == list(map(repr, one_by_one)), case.file


def test_lines_skipped_by_the_scorers_score_nothing() -> None:
    """Unknown lines skip scoring when no format can score them: checked on every real line."""
    for case in CASES:
        for line in split_lines((SHARED_LOGS / case.file).read_bytes()):
            cleaned = clean(line)
            if not registry._may_score(cleaned):
                assert set(registry._scores(cleaned).values()) == {0}, cleaned
