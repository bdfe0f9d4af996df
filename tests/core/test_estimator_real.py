"""The estimate on a real nanoGPT log (../shared/logs beside the repository), made only from
the lines up to each point, against the run's true remaining time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.events import Progress
from bot.core.linebuf import iter_lines
from bot.core.parsers.registry import make_parser
from bot.core.state import RunState

ROOT = Path(__file__).resolve().parents[2]
SHARED_LOGS = ROOT.parent / "shared" / "logs"
NANOGPT = SHARED_LOGS / "nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt"

pytestmark = pytest.mark.skipif(
    not NANOGPT.is_file(), reason=f"real logs not found at {SHARED_LOGS} (they sit beside the repo)"
)


def test_nanogpt_eval_pauses_are_counted() -> None:
    """5000 iterations at ~6.7 s, an eval every 250 that adds ~24 s (log_interval 10)."""
    parser, state = make_parser("nanogpt"), RunState("mitos")
    points: list[tuple[float, float | None, float | None, float | None]] = []
    with NANOGPT.open("rb") as f:
        for line in iter_lines(f):
            for ev in parser.feed(line):
                state.apply(ev, 0.0)
                if isinstance(ev, Progress):
                    eta = state.eta()
                    points.append((state.t_s, eta.remaining_s, eta.low_s, eta.high_s))
    final = points[-1][0]
    assert state.eval_interval == 250 and state.total_iters == 5000
    for fraction in (0.1, 0.25, 0.5, 0.75, 0.9):
        t_s, remaining, low, high = next(p for p in points if p[0] >= fraction * final)
        true = final - t_s
        assert remaining == pytest.approx(true, rel=0.01)
        assert low is not None and high is not None and low <= true <= high
