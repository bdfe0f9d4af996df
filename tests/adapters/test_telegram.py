"""The bot end to end: the service against the Bot API stand-in, through python-telegram-bot's
real HTTP client. Commands in each language, buttons, /plot, the live message, strangers,
groups, long texts and 429s."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import assemble
from bot.adapters.console import Console
from bot.adapters.plot import HEIGHT_PX, WIDTH_PX
from bot.adapters.telegram import send_text
from bot.config import Config, General, Gpu, Telegram
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.prefs import Callback
from bot.messages.chat import COMMANDS
from bot.service import RunSpec, Service
from tests.generated import nanogpt_lines
from tests.telegram_stub import BotApiStub, SentCall, parse_html

OWNER, GROUP, STRANGER = 4242, -1001234, 666
BOT = "etagram_stub_bot"

HEADER = ["max_iters = 600", "eval_interval = 200"]


class FakeGpu:
    def sample(self) -> GpuSnapshot:
        gpu = GpuSample(
            0,
            name="RTX 4070 <&>",
            utilization_pct=100,
            memory_used_mib=6656,
            memory_total_mib=12282,
            temperature_c=67,
            slowdown_temp_c=90,
            sm_clock_mhz=2700,
            max_sm_clock_mhz=2800,
            power_mw=190_000,
            power_limit_mw=200_000,
        )
        return GpuSnapshot(time.time(), (gpu,))


class Bot:
    """The service, the stub, and helpers to talk to the bot like a user."""

    def __init__(self, stub: BotApiStub, service: Service, log: Path) -> None:
        self.stub = stub
        self.service = service
        self.log = log

    async def ask(self, chat_id: int, text: str, **kw: Any) -> SentCall:
        """Send `text` from `chat_id`; the first message or photo the bot sends back (not a
        routine push, which goes out silently)."""
        n = len(self.stub.sent)
        self.stub.push_message(chat_id, text, **kw)
        return await self.stub.wait_for(lambda c: _to(c, chat_id) and not c.silent, since=n)

    async def press(self, chat_id: int, message_id: int, data: str) -> SentCall:
        """Press a button; the answerCallbackQuery that closes it."""
        n = len(self.stub.sent)
        self.stub.push_callback(chat_id, message_id, data)
        return await self.stub.wait_for("answerCallbackQuery", since=n)

    async def grow(self, lines: list[str]) -> None:
        """Append to the log and wait until the run's state has read it."""
        with self.log.open("a") as f:
            f.write("\n".join(lines) + "\n")
        last = max(int(x.split()[1].rstrip(":")) for x in lines if x.startswith("iter "))
        await until(lambda: self.service.fold.monitors["gpt2"].state.iter == last)

    @property
    def state(self) -> Any:
        return self.service.fold.monitors["gpt2"].state


def _to(call: SentCall, chat_id: int) -> bool:
    return call.method in ("sendMessage", "sendPhoto") and call.chat_id == chat_id


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    log = tmp_path / "train.log"
    log.write_text("\n".join(HEADER + nanogpt_lines(0, 310)) + "\n")  # replayed: no pushes
    async with BotApiStub(bot_username=BOT) as stub:
        config = Config(
            telegram=Telegram(
                token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER, GROUP)
            ),
            general=General(
                language="en", timezone="Europe/Paris", state_path=str(tmp_path / "state.sqlite3")
            ),
            gpu=Gpu(interval_s=0.2),
        )
        service = assemble.embedded(
            config, [RunSpec("gpt2", log)], gpu=FakeGpu(), console=Console(io.StringIO())
        )
        serving = asyncio.create_task(service.serve())
        try:
            await stub.wait_for("setMyCommands", timeout=10)
            helper = Bot(stub, service, log)
            await until(lambda: helper.state.iter == 300)
            yield helper
        finally:
            service.stop()
            await asyncio.wait_for(serving, 15)


# --- commands -------------------------------------------------------------------------------

