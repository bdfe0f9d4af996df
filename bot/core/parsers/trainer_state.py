"""Hugging Face `trainer_state.json`: one JSON document, rewritten whole at each checkpoint.

As in a real file (abridged):

    {
      "eval_steps": 500,
      "global_step": 8712,
      "log_history": [
        {"epoch": 0.0, "learning_rate": 4.99e-05, "loss": 1.7484, "step": 5},
        {"epoch": 0.5, "eval_loss": 1.52, "step": 500},
        {"epoch": 3.0, "step": 8712, "train_runtime": 371992.1593, "train_loss": 1.39}
      ],
      "logging_steps": 5,
      "max_steps": 8712,
      "num_train_epochs": 3,
      "save_steps": 100
    }

`parse_document(text)` gives every event of a whole document. `TrainerStateParser` is the
incremental form: `feed_document(text)` returns only the log entries not seen in the previous
version of the file (all of them again if the history got shorter: a new run), and `feed(line)`
collects lines until a document closes (a `}` at the start of a line) and then does the same,
so a replay through the line interface works too. `log_history` has no time at all.
"""

from __future__ import annotations

import json

from bot.core.events import Eval, Event, Progress, RunConfig, TrainingEnd
from bot.core.parsers.base import FeedMany, number

NAME = "trainer_state"

# A trainer_state.json of a long run is a few MB; anything far larger is not one.
MAX_DOCUMENT_CHARS = 64 * 2**20

_CONFIG_KEYS = {
    "max_steps": "max_iters",
    "eval_steps": "eval_interval",
    "logging_steps": "log_interval",
    "save_steps": "save_interval",
    "num_train_epochs": "num_epochs",
}


def score(line: str) -> int:
    return 10 if line.lstrip().startswith('"log_history"') else 0


def parse_document(text: str) -> list[Event]:
    """Every event of a whole `trainer_state.json`; [] if it is not one."""
    state = _load(text)
    if state is None:
        return []
    return _config(state) + _history_events(state, _history(state))


class TrainerStateParser(FeedMany):
    name = NAME

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._size = 0
        self._seen = 0

    def feed(self, line: str) -> list[Event]:
        self._size += len(line) + 1
        if self._size > MAX_DOCUMENT_CHARS:
            self._lines, self._size = [], 0
            return []
        self._lines.append(line)
        if not line.startswith("}"):
            return []
        text, self._lines, self._size = "\n".join(self._lines), [], 0
        return self.feed_document(text)

    def feed_document(self, text: str) -> list[Event]:
        """The events of the entries that are new since the previous version of the file."""
        state = _load(text)
        if state is None:
            return []
        history = _history(state)
        events: list[Event] = _config(state) if self._seen == 0 else []
        if len(history) < self._seen:  # rewritten by a new run
            events, self._seen = _config(state), 0
        events += _history_events(state, history[self._seen :])
        self._seen = len(history)
        return events


def _load(text: str) -> dict[str, object] | None:
    if len(text) > MAX_DOCUMENT_CHARS:
        return None
    try:
        state = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return state if isinstance(state, dict) else None


def _history(state: dict[str, object]) -> list[dict[str, object]]:
    history = state.get("log_history")
    if not isinstance(history, list):
        return []
    return [entry for entry in history if isinstance(entry, dict)]


def _config(state: dict[str, object]) -> list[Event]:
    values: dict[str, int | float | str] = {}
    for key, name in _CONFIG_KEYS.items():
        value = state.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = value
    return [RunConfig(values)] if values else []


def _history_events(state: dict[str, object], entries: list[dict[str, object]]) -> list[Event]:
    max_steps = state.get("max_steps")
    total = max_steps if isinstance(max_steps, int) and max_steps > 0 else None
    events: list[Event] = []
    for entry in entries:
        step = entry.get("step")
        if not isinstance(step, int):
            continue
        if "train_runtime" in entry:
            events.append(TrainingEnd(reason="completed"))
        elif "eval_loss" in entry:
            events.append(Eval(step, val_loss=number(entry.get("eval_loss"))))
        elif "loss" in entry:
            loss, epoch = number(entry.get("loss")), number(entry.get("epoch"))
            events.append(Progress(step, total=total, loss=loss, epoch=epoch))
    return events
