"""The outbox key names the event: a second alert of one type at one printed iteration (the
same crash after a resume, another GPU) is queued, and a backlog read again at a restart finds
the rows the first reading queued (nothing sent twice)."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.outbox import OutboxSender
from bot.adapters.store import Store
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, AlertType, Severity, ThermalEvidence
from bot.core.policy import PushPolicy
from bot.notify import Chats, Notifier

CHAT = 7
NOW = 1_700_000_000.0
OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
    "capacity of 79.15 GiB of which 1.02 GiB is free."
)


def _launch(start: int, stop: int) -> list[str]:
    """nanoGPT's progress lines from `start` to `stop`, then the same OOM at `stop`."""
    lines = [
        f"iter {i}: loss {4 - i / 1000:.4f}, time 100.00ms, mfu 30.00%"
        for i in range(start, stop + 1, 10)
    ]
    return [*lines, "Traceback (most recent call last):", '  File "train.py", line 300', OOM]


LOG = ["max_iters = 5000", *_launch(0, 1200), *_launch(1000, 1200), *_launch(1000, 1200)]


async def _notifier(store: Store) -> Notifier:
    """One etagram process's notifier on the state database (a new one: a restart)."""
    chats = Chats([CHAT], language="en", timezone="UTC", now=lambda: NOW, store=lambda: store)

    async def send(chat_id: int, text: str, silent: bool) -> None:
        raise AssertionError("nothing is sent here")

    sender = OutboxSender(store, send, lambda: NOW)
    return Notifier(PushPolicy(), chats, now=lambda: NOW, outbox=lambda: sender)


async def _read(store: Store, lines: list[str], *, replayed: bool) -> None:
    """Fold the log as etagram does: line by line when live, at speed when a backlog."""
    notifier, run = await _notifier(store), RunMonitor("gpt2", "nanogpt")
    batches = [[line] for line in lines] if not replayed else [lines]
    for batch in batches:
        fed = run.catch_up(batch, NOW) if replayed else run.feed(batch, NOW)
        notices = [n for _, ns in fed for n in ns]
        for push in notifier.expand(run.state, notices, replayed=replayed):
            await notifier.deliver(run.state, push)


async def _ooms(store: Store) -> list[str]:
    return sorted(k for k in await store.outcomes() if ":oom:" in k)


async def test_the_same_oom_after_each_resume_is_three_alerts(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "state.db")
    try:
        await _read(store, LOG, replayed=False)
        assert len(await _ooms(store)) == 3  # was 1: the 2nd and 3rd were taken for copies
    finally:
        await store.close()


async def test_a_restart_reading_the_backlog_again_queues_nothing_new(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "state.db")
    try:
        await _read(store, LOG, replayed=False)
        before = await store.outcomes()
        await _read(store, LOG, replayed=True)  # the next process, from the log's start
        assert await store.outcomes() == before
        assert len(await _ooms(store)) == 3
    finally:
        await store.close()


async def test_a_restart_after_the_first_crash_still_queues_the_second(tmp_path: Path) -> None:
    """Killed after the first OOM was queued: the backlog read again finds its row, and the
    second OOM, at the same iteration, read live afterwards, is news."""
    first = LOG.index(OOM) + 1
    store = await Store.open(tmp_path / "state.db")
    try:
        await _read(store, LOG[:first], replayed=False)
        assert len(await _ooms(store)) == 1
        notifier, run = await _notifier(store), RunMonitor("gpt2", "nanogpt")
        for lines, replayed in ((LOG[:first], True), (LOG[first:], False)):
            fed = run.catch_up(lines, NOW) if replayed else run.feed(lines, NOW)
            notices = [n for _, ns in fed for n in ns]
            for push in notifier.expand(run.state, notices, replayed=replayed):
                await notifier.deliver(run.state, push)
        assert len(await _ooms(store)) == 3
    finally:
        await store.close()


async def test_two_gpus_hot_at_one_iteration_are_two_alerts(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "state.db")
    try:
        notifier, run = await _notifier(store), RunMonitor("gpt2", "nanogpt")
        run.feed(LOG[:20], NOW)
        hot = [
            Alert("gpt2", AlertType.THERMAL, Severity.WARNING, 180, NOW, ThermalEvidence(gpu=g))
            for g in (0, 1)
        ]
        for push in notifier.expand(run.state, hot, replayed=False):
            await notifier.deliver(run.state, push)
        assert len([k for k in await store.outcomes() if ":thermal:" in k]) == 2
    finally:
        await store.close()


FINISHING = ["max_iters = 200", *_launch(0, 200)[:-3]]  # a short run that finishes


async def _follow(store: Store, log: Path, *, replayed: bool = False) -> None:
    """One etagram process following the run `gpt2` in `log`, as the fold does."""
    notifier, run = await _notifier(store), RunMonitor("gpt2", "nanogpt")
    lines = log.read_text().splitlines()
    for batch in [lines] if replayed else [[line] for line in lines]:
        fed = run.catch_up(batch, NOW) if replayed else run.feed(batch, NOW)
        for push in notifier.expand(run.state, [n for _, ns in fed for n in ns], replayed=replayed):
            await notifier.deliver(run.state, push, log=log)


async def _said(store: Store, what: str) -> int:
    return sum(f":alert:{what}:" in key for key in await store.outcomes())


async def test_tomorrows_run_of_the_same_command_starts_and_finishes_again(
    tmp_path: Path,
) -> None:
    """`etagram run -- python train.py` each night: the same name, a new log each time."""
    store = await Store.open(tmp_path / "state.db")
    try:
        for night in ("mon", "tue"):
            log = tmp_path / f"train-{night}.log"
            log.write_text("\n".join(FINISHING) + "\n")
            await _follow(store, log)
        assert await _said(store, "started") == await _said(store, "finished") == 2  # was 1
        await _follow(store, log, replayed=True)  # a restart reading tuesday's log again
        assert await _said(store, "finished") == 2
    finally:
        await store.close()


async def test_a_row_queued_by_an_earlier_version_is_this_events(tmp_path: Path) -> None:
    """Before keys named the log, the OOM was `gpt2:alert:oom:1200:7`: read again after the
    upgrade, it finds that row (not sent twice); the next log's OOM is news."""
    log = tmp_path / "train.log"
    log.write_text("\n".join(LOG[: LOG.index(OOM) + 1]) + "\n")
    store = await Store.open(tmp_path / "state.db")
    try:
        await store.enqueue(
            f"gpt2:alert:oom:1200:{CHAT}", CHAT, "alert", "OOM", silent=False, now_s=NOW
        )
        await _follow(store, log, replayed=True)
        assert await _said(store, "oom") == 1
        (key,) = [k for k in await store.outcomes() if ":oom:" in k]
        assert key.startswith(f"gpt2:alert:oom:1200:{CHAT}@")  # taken over under its new key
        other = tmp_path / "train-2.log"
        other.write_text(log.read_text())
        await _follow(store, other)
        assert await _said(store, "oom") == 2
    finally:
        await store.close()
