"""Each format's parser on a few synthetic lines written like the trainer prints them."""

from __future__ import annotations

import math
import random

import pytest

from bot.core.events import Checkpoint, ErrorText, Eval, Progress, RunConfig, TrainingEnd
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert
from bot.core.parsers import trainer_state
from bot.core.parsers.registry import make_parser
from tests.core.parsers.helpers import feed_all


def reference_nanogpt_log(last_iter: int = 1300) -> list[str]:
    """nanoGPT train.py output in the reference scenario: max_iters 20000, eval every 500
    iterations over 200 batches, ~170 ms per iteration (168-186 ms), ~5.8 s eval iterations."""
    rng = random.Random(7)
    lines = [
        "Overriding config with config/train_gpt2.py:",
        "eval_interval = 500 # keep frequent because we'll overfit",
        "eval_iters = 200",
        "log_interval = 1 # don't print too too often",
        "batch_size = 12",
        "block_size = 1024",
        "gradient_accumulation_steps = 40",
        "Overriding: max_iters = 20000",
        "tokens per iteration will be: 491,520",
    ]
    loss = 10.9
    for it in range(last_iter + 1):
        dt_ms = rng.uniform(168, 186)
        if it % 500 == 0:
            lines.append(f"step {it}: train loss {loss:.4f}, val loss {loss + 0.05:.4f}")
            if it > 0:
                lines.append("saving checkpoint to out")
            dt_ms = rng.uniform(5700, 5900)
        loss *= 0.9995
        lines.append(f"iter {it}: loss {loss:.4f}, time {dt_ms:.2f}ms, mfu {30 + it % 3:.2f}%")
    return lines


def test_nanogpt_reference_scenario() -> None:
    events = feed_all(make_parser(None), reference_nanogpt_log())
    progress = [e for e in events if isinstance(e, Progress)]
    config: dict[str, int | float | str] = {}
    for e in events:
        if isinstance(e, RunConfig):
            config.update(e.values)
    assert config == {
        "config_file": "config/train_gpt2.py",
        "eval_interval": 500,
        "eval_iters": 200,
        "log_interval": 1,
        "batch_size": 12,
        "block_size": 1024,
        "gradient_accumulation_steps": 40,
        "max_iters": 20000,
        "tokens_per_iter": 491520,
    }
    assert [p.iter for p in progress] == list(range(1301))
    assert all(0.168 <= p.dt_s <= 0.186 for p in progress if p.iter % 500 and p.dt_s)
    assert all(5.7 <= (p.dt_s or 0) <= 5.9 for p in progress if p.iter % 500 == 0)
    assert [(e.iter, e.train_loss is not None) for e in events if isinstance(e, Eval)] == [
        (0, True),
        (500, True),
        (1000, True),
    ]
    assert [e.iter for e in events if isinstance(e, Checkpoint)] == [500, 1000]


def test_nanogpt_lines() -> None:
    parser = make_parser("nanogpt")
    assert parser.feed("iter 10: loss 3.9133, time 6704.74ms, mfu 2.23%") == [
        Progress(10, loss=3.9133, dt_s=6.70474)
    ]
    assert parser.feed("step 250: train loss 1.1683, val loss 1.2242") == [
        Eval(250, train_loss=1.1683, val_loss=1.2242)
    ]
    assert parser.feed("saving checkpoint to out-mitos") == [Checkpoint(250, path="out-mitos")]
    assert parser.feed("init_from = 'resume'") == [RunConfig({"init_from": "resume"})]
    assert parser.feed("learning_rate_is_not_known = 3") == []
    [nan] = parser.feed("iter 11: loss nan, time 6704.74ms, mfu 2.23%")
    assert isinstance(nan, Progress) and nan.loss is not None and math.isnan(nan.loss)


