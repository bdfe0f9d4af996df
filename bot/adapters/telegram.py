"""Telegram, through python-telegram-bot: commands, buttons, and sending long texts.

One `async def` per command, all wiring in `build_application` (like PTB's timerbot example).
Handlers read state through the `Backend`, parse arguments with `bot.core.prefs`, and render
through `bot.messages`. Only chats in `allowed_chat_ids` (users or groups) see run data;
any other chat gets a short refusal, and the attempt is logged with its chat id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import messages
from bot.core.confirm import Confirmations
from bot.core.gpu import GpuSnapshot
from bot.core.gpumap import GpuMap
from bot.core.prefs import (
    MAX_MUTE_S,
    Callback,
    CallbackError,
    ChatPrefs,
    EvalsMode,
    PrefError,
    match_runs,
    parse_callback,
    parse_duration,
    parse_evals,
    parse_lang,
    parse_mute,
    parse_tz,
    run_token,
)
from bot.core.state import RunState
from bot.messages import bot_ui
from bot.messages.markup import to_plain
from bot.messages.stop import (
    stop_cancelled_text,
    stop_confirm_text,
    stop_expired_text,
    stop_refused_text,
    stop_sent_text,
    stop_under_way_text,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ANSWER = 200  # answerCallbackQuery text
CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 15.0
REFUSAL_EVERY_S = 3600.0  # a chat that is not allowed is answered once an hour at most
REFUSED_KEPT = 10_000  # chats refused within the hour that are remembered before pruning
REFUSALS_PER_MIN = 20  # all strangers together: a flood from many chats costs a few sends
REPLY_RETRY_AFTER_MAX_S = 5.0  # a command's answer waits out a 429 this long at most
EXPIRY_SLACK_S = 1.0  # an expired /stop question is edited this long after its time is up
_TAG = re.compile(r"<(/?)(b|i|code|pre)>")
_CUT_MARGIN = 64  # room for the tags closed and reopened where a long text is cut


class Backend(Protocol):
    """What the handlers need from the service."""

    allowed_chat_ids: frozenset[int]
    now: Callable[[], float]
    degraded: dict[tuple[str, str], str]  # parts failing and restarting: (kind, run) -> error

    async def ctx_for(self, chat_id: int) -> messages.Ctx: ...
    async def prefs(self, chat_id: int) -> ChatPrefs: ...
    async def save_prefs(self, chat_id: int, prefs: ChatPrefs) -> None: ...
    async def run_for(self, chat_id: int) -> RunState | None: ...
    def run_states(self) -> list[RunState]: ...
    def gpu_snapshot(self) -> GpuSnapshot | None: ...
    def host_shown(self, run: str) -> str: ...  # the machine to name with `run`; "": none

    @property
    def pids(self) -> set[int]: ...  # training processes etagram launched

    @property
    def gpu_map(self) -> GpuMap | None: ...  # which GPUs each run uses; None: not read
    async def plot(self, run: RunState, ctx: messages.Ctx) -> tuple[bytes, str] | None: ...
    async def start_live(self, chat_id: int, run: str | None = None) -> None: ...
    async def stop_live(self, chat_id: int) -> None: ...

    # /stop
    stops: Confirmations  # questions awaiting a press, on the loop's clock

    @property
    def stop_grace_s(self) -> float: ...
    def stop_status(self, run: str) -> str: ...
    def stop_under_way(self, run: str) -> tuple[str, str]: ...
    def stop_run(self, run: str, by: str, user_id: int, chat_id: int) -> bool: ...
    def later(self, delay_s: float, job: Callable[[], Coroutine[Any, Any, None]]) -> None: ...


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def build_application(
    token: str, base_url: str, backend: Backend
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application with every handler; the service starts and stops it."""
    file_url = base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url
    app = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        # Telegram's throughput limits, but no retry on a 429: AIORateLimiter waits out
        # retry_after (a day, once seen) on one event shared by every chat, commands included.
        # The outbox waits per chat, capped; a command's answer fails at once.
        .rate_limiter(AIORateLimiter(max_retries=0))
        # A send that times out waiting for the answer may have been delivered all the same
        # (see bot/adapters/outbox.py): wait for a slow Telegram rather than guess.
        .connect_timeout(CONNECT_TIMEOUT_S)
        .read_timeout(ANSWER_TIMEOUT_S)
        .write_timeout(ANSWER_TIMEOUT_S)
        .job_queue(None)  # the service runs its periodic jobs itself, on the monotonic clock
        .build()
    )
    app.bot_data["backend"] = backend
    # It logs each 429 with a traceback when it does not retry; the outbox logs one line.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    allowed = filters.Chat(chat_id=list(backend.allowed_chat_ids))
    for name, handler in COMMANDS.items():
        app.add_handler(CommandHandler(name, handler, filters=allowed))
    app.add_handler(CommandHandler("start", start_stranger, filters=~allowed))
    app.add_handler(CommandHandler([c for c in COMMANDS if c != "start"], refuse, filters=~allowed))
    # After the commands: what none of them took. Plain text only in a private chat (a group
    # talks among itself); new messages only, not edits.
    unknown = filters.UpdateType.MESSAGE & (
        filters.COMMAND | (filters.TEXT & filters.ChatType.PRIVATE)
    )
    app.add_handler(MessageHandler(unknown & allowed, unknown_input))
    app.add_handler(MessageHandler(unknown & ~allowed, refuse_unknown))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(on_error)
    return app


