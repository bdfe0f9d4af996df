"""Texts about a run's progress: `/eta`, `/status`, eval pushes and the outage digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.estimator import EtaEstimate
from bot.core.gpu import GpuSnapshot
from bot.core.lifecycle import ENDED, NO_COUNTDOWN, Phase
from bot.core.notices import EvalNotice
from bot.core.state import RunState
from bot.messages.gpu import gpu_lines
from bot.messages.lang import Tr, compose, finite, languages
from bot.messages.markup import Html, code, esc, join, name, to_plain
from bot.messages.types import Ctx

EMOJI_ETA = "⏱️"
EMOJI_STATUS = "📊"
EMOJI_EVAL = "📈"
BAR_WIDTH = 16
STALE_S = 60.0  # no progress line for this long is worth saying in /status
NEGLIGIBLE_S = 0.5  # a pause total below this reads "negligible" rather than "× 0 s ≈ 0 s"
DIGEST_MAX = 12  # evals listed one by one in a digest; older ones are counted


def head(emoji: str, run: str) -> Html:
    return Html(f"{emoji} {name(run)}")


# --- the terminal's live line -------------------------------------------------------------

LIVE_SEP = " · "


def live_line(state: RunState, ctx: Ctx) -> str:
    """One line of plain text for the terminal: the run, where it is, its pace, when it ends.
    One language: `both` reads the first."""
    tr = Tr(languages(ctx.lang)[0], ctx)
    parts = [esc(state.name), *_live_parts(tr, state)]
    return to_plain(join(parts, LIVE_SEP))


def live_more(n: int, ctx: Ctx) -> str:
    """The last line when the terminal is too short for every run."""
    return to_plain(Tr(languages(ctx.lang)[0], ctx).plural("live.more", n))


def _live_parts(tr: Tr, state: RunState) -> list[Html]:
    """Where the run is and its pace; once it has ended or stalled, its phase instead of a
    countdown."""
    phase, waiting = state.phase, state.life.waiting
    if phase == Phase.WAITING:
        return [tr.t(f"runs.waiting.{waiting}") if waiting is not None else tr.t("live.waiting")]
    eta = state.eta()
    where = _live_where(tr, state.iter, eta.total_iters)
    if phase in NO_COUNTDOWN:
        return [where, tr.t(f"runs.phase.{phase}")]
    finish = state.finish_at(eta, tr.ctx.now_s)
    return [where, _rate(tr, eta.step_s), tr.finish(finish) if finish is not None else Html("")]


def _live_where(tr: Tr, done: int | None, total: int | None) -> Html:
    if done is None:
        return Html("")
    if total:
        return tr.t("live.iters", done=done, total=total, pct=tr.pct(100 * done / total, 1))
    return tr.t("live.iter", done=done)


def _rate(tr: Tr, step_s: float | None) -> Html:
    """tqdm's habit: iterations per second, or seconds per iteration when slower than one."""
    if not finite(step_s) or not step_s or step_s <= 0:
        return Html("")
    if step_s <= 1:
        rate = 1 / step_s
        return tr.t("live.rate", n=tr.dec(rate, 1 if rate < 100 else 0))
    return tr.t("live.pace", n=tr.dec(step_s, 1 if step_s < 100 else 0))


# --- /eta ---------------------------------------------------------------------------------


def eta_text(state: RunState, ctx: Ctx) -> str:
    """The full breakdown, laid out like the reference analysis."""
    eta = state.eta()
    finish_at = state.finish_at(eta, ctx.now_s)
    return compose(
        ctx, head(EMOJI_ETA, state.name), lambda tr: _eta_body(tr, state, eta, finish_at)
    )


