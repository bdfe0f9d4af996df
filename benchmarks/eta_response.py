"""`/eta` response time: the command queued at the Bot API stand-in server until the reply
reaches it, for `etagram watch` (a real subprocess following a nanoGPT log) and, at the
same time, for a bare python-telegram-bot echo bot (long polling, one CommandHandler
answering "ok"): what any bot built on the same library pays before doing any work.

Commands are sent one at a time, alternating between the two bots (each has its own
stand-in server), the next `--gap-ms` after the previous reply.

    python benchmarks/eta_response.py [--commands 200] [--full: 1000]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    CHAT,
    etagram_watch,
    machine,
    nanogpt_header,
    parser,
    progress_line,
    quantile,
    stub_server,
    table,
    temp_folder,
)

WARMUP = 5
ECHO = "bare python-telegram-bot echo"
ETAGRAM = "etagram watch: /eta"
ECHO_FLAG = "--echo-child"


def run_echo_bot(token: str, base_url: str) -> None:
    """The baseline bot: answers /eta with "ok"."""
    from telegram import Update
    from telegram.ext import Application, CommandHandler, ContextTypes

    async def eta(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("ok")

    app = Application.builder().token(token).base_url(base_url).build()
    app.add_handler(CommandHandler("eta", eta))
    app.run_polling()


async def one_command(stub: Any) -> float:
    """Milliseconds from one /eta queued to the bot's reply received."""
    since = len(stub.sent)
    queued = time.monotonic()
    stub.push_message(CHAT, "/eta")
    reply = await stub.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == CHAT, timeout=10, since=since
    )
    return (reply.time - queued) * 1e3


@contextlib.asynccontextmanager
async def echo_bot(stub: Any) -> AsyncIterator[None]:
    since = len(stub.sent)
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, ECHO_FLAG, stub.token, stub.base_url
    )
    try:
        await stub.wait_for("deleteWebhook", timeout=60, since=since)
        await asyncio.sleep(1.0)
        yield
    finally:
        child.terminate()
        await child.wait()


async def measure(count: int, gap_s: float) -> dict[str, list[float]]:
    """Both bots run at once, each with its own stand-in server; the commands alternate
    between them, so that other work on the machine hits both alike."""
    async with stub_server() as echo_stub, stub_server() as stub, echo_bot(echo_stub):
        with temp_folder() as tmp:
            log = Path(tmp) / "train.log"
            lines = [progress_line(i, 4 - i / 5000) for i in range(3000)]
            for it in range(0, 3000, 500):
                lines.insert(it + it // 500, f"step {it}: train loss 3.5, val loss 3.6\n")
            log.write_text(nanogpt_header(20_000, 500) + "".join(lines))
            async with etagram_watch(stub, [log], Path(tmp)):
                out: dict[str, list[float]] = {ECHO: [], ETAGRAM: []}
                for i in range(WARMUP + count):
                    for name, server in ((ECHO, echo_stub), (ETAGRAM, stub)):
                        latency = await one_command(server)
                        if i >= WARMUP:
                            out[name].append(latency)
                        await asyncio.sleep(gap_s)
                last = stub.messages_to(CHAT)[-1].text or ""
    print(f"etagram's last reply begins: {last.splitlines()[0][:80]!r}")
    return out


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--commands", type=int, default=200, help="commands (--full: 1000)")
    ap.add_argument("--gap-ms", type=float, default=50.0)
    args = ap.parse_args()
    count = 1000 if args.full else args.commands
    print(machine())
    print(f"{count} commands per row, {args.gap_ms:g} ms after each reply; queued -> reply, ms")
    rows = asyncio.run(measure(count, args.gap_ms / 1e3))
    table(
        ["bot", "commands", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [
            [
                name,
                len(v),
                *(f"{x:.1f}" for x in (*(quantile(v, q) for q in (0.5, 0.9, 0.99)), max(v))),
            ]
            for name, v in rows.items()
        ],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == [ECHO_FLAG]:
        run_echo_bot(sys.argv[2], sys.argv[3])
    else:
        main()
