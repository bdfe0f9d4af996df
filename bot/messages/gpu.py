"""GPU texts: the `/gpu` table and the one-line summaries that `/status` shows.

The table holds only figures and units, written like `/status` writes them (the chat's number
format, memory in GiB, French `Gio`); `both` mode shows it once, in the first language's
format, and the words about it (slowdown reasons, a lost GPU) follow in each language.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from babel.lists import format_list

from bot.core.gpu import (
    ERROR_DRIVER_NOT_LOADED,
    ERROR_LIBRARY_NOT_FOUND,
    ERROR_NO_PERMISSION,
    ERROR_NVML,
    ERROR_VERSION_MISMATCH,
    HW_SLOWDOWN,
    POWER_REASONS,
    THERMAL_REASONS,
    GpuSample,
    GpuSnapshot,
)
from bot.core.gpumap import GpuMap, ordered_for
from bot.messages.lang import NBSP, Tr, compose, finite
from bot.messages.markup import NAME_CHARS, Html, clip, code, esc, join, name, to_plain
from bot.messages.types import Ctx

EMOJI_GPU = "🖥️"
GPU_NAME_CHARS = 32
MAX_UNKNOWN = 5  # unknown slowdown reason names shown; a flood of them says nothing more
STATUS_GPUS = 4  # /status lists this many GPUs one by one, and sums up the rest
REASONS = ("hw_slowdown", "hw_thermal", "sw_thermal", "sw_power_cap", "hw_power_brake")
# /status says a slowdown reason in one word (/gpu has the driver's full list)
SHORT_REASONS = {
    THERMAL_REASONS: "thermal",
    POWER_REASONS: "power",
    frozenset({HW_SLOWDOWN}): "hw_slowdown",
}
ERRORS = (
    ERROR_LIBRARY_NOT_FOUND,
    ERROR_DRIVER_NOT_LOADED,
    ERROR_VERSION_MISMATCH,
    ERROR_NO_PERMISSION,
    ERROR_NVML,
)


def gpu_text(
    snap: GpuSnapshot | None,
    ctx: Ctx,
    training_pids: Collection[int] = (),
    gpu_map: GpuMap | None = None,
    run: str | None = None,
) -> str:
    """Per-GPU table: utilisation, memory, temperature, clocks, power, slowdown reasons, and
    the memory of the training process when etagram launched it (`etagram run`). With `run`,
    that run's GPUs first and named; with a map that could not be made, why."""
    if snap is not None and run is not None:
        snap = ordered_for(snap, gpu_map, run)
    gpus = snap.gpus if snap is not None and snap.error is None else ()
    table = (lambda tr: _table(tr, gpus, training_pids)) if gpus else None

    def body(tr: Tr) -> Html:
        return join([_placement(tr, gpu_map, run), _notes(tr, snap)])

    return compose(ctx, Html(f"{EMOJI_GPU} <b>GPU</b>"), body, table)


def _placement(tr: Tr, gpu_map: GpuMap | None, run: str | None) -> Html:
    """Which GPUs the run asked about uses, or why etagram cannot tell."""
    if gpu_map is None:
        return Html("")
    if gpu_map.unknown is not None:
        why = tr.t(f"gpu.unmapped.{gpu_map.unknown}")
        return tr.t("gpu.unmapped", why=why)
    if run is None:
        return Html("")
    used = sorted(gpu_map.gpus_of(run) or ())
    if not used:
        return tr.t("gpu.run_on_none", run=name(run))
    return tr.t("gpu.run_on", run=name(run), gpus=_list(tr, [Html(f"GPU {i}") for i in used]))


def _table(tr: Tr, gpus: Sequence[GpuSample], training_pids: Collection[int]) -> Html:
    rows = []
    for g in gpus:
        rows.append(f"{gpu_label(g)} · {clip(g.name or '?', GPU_NAME_CHARS)}")
        if g.lost:
            rows.append("  ✖")
            continue
        memory = tr.t("unit.gib", n=_pair(tr, _gib(g.memory_used_mib), _gib(g.memory_total_mib), 1))
        rows.append(f"  {tr.pct(g.utilization_pct)} · {memory} · {_celsius(tr, g.temperature_c)}")
        clock = _pair(tr, g.sm_clock_mhz, g.max_sm_clock_mhz, 0)
        power = _pair(tr, _watts(g.power_mw), _watts(g.power_limit_mw), 0)
        rows.append(f"  {clock}{NBSP}MHz · {power}{NBSP}W")
        rows += [
            f"  pid {pid} · {tr.t('unit.gib', n=tr.dec(_gib(mib), 1, trim=True))}"
            for pid, mib in g.processes
            if pid in training_pids
        ]
    return Html(f"<pre>{esc(chr(10).join(rows))}</pre>")


def gpu_label(g: GpuSample) -> str:
    """`3`, or `node3:3` when a hub gathers the GPUs of several machines."""
    host = getattr(g, "host", "")
    return f"{clip(host, NAME_CHARS)}:{g.index}" if host else str(g.index)


def _watts(mw: float | None) -> float | None:
    return mw / 1000 if finite(mw) and mw is not None else None


def _pair(tr: Tr, value: float | None, limit: float | None, digits: int) -> Html:
    """`1 410/1 410`, `6,5/12`: a reading and its maximum in the chat's number format."""
    return Html(f"{tr.dec(value, digits, trim=True)}/{tr.dec(limit, digits, trim=True)}")