def _eta_body(tr: Tr, state: RunState, eta: EtaEstimate, finish_at: float | None) -> Html:
    phase = state.phase
    if phase in ENDED or (phase == Phase.WAITING and state.life.waiting is not None):
        return phase_line(tr, state, eta)
    if eta.iters_done is None:
        return tr.t("eta.no_progress")
    if phase == Phase.STALLED:  # no countdown: it would run out while nothing moves
        known = eta.total_iters is not None and eta.total_iters > 0
        return join([_iters_line(tr, eta) if known else Html(""), phase_line(tr, state, eta)])
    if eta.remaining_s is None:
        return _partial(tr, eta, by_epoch=state.per_epoch is not None)
    return join(
        [
            phase_line(tr, state, eta),
            _iters_line(tr, eta),
            pause_line(tr, "eta.steps", eta.iters_left or 0, eta.step_s),
            pause_line(tr, "eta.evals", eta.evals_left, eta.eval_cost_s, eta.eval_cost_estimated),
            pause_line(tr, "eta.checkpoints", eta.checkpoints_left, eta.checkpoint_cost_s),
            tr.t("eta.total", total=tr.dur(eta.remaining_s), spread=_spread(tr, eta)),
            tr.t("eta.finish", finish=tr.finish(finish_at), zone=tr.tz_label()),
        ]
    )


def _iters_line(tr: Tr, eta: EtaEstimate) -> Html:
    done, total = eta.iters_done or 0, eta.total_iters or 0
    pct = 100 * done / total if total > 0 else 0.0
    return tr.t("eta.iters", done=done, total=total, pct=tr.pct(min(pct, 100.0), 1))


def pause_line(tr: Tr, key: str, count: int, each_s: float | None, estimated: bool = False) -> Html:
    """`38 évaluations restantes × 5,8 s ≈ 4 min`; nothing when none is left. `estimated`
    (evals only): `each_s` is not measured in this run but estimated, and the line says so."""
    if count <= 0:
        return Html("")
    if not finite(each_s):
        return tr.plural(f"{key}_unmeasured", count)
    assert each_s is not None
    if count * each_s < NEGLIGIBLE_S:
        return tr.plural(f"{key}_negligible", count)
    line = f"{key}_estimated" if estimated else key
    return tr.plural(line, count, each=tr.dur(each_s), total=tr.dur(count * each_s))


def _spread(tr: Tr, eta: EtaEstimate) -> Html:
    spread = tr.dur_range(eta.low_s, eta.high_s)
    return Html(f" ({spread})") if spread else Html("")


def _partial(tr: Tr, eta: EtaEstimate, *, by_epoch: bool) -> Html:
    """What is known when the total or the step time is not: and what to do about it
    (`by_epoch`: the log counts epochs, so their number is what the user knows)."""
    lines = [tr.plural("eta.done_only", eta.iters_done or 0)]
    if finite(eta.step_s):
        lines.append(tr.t("eta.step_only", step=tr.dur(eta.step_s)))
    if ("total_iters" in eta.missing or eta.total_iters is None) and by_epoch:
        lines.append(tr.t("eta.no_epochs", flag=code("--max-epochs N")))
    elif "total_iters" in eta.missing or eta.total_iters is None:
        lines.append(tr.t("eta.no_total", flag=code("--max-iters N")))
    else:
        lines.append(tr.t("eta.no_step"))
    return join(lines)


def phase_line(tr: Tr, state: RunState, eta: EtaEstimate) -> Html:
    """The run's phase as a sentence; nothing while it simply runs (the figures say it)."""
    phase = state.phase
    it = state.iter
    if phase == Phase.WAITING:
        waiting = state.life.waiting
        return tr.t(f"phase.waiting.{waiting}") if waiting is not None else Html("")
    if phase == Phase.STALLED:
        last = state.last_progress_wall_s
        ago = tr.ctx.now_s - last if last is not None else None
        return tr.t("phase.stalled", ago=tr.dur(ago), iter=it if it is not None else 0)
    if phase == Phase.CRASHED and it is None:
        return tr.t("phase.crashed_no_iter")
    if phase in ENDED - {Phase.NOT_STARTED}:
        return tr.t(f"phase.{phase}", iter=it or 0, elapsed=tr.dur(eta.elapsed_s))
    if phase in (Phase.NOT_STARTED, Phase.SLOWED):
        return tr.t(f"phase.{phase}")
    return Html("")


# --- /status ------------------------------------------------------------------------------


def status_text(state: RunState, gpu: GpuSnapshot | None, ctx: Ctx) -> str:
    """One screen: progress bar, loss, best val loss, finish, GPUs."""
    eta = state.eta()
    finish_at = state.finish_at(eta, ctx.now_s)
    return compose(
        ctx,
        head(EMOJI_STATUS, state.name),
        lambda tr: _status_body(tr, state, eta, finish_at, gpu),
        lambda tr: _bar(tr, eta),
    )


