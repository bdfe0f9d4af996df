"""Alert texts: what happened, where, what it costs, what to try.

Each alert type's evidence record (bot/core/notices.py) is read by its fields: a field that is
None says nothing, a number that is not finite says nothing, and a record is never printed.
"""

from __future__ import annotations

import math
from typing import Protocol, assert_never

from bot.core.lifecycle import INTERRUPTED, NOT_STARTED
from bot.core.notices import (
    Alert,
    AlertType,
    CrashEvidence,
    DiskFullEvidence,
    FinishedEvidence,
    GpuIdleEvidence,
    GpuLostEvidence,
    GpuState,
    LossSpikeEvidence,
    MemoryPressureEvidence,
    NanEvidence,
    NewLaunchEvidence,
    OomEvidence,
    Placed,
    PowerEvidence,
    ResumedEvidence,
    RunningAgainEvidence,
    SlowdownEvidence,
    Slowed,
    SlurmDeadlineEvidence,
    StallEvidence,
    StartedEvidence,
    StoppedEvidence,
    ThermalEvidence,
    TooManyRunsEvidence,
)
from bot.messages.gpu import EMOJI_GPU, reasons_text
from bot.messages.lang import Tr, compose, finite
from bot.messages.markup import NAME_CHARS, VALUE_CHARS, Html, clip, code, join, name
from bot.messages.progress import best_line
from bot.messages.types import Ctx

SEVERITY_EMOJI = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
TYPE_EMOJI = {"finished": "🏁"}  # the end of a run is no mere piece of information
KNOWN = tuple(AlertType)
NEGLIGIBLE_S = 30.0  # an ETA change below this is not worth a line
LAST_S = 253_402_128_000.0  # 9999-12-30 UTC: `datetime` ends a day later, in any time zone


def alert_text(a: Alert, ctx: Ctx) -> str:
    emoji = TYPE_EMOJI.get(a.type) or SEVERITY_EMOJI.get(a.severity, SEVERITY_EMOJI["warning"])
    if not a.run:  # about a GPU no followed run uses: said once, for the machine
        head = Html(f"{emoji} {EMOJI_GPU} <b>GPU</b>")
        return compose(ctx, head, lambda tr: join([_body(tr, a), tr.t("alert.no_run")]))
    return compose(ctx, Html(f"{emoji} {name(a.run)}"), lambda tr: _body(tr, a))


def _body(tr: Tr, a: Alert) -> Html:
    ev = a.evidence
    if isinstance(ev, Slowed) and ev.recovered and f"recovered.{a.type}" in tr.messages:
        return _recovered(tr, a, ev)
    resolved = isinstance(ev, SlurmDeadlineEvidence) and ev.resolved
    if resolved and f"resolved.{a.type}" in tr.messages:
        return join([Html(f"<b>{tr.t(f'resolved.{a.type}')}</b>"), *_facts(tr, a)])
    title = _nan_title(tr, ev) if isinstance(ev, NanEvidence) else tr.t(f"alert.{_kind(a)}")
    where_key = "alert.since_iter" if a.type == "stall" else "alert.at_iter"
    # "started at iteration 0" says nothing that "started" does not
    at_start = a.iter == 0 and a.type in ("started", "new_launch")
    where = tr.t(where_key, iter=a.iter) if a.iter is not None and not at_start else Html("")
    facts = _facts(tr, a)
    lines = [Html(f"<b>{title}</b>{where}"), *facts, _cost(tr, a.eta_change_s)]
    tip = _tip(a)
    if tip in tr.messages:
        lines.append(tr.t(tip))
    return join(lines)


def _kind(a: Alert) -> str:
    """The alert's type, or what it really is: a crash before anything ran could not start, a
    stop nobody asked etagram for was an interruption."""
    if isinstance(a.evidence, StoppedEvidence) and a.evidence.cause == INTERRUPTED:
        return "interrupted"
    return "could_not_start" if _not_started(a.evidence) else a.type


