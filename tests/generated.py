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


_EIGHTHS = " ▏▎▍▌▋▊▉"


def _tqdm_clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def tqdm_bar(desc: str, n: int, total: int, elapsed_s: float, postfix: str = "") -> str:
    """One draw of a bar in Lightning 2's TQDMProgressBar format: `{l_bar}{bar}| {n_fmt}/
    {total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]`, a 10-cell bar."""
    filled = 10 * n / total
    cells = "█" * int(filled) + (_EIGHTHS[int(filled % 1 * 8)] if n < total else "")
    rate = n / elapsed_s if elapsed_s > 0 and n else 0.0
    remaining = _tqdm_clock((total - n) / rate) if rate else "?"
    rate_text = f"{rate:.2f}it/s" if rate else "?it/s"
    return (
        f"{desc}: {100 * n / total:3.0f}%|{cells:<10}| {n}/{total} "
        f"[{_tqdm_clock(elapsed_s)}<{remaining}, {rate_text}{postfix}]"
    )


def lightning_log(
    epochs: int, batches: int, step_s: float = 0.8, val_s: float = 12.0, head: str = ""
) -> tuple[str, dict[int, float]]:
    """A Lightning 2 fit as its stdout keeps it (a bar per batch, `\\r` between draws, the
    validation bar and the epoch bar's last draw with `val_loss` at each epoch's end, the
    `Trainer.fit` line at the end), after `head`; and the log's own clock: seconds since the
    start at each global batch (`epoch x batches + n`), an epoch's last batch at its last
    draw (after validation: the run ends there)."""
    out = [head] if head else []
    clock: dict[int, float] = {0: 0.0}
    t = 0.0
    for epoch in range(epochs):
        start, draws = t, []
        for n in range(1, batches + 1):
            t += step_s * (1.0 + 0.1 * ((n * 7919 + epoch) % 11 - 5) / 5)  # +-10 %, no trend
            clock[epoch * batches + n] = t
            loss = 2.0 / (1 + epoch + n / batches)
            postfix = f", v_num=1, train_loss={loss:.3f}"
            draws.append(tqdm_bar(f"Epoch {epoch}", n, batches, t - start, postfix))
        draws.append(tqdm_bar("Validation DataLoader 0", 20, 20, val_s))
        t += val_s
        clock[(epoch + 1) * batches] = t  # the epoch's last batch, drawn again after validation
        postfix = f", v_num=1, train_loss={loss:.3f}, val_loss={loss + 0.1:.3f}"
        draws.append(tqdm_bar(f"Epoch {epoch}", batches, batches, t - start, postfix))
        out.append("\r".join(draws))
    out.append(f"`Trainer.fit` stopped: `max_epochs={epochs}` reached.")
    return "\n".join(out) + "\n", clock
