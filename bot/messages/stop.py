"""The texts of `/stop`: the confirmation, what became of it, and why a run cannot be stopped.

The end of a stopped run is an alert (`alert.stopped`, in alerts.py).
"""

from __future__ import annotations

from bot.messages.lang import Tr, compose
from bot.messages.markup import NAME_CHARS, Html, clip, join, name
from bot.messages.types import Ctx

EMOJI_STOP = "⏹️"
REFUSALS = ("not_launched", "remote", "ended")  # why a run cannot be stopped; also "stopping"


def _head(run: str) -> Html:
    return Html(f"{EMOJI_STOP} {name(run)}")


def stop_confirm_text(run: str, grace_s: float, valid_s: float, ctx: Ctx) -> str:
    """The question under the Stop / Cancel buttons: what a stop does, how long they work."""

    def body(tr: Tr) -> Html:
        grace = tr.dur(grace_s)
        return join(
            [
                tr.t("stop.confirm"),
                tr.t("stop.how", grace=grace),
                tr.t("stop.valid", valid=tr.dur(valid_s)),
            ]
        )

    return compose(ctx, _head(run), body)


def stop_sent_text(run: str, by: str, grace_s: float, ctx: Ctx) -> str:
    """The confirmation once Stop was pressed: SIGINT sent, by whom, what comes next."""
    who = clip(by, NAME_CHARS)
    return compose(ctx, _head(run), lambda tr: tr.t("stop.sent", by=who, grace=tr.dur(grace_s)))


def stop_cancelled_text(run: str, by: str, ctx: Ctx) -> str:
    who = clip(by, NAME_CHARS)
    return compose(ctx, _head(run), lambda tr: tr.t("stop.cancelled", by=who))


def stop_expired_text(run: str, valid_s: float, ctx: Ctx) -> str:
    """The confirmation once its minute is over with no press: nothing was stopped."""
    return compose(ctx, _head(run), lambda tr: tr.t("stop.expired", valid=tr.dur(valid_s)))


def stop_refused_text(run: str, reason: str, ctx: Ctx) -> str:
    """Why `/stop` cannot stop `run`: one of REFUSALS."""
    return compose(ctx, _head(run), lambda tr: tr.t(f"stop.{reason}"))


def stop_under_way_text(run: str, signal: str, by: str, ctx: Ctx) -> str:
    """`/stop` on a run being stopped: the last signal sent, and who asked."""
    who = clip(by, NAME_CHARS)
    return compose(ctx, _head(run), lambda tr: tr.t("stop.stopping", signal=signal, by=who))
