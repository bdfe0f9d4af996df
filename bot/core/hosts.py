"""GPUs of several machines, as a hub sees them: the latest snapshot of each host.

On one machine (host "") every snapshot passes through unchanged. Past one, `/gpu` shows
each host's GPUs with their own index and the host's name, and the detectors of a run see
the GPUs of every host of that run as one machine: each GPU gets a number of its own (stable
for the hub's life), which `name_hosts` turns back into host and index in the alerts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.notices import ON_GPU, Alert, Notice

EVERY_RUN = ""


@dataclass(frozen=True, slots=True)
class HostGpuSample(GpuSample):
    """A GPU with the name of its machine (what `/gpu` shows as host:index)."""

    host: str = ""

    @classmethod
    def of(cls, host: str, gpu: GpuSample) -> HostGpuSample:
        values = {f.name: getattr(gpu, f.name) for f in dataclasses.fields(GpuSample)}
        return cls(**values, host=host)


def host_of(gpu: GpuSample) -> str:
    """The machine of a GPU a hub gathered; "" on one machine."""
    return gpu.host if isinstance(gpu, HostGpuSample) else ""


class HostGpus:
    """Latest snapshot per host, and the run each host's GPUs train ("" = every run)."""

    def __init__(self) -> None:
        self.latest: dict[str, GpuSnapshot] = {}
        self.run_of: dict[str, str] = {}
        self._number: dict[tuple[str, int], int] = {}
        self._where: list[tuple[str, int]] = []

    def update(self, host: str, snapshot: GpuSnapshot, run: str = EVERY_RUN) -> GpuSnapshot:
        """Fold one host's snapshot; what `/gpu` shows now."""
        if not host:
            return snapshot
        gpus = tuple(HostGpuSample.of(host, g) for g in snapshot.gpus)
        self.latest[host] = dataclasses.replace(snapshot, gpus=gpus)
        self.run_of[host] = run
        return self.view()

    def view(self) -> GpuSnapshot:
        """Every host's GPUs, by host name then index; an error only when no host has GPUs."""
        return _merge([self.latest[h] for h in sorted(self.latest)])

    def for_run(self, host: str, snapshot: GpuSnapshot, run: str) -> GpuSnapshot:
        """What the detectors of `run` see after `host` reported `snapshot` (already folded):
        the GPUs of the hosts that train it, each under its own number."""
        if not host:
            return snapshot
        hosts = [h for h in sorted(self.latest) if self.run_of[h] in (run, EVERY_RUN)]
        merged = _merge([self.latest[h] for h in hosts])
        gpus = tuple(dataclasses.replace(g, index=self._numbered(g)) for g in merged.gpus)
        return dataclasses.replace(merged, gpus=gpus)

    def runs(self, host: str, runs: list[str]) -> list[str]:
        """The runs among `runs` whose detectors a report of `host` concerns."""
        run = self.run_of.get(host, EVERY_RUN)
        return [r for r in runs if run in (r, EVERY_RUN)]

    def name_hosts(self, notices: list[Notice]) -> list[Notice]:
        """Alerts about a numbered GPU say which host and which of its GPUs it is."""
        return [self._named(n) if isinstance(n, Alert) else n for n in notices]

    def _named(self, alert: Alert) -> Alert:
        ev = alert.evidence
        if not isinstance(ev, ON_GPU) or ev.gpu is None or not 0 <= ev.gpu < len(self._where):
            return alert
        host, index = self._where[ev.gpu]
        return dataclasses.replace(alert, evidence=dataclasses.replace(ev, host=host, gpu=index))

    def _numbered(self, gpu: GpuSample) -> int:
        key = (host_of(gpu), gpu.index)
        if key not in self._number:
            self._number[key] = len(self._where)
            self._where.append(key)
        return self._number[key]


def _merge(snapshots: list[GpuSnapshot]) -> GpuSnapshot:
    if not snapshots:
        return GpuSnapshot(0.0)
    gpus = tuple(g for s in snapshots for g in s.gpus)
    failed = next((s for s in snapshots if s.error is not None), None)
    return GpuSnapshot(
        taken_at_s=max(s.taken_at_s for s in snapshots),
        gpus=gpus,
        error=failed.error if failed is not None and not gpus else None,
        error_detail=failed.error_detail if failed is not None and not gpus else None,
        driver_version=next((s.driver_version for s in snapshots if s.driver_version), None),
    )
