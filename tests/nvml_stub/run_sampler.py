"""Runs NvmlSampler in its own process (so LD_LIBRARY_PATH can point at the stand-in).

Reads commands from stdin, one a line: `sample` prints the snapshot as one JSON line on
stdout, `shutdown` shuts the sampler down. Logs go to stderr, one record a line.
Run from the repository root: `python -m tests.nvml_stub.run_sampler`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
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


if __name__ == "__main__":
    main()