def test_llmc_family_lines() -> None:
    parser = make_parser("llmc")
    [step] = parser.feed(
        "step    1/19560 | loss 11.010252 (+nanz)| norm 15.1374 (+nanz)| lr 8.57e-07 |"
        " 4621.47 ms | 29.2% bf16 MFU | 113446 tok/s"
    )
    assert step == Progress(1, total=19560, loss=11.010252, dt_s=4.62147)
    assert parser.feed("val loss 6.208999") == [Eval(1, val_loss=6.208999)]
    assert parser.feed("HellaSwag: 2497/10042 = 0.248656") == []

    build = make_parser("llmc")
    assert build.feed("validation loss: 10.9522") == [Eval(0, val_loss=10.9522)]
    [step] = build.feed(
        "step     0 | loss: 10.955010 | lr 8.3916e-07 | norm: 15.3421 | dt: 23547.83ms"
        " | tok/sec: 22264.81"
    )
    assert step == Progress(0, loss=10.95501, dt_s=23.54783, tokens_per_s=22264.81)

    main_log = make_parser("llmc")
    assert main_log.feed("s:0 tel:11.0092") == [Eval(0, val_loss=11.0092)]
    assert main_log.feed("s:1 trl:10.9598 lr:0.000002 norm:15.24") == [Progress(1, loss=10.9598)]


def test_custom_step_format_derives_the_step_time_from_tokens_per_second() -> None:
    parser = make_parser("llmc")
    assert parser.feed("Tokens / optimizer step : 32,768") == [
        RunConfig({"tokens_per_iter": 32768})
    ]
    assert parser.feed("Max steps               : 100,000") == [RunConfig({"max_iters": 100000})]
    assert parser.feed("[Checkpoint] resumed from ./checkpoints/latest.pt at step 47700") == [
        RunConfig({"resume_iter": 47700})
    ]
    [step] = parser.feed(
        "step   47710 | loss 13.8450 | lr 1.79e-04 | grad 0.768 | 32.768k tok/s | mfu 37.67%"
    )
    assert isinstance(step, Progress)
    assert step.iter == 47710 and step.dt_s == pytest.approx(1.0)
    assert parser.feed("  [eval] step   48000 | val_loss 4.0749") == [Eval(48000, val_loss=4.0749)]
    assert parser.feed("[Checkpoint] saved ./checkpoints/ckpt_step0047850.pt") == [
        Checkpoint(47850, path="./checkpoints/ckpt_step0047850.pt")
    ]


def test_llmc_step_line_cut_by_a_cancellation_still_counts() -> None:
    events = make_parser("llmc").feed(
        "step 16256/19560 | loss     nan (+nanz)| norm    nan (slurmstepd: error: *** JOB"
        " 11679031 ON g002 CANCELLED AT 2024-10-11T13:44:45 ***"
    )
    assert [type(e) for e in events] == [Progress, ErrorText]


def test_modded_skips_the_code_header() -> None:
    lines = [
        "import os",
        "with open(sys.argv[0]) as f:",
        "    raise ValueError('Traceback (most recent call last): CUDA out of memory')",
        "print0(f'step:{step}/{n} val_loss:{v:.4f} train_time:{t:.0f}ms')",
        "=" * 100,
        "Running PyTorch 2.5.0",
        "=" * 100,
        "step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms",
        "step:1/1393 train_time:17608ms step_avg:nanms",
        "step:2/1393 train_loss:10.5 train_time:17900ms step_avg:nanms",
        "step:3/3325 train_time:178.564s step_avg:178564.12ms",
        "Traceback (most recent call last):",
    ]
    events = feed_all(make_parser(None), lines)
    assert events == [
        Eval(0, val_loss=10.8258, elapsed_s=0.0),
        Progress(1, total=1393, elapsed_s=17.608),
        Progress(2, total=1393, loss=10.5, elapsed_s=17.9),
        Progress(3, total=3325, elapsed_s=178.564),
        ErrorText("traceback", "Traceback (most recent call last):"),
    ]


def test_modded_without_code_header_reports_early_errors() -> None:
    events = feed_all(make_parser("modded"), ["RuntimeError: CUDA error: out of memory"])
    assert [e.kind for e in events if isinstance(e, ErrorText)] == ["oom"]


