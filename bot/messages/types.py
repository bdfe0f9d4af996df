"""What every renderer is given besides its record: the chat's context."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Ctx:
    """One chat's preferences and the wall clock (epoch seconds) at rendering time."""

    lang: str  # "fr", "en" or "both"
    now_s: float
    tz: str = "UTC"
    clock24: bool | None = None  # None: the language's habit (fr 24 h, en 12 h)
    host: str = ""  # the machine the message is about, said after its head; "" = not said
    demo: bool = False  # `now_s` is `etagram demo`'s accelerated clock: its times say so
