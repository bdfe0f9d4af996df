"""Which format a log is in, and the parser for it.

`detect(head)` scores the first lines of a log with every format's `score(line)` (10 for a
line only that format prints, 1 to 3 for a hint such as a config line or a tqdm bar, 0
otherwise) and returns the format with the highest total (ties go to the earlier format in
`FORMATS`), or None when nothing matches.

`make_parser(None)` returns an `AutoParser`: it holds lines back until a format is certain
(one line scoring 10) or `HEAD_LINES` lines have arrived, then replays them to the chosen
parser (`generic` when nothing matched), so no event is lost; `.format` tells the choice;
`flush()` decides at once (call it at the end of a finished log, or when a followed log
stays idle). Failure lines (`ErrorText`) are not held back: an OOM in
the first lines of a log must be reported even if the log never grows.

Format switches (a resume with another script, or a head too short to tell): each non-blank
line the current parser does not understand is scored by every format; the parser switches
when such a line is certain for another format, or after `QUIET_LINES` such lines in a row,
provided the other format scores more than the current one over those recent lines. A switch
after quiet lines replays them to the new parser; a switch on a certain line replays that
line only. Lines with none of the words or prefixes any scorer needs to score above 0 skip the
scorers: catch-up reads long stretches of them.

`feed_many(lines)` returns what feeding the lines one by one returns, in one call (the service
feeds each read's lines at once).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType

from bot.core.events import ErrorText, Event, Progress
from bot.core.parsers import (
    deepspeed,
    detectron2,
    errors,
    fairseq,
    generic,
    hf,
    ijepa,
    keras,
    lightning,
    llamafactory,
    llmc,
    megatron,
    metriclogger,
    mmengine,
    modded,
    nanogpt,
    nemo,
    olmo,
    openpi,
    swift,
    timm,
    torchtitan,
    tqdm_generic,
    trainer_state,
    ultralytics,
    ultralytics_csv,
    verl,
    yolox,
)
from bot.core.parsers.base import MAX_LINE_CHARS, LineParser, clean

HEAD_LINES = 200
QUIET_LINES = 50
CERTAIN = 10

# Order matters for ties: a format that understands a superset of another's lines (tqdm:
# bars and generic lines; hf: bars and the Trainer's dicts) comes after it.
_PARSERS: tuple[tuple[ModuleType, Callable[[], LineParser]], ...] = (  # (module, parser)
    (nanogpt, nanogpt.NanoGptParser),
    (llmc, llmc.LlmcParser),
    (modded, modded.ModdedParser),
    (llamafactory, llamafactory.LlamaFactoryParser),
    (trainer_state, trainer_state.TrainerStateParser),
    (yolox, yolox.YoloxParser),
    (keras, keras.KerasParser),
    (ultralytics, ultralytics.UltralyticsParser),
    (ultralytics_csv, ultralytics_csv.UltralyticsCsvParser),
    (ijepa, ijepa.IjepaParser),
    (olmo, olmo.OlmoParser),
    (openpi, openpi.OpenpiParser),
    (swift, swift.SwiftParser),
    (nemo, nemo.NemoParser),
    (lightning, lightning.LightningParser),
    # Frameworks whose lines the generic reader half-understands (timestamped `step: N loss:`).
    (megatron, megatron.MegatronParser),
    (torchtitan, torchtitan.TorchtitanParser),
    (detectron2, detectron2.Detectron2Parser),
    (mmengine, mmengine.MmengineParser),
    (metriclogger, metriclogger.MetricLoggerParser),
    (timm, timm.TimmParser),
    (fairseq, fairseq.FairseqParser),
    (verl, verl.VerlParser),
    (deepspeed, deepspeed.DeepSpeedParser),
    (generic, generic.GenericParser),
    (tqdm_generic, tqdm_generic.TqdmParser),
    (hf, hf.HfParser),
)
_SCORERS: dict[str, Callable[[str], int]] = {m.NAME: m.score for m, _ in _PARSERS}
_FACTORIES = {m.NAME: factory for m, factory in _PARSERS}

FORMATS: tuple[str, ...] = tuple(m.NAME for m, _ in _PARSERS)
# Formats written as one whole document (trainer_state.json): nothing to switch from mid-way.
DOCUMENT_FORMATS = frozenset({trainer_state.NAME})
FALLBACK = generic.NAME
# Formats whose lines other trainers print too (DeepSpeed's engine under the HF Trainer or
# Megatron-DeepSpeed): their certain lines take over only from the fallback.
GUEST_FORMATS = frozenset({deepspeed.NAME})


def detect(head: Sequence[str]) -> str | None:
    """The format whose lines best match `head` (raw lines), or None if nothing matches."""
    return _best(_totals([clean(line) for line in head]))


def make_parser(fmt: str | None = None) -> LineParser:
    """The parser for `fmt`; None gives an auto-detecting `AutoParser`.

    Raises ValueError with the list of known formats for an unknown name.
    """
    if fmt is None:
        return AutoParser()
    factory = _FACTORIES.get(fmt)
    if factory is None:
        raise ValueError(f"unknown log format {fmt!r}; known: {', '.join(FORMATS)}")
    return factory()


def detect_path(path: str) -> str | None:
    """The format a file's name alone tells (`trainer_state.json`), else None."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name == "trainer_state.json":
        return trainer_state.NAME
    if name == "trainer_log.jsonl":
        return llamafactory.NAME
    return None