def test_hf_trainer_bars_dicts_and_nested_eval_bar() -> None:
    lines = [
        "[INFO|trainer.py:1786] 2023-07-15 04:58:27,820 >> ***** Running training *****",
        "Map: 100%|██████████| 1000/1000 [00:01<00:00, 900.00 examples/s]",
        "  0%|          | 0/1000 [00:00<?, ?it/s]",
        " 45%|████▌     | 450/1000 [02:10<02:39,  3.45it/s]",
        "{'loss': 1.23, 'learning_rate': 5e-05, 'epoch': 0.5}",
        " 45%|████▌     | 450/1000 [02:10<02:39,  3.45it/s]",  # tqdm's redraw after the dict
        " 50%|█████     | 500/1000 [1:02:10<1:02:10,  1.50s/it]",
        "  0%|          | 0/40 [00:00<?, ?it/s]\x1b[A",
        " 50%|█████     | 20/40 [00:05<00:05,  4.00it/s]\x1b[A",
        "{'eval_loss': '0.7417', 'eval_runtime': '30.28', 'epoch': '1'}",
        " 51%|█████     | 510/1000 [1:03:00<58:00,  ?it/s]",
        "{'train_runtime': 13190.0841, 'train_loss': 0.09, 'epoch': 24.96}",
    ]
    events = feed_all(make_parser(None), lines)
    assert events == [
        Progress(0, total=1000, elapsed_s=0.0),
        Progress(450, total=1000, elapsed_s=130.0, remaining_s=159.0),
        Progress(450, total=1000, loss=1.23, epoch=0.5),
        Progress(500, total=1000, elapsed_s=3730.0, remaining_s=3730.0),
        Eval(500, val_loss=0.7417),
        Progress(510, total=1000, elapsed_s=3780.0, remaining_s=3480.0),
        TrainingEnd(reason="completed"),
    ]


def test_hf_total_optimization_steps_names_the_training_bar() -> None:
    parser = make_parser("hf")
    assert parser.feed(">>   Total optimization steps = 21,600") == [
        RunConfig({"max_iters": 21600})
    ]
    assert parser.feed("100%|██████████| 7/7 [00:08<00:00,  1.20s/it]") == []
    assert parser.feed("  5%|▍         | 1000/21600 [2:28:22<52:43:26,  9.21s/it]") == [
        Progress(1000, total=21600, elapsed_s=8902.0, remaining_s=189806.0)
    ]
    [checkpoint] = parser.feed(
        "07/15/2023 15:32:06 - INFO - pet.core.trainer -"
        " Saving model checkpoint to out/checkpoint-1000"
    )
    assert checkpoint == Checkpoint(1000, path="out/checkpoint-1000", timestamp_s=1689435126.0)


def test_llamafactory_entries() -> None:
    parser = make_parser("llamafactory")
    assert parser.feed(
        '{"current_steps": 10, "total_steps": 6566, "loss": 0.8548, "epoch": 0.0107,'
        ' "elapsed_time": "0:02:12", "remaining_time": "1 day, 0:08:23"}'
    ) == [
        Progress(10, total=6566, loss=0.8548, elapsed_s=132.0, remaining_s=86_903.0, epoch=0.0107)
    ]
    assert parser.feed(
        '{"current_steps": 500, "total_steps": 6750, "eval_loss": 1.64, "elapsed_time": "0:29:27",'
        ' "remaining_time": "6:08:08"}'
    ) == [Eval(500, val_loss=1.64, elapsed_s=1767.0)]
    # A resumed run goes back in steps and in time: reported as the line says.
    [back] = parser.feed(
        '{"current_steps": 5010, "total_steps": 6566, "loss": 0.5, "elapsed_time": "0:02:38"}'
    )
    assert isinstance(back, Progress) and (back.iter, back.elapsed_s) == (5010, 158.0)
    assert parser.feed('{"current_steps": 5010, "loss": ') == []


