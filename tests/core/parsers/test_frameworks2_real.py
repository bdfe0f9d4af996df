"""The framework parsers of issue 14 on the real logs of ../shared/logs2, counted another way.

Each expected count comes from a plain regex over the file written here (the framework's
progress line), never from etagram; the clock at the manifest's truth points is checked by
tests/core/test_manifest.py.
"""

from __future__ import annotations

import re

import pytest

from bot.core.events import Eval, Progress, TrainingEnd
from bot.core.linebuf import iter_lines
from bot.core.parsers import registry
from bot.core.parsers.base import clean
from bot.core.parsers.registry import AutoParser
from tests.core.parsers.helpers import SHARED_LOGS2, feed_all

pytestmark = pytest.mark.skipif(
    not SHARED_LOGS2.is_dir(), reason=f"real logs not found at {SHARED_LOGS2}"
)

YOLOX = "yolox_kun-woo-park_YOLOX_Fire_Detection_train_log.txt"
YOLOX_INTERRUPTED = "yolox-interrupted_CSID-DGU_2022-1-CECD3-KAC-07_train_log.txt"
KERAS = "keras_Rob-M-F_CarND-Behavioral-Cloning-P3_training_output.txt"
KERAS3 = "keras3-utf16_Suruthi-Vijaya02_ML-lung-disease-classifier_training_output.txt"
ULTRA = "ultralytics-stdout_JackTheProgrammer_Fine-tuned-YOLO11_training_output.txt"
ULTRA_CSV = "ultralytics-results-csv_4Kings-Rakamin_Resume_OCR_YOLOv11_results.csv"
WANDB = "lightning-wandb_33zzstar_unitraj_poly_output.log"
HYDRA = "lightning-custom-progress_MukundShankar-dev_TMR_humanml3d_train.out"
IJEPA = "nan-crash-ijepa_FalsoMoralista_FGDCC_slurm-3859.out"


def read(name: str) -> tuple[str | None, list[Progress], list[object]]:
    """The format, the progress events and all events of the file, read as `replay` reads it."""
    parser = AutoParser()
    with (SHARED_LOGS2 / name).open("rb") as f:
        events = feed_all(parser, iter_lines(f))
    return parser.format, [e for e in events if isinstance(e, Progress)], list(events)


def text(name: str) -> str:
    data = (SHARED_LOGS2 / name).read_bytes()
    return data.decode("utf-16") if data[:2] == b"\xff\xfe" else data.decode("utf-8", "replace")


def matches(pattern: str, name: str) -> list[re.Match[str]]:
    return list(re.finditer(pattern, text(name), re.MULTILINE))


@pytest.mark.parametrize("name", [YOLOX, YOLOX_INTERRUPTED])
def test_yolox_every_progress_line_as_a_global_step(name: str) -> None:
    lines = matches(r"epoch: (\d+)/(\d+), iter: (\d+)/(\d+),", name)
    fmt, got, _ = read(name)
    assert fmt == "yolox"
    assert [p.iter for p in got] == [
        (int(e) - 1) * int(n) + int(i) for e, _, i, n in (m.groups() for m in lines)
    ]
    last = lines[-1]
    assert got[-1].total == int(last.group(2)) * int(last.group(4))
    assert all(p.timestamp_s is not None for p in got)


def test_keras_one_line_per_epoch_counts_epochs() -> None:
    bars = matches(r"^(\d+)/\1 \[=+\] - (\d+)s - loss", KERAS)
    fmt, got, events = read(KERAS)
    assert fmt == "keras"
    assert [p.iter for p in got] == list(range(1, len(bars) + 1))
    assert got[-1].total == int(matches(r"^Epoch 1/(\d+)", KERAS)[0].group(1))
    assert got[-1].elapsed_s == sum(int(m.group(2)) for m in bars)
    assert sum(isinstance(e, Eval) for e in events) == len(bars)


def test_keras3_utf16_log_counts_global_steps() -> None:
    bars = matches(r"^\x1b\[1m\s*(\d+)/(\d+)\x1b\[0m", KERAS3)
    epochs = matches(r"^Epoch (\d+)/(\d+)", KERAS3)
    fmt, got, _ = read(KERAS3)
    assert fmt == "keras"
    assert len(got) == len(bars)
    steps = int(bars[0].group(2))
    assert got[-1].iter == len(epochs) * steps == got[-1].total


def test_ultralytics_epochs_train_and_validation() -> None:
    train = matches(r"^\s+(\d+)/(\d+)\s+\S+G\s.*: 100% ", ULTRA)
    val = matches(r"mAP50-95\): 100% ", ULTRA)
    fmt, got, events = read(ULTRA)
    assert fmt == "ultralytics"
    # one per train bar and one per validation bar, but the final validation of best.pt
    assert len(got) == len(train) + len(val) - 1
    assert sorted({p.iter for p in got}) == [int(m.group(1)) for m in train]
    assert got[-1].total == int(train[-1].group(2))
    assert isinstance(events[-1], TrainingEnd)


def test_ultralytics_results_csv_rows_with_their_time() -> None:
    rows = matches(r"^(\d+),([\d.]+),", ULTRA_CSV)
    fmt, got, _ = read(ULTRA_CSV)
    assert fmt == "ultralytics_csv"
    assert [(p.iter, p.elapsed_s) for p in got] == [
        (int(e), float(t)) for e, t in (m.groups() for m in rows)
    ]


def test_lightning_wandb_bars_are_epochs() -> None:
    bars = matches(r"Epoch (\d+): +\d+%\|", WANDB)
    fmt, got, events = read(WANDB)
    assert fmt == "lightning"
    assert [p.iter for p in got] == [int(m.group(1)) for m in bars]
    assert isinstance(events[-1], TrainingEnd)


def test_lightning_hydra_callback_epochs_on_their_stamps() -> None:
    lines = matches(r"\]\[INFO\] - Epoch (\d+): ", HYDRA)
    fmt, got, _ = read(HYDRA)
    assert fmt == "lightning"
    assert [p.iter for p in got] == [int(m.group(1)) for m in lines]
    assert all(p.timestamp_s is not None for p in got)


def test_ijepa_progress_lines_with_their_iterations_per_epoch() -> None:
    lines = matches(r"INFO:root:\[(\d+),\s+(\d+)/\s*(\d+)\].*ms\)$", IJEPA)
    fmt, got, _ = read(IJEPA)
    assert fmt == "ijepa"
    assert [p.iter for p in got] == [
        (int(e) - 1) * int(n) + int(i) for e, i, n in (m.groups() for m in lines)
    ]


@pytest.mark.parametrize("name", [YOLOX, KERAS, KERAS3, ULTRA, ULTRA_CSV, WANDB, HYDRA, IJEPA])
def test_lines_skipped_by_the_scorers_score_nothing(name: str) -> None:
    for line in text(name).splitlines():
        cleaned = clean(line)
        if not registry._may_score(cleaned):
            assert set(registry._scores(cleaned).values()) == {0}, cleaned
