"""Texts of the bot's own interface: progress milestones, the live status message, `/plot`
(axis labels and caption) and a few command answers.

Their words are in the fr/en catalogs (`fr.py`, `en.py`), under `ui.`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.core.estimator import EtaEstimate
from bot.core.gpu import GpuSnapshot
from bot.core.lifecycle import Phase
from bot.core.prefs import EvalsMode
from bot.core.state import RunState
from bot.messages.lang import Tr, Value, compose, languages
from bot.messages.markup import NAME_CHARS, VALUE_CHARS, Html, bold, clip, code, join, to_plain
from bot.messages.progress import eta_text, runs_body, status_text
from bot.messages.types import Ctx

_NB = "\u00a0"
EMOJI_MILESTONE = "📍"
EMOJI_PLOT = "📉"
EMOJI_LIVE = "🔄"

# --- pushes ---------------------------------------------------------------------------------


def milestone_text(
    run: str, pct: int, it: int, total: int, eta: EtaEstimate, finish_at_s: float | None, ctx: Ctx
) -> str:
    """`📍 gpt2 · 50 % de l'entraînement effectué · Itération 10 000 / 20 000 · Fin dans …`."""

    def body(tr: Tr) -> Html:
        ui = tr
        finish = (
            tr.finish(finish_at_s, tr.dur_range(eta.low_s, eta.high_s))
            if eta.remaining_s is not None
            else Html("")
        )
        return join(
            [
                ui.t("ui.milestone", pct=tr.pct(pct)),
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
        lambda tr: tr.t("ui.mute_too_long", value=code(value), max=tr.dur(max_s)),
    )


def live_off_text(ctx: Ctx) -> str:
    return compose(ctx, Html(""), lambda tr: tr.t("ui.live_off"))


def tz_current_text(ctx: Ctx) -> str:
    return compose(
        ctx, Html(""), lambda tr: tr.t("ui.tz_current", tz=code(ctx.tz), zone=tr.tz_label())
    )


def tz_ambiguous_text(ctx: Ctx, value: str, zones: Sequence[str]) -> str:
    """`/tz istanbul`: the zones it may mean, to send one of in full."""
    listed = Html(", ".join(code(z) for z in zones))
    return compose(
        ctx,
        Html(""),
        lambda tr: tr.t(
            "ui.tz_ambiguous", value=code(clip(value, VALUE_CHARS)), zones=listed, example=zones[0]
        ),
    )


def lang_current_text(setting: str, ctx: Ctx) -> str:
    """Bare `/lang`: the chat's language setting (fr, en or both), and how to change it."""
    return compose(
        ctx,
        Html(""),
        lambda tr: join([tr.t(f"ui.lang_current.{setting}"), tr.t("ui.lang_how")]),
    )


def evals_current_text(mode: EvalsMode, ctx: Ctx) -> str:
    """Bare `/evals`: the setting in effect, and how to change it."""
    return compose(
        ctx,
        Html(""),
        lambda tr: join([tr.t(f"ack.evals_{mode.mode}", n=mode.every), tr.t("ui.evals_how")]),
    )


def muted_forever_text(ctx: Ctx) -> str:
    """`/mute` or `/mute forever`: muted until /unmute, and how to mute for a while instead."""
    return compose(ctx, Html(""), lambda tr: join([tr.t("ack.muted_forever"), tr.t("ui.mute_how")]))


def not_muted_text(ctx: Ctx) -> str:
    return compose(ctx, Html(""), lambda tr: tr.t("ui.not_muted"))


def run_not_found_text(
    asked: str, runs: Sequence[RunState], selected: str | None, ambiguous: bool, ctx: Ctx
) -> str:
    """`/eta NAME` where NAME is no run, or the start of several: the runs followed."""

    def body(tr: Tr) -> Html:
        key = "ui.run_ambiguous" if ambiguous else "ui.run_unknown"
        listing = runs_body(tr, runs, selected, {}) if runs else tr.t("run.none")
        return join([tr.t(key, value=code(clip(asked, VALUE_CHARS))), listing])

    return compose(ctx, Html(""), body)


