"""Telegram Bot API calls per training hour on the reference scenario (DESIGN.md: nanoGPT,
20,000 iterations of ~170 ms, an eval every 500 lasting ~6 s), live status message on,
next to `tqdm.contrib.telegram` against the same Bot API stand-in server, same run.

- etagram: `etagram watch` (a real subprocess) follows the log that bot/demo.py's trainer
  writes for the whole reference run (log_interval 1, no OOM), compressed `--speed` times
  (60: an hour in a minute); the chat sends `/live` first. Messages caused by the log
  (evals, milestones, start and end) depend on training time: counted over the compressed run,
  per training hour. Live-message edits and getUpdates long polls depend on wall time (an edit
  at most every `live_every_s`, 60 s by default): their rate over the window is per wall hour.
- tqdm: `tqdm(range(20000), token=.., chat_id=..)` with `TelegramIO.API` pointed at the
  stand-in, in its own process, iterating at the reference speed in real time (its refreshes
  follow the wall clock, so it cannot be compressed) for the same window; calls per hour are
  its rate over the window. tqdm.contrib.telegram needs `requests`: when it is not importable
  the row says so (put it on PYTHONPATH).

    python benchmarks/api_calls.py [--speed 60] [--full: --speed 10]
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CHAT, etagram_watch, machine, parser, table, temp_folder  # noqa: E402
from bot.demo import DemoRun, write_run  # noqa: E402
from tests.telegram_stub import BotApiStub  # noqa: E402

TQDM_CHAT = 777
TQDM_FLAG = "--tqdm-child"
REFERENCE = DemoRun(
    max_iters=20_000,
    eval_interval=500,
    eval_iters=200,
    log_interval=1,
    step_s=0.170,
    eval_step_s=5.8,
    oom_at=None,
)
EVENT_METHODS = ("sendMessage", "sendPhoto", "pinChatMessage", "unpinChatMessage")


class CountingStub(BotApiStub):
    """The stand-in server, also counting getUpdates polls (it does not record them)."""

    polls = 0

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls += 1
        return await super()._get_updates(params)


def tqdm_child(token: str, base_url: str, seconds: float) -> None:
    """tqdm's Telegram bar over the reference iterations, in real time, for `seconds`."""
    try:
        from tqdm.contrib import telegram
    except ImportError as exc:
        print(f"skipped: tqdm.contrib.telegram is not importable ({exc})")
        return
    telegram.TelegramIO.API = base_url
    end = time.monotonic() + seconds
    bar = telegram.tqdm(range(REFERENCE.max_iters), token=token, chat_id=str(TQDM_CHAT))
    for it in bar:
        time.sleep(REFERENCE.eval_step_s if it % REFERENCE.eval_interval == 0 else REFERENCE.step_s)
        if time.monotonic() >= end:
            break
    bar.close()
    print("ok")


def training_seconds(run: DemoRun) -> float:
    evals = run.max_iters // run.eval_interval + 1
    return run.max_iters * run.step_s * 1.041 + evals * run.eval_step_s  # demo's mean jitter


async def measure(speed: float) -> None:
    async with CountingStub() as stub:
        with temp_folder() as tmp:
            log = Path(tmp) / "train.log"
            log.write_text("")
            async with etagram_watch(stub, [log], Path(tmp)):
                start = len(stub.sent)
                stub.push_message(CHAT, "/live")
                window = training_seconds(REFERENCE) / speed
                tqdm = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    TQDM_FLAG,
                    stub.token,
                    stub.base_url,
                    str(window),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                polls0, t0 = stub.polls, time.monotonic()
                with log.open("w", buffering=1) as out:
                    await asyncio.to_thread(write_run, out, REFERENCE, speed)
                await asyncio.sleep(2.0)  # the last eval's message
                wall = time.monotonic() - t0
                polls = stub.polls - polls0
                tqdm_note = (await tqdm.communicate())[0].decode().strip()
            calls = stub.sent[start:]
    report(calls, polls, wall, speed, tqdm_note)


def report(calls: list[Any], polls: int, wall: float, speed: float, tqdm_note: str) -> None:
    ours = collections.Counter(c.method for c in calls if c.chat_id == CHAT)
    theirs = collections.Counter(c.method for c in calls if c.chat_id == TQDM_CHAT)
    train_h = training_seconds(REFERENCE) / 3600  # the run clock the log tells
    per_wall_h = 3600 / wall
    events = sum(ours[m] for m in EVENT_METHODS)
    edits = ours["editMessageText"]
    refused = sum(1 for c in calls if c.chat_id == CHAT and not c.ok)
    print(
        f"reference run: {REFERENCE.max_iters:,} iterations, {train_h:.2f} training hours "
        f"written at {speed:g}x in {wall:.0f} s of wall time; tqdm over the same {wall:.0f} s "
        "in real time"
    )
    print(f"etagram calls by method: {dict(ours)}; refused by the stand-in: {refused}")
    print(f"tqdm calls by method: {dict(theirs)} ({tqdm_note or 'no report'})")
    kinds = collections.Counter(
        _kind(c.text or "") for c in calls if c.chat_id == CHAT and c.method == "sendMessage"
    )
    print(f"etagram messages by their first words: {dict(kinds)}")
    rows = [
        ["etagram: messages from the log (send, pin)", events, f"{events / train_h:.0f}"],
        ["etagram: live message edits", edits, f"{edits * per_wall_h:.0f}"],
        [
            "etagram: total messages + edits",
            events + edits,
            f"{events / train_h + edits * per_wall_h:.0f}",
        ],
        ["etagram: getUpdates long polls (not messages)", polls, f"{polls * per_wall_h:.0f}"],
    ]
    tqdm_calls = sum(theirs.values())
    if theirs:
        rows.append(
            ["tqdm.contrib.telegram: send + edits", tqdm_calls, f"{tqdm_calls * per_wall_h:,.0f}"]
        )
    else:
        rows.append(["tqdm.contrib.telegram", 0, tqdm_note or "no calls"])
    table(["calls", "in the run", "per hour"], rows)
    print("target: about 100 an hour for etagram; Telegram allows ~1 message/s per chat")


def _kind(text: str) -> str:
    """A message's first words after the run name, for the summary: "Eval at", ..."""
    lines = [line for line in text.splitlines() if line.strip()]
    line = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
    return " ".join(line.split()[:2])


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--speed", type=float, default=60.0, help="time compression (--full: 10)")
    args = ap.parse_args()
    print(machine())
    asyncio.run(measure(10.0 if args.full else args.speed))


if __name__ == "__main__":
    if sys.argv[1:2] == [TQDM_FLAG]:
        tqdm_child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()
