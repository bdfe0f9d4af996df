from __future__ import annotations

import pytest

from bot.core.events import ErrorText, Eval, Progress
from bot.core.parsers import registry
from bot.core.parsers.registry import AutoParser, detect, make_parser
from tests.core.parsers.helpers import feed_all
from tests.core.parsers.test_formats import reference_nanogpt_log

SAMPLES = {
    "nanogpt": ["iter 10: loss 3.9133, time 6704.74ms, mfu 2.23%"],
    "llmc": ["step     0 | loss: 10.955010 | lr 8.3916e-07 | norm: 15.3421 | dt: 23547.83ms"],
    "modded": ["step:1/1393 train_time:17608ms step_avg:nanms"],
    "llamafactory": ['{"current_steps": 10, "total_steps": 866, "loss": 1.0}'],
    "trainer_state": ["{", '  "log_history": [', "  ]", "}"],
    "lightning": ["Epoch 0:  31%|███       | 1225/3999 [1:07:35<2:33:03,  0.30it/s, loss=0.5]"],
    "generic": ["2024-03-01 12:00:00,123 - INFO - step 5, loss 1.0"],
    "tqdm": [" 45%|████▌     | 450/1000 [02:10<02:39,  3.45it/s]", "Val Loss: 1.0"],
    "hf": ["{'loss': 1.23, 'learning_rate': 5e-05, 'epoch': 0.5}"],
    "yolox": [
        "2023-02-01 10:00:00.123 | INFO     | yolox.core.trainer:after_iter:253 - epoch: 2/10, "
        "iter: 20/50, mem: 3000Mb, iter_time: 0.300s, data_time: 0.010s, total_loss: 5.1, "
        "lr: 1.000e-03, size: 640, ETA: 0:20:00"
    ],
    "keras": ["Epoch 1/5", " 10/20 [=========>....................] - ETA: 5s - loss: 0.9"],
    "ultralytics": [
        "      2/50      1.20G      1.100      2.200      1.300         16        640: 100% "
        "━━━━━━━━━━━━ 80/80 4.0it/s 20.0s"
    ],
    "ultralytics_csv": ["epoch,time,train/box_loss,train/cls_loss,val/box_loss", "1,10.5,1,2,3"],
    "ijepa": ["INFO:root:[3,   200] loss: 0.512 masks: 68.0 24.0 [wd: 4.00e-02] (850.2 ms)"],
    "olmo": ["2024-02-01 10:00:03.412\tnode-1:0\tolmo.train:967\tINFO\t[step=10/500]"],
    "openpi": [
        "Progress on: 1.20kit/30.0kit rate:2.1it/s remaining:3:48:00 elapsed:9:31 postfix:-"
    ],
    "swift": ["{'loss': '2.1', 'epoch': '0.1', 'global_step/max_steps': '5/50'}"],
    "nemo": ["Training epoch 0, iteration 20/400 | global_step: 20 | reduced_train_loss: 7.1"],
    "megatron": [
        " iteration      100/    5000 | consumed samples:        12800 | elapsed time per "
        "iteration (ms): 412.5 | learning rate: 1.000E-04 | lm loss: 5.123400E+00 |"
    ],
    "torchtitan": [
        "[rank0]:[titan] 2025-02-01 10:00:00,000 - root - INFO - step: 20  loss:  "
        "7.1234  memory: 30.00GiB(40.00%)  tps: 5,000  tflops: 100.00  mfu: 10.00%"
    ],
    "detectron2": [
        "[03/02 10:00:00 d2.utils.events]:  eta: 1:00:00  iter: 39  total_loss: 1.2  "
        "time: 0.5000  data_time: 0.0100  lr: 0.0010  max_mem: 4000M"
    ],
    "mmengine": [
        "03/02 10:00:00 - mmengine - INFO - Iter(train) [  50/1000]  lr: 1.0000e-02  "
        "eta: 0:10:00  time: 0.6000  data_time: 0.0100  memory: 3000  loss: 0.9000"
    ],
    "metriclogger": [
        "Epoch: [3]  [ 100/1000]  eta: 0:15:00  lr: 0.000100  loss: 2.1000 (2.2000)"
        "  time: 1.0000 (1.0500)  data: 0.0100 (0.0200)  max mem: 9000"
    ],
    "timm": [
        "Train: 2 [ 100/500 ( 20%)]  Loss: 3.500 (3.60)  Time: 0.250s, 1024.00/s  "
        "(0.260s,  984.62/s)  LR: 1.000e-03  Data: 0.010 (0.012)"
    ],
    "fairseq": [
        "2023-01-01 10:00:00 | INFO | train_inner | epoch 001:    200 / 900 loss=7.5, "
        "ppl=181.02, wps=1000, ups=2.5, num_updates=200, lr=5e-05, wall=80"
    ],
    "verl": ["(TaskRunner pid=7) step:3 - actor/pg_loss:0.012 - timing_s/step:30.5"],
    "deepspeed": [
        "[2024-01-01 10:00:00,000] [INFO] [logging.py:96:log_dist] [Rank 0] step=10, "
        "skipped=0, lr=[0.0001], mom=[(0.9, 0.999)]"
    ],
}