def unknown_input_text(command: str | None, ctx: Ctx) -> str:
    """Two lines for an unknown command (`command`) or plain text (None)."""

    def body(tr: Tr) -> Html:
        if command is None:
            first = tr.t("ui.plain_text")
        else:
            first = tr.t("ui.unknown_command", command=code(clip(command, VALUE_CHARS)))
        return join([first, tr.t("ui.help_more")])

    return compose(ctx, Html(""), body)


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
PLOT_ENDINGS = {
    Phase.FINISHED: "ui.plot.finished",
    Phase.CRASHED: "ui.plot.stopped",
    Phase.NOT_STARTED: "ui.plot.stopped",
    Phase.STOPPED: "ui.plot.stopped_telegram",
}


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
    ui = Tr(languages(ctx.lang)[0], ctx)

    def word(key: str, **values: Value) -> str:
        return to_plain(ui.t(f"ui.plot.{key}", **values))

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


def _plot_subtitle(ui: Tr, state: RunState) -> tuple[str, ...]:
    """`Itération 1 200 / 2 000 · 60 %` then `Fin dans 4 min, vers 22 h 10`."""
    eta = state.eta()
    it, total = state.iter, state.total_iters
    if it is None:
        return (to_plain(ui.t("eta.no_progress")),)
    if total:
        where = ui.t(
            "ui.plot.progress", iter=it, total=total, pct=ui.pct(min(100, 100 * it / total))
        )
    else:
        where = ui.t("status.iter", iter=it)
    phase = state.phase
    if phase in PLOT_ENDINGS:
        key = PLOT_ENDINGS[phase]
        if phase == Phase.STOPPED and state.life.interrupted:
            key = "ui.plot.interrupted"  # Ctrl-C or SIGINT, not `/stop`
        finish = ui.t(key, elapsed=ui.dur(eta.elapsed_s))
    elif phase == Phase.STALLED:
        last = state.last_progress_wall_s
        finish = ui.t("ui.plot.stalled", ago=ui.dur(ui.ctx.now_s - last if last else None))
    elif eta.remaining_s is not None:
        finish = ui.finish(state.finish_at(eta, ui.ctx.now_s))
    else:
        finish = ui.t("ui.plot.no_eta")
    slowed = (to_plain(ui.t("ui.plot.slowed")),) if phase == Phase.SLOWED else ()
    return (to_plain(where), to_plain(finish), *slowed)


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
    ui = Tr(languages(ctx.lang)[0], ctx)
    return ui.t("ui.demo.intro", speed=ui.dec(speed, 1, trim=True), log=code(log)) + "\n"


def tour_text(state: RunState, gpu: GpuSnapshot | None, chart: str, ctx: Ctx) -> str:
    """What `/eta` (in both languages, to show them), `/status` and `/plot` would answer at
    the end of the demo, then how to follow a real run and get it on Telegram."""
    ui = Tr(languages(ctx.lang)[0], ctx)
    both = replace(ctx, lang="both", host="")
    return join(
        [
            ui.t("ui.tour.over"),
            join(
                [
                    ui.t("ui.tour.eta", setting=code("ETAGRAM_LANGUAGE=both")),
                    _indented(eta_text(state, both)),
                ]
            ),
            join([ui.t("ui.tour.status"), _indented(status_text(state, gpu, ctx))]),
            ui.t("ui.tour.plot", path=code(chart)),
            join(
                [
                    ui.t("ui.tour.next"),
                    Html(
                        INDENT + ui.t("ui.tour.watch", cmd=code("etagram watch path/to/train.log"))
                    ),
                    Html(INDENT + ui.t("ui.tour.run", cmd=code("etagram run -- python train.py"))),
                ]
            ),
            ui.t(
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
