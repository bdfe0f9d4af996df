"""Builds the stand-in `libnvidia-ml.so.1` (fake_nvml.c) and writes the file it answers from.

pynvml loads the library by its bare name (`CDLL("libnvidia-ml.so.1")`), so the dynamic
loader searches LD_LIBRARY_PATH, which it reads once at process start: the code under test
runs in a subprocess started with `environment(...)`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).with_name("fake_nvml.c")
LIBRARY_NAME = "libnvidia-ml.so.1"

# NVML return codes the tests ask the stand-in to give.
NOT_SUPPORTED = 3
DRIVER_NOT_LOADED = 9
# Clock event reason bits, as in nvml.h.
SW_POWER_CAP = 0x4
HW_SLOWDOWN = 0x8
SW_THERMAL = 0x20
HW_THERMAL = 0x40
HW_POWER_BRAKE = 0x80
GPU_IDLE = 0x1


class NoCompiler(Exception):
    """No C compiler on this machine."""


def compiler() -> str | None:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def build(cache_dir: Path, omit: Iterable[str] = ()) -> Path:
    """Compile the stand-in (once per source and `omit`); return the folder holding it.

    `omit` names NVML functions to leave out of the library, as an older driver would.
    """
    cc = compiler()
    if cc is None:
        raise NoCompiler("no C compiler (cc, gcc or clang) on PATH")
    omitted = sorted(omit)
    key = hashlib.sha256(SOURCE.read_bytes() + repr(omitted).encode()).hexdigest()[:16]
    out_dir = cache_dir / f"fake-nvml-{key}"
    library = out_dir / LIBRARY_NAME
    if not library.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = out_dir / f"{LIBRARY_NAME}.{os.getpid()}.tmp"
        defines = [f"-DOMIT_{name}" for name in omitted]
        cmd = [cc, "-shared", "-fPIC", "-O2", "-Wall", *defines, "-o", str(partial), str(SOURCE)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        partial.replace(library)
    return out_dir


@dataclass
class FakeGpu:
    """One GPU of the stand-in library; units as NVML gives them."""

    name: str = "NVIDIA GeForce RTX 4070"
    uuid: str | None = None  # default: GPU-00000000-0000-0000-0000-<index>
    util: int = 100
    mem_total: int = 12282 << 20  # bytes
    mem_used: int = 6656 << 20
    temp: int = 67
    slowdown: int = 90
    sm: int = 2475  # MHz
    sm_max: int = 3105
    power: int = 180_000  # mW
    power_limit: int = 200_000
    reasons: int = 0
    procs: Sequence[tuple[int, int]] = ()  # (pid, bytes)
    lost: bool = False
    fail: Mapping[str, int] = field(default_factory=dict)  # NVML function -> return code


def write_state(
    path: Path,
    gpus: Sequence[FakeGpu],
    *,
    driver: str = "550.54.15",
    init_error: int = 0,
    fail: Mapping[str, int] | None = None,
) -> None:
    """Write the values the stand-in answers with; atomic, so a running sampler sees all or none."""
    lines = [f"count {len(gpus)}", f"driver {driver}", f"init_error {init_error}"]
    lines += [f"fail.{function} {code}" for function, code in (fail or {}).items()]
    for i, gpu in enumerate(gpus):
        lines += [
            f"{i}.name {gpu.name}",
            f"{i}.util {gpu.util}",
            f"{i}.mem_total {gpu.mem_total}",
            f"{i}.mem_used {gpu.mem_used}",
            f"{i}.temp {gpu.temp}",
            f"{i}.slowdown {gpu.slowdown}",
            f"{i}.sm {gpu.sm}",
            f"{i}.sm_max {gpu.sm_max}",
            f"{i}.power {gpu.power}",
            f"{i}.power_limit {gpu.power_limit}",
            f"{i}.reasons {gpu.reasons}",
            f"{i}.lost {int(gpu.lost)}",
        ]
        if gpu.uuid is not None:
            lines.append(f"{i}.uuid {gpu.uuid}")
        if gpu.procs:
            lines.append(f"{i}.procs " + ",".join(f"{pid}:{size}" for pid, size in gpu.procs))
        lines += [f"{i}.fail.{function} {code}" for function, code in gpu.fail.items()]
    partial = path.with_name(path.name + ".tmp")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)


def environment(library_dir: Path | None, state: Path) -> dict[str, str]:
    """The environment of a subprocess that loads the stand-in (or no NVML at all when None)."""
    env = dict(os.environ)
    env["FAKE_NVML_STATE"] = str(state)
    if library_dir is None:
        env.pop("LD_LIBRARY_PATH", None)
    else:
        env["LD_LIBRARY_PATH"] = str(library_dir)
    return env
