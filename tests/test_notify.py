"""The push policy: who gets which notice, how loudly; milestones and run start derived from
the state; bounded GPU temperature history."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.adapters.outbox import OutboxSender
from bot.adapters.store import OutboxItem, Store
from bot.core.events import Eval, Progress, TrainingEnd
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, Notice, OomEvidence, SlowdownEvidence
from bot.core.policy import Milestone, PushPolicy, is_silent
from bot.core.prefs import ChatPrefs, EvalsMode
from bot.notify import Chats, Notifier

A, B = 1, 2
NOW = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> float:
        return self.t


async def _no_send(chat_id: int, text: str, silent: bool) -> None:
    raise AssertionError("nothing is sent in these tests")


@pytest.fixture
async def notifier() -> AsyncIterator[Notifier]:
    store = await Store.open(":memory:")
    clock = Clock()
    chats = Chats([A, B], language="en", timezone="Europe/Paris", now=clock, store=lambda: store)
    sender = OutboxSender(store, _no_send, clock)
    n = Notifier(PushPolicy(), chats, now=clock, outbox=lambda: sender)
    yield n
    await store.close()


def run_to(run: RunMonitor, stop: int, start: int = 0, every_eval: int = 100) -> list[Notice]:
    """Fold nanoGPT-like events for iterations [start, stop) into the run."""
    notices: list[Notice] = []
    for it in range(start, stop, 10):
        if it % every_eval == 0:
            notices += run.apply(Eval(it, 3.0 - it / 1000, 3.1 - (it % 300) / 1000), NOW)
        notices += run.apply(Progress(it, loss=3.0, dt_s=0.17), NOW)
    return notices


async def queued(n: Notifier) -> list[OutboxItem]:
    store = n.chats.store()
    assert store is not None
    return await store.pending()


async def test_evals_follow_each_chat_setting(notifier: Notifier) -> None:
    await notifier.chats.save(B, ChatPrefs(evals=EvalsMode("every", 2)))
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    for push in notifier.expand(state, run_to(run, 610), replayed=False):
        await notifier.deliver(state, push)
    items = await queued(notifier)
    evals = {(i.chat_id, i.key.split(":")[2]) for i in items if i.kind == "eval"}
    assert {it for chat, it in evals if chat == A} == {
        "0",
        "100",
        "200",
        "300",
        "400",
        "500",
        "600",
    }
    assert {it for chat, it in evals if chat == B} == {"100", "300", "500"}  # the 2nd, 4th, 6th


async def test_best_only_and_off(notifier: Notifier) -> None:
    await notifier.chats.save(A, ChatPrefs(evals=EvalsMode("best")))
    await notifier.chats.save(B, ChatPrefs(evals=EvalsMode("off")))
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    for push in notifier.expand(state, run_to(run, 610), replayed=False):
        await notifier.deliver(state, push)
    items = await queued(notifier)
    # val loss 3.1 - (it % 300)/1000: new bests at 0, 100, 200 only
    assert sorted(i.key for i in items if i.kind == "eval") == [
        "gpt2:eval:0:1", "gpt2:eval:100:1", "gpt2:eval:200:1"
    ]  # fmt: skip
    assert [i for i in items if i.chat_id == B and i.kind == "eval"] == []
    assert [i for i in items if i.chat_id == B and i.kind == "milestone"]  # the rest still comes


async def test_muted_chats_get_only_critical_alerts(notifier: Notifier) -> None:
    await notifier.chats.save(A, ChatPrefs(muted_until_s=NOW + 3600))
    await notifier.chats.save(B, ChatPrefs(subscribed=False))
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    oom = Alert("gpt2", "oom", "critical", 5, 1.0, OomEvidence())
    slow = Alert("gpt2", "slowdown", "warning", 5, 1.0, SlowdownEvidence())
    for push in [*notifier.expand(state, run_to(run, 300), replayed=False), oom, slow]:
        await notifier.deliver(state, push)
    items = await queued(notifier)
    assert [(i.chat_id, i.kind, i.silent) for i in items] == [(A, "alert", False)]
    assert "out of memory" in items[0].text

    notifier.now.t = NOW + 3601  # type: ignore[attr-defined]
    await notifier.deliver(state, slow)
    assert [i.key for i in await queued(notifier)][-1] == "gpt2:alert:slowdown:5:1"


async def test_milestones_start_and_finish(notifier: Notifier) -> None:
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    pushes = notifier.expand(state, run_to(run, 260), replayed=False)
    pushes += notifier.expand(state, run_to(run, 560, 260), replayed=False)
    pushes += notifier.expand(state, run_to(run, 570, 560), replayed=False)  # nothing new
    started = [p for p in pushes if isinstance(p, Alert) and p.type == "started"]
    assert len(started) == 1 and started[0].evidence.total_iters == 1000
    assert [p.pct for p in pushes if isinstance(p, Milestone)] == [25, 50]
    assert all(is_silent(p) for p in pushes)

    end = run.apply(TrainingEnd(0, "completed"), NOW)
    (finished,) = notifier.expand(state, end, replayed=False)
    assert isinstance(finished, Alert) and finished.type == "finished"
    assert finished.evidence.best_iter == 200 and finished.evidence.first_eta_error_pct is not None
    for push in pushes + [finished]:
        await notifier.deliver(state, push)
    texts = [i.text for i in await queued(notifier) if i.chat_id == A]
    assert any("25% of the run done" in t for t in texts)
    assert any("Took" in t and "(first estimate:" in t for t in texts)
    assert not is_silent(finished)  # the push people wait for rings


async def test_a_backlog_crossing_several_milestones_makes_one_message(notifier: Notifier) -> None:
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    run_to(run, 100)
    notifier.expand(state, [], replayed=False)
    pushes = notifier.expand(state, run_to(run, 800, 100), replayed=False)
    assert [p.pct for p in pushes if isinstance(p, Milestone)] == [75]


async def test_replayed_lines_push_nothing_but_the_core_alerts(notifier: Notifier) -> None:
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    oom = Alert("gpt2", "oom", "critical", 5, 1.0, OomEvidence())
    pushes = notifier.expand(state, [*run_to(run, 600), oom], replayed=True)
    assert not [p for p in pushes if isinstance(p, Milestone)]
    assert not [p for p in pushes if isinstance(p, Alert) and p.type == "started"]
    assert not notifier.expand(state, run_to(run, 610, 600), replayed=False)[:-1]


async def test_the_same_push_is_queued_once(notifier: Notifier) -> None:
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    pushes = notifier.expand(state, run_to(run, 300), replayed=False)
    for _ in range(2):
        for push in pushes:
            await notifier.deliver(state, push)
    keys = [i.key for i in await queued(notifier)]
    assert len(keys) == len(set(keys)) == 2 * len(pushes)


async def test_prefs_persist_and_languages_apply(notifier: Notifier) -> None:
    await notifier.chats.save(A, ChatPrefs(lang="fr", tz="Asia/Tokyo"))
    store = notifier.chats.store()
    assert store is not None
    assert (await store.load_prefs(A))["lang"] == "fr"
    ctx = await notifier.chats.ctx(A)
    assert (ctx.lang, ctx.tz) == ("fr", "Asia/Tokyo")
    assert (await notifier.chats.ctx(B)).lang == "en"
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    for push in notifier.expand(state, run_to(run, 10), replayed=False):
        await notifier.deliver(state, push)
    by_chat = {i.chat_id: i.text for i in await queued(notifier) if i.kind == "eval"}
    assert "Évaluation" in by_chat[A] and "Eval at" in by_chat[B]


async def test_a_new_launch_passes_the_milestones_again_a_resume_does_not(
    notifier: Notifier,
) -> None:
    run = RunMonitor("gpt2", total_iters=1000)
    state = run.state
    notifier.expand(state, run_to(run, 600), replayed=False)
    resumed = notifier.expand(state, run_to(run, 560, 400), replayed=False)  # a resume
    assert not [p for p in resumed if isinstance(p, Milestone)]
    again = notifier.expand(state, run_to(run, 300, 0), replayed=False)  # a new launch
    assert [p.pct for p in again if isinstance(p, Milestone)] == [25]