async def register_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu, in each language (Telegram shows the user's app language)."""
    for lang in ("en", "fr"):
        commands = [BotCommand(c, d) for c, d in messages.command_descriptions(lang)]
        await app.bot.set_my_commands(commands, language_code=lang)
    await app.bot.set_my_commands(
        [BotCommand(c, d) for c, d in messages.command_descriptions("en")]
    )


# --- long texts ----------------------------------------------------------------------------


def split_html(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Telegram-HTML `text` in messages of at most `limit` characters, cut at line ends.

    Tags open where a cut falls are closed there and opened again in the next part; a line
    too long by itself is cut between tags and entities.
    """
    if _units(text) <= limit:
        return [text]
    budget = limit - _CUT_MARGIN
    chunks: list[str] = []
    current, stack = "", list[str]()
    for line in text.split("\n"):
        pieces = [line] if _units(line) <= budget // 2 else _atoms(line, budget // 4)
        for i, piece in enumerate(pieces):
            sep = "\n" if i == 0 and current else ""
            if current and _units(current) + len(sep) + _units(piece) > budget:
                chunks.append(current + _close(stack))
                current, sep = _reopen(stack), ""
            current += sep + piece
            stack = _track(stack, piece)
    chunks.append(current + _close(stack))
    return [chunk for chunk in chunks if to_plain(chunk).strip()]


def fit(text: str, limit: int = MAX_TEXT) -> str:
    """The first part of `text` that fits (a caption, an edited message)."""
    parts = split_html(text, limit)
    return parts[0] if parts else text[:limit]


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), an upper bound of the visible text."""
    return len(text.encode("utf-16-le")) // 2


def _atoms(line: str, size: int) -> list[str]:
    """A long line as tags, entities and runs of at most `size` other characters."""
    return re.findall(rf"<[^<>]*>|&#?\w+;|[^<&]{{1,{size}}}|[<&]", line)


def _track(stack: list[str], piece: str) -> list[str]:
    stack = list(stack)
    for closing, name in _TAG.findall(piece):
        if not closing:
            stack.append(name)
        elif stack and stack[-1] == name:
            stack.pop()
    return stack


def _close(stack: list[str]) -> str:
    return "".join(f"</{name}>" for name in reversed(stack))


def _reopen(stack: list[str]) -> str:
    return "".join(f"<{name}>" for name in stack)


async def send_text(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    silent: bool = False,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Send `text`, split if needed; the buttons go under the last part."""
    parts = split_html(text)
    sent = None
    for n, part in enumerate(parts, 1):
        sent = await bot.send_message(
            chat_id,
            part,
            parse_mode=ParseMode.HTML,
            disable_notification=silent,
            reply_markup=markup if n == len(parts) else None,
        )
    return sent


def retry_after_s(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int today and a timedelta in a later PTB."""
    value: Any = exc.retry_after
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


# --- helpers -------------------------------------------------------------------------------


def _backend(context: ContextTypes.DEFAULT_TYPE) -> Backend:
    backend: Backend = context.application.bot_data["backend"]
    return backend


def _chat_id(update: Update) -> int:
    return update.effective_chat.id if update.effective_chat else 0


async def _reply(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Answer in the update's chat; the message sent (its last part), None if dropped."""
    if update.effective_chat is None:
        return None
    chat_id = update.effective_chat.id
    try:
        return await send_text(context.bot, chat_id, text, markup=markup)
    except RetryAfter as exc:  # a short wait is worth it; a long one would hold up every chat
        wait_s = retry_after_s(exc)
        if wait_s > REPLY_RETRY_AFTER_MAX_S:
            log.warning("answer to chat %s dropped: Telegram asks to wait %.0f s", chat_id, wait_s)
            return None
        await asyncio.sleep(wait_s)
        return await send_text(context.bot, chat_id, text, markup=markup)


async def _chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[int, messages.Ctx]:
    chat_id = _chat_id(update)
    return chat_id, await _backend(context).ctx_for(chat_id)


async def run_asked(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, required: bool = True
) -> RunState | None:
    """The run a command is about: the one its argument names (its name or the start of it,
    in any case; see `match_runs`), else the chat's own run.

    None after answering the chat: with the runs followed when the argument names no run or
    several, with "no run yet" when there is none and `required`. Without an argument and
    with `required` false, None says only that there is no run (nothing was answered).
    """
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    if not context.args:
        run = await backend.run_for(chat_id)
        if run is None and required:
            await _reply(update, context, messages.no_run_text(ctx))
        return run
    asked = _arg(context)
    states = backend.run_states()
    found = match_runs(asked, [s.name for s in states])
    if len(found) == 1:
        return next(s for s in states if s.name == found[0])
    selected = await backend.run_for(chat_id)
    name = selected.name if selected else None
    text = bot_ui.run_not_found_text(asked, states, name, len(found) > 1, ctx)
    await _reply(update, context, text, _runs_keyboard(states, name))
    return None


def _arg(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join(context.args or [])


def _keyboard(view: str, lang: str, token: str = "") -> InlineKeyboardMarkup:
    """Refresh (the same view), Plot, Mute 1 h; `token`: of the run the command named (none:
    the chat's run, whichever it is when pressed)."""
    buttons = [
        (messages.button_label("refresh", lang), Callback(view, token)),
        (messages.button_label("plot", lang), Callback("plot", token)),
        (messages.button_label("mute_1h", lang), Callback("mute", "1h")),
    ]
    keys = [InlineKeyboardButton(label, callback_data=cb.encode()) for label, cb in buttons]
    # bilingual labels are twice as long: one a row, or a phone cuts them
    return InlineKeyboardMarkup([[key] for key in keys] if lang == "both" else [keys])


def _runs_keyboard(runs: list[RunState], selected: str | None) -> InlineKeyboardMarkup | None:
    if len(runs) < 2:
        return None
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if state.name == selected else "") + state.name[:48],
                callback_data=Callback("run", run_token(state.name)).encode(),
            )
        ]
        for state in runs
    ]
    return InlineKeyboardMarkup(rows)


def _view(backend: Backend, run: RunState | None, view: str, ctx: messages.Ctx) -> str:
    """The text of /eta or /status for `run`."""
    if run is None:
        return messages.no_run_text(ctx)
    ctx = dataclasses.replace(ctx, host=backend.host_shown(run.name))
    if view == "eta":
        return messages.eta_text(run, ctx)
    text = messages.status_text(run, backend.gpu_snapshot(), ctx)
    return messages.degraded_text(text, sorted(backend.degraded), ctx) if backend.degraded else text


# --- strangers -----------------------------------------------------------------------------


def _first_refusal(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> bool:
    """Whether a chat that is not allowed gets an answer now: one per REFUSAL_EVERY_S, so
    that a stranger's flood costs one message (and one log line) an hour, and the owner's
    commands, handled after theirs, do not wait behind refusals. Updates are handled one at
    a time, so REFUSALS_PER_MIN bounds what strangers from many chats cost together; one
    over it is answered at its next message once the minute has passed."""
    refused: dict[int, float] = context.application.bot_data.setdefault("refused", {})
    recent: deque[float] = context.application.bot_data.setdefault("recent_refusals", deque())
    now = time.monotonic()
    if now - refused.get(chat_id, -math.inf) < REFUSAL_EVERY_S:
        return False
    while recent and now - recent[0] >= 60.0:
        recent.popleft()
    if len(recent) >= REFUSALS_PER_MIN:
        return False
    recent.append(now)
    if len(refused) >= REFUSED_KEPT:  # many strangers: forget those refused over an hour ago
        for old in [c for c, t in refused.items() if now - t >= REFUSAL_EVERY_S]:
            del refused[old]
    refused[chat_id] = now
    return True


async def start_stranger(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell a chat that is not allowed its id, so the owner can add it; no run data."""
    await _refuse(update, context, "chat %s is not in allowed_chat_ids; it sent /start", True)


async def refuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refuse a command from a chat that is not allowed; no run data."""
    await _refuse(update, context, "refused a command from chat %s (not in allowed_chat_ids)")


async def _refuse(
    update: Update, context: ContextTypes.DEFAULT_TYPE, why: str, start: bool = False
) -> None:
    """The stranger's answer (the welcome's, with its id, for /start), once an hour."""
    chat_id = _chat_id(update)
    if not _first_refusal(context, chat_id):
        return
    ctx = await _backend(context).ctx_for(chat_id)
    log.warning(why, chat_id)
    if start:
        await _reply(update, context, messages.start_text(ctx, chat_id, allowed=False))
    else:
        await _reply(update, context, messages.refusal_text(ctx, chat_id))


# --- commands ------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet an allowed chat and say what the bot does."""
    chat_id, ctx = await _chat(update, context)
    await _reply(update, context, messages.start_text(ctx, chat_id, allowed=True))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _, ctx = await _chat(update, context)
    await _reply(update, context, messages.help_text(ctx))


async def eta(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The full ETA breakdown of `/eta RUN` (or the chat's run), with buttons."""
    await _show(update, context, "eta")


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One screen: progress, loss, best val loss, ETA, GPUs; with buttons."""
    await _show(update, context, "status")


async def _show(update: Update, context: ContextTypes.DEFAULT_TYPE, view: str) -> None:
    run = await run_asked(update, context)
    if run is None:
        return
    _, ctx = await _chat(update, context)
    token = run_token(run.name) if context.args else ""
    text = _view(_backend(context), run, view, ctx)
    await _reply(update, context, text, _keyboard(view, ctx.lang, token))


async def gpu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The per-GPU table; `/gpu RUN` (or the chat's run) first."""
    run = await run_asked(update, context, required=False)
    if run is None and context.args:
        return
    _, ctx = await _chat(update, context)
    backend = _backend(context)
    name = run.name if run is not None else None
    if name is not None:
        ctx = dataclasses.replace(ctx, host=backend.host_shown(name))
    text = messages.gpu_text(backend.gpu_snapshot(), ctx, backend.pids, backend.gpu_map, name)
    await _reply(update, context, text)


async def plot(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The loss curves, step time and GPU temperature of `/plot RUN` as a picture."""
    run = await run_asked(update, context)
    if run is not None:
        chat_id, ctx = await _chat(update, context)
        await _send_plot(context, chat_id, run, ctx)


async def _send_plot(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, run: RunState, ctx: messages.Ctx
) -> None:
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
    try:
        made = await _backend(context).plot(run, ctx)
    except Exception:  # a drawing bug must not cost the user an answer
        log.exception("plot failed for chat %s", chat_id)
        await send_text(context.bot, chat_id, messages.error_text("plot_failed", ctx))
        return
    if made is None:
        await send_text(context.bot, chat_id, messages.error_text("plot_empty", ctx))
        return
    png, caption = made
    await context.bot.send_photo(
        chat_id, png, caption=fit(caption, MAX_CAPTION), parse_mode=ParseMode.HTML
    )


async def runs(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The runs followed; buttons pick the one this chat reads, and so does `/runs NAME`
    (what pressing its button does, typed)."""
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    states = backend.run_states()
    if context.args:
        picked = await run_asked(update, context)
        if picked is None:  # answered: no run by that name, or several
            return
        await backend.save_prefs(chat_id, (await backend.prefs(chat_id)).with_(run=picked.name))
        text = _runs_text(backend, states, picked.name, ctx, picked=True)
        await _reply(update, context, text, _runs_keyboard(states, picked.name))
        return
    selected = await backend.run_for(chat_id)
    name = selected.name if selected else None
    text = _runs_text(backend, states, name, ctx)
    await _reply(update, context, text, _runs_keyboard(states, name))


def _runs_text(
    backend: Backend,
    states: list[RunState],
    selected: str | None,
    ctx: messages.Ctx,
    *,
    picked: bool = False,
) -> str:
    """/runs, each run with its machine where messages name it; `picked`: `selected` was just
    picked with `/runs NAME`, which the answer says first."""
    hosts = {s.name: backend.host_shown(s.name) for s in states}
    if picked and selected is not None:
        return messages.run_picked_text(states, selected, ctx, hosts)
    return messages.runs_text(states, selected, ctx, hosts)


async def lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lang fr|en|both; alone, the language in use."""
    if not context.args:
        _, ctx = await _chat(update, context)
        await _reply(update, context, bot_ui.lang_current_text(ctx.lang, ctx))
        return
    await _set(update, context, lambda p, arg: p.with_(lang=parse_lang(arg)), "lang_set")


async def tz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/tz Europe/Paris or /tz paris; alone, the zone in use."""
    if not context.args:
        _, ctx = await _chat(update, context)
        await _reply(update, context, bot_ui.tz_current_text(ctx))
        return
    await _set(update, context, lambda p, arg: p.with_(tz=parse_tz(arg)), "tz_set")


async def mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mute 2h (90m, 1d, at most a week); alone or `forever`, until /unmute."""
    chat_id, ctx = await _chat(update, context)
    try:
        seconds = parse_mute(_arg(context))
    except PrefError as exc:
        await _reply(update, context, _pref_error(exc, ctx))
        return
    await _reply(update, context, await _mute(_backend(context), chat_id, seconds))


async def _mute(backend: Backend, chat_id: int, seconds: float | None) -> str:
    until = backend.now() + seconds if seconds is not None else float("inf")
    prefs = await backend.prefs(chat_id)
    await backend.save_prefs(chat_id, prefs.with_(muted_until_s=until))
    ctx = await backend.ctx_for(chat_id)
    if seconds is None:
        return bot_ui.muted_forever_text(ctx)
    return messages.mute_text(ctx, until)


async def unmute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unmute; says so when notifications were not muted."""
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    if not (await backend.prefs(chat_id)).muted(backend.now()):
        await _reply(update, context, bot_ui.not_muted_text(ctx))
        return
    await _set(update, context, lambda p, _: p.with_(muted_until_s=None), "unmuted")


async def evals(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/evals all|best|every N|off; alone, the current setting."""
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    prefs = await backend.prefs(chat_id)
    if not context.args:
        await _reply(update, context, bot_ui.evals_current_text(prefs.evals, ctx))
        return
    try:
        prefs = prefs.with_(evals=parse_evals(list(context.args)))
    except PrefError as exc:
        await _reply(update, context, _pref_error(exc, ctx))
        return
    await backend.save_prefs(chat_id, prefs)
    await _reply(update, context, _evals_ack(prefs.evals, ctx))


def _evals_ack(mode: EvalsMode, ctx: messages.Ctx) -> str:
    if mode.mode == "every":
        return messages.ack_text("evals_every", ctx, n=mode.every)
    return messages.ack_text(f"evals_{mode.mode}", ctx)


async def live(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/live [RUN]: one status message kept up to date (and pinned), of RUN or else the
    chat's run; /live off stops it."""
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    if _arg(context).lower() == "off":
        await backend.stop_live(chat_id)
        await _reply(update, context, bot_ui.live_off_text(ctx))
        return
    run = await run_asked(update, context, required=False)
    if run is None and context.args:
        return
    await _reply(update, context, messages.ack_text("live_on", ctx))
    await backend.start_live(chat_id, run.name if context.args and run else None)


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set(update, context, lambda p, _: p.with_(subscribed=True), "subscribed")


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set(update, context, lambda p, _: p.with_(subscribed=False), "unsubscribed")


async def _set(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    change: Callable[[ChatPrefs, str], ChatPrefs],
    ack: str,
) -> None:
    """Apply a preference change made from the command's argument, then acknowledge it in
    the chat's (possibly new) language; a bad argument gets its one-line error."""
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    try:
        prefs = change(await backend.prefs(chat_id), _arg(context))
    except PrefError as exc:
        await _reply(update, context, _pref_error(exc, ctx))
        return
    await backend.save_prefs(chat_id, prefs)
    ctx = await backend.ctx_for(chat_id)
    await _reply(update, context, messages.ack_text(ack, ctx, tz=ctx.tz))  # tz: for tz_set


def _pref_error(exc: PrefError, ctx: messages.Ctx) -> str:
    if exc.key == "mute_too_long":
        return bot_ui.mute_too_long_text(ctx, exc.value, MAX_MUTE_S)
    if exc.key == "tz_ambiguous":
        return bot_ui.tz_ambiguous_text(ctx, exc.value, exc.choices)
    return messages.error_text(exc.key, ctx, value=exc.value or "?")


async def unknown_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An unknown command, or plain text in a private chat: two lines of help."""
    if (said := _unknown(update, context)) is not None:
        _, ctx = await _chat(update, context)
        await _reply(update, context, bot_ui.unknown_input_text(said or None, ctx))


async def refuse_unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A stranger's unknown command or private text: the same refusal as for a command."""
    if _unknown(update, context) is not None:
        await refuse(update, context)


def _unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The unknown command of a message for this bot (`/foo`), "" for plain text, None for
    a message to leave alone: a command addressed to another bot (`/foo@other_bot`), or in
    a group one not addressed to this bot (it may be another bot's)."""
    message = update.effective_message
    if message is None or not message.text:
        return None
    if not (message.entities and message.entities[0].type == "bot_command"):
        return ""
    command, _, addressee = message.text.split(maxsplit=1)[0].partition("@")
    if addressee.lower() == (context.bot.username or "").lower():
        return command
    return command if not addressee and message.chat.type == "private" else None


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stop [RUN]: ask, with Stop / Cancel buttons, before stopping a run etagram launched."""
    run = await run_asked(update, context)
    if run is None:
        return
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    if (refusal := _cannot_stop(backend, run.name, ctx)) is not None:
        await _reply(update, context, refusal)
        return
    nonce = secrets.token_urlsafe(12)  # 96 random bits: the button's only authority
    stops = backend.stops
    stops.ask(nonce, run.name, chat_id, asyncio.get_running_loop().time())
    text = stop_confirm_text(run.name, backend.stop_grace_s, stops.valid_s, ctx)
    sent = await _reply(update, context, text, _stop_keyboard(nonce, ctx.lang))
    if sent is not None:
        expire = _expire_stop(context.bot, backend, nonce, sent.chat_id, sent.message_id)
        backend.later(stops.valid_s + EXPIRY_SLACK_S, expire)


def _cannot_stop(backend: Backend, run: str, ctx: messages.Ctx) -> str | None:
    """Why `run` cannot be stopped now (being stopped, ended, not launched, remote)."""
    status = backend.stop_status(run)
    if status == "running":
        return None
    if status == "stopping":
        signal, by = backend.stop_under_way(run)
        return stop_under_way_text(run, signal, by, ctx)
    return stop_refused_text(run, status, ctx)


def _stop_keyboard(nonce: str, lang: str) -> InlineKeyboardMarkup:
    buttons = [
        (messages.button_label("stop", lang), Callback("stop", nonce)),
        (messages.button_label("stop_cancel", lang), Callback("nostop", nonce)),
    ]
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=cb.encode()) for label, cb in buttons]]
    )


def _expire_stop(
    bot: Bot, backend: Backend, nonce: str, chat_id: int, message_id: int
) -> Callable[[], Coroutine[Any, Any, None]]:
    """The job that, once the question is over unanswered, says so in its message."""

    async def job() -> None:
        pending = backend.stops.expire(nonce, asyncio.get_running_loop().time())
        if pending is None:  # answered
            return
        ctx = await backend.ctx_for(chat_id)
        text = stop_expired_text(pending.run, backend.stops.valid_s, ctx)
        try:
            await bot.edit_message_text(text, chat_id, message_id, parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.info("cannot say that the /stop question in chat %s expired (%s)", chat_id, exc)

    return job


COMMANDS: dict[str, Handler] = {
    "start": start,
    "help": help_command,
    "eta": eta,
    "status": status,
    "gpu": gpu,
    "plot": plot,
    "runs": runs,
    "lang": lang,
    "tz": tz,
    "mute": mute,
    "unmute": unmute,
    "evals": evals,
    "live": live,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "stop": stop,
}


# --- buttons -------------------------------------------------------------------------------


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed inline button: checked like a command, then acted on."""
    query = update.callback_query
    if query is None:
        return
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    if chat_id not in backend.allowed_chat_ids:
        if _first_refusal(context, chat_id):
            log.warning("refused a button from chat %s (not in allowed_chat_ids)", chat_id)
            await _toast(query, messages.refusal_text(ctx, chat_id))
        return
    try:
        button = parse_callback(query.data)
    except CallbackError as exc:
        log.info("%s button data from chat %s", exc.kind, chat_id)
        await _toast(query, messages.error_text("stale_button", ctx))
        return
    if button.action in ("eta", "status", "plot"):
        await _run_button(query, context, chat_id, button, ctx)
    elif button.action == "mute":
        await _mute_button(query, context, chat_id, button.arg, ctx)
    elif button.action in ("stop", "nostop"):
        await _stop_button(query, backend, chat_id, button, ctx)
    else:
        await _pick_run(query, backend, chat_id, button.arg, ctx)


async def _toast(query: CallbackQuery, text: str) -> None:
    """A short notice over the chat (answerCallbackQuery), plain text."""
    plain = to_plain(text).strip()
    await query.answer(plain if len(plain) <= MAX_ANSWER else plain[: MAX_ANSWER - 1] + "…")


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> bool:
    """Edit the button's message in place; False when that message is gone."""
    try:
        await query.edit_message_text(fit(text), parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():  # same text: already up to date
            log.info("cannot edit the message of a button (%s)", exc)
            return False
    return True


async def _run_button(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    button: Callback,
    ctx: messages.Ctx,
) -> None:
    """Refresh or Charts, for the run the button names (`/eta RUN`), else the chat's run."""
    backend = _backend(context)
    if button.arg:
        run = next((s for s in backend.run_states() if run_token(s.name) == button.arg), None)
        if run is None:  # a run no longer followed
            await _toast(query, messages.error_text("stale_button", ctx))
            return
    else:
        run = await backend.run_for(chat_id)
    if button.action != "plot":
        await _refresh(query, backend, run, button, ctx)
        return
    await query.answer()
    if run is None:
        await send_text(context.bot, chat_id, messages.no_run_text(ctx))
    else:
        await _send_plot(context, chat_id, run, ctx)


async def _refresh(
    query: CallbackQuery,
    backend: Backend,
    run: RunState | None,
    button: Callback,
    ctx: messages.Ctx,
) -> None:
    text = _view(backend, run, button.action, ctx)
    if await _edit(query, text, _keyboard(button.action, ctx.lang, button.arg)):
        await query.answer()
    else:
        await _toast(query, messages.error_text("stale_button", ctx))


async def _mute_button(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    arg: str,
    ctx: messages.Ctx,
) -> None:
    try:
        seconds = parse_duration(arg)
    except PrefError:
        await _toast(query, messages.error_text("stale_button", ctx))
        return
    text = await _mute(_backend(context), chat_id, seconds)
    await query.answer()
    await send_text(context.bot, chat_id, text)


async def _stop_button(
    query: CallbackQuery, backend: Backend, chat_id: int, button: Callback, ctx: messages.Ctx
) -> None:
    """Stop or Cancel under a /stop question: acted on once, in its chat, within its time."""
    who, user_id = _who(query.from_user)
    pending = backend.stops.take(button.arg, chat_id, asyncio.get_running_loop().time())
    if pending is None:
        log.warning(
            "%s button from %r (user %s) in chat %s matches no open /stop question: ignored",
            button.action,
            who,
            user_id,
            chat_id,
        )
        await _toast(query, messages.error_text("stop_expired", ctx))
        return
    run = pending.run
    if button.action == "nostop":
        log.info("run %r: /stop cancelled by %r (user %s) in chat %s", run, who, user_id, chat_id)
        await _edit(query, stop_cancelled_text(run, who, ctx), None)
        await query.answer()
        return
    if (refusal := _cannot_stop(backend, run, ctx)) is not None:  # ended since, or stopping
        await _edit(query, refusal, None)
        await query.answer()
        return
    backend.stop_run(run, who, user_id, chat_id)
    log.warning(
        "run %r: stop asked from Telegram by %r (user %s, chat %s)", run, who, user_id, chat_id
    )
    await _edit(query, stop_sent_text(run, who, backend.stop_grace_s, ctx), None)
    await query.answer()


def _who(user: User | None) -> tuple[str, int]:
    """How a user is named in messages (`@alice`, else their name), and their id."""
    if user is None:
        return "?", 0
    return (f"@{user.username}" if user.username else user.full_name or str(user.id)), user.id


async def _pick_run(
    query: CallbackQuery, backend: Backend, chat_id: int, token: str, ctx: messages.Ctx
) -> None:
    states = backend.run_states()
    chosen = next((s for s in states if run_token(s.name) == token), None)
    if chosen is None:  # a run no longer followed
        await _toast(query, messages.error_text("stale_button", ctx))
        return
    prefs = await backend.prefs(chat_id)
    await backend.save_prefs(chat_id, prefs.with_(run=chosen.name))
    await _edit(
        query,
        _runs_text(backend, states, chosen.name, ctx),
        _runs_keyboard(states, chosen.name),
    )
    await _toast(query, messages.ack_text("run_selected", ctx, run=chosen.name))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a handler's exception and tell an allowed chat its command failed (rather than
    leave it without an answer); the bot keeps answering."""
    if isinstance(context.error, TelegramError):
        log.warning("Telegram error while handling an update: %s", context.error)
        return
    log.error("error while handling an update: %s", context.error, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    chat_id = update.effective_chat.id
    backend = _backend(context)
    if chat_id not in backend.allowed_chat_ids:
        return
    try:
        ctx = await backend.ctx_for(chat_id)
        await send_text(context.bot, chat_id, messages.error_text("internal", ctx))
    except Exception as exc:  # the error handler itself must not raise
        log.warning("could not tell chat %s that its command failed (%s)", chat_id, exc)
