"""A run's phase through RunMonitor: what the detectors said, folded into one typed phase."""

from __future__ import annotations

from bot.core.events import Eval, Event, Progress
from bot.core.lifecycle import Phase, WaitReason
from bot.core.monitor import RunMonitor
from bot.core.notices import Alert, CrashEvidence, RunningAgainEvidence, StoppedEvidence
from bot.core.parsers import errors


def fold(run: RunMonitor, events: list[Event], start_wall_s: float = 0.0) -> list[Alert]:
    """One event per wall-clock second; the alerts they made."""
    out: list[Alert] = []
    for n, ev in enumerate(events):
        out += [a for a in run.apply(ev, start_wall_s + n) if isinstance(a, Alert)]
    return out


def steps(start: int, stop: int, step: int = 10) -> list[Event]:
    return [Progress(i, loss=3.0, dt_s=1.0) for i in range(start, stop, step)]


def kinds(found: list[Alert]) -> list[str]:
    return [a.type for a in found]


def test_a_new_run_waits_then_runs_then_finishes() -> None:
    run = RunMonitor("r", total_iters=100)
    assert run.state.phase == Phase.WAITING and run.state.life.waiting is None
    fold(run, steps(0, 50))
    assert run.state.phase == Phase.RUNNING
    fold(run, [Eval(50, 2.9, 2.8), *steps(50, 90), Eval(90, 2.8, 2.85)], 50)
    found = fold(run, steps(90, 101), 100)
    assert run.state.phase == Phase.FINISHED and kinds(found) == ["finished"]
    evidence = found[0].evidence
    assert evidence.best_val_loss == 2.8 and evidence.final_val_loss == 2.85
    assert evidence.first_total_s > 0 and evidence.exit_code is None  # a followed log
    found = [a for a in run.end(0, 200) if isinstance(a, Alert)]
    assert found == [] and run.state.phase == Phase.FINISHED  # said once


def test_the_exit_code_of_a_launched_run_is_in_its_end() -> None:
    run = RunMonitor("r", total_iters=1000)
    fold(run, steps(0, 50))
    (finished,) = [a for a in run.end(0, 60) if isinstance(a, Alert)]
    assert finished.type == "finished" and finished.evidence.exit_code == 0


def test_a_stall_then_progress_is_running_again_said_once() -> None:
    run = RunMonitor("r", total_iters=1000)
    fold(run, steps(0, 300))
    assert kinds([a for a in run.tick(30 + 700) if isinstance(a, Alert)]) == ["stall"]
    assert run.state.phase == Phase.STALLED
    found = fold(run, steps(300, 330), 30 + 754)
    assert kinds(found) == ["running_again"]
    assert found[0].evidence == RunningAgainEvidence("stall", 755.0)
    assert run.state.phase == Phase.RUNNING


def test_a_crash_that_was_not_one_is_running_again() -> None:
    """A traceback then silence is said as a crash; the log moving on past it undoes it."""
    run = RunMonitor("r", total_iters=1000)
    fold(run, steps(0, 300))
    lines = ["Traceback (most recent call last):", "RuntimeError: loader worker died"]
    fold(run, [e for line in lines if (e := errors.scan(line)) is not None], 30)
    assert kinds([a for a in run.tick(30 + 900) if isinstance(a, Alert)]) == ["crash"]
    assert run.state.phase == Phase.CRASHED
    found = fold(run, steps(300, 320), 30 + 910)
    assert kinds(found) == ["running_again"] and found[0].evidence.after == "crash"
    assert run.state.phase == Phase.RUNNING


def test_a_relaunch_after_a_crash_is_one_message_the_resume() -> None:
    run = RunMonitor("r", total_iters=1000)
    fold(run, steps(0, 300))
    assert kinds([a for a in run.end(1, 40) if isinstance(a, Alert)]) == ["crash"]
    found = fold(run, steps(200, 260), 100)  # resumed from the checkpoint at 200
    assert kinds(found) == ["resumed"] and run.state.phase == Phase.RUNNING


def test_a_command_not_found_could_not_start() -> None:
    run = RunMonitor("r")
    (crash,) = [a for a in run.end(127, 1) if isinstance(a, Alert)]
    assert crash.type == "crash" and crash.evidence.cause == "could_not_start"
    assert crash.evidence.exit_code == 127 and run.state.phase == Phase.NOT_STARTED


def test_python_that_cannot_open_its_script_could_not_start_and_quotes_why() -> None:
    run = RunMonitor("r")
    line = "python3: can't open file '/home/ada/nosuch.py': [Errno 2] No such file or directory"
    assert fold(run, [e for e in [errors.scan(line)] if e is not None]) == []
    (crash,) = [a for a in run.end(2, 1) if isinstance(a, Alert)]
    assert crash.evidence == CrashEvidence(cause="could_not_start", error=line, exit_code=2)
    assert run.state.phase == Phase.NOT_STARTED


def test_an_exit_after_progress_is_a_crash_not_a_start_failure() -> None:
    run = RunMonitor("r")
    fold(run, steps(0, 50))
    (crash,) = [a for a in run.end(127, 60) if isinstance(a, Alert)]
    assert crash.evidence.cause == "crash" and run.state.phase == Phase.CRASHED


