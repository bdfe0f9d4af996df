"""Typed events: what parsers read out of one log line, and what RunState folds.

Every field with a unit carries it in its name. All fields but the first are optional
because formats print different things; a parser fills in what its line says and nothing
more (it never invents a value).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Progress:
    """The trainer finished iteration `iter` (0- or 1-based, as the log counts)."""

    iter: int
    total: int | None = None  # max_iters / total steps, when the line itself says so
    loss: float | None = None
    dt_s: float | None = None  # this one iteration's duration as printed (nanoGPT `time`, llm.c)
    elapsed_s: float | None = None  # the run's own cumulative clock (tqdm elapsed, train_time)
    timestamp_s: float | None = None  # wall-clock epoch seconds from a timestamp on the line
    remaining_s: float | None = None  # the trainer's own printed ETA (tqdm, LLaMA-Factory)
    epoch: float | None = None
    tokens_per_s: float | None = None
    # The work finished at this line in `iter`'s units, where the counter does not say it: an
    # epoch index printed at the epoch's end (Lightning's 0-based `Epoch 39: 100%` is 40 done,
    # `Epoch 20:  99%| 92/93` is 20 + 92/93). None: `iter` is the work done.
    done: float | None = None
    # Iterations per epoch in `iter`'s units, where the log counts epochs (1 when `iter` is the
    # epoch): `max_epochs` from the user or a config dump x this is the total.
    per_epoch: int | None = None


@dataclass(frozen=True, slots=True)
class Eval:
    """An evaluation result."""

    iter: int | None
    train_loss: float | None = None
    val_loss: float | None = None
    elapsed_s: float | None = None
    timestamp_s: float | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint was saved (the pause it causes is part of the ETA)."""

    iter: int | None
    path: str | None = None
    timestamp_s: float | None = None


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Hyper-parameters printed by the trainer (`max_iters = 5000`, `Overriding: ...`)."""

    values: dict[str, int | float | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErrorText:
    """A line that reports a failure: `kind` is oom, traceback, nccl, cuda or error."""

    kind: str
    text: str  # the line itself, capped in length
    details: dict[str, float | str] = field(default_factory=dict)  # e.g. tried_mib


@dataclass(frozen=True, slots=True)
class TrainingEnd:
    """Training is over: the log says so, or the launched process exited."""

    exit_code: int | None = None  # None when only the log told us
    reason: str = ""  # "completed", "exit", "signal", "killed", "stopped", ...
    by: str = ""  # who asked for a stop (reason "stopped"), when known

    @property
    def failed(self) -> bool:
        return self.exit_code not in (None, 0) or self.reason in ("crash", "killed", "signal")


Event = Progress | Eval | Checkpoint | RunConfig | ErrorText | TrainingEnd
