"""A run's name, from what its log or its command says; never a bare `train.log`.

In order: an explicit `--name` (the caller's business), then the first naming line among the
log's first `NAMING_LINES` lines, then (for `etagram run`) the command, then the log's path.
A name read from the log refines the first one once, early; a name the user gave never
changes.

What trainers print, as read in their own sources and in public logs:

    nanoGPT (configurator.py prints the config file, then each --key=value):
        out_dir = 'out-shakespeare-char'
        wandb_run_name = 'mini-gpt'
        Overriding: out_dir = out-owt
    Hugging Face Trainer (TrainingArguments' repr, dumped by most scripts):
        output_dir=checkpoint_CCKS_ChatGLMv2_lora_epoch50,
        run_name=checkpoint_CCKS_ChatGLMv2_lora_epoch50,
    a launcher echoing its command, or argparse's Namespace:
        ... --bf16 True --output_dir outputs/mobilevlm_v2-2.finetune-1584K --num_train_epochs 1
        ['--output_dir', 'outputs/x'], Namespace(..., experiment_name='yolox_voc_s', ...)
    Megatron-LM (its arguments, dot-padded):
         0:   wandb_exp_name .................................. llama3-1b-full-attn
    verl / Hydra (a config dict):  'experiment_name': 'qwen-2.5-7B',
    YOLOX (a table):               │ exp_name         │ 'yolox_voc_s'              │
    wandb (wandb/sdk/wandb_run.py, `_header_run_info`):
        wandb: Syncing run PreTraining_vit_deit_tiny_patch16_224_1k

An output folder is named by its last part, less an `out-`/`output_` prefix
(`out-shakespeare-char` -> `shakespeare-char`); folders that say nothing (`out`, `./results`)
and values such as `None` are passed over.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import PurePath

NAMING_LINES = 2000  # Megatron's argument dump alone is ~800 lines
MAX_NAME = 64

RUN_KEYS = (
    "run_name",
    "wandb_run_name",
    "experiment_name",
    "exp_name",
    "wandb_exp_name",
    "wandb_name",
)
# Where a run writes its outputs and checkpoints, as trainers name it in their config dump or
# on their command line (resources.py looks there for the disk to watch).
OUTPUT_KEYS = ("out_dir", "output_dir", "save_dir", "checkpoint_dir", "ckpt_dir")
# In a log's config dump, only these two: the others print whole paths, spaces included
# (Ultralytics' `save_dir=D:\ml projects\runs\...`), which a dump's line cannot delimit.
_KEYS = f"(?P<key>{'|'.join(RUN_KEYS + OUTPUT_KEYS[:2])})"
_VALUE = r"['\"]?(?P<value>[^\s'\",)│|]+)"
_NAMING = tuple(
    re.compile(pattern)
    for pattern in (
        rf"(?<![\w-])(?:--)?{_KEYS}['\"]?\s*[=:]\s*{_VALUE}",  # key = 'v', key=v, 'key': 'v'
        rf"--{_KEYS}['\"]?,?\s+{_VALUE}",  # --key v, '--key', 'v'
        rf"(?<![\w-]){_KEYS}\s+\.{{2,}}\s+{_VALUE}",  # Megatron: key ...... v
        rf"(?<![\w-]){_KEYS}\s*[│|]\s*{_VALUE}",  # a table: │ key │ 'v' │
        r"wandb: Syncing run (?P<value>\S+)",
    )
)
_NOTHING = frozenset({"none", "null", "nil", "false", "true", "''", "-"})
# File and folder names that say nothing about the run.
_GENERIC = frozenset(
    {
        "",
        ".",
        "..",
        "out",
        "output",
        "outputs",
        "result",
        "results",
        "checkpoint",
        "checkpoints",
        "ckpt",
        "ckpts",
        "run",
        "runs",
        "log",
        "logs",
        "train",
        "training",
        "stdout",
        "stderr",
        "std",
        "nohup",
        "console",
        "main",
        "tmp",
        "exp",
        "model",
        "models",
        "save",
        "saved",
        "trainer_output",
    }
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PREFIX = re.compile(r"^(?:outputs?|out)[-_](?=.)", re.IGNORECASE)
_LOG_SUFFIXES = (".log", ".txt", ".out", ".err", ".jsonl", ".csv")
_INTERPRETER = re.compile(
    r"^(?:python[\d.]*|torchrun|deepspeed|accelerate|srun|mpirun|uv|bash|sh)$"
)
_SCRIPT = re.compile(r"\.(?:py|sh)$")
_CONFIG = re.compile(r"\.(?:py|ya?ml|json|toml|cfg|gin)$")


def name_in_line(line: str) -> str | None:
    """The run's name if this line says it (see the module's docstring), else None."""
    if "name" not in line and "dir" not in line and "Syncing" not in line:
        return None  # the cheap test first: most lines say none of these
    found = [m for pattern in _NAMING for m in pattern.finditer(line)]
    for match in sorted(found, key=lambda m: m.start()):
        if (name := _clean(match.group("value"))) is not None:
            return name
    return None


def name_in_lines(lines: Iterable[str]) -> tuple[int, str] | None:
    """The first name among `lines`, and the index of the line that says it."""
    for i, line in enumerate(lines):
        if (name := name_in_line(line)) is not None:
            return i, name
    return None


def name_of_command(argv: Sequence[str]) -> str:
    """`python train.py config/x.py` -> `train-x`; a `--run_name` or an output folder
    (`--output_dir`, `--save-dir`... as resources.py reads them) in the command wins; the
    program's name when there is no script."""
    words = " ".join(argv).split()  # `bash -c "python train.py --output_dir x"` too
    named = (_clean(value) for value in flag_values(words, RUN_KEYS + OUTPUT_KEYS))
    if (name := next((n for n in named if n is not None), None)) is not None:
        return name
    words = [w for w in argv if w]
    if not words:
        return "run"
    script = next((i for i, w in enumerate(words) if _SCRIPT.search(w)), None)
    if script is None and "-m" in words[:-1]:
        module = words[words.index("-m") + 1].rsplit(".", 1)[-1]
        return _short(module) or "run"
    if script is None:
        return _short(PurePath(words[0]).name) or "run"
    stem = PurePath(words[script]).stem
    config = next(
        (PurePath(w).stem for w in words[script + 1 :] if _CONFIG.search(w) and "=" not in w),
        None,
    )
    return _short(f"{stem}-{config}" if config else stem) or "run"