# (command, a fragment of the French answer, of the English one)
ANSWERS = [
    ("/start", "autorisé", "allowed"),
    ("/help", "Commandes", "Commands"),
    ("/eta", "itérations", "iterations"),
    ("/status", "Itération 300 / 600", "Iteration 300 / 600"),
    ("/gpu", "RTX 4070 &lt;&amp;&gt;", "RTX 4070 &lt;&amp;&gt;"),
    ("/runs", "Entraînements suivis", "Runs followed"),
    ("/tz", "Fuseau horaire", "Time zone"),
    ("/tz asia/tokyo", "Asia/Tokyo", "Asia/Tokyo"),
    ("/tz Mars/Olympus", "Fuseau horaire inconnu", "Unknown time zone"),
    ("/mute 2h", "coupées pendant 2", "muted for 2"),
    ("/mute 99999999h", "Durée trop longue", "Too long"),
    ("/mute soon", "Durée non comprise", "Could not read that duration"),
    ("/unmute", "réactivées", "back on"),
    ("/evals every 3", "une évaluation sur 3", "one eval out of every 3"),
    ("/evals", "une évaluation sur 3", "one eval out of every 3"),
    ("/evals sometimes", "Réglage non compris", "Could not read that setting"),
    ("/unsubscribe", "ne recevra plus", "no more notifications"),
    ("/subscribe", "recevra les évaluations", "will get evals"),
    ("/lang xx", "Langue inconnue", "Unknown language"),
    ("/live off", "arrêté", "stopped"),
]


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_every_command_answers_in_the_chat_language(bot: Bot, lang: str) -> None:
    ack = await bot.ask(OWNER, f"/lang {lang}")
    assert ("français" if lang == "fr" else "English") in (ack.text or "")
    for command, fr, en in ANSWERS:
        reply = await bot.ask(OWNER, command)
        assert reply.ok, (command, reply.description)
        raw = str(reply.params["text"])
        assert (fr if lang == "fr" else en) in raw, (command, raw)
    plot = await bot.ask(OWNER, "/plot")
    assert plot.method == "sendPhoto" and plot.ok
    assert ("Itération" if lang == "fr" else "Iteration") in (plot.text or "")
    status = await bot.ask(OWNER, "/status")
    assert _buttons(status)[1]["text"] == ("Graphiques" if lang == "fr" else "Charts")
    stored = await bot.service.store.load_prefs(OWNER)  # type: ignore[union-attr]
    assert stored["lang"] == lang and stored["tz"] == "Asia/Tokyo"
    assert stored["evals"] == "every" and stored["evals_every"] == 3


async def test_buttons_are_bilingual_one_a_row_in_both_mode(bot: Bot) -> None:
    await bot.ask(OWNER, "/lang both")
    status = await bot.ask(OWNER, "/status")
    rows = status.params["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [
        ["Actualiser / Refresh"],
        ["Graphiques / Charts"],
        ["Silence 1\u00a0h / Mute 1\u00a0h"],
    ]


async def test_command_menu_is_registered_in_both_languages(bot: Bot) -> None:
    await until(lambda: len(bot.stub.commands("fr")) and len(bot.stub.commands()))
    for lang, word in (("fr", "Heure de fin"), ("en", "finish time")):
        menu = {c["command"]: c["description"] for c in bot.stub.commands(lang)}
        assert list(menu) == COMMANDS
        assert word in menu["eta"]
    assert [c["command"] for c in bot.stub.commands()] == COMMANDS


async def test_answers_are_html_with_values_escaped(bot: Bot) -> None:
    reply = await bot.ask(OWNER, "/mute <b>&amp;")
    assert reply.ok and "&lt;b&gt;&amp;amp;" in str(reply.params["text"])


# --- buttons --------------------------------------------------------------------------------


