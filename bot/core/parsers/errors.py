"""The one scanner for failure lines, shared by every parser.

`scan(line)` takes a cleaned line and returns an `ErrorText` or None. Prefixes that launchers
put in front of each process's lines are looked through: srun's task label (`29: `),
torchrun's (`[rank0]:`, repeated, `[default0]:`) and Ray's (`(TaskRunner pid=11874) `).
Kinds:

- `oom`: out of memory in any spelling: `torch.OutOfMemoryError`, `torch.cuda.OutOfMemoryError`
  (also `Caught OutOfMemoryError in replica 0 on device 0.` from DataParallel), `CUDA out of
  memory. Tried to allocate 512.00 MiB (GPU 0; 79.15 GiB total capacity; ...)` and the newer
  `... GPU 0 has a total capacity of 63.42 GiB of which 1.20 GiB is free ...`, `HIP out of
  memory`, `CUDA error: out of memory`, `CUBLAS_STATUS_ALLOC_FAILED`,
  `cudaErrorMemoryAllocation`, XLA's `RESOURCE_EXHAUSTED: Out of memory while trying to
  allocate ...` and `Ran out of memory in memory space hbm`, TensorFlow's `OOM when allocating
  tensor`. `details` holds what the line says: `tried_mib`, `gpu_index`, `total_gib`,
  `free_mib`, `in_use_gib`, `allocated_gib`.
- `traceback`: the `Traceback (most recent call last):` header (also `Original Traceback`, and
  Hydra's `Error executing job with overrides: [...]`, which comes before its traceback).
- `hang`: a collective timed out (`[Rank 1] Watchdog caught collective operation timeout:
  WorkNCCL(SeqNum=805827, OpType=BROADCAST, ..., Timeout(ms)=600000) ran for 600030
  milliseconds before timing out.`); `details["timeout_s"]` when the line gives it.
- `nccl`: other NCCL failures (`NCCL error`, `ncclInternalError`, `NCCL WARN`).
- `cuda`: other `CUDA error: ...` lines (illegal memory access, device-side assert...).
- `cancelled`: the batch system ended the job (`*** JOB 123 CANCELLED AT ... DUE TO TIME
  LIMIT ***`, also `STEP` lines); `details["cause"]` is `time_limit` or `cancelled`.
- `killed`: the process was killed (`Killed` from the shell or the OOM killer, `srun: error:
  nid1: tasks 36,38: Killed`, `killed by signal`, DeepSpeed's launcher
  `[launch.py:314:sigkill_handler] Killing subprocess 75727`).
- `exit`: the process ended on a failure: `terminate called after throwing an instance of
  'c10::DistBackendError'`, an exit code that is not 0 (`Process finished with exit code
  -1073740791 (0xC0000409)`, DeepSpeed's `exits with return code = 1`, torchrun's `failed
  (exitcode: 1) local_rank: 0`, in `details["exit_code"]`), a script's own `Experiment 2
  failed!`.
- `fatal`: Hydra's `Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack
  trace.` after the traceback: the program ends on the exception just printed.
- `error`: an exception line at the start of a line (`TypeError: ...`, `[rank4]: TypeError:`,
  `wandb.errors.UsageError: api_key not configured`, `ray.exceptions.RayTaskError(ImportError):`,
  `torch.distributed.elastic...ChildFailedError:`), usually the last line of a traceback; also
  the last item of a traceback logged as a list (`[..., 'RuntimeError: bad size\\n']`), and
  Python's own refusal to start a script (`python3: can't open file '/x/train.py': [Errno 2]
  No such file or directory`).
- `start`: not a failure, a line a program prints once as it starts, which tells launches
  apart when a log holds several: an argparse dump (`args: Namespace(batch_size=64, ...`,
  `Command line arguments: Namespace(...`), mmengine's `System environment:`, detectron2's and
  mmdet's `Environment info:`, torchrun's `Setting OMP_NUM_THREADS environment variable for each
  process`, Lightning's `GPU available: True (cuda), used: True`, `wandb: Tracking run with
  wandb version 0.15.12`.

One failure prints several of these lines (an OOM traceback gives a `traceback`, then one
`oom` per OOM line, and Python chained exceptions repeat them): each line is reported on its
own and the detector downstream groups the lines that belong to one failure.
"""

from __future__ import annotations

import re

from bot.core.events import ErrorText, Event
from bot.core.parsers.base import looks_binary, strip_launcher

# Long lines are cut: the alert shows the start of the line, the numbers are in `details`.
MAX_TEXT_CHARS = 500

_UNIT_MIB = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0**2}
_SIZE = r"([\d.]+) ?(B|KiB|MiB|GiB|TiB)"