def test_trainer_state_document_and_increments() -> None:
    first = (
        '{"max_steps": 100, "eval_steps": 50, "log_history": ['
        '{"epoch": 0.1, "loss": 2.0, "step": 10}, {"eval_loss": 1.9, "step": 50}]}'
    )
    assert trainer_state.parse_document(first) == [
        RunConfig({"max_iters": 100, "eval_interval": 50}),
        Progress(10, total=100, loss=2.0, epoch=0.1),
        Eval(50, val_loss=1.9),
    ]
    parser = trainer_state.TrainerStateParser()
    assert len(parser.feed_document(first)) == 3
    second = first.replace(
        "]}", ', {"loss": 1.5, "step": 60}, {"train_runtime": 9.0, "step": 60}]}'
    )
    assert parser.feed_document(second) == [
        Progress(60, total=100, loss=1.5),
        TrainingEnd(reason="completed"),
    ]
    assert parser.feed_document("not json") == []


def test_lightning_epochs_are_counted_globally() -> None:
    parser = make_parser(None)
    lines = [
        "Sanity Checking DataLoader 0: 100%|██████████| 2/2 [00:01<00:00,  1.52it/s]",
        "Epoch 0:  50%|█████     | 50/100 [01:00<01:00,  0.83it/s, v_num=29, loss=0.581]",
        "Validation DataLoader 0:  40%|████      | 4/10 [00:10<00:15,  3.99it/s]",
        "Epoch 0: 100%|██████████| 100/100 [02:00<00:00, 0.83it/s, loss=0.5, val_loss=0.52]",
        "Epoch 1:  10%|█         | 10/100 [00:12<01:48,  0.83it/s, loss=0.45, val_loss=0.52]",
    ]
    events = feed_all(parser, lines)
    assert events == [
        Progress(50, loss=0.581, elapsed_s=60.0, epoch=0.5, per_epoch=100),
        Progress(100, loss=0.5, elapsed_s=120.0, epoch=1.0, per_epoch=100),
        Eval(100, val_loss=0.52),
        Progress(110, loss=0.45, elapsed_s=132.0, epoch=1.1, per_epoch=100),
    ]


def test_nested_tqdm_counts_batches_across_epochs() -> None:
    lines = ["==> Start training..", "  0%|          | 0/3 [00:00<?, ?it/s]epoch 1"]
    lines += [f" {n}%|          | {n}/4 [00:0{n}<00:01,  1.00it/s]\x1b[A" for n in range(5)]
    lines += [
        " 33%|███▎      | 1/3 [00:05<00:10,  5.00s/it]Train Loss: 1.82, Acc: 34.8%",
        "Val Loss: 1.77, Acc: 38.4%",
        "Test Loss: 3.99, Acc: 10.4%",
        "  0%|          | 0/4 [00:00<?, ?it/s]\x1b[A",
        " 25%|██▌       | 1/4 [00:01<00:03,  1.00it/s]\x1b[A",
    ]
    events = feed_all(make_parser("tqdm"), lines)
    progress = [e for e in events if isinstance(e, Progress)]
    # The outer bar's first draw cannot be told from a training bar until the inner one starts.
    assert [(p.iter, p.total) for p in progress] == [(0, 3)] + [(n, 12) for n in range(5)] + [
        (4, 12),
        (5, 12),
    ]
    assert progress[-1].elapsed_s == 6.0
    assert [e for e in events if isinstance(e, Eval)] == [Eval(4, train_loss=1.82, val_loss=1.77)]