def _buttons(call: SentCall) -> list[dict[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def test_refresh_edits_in_place_and_other_buttons_work(bot: Bot) -> None:
    status = await bot.ask(OWNER, "/status")
    message_id = status.result["message_id"]
    data = [b["callback_data"] for b in _buttons(status)]
    assert data == ["v1:status:", "v1:plot:", "v1:mute:1h"]

    await bot.grow(nanogpt_lines(310, 410))
    n = len(bot.stub.sent)
    await bot.press(OWNER, message_id, data[0])
    edit = await bot.stub.wait_for("editMessageText", since=n)
    assert edit.ok and edit.params["message_id"] == message_id
    assert "Iteration 400 / 600" in (edit.text or "")
    assert _buttons(edit) == _buttons(status)

    n = len(bot.stub.sent)
    await bot.press(OWNER, message_id, data[1])
    photo = await bot.stub.wait_for("sendPhoto", since=n)
    assert photo.ok

    n = len(bot.stub.sent)
    await bot.press(OWNER, message_id, data[2])
    muted = await bot.stub.wait_for(lambda c: _to(c, OWNER), since=n)
    assert "muted for 1" in (muted.text or "")
    assert (await bot.service.front.prefs(OWNER)).muted(time.time() + 3500)


@pytest.mark.parametrize(
    "data", ["v0:status:", "v1:reboot:", "hello", "v1:mute:99999h", "v1:run:nope", ""]
)
async def test_stale_and_foreign_buttons_get_a_short_notice(bot: Bot, data: str) -> None:
    eta = await bot.ask(OWNER, "/eta")
    answer = await bot.press(OWNER, eta.result["message_id"], data)
    assert answer.ok and "expired" in answer.params["text"]
    assert not (await bot.service.front.prefs(OWNER)).muted(time.time())


async def test_button_under_a_deleted_message_gets_a_notice(bot: Bot) -> None:
    eta = await bot.ask(OWNER, "/eta")
    bot.stub.delete_by_user(OWNER, eta.result["message_id"])
    answer = await bot.press(OWNER, eta.result["message_id"], "v1:eta:")
    assert "expired" in answer.params["text"]


async def test_runs_buttons_pick_the_run_a_chat_reads(tmp_path: Path) -> None:
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    logs[0].write_text("\n".join(HEADER + nanogpt_lines(0, 110)) + "\n")
    logs[1].write_text("\n".join(HEADER + nanogpt_lines(0, 510)) + "\n")
    async with BotApiStub(bot_username=BOT) as stub:
        config = Config(
            telegram=Telegram(
                token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER,)
            ),
            general=General(state_path=str(tmp_path / "state.sqlite3")),
        )
        runs = [RunSpec("small <1>", logs[0]), RunSpec("big", logs[1])]
        service = assemble.embedded(config, runs, console=Console(io.StringIO()))
        serving = asyncio.create_task(service.serve())
        try:
            await stub.wait_for("setMyCommands", timeout=10)
            await until(lambda: service.fold.monitors["big"].state.iter == 500)
            helper = Bot(stub, service, logs[0])
            listing = await helper.ask(OWNER, "/runs")
            assert "small &lt;1&gt;" in str(listing.params["text"])
            buttons = _buttons(listing)
            names = [b["text"].removeprefix("✓ ") for b in buttons]
            assert names == ["small <1>", "big"]
            assert sum(b["text"].startswith("✓") for b in buttons) == 1  # the most recent
            answer = await helper.press(
                OWNER, listing.result["message_id"], buttons[0]["callback_data"]
            )
            assert "small <1>" in answer.params["text"]
            edit = [c for c in stub.sent if c.method == "editMessageText"][-1]
            assert [b["text"] for b in _buttons(edit)] == ["✓ small <1>", "big"]
            n = len(stub.sent)
            again = await helper.press(
                OWNER, listing.result["message_id"], buttons[0]["callback_data"]
            )
            assert again.ok  # the same choice again: "message is not modified" is no error
            edits = [c.status for c in stub.sent[n:] if c.method == "editMessageText"]
            assert edits == [400]
            eta = await helper.ask(OWNER, "/eta")
            assert "small &lt;1&gt;" in str(eta.params["text"]) and "100 / 600" in (eta.text or "")
        finally:
            service.stop()
            await asyncio.wait_for(serving, 15)


# --- /plot ----------------------------------------------------------------------------------


async def test_plot_is_a_png_of_the_expected_size(bot: Bot) -> None:
    await until(lambda: len(bot.service.fold.monitors["gpt2"].state.gpu_trace.all()) >= 2)
    photo = await bot.ask(OWNER, "/plot")
    assert photo.ok and photo.method == "sendPhoto"
    png = photo.files["photo"]
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX)
    assert photo.result["photo"][0]["width"] == WIDTH_PX
    assert "gpt2" in (photo.text or "") and len(photo.text or "") <= 1024