def _bar(tr: Tr, eta: EtaEstimate) -> Html:
    if not eta.total_iters or eta.iters_done is None:
        return Html("")
    frac = max(0.0, min(1.0, eta.iters_done / eta.total_iters))
    full = round(frac * BAR_WIDTH)
    bar = "█" * full + "░" * (BAR_WIDTH - full)
    return Html(f"<code>{bar}</code> {tr.pct(100 * frac, 1)}")


def _status_body(
    tr: Tr, state: RunState, eta: EtaEstimate, finish_at: float | None, gpu: GpuSnapshot | None
) -> Html:
    phase = phase_line(tr, state, eta)
    if state.iter is None:
        return phase or tr.t("run.no_progress")
    lines = [_where(tr, state), _best(tr, state)]
    if state.phase in NO_COUNTDOWN:
        lines.append(phase)
    elif eta.remaining_s is not None:
        lines += [tr.finish(finish_at, _spread_from_now(tr, eta, finish_at)), phase]
    else:
        lines += [tr.t("status.no_eta"), phase]
    lines.extend(gpu_lines(tr, gpu))
    lines.append(_staleness(tr, state))
    return join(lines)


def _spread_from_now(tr: Tr, eta: EtaEstimate, finish_at: float | None) -> str:
    """The range counts from the last progress line; shift it to count from now, as the
    relative finish does."""
    low, high, remaining = eta.low_s, eta.high_s, eta.remaining_s
    if low is None or high is None or remaining is None or finish_at is None:
        return ""
    since = tr.ctx.now_s - (finish_at - remaining)
    if not finite(since):
        return ""
    return tr.dur_range(max(0.0, low - since), max(0.0, high - since))


def _where(tr: Tr, state: RunState, prefix: str = "status") -> Html:
    """`Itération 1 300 / 20 000 · loss 1,2345`; `prefix` "runs" for the lower-case form."""
    it, total = state.iter or 0, state.total_iters
    if total:
        where = tr.t(f"{prefix}.iter_of", iter=it, total=total)
    else:
        where = tr.t(f"{prefix}.iter", iter=it)
    if state.loss is None:
        return where
    return Html(f"{where} · {tr.t('status.loss', loss=tr.loss(state.loss))}")


def _best(tr: Tr, state: RunState) -> Html:
    best = state.best
    if best is None or best.val_loss is None:
        return Html("")
    return best_line(tr, best.val_loss, best.iter)


def best_line(tr: Tr, loss: float | None, it: int | None) -> Html:
    """`Meilleure val loss : 1,4697 (itération 1 500)`."""
    if it is None:
        return tr.t("status.best", loss=tr.loss(loss))
    return tr.t("status.best_at", loss=tr.loss(loss), iter=it)


def _staleness(tr: Tr, state: RunState) -> Html:
    last = state.last_progress_wall_s
    if state.phase not in (Phase.RUNNING, Phase.SLOWED):  # its phase says when it last moved
        return Html("")
    if not finite(last) or not finite(tr.ctx.now_s):
        return Html("")
    assert last is not None
    silent = tr.ctx.now_s - last
    return tr.t("status.silent", ago=tr.dur(silent)) if silent >= STALE_S else Html("")


# --- eval pushes --------------------------------------------------------------------------


def eval_text(n: EvalNotice, ctx: Ctx) -> str:
    """One short message per eval: val loss, best and its delta, finish."""
    return compose(ctx, head(EMOJI_EVAL, n.run), lambda tr: _eval_body(tr, n))


def _eval_body(tr: Tr, n: EvalNotice) -> Html:
    title = tr.t("eval.at", iter=n.iter) if n.iter is not None else tr.t("eval.title")
    finish = tr.finish(n.finish_at_s) if n.eta.remaining_s is not None else Html("")
    return join([title, _losses(tr, n), _record(tr, n), finish])


def _losses(tr: Tr, n: EvalNotice) -> Html:
    parts = []
    if n.val_loss is not None:
        parts.append(tr.t("eval.val", loss=tr.loss(n.val_loss)))
    if n.train_loss is not None:
        parts.append(tr.t("eval.train", loss=tr.loss(n.train_loss)))
    return Html(" · ".join(parts))