def test_a_stop_on_request_is_stopped_with_who_asked_not_a_crash() -> None:
    run = RunMonitor("r", total_iters=1000)
    fold(run, steps(0, 50))
    interrupted = errors.scan("KeyboardInterrupt")  # what Ctrl-C prints as it stops
    assert interrupted is not None and fold(run, [interrupted], 10) == []
    (stopped,) = [a for a in run.end(130, 20, stopped_by="Ada") if isinstance(a, Alert)]
    assert stopped.type == "stopped" and stopped.evidence.by == "Ada"
    assert stopped.evidence.exit_code == 130 and run.state.phase == Phase.STOPPED
    assert run.state.life.stopped_by == "Ada"


def test_a_log_that_cannot_be_read_is_waiting_with_its_reason_until_it_moves() -> None:
    run = RunMonitor("r")
    run.waiting(WaitReason.PERMISSION)
    assert run.state.phase == Phase.WAITING and run.state.life.waiting == "permission"
    fold(run, steps(0, 30))
    assert run.state.phase == Phase.RUNNING and run.state.life.waiting is None


def test_catch_up_folds_line_by_line_out_of_a_stall() -> None:
    """The steady shortcut must not carry a stalled run past the line that moves it."""
    run = RunMonitor("r", total_iters=100_000)
    fold(run, steps(0, 300))
    run.tick(30 + 700)
    assert run.apply_steady([300, 310], [3.0, 3.0], [1.0, 1.0], None, 800) is False


# What Python prints when Ctrl-C (or a scheduler's SIGINT) ends a script mid-step.
INTERRUPT_TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "train.py", line 377, in <module>',
    "    loss.backward()",
    '  File "/opt/torch/_tensor.py", line 521, in backward',
    "    torch.autograd.backward(",
    "KeyboardInterrupt",
]
OOM_LINE = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB. GPU 0 has a "
    "total capacity of 79.15 GiB of which 201.00 MiB is free."
)


def nanogpt_lines(stop: int) -> list[str]:
    return [f"iter {i}: loss 3.0000, time 170.00ms, mfu 30.00%" for i in range(0, stop, 10)]


def watched(lines: list[str]) -> tuple[RunMonitor, list[Alert]]:
    """A log etagram did not launch, read to its end (as replay does)."""
    run = RunMonitor("r", "nanogpt")
    notices = [n for _, said in run.feed(lines, 0.0) for n in said]
    notices += run.end_of_log()
    return run, [n for n in notices if isinstance(n, Alert)]


def test_a_watched_run_ended_by_ctrl_c_is_interrupted_as_a_warning_not_a_crash() -> None:
    run, found = watched([*nanogpt_lines(500), *INTERRUPT_TRACEBACK])
    assert kinds(found) == ["started", "stopped"]
    stopped = found[-1]
    assert stopped.severity == "warning" and stopped.iter == 490
    assert stopped.evidence == StoppedEvidence(
        elapsed_s=stopped.evidence.elapsed_s, cause="interrupted"
    )
    assert run.state.phase == Phase.STOPPED and run.state.life.interrupted
    assert run.state.life.stopped_by is None


def test_every_rank_interrupted_at_once_is_one_interruption() -> None:
    ranks = [f"[rank{r}]: KeyboardInterrupt" for r in range(4)]
    _, found = watched([*nanogpt_lines(300), "Traceback (most recent call last):", *ranks])
    assert kinds(found) == ["started", "stopped"] and found[-1].severity == "warning"


def test_ctrl_c_during_an_oom_stays_the_oom() -> None:
    oom = ["Traceback (most recent call last):", OOM_LINE]
    run, found = watched([*nanogpt_lines(300), *oom, *INTERRUPT_TRACEBACK])
    assert kinds(found) == ["started", "oom"] and run.state.phase == Phase.CRASHED


def test_ctrl_c_while_handling_an_error_stays_that_error() -> None:
    chain = [
        "Traceback (most recent call last):",
        "RuntimeError: shape mismatch",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        *INTERRUPT_TRACEBACK,
    ]
    run, found = watched([*nanogpt_lines(300), *chain])
    assert kinds(found) == ["started", "crash"] and run.state.phase == Phase.CRASHED
    assert found[-1].evidence.error == "RuntimeError: shape mismatch"


def test_a_launched_run_interrupted_from_outside_is_interrupted_with_its_exit_code() -> None:
    run = RunMonitor("r", total_iters=1000)
    fold(run, steps(0, 50))
    interrupted = errors.scan("KeyboardInterrupt")
    assert interrupted is not None and fold(run, [interrupted], 10) == []
    (stopped,) = [a for a in run.end(130, 20) if isinstance(a, Alert)]
    assert (stopped.type, stopped.severity) == ("stopped", "warning")
    assert stopped.evidence.cause == "interrupted" and stopped.evidence.exit_code == 130
    assert stopped.evidence.by is None and run.state.phase == Phase.STOPPED