# --- the live message -----------------------------------------------------------------------


async def test_live_message_is_pinned_edited_and_recreated(bot: Bot) -> None:
    live_messages = bot.service.front.live
    live_messages.every_s = 0.0
    n = len(bot.stub.sent)
    bot.stub.push_message(OWNER, "/live")
    live = await bot.stub.wait_for(
        lambda c: _to(c, OWNER) and "300 / 600" in (c.text or ""), since=n
    )
    first_id = live.result["message_id"]
    await until(lambda: bot.stub.pinned_message_id(OWNER) == first_id)

    await bot.grow(nanogpt_lines(310, 410))
    n = len(bot.stub.sent)
    await live_messages.refresh(bot.service.front.app.bot, bot.service.front.live_text)
    edit = await bot.stub.wait_for("editMessageText", since=n)
    assert edit.ok and edit.params["message_id"] == first_id and "400 / 600" in (edit.text or "")

    n = len(bot.stub.sent)
    await live_messages.refresh(bot.service.front.app.bot, bot.service.front.live_text)  # same text
    assert not [c for c in bot.stub.sent[n:] if c.method == "editMessageText"]

    bot.stub.delete_by_user(OWNER, first_id)
    await bot.grow(nanogpt_lines(410, 450))
    n = len(bot.stub.sent)
    await live_messages.refresh(bot.service.front.app.bot, bot.service.front.live_text)
    again = await bot.stub.wait_for(lambda c: _to(c, OWNER), since=n)
    assert again.ok and again.result["message_id"] != first_id
    assert bot.stub.pinned_message_id(OWNER) == again.result["message_id"]
    prefs = await bot.service.front.prefs(OWNER)
    assert prefs.live and prefs.live_message_id == again.result["message_id"]

    await bot.ask(OWNER, "/live off")
    assert bot.stub.pinned_message_id(OWNER) is None
    assert not (await bot.service.front.prefs(OWNER)).live


# --- who may talk to the bot ------------------------------------------------------------------


