"""One language bound to one chat: catalog look-up and Babel formatting of values.

Formatting rules chosen for a reader on a phone:
- numbers: Babel's locale (fr `3 400` with a narrow no-break space, `5,8`; en `3,400`, `5.8`);
- durations: to a precision that fits their size: seconds under two minutes (`170 ms`,
  `5,8 s`, `1 min 48`), minutes under an hour (`9 min`, `57 min`), then hours and minutes
  (`1 h 05`, `12 h 30`, `3 jours 4 h`); a range gives its unit once (`50–65 min`); a number
  and its unit never split a line (no-break space);
- clock times: in the chat's zone (zoneinfo); French writes `3 h 27`, the form French
  typography (Lexique de l'Imprimerie nationale) and everyday writing use in a sentence,
  rather than the digital-clock `03:27`; English says `3:27 AM` by default, `03:27` when the
  chat prefers a 24-hour clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime, get_timezone_location
from babel.numbers import format_decimal, format_scientific

from bot.messages import en, fr
from bot.messages.markup import Html, esc, join
from bot.messages.types import Ctx

CATALOGS: dict[str, dict[str, str]] = {"fr": fr.MESSAGES, "en": en.MESSAGES}
LANGS: dict[str, tuple[str, ...]] = {"fr": ("fr",), "en": ("en",), "both": ("fr", "en")}
NBSP = "\u00a0"
LIMIT = 1e15  # beyond this a value is nonsense for a human; shown in scientific notation
FOREVER_S = 10 * 365 * 86400.0
LATE_S = 60.0  # a finish this far in the past is overdue, no longer imminent
LAST_EPOCH_S = 253_370_764_800.0  # 9998-12-31: a day's margin for any zone

Value = Html | str | int


def languages(lang: str) -> tuple[str, ...]:
    """The catalogs a chat reads, French first in `both` mode; unknown codes read English."""
    return LANGS.get(lang, ("en",))


def zone(name: str) -> ZoneInfo:
    """The chat's zone; a name zoneinfo does not know falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return ZoneInfo("UTC")


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def on_calendar(epoch_s: float | None) -> bool:
    """An epoch a calendar can show (years 1970 to 9998): anything else is a broken clock."""
    return epoch_s is not None and math.isfinite(epoch_s) and 0 <= epoch_s <= LAST_EPOCH_S


