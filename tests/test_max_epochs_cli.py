"""`--max-epochs` and `[run] max_epochs` as a user gives them: the command line (real
subprocesses on a generated Lightning log) and the service's fold of a followed log."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.console import Console
from bot.bus import LogLines
from bot.config import Config, ConfigError, General, Run, load_config
from bot.core.policy import PushPolicy
from bot.fold import Fold
from bot.notify import Chats, Notifier
from bot.parts import RunSpec, Supervisor
from tests.generated import lightning_log
from tests.test_cli import etagram

EPOCHS, BATCHES = 5, 120


def _log(tmp_path: Path) -> tuple[Path, dict[int, float]]:
    text, clock = lightning_log(EPOCHS, BATCHES)
    path = tmp_path / "fit.log"
    path.write_text(text)
    return path, clock


def _progress(stdout: str) -> list[dict[str, Any]]:
    objs = [json.loads(line) for line in stdout.splitlines()]
    return [o for o in objs if o["kind"] == "progress"]


def test_replay_with_max_epochs_gives_the_total_and_the_eta(tmp_path: Path) -> None:
    path, clock = _log(tmp_path)
    result = etagram("replay", str(path), "--jsonl", "--max-epochs", str(EPOCHS))
    assert result.returncode == 0, result.stderr
    progress = _progress(result.stdout)
    assert {p["max_iters"] for p in progress} == {EPOCHS * BATCHES}
    end = clock[EPOCHS * BATCHES]
    scored = [p for p in progress if BATCHES < p["iter"] < EPOCHS * BATCHES]
    for p in scored:
        assert abs(p["eta_s"] - (end - clock[p["iter"]])) <= 0.02 * end, p
    assert len(scored) > (EPOCHS - 2) * BATCHES
    assert progress[-1]["iter"] == EPOCHS * BATCHES and progress[-1]["eta_s"] == 0.0


def test_without_it_no_total_and_explain_says_what_to_pass(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    replayed = etagram("replay", str(path), "--jsonl")
    assert {p["max_iters"] for p in _progress(replayed.stdout)} == {None}
    result = etagram("explain", str(path), "--json")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["format"] == "lightning" and obj["iters_per_epoch"] == BATCHES
    assert obj["total"] is None and "--max-epochs N" in obj["no_eta"]["pass"]
    text = etagram("explain", str(path)).stdout
    assert "pass: --max-epochs N" in text


def test_explain_names_where_the_total_came_from(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    obj = json.loads(etagram("explain", str(path), "--json", "--max-epochs", "5").stdout)
    assert obj["total"] == EPOCHS * BATCHES and obj["no_eta"] is None
    assert obj["total_source"] == f"--max-epochs 5 x {BATCHES} per epoch"
    both = etagram("explain", str(path), "--json", "--max-epochs", "5", "--max-iters", "77")
    assert json.loads(both.stdout)["total"] == 77  # iterations win: they need no reading


def test_bad_max_epochs_is_one_line(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    result = etagram("replay", str(path), "--jsonl", "--max-epochs", "0")
    assert result.returncode == 2 and "--max-epochs" in result.stderr


def test_config_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[run]\nmax_epochs = 40\n")
    assert load_config(config, env={}).run.max_epochs == 40
    assert load_config(None, env={"ETAGRAM_MAX_EPOCHS": "12"}).run.max_epochs == 12
    config.write_text("[run]\nmax_epochs = -1\n")
    with pytest.raises(ConfigError, match=r"run\.max_epochs = -1"):
        load_config(config, env={})


def _fold(run: Run, spec: RunSpec) -> Fold:
    config = Config(general=General(timezone="UTC"), run=run)
    chats = Chats([], language="en", timezone="UTC", now=time.time, store=lambda: None)
    notifier = Notifier(PushPolicy(), chats, now=time.time)
    return Fold(config, [spec], notifier, Supervisor(), console=Console(io.StringIO()))


@pytest.mark.parametrize(
    ("config_epochs", "spec_epochs", "total"), [(4, None, 4 * 30), (4, 2, 2 * 30), (0, None, None)]
)
async def test_watch_takes_max_epochs_from_the_option_else_the_config(
    config_epochs: int, spec_epochs: int | None, total: int | None
) -> None:
    """`watch`/`run`: --max-epochs (the RunSpec) wins over `[run] max_epochs`."""
    spec = RunSpec("fit", Path("fit.log"), max_epochs=spec_epochs)
    fold = _fold(Run(max_epochs=config_epochs), spec)
    text, _ = lightning_log(1, 30)
    await fold.handle(LogLines("fit", tuple(text.replace("\r", "\n").splitlines()), 10.0))
    assert fold.run_states()[0].total_iters == total


def test_explain_names_a_dump_before_progress(tmp_path: Path) -> None:
    head = "trainer:\n  _target_: lightning.pytorch.trainer.Trainer\n  max_epochs: 5\nmodel:"
    path = tmp_path / "fit.log"
    path.write_text(lightning_log(EPOCHS, BATCHES, head=head)[0])
    obj = json.loads(etagram("explain", str(path), "--json").stdout)
    assert obj["total"] == EPOCHS * BATCHES and obj["no_eta"] is None
    assert obj["total_source"] == f"max_epochs 5 in the log x {BATCHES} per epoch"
