from __future__ import annotations

from bot.core.backoff import Backoff


def test_the_wait_doubles_from_the_first_up_to_the_cap() -> None:
    policy = Backoff(1.0, 60.0)
    assert [policy.delay_s(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_long_outage_stays_at_the_cap() -> None:
    assert Backoff(0.1, 5.0).delay_s(10_000) == 5.0
    assert Backoff(2.0, 300.0).delay_s(0) == 2.0  # before any failure: the first wait
