from __future__ import annotations

import pytest

from bot.core.parsers import errors
from bot.core.parsers.base import clean


@pytest.mark.parametrize(
    "line",
    [
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.",
        "torch.cuda.OutOfMemoryError: CUDA out of memory.",
        "RuntimeError: CUDA out of memory. Tried to allocate 512.00 MiB (GPU 0; 79.15 GiB total"
        " capacity; 3.20 GiB already allocated; 10.00 MiB free; 3.30 GiB reserved in total)",
        "RuntimeError: CUDA error: out of memory",
        "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
        "cudaErrorMemoryAllocation: out of memory",
        "[rank2]: torch.OutOfMemoryError: CUDA out of memory.",
    ],
)
def test_every_oom_spelling_is_an_oom(line: str) -> None:
    error = errors.scan(line)
    assert error is not None and error.kind == "oom"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY", "oom"),
        ("cuLaunchKernel returned CUDA_ERROR_ILLEGAL_ADDRESS", "cuda"),
    ],
)
def test_driver_api_codes_without_other_words(line: str, kind: str) -> None:
    """The driver API's upper-case codes contain none of the other words the scan looks for."""
    error = errors.scan(line)
    assert error is not None and error.kind == kind


def test_old_oom_message_numbers() -> None:
    error = errors.scan(
        "RuntimeError: CUDA out of memory. Tried to allocate 512.00 MiB (GPU 1; 79.15 GiB total"
        " capacity; 3.20 GiB already allocated; 10.00 MiB free; 3.30 GiB reserved in total)"
    )
    assert error is not None
    assert error.details == {
        "tried_mib": 512.0,
        "gpu_index": 1.0,
        "total_gib": pytest.approx(79.15),
        "free_mib": 10.0,
        "allocated_gib": pytest.approx(3.2),
    }


def test_new_oom_message_numbers() -> None:
    error = errors.scan(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 3 has a total"
        " capacity of 23.65 GiB of which 1.05 GiB is free. Including non-PyTorch memory, this"
        " process has 22.58 GiB memory in use. Of the allocated memory 21.9 GiB is allocated by"
        " PyTorch, and 200.1 MiB is reserved by PyTorch but unallocated."
    )
    assert error is not None
    assert error.details["tried_mib"] == 2048.0
    assert error.details["gpu_index"] == 3.0
    assert error.details["total_gib"] == pytest.approx(23.65)
    assert error.details["free_mib"] == pytest.approx(1.05 * 1024)
    assert error.details["in_use_gib"] == pytest.approx(22.58)
    assert error.details["allocated_gib"] == pytest.approx(21.9)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Traceback (most recent call last):", "traceback"),
        ("[rank0]: Traceback (most recent call last):", "traceback"),
        ("torch.distributed.DistBackendError: NCCL error in: ../ProcessGroupNCCL.cpp:1691", "nccl"),
        ("node1:123:456 [0] NCCL WARN Call to connect returned Connection refused", "nccl"),
        ("[E ProcessGroupNCCL.cpp:475] Watchdog caught collective operation timeout", "nccl"),
        ("RuntimeError: CUDA error: an illegal memory access was encountered", "cuda"),
        (
            "slurmstepd: error: *** JOB 11672255 ON g084 CANCELLED AT 2024-10-10T02:20:29 ***",
            "cancelled",
        ),
        ("Killed", "killed"),
        ("/bin/sh: line 1: 4242 Killed                  python train.py", "killed"),
        ("torch.distributed.elastic.multiprocessing.errors.ChildFailedError:", "error"),
        ("TypeError: iteration over a 0-d tensor", "error"),
        ("KeyboardInterrupt", "error"),
    ],
)
def test_failure_kinds(line: str, kind: str) -> None:
    error = errors.scan(line)
    assert error is not None and error.kind == kind


def test_slurm_time_limit_cause() -> None:
    error = errors.scan(
        "slurmstepd: error: *** JOB 1 ON g1 CANCELLED AT 2024-10-10T00:43:56 DUE TO TIME LIMIT ***"
    )
    assert error is not None and error.details == {"cause": "time_limit"}


@pytest.mark.parametrize(
    "line",
    [
        "iter 10: loss 3.9133, time 6704.74ms, mfu 2.23%",
        "Running this sequence through the model will result in indexing errors",
        "    raise ValueError(f'bad {x}')",
        "print('ERROR: magic number mismatch')",
        "the job was skilled at killing time",
        "",
    ],
)
def test_ordinary_lines_are_not_failures(line: str) -> None:
    assert errors.scan(line) is None


def test_long_failure_text_is_capped() -> None:
    error = errors.scan("RuntimeError: CUDA out of memory. " + "x" * 10_000)
    assert error is not None and len(error.text) == errors.MAX_TEXT_CHARS


def test_clean_strips_ansi_and_nuls() -> None:
    assert clean("\x00\x00\x1b[A  3%|▎ | 10/352 [00:03<01:07,  5.10it/s]\x1b[0m ") == (
        "3%|▎ | 10/352 [00:03<01:07,  5.10it/s]"
    )
