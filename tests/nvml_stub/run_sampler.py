"""Runs NvmlSampler in its own process (so LD_LIBRARY_PATH can point at the stand-in).

Reads commands from stdin, one a line: `sample` prints the snapshot as one JSON line on
stdout, `shutdown` shuts the sampler down, `threads N` samples from N threads at once and
prints the snapshots' distinct JSON forms. Logs go to stderr, one record a line.
Run from the repository root: `python -m tests.nvml_stub.run_sampler`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.adapters.nvml import NvmlSampler
from bot.core.gpu import GpuSnapshot


def to_json(snapshot: GpuSnapshot) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, frozenset):
            return sorted(value)
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return json.dumps(plain(dataclasses.asdict(snapshot)))


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s"
    )
    sampler = NvmlSampler(now=lambda: 1000.0)
    for command in sys.stdin:
        if command.strip() == "sample":
            print(to_json(sampler.sample()), flush=True)
        elif command.strip() == "shutdown":
            sampler.shutdown()
            print("{}", flush=True)
        elif command.startswith("threads "):
            print(json.dumps(from_threads(sampler, int(command.split()[1]))), flush=True)


def from_threads(sampler: NvmlSampler, threads: int) -> dict[str, list[str]]:
    """As the service's worker threads would: many samples at once, none must break."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        snapshots = list(pool.map(lambda _: to_json(sampler.sample()), range(threads * 25)))
    return {"distinct": sorted(set(snapshots))}


if __name__ == "__main__":
    main()
