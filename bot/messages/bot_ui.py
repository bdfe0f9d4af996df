"""Texts of the bot's own interface: progress milestones, the live status message, `/plot`
(axis labels and caption) and a few command answers.

Same convention as `fr.py`/`en.py` (one dict per language, namespaced keys, French
typography applied by `fr._typography`); the keys live here, under `ui.`, until they are
folded into those catalogs. `UiTr.ui` reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.estimator import EtaEstimate
from bot.core.gpu import GpuSnapshot
from bot.core.state import RunState
from bot.messages.fr import _typography
from bot.messages.lang import Tr, Value, compose, languages
from bot.messages.markup import NAME_CHARS, Html, bold, clip, code, join, to_plain
from bot.messages.progress import eta_text, status_text
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
    "ui.plot.progress": "Itération {iter} / {total} · {pct}",
    "ui.plot.no_eta": "Heure de fin pas encore connue",
    "ui.plot.finished": "Terminé en {elapsed}",
    "ui.plot.stopped": "Arrêté sur une erreur après {elapsed}",
    "ui.plot.loss": "loss",
    "ui.plot.train": "train",
    "ui.plot.val": "val",
    "ui.plot.step": "ms par itération",
    "ui.plot.eval": "éval",
    "ui.plot.gpu_one": "GPU",
    "ui.plot.gpu_many": "{n} GPU : le pire de chaque mesure",
    "ui.plot.temp": "°C",
    "ui.plot.memory": "mémoire %",
    "ui.plot.util": "utilisation %",
    "ui.plot.throttle": "bridage",
    "ui.plot.now": "maintenant",
    "ui.plot.kilo": "{n} k",
    "ui.plot.alert": "alerte",
    "ui.plot.alert.oom": "OOM",
    "ui.plot.alert.nan": "NaN",
    "ui.plot.alert.crash": "arrêt",
    "ui.plot.alert.loss_spike": "pic",
    "ui.plot.alert.slowdown": "ralenti",
    "ui.plot.alert.thermal": "chaleur",
    "ui.plot.alert.power": "puissance",
    "ui.plot.alert.stall": "bloqué",
    "ui.plot.alert.memory_pressure": "mémoire",
    "ui.plot.alert.gpu_lost": "GPU perdu",
    "ui.demo.intro": (
        "etagram demo : un entraînement nanoGPT simulé, {speed} fois plus vite qu'en vrai ; "
        "les durées et heures de fin annoncées sont celles qu'aurait le vrai. Son log : {log}"
    ),
    "ui.tour.over": "🏁 Fin de la démo : l'entraînement simulé s'est arrêté comme prévu.",
    "ui.tour.eta": "/eta répondrait, ici dans les deux langues ({setting}) :",
    "ui.tour.status": "/status répondrait :",
    "ui.tour.plot": "/plot enverrait cette image : {path}",
    "ui.tour.next": "Et maintenant, sur un vrai entraînement :",
    "ui.tour.watch": "suivre son log : {cmd}",
    "ui.tour.run": "ou le lancer et le suivre : {cmd}",
    "ui.tour.telegram": (
        "Pour recevoir ces messages sur Telegram : créez un bot avec @BotFather, mettez son "
        "jeton dans {token}, écrivez-lui, puis {check} donne l'identifiant de la conversation "
        "à mettre dans {chats} (détails dans le README)."
    ),
}
_EN = {
    "ui.milestone": "{pct} of the run done",
    "ui.mute_too_long": (
        "Too long: {value}. At most {max}; <code>/mute</code> with no duration mutes until /unmute."
    ),
    "ui.live_off": "Live status message stopped.",
    "ui.tz_current": "Time zone: {tz} ({zone}). To change it: <code>/tz Europe/Paris</code>.",
    "ui.plot.iteration": "iteration",
    "ui.plot.progress": "Iteration {iter} / {total} · {pct}",
    "ui.plot.no_eta": "Finish time not known yet",
    "ui.plot.finished": "Finished in {elapsed}",
    "ui.plot.stopped": "Stopped by an error after {elapsed}",
    "ui.plot.loss": "loss",
    "ui.plot.train": "train",
    "ui.plot.val": "val",
    "ui.plot.step": "ms per iteration",
    "ui.plot.eval": "eval",
    "ui.plot.gpu_one": "GPU",
    "ui.plot.gpu_many": "{n} GPUs: the worst of each reading",
    "ui.plot.temp": "°C",
    "ui.plot.memory": "memory %",
    "ui.plot.util": "utilization %",
    "ui.plot.throttle": "throttled",
    "ui.plot.now": "now",
    "ui.plot.kilo": "{n}k",
    "ui.plot.alert": "alert",
    "ui.plot.alert.oom": "OOM",
    "ui.plot.alert.nan": "NaN",
    "ui.plot.alert.crash": "crash",
    "ui.plot.alert.loss_spike": "spike",
    "ui.plot.alert.slowdown": "slowdown",
    "ui.plot.alert.thermal": "heat",
    "ui.plot.alert.power": "power",
    "ui.plot.alert.stall": "stalled",
    "ui.plot.alert.memory_pressure": "memory",
    "ui.plot.alert.gpu_lost": "GPU lost",
    "ui.demo.intro": (
        "etagram demo: a simulated nanoGPT run, {speed} times faster than real; the durations "
        "and finish times it announces are those the real run would have. Its log: {log}"
    ),
    "ui.tour.over": "🏁 Demo over: the simulated run stopped, as planned.",
    "ui.tour.eta": "/eta would answer, here in both languages ({setting}):",
    "ui.tour.status": "/status would answer:",
    "ui.tour.plot": "/plot would send this picture: {path}",
    "ui.tour.next": "Next, on a real run:",
    "ui.tour.watch": "follow its log: {cmd}",
    "ui.tour.run": "or launch it and follow it: {cmd}",
    "ui.tour.telegram": (
        "To get these messages on Telegram: create a bot with @BotFather, put its token in "
        "{token}, write to it, then {check} shows the chat's id to put in {chats} (details in "
        "the README)."
    ),
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


ALERT_WORDS = (  # alert types with a word of their own on the chart; others read `alert`
    "oom",
    "nan",
    "crash",
    "loss_spike",
    "slowdown",
    "thermal",
    "power",
    "stall",
    "memory_pressure",
    "gpu_lost",
)
PLOT_WORDS = (  # `ui.plot.<word>` as it is
    "iteration",
    "loss",
    "train",
    "val",
    "step",
    "eval",
    "temp",
    "memory",
    "util",
    "throttle",
    "now",
    "alert",
)
KILO_FROM = 10_000  # iteration ticks from here on read `12 k`


@dataclass(frozen=True, slots=True)
class PlotLabels:
    """Plain-text words and number formats drawn in the picture, in one language: the chat's
    first (French in `both` mode, as the figures shown once in a bilingual message); the
    caption under the picture carries both."""

    title: str
    subtitle: tuple[str, ...]  # where the run stands; when it ends
    iteration: str
    loss: str
    train: str
    val: str
    step: str
    eval: str
    gpu: str  # the GPU panel's title: which GPU each line follows
    temp: str
    memory: str
    util: str
    throttle: str
    now: str
    alerts: dict[str, str]  # alert type -> the word marked on the chart
    alert: str  # any other alert type
    count: Callable[[float], str]  # an iteration tick
    number: Callable[[float, int], str]  # a value tick with this many decimals

    def alert_word(self, kind: str) -> str:
        return self.alerts.get(kind, self.alert)


def plot_labels(state: RunState, ctx: Ctx) -> PlotLabels:
    """Everything the chart says about `state`, for this chat."""
    ui = UiTr(languages(ctx.lang)[0], ctx)

    def word(key: str, **values: Value) -> str:
        return to_plain(ui.ui(f"ui.plot.{key}", **values))

    def count(x: float) -> str:
        if abs(x) < KILO_FROM:
            return to_plain(ui.num(x))
        return word("kilo", n=ui.dec(x / 1000, 1, trim=True))

    trace = state.gpu_trace.all()
    gpus = trace[-1].gpus if trace else 1
    return PlotLabels(
        title=clip(state.name, NAME_CHARS),
        subtitle=_plot_subtitle(ui, state),
        **{key: word(key) for key in PLOT_WORDS},
        gpu=word("gpu_many", n=gpus) if gpus > 1 else word("gpu_one"),
        alerts={kind: word(f"alert.{kind}") for kind in ALERT_WORDS},
        count=count,
        number=lambda x, digits: to_plain(ui.dec(x, digits)),
    )


def _plot_subtitle(ui: UiTr, state: RunState) -> tuple[str, ...]:
    """`Itération 1 200 / 2 000 · 60 %` then `Fin dans 4 min, vers 22 h 10`."""
    eta = state.eta()
    it, total = state.iter, state.total_iters
    if it is None:
        return (to_plain(ui.t("eta.no_progress")),)
    if total:
        where = ui.ui(
            "ui.plot.progress", iter=it, total=total, pct=ui.pct(min(100, 100 * it / total))
        )
    else:
        where = ui.t("status.iter", iter=it)
    if state.ended is not None:
        ended = "ui.plot.stopped" if state.ended.failed else "ui.plot.finished"
        finish = ui.ui(ended, elapsed=ui.dur(eta.elapsed_s))
    elif eta.remaining_s is not None:
        finish = ui.finish(state.finish_at(eta, ui.ctx.now_s))
    else:
        finish = ui.ui("ui.plot.no_eta")
    return (to_plain(where), to_plain(finish))


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


# --- the end of `etagram demo` ----------------------------------------------------------------

INDENT = "    "


def demo_intro_text(speed: float, log: str, ctx: Ctx) -> str:
    ui = UiTr(languages(ctx.lang)[0], ctx)
    return ui.ui("ui.demo.intro", speed=ui.dec(speed, 1, trim=True), log=code(log)) + "\n"


def tour_text(state: RunState, gpu: GpuSnapshot | None, chart: str, ctx: Ctx) -> str:
    """What `/eta` (in both languages, to show them), `/status` and `/plot` would answer at
    the end of the demo, then how to follow a real run and get it on Telegram."""
    ui = UiTr(languages(ctx.lang)[0], ctx)
    both = Ctx(lang="both", now_s=ctx.now_s, tz=ctx.tz, clock24=ctx.clock24)
    return join(
        [
            ui.ui("ui.tour.over"),
            join(
                [
                    ui.ui("ui.tour.eta", setting=code("ETAGRAM_LANGUAGE=both")),
                    _indented(eta_text(state, both)),
                ]
            ),
            join([ui.ui("ui.tour.status"), _indented(status_text(state, gpu, ctx))]),
            ui.ui("ui.tour.plot", path=code(chart)),
            join(
                [
                    ui.ui("ui.tour.next"),
                    Html(
                        INDENT + ui.ui("ui.tour.watch", cmd=code("etagram watch path/to/train.log"))
                    ),
                    Html(INDENT + ui.ui("ui.tour.run", cmd=code("etagram run -- python train.py"))),
                ]
            ),
            ui.ui(
                "ui.tour.telegram",
                token=code("ETAGRAM_TELEGRAM_TOKEN"),
                check=code("etagram check"),
                chats=code("ETAGRAM_TELEGRAM_ALLOWED_CHAT_IDS"),
            ),
        ],
        "\n\n",
    )


def _indented(text: str) -> Html:
    return Html("\n".join(INDENT + line if line else line for line in text.splitlines()))
