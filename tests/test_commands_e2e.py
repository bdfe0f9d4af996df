"""Commands that know what you mean (issue 16, point 5), end to end: the service follows three
runs and answers a user, in French and in English, through the Bot API stand-in.

Commands name a run by its name or the start of it, in any case; bare settings commands say
what is set and how to change it; anything else gets two lines of help, and strangers still
get one refusal an hour.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import assemble
from bot.adapters.console import Console
from bot.config import Config, General, Gpu, Telegram
from bot.messages.chat import COMMANDS
from bot.service import RunSpec, Service
from tests.adapters.test_telegram import FakeGpu, until
from tests.generated import nanogpt_lines
from tests.telegram_stub import BotApiStub, SentCall, parse_html

OWNER, GROUP, STRANGER = 4242, -1001234, 666
BOT = "etagram_stub_bot"
HEADER = ["max_iters = 600", "eval_interval = 200"]
RUNS = {"gpt2-small": 110, "gpt2-large": 510, "bert": 310}  # run -> iterations in its log


class User:
    """One chat talking to the bot."""

    def __init__(self, stub: BotApiStub, service: Service, lang: str) -> None:
        self.stub, self.service, self.lang = stub, service, lang

    async def ask(self, text: str, chat_id: int = OWNER, **kw: Any) -> SentCall:
        """The first message or photo the bot sends back to `chat_id`."""
        n = len(self.stub.sent)
        self.stub.push_message(chat_id, text, **kw)
        return await self.stub.wait_for(lambda c: _answer(c, chat_id), since=n)

    async def silence(self, text: str, chat_id: int = OWNER, **kw: Any) -> list[SentCall]:
        """What the bot sends back to `chat_id` within a second (expected: nothing)."""
        n = len(self.stub.sent)
        self.stub.push_message(chat_id, text, **kw)
        await asyncio.sleep(1.0)
        return [c for c in self.stub.sent[n:] if _answer(c, chat_id)]

    async def press(self, message: SentCall, button: int) -> SentCall:
        n = len(self.stub.sent)
        data = _buttons(message)[button]["callback_data"]
        self.stub.push_callback(OWNER, message.result["message_id"], data)
        return await self.stub.wait_for("answerCallbackQuery", since=n)


def _answer(call: SentCall, chat_id: int) -> bool:
    return call.method in ("sendMessage", "sendPhoto") and call.chat_id == chat_id


def _buttons(call: SentCall) -> list[dict[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def _text(call: SentCall) -> str:
    """What the user reads."""
    return parse_html(call.text or "")


@pytest.fixture(params=["fr", "en"])
async def user(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[User]:
    specs = []
    for name, iters in RUNS.items():
        log = tmp_path / f"{name}.log"
        log.write_text("\n".join(HEADER + nanogpt_lines(0, iters)) + "\n")
        specs.append(RunSpec(name, log))
    async with BotApiStub(bot_username=BOT) as stub:
        config = Config(
            telegram=Telegram(
                token=stub.token, api_base_url=stub.base_url, allowed_chat_ids=(OWNER, GROUP)
            ),
            general=General(
                language=request.param,
                timezone="Europe/Paris",
                state_path=str(tmp_path / "state.sqlite3"),
            ),
            gpu=Gpu(interval_s=0.2),
        )
        service = assemble.embedded(config, specs, gpu=FakeGpu(), console=Console(io.StringIO()))
        serving = asyncio.create_task(service.serve())
        try:
            await stub.wait_for("setMyCommands", timeout=10)
            monitors = service.fold.monitors  # type: ignore[union-attr]
            await until(lambda: all(monitors[n].state.iter == i - 10 for n, i in RUNS.items()))
            yield User(stub, service, request.param)
        finally:
            service.stop()
            await asyncio.wait_for(serving, 15)


def _says(user: User, fr: str, en: str) -> str:
    return fr if user.lang == "fr" else en


# --- a run by its name ----------------------------------------------------------------------


async def test_eta_and_status_answer_for_the_run_named(user: User) -> None:
    picked = await user.ask("/runs")
    await user.press(picked, list(RUNS).index("gpt2-large"))  # the chat reads gpt2-large
    for command, expected in (
        ("/eta bert", "300 / 600"),
        ("/eta BERT", "300 / 600"),
        ("/status gpt2-s", "100 / 600"),
        ("/eta Gpt2-S", "100 / 600"),
        ("/status", "500 / 600"),  # no name: the chat's run
    ):
        reply = await user.ask(command)
        assert expected in _text(reply), (command, _text(reply))
    named = await user.ask("/eta bert")
    data = [b["callback_data"] for b in _buttons(named)]
    assert data[0].startswith("v1:eta:") and data[0] != "v1:eta:"  # refreshes bert
    n = len(user.stub.sent)
    await user.press(named, 0)
    edit = await user.stub.wait_for("editMessageText", since=n)
    assert "bert" in _text(edit) and "300 / 600" in _text(edit)
    n = len(user.stub.sent)
    await user.press(named, 1)
    photo = await user.stub.wait_for("sendPhoto", since=n)
    assert "bert" in _text(photo)


async def test_runs_with_a_name_picks_that_run_as_its_button_does(user: User) -> None:
    picked = await user.ask("/runs BERT")
    text = _text(picked)
    assert text.startswith(
        _says(
            user,
            "Cette discussion suit désormais bert\u202f: /eta, /status et /plot sans nom",
            "This chat now follows bert: /eta, /status and /plot without a name",
        )
    )
    assert all(name in text for name in RUNS)  # and the runs, bert ticked as selected
    assert _says(user, "bert\u202f: itération 300 / 600", "bert: iteration 300 / 600") in text
    assert [b["text"] for b in _buttons(picked)] == ["gpt2-small", "gpt2-large", "✓ bert"]
    assert "300 / 600" in _text(await user.ask("/status"))  # the chat reads bert now
    again = await user.ask("/runs")
    assert _says(user, "(choisi)", "(selected)") in next(
        line for line in _text(again).splitlines() if "bert" in line
    )


@pytest.mark.parametrize("command", ["/eta", "/status", "/plot", "/gpu", "/stop", "/runs"])
async def test_an_unknown_or_ambiguous_name_lists_the_runs(user: User, command: str) -> None:
    unknown = await user.ask(f"{command} nosuchrun")
    text = _text(unknown)
    assert unknown.method == "sendMessage"
    assert text.startswith(
        _says(user, "Aucun entraînement ne s'appelle nosuchrun.", "No run named nosuchrun.")
    )
    assert all(name in text for name in RUNS)
    assert [b["text"].removeprefix("✓ ") for b in _buttons(unknown)] == list(RUNS)
    ambiguous = await user.ask(f"{command} GPT2")
    assert _text(ambiguous).startswith(
        _says(
            user,
            "Plusieurs entraînements commencent par GPT2\u202f: précisez le nom.",
            "Several runs start with GPT2: give more of the name.",
        )
    )
    assert "⏱️" not in _text(ambiguous) and "📊" not in _text(ambiguous)  # no run's view


async def test_plot_and_gpu_take_a_run_name(user: User) -> None:
    photo = await user.ask("/plot bert")
    assert photo.method == "sendPhoto" and "bert" in _text(photo)
    table = await user.ask("/gpu bert")
    raw = str(table.params["text"])
    assert "RTX 4070" in raw
    # localized like /status: 6656 MiB of 12282 is 6.5 of 12 GiB
    assert _says(user, "6,5/12\u00a0Gio", "6.5/12\u00a0GiB") in raw
    assert _says(user, "100\u00a0%", "100%") in raw


# --- settings shown when asked without an argument --------------------------------------------


async def test_bare_settings_commands_say_what_is_set_and_how_to_change_it(user: User) -> None:
    lang = await user.ask("/lang")
    assert _says(user, "Les messages sont en français.", "Messages are in English.") in _text(lang)
    assert "/lang both" in _text(lang)
    evals = await user.ask("/evals")
    assert _says(user, "Vous recevrez chaque évaluation.", "You will get every eval.") in _text(
        evals
    )
    assert "/evals every 5" in _text(evals)
    tz = await user.ask("/tz")
    assert "Europe/Paris" in _text(tz) and "/tz Tokyo" in _text(tz)
    prefs = await user.service.front.prefs(OWNER)  # type: ignore[union-attr]
    assert prefs.lang is None and prefs.tz is None  # asking changed nothing


async def test_mute_alone_and_mute_forever_agree_and_unmute_says_when_nothing_was_muted(
    user: User,
) -> None:
    front = user.service.front  # type: ignore[union-attr]
    not_muted = _says(user, "Les notifications sont déjà actives.", "Notifications are already on.")
    assert _text(await user.ask("/unmute")) == not_muted
    answers = []
    for command in ("/mute", "/mute forever", "/mute FOREVER"):
        answers.append(_text(await user.ask(command)))
        assert (await front.prefs(OWNER)).muted_until_s == float("inf")
        assert _text(await user.ask("/unmute")) == _says(
            user, "Notifications réactivées.", "Notifications back on."
        )
    assert len(set(answers)) == 1
    assert _says(user, "jusqu'à /unmute", "until /unmute") in answers[0]
    assert "/mute 2h" in answers[0]  # how to mute for a while instead
    assert _text(await user.ask("/unmute")) == not_muted


async def test_tz_finds_a_zone_by_its_city(user: User) -> None:
    for asked, zone in (("/tz tokyo", "Asia/Tokyo"), ("/tz new york", "America/New_York")):
        reply = await user.ask(asked)
        assert zone in _text(reply)
        assert (await user.service.front.prefs(OWNER)).tz == zone  # type: ignore[union-attr]
    ambiguous = await user.ask("/tz istanbul")
    assert "Asia/Istanbul" in _text(ambiguous) and "Europe/Istanbul" in _text(ambiguous)
    assert (await user.service.front.prefs(OWNER)).tz == "America/New_York"  # type: ignore[union-attr]


# --- anything else ----------------------------------------------------------------------------


async def test_unknown_commands_and_text_get_two_lines_of_help(user: User) -> None:
    unknown = await user.ask("/stat")
    assert _text(unknown) == _says(
        user,
        "Commande inconnue\u202f: /stat. Essayez /status ou /eta.\n"
        "/help en donne la liste complète.",
        "Unknown command: /stat. Try /status or /eta.\n/help lists them all.",
    )
    text = await user.ask("when does it finish?")
    assert len(_text(text).splitlines()) == 2 and "/help" in _text(text)
    group = {"chat_type": "supergroup", "user_id": 77}
    assert await user.silence("nice loss curve", GROUP, **group) == []  # people talking
    assert await user.silence("/stat", GROUP, **group) == []  # maybe another bot's
    assert await user.silence("/stat@other_bot", GROUP, **group) == []
    addressed = await user.ask(f"/stat@{BOT}", GROUP, **group)
    assert "/help" in _text(addressed)


async def test_help_lists_every_command(user: User) -> None:
    text = _text(await user.ask("/help"))
    for command in COMMANDS:
        assert f"/{command}" in text, command
    assert "/live off" in text and "/mute forever" in text


async def test_strangers_get_one_refusal_whatever_they_send(user: User) -> None:
    n = len(user.stub.sent)
    for text in ("hello", "/stat", "/eta", "/eta bert", "/lang", "what is this?"):
        user.stub.push_message(STRANGER, text)
    await asyncio.sleep(1.5)
    refusals = [c for c in user.stub.sent[n:] if _answer(c, STRANGER)]
    assert len(refusals) == 1 and str(STRANGER) in _text(refusals[0])
    assert "bert" not in _text(refusals[0])
