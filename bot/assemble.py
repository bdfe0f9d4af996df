"""One service per role, built from its parts:

- `embedded` (watch, run, demo): log intake and GPU intake fold what they read themselves;
  the fold, delivery and the Telegram front end in the same process;
- `agent`: log intake and GPU intake publish to the bus, tagged with the host; nothing else;
- `hub`: the bus's consumer feeds the fold; delivery and the Telegram front end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot import messages
from bot.adapters.console import Console
from bot.adapters.outbox import DEFAULT_POLICY, OutboxPolicy
from bot.adapters.process import Launched
from bot.adapters.procs import PROC
from bot.adapters.store import storable
from bot.bus import Bus
from bot.config import Config
from bot.core.gpu import GpuSource
from bot.core.policy import PushPolicy
from bot.fold import Consumer, Fold
from bot.front import Delivery, TelegramFront
from bot.intake import GpuIntake, LogIntake
from bot.notify import Chats, Notifier
from bot.parts import RunSpec, Storage, Supervisor
from bot.resources import Probes
from bot.service import Service

log = logging.getLogger(__name__)

MAX_HUB_RUNS = 64  # runs a hub follows at most; reports about others are ignored

Clock = Callable[[], float]


def embedded(
    config: Config,
    runs: list[RunSpec],
    *,
    gpu: GpuSource | None = None,
    console: Console | None = None,
    now: Clock = time.time,
    metrics: tuple[str, int] | None = None,
    outbox: OutboxPolicy = DEFAULT_POLICY,
    proc_root: Path | None = PROC,
    probes: Probes | None = None,
    demo: bool = False,
) -> Service:
    """One process does all: follows `runs`, samples `gpu`, holds the state and the bot.
    `metrics`: (address, port) where Prometheus metrics are served; `proc_root`: where /proc
    tells which GPUs each run uses (None for a simulated GPU, whose processes are not there);
    `probes`: how the runs' disks and SLURM jobs are read (None: they are not); `demo`: `now`
    is `etagram demo`'s accelerated clock, which the messages' times say."""
    service, runs = _service(config, "embedded", now), _storable(runs)
    supervisor = service.supervisor
    notifier, delivery = _chats(service, config, now, outbox, demo=demo)
    fold = Fold(
        config,
        runs,
        notifier,
        supervisor,
        console=console or Console(),
        proc_root=proc_root,
        pids=service.pids,
        host=socket.gethostname(),
        probes=probes,
    )
    _fold_parts(service, config, fold, delivery, metrics, launched=service.launched)
    logs = LogIntake(runs, service.storage, fold.fold, supervisor, now=now, rename=fold.rename)
    service.logs, service.launched.names = logs, logs.names  # /stop knows a renamed run
    service.parts.append(logs)
    if fold.console.live is not None:
        service.parts.append(LiveLines(fold, supervisor, terminal_language(config)))
    if gpu is not None:
        service.parts.append(GpuIntake(gpu, config.gpu.interval_s, fold.fold, supervisor))
    return service


def agent(
    config: Config,
    runs: list[RunSpec],
    bus: Bus,
    *,
    host: str,
    gpu_run: str = "",
    gpu: GpuSource | None = None,
    now: Clock = time.time,
) -> Service:
    """On a training node: follows `runs` and samples `gpu` (they train `gpu_run`, "" = every
    run), publishing to `bus` tagged with `host`."""
    service = _service(config, "agent", now)
    supervisor = service.supervisor
    service.logs = LogIntake(
        _storable(runs),
        service.storage,
        bus.publish,
        supervisor,
        now=now,
        host=host,
        state_elsewhere=True,
    )
    # The bus is closed after the producers stopped.
    service.parts += [_BusClosing(bus), service.logs]
    if gpu is not None:
        every_s = config.gpu.interval_s
        service.parts.append(
            GpuIntake(gpu, every_s, bus.publish, supervisor, host=host, run=gpu_run)
        )
    return service


def hub(
    config: Config,
    bus: Bus | None,
    *,
    console: Console | None = None,
    now: Clock = time.time,
    metrics: tuple[str, int] | None = None,
    outbox: OutboxPolicy = DEFAULT_POLICY,
) -> Service:
    """Holds the runs' state and the bot; folds what the agents publish to `bus` (None: the
    caller hands messages to `service.fold` itself)."""
    service = _service(config, "hub", now)
    notifier, delivery = _chats(service, config, now, outbox)
    fold = Fold(
        config,
        [],
        notifier,
        service.supervisor,
        console=console or Console(),
        max_runs=MAX_HUB_RUNS,
        pids=service.pids,
    )
    _fold_parts(service, config, fold, delivery, metrics)
    if bus is not None:
        service.parts.append(Consumer(bus, fold, service.supervisor))
    return service


def _service(config: Config, role: str, now: Clock) -> Service:
    storage = Storage(config.resolved_state_path(role), now)
    return Service(storage, Supervisor(), Launched(config.run.stop_grace_s))


def _storable(runs: list[RunSpec]) -> list[RunSpec]:
    """A name from a file name or argument that is not UTF-8 would fail every message."""
    return [dataclasses.replace(spec, name=storable(spec.name)) for spec in runs]


def _chats(
    service: Service, config: Config, now: Clock, outbox: OutboxPolicy, *, demo: bool = False
) -> tuple[Notifier, Delivery | None]:
    """The chats and the push policy applied for them; delivery to Telegram (None without a
    token: the console only)."""
    timezone = config.general.timezone or local_zone()  # read once: it is on every push
    store = service.storage
    chats = Chats(
        config.telegram.allowed_chat_ids,
        language=config.general.language,
        timezone=timezone,
        now=now,
        store=lambda: store.opened,
        demo=demo,
    )
    delivery = None
    if not config.telegram.token:
        log.info("no Telegram token: messages go to the console only")
    else:
        # The config's age limit, unless a caller (a test) passed a policy of its own.
        if outbox is DEFAULT_POLICY:
            outbox = dataclasses.replace(outbox, max_age_s=config.notify.outbox_max_age_s)
        delivery = Delivery(store, chats, now, outbox)
    policy = PushPolicy(config.notify.milestones_pct, frozenset(config.notify.critical_alerts))
    notifier = Notifier(
        policy, chats, now=now, outbox=lambda: delivery.sender if delivery else None
    )
    return notifier, delivery


def local_zone() -> str:
    """The machine's IANA zone name, from $TZ or /etc/localtime; UTC when unknown."""
    tz = os.environ.get("TZ", "")
    if tz and "/" in tz:
        return tz.lstrip(":")
    with contextlib.suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return "UTC"


