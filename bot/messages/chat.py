"""Texts about the conversation itself: help, welcome, refusal, errors, acknowledgements."""

from __future__ import annotations

import string

from bot.messages.lang import CATALOGS, SEPARATOR, Tr, compose, languages, on_calendar
from bot.messages.markup import NAME_CHARS, VALUE_CHARS, Html, clip, code, join
from bot.messages.types import Ctx

COMMANDS = [
    "start",
    "help",
    "eta",
    "status",
    "gpu",
    "plot",
    "runs",
    "lang",
    "tz",
    "mute",
    "unmute",
    "evals",
    "live",
    "subscribe",
    "unsubscribe",
    "stop",
]
HELP_COMMANDS = [
    "eta",
    "status",
    "gpu",
    "plot",
    "runs",
    "live",
    "stop",
    "evals",
    "mute",
    "unmute",
    "lang",
    "tz",
    "subscribe",
    "unsubscribe",
    "start",
    "help",
]
RUN_COMMANDS = frozenset(
    {"eta", "status", "gpu", "plot", "runs", "stop", "live"}
)  # they take a run's name
HELP_VARIANTS = {  # lines of their own in /help, after the command's
    "live": [("/live off", "help.live_off")],
    "mute": [("/mute", "help.mute_forever")],
}
HELP_USAGE = {"mute": "/mute 2h"}
EMOJI_HELP = "🤖"


def command_descriptions(lang: str) -> list[tuple[str, str]]:
    """(command, description) pairs for setMyCommands; `both` and unknown codes get English."""
    messages = CATALOGS.get(lang, CATALOGS["en"])
    return [(name, messages[f"cmd.{name}"]) for name in COMMANDS]


def help_text(ctx: Ctx) -> str:
    return compose(ctx, Html(EMOJI_HELP + " <b>etagram</b>"), _help_body)


def _help_body(tr: Tr) -> Html:
    """Every command, with its variants (`/live off`, `/mute` alone) and what [run] means."""
    lines = [tr.t("help.intro")]
    for name in HELP_COMMANDS:
        usage = HELP_USAGE.get(name, f"/{name}")
        if name in RUN_COMMANDS:
            usage += f" [{tr.t('help.run_arg')}]"
        lines.append(Html(f"{usage} — {tr.t(f'cmd.{name}')}"))
        lines.extend(
            Html(f"{code(variant)} — {tr.t(key)}") for variant, key in HELP_VARIANTS.get(name, [])
        )
    lines.extend([tr.t("help.run_note"), tr.t("help.examples"), tr.t("help.buttons")])
    return join(lines)


def start_text(ctx: Ctx, chat_id: int, allowed: bool) -> str:
    """Welcome for an allowed chat; for any other, its id so that the owner can add it."""
    if not allowed:
        return refusal_text(ctx, chat_id)
    return compose(ctx, Html(EMOJI_HELP + " <b>etagram</b>"), lambda tr: tr.t("start.welcome"))


def refusal_text(ctx: Ctx, chat_id: int) -> str:
    """What a chat that is not allowed gets: no run data, only how to be let in."""
    return compose(ctx, Html(""), lambda tr: tr.t("refusal", chat_id=code(chat_id)))


def no_run_text(ctx: Ctx) -> str:
    return compose(ctx, Html(""), lambda tr: tr.t("run.none"))


def error_text(key: str, ctx: Ctx, **values: str | int) -> str:
    """A one-line error (`bad_tz`, `bad_mute`, ...); unknown keys give a generic line."""
    return compose(ctx, Html(""), lambda tr: _line(tr, "error", key, values))


def ack_text(key: str, ctx: Ctx, **values: str | int) -> str:
    """Confirmation of a setting (`lang_set`, `tz_set`, `unmuted`, `subscribed`, ...)."""
    return compose(ctx, Html(""), lambda tr: _line(tr, "ack", key, values))


def _line(tr: Tr, kind: str, key: str, values: dict[str, str | int]) -> Html:
    full = f"{kind}.{key}"
    if full not in tr.messages:
        return tr.t(f"{kind}.generic", key=code(clip(key, NAME_CHARS)))
    placeholders = _placeholders(tr.messages[full])
    filled: dict[str, Html | str | int] = {name: "?" for name in placeholders}
    # Words a user typed go in <code>; counts are formatted as numbers.
    filled.update(
        {
            k: v if isinstance(v, int) else code(clip(str(v), VALUE_CHARS))
            for k, v in values.items()
            if k in placeholders
        }
    )
    return tr.t(full, **filled)


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def late_text(text: str, written_s: float, ctx: Ctx) -> str:
    """`text`, written at `written_s` and sent now, with a line saying so at the end of each
    language's part."""
    notes = [
        tr.t("late.note", delay=tr.dur(ctx.now_s - written_s), time=tr.clock(written_s))
        for tr in (Tr(lang, ctx) for lang in languages(ctx.lang))
    ]
    return _with_notes(text, notes)


def _with_notes(text: str, notes: list[Html]) -> str:
    """`text` with one note at the end of each language's part."""
    parts = text.split(SEPARATOR)
    if len(parts) != len(notes):  # not one part per language: every note at the end
        parts, notes = [text], [Html("\n".join(notes))]
    return SEPARATOR.join(join([Html(p), n], "\n\n") for p, n in zip(parts, notes, strict=True))


def degraded_text(text: str, parts: list[tuple[str, str]], ctx: Ctx) -> str:
    """`text` (a /status screen) with a line, at the end of each language's part, naming
    the parts of etagram that failed and are being restarted: (kind, run) pairs, kind one of
    follow, consume, gpu, live, tick, checks."""
    trs = [Tr(lang, ctx) for lang in languages(ctx.lang)]
    return _with_notes(
        text,
        [
            tr.t(
                "degraded.note", parts=join([tr.t(f"degraded.{k}", run=r) for k, r in parts], ", ")
            )
            for tr in trs
        ],
    )


def mute_text(ctx: Ctx, until_s: float | None) -> str:
    """`/mute 2h` answered with the end of the silence on the chat's clock."""
    return compose(ctx, Html(""), lambda tr: _mute(tr, until_s))


def _mute(tr: Tr, until_s: float | None) -> Html:
    if not on_calendar(until_s) or not on_calendar(tr.ctx.now_s):
        return tr.t("ack.muted_forever")
    assert until_s is not None
    return tr.t("ack.muted_until", rel=tr.dur(until_s - tr.ctx.now_s), when=tr.when(until_s))


def button_label(key: str, lang: str) -> str:
    """Inline button text (`refresh`, `plot`, `mute_1h`); `both`: `Actualiser / Refresh`,
    one word when the two languages share it; unknown codes read English."""
    labels = [CATALOGS[code].get(f"button.{key}", key) for code in languages(lang)]
    return " / ".join(dict.fromkeys(labels))