def test_every_format_has_a_sample_and_a_parser() -> None:
    assert set(SAMPLES) == set(registry.FORMATS)
    for fmt in registry.FORMATS:
        assert make_parser(fmt).name == fmt


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_detect(fmt: str) -> None:
    assert detect(["some banner", *SAMPLES[fmt]]) == fmt


def test_detect_nothing() -> None:
    assert detect(["hello", "", "world"]) is None


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown log format 'foo'; known: nanogpt, llmc"):
        make_parser("foo")


def test_document_formats() -> None:
    assert registry.is_document_format("trainer_state")
    assert not registry.is_document_format("hf")
    assert registry.detect_path("/runs/out/checkpoint-500/trainer_state.json") == "trainer_state"
    assert registry.detect_path("out/trainer_log.jsonl") == "llamafactory"
    assert registry.detect_path("train.log") is None
    document = registry.make_document_parser("trainer_state")
    assert document.feed_document('{"log_history": [{"loss": 1.0, "step": 1}]}') == [
        Progress(1, loss=1.0)
    ]
    with pytest.raises(ValueError, match="'hf' is not a document format"):
        registry.make_document_parser("hf")


def test_auto_parser_loses_nothing_held_back() -> None:
    lines = reference_nanogpt_log(600)
    assert feed_all(make_parser(None), lines) == feed_all(make_parser("nanogpt"), lines)


def test_auto_parser_reports_failures_while_holding_lines_back() -> None:
    parser = make_parser(None)
    assert isinstance(parser, AutoParser)
    assert parser.feed("loading model") == []
    [oom] = parser.feed("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.")
    assert isinstance(oom, ErrorText) and oom.kind == "oom"
    assert parser.format is None
    assert parser.flush() == []  # the OOM is not reported twice
    assert parser.format == "generic"


def test_short_log_needs_flush() -> None:
    parser = make_parser(None)
    assert isinstance(parser, AutoParser)
    assert parser.feed("Epoch 1, Batch 5, loss=0.5") == []
    assert parser.flush() == [Progress(5, loss=0.5, epoch=1.0)]


def test_log_switching_format_midway() -> None:
    """A run resumed with another script: nanoGPT lines, then llm.c lines."""
    lines = reference_nanogpt_log(100)
    lines += ["resuming with train_gpt2.cu"]
    lines += [
        f"step {n:4d}/19560 | loss 3.5 (+nanz)| norm 1.0 (+nanz)| lr 1e-4 | 400.00 ms | 30% bf16"
        " MFU | 1000 tok/s"
        for n in range(101, 201)
    ]
    parser = make_parser(None)
    events = feed_all(parser, lines)
    assert [e.iter for e in events if isinstance(e, Progress)] == list(range(201))
    assert parser.name == "auto" and isinstance(parser, AutoParser) and parser.format == "llmc"


def test_switch_after_quiet_lines_keeps_them() -> None:
    """No format in the head: the generic fallback runs, then a tqdm bar takes over."""
    parser = make_parser(None)
    lines = ["warming up"] * registry.HEAD_LINES
    lines += [f" {n}%|          | {n}/100 [00:{n:02d}<01:00,  1.00it/s]" for n in range(60)]
    events = feed_all(parser, lines)
    assert [e.iter for e in events if isinstance(e, Progress)] == list(range(60))
    assert isinstance(parser, AutoParser) and parser.format == "tqdm"


def test_hf_dicts_after_a_bars_only_head_switch_to_hf() -> None:
    parser = make_parser(None)
    lines = [f" {n}%|          | {n}/100 [00:{n:02d}<01:00,  1.00it/s]" for n in range(30)]
    lines += ["", "", *(["x"] * registry.HEAD_LINES)]
    lines += ["{'loss': 1.5, 'epoch': 0.3}", " 30%|███       | 30/100 [00:30<01:00,  1.00it/s]"]
    lines += ["{'eval_loss': 1.4, 'epoch': 0.3}"]
    events = feed_all(parser, lines)
    assert isinstance(parser, AutoParser) and parser.format == "hf"
    assert events[-1] == Eval(30, val_loss=1.4)


def test_huge_and_binary_lines() -> None:
    parser = make_parser(None)
    huge = "iter 1: loss 1.0, time 1.00ms " + "x" * 10_000_000
    garbage = bytes(range(256)).decode("utf-8", errors="replace") * 100
    assert feed_all(parser, [garbage, huge, "\x00" * 1000]) == [Progress(1, loss=1.0, dt_s=0.001)]