def _fold_parts(
    service: Service,
    config: Config,
    fold: Fold,
    delivery: Delivery | None,
    metrics: tuple[str, int] | None,
    launched: Launched | None = None,
) -> None:
    """The fold, and before it (with a token) the Telegram front end and delivery, and the
    metrics; `launched`: the processes /stop can stop (None on a hub: its runs are
    elsewhere)."""
    service.fold = fold
    if delivery is not None:
        service.front = TelegramFront(config, fold, delivery, service.supervisor, launched=launched)
        # The front end first: delivery drains the outbox through it when stopping.
        service.parts += [service.front, delivery]
    if metrics is not None:
        service.parts.append(_Metrics(fold, metrics))
    service.parts.append(fold)


LIVE_EVERY_S = 0.5  # the terminal's live lines change twice a second at most


def terminal_language(config: Config, env: Mapping[str, str] = os.environ) -> str:
    """The live lines' language: the config's, and in `both` mode the locale's (one line
    holds one language)."""
    from bot.demo import locale_language

    lang = config.general.language
    return lang if lang != "both" else locale_language(env)


class LiveLines:
    """Draws one line per run on the terminal (`fold.console`), twice a second at most."""

    def __init__(self, fold: Fold, supervisor: Supervisor, lang: str) -> None:
        self.fold, self.supervisor, self.lang = fold, supervisor, lang

    async def start(self) -> None:
        self.supervisor.every(("live line", ""), 0.0, LIVE_EVERY_S, self.draw)

    async def stop(self) -> None:
        await self.supervisor.end(("live line", ""))
        self.fold.console.close()

    async def draw(self) -> None:
        fold, console = self.fold, self.fold.console
        ctx = messages.Ctx(lang=self.lang, tz=fold.timezone, now_s=fold.now(), demo=fold.demo)
        states, room = fold.run_states(), console.rows()
        lines = [messages.live_line(state, ctx) for state in states[:room]]
        if len(states) > room:
            lines[-1] = messages.live_more(len(states) - room + 1, ctx)
        console.draw(lines)


class _Metrics:
    """Prometheus metrics on (address, port); going on without when the port is taken."""

    def __init__(self, fold: Fold, at: tuple[str, int]) -> None:
        self.fold, self.at = fold, at
        self.server: Any = None

    async def start(self) -> None:
        from bot.adapters.metrics import serve_metrics

        addr, port = self.at
        try:
            self.server = serve_metrics(self.fold, port, addr)
        except OSError as exc:
            log.error("cannot serve metrics on %s:%d (%s): going on without", addr, port, exc)
            return
        log.info("Prometheus metrics on http://%s:%d/metrics", addr, self.server.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


class _BusClosing:
    """An agent's bus, closed when the service stops (after the producers)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self.bus.aclose()