def _not_started(ev: object) -> bool:
    return isinstance(ev, CrashEvidence) and ev.cause == NOT_STARTED


def _tip(a: Alert) -> str:
    """What to try: the type's advice, or the advice for this cause when it has its own."""
    ev = a.evidence
    cause = ev.cause if isinstance(ev, CrashEvidence | StallEvidence) else None
    if _kind(a) == "could_not_start":
        return "try.could_not_start"
    if a.type == "crash" and cause == "time_limit":
        return "try.crash_time_limit"
    if a.type == "crash" and a.iter is None:  # at start-up, most often: nothing to resume
        return "try.crash_no_iter"
    if a.type == "stall" and cause == "collective_timeout":
        return "try.stall_collective"
    return f"try.{a.type}"


def _recovered(tr: Tr, a: Alert, ev: Slowed) -> Html:
    """The end of a slowdown: said once, with nothing left to try."""
    where = tr.t("alert.at_iter", iter=a.iter) if a.iter is not None else Html("")
    title = Html(f"<b>{tr.t(f'recovered.{a.type}')}</b>{where}")
    return join([title, tr.t("fact.recovered"), *_temperature(tr, ev)])


def _cost(tr: Tr, change_s: float | None) -> Html:
    if not finite(change_s):
        return Html("")
    assert change_s is not None
    if abs(change_s) < NEGLIGIBLE_S:
        return tr.t("cost.negligible")
    key = "cost.later" if change_s > 0 else "cost.earlier"
    return tr.t(key, delta=tr.dur(abs(change_s)))


# --- evidence ------------------------------------------------------------------------------


def _facts(tr: Tr, a: Alert) -> list[Html]:
    """The sentences the alert's evidence makes."""
    ev = a.evidence
    match ev:
        case OomEvidence():
            return _oom(tr, ev)
        case NanEvidence() | ResumedEvidence():
            return []  # the title says it all
        case LossSpikeEvidence():
            return _spike(tr, ev)
        case ThermalEvidence():
            return [*_slowed(tr, ev), *_temperature(tr, ev), *_reasons(tr, ev)]
        case PowerEvidence():
            return _power(tr, ev)
        case SlowdownEvidence():
            return _slowdown(tr, ev)
        case StallEvidence():
            return _stall(tr, ev)
        case CrashEvidence():
            return _could_not_start(tr, ev) if _not_started(ev) else _crash(tr, ev, a)
        case GpuLostEvidence():
            gpu = _gpu(ev)
            return [tr.t("fact.gpu_lost", gpu=gpu)] if gpu is not None else []
        case MemoryPressureEvidence():
            return _memory(tr, ev)
        case GpuIdleEvidence():
            return _gpu_idle(tr, ev)
        case DiskFullEvidence():
            return _disk_full(tr, ev)
        case SlurmDeadlineEvidence():
            return _slurm_deadline(tr, ev)
        case StartedEvidence() | NewLaunchEvidence():
            return _started(tr, ev)
        case FinishedEvidence():
            return _finished(tr, ev)
        case StoppedEvidence():
            return _stopped(tr, ev)
        case RunningAgainEvidence():
            return _running_again(tr, ev)
        case TooManyRunsEvidence():
            return [tr.t("fact.too_many_runs", max=ev.max)] if ev.max < 1e9 else []
        case _:
            assert_never(ev)


class _OnGpu(Protocol):
    """A record that names a GPU: by its index, and on a hub by its machine too."""

    @property
    def gpu(self) -> int | None: ...

    @property
    def host(self) -> str | None: ...


def _num(x: float | None) -> float | None:
    """A field as a float when it is a finite number; None says nothing."""
    return float(x) if x is not None and math.isfinite(x) else None


def _gpu(ev: _OnGpu) -> int | str | None:
    """The GPU's index, or `host:index` when the alert names the machine (a hub's)."""
    x = ev.gpu
    if x is None or not 0 <= x < 1e6:
        return None
    return f"{clip(ev.host, NAME_CHARS)}:{x}" if ev.host else x