def _totals(lines: Sequence[str]) -> dict[str, int]:
    totals = dict.fromkeys(FORMATS, 0)
    for line in lines:
        for name, scorer in _SCORERS.items():
            totals[name] += scorer(line)
    return totals


def _best(totals: dict[str, int]) -> str | None:
    best = max(FORMATS, key=lambda name: totals[name])  # max keeps the first of equals
    return best if totals[best] > 0 else None


def _scores(line: str) -> dict[str, int]:
    return {name: scorer(line) for name, scorer in _SCORERS.items()}


# A line without any of these scores 0 for every format: unknown lines (HellaSwag counters,
# banners, warnings) skip every scorer. Each scorer needs one of them to score above 0
# (test_real_logs.py and test_properties.py check it on real and generated lines).
_SCORE_PREFIXES = (
    *("step", "iter ", "s:", "[eval]", "Overriding", "tokens per", "with open(", "{"),
    "epoch,",
)
# The same for the frameworks' lines, anywhere in the line (after stamps and rank prefixes).
_SCORE_WORDS = (
    "step",
    "iter",
    "eta: ",
    "Iter",
    "Epoch",
    "MAX_ITER",
    "Train: ",
    "Scheduled epochs",
    "Total time: ",
    " - mmengine - ",
    "num_updates",
    "Total Micro",
    "% ━",
    "/step",
    "Progress on:",
)
_NO_SCORES = dict.fromkeys(FORMATS, 0)


_LINE_PREFIXES = tuple(f"\n{prefix}" for prefix in _SCORE_PREFIXES)


def _may_score(line: str) -> bool:
    """False when every format scores `line` 0, for sure."""
    return line.startswith(_SCORE_PREFIXES) or _holds_score_word(line)


def _may_score_any(lines: Sequence[str]) -> bool:
    """`any(map(_may_score, lines))` for lines without newlines, each word checked once over
    the lines joined (no word holds a newline, so none is found across two lines)."""
    text = "\n".join(lines)
    return (
        text.startswith(_SCORE_PREFIXES)
        or any(prefix in text for prefix in _LINE_PREFIXES)
        or _holds_score_word(text)
    )


def _holds_score_word(text: str) -> bool:
    return (
        " = " in text
        or "oss" in text
        or "%|" in text
        or "Running training" in text
        or "Total optimization" in text
        or '"log_history"' in text
        or any(word in text for word in _SCORE_WORDS)
    )


def _has_progress(events: Sequence[Event]) -> bool:
    return any(isinstance(event, Progress) for event in events)


# The fallback reads any `step N ... loss X` line, also those of formats that read them better
# (a framework's line with its own clock and total): those formats take such lines from it.
_FALLBACK_LIKE = frozenset({generic.NAME, tqdm_generic.NAME})


def _specific_format(line: str) -> str | None:
    """A format other than the fallback's kind that is certain of `line`, if any."""
    cleaned = clean(line)
    if not _may_score(cleaned):
        return None
    return next(
        (
            name
            for name, scorer in _SCORERS.items()
            if name not in _FALLBACK_LIKE and scorer(cleaned) >= CERTAIN
        ),
        None,
    )


def _certain_format(line: str) -> str | None:
    return next((name for name, scorer in _SCORERS.items() if scorer(line) >= CERTAIN), None)


