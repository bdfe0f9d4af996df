"""The end of `etagram demo`, checked into tests/golden/tour.*.txt (UPDATE_GOLDEN=1 rewrites
them): the answers are those of the real commands; the words around them are the tour's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.core.events import TrainingEnd
from bot.messages import Ctx, to_plain
from bot.messages.bot_ui import tour_text
from tests.messages import checks
from tests.messages.scenarios import NOW, ONE_GPU, PARIS, RUN, reference_run

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CHART = "/tmp/etagram-demo-k2x9/chart.png"


def tour(lang: str) -> str:
    run = reference_run()
    run.ended = TrainingEnd(1, "crash")
    return tour_text(run, ONE_GPU, CHART, Ctx(lang=lang, now_s=NOW, tz=PARIS))


@pytest.mark.parametrize("lang", ["fr", "en", "both"])
def test_golden(lang: str) -> None:
    text = to_plain(tour(lang)) + "\n"
    path = GOLDEN / f"tour.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_french_tour_is_french_and_eta_shows_both_languages() -> None:
    text = tour("fr")
    assert checks.html_problems(text) == []
    words = text.split("/status")[1]  # the /eta answer is bilingual on purpose
    names = (RUN, "README", "Telegram", "BotFather", "train.log", "train.py")
    assert checks.english_in_french(words, names) == []
    assert checks.french_typography_problems(text) == []
    # The demo's run ends on its simulated OOM: /eta says so, with no countdown.
    assert "Entraînement arrêté sur une erreur" in text and "Training crashed" in text
