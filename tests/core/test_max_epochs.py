"""`max_epochs` x the iterations per epoch a log shows is the total: from the user
(`--max-epochs`) or from a dump printed before training (Lightning's bar never says it)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from bot.core.events import Progress, RunConfig
from bot.core.monitor import RunMonitor
from bot.core.parsers.lightning import LightningParser
from bot.messages import Ctx, eta_text
from tests.core.parsers.helpers import SHARED_LOGS, SHARED_LOGS2, feed_all, split_lines
from tests.generated import lightning_log

EPOCHS, BATCHES = 6, 150


def _fold(text: str, **kwargs: int) -> tuple[RunMonitor, list[tuple[int, float | None]]]:
    """Feed the log line by line; (iteration, seconds left) after each progress line."""
    monitor = RunMonitor("lightning", **kwargs)  # type: ignore[arg-type]
    seen: list[tuple[int, float | None]] = []
    for line in split_lines(text.encode()):
        for ev, _ in monitor.feed([line], 0.0):
            if isinstance(ev, Progress):
                seen.append((ev.iter, monitor.state.eta().remaining_s))
    monitor.flush(0.0)
    return monitor, seen


def _check_eta(seen: list[tuple[int, float | None]], clock: dict[int, float]) -> None:
    end = clock[EPOCHS * BATCHES]
    checked = 0
    for it, left in seen:
        if it <= BATCHES or it >= EPOCHS * BATCHES:
            continue  # the first epoch has no validation timed yet
        truth = end - clock[it]
        assert left is not None, it
        assert abs(left - truth) <= 0.02 * end, (it, left, truth)
        checked += 1
    assert checked > (EPOCHS - 2) * BATCHES


def test_max_epochs_gives_the_total_and_an_eta_on_a_per_batch_bar() -> None:
    text, clock = lightning_log(EPOCHS, BATCHES)
    monitor, seen = _fold(text, max_epochs=EPOCHS)
    state = monitor.state
    assert (state.total_iters, state.total_source) == (EPOCHS * BATCHES, "user epochs")
    _check_eta(seen, clock)
    assert seen[-1] == (EPOCHS * BATCHES, 0.0)  # nothing left at the end


def test_without_max_epochs_there_is_no_total() -> None:
    text, _ = lightning_log(2, 20)
    monitor, seen = _fold(text)
    assert monitor.state.total_iters is None
    assert monitor.state.per_epoch == 20
    assert all(left is None for _, left in seen)


def test_eta_without_a_total_on_an_epoch_log_asks_for_max_epochs() -> None:
    """/eta says what the user knows: the number of epochs, not of batches; a log counting
    steps still asks for --max-iters."""
    text, _ = lightning_log(2, 20)
    monitor = RunMonitor("lightning")
    monitor.feed(split_lines(text.encode())[: len(text.splitlines()) // 2], 0.0)  # mid-run
    ctx = Ctx(lang="en", tz="UTC", now_s=0.0)
    assert "--max-epochs N" in eta_text(monitor.state, ctx)
    steps = RunMonitor("gpt", "nanogpt")
    steps.feed([f"iter {i}: loss 3.0, time 170.00ms, mfu 1.00%" for i in range(30)], 0.0)
    assert "--max-iters N" in eta_text(steps.state, ctx)


def test_max_iters_wins_over_max_epochs() -> None:
    text, _ = lightning_log(2, 20)
    monitor, _ = _fold(text, total_iters=100, max_epochs=2)
    assert (monitor.state.total_iters, monitor.state.total_source) == (100, "user")


HYDRA_DUMP = """\
seed: 42
trainer:
  _target_: lightning.pytorch.trainer.Trainer
  min_epochs: 1
  max_epochs: {epochs}
  accelerator: gpu
model:
  scheduler:
    max_epochs: 999
"""
RICH_TREE = """\
CONFIG
├── model
│   └── _target_: src.models.mnist_module.MNISTLitModule
│       max_epochs: 999
├── trainer
│   └── _target_: lightning.pytorch.trainer.Trainer
│       default_root_dir: /out
│       min_epochs: 1
│       max_epochs: {epochs}
│
└── seed
    └── 12345