class Tr:
    """Texts and value formats of one language for one chat."""

    def __init__(self, lang: str, ctx: Ctx) -> None:
        self.lang = lang
        self.ctx = ctx
        self.locale = Locale.parse(lang)
        self.messages = CATALOGS[lang]
        self.zone = zone(ctx.tz)

    # --- catalog -------------------------------------------------------------------------

    def t(self, key: str, /, **values: Value) -> Html:
        """A message with its placeholders filled; str values are escaped, ints localized."""
        template = self.messages[key]
        return Html(template.format_map({k: self._value(v) for k, v in values.items()}))

    def plural(self, key: str, n: int, /, **values: Value) -> Html:
        """`key.one` or `key.other` after the language's plural rule; `n` is a placeholder."""
        form = "one" if self.locale.plural_form(abs(n)) == "one" else "other"
        return self.t(f"{key}.{form}", n=n, **values)

    def _value(self, value: Value) -> str:
        if isinstance(value, Html):
            return value
        if isinstance(value, int):
            return self.num(value)
        return esc(value)

    # --- numbers -------------------------------------------------------------------------

    def num(self, n: float) -> Html:
        """A count or a rounded quantity with the locale's grouping."""
        return self.dec(n, 0)

    def dec(self, x: float | None, digits: int, trim: bool = False) -> Html:
        """x with `digits` decimals (`trim`: drop trailing zeros); non-finite has words."""
        if x is None:
            return self.t("value.unknown")
        if math.isnan(x):
            return Html("NaN")
        if math.isinf(x):
            return Html("+∞" if x > 0 else "−∞")
        if abs(x) >= LIMIT:
            return Html(format_scientific(x, format="0.##E0", locale=self.locale))
        pattern = "#,##0" + ("." + ("#" if trim else "0") * digits if digits else "")
        text = format_decimal(x, format=pattern, locale=self.locale)
        return Html(text.replace("-", "−"))

    def signed(self, x: float, digits: int) -> Html:
        """A difference, always with its sign (`+0,0103`, `−0,0123`)."""
        sign = "−" if x < 0 else "+"
        return Html(sign + self.dec(abs(x), digits))

    def loss(self, x: float | None) -> Html:
        """A loss as trainers print it: 4 decimals (3 from 10 up, fewer for huge values)."""
        if not finite(x):
            return self.t("value.not_finite") if x is not None else self.t("value.unknown")
        assert x is not None
        return self.dec(x, 4 if abs(x) < 10 else 3 if abs(x) < 1000 else 0)

    def pct(self, x: float | None, digits: int = 0) -> Html:
        """x given in percent (`6.5` -> `6,5 %` / `6.5%`)."""
        return self.t("unit.pct", n=self.dec(x, digits, trim=True))

    def unit(self, x: float | None, unit: str, digits: int = 0) -> Html:
        """A measured quantity and its unit, held together."""
        return Html(f"{self.dec(x, digits, trim=True)}{NBSP}{unit}")

    # --- durations -----------------------------------------------------------------------

    def dur(self, s: float | None) -> Html:
        """A duration for a human: precise when small, rounded when long."""
        if not finite(s):
            return self.t("value.unknown")
        assert s is not None
        s = max(0.0, s)
        if s >= FOREVER_S:
            return self.t("dur.forever")
        if s == 0:
            return self.unit(0, "s")
        if s < 0.9995:
            ms = s * 1000
            return self.unit(ms, "ms", 1 if ms < 9.95 else 0)
        if s < 59.5:
            return self.unit(s, "s", 1 if s < 9.95 else 0)
        if round(s) < 120:  # seconds matter under two minutes; beyond, they are noise
            m, sec = divmod(round(s), 60)
            return self.t("dur.min_s", m=m, s=f"{sec:02d}") if sec else self.t("dur.min", m=m)
        return self._long(s)

    def _long(self, s: float) -> Html:
        minutes = round(s / 60)
        if minutes < 60:
            return self.t("dur.min", m=minutes)
        if minutes >= 600:  # ten hours and more: to the ten minutes, then to the hour
            minutes = round(s / 600) * 10
        if minutes < 48 * 60:
            h, m = divmod(minutes, 60)
            return self.t("dur.h_min", h=h, m=f"{m:02d}") if m else self.t("dur.h", h=h)
        d, h = divmod(round(s / 3600), 24)
        return self.plural("dur.d_h", d, h=h) if h else self.plural("dur.d", d)

    def dur_range(self, low: float | None, high: float | None) -> Html:
        """`50–65 min` (from under an hour), `3–4 h` (the unit once when both ends share it),
        `1 h 50 – 2 h 40`; empty if unknown or narrower than the rounding."""
        if not (finite(low) and finite(high)):
            return Html("")
        assert low is not None and high is not None
        low_min, high_min = round(low / 60), round(high / 60)
        if 2 <= low_min < 60 and low_min < high_min < 100:  # `50–65 min` reads at a glance
            return self.t("dur.min", m=Html(f"{self.num(low_min)}–{self.num(high_min)}"))
        low_text, high_text = self.dur(low), self.dur(high)
        if low_text == high_text:
            return Html("")  # a range narrower than the rounding says nothing
        low_n, _, low_unit = low_text.partition(NBSP)
        high_n, _, high_unit = high_text.partition(NBSP)
        if low_unit == high_unit and not any(c.isspace() for c in low_unit):
            return Html(f"{low_n}–{high_n}{NBSP}{high_unit}")
        return Html(f"{low_text} – {high_text}")

    # --- clock ---------------------------------------------------------------------------

    def local(self, epoch_s: float) -> datetime:
        """Wall time in the chat's zone, to the nearest minute (times are shown to the minute)."""
        return datetime.fromtimestamp(round(epoch_s / 60) * 60, self.zone)

    def clock(self, epoch_s: float) -> Html:
        """The time of day on the chat's clock."""
        moment = self.local(epoch_s)
        h24 = self.ctx.clock24 if self.ctx.clock24 is not None else self.lang == "fr"
        key = "pattern.clock24" if h24 else "pattern.clock12"
        if moment.minute == 0 and f"{key}_oclock" in self.messages:
            key += "_oclock"
        return esc(format_datetime(moment, self.messages[key], locale=self.locale))

    def when(self, epoch_s: float) -> Html:
        """`vers 3 h 27`, `demain vers 9 h 10`, `samedi 5 décembre vers 9 h 10`; in the demo,
        `vers 3 h 27 à l'horloge de la démo` (its clock runs faster than the wall's)."""
        when = self._when(epoch_s)
        return self.t("when.demo", when=when) if self.ctx.demo else when

    def _when(self, epoch_s: float) -> Html:
        day = self.local(epoch_s).date()
        today = self.local(self.ctx.now_s).date()
        time = self.clock(epoch_s)
        if day == today:
            return self.t("when.today", time=time)
        if day == today + timedelta(days=1):
            return self.t("when.tomorrow", time=time)
        # French writes the first of the month 1er
        pattern = "pattern.date_first" if day.day == 1 else "pattern.date"
        pattern += "" if day.year == today.year else "_year"
        date = esc(format_datetime(self.local(epoch_s), self.messages[pattern], locale=self.locale))
        return self.t("when.date", date=date, time=time)

    def finish(self, finish_at_s: float | None, spread: str = "") -> Html:
        """Relative and absolute finish: `Fin dans 57 min (50–65 min), vers 3 h 27`."""
        if not on_calendar(self.ctx.now_s) or not finite(finish_at_s):
            return self.t("finish.unknown")
        assert finish_at_s is not None
        if finish_at_s - self.ctx.now_s >= FOREVER_S:
            return self.t("finish.far")
        if not on_calendar(finish_at_s):
            return self.t("finish.unknown")
        left = finish_at_s - self.ctx.now_s
        when = self.when(finish_at_s)
        if left < -LATE_S:
            return self.t("finish.late", when=when)
        if left < 30:
            return self.t("finish.now", when=when)
        rel = Html(f"{self.dur(left)} ({Html(spread)})") if spread else self.dur(left)
        return self.t("finish.in", rel=rel, when=when)

    def tz_label(self) -> Html:
        """`heure de Paris` / `Paris time`, or `UTC`."""
        key = self.zone.key
        if key in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
            return self.t("tz.utc")
        try:
            city = get_timezone_location(self.zone, locale=self.locale, return_city=True)
        except (LookupError, ValueError):
            city = key.rsplit("/", 1)[-1].replace("_", " ")
        elided = self.lang == "fr" and city[:1].upper() in "AEIOUYÂÉÈÊÎÔÛ"
        return self.t("tz.city_elided" if elided else "tz.city", city=city)


SEPARATOR = "\n\n———\n"


def compose(
    ctx: Ctx,
    head: Html,
    body: Callable[[Tr], Html],
    shared: Callable[[Tr], Html] | None = None,
) -> str:
    """One message: a language-free head, a block of figures shown once, then each language.

    In `both` mode the figures that need no words (a progress bar, a GPU table) appear once,
    in the first language's number format, and the words follow in French then English.
    """
    trs = [Tr(lang, ctx) for lang in languages(ctx.lang)]
    figures = shared(trs[0]) if shared else Html("")
    if ctx.host:
        head = Html(f"{head} · {esc(ctx.host)}")
    return join([head, figures, Html(SEPARATOR.join(body(tr) for tr in trs))])