def _mib(tr: Tr, mib: float) -> Html:
    if mib >= 1024:
        return tr.t("unit.gib", n=tr.dec(mib / 1024, 1, trim=True))
    return tr.t("unit.mib", n=tr.dec(mib, 0))


def _on_gpu(tr: Tr, ev: _OnGpu) -> Html:
    gpu = _gpu(ev)
    return tr.t("fact.gpu", gpu=gpu) if gpu is not None else Html("")


def _oom(tr: Tr, ev: OomEvidence) -> list[Html]:
    tried, total = _num(ev.tried_mib), _num(ev.total_gib)
    gpu = _gpu(ev)
    facts = []
    if tried is not None:
        size = _mib(tr, tried)
        facts.append(
            tr.t("fact.oom_tried_gpu", size=size, gpu=gpu)
            if gpu is not None
            else tr.t("fact.oom_tried", size=size)
        )
    elif gpu is not None:
        facts.append(tr.t("fact.gpu", gpu=gpu))
    if total is not None:
        facts.append(tr.t("fact.gpu_capacity", size=_mib(tr, total * 1024)))
    return facts


def _nan_title(tr: Tr, ev: NanEvidence) -> Html:
    """`Loss is NaN`, `Val loss is infinite`: the value is the news, so it is the title."""
    text = ev.loss.strip().lower().lstrip("+-")
    kind = {"nan": "", "inf": "_inf", "infinity": "_inf"}.get(text)
    if kind is None:
        return tr.t("alert.nan_other")
    val = "_val" if ev.source == "val_loss" else ""
    return tr.t(f"alert.nan{val}{kind}")


def _spike(tr: Tr, ev: LossSpikeEvidence) -> list[Html]:
    loss, ref = _num(ev.loss), _num(ev.median)
    if loss is None:
        return []
    if ref is None:
        return [tr.t("fact.loss_is", loss=tr.loss(loss))]
    return [tr.t("fact.loss_vs", loss=tr.loss(loss), ref=tr.loss(ref))]


def _slowed(tr: Tr, ev: Slowed) -> list[Html]:
    pct, minutes = _num(ev.slowdown_pct), _num(ev.minutes)
    if pct is None:
        return []
    if minutes is None:
        return [tr.t("fact.slowed", pct=tr.pct(pct))]
    return [tr.t("fact.slowed_for", pct=tr.pct(pct), dur=tr.dur(minutes * 60))]


def _temperature(tr: Tr, ev: GpuState) -> list[Html]:
    gpu, temp = _gpu(ev), _num(ev.temperature_c)
    if temp is None:
        return [_on_gpu(tr, ev)]
    celsius = tr.unit(temp, "°C")
    if gpu is None:
        return [tr.t("fact.temp", temp=celsius)]
    return [tr.t("fact.gpu_temp", gpu=gpu, temp=celsius)]


def _reasons(tr: Tr, ev: GpuState) -> list[Html]:
    if ev.reasons is None or not ev.reasons.strip():
        return []
    return [tr.t("fact.reasons", reasons=reasons_text(tr, ev.reasons))]


def _about_gpu(tr: Tr, ev: _OnGpu, fragment: Html | None) -> Html:
    """`GPU 0 : mémoire utilisée à 97 %.`, or the fragment alone as a sentence."""
    gpu = _gpu(ev)
    if fragment is None:
        return _on_gpu(tr, ev)
    if gpu is None:
        return tr.t("fact.alone", fact=Html(fragment[:1].upper() + fragment[1:]))
    return tr.t("fact.on_gpu", gpu=gpu, fact=fragment)


def _power(tr: Tr, ev: PowerEvidence) -> list[Html]:
    watts, limit = _num(ev.power_w), _num(ev.power_limit_w)
    power = None
    if watts is not None and limit is not None:
        power = tr.t("fact.power", power=tr.unit(watts, "W"), limit=tr.unit(limit, "W"))
    return [*_slowed(tr, ev), _about_gpu(tr, ev, power), *_reasons(tr, ev)]