class AutoParser:
    """Detects the format from the first lines, then follows format switches."""

    def __init__(self) -> None:
        self.name = "auto"
        self._head: list[str] = []
        self._parser: LineParser | None = None
        self._quiet = 0
        self._read_progress = False  # the current parser has read progress
        self._window: deque[tuple[str, dict[str, int]]] = deque()
        self._totals = dict.fromkeys(FORMATS, 0)  # the window's scores, kept up to date

    @property
    def format(self) -> str | None:
        """The format chosen so far (None while the first lines are held back)."""
        return None if self._parser is None else self._parser.name

    def feed(self, line: str) -> list[Event]:
        return self.feed_many((line,))

    def feed_many(self, lines: Iterable[str]) -> list[Event]:
        out: list[Event] = []
        for line in lines:
            parser = self._parser
            if parser is None:
                out += self._feed_head(line)
                continue
            events = parser.feed(line)
            if events and (len(events) > 1 or not isinstance(events[0], ErrorText)):
                if parser.name == FALLBACK and (other := _specific_format(line)) is not None:
                    out += self._switch(other, line)
                    continue
                self._quiet = 0
                if not self._read_progress:
                    self._read_progress = _has_progress(events)
                out += events
            else:
                out += events
                out += self._not_understood(parser.name, line)
        return out

    def flush(self) -> list[Event]:
        """Decide now with the lines held back (end of a finished log, or an idle one)."""
        if self._parser is not None or not self._head:
            return []
        return self._choose(detect(self._head) or FALLBACK)

    def pass_unread(self, lines: Sequence[str]) -> bool:
        """What `feed_many(lines)` does for clean lines the current parser reads nothing
        from and no format scores (a trainer's own progress counters, as catch-up finds
        them), when no switch can come of them: no format near certain in the recent lines
        (the totals only fall as these push older lines out). False, with nothing done,
        otherwise."""
        parser = self._parser
        if parser is None or parser.name in DOCUMENT_FORMATS or not lines:
            return False
        if max(self._totals.values()) >= CERTAIN and self._quiet + len(lines) >= QUIET_LINES:
            return False
        if _may_score_any(lines):
            return False
        self._quiet += len(lines)
        window, totals = self._window, self._totals
        for _ in range(max(0, len(window) + min(len(lines), QUIET_LINES) - QUIET_LINES)):
            old = window.popleft()[1]
            if old is not _NO_SCORES:
                for name, score in old.items():
                    totals[name] -= score
        window.extend((line[:MAX_LINE_CHARS], _NO_SCORES) for line in lines[-QUIET_LINES:])
        return True

    def _feed_head(self, line: str) -> list[Event]:
        line = line[:MAX_LINE_CHARS]  # held lines are bounded in size too
        cleaned = clean(line)
        if _certain_format(cleaned) is not None or len(self._head) + 1 >= HEAD_LINES:
            return self._choose(detect([*self._head, line]) or FALLBACK, line)
        self._head.append(line)
        error = errors.scan(cleaned)
        return [] if error is None else [error]

    def _choose(self, fmt: str, new_line: str | None = None) -> list[Event]:
        """Pick `fmt` and replay the held lines; the failures in them were already reported,
        those of `new_line` (the line that decided) were not."""
        head, self._head = self._head, []
        self._parser = make_parser(fmt)
        events: list[Event] = []
        for line in head:
            events += [e for e in self._parser.feed(line) if not isinstance(e, ErrorText)]
        if new_line is not None:
            events += self._parser.feed(new_line)
        self._read_progress = _has_progress(events)
        return events

    def _not_understood(self, current: str, line: str) -> list[Event]:
        cleaned = clean(line)
        # Blank lines (half of a tqdm log's) say nothing about the format; a document format
        # understands nothing until its document closes.
        if not cleaned or current in DOCUMENT_FORMATS:
            return []
        self._quiet += 1
        return self._maybe_switch(current, line, cleaned)

    def _maybe_switch(self, current: str, line: str, cleaned: str) -> list[Event]:
        """Switch to the format that understands the lines the current one does not: on a line
        only that format prints, or after `QUIET_LINES` lines where it scores best."""
        scores = self._remember(line, cleaned)
        candidate = None
        if scores is not _NO_SCORES:
            candidate = next(
                (
                    name
                    for name, score in scores.items()
                    if score >= CERTAIN
                    and name != current
                    and (
                        name not in GUEST_FORMATS or current == FALLBACK or not self._read_progress
                    )
                ),
                None,
            )
        if candidate is None and self._quiet < QUIET_LINES:
            return []
        totals = self._totals
        certain = candidate is not None
        if candidate is None:
            candidate = max(FORMATS, key=totals.__getitem__)
        if totals[candidate] < CERTAIN or totals[candidate] <= totals[current]:
            return []
        # On a certain line, only that line is replayed: the lines before it may be bars the
        # new parser would mistake for training (an evaluation bar the old one ignored). After
        # quiet lines, the lines nobody understood are: the new format's lines are not lost.
        replay = [line] if certain else [old for old, _ in self._window]
        self._parser, self._quiet = make_parser(candidate), 0
        self._window.clear()
        self._totals = dict.fromkeys(FORMATS, 0)
        # The old parser already reported these lines' errors.
        events: list[Event] = [
            e for old in replay for e in self._parser.feed(old) if not isinstance(e, ErrorText)
        ]
        self._read_progress = _has_progress(events)
        return events

    def _switch(self, fmt: str, line: str) -> list[Event]:
        """Hand `line` and what follows to `fmt`, a format certain of it."""
        self._parser, self._quiet = make_parser(fmt), 0
        self._window.clear()
        self._totals = dict.fromkeys(FORMATS, 0)
        events = self._parser.feed(line)
        self._read_progress = _has_progress(events)
        return events

    def _remember(self, line: str, cleaned: str) -> dict[str, int]:
        scores = _scores(cleaned) if _may_score(cleaned) else _NO_SCORES
        self._window.append((line[:MAX_LINE_CHARS], scores))
        totals = self._totals
        if scores is not _NO_SCORES:
            for name, score in scores.items():
                totals[name] += score
        if len(self._window) > QUIET_LINES:
            old = self._window.popleft()[1]
            if old is not _NO_SCORES:
                for name, score in old.items():
                    totals[name] -= score
        return scores