def _record(tr: Tr, n: EvalNotice) -> Html:
    """New best and by how much, or how far from the best."""
    val, best, prev = n.val_loss, n.best_val_loss, n.previous_best
    if not finite(val) or not finite(best):
        return Html("")
    assert val is not None and best is not None
    if val <= best and finite(prev):
        assert prev is not None
        return tr.t(
            "eval.new_best",
            loss=tr.loss(val),
            delta=tr.signed(val - prev, 4),
            previous=tr.loss(prev),
        )
    if val <= best:
        return Html("")
    if n.best_iter is None:
        return tr.t("eval.behind", best=tr.loss(best), delta=tr.signed(val - best, 4))
    return tr.t(
        "eval.behind_at", best=tr.loss(best), iter=n.best_iter, delta=tr.signed(val - best, 4)
    )


def digest_text(notices: Sequence[EvalNotice], ctx: Ctx) -> str:
    """Evals that waited in the outbox, folded into one message."""
    runs = sorted({n.run for n in notices})
    title = runs[0] if len(runs) == 1 else ", ".join(runs)
    return compose(ctx, head(EMOJI_EVAL, title), lambda tr: _digest_body(tr, notices, len(runs)))


def _digest_body(tr: Tr, notices: Sequence[EvalNotice], runs: int) -> Html:
    if not notices:
        return tr.t("digest.empty")
    shown = notices[-DIGEST_MAX:]
    lines = [tr.plural("digest.title", len(notices))]
    if len(notices) > len(shown):
        lines.append(tr.plural("digest.older", len(notices) - len(shown)))
    lines.extend(_digest_line(tr, n, runs > 1) for n in shown)
    last = notices[-1]
    if finite(last.best_val_loss):
        lines.append(best_line(tr, last.best_val_loss, last.best_iter))
    if last.eta.remaining_s is not None:
        lines.append(tr.finish(last.finish_at_s))
    return join(lines)


def _digest_line(tr: Tr, n: EvalNotice, with_run: bool) -> Html:
    it = tr.t("digest.iter", iter=n.iter) if n.iter is not None else tr.t("eval.title")
    loss = tr.t("eval.val", loss=tr.loss(n.val_loss))
    run = Html(f"{name(n.run)} ") if with_run else Html("")
    return tr.t("digest.line", run=run, iter=it, loss=loss)


# --- /runs ---------------------------------------------------------------------------------


def runs_text(
    runs: Sequence[RunState],
    selected: str | None,
    ctx: Ctx,
    hosts: Mapping[str, str] | None = None,
) -> str:
    """The runs followed, where each stands, and which one this chat reads; `hosts`: the
    machine to name after each run ("" or absent: none)."""
    if not runs:
        return compose(ctx, Html(""), lambda tr: tr.t("run.none"))
    return compose(ctx, Html(""), lambda tr: runs_body(tr, runs, selected, hosts or {}))


def run_picked_text(
    runs: Sequence[RunState], picked: str, ctx: Ctx, hosts: Mapping[str, str] | None = None
) -> str:
    """`/runs NAME`: the chat follows that run now (as with its button), and the runs."""
    return compose(
        ctx,
        Html(""),
        lambda tr: join(
            [tr.t("runs.picked", run=name(picked)), runs_body(tr, runs, picked, hosts or {})]
        ),
    )


def runs_body(
    tr: Tr, runs: Sequence[RunState], selected: str | None, hosts: Mapping[str, str]
) -> Html:
    lines = [tr.t("runs.title")]
    for state in runs:
        run = name(state.name)
        if host := hosts.get(state.name):
            run = Html(f"{run} · {esc(host)}")
        line = tr.t("runs.line", run=run, where=_runs_where(tr, state))
        lines.append(tr.t("runs.selected", line=line) if state.name == selected else line)
    if len(runs) > 1:
        lines.append(tr.t("runs.pick"))
    return join(lines)


def _runs_where(tr: Tr, state: RunState) -> Html:
    """`iteration 1,200 / 2,000 · loss 1.2345 · crashed`, or why it waits."""
    phase, waiting = state.phase, state.life.waiting
    if phase == Phase.WAITING and waiting is not None:
        return tr.t(f"runs.waiting.{waiting}")
    if state.iter is None:
        return tr.t(f"runs.phase.{phase}") if phase in ENDED else tr.t("runs.no_progress")
    return Html(f"{_where(tr, state, 'runs')} · {tr.t(f'runs.phase.{phase}')}")