def _slowdown(tr: Tr, ev: SlowdownEvidence) -> list[Html]:
    step, base = _num(ev.step_s), _num(ev.baseline_s)
    facts = _slowed(tr, ev)
    if step is not None and base is not None:
        facts.append(tr.t("fact.step_was", step=tr.dur(step), base=tr.dur(base)))
    return facts


def _stall(tr: Tr, ev: StallEvidence) -> list[Html]:
    if ev.cause == "collective_timeout":
        timeout = _num(ev.timeout_s)
        facts = [tr.t("fact.collective_timeout", dur=tr.dur(timeout))] if timeout else []
        return facts + _error(tr, ev.error)
    silent = _num(ev.silent_s)
    return [tr.t("fact.silent", dur=tr.dur(silent))] if silent is not None else []


CAUSES = {"time_limit", "cancelled", "killed"}  # a crash whose cause is a sentence of its own


def _crash(tr: Tr, ev: CrashEvidence, a: Alert) -> list[Html]:
    facts = []
    if a.iter is None:  # a start-up crash, or a log whose progress lines are not read
        facts.append(tr.t("fact.no_iter"))
    if ev.cause in CAUSES:
        facts.append(tr.t(f"fact.cause_{ev.cause}"))
    return [*facts, *_exit_code(tr, ev.exit_code), *_error(tr, ev.error), _machine(tr, ev)]


def _could_not_start(tr: Tr, ev: CrashEvidence) -> list[Html]:
    """The line that says why first; a shell's 127 or 126 said in words."""
    if ev.exit_code in (126, 127) and not _error(tr, ev.error):
        key = "fact.not_found" if ev.exit_code == 127 else "fact.not_executable"
        return [tr.t(key, code=code(ev.exit_code)), _machine(tr, ev)]
    return [*_error(tr, ev.error), *_exit_code(tr, ev.exit_code), _machine(tr, ev)]


def _exit_code(tr: Tr, exit_code: int | None) -> list[Html]:
    return [] if exit_code is None else [tr.t("fact.exit_code", code=code(exit_code))]


def _machine(tr: Tr, ev: Placed) -> Html:
    """`On gpu07, log /runs/a/train.log.`: which of several machines and runs this is."""
    path = code(clip(ev.log, VALUE_CHARS)) if ev.log else None
    if not ev.machine or tr.ctx.host:  # the head names it
        return tr.t("fact.log", log=path) if path else Html("")
    there = code(clip(ev.machine, NAME_CHARS))
    if path is None:
        return tr.t("fact.machine", machine=there)
    return tr.t("fact.machine_log", machine=there, log=path)


def _error(tr: Tr, error: str | None) -> list[Html]:
    if error is None or not error.strip():
        return []
    return [tr.t("fact.error", error=code(clip(error.strip(), VALUE_CHARS)))]


def _memory(tr: Tr, ev: MemoryPressureEvidence) -> list[Html]:
    used, total, pct = _num(ev.used_mib), _num(ev.total_mib), _num(ev.used_pct)
    if pct is None and used is not None and total:
        pct = 100 * used / total
    memory = None
    if pct is not None and used is not None and total is not None:
        memory = tr.t("fact.memory", pct=tr.pct(pct), used=_mib(tr, used), total=_mib(tr, total))
    elif pct is not None:
        memory = tr.t("fact.memory_pct", pct=tr.pct(pct))
    return [_about_gpu(tr, ev, memory)]


