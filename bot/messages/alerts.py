"""Alert texts: what happened, where, what it costs, what to try.

Evidence dictionaries come from detectors whose keys may grow: each known key becomes a
sentence when present, unknown keys are ignored, and a raw dict is never printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from bot.core.lifecycle import NOT_STARTED
from bot.core.notices import Alert, AlertType
from bot.messages.gpu import EMOJI_GPU, reasons_text
from bot.messages.lang import Tr, compose, finite
from bot.messages.markup import NAME_CHARS, VALUE_CHARS, Html, clip, code, join, name
from bot.messages.progress import best_line
from bot.messages.types import Ctx

SEVERITY_EMOJI = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
TYPE_EMOJI = {"finished": "🏁"}  # the end of a run is no mere piece of information
KNOWN = tuple(AlertType)
NEGLIGIBLE_S = 30.0  # an ETA change below this is not worth a line

Evidence = Mapping[str, float | int | str]


def alert_text(a: Alert, ctx: Ctx) -> str:
    emoji = TYPE_EMOJI.get(a.type) or SEVERITY_EMOJI.get(a.severity, SEVERITY_EMOJI["warning"])
    if not a.run:  # about a GPU no followed run uses: said once, for the machine
        head = Html(f"{emoji} {EMOJI_GPU} <b>GPU</b>")
        return compose(ctx, head, lambda tr: join([_body(tr, a), tr.t("alert.no_run")]))
    return compose(ctx, Html(f"{emoji} {name(a.run)}"), lambda tr: _body(tr, a))


def _body(tr: Tr, a: Alert) -> Html:
    if a.evidence.get("recovered") == 1 and f"recovered.{a.type}" in tr.messages:
        return _recovered(tr, a)
    if a.evidence.get("resolved") == 1 and f"resolved.{a.type}" in tr.messages:
        facts = FACTS.get(a.type, _no_facts)(tr, a.evidence, a)
        return join([Html(f"<b>{tr.t(f'resolved.{a.type}')}</b>"), *facts])
    title = _nan_title(tr, a.evidence) if a.type == "nan" else tr.t(f"alert.{_kind(a)}")
    where_key = "alert.since_iter" if a.type == "stall" else "alert.at_iter"
    # "started at iteration 0" says nothing that "started" does not
    at_start = a.iter == 0 and a.type in ("started", "new_launch")
    where = tr.t(where_key, iter=a.iter) if a.iter is not None and not at_start else Html("")
    facts = FACTS.get(_kind(a), _no_facts)(tr, a.evidence, a)
    lines = [Html(f"<b>{title}</b>{where}"), *facts, _cost(tr, a.eta_change_s)]
    tip = _tip(a)
    if tip in tr.messages:
        lines.append(tr.t(tip))
    return join(lines)


def _kind(a: Alert) -> str:
    """The alert's type, or what it really is: a crash before anything ran could not start."""
    return (
        "could_not_start"
        if a.type == "crash" and a.evidence.get("cause") == NOT_STARTED
        else a.type
    )


def _tip(a: Alert) -> str:
    """What to try: the type's advice, or the advice for this cause when it has its own."""
    cause = a.evidence.get("cause")
    if _kind(a) == "could_not_start":
        return "try.could_not_start"
    if a.type == "crash" and cause == "time_limit":
        return "try.crash_time_limit"
    if a.type == "crash" and a.iter is None:  # at start-up, most often: nothing to resume
        return "try.crash_no_iter"
    if a.type == "stall" and cause == "collective_timeout":
        return "try.stall_collective"
    return f"try.{a.type}"


def _recovered(tr: Tr, a: Alert) -> Html:
    """The end of a slowdown: said once, with nothing left to try."""
    where = tr.t("alert.at_iter", iter=a.iter) if a.iter is not None else Html("")
    title = Html(f"<b>{tr.t(f'recovered.{a.type}')}</b>{where}")
    return join([title, tr.t("fact.recovered"), *_temperature(tr, a.evidence)])


def _cost(tr: Tr, change_s: float | None) -> Html:
    if not finite(change_s):
        return Html("")
    assert change_s is not None
    if abs(change_s) < NEGLIGIBLE_S:
        return tr.t("cost.negligible")
    key = "cost.later" if change_s > 0 else "cost.earlier"
    return tr.t(key, delta=tr.dur(abs(change_s)))


