"""The bot token never reaches a log line, even with every logger at DEBUG."""

from __future__ import annotations

import io
import logging
import secrets
import sys
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
from telegram import Bot
from telegram.error import NetworkError

from bot.adapters.redact import REDACTED, TokenRedactingFilter, install_token_redaction
from tests.telegram_stub import BotApiStub

CHAT = 4242
QUIETED = ("httpx", "httpcore")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything logged, at DEBUG, into a string; logging state restored afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    saved_level, saved_factory = root.level, logging.getLogRecordFactory()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved_level)
    logging.setLogRecordFactory(saved_factory)
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.NOTSET)


def secret_forms(token: str) -> list[str]:
    return [token, urllib.parse.quote(token, safe=""), token.split(":", 1)[1]]


async def exercise_bot(stub: BotApiStub, late_stream: io.StringIO) -> None:
    """A bot's life with every kind of log line that could carry the token."""
    for name in QUIETED:  # someone lowers them again after installation
        logging.getLogger(name).setLevel(logging.DEBUG)
    log = logging.getLogger("etagram.test")
    # A handler added after installation, on a logger that does not propagate.
    isolated = logging.getLogger("etagram.isolated")
    isolated.propagate = False
    late = logging.StreamHandler(late_stream)
    isolated.addHandler(late)
    try:
        async with Bot(stub.token, base_url=stub.base_url) as bot:
            await bot.send_message(CHAT, "hello")
            stub.fail("500", times=1)
            try:
                await bot.send_message(CHAT, "fails")
            except NetworkError:
                log.exception("send failed for %r", bot)
            try:
                raise RuntimeError(f"cannot reach {bot.base_url}/getMe")
            except RuntimeError:
                log.exception("wrapped")
                isolated.exception("isolated %s", urllib.parse.quote(stub.token, safe=""))
            log.debug("secret alone: %s", stub.token.split(":", 1)[1])
    finally:
        isolated.removeHandler(late)
        isolated.propagate = True


async def test_token_leaks_without_redaction(debug_log: io.StringIO) -> None:
    """The scenario below is a real test: without redaction the token shows up. A token of
    its own: a service an earlier test ran in this process redacts the stand-in's default
    one from every record for good."""
    late = io.StringIO()
    async with BotApiStub(
        token=f"{secrets.randbelow(10**9)}:AAH-unseen-{uuid.uuid4().hex}"
    ) as stub:
        await exercise_bot(stub, late)
    assert stub.token in debug_log.getvalue()
    assert urllib.parse.quote(stub.token, safe="") in late.getvalue()


async def test_token_never_logged_at_debug(debug_log: io.StringIO) -> None:
    late = io.StringIO()
    async with BotApiStub() as stub:
        install_token_redaction(stub.token)
        await exercise_bot(stub, late)
    logged = debug_log.getvalue() + late.getvalue()
    for form in secret_forms(stub.token):
        assert form not in logged
    # What was redacted is still there, so the log stays useful.
    assert "HTTP Request: POST" in logged  # httpx at DEBUG after being quieted
    assert f"Set Bot API URL: {stub.base_url}{REDACTED}" in logged
    assert "RuntimeError: cannot reach" in logged and "Internal Server Error" in logged
    assert f"isolated {REDACTED}" in late.getvalue()


def test_install_quiets_httpx_and_is_idempotent(debug_log: io.StringIO) -> None:
    install_token_redaction("111:first-secret-aaaaaaaa")
    factory = logging.getLogRecordFactory()
    install_token_redaction("222:second-secret-bbbbbbb")
    assert logging.getLogRecordFactory() is factory
    assert all(logging.getLogger(name).level == logging.WARNING for name in QUIETED)
    logging.getLogger("etagram.test").info("%s and %s", "first-secret-aaaaaaaa", "222:second")
    assert "<token> and 222:second\n" in debug_log.getvalue()


def make_record(msg: object, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)


def test_filter_rewrites_message_args_and_exception() -> None:
    token = "123:AAsecret_part-xyz"
    redactor = TokenRedactingFilter([token])
    record = make_record("url %s, %d calls", f"https://x/bot{token}/getMe", 3)
    try:
        raise ValueError(f"bad {urllib.parse.quote(token)}")
    except ValueError:
        record.exc_info = sys.exc_info()
    record.stack_info = f"stack {token}"
    assert redactor.filter(record)
    text = logging.Formatter().format(record)
    assert token not in text and "AAsecret_part-xyz" not in text
    assert "url https://x/bot<token>/getMe, 3 calls" in text
    assert "ValueError: bad <token>" in text and "stack <token>" in text
    assert record.exc_info is None


def test_filter_leaves_clean_records_untouched() -> None:
    redactor = TokenRedactingFilter(["123:AAsecret_part-xyz"])
    record = make_record("step %d", 7)
    redactor.filter(record)
    assert (record.msg, record.args) == ("step %d", (7,))


def test_filter_never_raises_on_bad_arguments() -> None:
    redactor = TokenRedactingFilter(["123:AAsecret_part-xyz"])
    record = make_record("two %s %s", "123:AAsecret_part-xyz")
    assert redactor.filter(record)
    assert "arguments withheld" in record.getMessage()
    assert "AAsecret_part" not in record.getMessage()


def test_short_or_empty_tokens_do_not_mangle_logs() -> None:
    assert TokenRedactingFilter([""]).redact("abc") == "abc"
    redactor = TokenRedactingFilter(["", "1:ab"])
    assert redactor.redact("1:ab abc 1") == "<token> abc 1"
