"""Texts of the bot's own interface: progress milestones, the live status message, `/plot`
(axis labels and caption) and a few command answers.

Same convention as `fr.py`/`en.py` (one dict per language, namespaced keys, French
typography applied by `fr._typography`); the keys live here, under `ui.`, until they are
folded into those catalogs. `UiTr.ui` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.estimator import EtaEstimate
from bot.core.gpu import GpuSnapshot
from bot.core.state import RunState
from bot.messages.fr import _typography
from bot.messages.lang import Tr, Value, compose, languages
from bot.messages.markup import Html, bold, code, join, to_plain
from bot.messages.progress import status_text
from bot.messages.types import Ctx

_NB = "\u00a0"
EMOJI_MILESTONE = "📍"
EMOJI_PLOT = "📉"
EMOJI_LIVE = "🔄"

_FR = {
    "ui.milestone": "{pct} de l'entraînement fait",
    "ui.mute_too_long": (
        "Durée trop longue : {value}. Au plus {max} ; <code>/mute</code> sans durée coupe "
        "jusqu'à /unmute."
    ),
    "ui.live_off": "Message d'état en direct arrêté.",
    "ui.tz_current": (
        "Fuseau horaire : {tz} ({zone}). Pour le changer : <code>/tz Europe/Paris</code>."
    ),
    "ui.plot.iteration": "itération",
    "ui.plot.loss": "loss",
    "ui.plot.train": "train loss",
    "ui.plot.val": "val loss",
    "ui.plot.step": "durée d'une itération (ms)",
    "ui.plot.temp": "température GPU (°C)",
    "ui.plot.minutes": "minutes (0 = maintenant)",
    "ui.plot.no_temp": "pas de mesure de température",
}
_EN = {
    "ui.milestone": "{pct} of the run done",
    "ui.mute_too_long": (
        "Too long: {value}. At most {max}; <code>/mute</code> with no duration mutes until /unmute."
    ),
    "ui.live_off": "Live status message stopped.",
    "ui.tz_current": "Time zone: {tz} ({zone}). To change it: <code>/tz Europe/Paris</code>.",
    "ui.plot.iteration": "iteration",
    "ui.plot.loss": "loss",
    "ui.plot.train": "train loss",
    "ui.plot.val": "val loss",
    "ui.plot.step": "step time (ms)",
    "ui.plot.temp": "GPU temperature (°C)",
    "ui.plot.minutes": "minutes (0 = now)",
    "ui.plot.no_temp": "no temperature samples",
}
UI: dict[str, dict[str, str]] = {
    "fr": {key: _typography(text) for key, text in _FR.items()},
    "en": _EN,
}


class UiTr(Tr):
    """A `Tr` that also reads this module's keys."""

    def ui(self, key: str, /, **values: Value) -> Html:
        template = UI[self.lang][key]
        return Html(template.format_map({k: self._value(v) for k, v in values.items()}))


def in_ui(tr: Tr) -> UiTr:
    """The same language and chat, with this module's keys."""
    return UiTr(tr.lang, tr.ctx)


# --- pushes ---------------------------------------------------------------------------------


def milestone_text(
    run: str, pct: int, it: int, total: int, eta: EtaEstimate, finish_at_s: float | None, ctx: Ctx
) -> str:
    """`📍 gpt2 · 50 % de l'entraînement fait · Itération 10 000 / 20 000 · Fin dans …`."""

    def body(tr: Tr) -> Html:
        ui = in_ui(tr)
        finish = (
            tr.finish(finish_at_s, tr.dur_range(eta.low_s, eta.high_s))
            if eta.remaining_s is not None
            else Html("")
        )
        return join(
            [
                ui.ui("ui.milestone", pct=tr.pct(pct)),
                tr.t("status.iter_of", iter=it, total=total),
                finish,
            ]
        )

    return compose(ctx, Html(f"{EMOJI_MILESTONE} {bold(run)}"), body)


def live_text(state: RunState, gpu: GpuSnapshot | None, ctx: Ctx) -> str:
    """The live status message: `/status`, then when it was last brought up to date."""
    clock = Tr(languages(ctx.lang)[0], ctx).clock(ctx.now_s)
    return f"{status_text(state, gpu, ctx)}\n\n{EMOJI_LIVE} {clock}"


# --- command answers ------------------------------------------------------------------------


def mute_too_long_text(ctx: Ctx, value: str, max_s: float) -> str:
    return compose(
        ctx,
        Html(""),
        lambda tr: in_ui(tr).ui("ui.mute_too_long", value=code(value), max=tr.dur(max_s)),
    )


def live_off_text(ctx: Ctx) -> str:
    return compose(ctx, Html(""), lambda tr: in_ui(tr).ui("ui.live_off"))


def tz_current_text(ctx: Ctx) -> str:
    return compose(
        ctx, Html(""), lambda tr: in_ui(tr).ui("ui.tz_current", tz=code(ctx.tz), zone=tr.tz_label())
    )


# --- /plot ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlotLabels:
    """Plain-text words drawn in the picture (one language: the chat's first)."""

    iteration: str
    loss: str
    train: str
    val: str
    step: str
    temp: str
    minutes: str
    no_temp: str


def plot_labels(ctx: Ctx) -> PlotLabels:
    ui = UiTr(languages(ctx.lang)[0], ctx)
    names = PlotLabels.__slots__
    return PlotLabels(**{name: to_plain(ui.ui(f"ui.plot.{name}")) for name in names})


def plot_caption(state: RunState, ctx: Ctx) -> str:
    """Under the picture: the run, where it stands, its best val loss."""

    def body(tr: Tr) -> Html:
        it = state.iter or 0
        total = state.total_iters
        where = (
            tr.t("status.iter_of", iter=it, total=total) if total else tr.t("status.iter", iter=it)
        )
        best = state.best
        if best is None or best.val_loss is None:
            return where
        if best.iter is None:
            return join([where, tr.t("status.best", loss=tr.loss(best.val_loss))])
        return join([where, tr.t("status.best_at", loss=tr.loss(best.val_loss), iter=best.iter)])

    return compose(ctx, Html(f"{EMOJI_PLOT} {bold(state.name)}"), body)
