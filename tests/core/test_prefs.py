"""Command arguments and button data: what is accepted, what is refused, and that no string
makes the parsers raise anything but their own error."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.prefs import (
    MAX_CALLBACK_BYTES,
    MAX_MUTE_S,
    Callback,
    CallbackError,
    ChatPrefs,
    EvalsMode,
    PrefError,
    match_runs,
    parse_callback,
    parse_duration,
    parse_evals,
    parse_lang,
    parse_mute,
    parse_tz,
    run_token,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90m", 5400), ("90min", 5400), ("1d", 86400), ("1j", 86400), ("1h30m", 5400),
     (" 2 H ", 7200), ("7d", 7 * 86400)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "0h", "2x", "-1h", "2h foo", "1.5h", "١h", "0m0h"])
def test_unreadable_durations(text: str) -> None:
    with pytest.raises(PrefError) as err:
        parse_duration(text)
    assert err.value.key == "bad_mute"


@pytest.mark.parametrize("text", ["99999999h", "8d", "169h", "9" * 60 + "d"])
def test_too_long_durations_are_refused_clearly(text: str) -> None:
    with pytest.raises(PrefError) as err:
        parse_duration(text)
    assert err.value.key == "mute_too_long" and len(err.value.value) <= 64


def test_time_zones() -> None:
    assert parse_tz("Europe/Paris") == "Europe/Paris"
    assert parse_tz(" europe/paris ") == "Europe/Paris"
    assert parse_tz("UTC") == "UTC"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "Europe/"):
        with pytest.raises(PrefError) as err:
            parse_tz(bad)
        assert err.value.key == "bad_tz"


def test_languages() -> None:
    assert [parse_lang(x) for x in ("fr", "EN", " both ")] == ["fr", "en", "both"]
    with pytest.raises(PrefError) as err:
        parse_lang("xx")
    assert err.value.key == "bad_lang"


def test_evals_settings() -> None:
    assert parse_evals(["all"]) == EvalsMode("all")
    assert parse_evals(["BEST"]) == EvalsMode("best")
    assert parse_evals(["off"]) == EvalsMode("off")
    assert parse_evals(["every", "5"]) == EvalsMode("every", 5)
    assert parse_evals(["every", "1"]) == EvalsMode("all")
    for bad in ([], ["every"], ["every", "0"], ["every", "1001"], ["every", "²"], ["some"]):
        with pytest.raises(PrefError) as err:
            parse_evals(bad)
        assert err.value.key == "bad_evals"


def test_evals_modes_choose_evals() -> None:
    assert [EvalsMode("every", 3).wants(n, False) for n in range(1, 7)] == [
        False, False, True, False, False, True
    ]  # fmt: skip
    assert EvalsMode("best").wants(1, True) and not EvalsMode("best").wants(2, False)
    assert not EvalsMode("off").wants(1, True) and EvalsMode("all").wants(5, False)


def test_callbacks_round_trip_and_stay_within_telegram_limits() -> None:
    for cb in (Callback("eta"), Callback("mute", "1h"), Callback("run", run_token("x" * 500))):
        data = cb.encode()
        assert len(data.encode()) <= MAX_CALLBACK_BYTES
        assert parse_callback(data) == cb
    with pytest.raises(ValueError):
        Callback("reboot").encode()
    with pytest.raises(ValueError):
        Callback("run", "a:b").encode()


@pytest.mark.parametrize(
    ("data", "kind"),
    [("v0:eta:", "stale"), ("v1:reboot:", "stale"), ("v2:eta:", "stale"), ("hello", "foreign"),
     ("", "foreign"), (None, "foreign"), ("v1:eta:a:b", "foreign"), ("v1:eta:<b>", "foreign"),
     ("v1:eta:" + "a" * 80, "foreign")],
)  # fmt: skip
def test_callback_data_not_made_by_this_bot(data: str | None, kind: str) -> None:
    with pytest.raises(CallbackError) as err:
        parse_callback(data)
    assert err.value.kind == kind


def test_prefs_round_trip_and_survive_garbage() -> None:
    prefs = ChatPrefs(
        lang="fr",
        tz="Europe/Paris",
        muted_until_s=math.inf,
        evals=EvalsMode("every", 4),
        subscribed=False,
        run="gpt2",
        live=True,
        live_message_id=12,
    )
    assert ChatPrefs.from_dict(prefs.to_dict()) == prefs
    garbage = {
        "lang": "xx",
        "tz": "Mars/Olympus",
        "muted_until_s": "soon",
        "evals": 3,
        "evals_every": "x",
        "subscribed": "no",
        "run": 5,
        "live": 1,
        "live_message_id": True,
    }
    assert ChatPrefs.from_dict(garbage) == ChatPrefs(subscribed=True)
    assert ChatPrefs.from_dict({}) == ChatPrefs()


def test_time_zones_by_their_city() -> None:
    assert parse_tz("paris") == parse_tz("PARIS") == "Europe/Paris"
    assert parse_tz("new york") == parse_tz("New_York") == "America/New_York"
    assert parse_tz("singapore") == "Singapore"  # a full name first, before any city part
    with pytest.raises(PrefError) as err:
        parse_tz("istanbul")
    assert err.value.key == "tz_ambiguous"
    assert err.value.choices == ("Asia/Istanbul", "Europe/Istanbul")


def test_mute_alone_or_forever_is_until_unmute() -> None:
    assert parse_mute("") is parse_mute(" Forever ") is None
    assert parse_mute("2h") == 7200
    with pytest.raises(PrefError):
        parse_mute("for ever")


@pytest.mark.parametrize(
    ("asked", "found"),
    [("gpt2-small", ["gpt2-small"]), ("BERT", ["bert"]), ("gpt2-s", ["gpt2-small"]),
     ("GPT2", ["gpt2-small", "gpt2-large"]), ("nosuch", []), ("gpt2", ["gpt2"])],
)  # fmt: skip
def test_runs_by_their_name_or_its_start(asked: str, found: list[str]) -> None:
    names = ["gpt2-small", "gpt2-large", "bert"] + (["gpt2"] if found == ["gpt2"] else [])
    assert match_runs(asked, names) == found


def test_a_run_spelt_exactly_wins_over_another_case() -> None:
    assert match_runs("GPT", ["gpt", "GPT"]) == ["GPT"]
    assert match_runs("Gpt", ["gpt", "GPT"]) == ["gpt", "GPT"]  # say which


def test_mute_windows() -> None:
    assert ChatPrefs(muted_until_s=100.0).muted(99.0)
    assert not ChatPrefs(muted_until_s=100.0).muted(100.0)
    assert ChatPrefs(muted_until_s=math.inf).muted(1e12)
    assert not ChatPrefs().muted(0.0)


@given(st.text(max_size=200))
def test_no_string_breaks_the_argument_parsers(text: str) -> None:
    for parse in (parse_duration, parse_tz, parse_lang):
        try:
            parse(text)  # type: ignore[operator]
        except PrefError as err:
            assert len(err.value) <= 64
    try:
        seconds = parse_duration(text)
    except PrefError:
        pass
    else:
        assert 0 < seconds <= MAX_MUTE_S
    with contextlib.suppress(PrefError):
        parse_evals(text.split())


@given(st.one_of(st.none(), st.text(max_size=100), st.binary(max_size=70).map(repr)))
def test_no_button_data_breaks_the_callback_parser(data: str | None) -> None:
    try:
        cb = parse_callback(data)
    except CallbackError as err:
        assert err.kind in ("stale", "foreign")
    else:
        assert cb.encode() == data


@given(st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.booleans(), st.integers(),
       st.floats(), st.text(max_size=20))))  # fmt: skip
def test_no_stored_dict_breaks_the_prefs(data: dict[str, object]) -> None:
    prefs = ChatPrefs.from_dict(data)
    assert ChatPrefs.from_dict(prefs.to_dict()) == prefs
