"""A run takes the name its log gives at the line that gives it, however the log was read:
before its first progress line it is renamed, after it the name stays."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General
from bot.parts import RunSpec

PROGRESS = "iter 0: loss 3.0000, time 170.00ms, mfu 30.00%"


async def names_after(tmp_path: Path, logs: dict[str, list[str]], fixed: bool = False) -> list[str]:
    specs = []
    for name, lines in logs.items():
        path = tmp_path / f"{name}.log"
        path.write_text("".join(line + "\n" for line in lines))
        specs.append(RunSpec(name, path, fixed=fixed))
    config = Config(general=General(timezone="UTC", state_path=str(tmp_path / "s.sqlite3")))
    out = io.StringIO()
    service = assemble.embedded(config, specs, console=Console(out))
    serving = asyncio.create_task(service.serve())
    try:
        assert service.fold is not None
        for _ in range(100):
            if all(s.iter is not None for s in service.fold.run_states()):
                break
            await asyncio.sleep(0.05)
        return list(service.fold.monitors)
    finally:
        service.stop()
        await asyncio.wait_for(serving, 15)


async def test_a_name_before_the_first_progress_line_renames_the_run(tmp_path: Path) -> None:
    logs = {
        "early": ["out_dir = 'out-gpt2'", PROGRESS],
        "late": [PROGRESS, "wandb: Syncing run too-late"],  # read in the same chunk
        "twin": ["out_dir = 'out-gpt2'", PROGRESS],
    }
    assert await names_after(tmp_path, logs) == ["gpt2", "late", "gpt2-2"]


async def test_a_name_the_user_gave_stays(tmp_path: Path) -> None:
    logs = {"mine": ["out_dir = 'out-gpt2'", PROGRESS]}
    assert await names_after(tmp_path, logs, fixed=True) == ["mine"]


async def test_a_renamed_run_keeps_its_command_and_its_old_name_still_reaches_it(
    tmp_path: Path,
) -> None:
    from bot.resources import Probes

    config = Config(general=General(timezone="UTC", state_path=str(tmp_path / "s.sqlite3")))
    probes = Probes(argv={"train": ["python", "train.py"]})
    specs = [RunSpec("train", tmp_path / "a.log"), RunSpec("other", tmp_path / "b.log")]
    service = assemble.embedded(config, specs, console=Console(io.StringIO()), probes=probes)
    fold = service.fold
    assert fold is not None
    assert await fold.rename("train", "gpt2") == "gpt2"
    assert fold.probes is not None and fold.probes.argv == {"gpt2": ["python", "train.py"]}
    await fold.notify("train", [])  # a check that read the old name before its await
    # the old name is not given to another run: a message under it may still be on its way
    assert await fold.rename("other", "train") == "train-2"
