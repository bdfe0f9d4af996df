"""The Bot API stand-in server, driven by the real python-telegram-bot client (httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.telegram_stub import BotApiStub, SentCall, parse_html

CHAT = 4242


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def stub() -> AsyncIterator[BotApiStub]:
    async with BotApiStub() as server:
        yield server


@pytest.fixture
async def bot(stub: BotApiStub) -> AsyncIterator[Bot]:
    async with Bot(stub.token, base_url=stub.base_url, base_file_url=stub.base_file_url) as b:
        yield b


def keyboard(label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=label.lower())]])


async def test_get_me(bot: Bot, stub: BotApiStub) -> None:
    me = await bot.get_me()
    assert me.username == stub.bot_username
    assert me.id == 123456789
    assert me.is_bot


async def test_send_edit_and_photo_are_recorded(bot: Bot, stub: BotApiStub) -> None:
    sent = await bot.send_message(
        CHAT, "<b>ETA</b> 2 h", parse_mode=ParseMode.HTML, reply_markup=keyboard("Refresh")
    )
    assert sent.text == "ETA 2 h"
    assert sent.reply_markup == keyboard("Refresh")
    edited = await bot.edit_message_text("ETA 1 h", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, type(sent)) and edited.edit_date is not None
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard("Plot"))
    photo = png(3, 2)
    pic = await bot.send_photo(CHAT, photo, caption="loss", disable_notification=True)
    assert (pic.photo[-1].width, pic.photo[-1].height) == (3, 2)
    assert pic.message_id == sent.message_id + 1

    calls = stub.messages_to(CHAT)
    assert [c.method for c in calls] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendPhoto",
    ]
    assert calls[0].params["parse_mode"] == "HTML" and not calls[0].silent
    assert calls[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "refresh"
    assert calls[3].files["photo"] == photo and calls[3].silent
    assert stub.chat_messages(CHAT)[0]["text"] == "ETA 1 h"

    downloaded = await (await bot.get_file(pic.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == photo


async def test_text_that_is_plain_digits_stays_text(bot: Bot, stub: BotApiStub) -> None:
    await bot.send_message(CHAT, "123")
    assert stub.sent[-1].params == {"chat_id": CHAT, "text": "123"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": "<b>bold</i>", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": "a <br> b", "parse_mode": "HTML"}, "Unsupported start tag"),
        ({"text": "loss < 2", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": "AT&T", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": "<b>open", "parse_mode": "HTML"}, "can't parse entities"),
        ({"text": " "}, "message text is empty"),
    ],
)
async def test_send_message_limits(
    bot: Bot, stub: BotApiStub, kwargs: dict[str, str], error: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.send_message(CHAT, **kwargs)
    assert stub.sent[-1].status == 400
    assert stub.messages_to(CHAT) == []


async def test_length_is_counted_after_html_parsing(bot: Bot) -> None:
    await bot.send_message(CHAT, "<b>" + "&lt;" * 4096 + "</b>", parse_mode=ParseMode.HTML)


async def test_caption_limit(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_photo(CHAT, png(1, 1), caption="c" * 1025)


async def test_edit_pin_delete_rules(bot: Bot, stub: BotApiStub) -> None:
    msg = await bot.send_message(CHAT, "same", reply_markup=keyboard("Refresh"))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text(
            "same", chat_id=CHAT, message_id=msg.message_id, reply_markup=keyboard("Refresh")
        )
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("new", chat_id=CHAT, message_id=999)
    with pytest.raises(BadRequest, match="(?i)message to pin not found"):
        await bot.pin_chat_message(CHAT, 999)

    await bot.pin_chat_message(CHAT, msg.message_id, disable_notification=True)
    assert stub.pinned_message_id(CHAT) == msg.message_id
    chat = await bot.get_chat(CHAT)
    assert chat.pinned_message is not None and chat.pinned_message.message_id == msg.message_id
    await bot.unpin_chat_message(CHAT, msg.message_id)
    assert stub.pinned_message_id(CHAT) is None

    stub.delete_by_user(CHAT, msg.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("gone", chat_id=CHAT, message_id=msg.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(CHAT, msg.message_id)

    stub.block_chat(CHAT)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(CHAT, "hello?")


async def test_commands_are_recorded_per_language(bot: Bot, stub: BotApiStub) -> None:
    await bot.set_my_commands([BotCommand("eta", "Finish time")])
    await bot.set_my_commands([BotCommand("eta", "Heure de fin")], language_code="fr")
    assert stub.commands("fr") == [{"command": "eta", "description": "Heure de fin"}]
    assert stub.commands()[0]["description"] == "Finish time"
    fr = await bot.get_my_commands(language_code="fr")
    assert fr == (BotCommand("eta", "Heure de fin"),)


async def test_get_updates_offset_and_long_polling(bot: Bot, stub: BotApiStub) -> None:
    first = stub.push_message(CHAT, "one")
    second = stub.push_message(CHAT, "two")
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert await bot.get_updates(offset=second + 1) == ()

    poll = asyncio.create_task(bot.get_updates(offset=second + 1, timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    third = stub.push_message(CHAT, "three")
    (update,) = await poll
    assert update.update_id == third and update.message is not None
    assert update.message.text == "three"


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def build_app(stub: BotApiStub) -> Application:  # type: ignore[type-arg]
    return (
        Application.builder()
        .token(stub.token)
        .base_url(stub.base_url)
        .base_file_url(stub.base_file_url)
        .build()
    )


async def test_application_answers_command_and_button(stub: BotApiStub) -> None:
    async def eta(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        lang = update.effective_user.language_code
        await update.effective_message.reply_text(f"eta/{lang}", reply_markup=keyboard("Refresh"))

    async def refresh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"refreshed/{query.data}")

    app = build_app(stub)
    app.add_handler(CommandHandler("eta", eta))
    app.add_handler(CallbackQueryHandler(refresh))
    async with polling(app):
        stub.push_message(CHAT, "/eta", language_code="fr")
        reply = await stub.wait_for("sendMessage")
        assert reply.params["text"] == "eta/fr" and reply.chat_id == CHAT

        stub.push_callback(CHAT, reply.result["message_id"], "refresh")
        edit = await stub.wait_for("editMessageText")
        assert edit.params["text"] == "refreshed/refresh"
        assert stub.sent[-2].method == "answerCallbackQuery"

        # Group chats: commands addressed to the bot by name.
        stub.push_message(-100777, f"/eta@{stub.bot_username}", chat_type="supergroup")
        group_reply = await stub.wait_for(lambda c: c.chat_id == -100777)
        assert group_reply.params["text"] == "eta/en"
    assert {c.method for c in stub.sent} >= {"getMe", "deleteWebhook"}


async def test_429_surfaces_as_retry_after(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("429", methods={"sendMessage"}, times=1, retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "y")
    sends = [(c.status, c.text) for c in stub.sent if c.method == "sendMessage"]
    assert sends == [(429, "x"), (200, "y")]


async def test_500_surfaces_as_network_error(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("500")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.get_me()
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "x")
    stub.heal()
    await bot.send_message(CHAT, "y")
    assert [c.text for c in stub.messages_to(CHAT)] == ["y"]


async def test_faults_can_target_methods(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("500", methods={"sendPhoto"})
    stub.fail("500", seconds=0.0)  # an outage that is already over
    await bot.send_message(CHAT, "text still works")
    with pytest.raises(NetworkError):
        await bot.send_photo(CHAT, png(1, 1))


async def test_wrong_token_is_invalid(stub: BotApiStub) -> None:
    bad = Bot("987654321:AA-wrong-token", base_url=stub.base_url)
    with pytest.raises(InvalidToken):
        async with bad:  # closes its HTTP client on the way out
            pass
    assert stub.sent[-1].status == 401


async def test_hang_times_out_and_is_not_delivered(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("hang", methods={"sendMessage"})
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "lost", read_timeout=0.2)
    assert stub.sent[-1].status == 0
    stub.heal()
    await bot.send_message(CHAT, "after")
    assert [m["text"] for m in stub.chat_messages(CHAT)] == ["after"]


async def test_drop_closes_the_connection(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("drop", times=1)
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(CHAT, "dropped")
    await bot.send_message(CHAT, "next")
    assert [m["text"] for m in stub.chat_messages(CHAT)] == ["next"]


async def test_lost_reply_delivers_but_the_client_sees_an_error(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("lost_reply", times=1)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "delivered anyway")
    assert [m["text"] for m in stub.chat_messages(CHAT)] == ["delivered anyway"]
    assert stub.messages_to(CHAT) == []  # the bot never learnt it was delivered


async def test_slow_delivers_at_once_and_answers_late(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("slow", methods={"sendMessage"}, delay_s=5.0)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "delivered, answered late", read_timeout=0.2)
    assert [m["text"] for m in stub.chat_messages(CHAT)] == ["delivered, answered late"]
    assert (await bot.get_me()).is_bot  # other methods answer at once
    stub.heal()
    await bot.send_message(CHAT, "after")


async def test_rate_limiter_retries_on_429(stub: BotApiStub) -> None:
    app = (
        Application.builder()
        .token(stub.token)
        .base_url(stub.base_url)
        .rate_limiter(AIORateLimiter(max_retries=2))
        .build()
    )
    async with app:
        stub.fail("429", methods={"sendMessage"}, times=1, retry_after=1)
        msg = await app.bot.send_message(CHAT, "eventually")
    assert msg.text == "eventually"
    attempts: list[SentCall] = [c for c in stub.sent if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [429, 200]


async def test_answering_a_callback_twice_is_refused(bot: Bot, stub: BotApiStub) -> None:
    msg = await bot.send_message(CHAT, "buttons", reply_markup=keyboard("Plot"))
    stub.push_callback(CHAT, msg.message_id, "plot")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.message is not None
    assert update.callback_query.message.message_id == msg.message_id
    await update.callback_query.answer()
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await update.callback_query.answer()


async def test_wait_for_reports_what_arrived(bot: Bot, stub: BotApiStub) -> None:
    await bot.send_message(CHAT, "only this")
    with pytest.raises(TimeoutError, match="sendMessage"):
        await stub.wait_for("sendPhoto", timeout=0.1)


def test_parse_html_accepts_telegram_markup() -> None:
    text = '<b>a</b> <a href="https://x.org/?a=1&amp;b=2">l</a> <pre><code>x &lt; y</code></pre>'
    assert parse_html(text) == "a l x < y"


def test_unknown_fault_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        BotApiStub().fail("teapot")  # type: ignore[arg-type]


async def test_polling_recovers_after_an_outage(stub: BotApiStub) -> None:
    async def eta(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("back")

    app = build_app(stub)
    app.add_handler(CommandHandler("eta", eta))
    async with polling(app):
        stub.fail("500", methods={"getUpdates"}, times=2)
        stub.push_message(CHAT, "/eta")
        reply = await stub.wait_for("sendMessage", timeout=10)
    assert reply.params["text"] == "back"


async def test_stop_releases_hanging_requests(bot: Bot, stub: BotApiStub) -> None:
    stub.fail("hang")
    call = asyncio.create_task(bot.send_message(CHAT, "stuck", read_timeout=30))
    await stub.wait_for(lambda c: c.status == 0)
    await asyncio.wait_for(stub.stop(), 5)
    with pytest.raises(NetworkError):
        await asyncio.wait_for(call, 5)


@pytest.mark.filterwarnings("ignore:Please use:telegram.warnings.PTBUserWarning")
async def test_malformed_parameters_get_400(bot: Bot, stub: BotApiStub) -> None:
    with pytest.raises(BadRequest):
        await bot.do_api_request("editMessageText", api_kwargs={"chat_id": CHAT, "message_id": "x"})
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.do_api_request("sendMessage", api_kwargs={"chat_id": "@nobody", "text": "hi"})


async def test_raw_updates_reach_the_bot(bot: Bot, stub: BotApiStub) -> None:
    update_id = stub.push_update(
        {"message": {"message_id": 1, "date": 0, "chat": {"id": CHAT, "type": "private"}}}
    )
    (update,) = await bot.get_updates()
    assert update.update_id == update_id and update.message is not None
    assert update.message.text is None
