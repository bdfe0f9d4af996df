"""The /stop questions: a press counts once, in its chat, within its time."""

from __future__ import annotations

from bot.core.confirm import MAX_PENDING, Confirmations, Pending

CHAT, OTHER = 4242, 17


def test_a_press_counts_once() -> None:
    asked = Confirmations(60.0)
    asked.ask("n1", "gpt2", CHAT, 100.0)
    assert asked.take("n1", CHAT, 130.0) == Pending("gpt2", CHAT, 100.0)
    assert asked.take("n1", CHAT, 131.0) is None


def test_unknown_data_and_other_chats_find_nothing_and_use_nothing_up() -> None:
    asked = Confirmations(60.0)
    asked.ask("n1", "gpt2", CHAT, 100.0)
    assert asked.take("forged", CHAT, 101.0) is None
    assert asked.take("n1", OTHER, 101.0) is None
    assert asked.take("n1", CHAT, 102.0) is not None  # still there for its own chat


def test_a_late_press_finds_nothing() -> None:
    asked = Confirmations(60.0)
    asked.ask("n1", "gpt2", CHAT, 100.0)
    assert asked.take("n1", CHAT, 160.0) is None
    assert asked.expire("n1", 161.0) is None  # used up by the late press


def test_expire_gives_the_questions_left_unanswered_once_over() -> None:
    asked = Confirmations(60.0)
    asked.ask("n1", "gpt2", CHAT, 100.0)
    asked.ask("n2", "gpt2", CHAT, 100.0)
    assert asked.expire("n1", 159.0) is None  # still open
    assert asked.take("n2", CHAT, 120.0) is not None
    assert asked.expire("n1", 160.0) == Pending("gpt2", CHAT, 100.0)
    assert asked.expire("n2", 160.0) is None  # answered


def test_questions_are_bounded_oldest_dropped_first() -> None:
    asked = Confirmations(60.0)
    for n in range(MAX_PENDING + 1):
        asked.ask(f"n{n}", "gpt2", CHAT, 100.0)
    assert asked.take("n0", CHAT, 101.0) is None
    assert asked.take(f"n{MAX_PENDING}", CHAT, 101.0) is not None
