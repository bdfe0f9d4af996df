"""The outbox sender with a function-driven fake Telegram: order, back-off, RetryAfter,
folding, expiry, and what a lost reply may and may not cause."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.adapters.outbox import OutboxPolicy, OutboxSender
from bot.adapters.store import Store
from bot.core.backoff import Backoff

A, B = 1, 2


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeTelegram:
    """Records what was sent; `fail(chat)` returns the error to raise, or None."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.fail: Callable[[int], Exception | None] = lambda chat: None

    async def send(self, chat_id: int, text: str, silent: bool) -> None:
        error = self.fail(chat_id)
        if error is not None:
            raise error
        self.sent.append((chat_id, text))


async def digest(chat_id: int, payloads: list[str]) -> str:
    return "digest " + ",".join(payloads)


async def late(chat_id: int, text: str, written_s: float) -> str:
    return f"{text} (written at {written_s:.0f})"


def network_error(cause: Exception | None) -> NetworkError:
    """As python-telegram-bot raises them: chained to httpx's error, if any."""
    try:
        try:
            if cause is not None:
                raise cause
            raise NetworkError("Internal Server Error (500)")
        except httpx.HTTPError as exc:
            raise NetworkError(f"httpx.{type(exc).__name__}") from exc
    except NetworkError as exc:
        return exc


class Rig:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = Clock()
        self.telegram = FakeTelegram()
        self.sender = OutboxSender(
            store,
            self.telegram.send,
            self.clock,
            digest=digest,
            late=late,
            policy=OutboxPolicy(max_age_s=600, backoff=Backoff(2, 30)),
            jitter=lambda: 0.5,  # no spread: the delays are exact
            clock=self.clock,  # the back-offs' clock: the tests move both together
        )

    async def queue(self, key: str, chat: int = A, kind: str = "eval", age_s: float = 0) -> None:
        payload = key if kind == "eval" else None
        await self.store.enqueue(
            key,
            chat,
            kind,
            key,
            silent=kind != "alert",
            now_s=self.clock.t - age_s,
            payload=payload,
        )

    async def drain_at(self, dt_s: float = 0.0) -> list[tuple[int, str]]:
        """Advance the clock, drain, and return what was sent by this round."""
        self.clock.t += dt_s
        n = len(self.telegram.sent)
        await self.sender.drain()
        return self.telegram.sent[n:]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    store = await Store.open(":memory:")
    yield Rig(store)
    await store.close()


async def test_in_order_per_chat_and_one_chat_does_not_hold_up_another(rig: Rig) -> None:
    for key, chat, kind in [("e1", A, "eval"), ("a1", A, "alert"), ("x1", B, "alert")]:
        await rig.queue(key, chat, kind)
    rig.telegram.fail = lambda chat: network_error(None) if chat == A else None
    assert await rig.drain_at() == [(B, "x1")]
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(0.5) == []  # chat A still backing off
    assert await rig.drain_at(10) == [(A, "a1"), (A, "e1")]  # the alert first
    assert set((await rig.store.outcomes()).values()) == {"sent"}