def prep_bar(total: int, announce: str) -> list[str]:
    """A `tqdm(dataset)` loop as a data-preparation step draws it, after its log line."""
    lines = [announce, f"  0%|          | 0/{total} [00:00<?, ?it/s]"]
    for n in range(total // 4, total + 1, total // 4):
        lines.append(
            f"{100 * n // total:3d}%|####      | {n}/{total} [00:0{n % 9}<00:01, 803.06it/s]"
        )
    return lines


TRAIN_BAR = [f" {n}0%|#         | {n}/10 [00:0{n}<00:09,  1.00it/s]" for n in range(1, 4)]


@pytest.mark.parametrize(
    "announce",
    [
        "2023-08-25 09:10:55 INFO     encode all the data       : 400",
        "Tokenizing the training corpus...",
        "Downloading and preprocessing the dataset",
        "[data] converting examples to features",
    ],
)
def test_a_bare_bar_announced_as_data_preparation_is_not_training(announce: str) -> None:
    lines = [*prep_bar(400, announce), "INFO start model training", *TRAIN_BAR]
    progress = [e for e in feed_all(make_parser("tqdm"), lines) if isinstance(e, Progress)]
    assert [(p.iter, p.total) for p in progress] == [(1, 10), (2, 10), (3, 10)]


@pytest.mark.parametrize(
    "before",
    [
        "The tokenizer has new PAD/BOS/EOS tokens that differ from the model config.",
        "Training the encoder",
        "==> Start training..",
    ],
)
def test_a_bare_bar_after_other_text_is_training(before: str) -> None:
    progress = [e for e in feed_all(make_parser("tqdm"), [before, *TRAIN_BAR])]
    assert [(p.iter, p.total) for p in progress if isinstance(p, Progress)] == [
        (1, 10),
        (2, 10),
        (3, 10),
    ]


def test_a_bar_with_a_loss_after_a_preparation_line_is_training() -> None:
    bar = " 10%|#         | 1/10 [00:01<00:09,  1.00it/s, loss=2.31]"
    events = feed_all(make_parser("tqdm"), ["Tokenizing done, encoding the labels", bar])
    assert [(e.iter, e.total) for e in events if isinstance(e, Progress)] == [(1, 10)]


def test_generic_plain_lines() -> None:
    parser = make_parser("generic")
    [progress, evaluation] = parser.feed(
        "2024-03-01 12:00:00,123 - INFO - Epoch 1, Global Batch 25, Training Loss: 8.1474,"
        " Validation Loss: 14.7734, Validation Accuracy: 0.00%"
    )
    assert progress == Progress(25, loss=8.1474, timestamp_s=1709294400.123, epoch=1.0)
    assert evaluation == Eval(25, train_loss=8.1474, val_loss=14.7734, timestamp_s=1709294400.123)
    assert parser.feed("2024-03-01 12:01:00,000 - INFO - Checkpoint saved to ckpt.pth") == [
        Checkpoint(25, path="ckpt.pth", timestamp_s=1709294460.0)
    ]
    [nan] = make_parser("generic").feed("step 30/100 loss nan")
    assert isinstance(nan, Progress) and nan.total == 100 and nan.loss is not None
    assert math.isnan(nan.loss)


def test_generic_epoch_and_batch_counter_is_made_global() -> None:
    parser = make_parser("generic")
    lines = [
        "Epoch 1, Batch 40, loss=0.5",
        "Epoch 1, Batch 50, loss=0.4",
        "Epoch 2, Batch 10, loss=0.3",
    ]
    iters = [e.iter for e in feed_all(parser, lines) if isinstance(e, Progress)]
    assert iters == [40, 50, 60]


def test_generic_json_lines() -> None:
    parser = make_parser("generic")
    assert parser.feed('{"step": 100, "loss": 2.31, "val_loss": 2.4, "epoch": 0.5}') == [
        Progress(100, loss=2.31, epoch=0.5),
        Eval(100, val_loss=2.4),
    ]
    assert parser.feed('{"step": 101, "lr": 0.1}') == []
    assert parser.feed("{not json}") == []


def test_an_oom_after_a_preparation_bar_is_a_start_up_oom() -> None:
    """The OOM of the first forward, after the data was encoded: no iteration, no total."""
    lines = [
        *prep_bar(400, "2023-08-25 09:10:55 INFO     encode all the data       : 400"),
        "2023-08-25 09:13:13 INFO     start model training",
        "Traceback (most recent call last):",
        '  File "trainer.py", line 256, in train_single_epoch',
        "torch.cuda.OutOfMemoryError: Caught OutOfMemoryError in replica 0 on device 0.",
    ]
    monitor = RunMonitor("prep", "tqdm")
    found = [n for line in lines for _, ns in monitor.feed((line,), 0.0) for n in ns]
    found += monitor.end_of_log()
    assert [(a.type, a.iter) for a in found if isinstance(a, Alert)] == [("oom", None)]
    assert monitor.state.total_iters is None