# --- evidence ------------------------------------------------------------------------------


def number(ev: Evidence, *keys: str) -> float | None:
    """The first of `keys` present as a finite number (numbers sent as text included)."""
    for key in keys:
        value = ev.get(key)
        if isinstance(value, bool):
            continue
        try:
            x = float(value) if isinstance(value, int | float | str) else math.nan
        except ValueError:
            continue
        if math.isfinite(x):
            return x
    return None


def _gpu(ev: Evidence) -> int | str | None:
    """The GPU's index, or `host:index` when the alert names the machine (a hub's)."""
    x = number(ev, "gpu", "gpu_index")
    if x is None or not 0 <= x < 1e6:
        return None
    host = ev.get("host")
    return f"{clip(str(host), NAME_CHARS)}:{int(x)}" if host else int(x)


def _mib(tr: Tr, mib: float) -> Html:
    if mib >= 1024:
        return tr.t("unit.gib", n=tr.dec(mib / 1024, 1, trim=True))
    return tr.t("unit.mib", n=tr.dec(mib, 0))


def _on_gpu(tr: Tr, ev: Evidence) -> Html:
    gpu = _gpu(ev)
    return tr.t("fact.gpu", gpu=gpu) if gpu is not None else Html("")


def _no_facts(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    return [_on_gpu(tr, ev)]


def _oom(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    tried, total = number(ev, "tried_mib"), number(ev, "total_gib")
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


def _nan_title(tr: Tr, ev: Evidence) -> Html:
    """`Loss is NaN`, `Val loss is infinite`: the value is the news, so it is the title."""
    text = str(ev.get("loss", "")).strip().lower().lstrip("+-")
    kind = {"nan": "", "inf": "_inf", "infinity": "_inf"}.get(text)
    if kind is None:
        return tr.t("alert.nan_other")
    val = "_val" if ev.get("source") == "val_loss" else ""
    return tr.t(f"alert.nan{val}{kind}")


def _spike(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    loss, ref = number(ev, "loss"), number(ev, "median", "baseline", "reference")
    if loss is None:
        return []
    if ref is None:
        return [tr.t("fact.loss_is", loss=tr.loss(loss))]
    return [tr.t("fact.loss_vs", loss=tr.loss(loss), ref=tr.loss(ref))]


def _slowed(tr: Tr, ev: Evidence) -> list[Html]:
    pct, minutes = number(ev, "slowdown_pct"), number(ev, "minutes")
    if pct is None:
        return []
    if minutes is None:
        return [tr.t("fact.slowed", pct=tr.pct(pct))]
    return [tr.t("fact.slowed_for", pct=tr.pct(pct), dur=tr.dur(minutes * 60))]


def _temperature(tr: Tr, ev: Evidence) -> list[Html]:
    gpu, temp = _gpu(ev), number(ev, "temperature_c")
    if temp is None:
        return [_on_gpu(tr, ev)]
    celsius = tr.unit(temp, "°C")
    if gpu is None:
        return [tr.t("fact.temp", temp=celsius)]
    return [tr.t("fact.gpu_temp", gpu=gpu, temp=celsius)]


def _reasons(tr: Tr, ev: Evidence) -> list[Html]:
    reasons = ev.get("reasons")
    if not isinstance(reasons, str) or not reasons.strip():
        return []
    return [tr.t("fact.reasons", reasons=reasons_text(tr, reasons))]


def _thermal(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    return [*_slowed(tr, ev), *_temperature(tr, ev), *_reasons(tr, ev)]


def _about_gpu(tr: Tr, ev: Evidence, fragment: Html | None) -> Html:
    """`GPU 0 : mémoire utilisée à 97 %.`, or the fragment alone as a sentence."""
    gpu = _gpu(ev)
    if fragment is None:
        return _on_gpu(tr, ev)
    if gpu is None:
        return tr.t("fact.alone", fact=Html(fragment[:1].upper() + fragment[1:]))
    return tr.t("fact.on_gpu", gpu=gpu, fact=fragment)


def _power(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    watts, limit = number(ev, "power_w"), number(ev, "power_limit_w", "limit_w")
    power = None
    if watts is not None and limit is not None:
        power = tr.t("fact.power", power=tr.unit(watts, "W"), limit=tr.unit(limit, "W"))
    return [*_slowed(tr, ev), _about_gpu(tr, ev, power), *_reasons(tr, ev)]


def _slowdown(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    step, base = number(ev, "step_s"), number(ev, "baseline_s", "baseline_step_s")
    facts = _slowed(tr, ev)
    if step is not None and base is not None:
        facts.append(tr.t("fact.step_was", step=tr.dur(step), base=tr.dur(base)))
    return facts


def _stall(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    if ev.get("cause") == "collective_timeout":
        timeout = number(ev, "timeout_s")
        facts = [tr.t("fact.collective_timeout", dur=tr.dur(timeout))] if timeout else []
        return facts + _error(tr, ev)
    silent = number(ev, "silent_s")
    return [tr.t("fact.silent", dur=tr.dur(silent))] if silent is not None else []


CAUSES = {"time_limit", "cancelled", "killed"}  # a crash whose cause is a sentence of its own


def _crash(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    facts = []
    cause = ev.get("cause")
    if a.iter is None:  # a start-up crash, or a log whose progress lines are not read
        facts.append(tr.t("fact.no_iter"))
    if cause in CAUSES:
        facts.append(tr.t(f"fact.cause_{cause}"))
    return [*facts, *_exit_code(tr, ev), *_error(tr, ev), _machine(tr, ev)]


def _could_not_start(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    """The line that says why first; a shell's 127 or 126 said in words."""
    exit_code = _exit(ev)
    if exit_code in (126, 127) and not _error(tr, ev):
        key = "fact.not_found" if exit_code == 127 else "fact.not_executable"
        return [tr.t(key, code=code(exit_code)), _machine(tr, ev)]
    return [*_error(tr, ev), *_exit_code(tr, ev), _machine(tr, ev)]


def _exit(ev: Evidence) -> int | None:
    exit_code = number(ev, "exit_code")
    return int(exit_code) if exit_code is not None and abs(exit_code) < 1e12 else None


def _exit_code(tr: Tr, ev: Evidence) -> list[Html]:
    exit_code = _exit(ev)
    return [] if exit_code is None else [tr.t("fact.exit_code", code=code(exit_code))]


def _machine(tr: Tr, ev: Evidence) -> Html:
    """`On gpu07, log /runs/a/train.log.`: which of several machines and runs this is."""
    machine, log = ev.get("machine"), ev.get("log")
    path = code(clip(log, VALUE_CHARS)) if isinstance(log, str) and log else None
    if not isinstance(machine, str) or not machine or tr.ctx.host:  # the head names it
        return tr.t("fact.log", log=path) if path else Html("")
    there = code(clip(machine, NAME_CHARS))
    if path is None:
        return tr.t("fact.machine", machine=there)
    return tr.t("fact.machine_log", machine=there, log=path)


def _error(tr: Tr, ev: Evidence) -> list[Html]:
    error = ev.get("error")
    if not isinstance(error, str) or not error.strip():
        return []
    return [tr.t("fact.error", error=code(clip(error.strip(), VALUE_CHARS)))]


def _gpu_lost(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    gpu = _gpu(ev)
    return [tr.t("fact.gpu_lost", gpu=gpu)] if gpu is not None else []


def _memory(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    used, total = (
        number(ev, "used_mib", "memory_used_mib"),
        number(ev, "total_mib", "memory_total_mib"),
    )
    pct = number(ev, "used_pct")
    if pct is None and used is not None and total:
        pct = 100 * used / total
    memory = None
    if pct is not None and used is not None and total is not None:
        memory = tr.t("fact.memory", pct=tr.pct(pct), used=_mib(tr, used), total=_mib(tr, total))
    elif pct is not None:
        memory = tr.t("fact.memory_pct", pct=tr.pct(pct))
    return [_about_gpu(tr, ev, memory)]


def _gpu_idle(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    gpu, n = _gpu(ev), number(ev, "idle_gpus")
    pct, idle_s = number(ev, "threshold_pct"), number(ev, "idle_s")
    if gpu is None or pct is None or idle_s is None:
        return [_on_gpu(tr, ev)]
    words = {"gpu": gpu, "pct": tr.pct(pct), "dur": tr.dur(idle_s)}
    if n is not None and 1 < n < 1e6:
        return [tr.t("fact.gpus_idle", n=int(n), **words)]
    return [tr.t("fact.gpu_idle", **words)]


def _bytes(tr: Tr, n: float) -> Html:
    if n >= 1 << 40:
        return tr.t("unit.tib", n=tr.dec(n / (1 << 40), 1, trim=True))
    return _mib(tr, n / (1 << 20))


def _disk_full(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    mount, path = ev.get("mount"), ev.get("path")
    pct, free = number(ev, "used_pct"), number(ev, "free_bytes")
    facts = []
    if isinstance(mount, str) and pct is not None and free is not None:
        where = code(clip(mount, VALUE_CHARS))
        facts.append(tr.t("fact.disk_full", mount=where, pct=tr.pct(pct), free=_bytes(tr, free)))
    if isinstance(path, str) and path and path != mount:
        facts.append(tr.t("fact.disk_path", path=code(clip(path, VALUE_CHARS))))
    return facts


def _slurm_deadline(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    end, finish, short = number(ev, "job_end_s"), number(ev, "finish_s"), number(ev, "short_s")
    if end is None or finish is None:
        return []
    times = {"end": tr.clock(end), "finish": tr.clock(finish)}
    if ev.get("resolved") == 1:
        return [tr.t("fact.slurm_fits", **times)]
    return [tr.t("fact.slurm_short", short=tr.dur(short), **times)]


def _started(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    facts = []
    total = number(ev, "total_iters", "max_iters")
    if total is not None and 0 < total < 1e15:
        facts.append(tr.t("fact.total_iters", total=int(total)))
    eta = number(ev, "eta_s", "remaining_s")
    if eta is not None:
        facts.append(tr.t("fact.first_eta", eta=tr.dur(eta)))
    return facts


def _finished(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    """How long it took against the first estimate, its val losses, its exit, where."""
    facts = []
    took, first = number(ev, "elapsed_s"), number(ev, "first_total_s")
    if took is not None and first is not None:
        facts.append(tr.t("fact.took_vs_first", took=tr.dur(took), first=tr.dur(first)))
    elif took is not None:
        facts.append(tr.t("fact.took", took=tr.dur(took)))
    best, best_iter = number(ev, "best_val_loss"), number(ev, "best_iter")
    if best is not None:
        it = int(best_iter) if best_iter is not None and 0 <= best_iter < 1e15 else None
        facts.append(tr.t("fact.alone", fact=best_line(tr, best, it)))
    final = number(ev, "final_val_loss")
    if final is not None:
        facts.append(tr.t("fact.final_val", loss=tr.loss(final)))
    return [*facts, *_exit_code(tr, ev), _machine(tr, ev)]


def _running_again(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    if ev.get("after") == "crash":
        return [tr.t("fact.after_crash")]
    silent = number(ev, "silent_s")
    if silent is None:
        return [tr.t("fact.after_stall_unknown")]
    return [tr.t("fact.after_stall", dur=tr.dur(silent))]


def _stopped(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    """Who had it stopped, then the end of a finished run's facts, then how it exited."""
    by = ev.get("by")
    facts = [tr.t("fact.stopped_by", by=clip(str(by), NAME_CHARS))] if by else []
    return facts + _finished(tr, ev, a)  # which says how it exited


def _too_many_runs(tr: Tr, ev: Evidence, a: Alert) -> list[Html]:
    most = number(ev, "max")
    return [tr.t("fact.too_many_runs", max=int(most))] if most is not None and most < 1e9 else []


FACTS: dict[str, Callable[[Tr, Evidence, Alert], list[Html]]] = {
    "oom": _oom,
    "loss_spike": _spike,
    "thermal": _thermal,
    "power": _power,
    "slowdown": _slowdown,
    "stall": _stall,
    "crash": _crash,
    "gpu_lost": _gpu_lost,
    "memory_pressure": _memory,
    "gpu_idle": _gpu_idle,
    "disk_full": _disk_full,
    "slurm_deadline": _slurm_deadline,
    "started": _started,
    "new_launch": _started,
    "finished": _finished,
    "stopped": _stopped,
    "could_not_start": _could_not_start,
    "running_again": _running_again,
    "too_many_runs": _too_many_runs,
}