async def test_back_off_doubles_up_to_its_cap(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: network_error(httpx.ConnectError("refused"))
    waits = []
    for _ in range(6):
        await rig.drain_at()
        waits.append(rig.sender._not_before[A] - rig.clock.t)
        rig.clock.t = rig.sender._not_before[A]
    assert waits == [2, 4, 8, 16, 30, 30]  # jitter 0.5 x [0.5, 1.5) = x1 here


async def test_jitter_spreads_the_delay(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: network_error(None)
    spread = OutboxSender(
        rig.store, rig.telegram.send, rig.clock, jitter=lambda: 0.99, clock=rig.clock
    )
    await spread.drain()
    assert spread._not_before[A] - rig.clock.t == pytest.approx(2.0 * 1.49)


async def test_retry_after_is_honoured(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: RetryAfter(17)
    await rig.drain_at()
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(16.9) == []
    assert await rig.drain_at(0.2) == [(A, "a1")]


async def test_evals_waiting_together_fold_into_one_digest_alerts_do_not(rig: Rig) -> None:
    rig.telegram.fail = lambda chat: network_error(httpx.ConnectError("down"))
    await rig.queue("e1")
    await rig.drain_at()  # the outage starts
    for key, kind in [("a1", "alert"), ("e2", "eval"), ("m1", "milestone"), ("e3", "eval")]:
        await rig.queue(key, kind=kind)
    await rig.queue("a2", kind="alert")
    rig.telegram.fail = lambda chat: None
    sent = [text for _, text in await rig.drain_at(60)]
    assert sent == ["a1", "a2", "m1", "digest e1,e2,e3"]  # alerts first; the digest where e3 stood
    outcomes = await rig.store.outcomes()
    assert outcomes == {
        "e1": "digest",
        "e2": "digest",
        "e3": "digest",
        "a1": "sent",
        "a2": "sent",
        "m1": "sent",
    }


async def test_evals_that_did_not_wait_go_out_as_themselves(rig: Rig) -> None:
    await rig.queue("e1")
    await rig.queue("e2")
    assert await rig.drain_at() == [(A, "e1"), (A, "e2")]


@pytest.mark.parametrize(
    "cause", [httpx.ReadTimeout("no answer"), httpx.RemoteProtocolError("closed")]
)
async def test_a_lost_reply_never_sends_the_same_eval_again(rig: Rig, cause: Exception) -> None:
    """The first attempt may have arrived: the eval comes back only as a recap line."""
    await rig.queue("e1")
    rig.telegram.fail = lambda chat: network_error(cause)
    await rig.drain_at()
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(60) == [(A, "digest e1")]
    assert await rig.store.pending() == []


async def test_a_refused_connection_is_retried_as_is(rig: Rig) -> None:
    await rig.queue("e1")
    rig.telegram.fail = lambda chat: network_error(httpx.ConnectError("refused"))
    await rig.drain_at()
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(60) == [(A, "e1")]  # it cannot have been delivered


async def test_an_alert_after_a_lost_reply_is_sent_again(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: network_error(httpx.ReadTimeout("no answer"))
    await rig.drain_at()
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(60) == [(A, "a1")]  # at least once: a duplicate beats a loss


async def test_stale_news_is_dropped_late_alerts_are_delivered(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.queue("e1", age_s=601)
    await rig.queue("m1", kind="milestone", age_s=700)
    await rig.queue("a1", kind="alert", age_s=3600)
    await rig.queue("e2", age_s=10)
    with caplog.at_level(logging.INFO, logger="bot.adapters.outbox"):
        assert await rig.drain_at() == [(A, "a1 (written at -2600)"), (A, "e2")]
    assert (await rig.store.outcomes())["e1"] == "expired"
    assert (await rig.store.outcomes())["m1"] == "expired"
    assert "e1 for chat 1 is 601 s old: dropped" in caplog.text
    assert "a1 delivered 3600 s late" in caplog.text


async def test_a_message_more_than_a_minute_late_says_when_it_was_written(rig: Rig) -> None:
    await rig.queue("a1", kind="alert", age_s=59)
    await rig.queue("m1", kind="milestone", age_s=61)
    assert await rig.drain_at() == [(A, "a1"), (A, "m1 (written at 939)")]
    rig.telegram.fail = lambda chat: network_error(None)  # Telegram answers 500 for a while
    await rig.queue("e1")
    await rig.queue("e2")
    assert await rig.drain_at() == []
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(120) == [(A, "digest e1,e2")]  # a digest says it waited


async def test_a_refused_message_does_not_block_the_chat(rig: Rig) -> None:
    await rig.queue("bad", kind="alert")
    await rig.queue("good", kind="alert")
    calls = iter([BadRequest("can't parse entities"), None])
    rig.telegram.fail = lambda chat: next(calls)
    assert await rig.drain_at() == [(A, "good")]
    assert (await rig.store.outcomes())["bad"] == "refused"


async def test_two_drains_at_once_send_each_message_once(rig: Rig) -> None:
    for n in range(5):
        await rig.queue(f"a{n}", kind="alert")
    slow = rig.telegram.send

    async def send(chat_id: int, text: str, silent: bool) -> None:
        await asyncio.sleep(0.001)
        await slow(chat_id, text, silent)

    sender = OutboxSender(rig.store, send, rig.clock)
    await asyncio.gather(sender.drain(), sender.drain())
    assert [t for _, t in rig.telegram.sent] == [f"a{n}" for n in range(5)]


async def test_a_failing_round_does_not_stop_the_loop(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rounds = iter([RuntimeError("bug"), None])

    def fail(chat: int) -> Exception | None:
        error = next(rounds)
        if isinstance(error, RuntimeError):
            raise error
        return None

    rig.telegram.fail = fail
    sender = OutboxSender(rig.store, rig.telegram.send, rig.clock, policy=OutboxPolicy(idle_s=0.01))
    task = asyncio.create_task(sender.run())
    try:
        for _ in range(200):
            if rig.telegram.sent:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert rig.telegram.sent == [(A, "a1")]


async def test_a_well_formed_refusal_is_given_up(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: Forbidden("Forbidden: bot was blocked by the user")
    assert await rig.drain_at() == []
    assert (await rig.store.outcomes())["a1"] == "refused"


def unparsed(error: TelegramError) -> TelegramError:
    """As python-telegram-bot raises it for a body that is not JSON: chained to the parsing
    error (a bare TelegramError for a 200, the status's class for an error page)."""
    try:
        try:
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        except ValueError as exc:
            raise error from exc
    except TelegramError as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        TelegramError("Invalid server response"),
        Forbidden("Forbidden (403). Parsing the server response b'<html>' failed"),
        BadRequest("Bad Request (400). Parsing the server response b'<html>' failed"),
    ],
)
async def test_a_reply_that_cannot_be_parsed_is_retried(rig: Rig, error: TelegramError) -> None:
    await rig.queue("a1", kind="alert")
    await rig.queue("e1")
    rig.telegram.fail = lambda chat: unparsed(error)
    assert await rig.drain_at() == []
    rig.telegram.fail = lambda chat: None
    sent = [text for _, text in await rig.drain_at(60)]
    assert sent[0] == "a1" and "e1" in sent[-1], sent
    assert set((await rig.store.outcomes()).values()) <= {"sent", "digest"}


async def test_a_refused_message_goes_out_as_plain_text_before_it_is_given_up(rig: Rig) -> None:
    await rig.store.enqueue("a1", A, "alert", "<b>OOM</b> &amp; co", silent=False, now_s=1000)

    calls = iter([BadRequest("Bad Request: can't parse entities"), None])
    rig.telegram.fail = lambda chat: next(calls)
    assert await rig.drain_at() == [(A, "OOM &amp; co")]
    assert (await rig.store.outcomes())["a1"] == "sent"


async def test_nothing_uncertain_is_sent_again_until_telegram_answers(rig: Rig) -> None:
    answers = False

    async def probe() -> None:
        if not answers:
            raise network_error(httpx.RemoteProtocolError("closed"))

    sender = OutboxSender(
        rig.store,
        rig.telegram.send,
        rig.clock,
        probe=probe,
        policy=OutboxPolicy(max_age_s=600),
        clock=rig.clock,
    )
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: network_error(httpx.ReadTimeout("no answer"))
    await sender.drain()
    rig.telegram.fail = lambda chat: None
    for _ in range(3):
        rig.clock.t += 600
        await sender.drain()
    assert rig.telegram.sent == []  # replies still lost: the alert waits
    answers = True
    rig.clock.t += 600
    await sender.drain()
    assert rig.telegram.sent == [(A, "a1")]


async def test_evals_that_cannot_be_folded_go_out_one_by_one(rig: Rig) -> None:
    async def broken(chat_id: int, payloads: list[str]) -> str:
        raise ValueError("a payload from another version")

    sender = OutboxSender(rig.store, rig.telegram.send, rig.clock, digest=broken, clock=rig.clock)
    await rig.queue("e1")
    rig.telegram.fail = lambda chat: network_error(httpx.ReadTimeout("no answer"))
    await sender.drain()
    rig.telegram.fail = lambda chat: None
    await rig.queue("e2")
    rig.clock.t += 60
    await sender.drain()
    assert [t for _, t in rig.telegram.sent] == ["e1", "e2"]


async def test_a_wall_clock_set_back_a_day_does_not_hold_up_the_back_off(rig: Rig) -> None:
    """The machine's clock steps back a day during an outage: the retry comes after the
    back-off all the same (it is timed on the monotonic clock)."""
    sender = OutboxSender(
        rig.store,
        rig.telegram.send,
        rig.clock,
        policy=OutboxPolicy(backoff=Backoff(0.01, 0.02)),
    )
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: network_error(httpx.ConnectError("down"))
    await sender.drain()
    rig.telegram.fail = lambda chat: None
    rig.clock.t -= 86400
    await asyncio.sleep(0.05)
    await sender.drain()
    assert rig.telegram.sent == [(A, "a1")]


async def test_a_wall_clock_set_a_day_ahead_does_not_make_the_news_queued_meanwhile_old(
    rig: Rig,
) -> None:
    """The machine's clock steps a day ahead before the outbox reads what was just queued,
    during a short outage: the eval and the milestone that waited 5 s go out, not dropped as
    a day old (their age counts on the monotonic clock), and without a note that they are
    late."""
    monotonic = Clock()
    sender = OutboxSender(
        rig.store,
        rig.telegram.send,
        rig.clock,
        late=late,
        policy=OutboxPolicy(max_age_s=600, backoff=Backoff(2, 30)),
        jitter=lambda: 0.5,
        clock=monotonic,
    )
    await sender.drain()  # running: it has looked before (nothing waited)
    monotonic.t += 1
    await rig.queue("e1")
    await rig.queue("m1", kind="milestone")
    rig.clock.t += 86400
    rig.telegram.fail = lambda chat: network_error(httpx.ConnectError("down"))
    await sender.drain()
    rig.telegram.fail = lambda chat: None
    monotonic.t += 5
    await sender.drain()
    assert rig.telegram.sent == [(A, "e1"), (A, "m1")]


async def test_an_alert_goes_ahead_of_the_evals_waiting(rig: Rig) -> None:
    for n in range(5):
        await rig.queue(f"e{n}")
        await rig.queue(f"m{n}", kind="milestone")
    await rig.queue("oom", kind="alert")
    sent = [text for _, text in await rig.drain_at()]
    assert sent[0] == "oom" and len(sent) == 11


async def test_an_alert_whose_reply_is_lost_twice_is_not_sent_a_third_time(rig: Rig) -> None:
    await rig.queue("a1", kind="alert")
    rig.telegram.fail = lambda chat: network_error(httpx.ReadTimeout("no answer"))
    await rig.drain_at()
    await rig.drain_at(60)  # the second copy: its reply is lost too
    rig.telegram.fail = lambda chat: None
    assert await rig.drain_at(60) == []
    assert (await rig.store.outcomes())["a1"] == "unconfirmed"