"""
NAMESPACE = "Namespace(accelerator='gpu', batch_size=32, max_epochs={epochs}, precision=16)"
DEFAULTED = (
    "/site-packages/lightning/pytorch/loops/utilities.py:72: `max_epochs` was not set. "
    "Setting it to {epochs} epochs. To train without an epoch limit, set `max_epochs=-1`."
)


@pytest.mark.parametrize("dump", [HYDRA_DUMP, RICH_TREE, NAMESPACE, DEFAULTED])
def test_a_dump_before_progress_gives_the_total(dump: str) -> None:
    text, clock = lightning_log(EPOCHS, BATCHES, head=dump.format(epochs=EPOCHS).rstrip("\n"))
    monitor, seen = _fold(text)
    state = monitor.state
    assert monitor.parser.format == "lightning"  # type: ignore[attr-defined]
    assert (state.total_iters, state.total_source) == (EPOCHS * BATCHES, "config epochs")
    _check_eta(seen, clock)


def test_max_epochs_is_read_only_from_dumps_before_progress() -> None:
    stray = [
        "lr scheduler: cosine over max_epochs: 7",
        "trainer:",
        "  _target_: lightning.pytorch.trainer.Trainer",
        *split_lines(lightning_log(1, 10)[0].encode()),
        "trainer:",
        "  max_epochs: 3",  # after progress: not the run's
        "Namespace(max_epochs=5)",
    ]
    events = feed_all(LightningParser(), stray)
    assert not [ev for ev in events if isinstance(ev, RunConfig)]


def test_one_bar_per_epoch_counts_epochs() -> None:
    """W&B's output.log keeps each epoch's last draw: the total is max_epochs itself."""
    lines = [
        f"Epoch {e}:  99%|█████████▉| 92/93 [00:19<00:00, 4.70it/s, loss=1.0]" for e in range(4)
    ]
    monitor = RunMonitor("wandb", "lightning", max_epochs=10)
    monitor.feed(lines, 0.0)
    assert monitor.state.total_iters == 10


# The real Lightning logs: the bar's total and the epochs counted with a plain regex ---------

EAGNET = SHARED_LOGS / "lightning_TengFeiyang01_EAGNet_train.out"
TMR = SHARED_LOGS2 / "lightning-custom-progress_MukundShankar-dev_TMR_humanml3d_train.out"
WANDB = SHARED_LOGS2 / "lightning-wandb_33zzstar_unitraj_poly_output.log"
needs_logs = pytest.mark.skipif(
    not SHARED_LOGS2.is_dir(), reason=f"real logs not found at {SHARED_LOGS.parent}"
)


def _manifest(path: Path) -> dict[str, Any]:
    entries = json.loads((SHARED_LOGS2 / "FORMATS_MANIFEST.json").read_text())
    return next(e for e in entries if e["file"] == path.name)


@needs_logs
def test_per_batch_bars_of_a_real_log() -> None:
    text = EAGNET.read_text(errors="replace")
    per_epoch = {int(n) for n in re.findall(r"Epoch 0: +\d+%\|[^|]*\| \d+/(\d+) \[", text)}
    assert len(per_epoch) == 1
    monitor, seen = _fold(text, max_epochs=64)
    assert monitor.state.total_iters == 64 * per_epoch.pop()
    assert seen[-1][1] is not None and seen[-1][1] > 0  # it crashed in its first epoch


@needs_logs
@pytest.mark.parametrize("path", [TMR, WANDB], ids=["hydra-callback", "wandb-bar"])
def test_epoch_logs_with_max_epochs_end_at_nothing_left(path: Path) -> None:
    """Their max_epochs is printed only at the end (`Trainer.fit` stopped: `max_epochs=N`):
    read here with a regex, passed as the user would; the ETA is scored against the
    manifest's truth (the log's own clock)."""
    text = path.read_text(errors="replace")
    epochs = int(re.findall(r"`max_epochs=(\d+)` reached", text)[-1])
    monitor, seen = _fold(text, max_epochs=epochs)
    assert monitor.state.total_iters == epochs
    left = dict(seen)
    assert left[epochs - 1] == 0.0
    truth = _manifest(path)["truth"]
    end = truth[-1][1]
    errors = [abs(left[it] - (end - s)) / end for it, s in truth[1:] if left.get(it) is not None]
    assert len(errors) > 10 and statistics.median(errors) < 0.02