def flag_values(argv: Sequence[str], keys: Collection[str]) -> Iterator[str]:
    """The values a command line gives any of `keys`, in order: `--key V`, `--key=V`, and
    Hydra's `key=V`; a dash in a flag reads as an underscore (`--output-dir`)."""
    for i, arg in enumerate(argv):
        key, eq, value = arg.lstrip("-").partition("=")
        if key.replace("-", "_") not in keys:
            continue
        if eq and value:
            yield value
        elif not eq and arg.startswith("--") and i + 1 < len(argv):
            yield argv[i + 1]


def name_of_path(path: PurePath) -> str:
    """The log's file name less its suffix, or the nearest folder that says more than
    `train.log` or `logs/`."""
    stem = path.name
    for suffix in _LOG_SUFFIXES:
        stem = stem.removesuffix(suffix)
    if stem.lower() not in _GENERIC and not stem.isdigit():
        return _short(stem) or path.name
    for folder in path.parents:
        if folder.name.lower() not in _GENERIC:
            return _short(folder.name) or path.name
    return _short(stem) or path.name


def unique(name: str, taken: Iterable[str]) -> str:
    """`name`, or `name-2`, `name-3`... when another followed run has it."""
    used = set(taken)
    if name not in used:
        return name
    n = 2
    while f"{name}-{n}" in used:
        n += 1
    return f"{name}-{n}"


class Namer:
    """Watches a log's first `NAMING_LINES` lines for its name; says it once."""

    def __init__(self, limit: int = NAMING_LINES) -> None:
        self.left = limit

    @property
    def done(self) -> bool:
        return self.left <= 0

    def feed(self, lines: Sequence[str]) -> tuple[int, str] | None:
        """The name and the index of its line among `lines`, the first time a line says it;
        None otherwise."""
        if self.done:
            return None
        head = lines[: self.left]
        self.left -= len(head)
        if (found := name_in_lines(head)) is not None:
            self.left = 0
        return found


def _clean(value: str) -> str | None:
    """A name from a value: a path's last part, less an output prefix; None if it says
    nothing."""
    value = _ANSI.sub("", value).strip().rstrip("/\\")
    if value.lower() in _NOTHING or value.startswith("-"):
        return None
    last = re.split(r"[/\\]", value)[-1]
    if last.lower() in _GENERIC:
        return None
    return _short(_PREFIX.sub("", last))


def _short(name: str) -> str | None:
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:MAX_NAME] or None
