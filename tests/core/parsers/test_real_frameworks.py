"""The framework logs of ../shared/logs2: detected, and their progress lines counted.

Each expected count is made here by a plain regular expression over the file's lines (what
`grep -c` would give), never by the parser under test; the final iteration and the total are
the ones FORMATS_MANIFEST.json states.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from bot.core.events import Progress, RunConfig
from bot.core.parsers import registry
from bot.core.parsers.base import clean
from bot.core.parsers.registry import make_parser
from tests.core.parsers.helpers import SHARED_LOGS2, feed_all, split_lines

pytestmark = pytest.mark.skipif(
    not SHARED_LOGS2.is_dir(), reason=f"real logs not found at {SHARED_LOGS2}"
)


class Case(NamedTuple):
    file: str
    fmt: str
    grep: str  # one match per progress line
    final_iter: int
    total: int | None
    final_fmt: str = ""  # the format at the end of the log, when not `fmt`


CASES = [
    Case(
        "deepspeed_microsoft_DeepSpeedExamples_dschat-step1-opt-1.3b.log",
        "deepspeed",
        r"\[Rank 0\] step=\d+, skipped=",
        7360,
        7360,
    ),
    Case(
        "crash-startup-deepspeed_microsoft_DeepSpeedExamples_check-7b_training.log",
        "deepspeed",
        r"\[Rank 0\] step=\d+, skipped=",
        0,
        None,
        # DeepSpeed-Chat prints HF's `***** Running training *****` after the engine's only
        # `step=0`, then crashes: the HF parser holds the rest, where nothing is progress.
        "hf",
    ),
    Case(
        "megatron-crash_elena-lyulina_Megatron-LM-Attention-Benchmark_2340717.out",
        "megatron",
        r"\] iteration +\d+/ +\d+ \|",
        15549,
        15550,
    ),
    Case(
        "megatron-gptneox_zainsarwar865_gpt-neox_GPT_experts-2_stdout.txt",
        "megatron",
        r"^ samples/sec: [\d.]+ \| iteration +\d+/",
        270,
        11000,
    ),
    Case(
        "detectron2-resume_HaowenGuan_NYU-SSOD_log_supervised_lr_0.004_warmup.txt",
        "detectron2",
        r"d2\.utils\.events INFO: +eta: \S+ +iter: \d+ ",
        41999,
        111000,
    ),
    Case(
        "mmengine-mmdet_gist-ailab_drone-mmdetection-jm_training_log.txt",
        "mmengine",
        r" - mmengine - INFO - Epoch\(train\) +\[\d+\]",
        3623,
        3624,
    ),
    Case(
        "mmengine-mmseg_JimmyMa99_mmsegmentation_nohup.out",
        "mmengine",
        r" - mmengine - INFO - Iter\(train\) \[",
        20000,
        20000,
    ),
    Case(
        "metriclogger-lavis_jena-shreyas_SeViLA_sevila-causalvidqa_20575253.out",
        "metriclogger",
        r"^Train: data epoch: \[\d+\] +\[ *\d+/\d+\] +eta:",
        35109,
        35110,
    ),
    Case(
        "metriclogger-dino-unic_CarlottaGiacchetta_Distillation_run_20250724_120006.log",
        "metriclogger",
        r"\] Training - Epoch: \[\d+/\d+\] +\[ *\d+/\d+\] +eta:",
        10228,
        842800,
    ),
    Case(
        "timm_rioyokotalab_pytorch-image-models_6298.out",
        "timm",
        r"^Train: \d+ \[ *\d+/\d+ \( *\d+%\)\]",
        375299,
        375300,
    ),
    Case(
        "fairseq-crash_jiaohuix_fairseq_extension_gshard_sum_balance_loss.txt",
        "fairseq",
        r"\| train_inner \| epoch \d+:",
        8800,
        None,
    ),
    Case(
        "fairseq-hydra-slurm-cancel_shanguanma_fairseq_speechtext_t-hubert_stage2-3.log",
        "fairseq",
        r"\]\[train_inner\]\[INFO\] - \{",
        5200,
        80000,
    ),
    Case(
        "torchtitan-resume_QIU023_torchtitan_attention_residual_lm_447m_base_train.log",
        "torchtitan",
        r"- root - INFO - \x1b\[31mstep: +\d+ ",
        12500,
        12500,
    ),
    Case(
        "torchtitan-crash_QIU023_torchtitan_attention_residual_175m_n12_crashed_train.log",
        "torchtitan",
        r"- root - INFO - \x1b\[31mstep: +\d+ ",
        8810,
        20000,  # the log's `total steps 20000` (the manifest reads it as 2000)
    ),
    Case(
        "verl-resume_Bihan_dstack-configs_verl_demo.log",
        "verl",
        r"^Training Progress: +\d+%\|",
        434,  # the bar's last redraw; the 435th step ends the run without one
        435,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file[:40])
def test_framework_log(case: Case) -> None:
    raw = (SHARED_LOGS2 / case.file).read_bytes()
    lines = split_lines(raw)
    pattern = re.compile(case.grep)
    expected = sum(1 for line in lines if pattern.search(line))
    parser = make_parser(None)
    events = feed_all(parser, lines)
    progress = [e for e in events if isinstance(e, Progress)]
    assert getattr(parser, "format", None) == (case.final_fmt or case.fmt)
    assert expected > 0 and len(progress) == expected
    assert progress[-1].iter == case.final_iter
    totals = [
        e.values["max_iters"]
        for e in events
        if isinstance(e, RunConfig) and "max_iters" in e.values
    ]
    total = progress[-1].total or (totals[-1] if totals else None)
    assert total == case.total


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file[:40])
def test_framework_log_with_its_format_named(case: Case) -> None:
    """Named with `--format`, the parser reads the same progress as auto-detection."""
    lines = split_lines((SHARED_LOGS2 / case.file).read_bytes())
    named = [e for e in feed_all(make_parser(case.fmt), lines) if isinstance(e, Progress)]
    auto = [e for e in feed_all(make_parser(None), lines) if isinstance(e, Progress)]
    assert [p.iter for p in named] == [p.iter for p in auto]


def test_lines_skipped_by_the_scorers_score_nothing() -> None:
    """The registry's quick gate never hides a line some format would score."""
    for case in CASES:
        for line in split_lines((SHARED_LOGS2 / case.file).read_bytes()):
            cleaned = clean(line)
            if not registry._may_score(cleaned):
                assert set(registry._scores(cleaned).values()) == {0}, cleaned