def _notes(tr: Tr, snap: GpuSnapshot | None) -> Html:
    if snap is None:
        return tr.t("gpu.none")
    if snap.error is not None:
        return tr.t("gpu.error", why=_error_words(tr, snap.error))
    if not snap.gpus:
        return tr.t("gpu.empty")
    notes = [note for g in snap.gpus if (note := _note(tr, g))]
    return join(notes) if notes else tr.t("gpu.all_ok")


def _error_words(tr: Tr, error: str) -> Html:
    """Why NVML is unusable, in words; a code etagram does not know (from a newer agent) as
    code."""
    if error in ERRORS:
        return tr.t(f"gpu.error.{error}")
    return tr.t("gpu.error.unknown", code=code(clip(error, NAME_CHARS)))


def gpu_error_words(error: str, lang: str) -> str:
    """Why NVML is unusable, in plain words (`etagram check`)."""
    return to_plain(_error_words(Tr(lang, Ctx(lang=lang, now_s=0.0)), error))


def _note(tr: Tr, g: GpuSample) -> Html:
    """What is wrong with one GPU, in words; empty when nothing is."""
    if g.lost:
        return tr.t("gpu.lost", gpu=gpu_label(g))
    if not g.reasons:
        return Html("")
    throttled = tr.t("gpu.throttled", gpu=gpu_label(g), reasons=reasons_text(tr, g.reasons))
    details = []
    if finite(g.temperature_c) and finite(g.slowdown_temp_c):
        details.append(
            tr.t(
                "gpu.temp_vs",
                temp=_celsius(tr, g.temperature_c),
                limit=_celsius(tr, g.slowdown_temp_c),
            )
        )
    if finite(g.sm_clock_mhz) and finite(g.max_sm_clock_mhz) and g.max_sm_clock_mhz:
        assert g.sm_clock_mhz is not None
        details.append(tr.t("gpu.clock_pct", pct=tr.pct(100 * g.sm_clock_mhz / g.max_sm_clock_mhz)))
    if not details:
        return throttled
    return Html(f"{throttled}\n{tr.t('gpu.details', details=join(details, ', '))}")


def _celsius(tr: Tr, c: float | None) -> Html:
    return tr.unit(c, "°C")


def reasons_text(tr: Tr, reasons: frozenset[str] | set[str] | str) -> Html:
    """Slowdown reasons in words, known ones in a fixed order, unknown ones as code."""
    names = set(reasons.split(",")) if isinstance(reasons, str) else set(reasons)
    names = {n.strip() for n in names if n.strip()}
    shown = [r for r in REASONS if r in names]
    if names >= THERMAL_REASONS:  # both at once: "limites thermiques matérielle et logicielle"
        shown = ["thermal" if r == "hw_thermal" else r for r in shown if r != "sw_thermal"]
    known = [tr.t(f"reason.{r}") for r in shown]
    unknown = [code(clip(r, NAME_CHARS)) for r in sorted(names - set(REASONS))][:MAX_UNKNOWN]
    return _list(tr, known + unknown)


def _list(tr: Tr, items: list[Html]) -> Html:
    """`a, b et c` / `a, b and c`, with Babel's list patterns (items are already markup)."""
    return Html(format_list(list(items), locale=tr.locale)) if items else Html("")


def gpu_lines(tr: Tr, snap: GpuSnapshot | None) -> list[Html]:
    """`/status` summary: one short line per GPU, or one line for many."""
    if snap is None or snap.error is not None or not snap.gpus:
        return []
    gpus = list(snap.gpus)
    if len(gpus) > STATUS_GPUS:
        return [_summary(tr, gpus)]
    return [_line(tr, g) for g in gpus]


def _line(tr: Tr, g: GpuSample) -> Html:
    if g.lost:
        return tr.t("gpu.lost", gpu=gpu_label(g))
    used = _gib(g.memory_used_mib)
    total = _gib(g.memory_total_mib)
    line = tr.t(
        "gpu.line",
        gpu=gpu_label(g),
        util=tr.pct(g.utilization_pct),
        used=tr.dec(used, 1, trim=True),
        total=tr.dec(total, 1, trim=True),
        temp=_celsius(tr, g.temperature_c),
    )
    if g.reasons:  # on a line of its own: a phone shows about 32 characters a line
        slowed = tr.t("gpu.slowed", gpu=gpu_label(g), reasons=_short_reasons(tr, g.reasons))
        return Html(f"{line}\n⚠️ {slowed}")
    return line


def _short_reasons(tr: Tr, reasons: frozenset[str]) -> Html:
    """`heat`, `heat and power limit`: the driver's reasons grouped, one word each."""
    words = [tr.t(f"reason_short.{key}") for group, key in SHORT_REASONS.items() if reasons & group]
    if not words:
        words = [tr.t("reason_short.unknown")]
    return _list(tr, words)


def _gib(mib: float | None) -> float | None:
    return mib / 1024 if mib is not None and finite(mib) else None


def _summary(tr: Tr, gpus: list[GpuSample]) -> Html:
    utils = [g.utilization_pct for g in gpus if finite(g.utilization_pct)]
    temps = [g.temperature_c for g in gpus if finite(g.temperature_c)]
    mean_util = sum(u for u in utils if u is not None) / len(utils) if utils else None
    hottest = max((t for t in temps if t is not None), default=None)
    slowed = sum(1 for g in gpus if g.reasons or g.lost)
    line = tr.t("gpu.summary", n=len(gpus), util=tr.pct(mean_util), temp=_celsius(tr, hottest))
    return Html(f"{line}, {tr.plural('gpu.n_slowed', slowed)}") if slowed else line