_OOM = re.compile(
    r"OutOfMemoryError|(?:CUDA|HIP) out of memory|CUDA error: out of memory"
    r"|CUBLAS_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY"
    r"|RESOURCE_EXHAUSTED: Out of memory|Ran out of memory in memory space|OOM when allocating"
)
_OOM_NUMBERS = (
    ("tried_mib", re.compile(r"Tried to allocate " + _SIZE)),
    ("gpu_index", re.compile(r"GPU (\d+)")),
    ("total_gib", re.compile(_SIZE + r" total capacity|total capacity of " + _SIZE)),
    ("free_mib", re.compile(_SIZE + r" free\b|of which " + _SIZE + r" is free")),
    ("in_use_gib", re.compile(r"this process has " + _SIZE + r" memory in use")),
    ("allocated_gib", re.compile(_SIZE + r" (?:already allocated|is allocated by PyTorch)")),
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^Error executing job with")
_HANG = re.compile(r"Watchdog caught collective operation timeout")
_HANG_MS = re.compile(r"Timeout\(ms\)=(\d+)")
_NCCL = re.compile(
    r"NCCL (?:error|Error|WARN|INFO.*(?:error|failure))|nccl\w*Error|ncclSystemError"
    r"|NCCL communicator was aborted"
)
_CUDA = re.compile(r"CUDA error: |CUDA_ERROR_\w+|cudaError\w+")
_CANCELLED = re.compile(r"CANCELLED AT |DUE TO TIME LIMIT")
_KILLED = re.compile(r"(?:^|\s)Killed(?:\s|$|\.)|killed by signal|sigkill_handler\] Killing ")
_EXIT_CODE = re.compile(
    r"Process finished with exit code (-?\d+)|exits with return code = (-?\d+)"
    r"|failed \(exitcode: (-?\d+)\)"
)
_ABORT = re.compile(
    r"terminate called after throwing an instance of"
    # a launcher script's own verdict on what it ran: `Experiment 2 failed!`, `Training failed!`
    r"|^(?:Experiment|Run|Training|Job|Trial|Task)\b[\w #.-]{0,40} failed!$"
)
_FATAL = re.compile(r"HYDRA_FULL_ERROR=1 for a complete")
_CANNOT_OPEN = re.compile(r"^\S*python[\d.]*(?:\.exe)?: can't open file ")
_EXCEPTION = re.compile(r"(?:[\w.]+\.)?\w*(?:Error|Exception|Interrupt)(?:\([\w.]+\))?(?::|$)")
# A traceback logged as `traceback.format_exception`'s list (Megatron): its last item.
_LISTED = re.compile(r"'((?:[\w.]+\.)?\w*(?:Error|Exception)(?::[^']*)?)\\n'\]$")
_DIGITS = re.compile(r"\d+")
_START = re.compile(
    r"(?:^|[:|-] )Namespace\(\w+="
    r"|(?:^|\s)(?:System environment|Environment info):$"
    r"|Setting OMP_NUM_THREADS environment variable for each process"
    r"|GPU available: (?:True|False)"
    r"|wandb: Tracking run with wandb version"
)


def scan(line: str) -> ErrorText | None:
    """The failure (or start) `line` (already cleaned) reports, or None for an ordinary line."""
    return next((e for e in with_errors([], line) if isinstance(e, ErrorText)), None)


def with_errors(events: list[Event], line: str) -> list[Event]:
    """`events` plus the failure `line` reports, if any (a progress line cut by a kill counts).

    Every parser calls this on every line: the gate is here, one call deep, because almost no
    line contains any of these words."""
    # A binary file's strings are not failures of this run.
    if may_report(line) and not looks_binary(line):
        error = _classify(line)
        if error is not None:
            events.append(error)
    return events


def may_report(text: str) -> bool:
    """False when no line of `text` (one line, or lines joined by newlines) can report a
    failure, for sure: none holds any of the words every failure spelling needs. Each word
    is checked once over the whole text, in C, so a batch of lines costs one call."""
    return (
        "rror" in text
        or "Traceback" in text
        or "out of memory" in text
        or "ALLOC_FAILED" in text
        or "CUDA_ERROR" in text
        or "NCCL" in text
        or "ANCELLED" in text
        or "Kill" in text
        or "killed" in text
        or "Exception" in text
        or "Interrupt" in text
        or "EXHAUSTED" in text
        or "exit" in text
        or "failed" in text
        or "terminate called" in text
        or "amespace(" in text
        or "nvironment" in text
        or "GPU available" in text
        or "wandb version" in text
        or "can't open file" in text
    )


def _classify(line: str) -> ErrorText | None:
    body = strip_launcher(line)
    text = body[:MAX_TEXT_CHARS]  # quoted without the launcher's prefix for its process
    if _OOM.search(line):
        return ErrorText("oom", text, _oom_details(line))
    listed = _LISTED.search(body)
    if listed:  # the exception, whether the traceback's list starts on this line or above
        return ErrorText("error", listed[1][:MAX_TEXT_CHARS])
    if _TRACEBACK.search(line):
        return ErrorText("traceback", text)
    if _HANG.search(line):
        timeout = _HANG_MS.search(line)
        return ErrorText("hang", text, {"timeout_s": int(timeout[1]) / 1000} if timeout else {})
    if _NCCL.search(line):
        return ErrorText("nccl", text)
    if _CUDA.search(line):
        return ErrorText("cuda", text)
    if _CANCELLED.search(line):
        cause = "time_limit" if "TIME LIMIT" in line else "cancelled"
        return ErrorText("cancelled", text, {"cause": cause})
    if _KILLED.search(line):
        return ErrorText("killed", text)
    return _ends(line, body, text)


def _ends(line: str, body: str, text: str) -> ErrorText | None:
    """The lines that end a program: an exit code, an abort, an exception; or that start one."""
    code = _EXIT_CODE.search(line)
    if code is not None:
        exit_code = int(next(g for g in code.groups() if g is not None))
        return ErrorText("exit", text, {"exit_code": exit_code}) if exit_code else None
    if _ABORT.search(body):
        return ErrorText("exit", text)
    if _FATAL.search(body):
        return ErrorText("fatal", text)
    if _EXCEPTION.match(body) or _CANNOT_OPEN.match(body):
        return ErrorText("error", text)
    if _START.search(body):
        return ErrorText("start", text)
    return None


def exception_shape(text: str) -> str:
    """What two processes failing the same way print alike: the exception line without its
    process prefix and with every number (a device, a size, a pid) made the same."""
    return _DIGITS.sub("0", strip_launcher(text)[:200])


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
