"""Any values, however broken or hostile, give a message: no exception, valid Telegram HTML."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.estimator import EtaEstimate
from bot.core.events import TrainingEnd
from bot.core.notices import EVIDENCE, Alert, CrashEvidence, EvalNotice, Evidence
from bot.core.state import EvalRecord
from bot.messages import (
    Ctx,
    ack_text,
    alert_text,
    digest_text,
    error_text,
    eta_text,
    eval_text,
    gpu_text,
    mute_text,
    refusal_text,
    runs_text,
    start_text,
    status_text,
    to_plain,
)
from bot.messages.alerts import KNOWN
from tests.messages import checks
from tests.messages.scenarios import NOW, FixedRun, Gpu, Snapshot

HOSTILE = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "a & b",
        "</b>",
        "{n}",
        "%s",
        "None",
        "<b>",
        "\u202e",
        "",
        "x" * 5000,
    ]
)
TEXT = st.one_of(HOSTILE, st.text(max_size=40))
FLOAT = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 0.17, 5.8, 3400.0, 1e300, -1e300, 1e-300]),
)
REAL = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1e300]))
INT = st.one_of(st.none(), st.integers(), st.integers(-10, 10**6))
COUNT = st.one_of(st.integers(), st.integers(0, 1000))
CTX = st.builds(
    Ctx,
    lang=st.sampled_from(["fr", "en", "both", "xx", ""]),
    tz=st.one_of(
        st.sampled_from(["UTC", "Europe/Paris", "Asia/Kolkata", "Pacific/Kiritimati"]), TEXT
    ),
    clock24=st.sampled_from([None, True, False]),
    now_s=st.one_of(st.just(NOW), REAL),
)
ETA = st.builds(
    EtaEstimate,
    iters_done=INT,
    total_iters=INT,
    iters_left=INT,
    step_s=FLOAT,
    evals_left=COUNT,
    eval_cost_s=FLOAT,
    checkpoints_left=COUNT,
    checkpoint_cost_s=FLOAT,
    remaining_s=FLOAT,
    low_s=FLOAT,
    high_s=FLOAT,
    elapsed_s=REAL,
    missing=st.lists(st.sampled_from(["total_iters", "step_time", "progress", "x"])).map(tuple),
)
# Each field of an evidence record by its annotation: hostile text, any number, None.
FIELD = {
    "str": st.one_of(TEXT, st.sampled_from(["nan", "inf", "-inf", "1e400", "could_not_start"])),
    "float": REAL,
    "int": st.integers(-(2**63), 2**63),
    "bool": st.booleans(),
    "None": st.none(),
}


def record(cls: type[Evidence]) -> st.SearchStrategy[Evidence]:
    """Any instance of an evidence record: every field drawn from what its type allows."""
    drawn = {
        f.name: st.one_of(*(FIELD[part.strip()] for part in str(f.type).split("|")))
        for f in dataclasses.fields(cls)
    }
    return st.builds(cls, **drawn)


def alert_of(cls: type[Evidence]) -> st.SearchStrategy[Alert]:
    return st.builds(
        Alert,
        run=TEXT,
        type=st.just(cls.TYPE),
        severity=st.one_of(st.sampled_from(["info", "warning", "critical"]), TEXT),
        iter=INT,
        t_s=REAL,
        evidence=record(cls),
        eta_change_s=FLOAT,
    )


ALERT = st.sampled_from([EVIDENCE[kind] for kind in KNOWN]).flatmap(alert_of)
NOTICE = st.builds(
    EvalNotice,
    run=TEXT,
    iter=INT,
    train_loss=FLOAT,
    val_loss=FLOAT,
    best_val_loss=FLOAT,
    best_iter=INT,
    previous_best=FLOAT,
    eta=ETA,
    finish_at_s=FLOAT,
)
GPU = st.builds(
    Gpu,
    index=st.integers(-5, 10**9),
    name=TEXT,
    utilization_pct=FLOAT,
    memory_used_mib=FLOAT,
    memory_total_mib=FLOAT,
    temperature_c=FLOAT,
    slowdown_temp_c=FLOAT,
    sm_clock_mhz=FLOAT,
    max_sm_clock_mhz=FLOAT,
    power_mw=FLOAT,
    power_limit_mw=FLOAT,
    reasons=st.frozensets(st.one_of(st.sampled_from(["hw_thermal", "sw_power_cap"]), TEXT)),
    lost=st.booleans(),
)
SNAPSHOT = st.one_of(
    st.none(),
    st.builds(
        Snapshot,
        taken_at_s=REAL,
        gpus=st.lists(GPU, max_size=6).map(tuple),
        error=st.one_of(st.none(), TEXT),
    ),
)


def valid(text: str) -> None:
    assert isinstance(text, str) and text
    assert checks.html_problems(text) == [], text
    assert len(text) <= 4096
    to_plain(text)


@st.composite
def runs(draw: st.DrawFn) -> FixedRun:
    run = FixedRun(draw(TEXT), draw(ETA))
    run.iter = draw(INT)
    run.user_total_iters = draw(st.one_of(st.none(), st.integers(1, 10**12)))
    run.loss = draw(FLOAT)
    run.last_progress_wall_s = draw(FLOAT)
    if draw(st.booleans()):
        run.best = EvalRecord(draw(INT), 0.0, draw(FLOAT), draw(FLOAT))
    if draw(st.booleans()):
        run.ended = TrainingEnd(draw(INT), draw(TEXT))
    return run


@settings(max_examples=300, deadline=None)
@given(runs(), SNAPSHOT, CTX)
def test_eta_and_status(run: FixedRun, snap: Snapshot | None, ctx: Ctx) -> None:
    valid(eta_text(run, ctx))
    valid(status_text(run, snap, ctx))
    valid(runs_text([run], run.name, ctx))


@settings(max_examples=300, deadline=None)
@given(ALERT, CTX)
def test_alerts(alert: Alert, ctx: Ctx) -> None:
    valid(alert_text(alert, ctx))


@settings(max_examples=200, deadline=None)
@given(st.lists(NOTICE, min_size=1, max_size=20), CTX)
def test_evals_and_digest(notices: list[EvalNotice], ctx: Ctx) -> None:
    valid(eval_text(notices[0], ctx))
    valid(digest_text(notices, ctx))


@settings(max_examples=200, deadline=None)
@given(SNAPSHOT, CTX)
def test_gpu(snap: Snapshot | None, ctx: Ctx) -> None:
    valid(gpu_text(snap, ctx))


@settings(max_examples=200, deadline=None)
@given(CTX, st.integers(), TEXT, TEXT, FLOAT)
def test_chat_texts(ctx: Ctx, chat_id: int, key: str, value: str, until: float | None) -> None:
    valid(start_text(ctx, chat_id, False))
    valid(refusal_text(ctx, chat_id))
    valid(error_text(key, ctx, value=value))
    valid(error_text("bad_tz", ctx, value=value))
    valid(ack_text("tz_set", ctx, tz=value))
    valid(mute_text(ctx, until))


def test_hostile_values_are_escaped_not_dropped() -> None:
    hostile = "<script>alert(1)</script>"
    alert = Alert(hostile, "crash", "critical", 1, 0.0, CrashEvidence(error=hostile))
    text = alert_text(alert, Ctx(lang="fr", now_s=NOW))
    assert "&lt;script&gt;" in text and "<script>" not in text
