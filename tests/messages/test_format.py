"""Numbers, durations, clock times and finish phrases in each language."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.messages import Ctx, to_plain
from bot.messages.fr import _typography
from bot.messages.lang import Tr, languages

NB, NNB = "\u00a0", "\u202f"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 28, 2, 30, tzinfo=PARIS).timestamp()


def tr(lang: str, tz: str = "Europe/Paris", clock24: bool | None = None, now: float = NOW) -> Tr:
    return Tr(lang, Ctx(lang=lang, tz=tz, clock24=clock24, now_s=now))


def plain(text: str) -> str:
    """No-break spaces shown as ordinary ones, for readable expectations."""
    return text.replace(NB, " ").replace(NNB, " ")


def test_numbers_follow_the_locale() -> None:
    assert tr("fr").num(3400) == f"3{NNB}400"
    assert tr("en").num(3400) == "3,400"
    assert tr("fr").dec(5.8, 1) == "5,8"
    assert tr("en").dec(5.8, 1) == "5.8"
    assert tr("fr").pct(6.5, 1) == f"6,5{NB}%"
    assert tr("en").pct(6.5, 1) == "6.5%"
    assert tr("fr").signed(-0.0123, 4) == "−0,0123"
    assert tr("en").signed(0.0103, 4) == "+0.0103"


@pytest.mark.parametrize(
    ("seconds", "fr", "en"),
    [
        (0.0, "0 s", "0 s"),
        (0.0042, "4,2 ms", "4.2 ms"),
        (0.170, "170 ms", "170 ms"),
        (0.9996, "1 s", "1 s"),
        (5.8, "5,8 s", "5.8 s"),
        (42.4, "42 s", "42 s"),
        (100.4, "1 min 40", "1 min 40 s"),
        (220.4, "4 min", "4 min"),  # minutes from two minutes on: seconds are noise
        (240.0, "4 min", "4 min"),
        (3399.4, "57 min", "57 min"),
        (3590.0, "1 h", "1 h"),
        (3900.0, "1 h 05", "1 h 05 min"),
        (45_100.0, "12 h 30", "12 h 30 min"),
        (3.6 * 86400, "3 jours 14 h", "3 days 14 h"),
        (86400 * 2.0, "2 jours", "2 days"),
        (1e300, "plus de 10 ans", "over 10 years"),
        (-5.0, "0 s", "0 s"),
        (math.nan, "?", "?"),
        (None, "?", "?"),
    ],
)
def test_durations_for_a_human(seconds: float | None, fr: str, en: str) -> None:
    assert plain(tr("fr").dur(seconds)) == fr
    assert plain(tr("en").dur(seconds)) == en


def test_number_and_unit_never_split() -> None:
    assert " " not in tr("fr").dur(3900.0)
    assert " " not in tr("en").dur(220.4)


def test_ranges() -> None:
    assert plain(tr("fr").dur_range(3000, 3400)) == "50–57 min"  # the unit once
    assert plain(tr("fr").dur_range(3000, 3900)) == "50–65 min"
    assert plain(tr("fr").dur_range(4200, 5400)) == "1 h 10 – 1 h 30"
    assert plain(tr("en").dur_range(3 * 3600, 4 * 3600)) == "3–4 h"
    assert plain(tr("en").dur_range(40, 55)) == "40–55 s"
    assert plain(tr("en").dur_range(33000, 40000)) == "9 h 10 min – 11 h 10 min"
    assert tr("en").dur_range(None, 40000) == ""
    # Narrower than the rounding: no "(9–9)", no seconds on a nine-minute estimate.
    assert tr("en").dur_range(200, 200.4) == ""
    assert tr("en").dur_range(536, 564) == ""
    assert plain(tr("en").dur_range(536, 600)) == "9–10 min"
    assert plain(tr("en").dur_range(70, 110)) == "1 min 10 s – 1 min 50 s"


def at(hour: int, minute: int, day: int = 28) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS).timestamp()


def test_clock_per_language_and_preference() -> None:
    assert plain(tr("fr").clock(at(3, 27))) == "3 h 27"
    assert plain(tr("fr").clock(at(15, 0))) == "15 h"
    assert plain(tr("en").clock(at(3, 27))) == "3:27 AM"
    assert plain(tr("en").clock(at(15, 0))) == "3 PM"
    assert tr("en", clock24=True).clock(at(3, 27)) == "03:27"
    assert plain(tr("fr", clock24=False).clock(at(15, 5))) == "3 h 05 PM"


def test_clock_rounds_to_the_nearest_minute() -> None:
    assert plain(tr("fr").clock(at(3, 26) + 40)) == "3 h 27"


def test_clock_in_the_chat_zone() -> None:
    assert plain(tr("en", tz="America/New_York").clock(at(3, 27))) == "9:27 PM"
    assert plain(tr("en", tz="Asia/Kolkata").clock(at(3, 27))) == "7:57 AM"


@pytest.mark.parametrize(
    ("finish", "fr", "en"),
    [
        (at(3, 27), "vers 3 h 27", "around 3:27 AM"),
        (at(9, 10, 29), "demain vers 9 h 10", "tomorrow around 9:10 AM"),
        (at(9, 10, 30), "lundi 30 novembre vers 9 h 10", "Monday, November 30, around 9:10 AM"),
        (
            datetime(2026, 12, 1, 9, 10, tzinfo=PARIS).timestamp(),
            "mardi 1er décembre vers 9 h 10",
            "Tuesday, December 1, around 9:10 AM",
        ),
        (
            datetime(2027, 1, 4, 9, 10, tzinfo=PARIS).timestamp(),
            "lundi 4 janvier 2027 vers 9 h 10",
            "Monday, January 4, 2027, around 9:10 AM",
        ),
    ],
)
def test_when(finish: float, fr: str, en: str) -> None:
    assert plain(tr("fr").when(finish)) == fr
    assert plain(tr("en").when(finish)) == en


def test_finish_relative_and_absolute() -> None:
    assert plain(tr("fr").finish(NOW + 3400)) == "Fin dans 57 min, vers 3 h 27"
    assert plain(tr("en").finish(NOW + 3400, "50–60 min")) == (
        "Done in 57 min (50–60 min), around 3:27 AM"
    )
    assert plain(tr("fr").finish(NOW + 10)) == "Fin imminente, prévue vers 2 h 30"
    assert plain(tr("fr").finish(NOW - 600)) == "Fin prévue vers 2 h 20, déjà dépassée"
    assert plain(tr("en").finish(NOW - 600)) == "Finish expected around 2:20 AM, now overdue"
    assert plain(tr("en").finish(None)) == "Finish time unknown"
    assert plain(tr("en").finish(NOW + 1e12)) == "Done in over 10 years"
    assert plain(tr("en", now=math.nan).finish(NOW)) == "Finish time unknown"


@pytest.mark.parametrize(
    ("tz", "fr", "en"),
    [
        ("Europe/Paris", "heure de Paris", "Paris time"),
        ("Europe/Amsterdam", "heure d'Amsterdam", "Amsterdam time"),
        ("UTC", "UTC", "UTC"),
        ("Mars/Olympus", "UTC", "UTC"),
        ("../../etc/passwd", "UTC", "UTC"),
    ],
)
def test_zone_label(tz: str, fr: str, en: str) -> None:
    assert tr("fr", tz=tz).tz_label() == fr
    assert tr("en", tz=tz).tz_label() == en


def test_languages() -> None:
    assert languages("both") == ("fr", "en")
    assert languages("de") == ("en",)


def test_french_typography() -> None:
    assert _typography("Total : 3 ; oui ! non ?") == f"Total{NNB}: 3{NNB}; oui{NNB}! non{NNB}?"
    assert _typography("<code>/tz Europe/Paris</code>.") == "<code>/tz Europe/Paris</code>."
    assert _typography("voir https://x") == "voir https://x"


def test_to_plain() -> None:
    assert to_plain("<b>a &lt; b</b> <code>x&amp;y</code>") == "a < b x&y"