def _gpu_idle(tr: Tr, ev: GpuIdleEvidence) -> list[Html]:
    gpu, n = _gpu(ev), ev.idle_gpus
    pct, idle_s = _num(ev.threshold_pct), _num(ev.idle_s)
    if gpu is None or pct is None or idle_s is None:
        return [_on_gpu(tr, ev)]
    words = {"gpu": gpu, "pct": tr.pct(pct), "dur": tr.dur(idle_s)}
    if n is not None and 1 < n < 1e6:
        return [tr.t("fact.gpus_idle", n=n, **words)]
    return [tr.t("fact.gpu_idle", **words)]


def _bytes(tr: Tr, n: float) -> Html:
    if n >= 1 << 40:
        return tr.t("unit.tib", n=tr.dec(n / (1 << 40), 1, trim=True))
    return _mib(tr, n / (1 << 20))


def _disk_full(tr: Tr, ev: DiskFullEvidence) -> list[Html]:
    pct, facts = _num(ev.used_pct), []
    if pct is not None:
        where, free = code(clip(ev.mount, VALUE_CHARS)), _bytes(tr, ev.free_bytes)
        facts.append(tr.t("fact.disk_full", mount=where, pct=tr.pct(pct), free=free))
    if ev.path and ev.path != ev.mount:
        facts.append(tr.t("fact.disk_path", path=code(clip(ev.path, VALUE_CHARS))))
    return facts


def _slurm_deadline(tr: Tr, ev: SlurmDeadlineEvidence) -> list[Html]:
    end, finish = _num(ev.job_end_s), _num(ev.finish_s)
    if end is None or finish is None or not 0 <= min(end, finish) <= max(end, finish) < LAST_S:
        return []  # not a time a clock can show
    times = {"end": tr.clock(end), "finish": tr.clock(finish)}
    if ev.resolved:
        return [tr.t("fact.slurm_fits", **times)]
    return [tr.t("fact.slurm_short", short=tr.dur(_num(ev.short_s)), **times)]


def _started(tr: Tr, ev: StartedEvidence | NewLaunchEvidence) -> list[Html]:
    facts = []
    total = ev.total_iters
    if total is not None and 0 < total < 1e15:
        facts.append(tr.t("fact.total_iters", total=total))
    eta = _num(ev.eta_s) if isinstance(ev, StartedEvidence) else None
    if eta is not None:
        facts.append(tr.t("fact.first_eta", eta=tr.dur(eta)))
    return facts


def _finished(tr: Tr, ev: FinishedEvidence | StoppedEvidence) -> list[Html]:
    """How long it took against the first estimate, its val losses, its exit, where."""
    facts = []
    took = _num(ev.elapsed_s)
    first = _num(ev.first_total_s) if isinstance(ev, FinishedEvidence) else None
    if took is not None and first is not None:
        facts.append(tr.t("fact.took_vs_first", took=tr.dur(took), first=tr.dur(first)))
    elif took is not None:
        facts.append(tr.t("fact.took", took=tr.dur(took)))
    best = _num(ev.best_val_loss)
    if best is not None:
        it = ev.best_iter if ev.best_iter is not None and 0 <= ev.best_iter < 1e15 else None
        facts.append(tr.t("fact.alone", fact=best_line(tr, best, it)))
    final = _num(ev.final_val_loss)
    if final is not None:
        facts.append(tr.t("fact.final_val", loss=tr.loss(final)))
    return [*facts, *_exit_code(tr, ev.exit_code), _machine(tr, ev)]


def _running_again(tr: Tr, ev: RunningAgainEvidence) -> list[Html]:
    if ev.after == "crash":
        return [tr.t("fact.after_crash")]
    silent = _num(ev.silent_s)
    if silent is None:
        return [tr.t("fact.after_stall_unknown")]
    return [tr.t("fact.after_stall", dur=tr.dur(silent))]


def _stopped(tr: Tr, ev: StoppedEvidence) -> list[Html]:
    """Who had it stopped, then the end of a finished run's facts, then how it exited."""
    facts = [tr.t("fact.stopped_by", by=clip(ev.by, NAME_CHARS))] if ev.by else []
    return facts + _finished(tr, ev)  # which says how it exited
