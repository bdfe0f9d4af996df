"""Every user-facing text etagram sends, in French, English or both (Telegram HTML).

Renderers take structured data (RunState, notices, GPU snapshots) and a `Ctx` (language,
time zone, clock preference, the wall clock now) and return one message.
"""

from bot.messages.alerts import alert_text
from bot.messages.chat import (
    ack_text,
    button_label,
    command_descriptions,
    degraded_text,
    error_text,
    help_text,
    late_text,
    mute_text,
    no_run_text,
    refusal_text,
    start_text,
)
from bot.messages.gpu import gpu_error_words, gpu_text
from bot.messages.markup import to_plain
from bot.messages.progress import (
    digest_text,
    eta_text,
    eval_text,
    live_line,
    live_more,
    run_picked_text,
    runs_text,
    status_text,
)
from bot.messages.types import Ctx

__all__ = [
    "Ctx",
    "ack_text",
    "alert_text",
    "button_label",
    "command_descriptions",
    "degraded_text",
    "digest_text",
    "error_text",
    "eta_text",
    "eval_text",
    "gpu_error_words",
    "gpu_text",
    "help_text",
    "late_text",
    "live_line",
    "live_more",
    "mute_text",
    "no_run_text",
    "refusal_text",
    "run_picked_text",
    "runs_text",
    "start_text",
    "status_text",
    "to_plain",
]
