"""The messages between what produces input (log followers, GPU samplers, launched processes)
and what holds the state (the core, the notifier), and the bus that carries them past one
machine: Redis Streams, from `etagram agent`s to one `etagram hub`.

In one process there is no bus: `Fold.fold` folds a message in the producer's task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from bot.core.gpu import GpuSnapshot


@dataclass(frozen=True, slots=True)
class LogLines:
    """Complete lines of a run's log, read at `wall_s`.

    `replayed`: lines an earlier etagram already handled (before the saved offset), or the
    backlog of a log that was already long when first followed: they rebuild the state but
    cause no eval message (alerts still go out). `catch_up`: replayed lines far from the live
    edge, folded at speed (bot/core/catchup.py: the same state and alerts).
    """

    run: str
    lines: tuple[str, ...]
    wall_s: float
    replayed: bool = False
    host: str = ""
    catch_up: bool = False


@dataclass(frozen=True, slots=True)
class GpuReport:
    """One NVML snapshot of a host's GPUs; `run`: the run they train ("" = every run)."""

    host: str
    snapshot: GpuSnapshot
    run: str = ""


@dataclass(frozen=True, slots=True)
class ProcessExit:
    """The training process etagram launched for `run` exited; `stopped_by`: on whose
    request (`/stop`), when it was stopped."""

    run: str
    exit_code: int | None
    wall_s: float
    stopped_by: str | None = None


@dataclass(frozen=True, slots=True)
class LogWait:
    """The follower of `run`'s log cannot read it (`reason`: a `WaitReason` value), or can
    again (None)."""

    run: str
    reason: str | None
    wall_s: float


Message = LogLines | GpuReport | ProcessExit | LogWait


class Bus(Protocol):
    async def publish(self, msg: Message) -> None: ...
    def messages(self) -> AsyncIterator[Message]: ...
    def idle(self) -> bool: ...  # everything published has been handed on
    async def aclose(self) -> None: ...
