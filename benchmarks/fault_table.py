"""The fault table: for each fault scenario, the notifications etagram scheduled for the chat
and what became of them, read from the chat as the Bot API stand-in shows it.

    python benchmarks/fault_table.py            # from the repository root

Each outage scenario writes 5 evals and 3 OOM alerts while Telegram fails for 2 s (back-off
capped at 1 s: the same sequence as a ten-minute outage with a five-minute cap), then one
more eval; "no fault" is the baseline, run the same way. Columns (see tests/test_faults.py):
delivered = in the chat as its own message or, for an eval, as a line of a digest;
duplicated = its own message twice, or listed by two digests; recapped = an eval whose
message arrived although the bot saw an error, then listed in a digest (not a second copy);
most = the most copies of any one notice.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.telegram_stub import BotApiStub  # noqa: E402
from tests.test_faults import OUTAGES, Scenario, Tally, run_scenario  # noqa: E402
from tests.test_faults_kill import run_kills  # noqa: E402

SCENARIOS = [
    Scenario("no fault (baseline)", None, outage_s=0.5),
    *OUTAGES,
    Scenario("one lost reply (an eval)", "lost_reply", evals=1, alerts=0, times=1, outage_s=0.5),
    Scenario("replies lost for 2 s", "lost_reply"),
]


async def one(scenario: Scenario | None) -> tuple[str, Tally, float]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        async with BotApiStub() as stub:
            if scenario is None:
                return "kill -9 x5, restart", await run_kills(stub, Path(workdir)), _since(started)
            return scenario.name, await run_scenario(stub, Path(workdir), scenario), _since(started)


def _since(started: float) -> float:
    return time.monotonic() - started


async def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)  # the outages are meant to be noisy
    header = ("scenario", "scheduled", "delivered", "duplicated", "lost", "recapped", "folded")
    print("| " + " | ".join(header) + " | most | time |")
    print("|" + "---|" * (len(header) + 2))
    for scenario in [*SCENARIOS, None]:
        name, t, seconds = await one(scenario)
        cells = (t.scheduled, t.delivered, t.duplicated, t.lost, t.recapped, t.folded)
        row = [name, *map(str, cells), str(t.most_copies), f"{seconds:.1f} s"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
