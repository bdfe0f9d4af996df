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
        "torch.OutOfMemoryError: HIP out of memory. Tried to allocate 1.50 GiB. GPU 1 has a total"
        " capacity of 191.98 GiB",
        "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to"
        " allocate 8589934592 bytes.",
        "RuntimeError: Bad StatusOr access: RESOURCE_EXHAUSTED: XLA:TPU compile permanent error."
        " Ran out of memory in memory space hbm. Used 40.1G of 15.75G hbm.",
        "torch.cuda.OutOfMemoryError: Caught OutOfMemoryError in replica 1 on device 1.",
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating"
        " tensor with shape[64,1024,1024]",
        "7: [rank7]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
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
        ("[E ProcessGroupNCCL.cpp:475] Watchdog caught collective operation timeout", "hang"),
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


@pytest.mark.parametrize(
    ("line", "kind", "text"),
    [
        # srun's task label, torchrun's rank prefix (doubled by the elastic agent), Ray's actor
        (
            "12: [rank12]: ValueError: shapes (3,) and (4,) differ",
            "error",
            "ValueError: shapes (3,) and (4,) differ",
        ),
        ("[rank3]:[rank3]: KeyError: 'labels'", "error", "KeyError: 'labels'"),
        (
            "(WorkerDict pid=4242) ModuleNotFoundError: No module named 'flash_attn'",
            "error",
            "ModuleNotFoundError: No module named 'flash_attn'",
        ),
        (
            "(pid=) ray.exceptions.RayTaskError(ValueError): ray::Trainer.fit() (pid=77)",
            "error",
            "ray.exceptions.RayTaskError(ValueError): ray::Trainer.fit() (pid=77)",
        ),
        (
            "[default1]:RuntimeError: CUDA error: device-side assert triggered",
            "cuda",
            "RuntimeError: CUDA error: device-side assert triggered",
        ),
    ],
)
def test_launcher_prefixes_are_looked_through_and_not_quoted(
    line: str, kind: str, text: str
) -> None:
    error = errors.scan(line)
    assert error is not None and (error.kind, error.text) == (kind, text)


@pytest.mark.parametrize(
    ("line", "kind", "details"),
    [
        (
            "[rank5]:[E1107 10:00:01.5 ProcessGroupNCCL.cpp:616] [Rank 5] Watchdog caught"
            " collective operation timeout: WorkNCCL(SeqNum=12, OpType=ALLREDUCE,"
            " Timeout(ms)=1800000) ran for 1800412 milliseconds before timing out.",
            "hang",
            {"timeout_s": 1800.0},
        ),
        (
            "3: terminate called after throwing an instance of 'c10::DistBackendError'",
            "exit",
            {},
        ),
        (
            "Process finished with exit code -1073741819 (0xC0000005)",
            "exit",
            {"exit_code": -1073741819},
        ),
        (
            "[2024-01-02 03:04:05,678] [ERROR] [launch.py:321:sigkill_handler] ['python', 'x.py']"
            " exits with return code = 2",
            "exit",
            {"exit_code": 2},
        ),
        (
            "E0102 03:04:05.000000 140 torch/distributed/elastic/multiprocessing/api.py:826]"
            " failed (exitcode: 1) local_rank: 0 (pid: 999) of binary: /usr/bin/python3",
            "exit",
            {"exit_code": 1},
        ),
        ("Run 3 failed!", "exit", {}),
        (
            "[2024-01-02 03:04:05,678] [INFO] [launch.py:315:sigkill_handler] Killing subprocess"
            " 42",
            "killed",
            {},
        ),
        ("srun: error: node17: tasks 4-7: Killed", "killed", {}),
        (
            "0: [2025-01-01T00:00:00.000] error: *** STEP 77.0 ON node3 CANCELLED AT"
            " 2025-01-01T00:00:00 DUE TO TIME LIMIT ***",
            "cancelled",
            {"cause": "time_limit"},
        ),
        (
            "scancel: *** JOB 88 ON node3 CANCELLED AT 2025-01-01T00:00:00 ***",
            "cancelled",
            {"cause": "cancelled"},
        ),
        ("Error executing job with overrides: ['trainer.max_steps=10']", "traceback", {}),
        (
            "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
            "fatal",
            {},
        ),
        ("wandb.errors.UsageError: api_key not configured (no-tty).", "error", {}),
        (
            """3: ['Traceback (most recent call last):\\n', '  File "a.py", line 1\\n',"""
            """ 'ValueError: empty batch\\n']""",
            "error",
            {},
        ),
    ],
)
def test_failure_spellings(line: str, kind: str, details: dict[str, object]) -> None:
    error = errors.scan(line)
    assert error is not None and (error.kind, error.details) == (kind, details)


def test_a_zero_exit_code_is_not_a_failure() -> None:
    assert errors.scan("Process finished with exit code 0") is None


@pytest.mark.parametrize(
    "line",
    [
        "2024-05-01 10:00:00.123 | INFO     | trainer:before_train:120 - args: Namespace(lr=0.1,"
        " epochs=3)",
        "[05/01 10:00:00 d2.engine]: Command line arguments: Namespace(config_file='a.yaml')",
        "System environment:",
        "[05/01 10:00:00 detectron2]: Environment info:",
        "Setting OMP_NUM_THREADS environment variable for each process to be 1 in default, to"
        " avoid your system being overloaded",
        "GPU available: True (cuda), used: True",
        "wandb: Tracking run with wandb version 0.16.6",
    ],
)
def test_start_banners(line: str) -> None:
    error = errors.scan(line)
    assert error is not None and error.kind == "start"


@pytest.mark.parametrize(
    "line",
    [
        # loguru's annotated traceback shows the args value: not a banner
        "    │    └ Namespace(batch_size=8, ckpt=None)",
        "[2024-01-02 03:04:05,678] [INFO] [stage_1_and_2.py:1800:step] [deepspeed] OVERFLOW!"
        " Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768",
        "step 120 | loss 2.31 | grad_norm 0.84 | error rate 0.12",
        "INFO - validation: top-1 error 23.4%, loss_scale 1024",
        '18: Error.  nthreads cannot be larger than environment variable "NUMEXPR_MAX_THREADS"',
        "Failed to import the optional plugin; continuing without it",
        "the script will exit when the queue is empty",
        "Download failed! Retrying in 5 s",
        "Checkpoint upload failed!",
    ],
)
def test_ordinary_lines_with_failure_words(line: str) -> None:
    assert errors.scan(line) is None


def test_same_exception_from_two_processes_has_one_shape() -> None:
    one = errors.exception_shape("3: [rank3]: RuntimeError: bad size [4, 4724557485190610944]")
    two = errors.exception_shape("[rank11]: RuntimeError: bad size [4, 4728779609841008640]")
    other = errors.exception_shape("[rank11]: RuntimeError: another message")
    assert one == two != other
