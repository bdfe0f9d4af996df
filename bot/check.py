"""`etagram check`: what is configured, and whether each outside thing answers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TextIO

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot import messages
from bot.adapters.nvml import NvmlSampler
from bot.adapters.redact import TokenRedactingFilter
from bot.config import Config
from bot.core.gpu import GpuSource

Mark = bool | None | Literal["warn"]  # works, fails, not configured, works but beware
Report = Callable[[Mark, str, str], None]
MARKS: dict[Mark, str] = {True: "ok  ", False: "FAIL", None: "--  ", "warn": "warn"}


async def run_check(config: Config, out: TextIO, gpu: GpuSource | None = None) -> int:
    """Print the report; 0 when everything configured works (warnings included), 1
    otherwise. `gpu`: what samples the GPUs (NVML when not given)."""
    problems = warnings = 0

    def line(ok: Mark, what: str, detail: str) -> None:
        nonlocal problems, warnings
        problems += ok is False
        warnings += ok == "warn"
        out.write(f"[{MARKS[ok]}] {what:<14} {detail}\n")

    line(True, "language", config.general.language)
    line(True, "time zone", config.general.timezone or "the machine's local zone")
    line(*_state_path(config.resolved_state_path()))
    line(*_nvml(gpu or NvmlSampler(time.time)))
    if not config.telegram.token:
        line(
            None,
            "telegram",
            "no token: messages go to the console only (set ETAGRAM_TELEGRAM_TOKEN)",
        )
    else:
        await _telegram(config, line)
    if problems:
        out.write(f"\n{problems} problem(s)\n")
    else:
        out.write(f"\nworks, {warnings} warning(s)\n" if warnings else "\nall good\n")
    return 1 if problems else 0


def _state_path(path: Path) -> tuple[bool, str, str]:
    """Whether the database can be made: its folder, or the nearest folder above it that
    exists (a fresh machine has no ~/.local/state yet; etagram creates the folders)."""
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    writable = probe.is_dir() and os.access(probe, os.W_OK)
    return writable, "state database", f"{path}" + ("" if writable else " (not writable)")


def _nvml(sampler: GpuSource) -> tuple[bool | None, str, str]:
    try:
        snap = sampler.sample()
    finally:
        sampler.shutdown()
    if snap.error:
        why = messages.gpu_error_words(snap.error, "en")  # the report is in English
        return None, "NVML", f"not available: {why}; GPU telemetry off"
    names = ", ".join(f"{g.index}: {g.name}" for g in snap.gpus)
    return True, "NVML", f"{len(snap.gpus)} GPU(s): {names}"


async def _telegram(config: Config, report: Report) -> None:
    bot = Bot(config.telegram.token, base_url=config.telegram.api_base_url)
    try:
        async with bot:
            me = await bot.get_me()
            report(
                True,
                "telegram",
                f"bot @{me.username} answers at {_host(config.telegram.api_base_url)}",
            )
            seen = await _recent_chats(bot)
    except InvalidToken:
        report(False, "telegram", "the token was rejected: copy it again from @BotFather")
        return
    except TelegramError as exc:  # a proxy's error page may echo the URL, token included
        report(False, "telegram", f"cannot reach the Bot API: {_redacted(str(exc), config)}")
        return
    allowed = set(config.telegram.allowed_chat_ids)
    report(
        True if allowed else "warn",
        "allowed chats",
        ", ".join(map(str, sorted(allowed))) or "none: nobody gets pushes; add your chat id",
    )
    for chat_id, title in sorted(seen.items()):
        state = "allowed" if chat_id in allowed else "NOT allowed: add it to allowed_chat_ids"
        report(None, "chat seen", f"{chat_id} ({title}): {state}")


async def _recent_chats(bot: Bot) -> dict[int, str]:
    """Chats that wrote to the bot lately, so a new user learns their chat id."""
    chats: dict[int, str] = {}
    try:
        updates = await bot.get_updates(timeout=0)
    except TelegramError:
        return chats  # another etagram is polling: not an error of the config
    for update in updates:
        chat = update.effective_chat
        if chat is not None:
            chats[chat.id] = chat.title or chat.username or chat.first_name or chat.type
    return chats


def _redacted(text: str, config: Config) -> str:
    return TokenRedactingFilter([config.telegram.token]).redact(text)


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0]