async def test_strangers_get_a_refusal_without_run_data(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    commands = ("/start", "/eta", "/status", "/plot", "/lang fr", "/mute 2h")
    for stranger, command in enumerate(commands, STRANGER):  # one refusal per chat an hour
        reply = await bot.ask(stranger, command)
        text = reply.text or ""
        assert reply.method == "sendMessage" and str(stranger) in text
        assert "gpt2" not in text and "Iteration" not in text
        assert await bot.service.store.load_prefs(stranger) == {}  # type: ignore[union-attr]
    answer = await bot.press(STRANGER - 1, 1, Callback("status").encode())
    assert "not allowed" in answer.params["text"]
    assert str(STRANGER) in caplog.text


async def test_group_commands_addressed_to_the_bot(bot: Bot) -> None:
    reply = await bot.ask(GROUP, f"/eta@{BOT}", chat_type="supergroup", user_id=77)
    assert reply.chat_id == GROUP and "gpt2" in (reply.text or "")
    n = len(bot.stub.sent)
    bot.stub.push_message(GROUP, "/eta@some_other_bot", chat_type="supergroup", user_id=77)
    bot.stub.push_message(GROUP, f"/help@{BOT}", chat_type="supergroup", user_id=77)
    answer = await bot.stub.wait_for(lambda c: _to(c, GROUP), since=n)
    assert "Commands" in (answer.text or "")  # the other bot's command was left alone


# --- limits ----------------------------------------------------------------------------------


async def test_long_text_is_split_on_lines(bot: Bot) -> None:
    lines = [f"<b>line {i}</b> " + "x &amp; y " * 20 for i in range(60)]
    text = "<pre>" + "\n".join(f"row {i}" for i in range(200)) + "</pre>\n" + "\n".join(lines)
    n = len(bot.stub.sent)
    await send_text(bot.service.front.app.bot, OWNER, text)
    parts = [c for c in bot.stub.sent[n:] if c.method == "sendMessage"]
    assert len(parts) >= 3 and all(c.ok for c in parts)
    visible = "\n".join(parse_html(str(c.params["text"])) for c in parts)
    assert visible == parse_html(text)


async def test_429_is_retried_after_the_delay(bot: Bot) -> None:
    bot.stub.fail("429", methods={"sendMessage"}, times=1, retry_after=1)
    n = len(bot.stub.sent)
    bot.stub.push_message(OWNER, "/help")
    reply = await bot.stub.wait_for(lambda c: _to(c, OWNER) and c.ok, since=n, timeout=10)
    refused = [c for c in bot.stub.sent[n:] if c.status == 429]
    assert len(refused) == 1 and reply.time - refused[0].time >= 0.9


async def test_live_again_sends_a_fresh_pinned_message(bot: Bot) -> None:
    first = await bot.ask(OWNER, "/live")  # the acknowledgement, then the live message
    await until(lambda: bot.stub.pinned_message_id(OWNER) is not None)
    old = bot.stub.pinned_message_id(OWNER)
    assert "kept up to date" in (first.text or "")
    bot.stub.push_message(OWNER, "/live")
    await until(lambda: bot.stub.pinned_message_id(OWNER) not in (None, old))
    unpins = [c for c in bot.stub.sent if c.method == "unpinChatMessage" and c.ok]
    assert [c.params["message_id"] for c in unpins] == [old]


# --- pushes ---------------------------------------------------------------------------------


async def test_pushes_follow_the_chat_settings(bot: Bot) -> None:
    await bot.ask(OWNER, "/evals off")
    await bot.ask(GROUP, "/lang fr", chat_type="supergroup", user_id=77)
    n = len(bot.stub.sent)
    await bot.grow(nanogpt_lines(310, 460))  # an eval at 400, past 75 % at 450
    milestone = await bot.stub.wait_for(
        lambda c: _to(c, OWNER) and "75%" in (c.text or ""), since=n
    )
    assert milestone.silent
    group_eval = await bot.stub.wait_for(
        lambda c: _to(c, GROUP) and "Évaluation à l'itération 400" in (c.text or ""), since=n
    )
    assert group_eval.silent
    await bot.stub.wait_for(lambda c: _to(c, GROUP) and "75" in (c.text or ""), since=n)
    assert not [c for c in bot.stub.sent[n:] if _to(c, OWNER) and "Eval" in (c.text or "")]


HOSTILE = [
    "/tz " + "Europe/" * 700,
    "/tz ../../etc/passwd",
    "/mute \u0000\u202e2h",
    "/mute 1" + "0" * 300 + "d",
    "/evals every 99999999999999999999999",
    "/evals every -1",
    "/lang <script>&amp;",
    "/live sometime",
    "/runs and more",
    "/eta " + "💥" * 2000,
]


async def test_hostile_arguments_get_an_answer_and_raise_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    for command in HOSTILE:
        reply = await bot.ask(OWNER, command)
        assert reply.ok, (command[:40], reply.description)
        assert len(reply.text or "") < 1000
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
