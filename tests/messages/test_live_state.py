"""Texts from a RunMonitor fed with events, as the service does: the estimator's real output."""

from __future__ import annotations

from bot.core.events import Eval, Progress, RunConfig, TrainingEnd
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, EvalNotice
from bot.messages import Ctx, alert_text, eta_text, eval_text, status_text, to_plain
from tests.messages import checks
from tests.messages.scenarios import NOW

STEP_S, EVAL_S, EVERY = 0.170, 5.8, 500


def nanogpt_like(until: int) -> tuple[RunMonitor, list[EvalNotice], float]:
    """A run of 20,000 iterations, 170 ms a step, an eval every 500 costing 5.8 s."""
    run = RunMonitor("live")
    run.apply(RunConfig({"max_iters": 20000, "eval_interval": EVERY}), NOW)
    notices: list[EvalNotice] = []
    t = 0.0
    for it in range(0, until + 1):
        if it % EVERY == 0 and it:
            notices += [
                n
                for n in run.apply(Eval(it, 1.5, 1.6 - it / 1e5), NOW)
                if isinstance(n, EvalNotice)
            ]
            t += EVAL_S
        t += STEP_S
        run.apply(Progress(it, 20000, loss=1.2, elapsed_s=t), NOW - 1000 + t)
    return run, notices, NOW - 1000 + t


def test_eta_from_a_live_state_reads_like_the_reference() -> None:
    run, _, last = nanogpt_like(1300)
    ctx = Ctx(lang="fr", tz="Europe/Paris", now_s=last)
    text = eta_text(run.state, ctx)
    plain = to_plain(text).replace("\u202f", " ").replace("\u00a0", " ")
    assert "1 300 / 20 000 itérations" in plain
    assert "évaluations restantes" in plain
    assert "Fin dans" in plain and "(heure de Paris)" in plain
    assert checks.html_problems(text) == [] and checks.value_problems(text) == []
    assert checks.english_in_french(text, ("live",)) == []


def test_status_eval_and_end_in_both_languages() -> None:
    run, notices, last = nanogpt_like(2100)
    ctx = Ctx(lang="both", tz="Europe/Paris", now_s=last + 5)
    for text in (status_text(run.state, None, ctx), eval_text(notices[-1], ctx)):
        assert checks.html_problems(text) == [] and checks.value_problems(text) == []
        assert "———" in text
    both = eval_text(notices[-1], ctx)
    assert "Nouvelle meilleure val loss\u202f: 1,5800" in both
    assert "New best val loss: 1.5800" in both
    ends = run.apply(TrainingEnd(0, "completed"), last + 10)
    finished = [a for a in ends if isinstance(a, Alert)]
    assert finished and "Training finished" in alert_text(finished[0], ctx)
