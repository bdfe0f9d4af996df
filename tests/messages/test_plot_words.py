"""Every word and number format drawn in the /plot picture, per chat language, checked into
tests/golden/plot_words.*.txt (UPDATE_GOLDEN=1 rewrites them). A picture holds one language:
a `both` chat gets the French one, its caption under the picture carries both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.core.events import TrainingEnd
from bot.core.gpu import GpuSample, GpuSnapshot
from bot.core.notices import Alert
from bot.messages import Ctx
from bot.messages.bot_ui import ALERT_WORDS, PLOT_WORDS, PlotLabels, plot_labels
from tests.messages import checks
from tests.messages.scenarios import (
    INTERRUPTED,
    NOW,
    PARIS,
    RUN,
    SLOWDOWN,
    STALL,
    reference_run,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def labels(
    lang: str, ended: TrainingEnd | None = None, gpus: int = 1, said: Alert | None = None
) -> PlotLabels:
    run = reference_run(now=NOW - 754 if said == STALL else NOW)
    run.ended = ended
    if said is not None:  # what the detectors said makes the run's phase
        run.life.note(RUN, [said], None)
    run.gpu_trace.add(
        1300, GpuSnapshot(NOW, tuple(GpuSample(i, temperature_c=70) for i in range(gpus)))
    )
    return plot_labels(run, Ctx(lang=lang, now_s=NOW, tz=PARIS))


def dump(lang: str) -> str:
    running, crashed = labels(lang, gpus=8), labels(lang, TrainingEnd(1, "crash"))
    finished = labels(lang, TrainingEnd(0, "completed"))
    stalled, slowed = labels(lang, said=STALL), labels(lang, said=SLOWDOWN)
    stopped = labels(lang, TrainingEnd(130, "stopped", "@alice"))
    interrupted = labels(lang, said=INTERRUPTED)
    lines = [
        f"title = {running.title}",
        *(f"subtitle = {line}" for line in running.subtitle),
        f"subtitle, crashed = {crashed.subtitle[-1]}",
        f"subtitle, finished = {finished.subtitle[-1]}",
        f"subtitle, stopped = {stopped.subtitle[-1]}",
        f"subtitle, interrupted = {interrupted.subtitle[-1]}",
        f"subtitle, stalled = {stalled.subtitle[-1]}",
        *(f"subtitle, slowed = {line}" for line in slowed.subtitle[1:]),
        f"gpu, one = {finished.gpu}",
        f"gpu, eight = {running.gpu}",
        *(f"{word} = {getattr(running, word)}" for word in PLOT_WORDS),
        *(f"alert {kind} = {running.alert_word(kind)}" for kind in (*ALERT_WORDS, "new_kind")),
        "iterations = " + " | ".join(running.count(x) for x in (0, 2500, 12_000, 20_000, 650_000)),
        "values = " + " | ".join(running.number(x, d) for x, d in ((2.75, 2), (180, 0), (-0.5, 1))),
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("lang", ["fr", "en", "both"])
def test_golden(lang: str) -> None:
    text = dump(lang)
    path = GOLDEN / f"plot_words.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_both_draws_the_french_words() -> None:
    assert dump("both") == dump("fr") != dump("en")


def test_french_words_are_french() -> None:
    text = "\n".join(line.split(" = ", 1)[1] for line in dump("fr").splitlines())
    jargon = ("loss", "train", "val", "OOM", "NaN", RUN)  # what French ML people say
    assert checks.english_in_french(text, jargon) == []
    assert checks.french_typography_problems(text) == []
