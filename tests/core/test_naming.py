"""A run's name from its log, its command or its path (bot/core/naming.py)."""

from __future__ import annotations

import itertools
from pathlib import Path, PurePath

import pytest

from bot.core.naming import (
    NAMING_LINES,
    Namer,
    name_in_line,
    name_of_command,
    name_of_path,
    unique,
)
from tests.core.parsers.helpers import SHARED_LOGS, SHARED_LOGS2


@pytest.mark.parametrize(
    ("line", "name"),
    [
        # nanoGPT's configurator: the config file as it is, then each --key=value
        ("out_dir = 'out-shakespeare-char'", "shakespeare-char"),
        ("wandb_run_name = 'mini-gpt'", "mini-gpt"),
        ("Overriding: out_dir = out-owt", "owt"),
        # Hugging Face TrainingArguments' repr
        ("output_dir=checkpoint_CCKS_lora_epoch50,", "checkpoint_CCKS_lora_epoch50"),
        ("run_name=./runs/llama-sft,", "llama-sft"),
        # a command echoed, argparse's Namespace
        (
            "--bf16 True --output_dir outputs/mobilevlm-1584K --num_train_epochs 1",
            "mobilevlm-1584K",
        ),
        ("['--output_dir', 'outputs/x-y', '--seed', '1']", "x-y"),
        ("Namespace(experiment_name='yolox_voc_s', fp16=True, name=None)", "yolox_voc_s"),
        # Megatron's argument dump, a Hydra dict, a YOLOX table
        (" 0:   wandb_exp_name .................................. llama3-1b", "llama3-1b"),
        ("              'experiment_name': 'qwen-2.5-7B',", "qwen-2.5-7B"),
        ("│ exp_name         │ 'yolox_voc_s'              │", "yolox_voc_s"),
        # wandb, colours and all
        ("wandb: Syncing run \x1b[33msweet-waterfall-1\x1b[0m", "sweet-waterfall-1"),
        ("(TaskRunner pid=1) wandb: Syncing run qwen-2.5-7B", "qwen-2.5-7B"),
    ],
)
def test_what_trainers_print_names_the_run(line: str, name: str) -> None:
    assert name_in_line(line) == name


@pytest.mark.parametrize(
    "line",
    [
        "    overwrite_output_dir=False,",  # another key that ends the same way
        " 0:   app_tag_run_name ................................ None",
        "output_dir=./results,",  # a folder that says nothing
        "run_name=None,",
        "out_dir = 'out'",
        "iter 100: loss 2.0000, time 170.00ms, mfu 30.00%",
        "dataset_name = 'openwebtext'",
    ],
)
def test_lines_that_name_nothing(line: str) -> None:
    assert name_in_line(line) is None


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (
            ["python", "train.py", "config/train_shakespeare_char.py"],
            "train-train_shakespeare_char",
        ),
        (["torchrun", "--nproc_per_node", "8", "train.py", "config/x.py", "--lr=1e-3"], "train-x"),
        (["python3", "train.py", "--out_dir=out-owt"], "owt"),
        (["accelerate", "launch", "sft.py", "--output_dir", "outputs/llama-sft"], "llama-sft"),
        # the flags resources.py reads for the checkpoints' disk name the run too
        (["python", "train.py", "--save-dir", "runs/exp9"], "exp9"),
        (["python", "t.py", "--output_dir", "out", "--run-name", "abc"], "abc"),
        (["bash", "-c", "python t.py --output_dir=runs/x1"], "x1"),
        (["python", "-m", "pkg.finetune"], "finetune"),
        (["./run_experiment.sh"], "run_experiment"),
        (["/usr/bin/trainer-bin", "--epochs", "3"], "trainer-bin"),
    ],
)
def test_a_command_names_its_run(argv: list[str], name: str) -> None:
    assert name_of_command(argv) == name


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/work/runs/gpt2-124m/train.log", "gpt2-124m"),
        ("/work/exp7/logs/stdout.txt", "exp7"),
        ("/work/runs/nanogpt_shakespeare.log", "nanogpt_shakespeare"),
        ("/work/a/slurm-4242.out", "slurm-4242"),
    ],
)
def test_a_path_names_its_run_never_a_bare_train_log(path: str, name: str) -> None:
    assert name_of_path(PurePath(path)) == name


def test_names_stay_unique() -> None:
    assert unique("gpt2", ["tiny"]) == "gpt2"
    assert unique("gpt2", ["gpt2", "gpt2-2"]) == "gpt2-3"


def test_the_namer_says_a_name_once_and_only_early() -> None:
    namer = Namer(limit=3)
    assert namer.feed(["loading", "out_dir = 'out-a'"]) == (1, "a")  # the line that says it
    assert namer.done and namer.feed(["out_dir = 'out-b'"]) is None
    late = Namer(limit=3)
    assert late.feed(["one", "two", "three"]) is None and late.done
    assert late.feed(["out_dir = 'out-a'"]) is None


# Names read by a person in these public logs (the line quoted), not by the code.
REAL = [
    (SHARED_LOGS / "nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt", "mitos"),  # out_dir
    (
        SHARED_LOGS
        / "hf-trainer-tqdm_112292454_ChatGLM-Efficient-Tuning_result_CCKS_ChatGLMv2_lora_"
        "epoch50.txt",
        "checkpoint_CCKS_ChatGLMv2_lora_epoch50",  # output_dir= in TrainingArguments
    ),
    (SHARED_LOGS / "hf-trl-tqdm-stderr_guoyu-zhang_PEFT-TRL-LLMs_train.err", "sweet-waterfall-1"),
    (
        SHARED_LOGS2 / "timm_rioyokotalab_pytorch-image-models_6298.out",
        "PreTraining_vit_deit_tiny_patch16_224_1k",
    ),
    (SHARED_LOGS2 / "verl-resume_Bihan_dstack-configs_verl_demo.log", "qwen-2.5-7B"),
    (SHARED_LOGS2 / "yolox_kun-woo-park_YOLOX_Fire_Detection_train_log.txt", "yolox_voc_s"),
    (SHARED_LOGS / "modded-nanogpt_2024-10-10_Muon.txt", None),  # says no name
]


@pytest.mark.parametrize(("path", "name"), REAL, ids=[p.name[:40] for p, _ in REAL])
def test_real_logs(path: Path, name: str | None) -> None:
    if not path.is_file():
        pytest.skip(f"{path} absent: the public logs live in ../shared beside the repository")
    namer = Namer()
    with path.open(errors="replace") as f:
        for line in itertools.islice(f, NAMING_LINES):
            if (found := namer.feed([line.rstrip("\n")])) is not None:
                assert found == (0, name)
                return
    assert name is None
