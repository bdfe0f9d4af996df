"""The one scanner for failure lines, shared by every parser.

`scan(line)` takes a cleaned line and returns an `ErrorText` or None. Kinds:

- `oom`: CUDA out of memory in any spelling: `torch.OutOfMemoryError`,
  `torch.cuda.OutOfMemoryError`, `CUDA out of memory. Tried to allocate 512.00 MiB (GPU 0;
  79.15 GiB total capacity; ...)` and the newer `... GPU 0 has a total capacity of 63.42 GiB of
  which 1.20 GiB is free ...`, `CUDA error: out of memory`, `CUBLAS_STATUS_ALLOC_FAILED`,
  `cudaErrorMemoryAllocation`. `details` holds what the line says: `tried_mib`, `gpu_index`,
  `total_gib`, `free_mib`, `in_use_gib`, `allocated_gib`.
- `traceback`: the `Traceback (most recent call last):` header (also `Original Traceback`).
- `nccl`: NCCL failures (`NCCL error`, `ncclInternalError`, `NCCL WARN`, watchdog timeouts).
- `cuda`: other `CUDA error: ...` lines (illegal memory access, device-side assert...).
- `cancelled`: the batch system ended the job (`*** JOB 123 CANCELLED AT ... DUE TO TIME
  LIMIT ***`); `details["cause"]` is `time_limit` or `cancelled`.
- `killed`: the process was killed (`Killed` from the shell, `killed by signal`).
- `error`: an exception line at the start of a line (`TypeError: ...`, `[rank4]: TypeError:`,
  `ChildFailedError`,
  `torch.distributed.elastic...ChildFailedError:`), usually the last line of a traceback.

One failure prints several of these lines (an OOM traceback gives a `traceback`, then one
`oom` per OOM line, and Python chained exceptions repeat them): each line is reported on its
own and the detector downstream groups the lines that belong to one failure.
"""

from __future__ import annotations

import re

from bot.core.events import ErrorText, Event
from bot.core.parsers.base import looks_binary

# Long lines are cut: the alert shows the start of the line, the numbers are in `details`.
MAX_TEXT_CHARS = 500

_UNIT_MIB = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0**2}
_SIZE = r"([\d.]+) ?(B|KiB|MiB|GiB|TiB)"

_OOM = re.compile(
    r"OutOfMemoryError|CUDA out of memory|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED"
    r"|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY"
)
_OOM_NUMBERS = (
    ("tried_mib", re.compile(r"Tried to allocate " + _SIZE)),
    ("gpu_index", re.compile(r"GPU (\d+)")),
    ("total_gib", re.compile(_SIZE + r" total capacity|total capacity of " + _SIZE)),
    ("free_mib", re.compile(_SIZE + r" free\b|of which " + _SIZE + r" is free")),
    ("in_use_gib", re.compile(r"this process has " + _SIZE + r" memory in use")),
    ("allocated_gib", re.compile(_SIZE + r" (?:already allocated|is allocated by PyTorch)")),
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)")
_NCCL = re.compile(
    r"NCCL (?:error|Error|WARN|INFO.*(?:error|failure))|nccl\w*Error|ncclSystemError"
    r"|NCCL communicator was aborted|Watchdog caught collective operation timeout"
)
_CUDA = re.compile(r"CUDA error: |CUDA_ERROR_\w+|cudaError\w+")
_CANCELLED = re.compile(r"CANCELLED AT .*?(DUE TO TIME LIMIT)?|DUE TO TIME LIMIT")
_KILLED = re.compile(r"(?:^|\s)Killed(?:\s|$|\.)|killed by signal")
# `[rank3]: ` is how torchrun prefixes each rank's output.
_EXCEPTION = re.compile(
    r"^(?:\[rank\d+\]:\s*)?(?:[\w.]+\.)?\w*(?:Error|Exception|Interrupt)(?::|$)"
)


def scan(line: str) -> ErrorText | None:
    """The failure `line` (already cleaned) reports, or None for an ordinary line."""
    return next((e for e in with_errors([], line) if isinstance(e, ErrorText)), None)


def with_errors(events: list[Event], line: str) -> list[Event]:
    """`events` plus the failure `line` reports, if any (a progress line cut by a kill counts).

    Every parser calls this on every line: the gate is here, one call deep, because almost no
    line contains any of these words."""
    if (
        "rror" in line
        or "Traceback" in line
        or "out of memory" in line
        or "ALLOC_FAILED" in line
        or "CUDA_ERROR" in line
        or "NCCL" in line
        or "ANCELLED" in line
        or "illed" in line
        or "Exception" in line
        or "Interrupt" in line
    ) and not looks_binary(line):  # a binary file's strings are not failures of this run
        error = _classify(line)
        if error is not None:
            events.append(error)
    return events


def _classify(line: str) -> ErrorText | None:
    text = line[:MAX_TEXT_CHARS]
    if _OOM.search(line):
        return ErrorText("oom", text, _oom_details(line))
    if _TRACEBACK.search(line):
        return ErrorText("traceback", text)
    if _NCCL.search(line):
        return ErrorText("nccl", text)
    if _CUDA.search(line):
        return ErrorText("cuda", text)
    cancelled = _CANCELLED.search(line)
    if cancelled:
        cause = "time_limit" if "TIME LIMIT" in line else "cancelled"
        return ErrorText("cancelled", text, {"cause": cause})
    if _KILLED.search(line):
        return ErrorText("killed", text)
    if _EXCEPTION.match(line):
        return ErrorText("error", text)
    return None


def _oom_details(line: str) -> dict[str, float | str]:
    details: dict[str, float | str] = {}
    for key, pattern in _OOM_NUMBERS:
        match = pattern.search(line)
        if match is None:
            continue
        groups = [g for g in match.groups() if g is not None]
        if key == "gpu_index":
            details[key] = float(groups[0])
            continue
        try:
            mib = float(groups[0]) * _UNIT_MIB[groups[1]]
        except ValueError:
            continue
        details[key] = mib if key.endswith("_mib") else mib / 1024
    return details
