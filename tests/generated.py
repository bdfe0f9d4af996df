"""Generated training logs for tests: what the trainers print, line for line."""

from __future__ import annotations


def nanogpt_lines(start: int, stop: int, eval_interval: int = 200) -> list[str]:
    """What nanoGPT's train.py prints for iterations [start, stop), log_interval 10."""
    lines = []
    for it in range(start, stop, 10):
        if it % eval_interval == 0:
            lines.append(
                f"step {it}: train loss {3.0 - it / 1000:.4f}, val loss {3.1 - it / 1000:.4f}"
            )
        dt = 5800.0 if it % eval_interval == 0 else 170.0 + it % 7
        lines.append(f"iter {it}: loss {3.0 - it / 1000:.4f}, time {dt:.2f}ms, mfu 30.00%")
    return lines
