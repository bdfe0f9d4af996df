"""Telegram, through python-telegram-bot: command handlers, and the sender the outbox uses.

One `async def` per command, all wiring in `build_application` (like PTB's timerbot example).
Handlers only read state through the `Backend` and render through `bot.messages`.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, CommandHandler, ContextTypes, filters

from bot import messages
from bot.core.state import RunState

log = logging.getLogger(__name__)


class Backend(Protocol):
    """What the handlers need from the service."""

    allowed_chat_ids: frozenset[int]

    async def ctx_for(self, chat_id: int) -> messages.Ctx: ...
    async def set_pref(self, chat_id: int, key: str, value: Any) -> None: ...
    def current_run(self, chat_id: int) -> RunState | None: ...
    def gpu_snapshot(self) -> Any: ...


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
        .rate_limiter(AIORateLimiter(max_retries=3))
        .job_queue(None)  # the service owns the one APScheduler scheduler
        .build()
    )
    app.bot_data["backend"] = backend
    allowed = filters.Chat(chat_id=list(backend.allowed_chat_ids))
    for name, handler in (
        ("start", start),
        ("help", help_command),
        ("eta", eta),
        ("status", status),
        ("gpu", gpu),
        ("lang", lang),
    ):
        app.add_handler(CommandHandler(name, handler, filters=allowed))
    app.add_handler(CommandHandler("start", start_stranger, filters=~allowed))
    app.add_handler(CommandHandler(_ALL_COMMANDS, refuse, filters=~allowed))
    app.add_error_handler(on_error)
    return app


_ALL_COMMANDS = ["help", "eta", "status", "gpu", "plot", "runs", "lang", "tz", "mute", "unmute"]


async def register_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu, in each language (Telegram shows the user's app language)."""
    for lang in ("en", "fr"):
        commands = [BotCommand(c, d) for c, d in messages.command_descriptions(lang)]
        await app.bot.set_my_commands(commands, language_code=lang)
    await app.bot.set_my_commands(
        [BotCommand(c, d) for c, d in messages.command_descriptions("en")]
    )


def _backend(context: ContextTypes.DEFAULT_TYPE) -> Backend:
    backend: Backend = context.application.bot_data["backend"]
    return backend


async def _reply(update: Update, text: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)


async def _chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[int, messages.Ctx]:
    chat_id = update.effective_chat.id if update.effective_chat else 0
    return chat_id, await _backend(context).ctx_for(chat_id)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet an allowed chat and say what the bot does."""
    chat_id, ctx = await _chat(update, context)
    await _reply(update, messages.start_text(ctx, chat_id, allowed=True))


async def start_stranger(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell a chat that is not allowed its id, so the owner can add it; no run data."""
    chat_id, ctx = await _chat(update, context)
    log.warning("chat %s is not in allowed_chat_ids; it asked /start", chat_id)
    await _reply(update, messages.start_text(ctx, chat_id, allowed=False))


async def refuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refuse a command from a chat that is not allowed; no run data."""
    chat_id, ctx = await _chat(update, context)
    log.warning("refused a command from chat %s (not in allowed_chat_ids)", chat_id)
    await _reply(update, messages.refusal_text(ctx, chat_id))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands."""
    _, ctx = await _chat(update, context)
    await _reply(update, messages.help_text(ctx))


async def eta(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The full ETA breakdown of the chat's run."""
    chat_id, ctx = await _chat(update, context)
    run = _backend(context).current_run(chat_id)
    await _reply(update, messages.eta_text(run, ctx) if run else messages.no_run_text(ctx))


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One screen: progress, loss, best val loss, ETA, GPUs."""
    chat_id, ctx = await _chat(update, context)
    backend = _backend(context)
    run = backend.current_run(chat_id)
    text = messages.status_text(run, backend.gpu_snapshot(), ctx) if run else None
    await _reply(update, text or messages.no_run_text(ctx))


async def gpu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The per-GPU table."""
    _, ctx = await _chat(update, context)
    await _reply(update, messages.gpu_text(_backend(context).gpu_snapshot(), ctx))


async def lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Choose the chat's language: /lang fr|en|both."""
    chat_id, ctx = await _chat(update, context)
    choice = (context.args or [""])[0].lower()
    if choice not in ("fr", "en", "both"):
        await _reply(update, messages.error_text("lang", ctx, value=choice))
        return
    await _backend(context).set_pref(chat_id, "lang", choice)
    _, ctx = await _chat(update, context)
    await _reply(update, messages.help_text(ctx))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a handler's exception; the bot keeps answering."""
    log.error("error while handling an update: %s", context.error, exc_info=context.error)
