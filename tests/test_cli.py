"""The command line as a user (or a script) runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_LOGS = ROOT.parent / "shared" / "logs"
NANOGPT_LOG = SHARED_LOGS / "nanogpt_Eleftheria-99_nano-gpt-mitos_results.txt"


def etagram(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ETAGRAM_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_schema(objs: list[dict[str, object]]) -> None:
    keys = {
        "progress": {"kind", "iter", "max_iters", "t_s", "eta_s", "eta_low_s", "eta_high_s"},
        "eval": {"kind", "iter", "t_s", "train_loss", "val_loss"},
        "alert": {"kind", "type", "iter", "t_s", "line"},
        "end": {"kind", "t_s", "iter"},
    }
    for obj in objs:
        assert set(obj) == keys[str(obj["kind"])], obj
    assert objs[-1]["kind"] == "end" and sum(o["kind"] == "end" for o in objs) == 1
    times = [o["t_s"] for o in objs if o["kind"] == "progress"]
    assert times == sorted(times), "the run clock never goes backwards"
    assert all(o["eta_s"] is None or o["eta_s"] >= 0 for o in objs if o["kind"] == "progress")


@pytest.mark.skipif(not NANOGPT_LOG.exists(), reason="../shared/logs is not beside the repository")
def test_replay_real_nanogpt_log() -> None:
    result = etagram("replay", str(NANOGPT_LOG), "--jsonl")
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    check_schema(objs)
    evals = [o for o in objs if o["kind"] == "eval"]
    expected = NANOGPT_LOG.read_text().count("\nstep ")
    assert len(evals) == expected == 21
    assert objs[-1]["iter"] == 5000
    assert {o["max_iters"] for o in objs if o["kind"] == "progress"} == {5000}


def test_replay_generated_log_with_overrides(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    lines = []
    for it in range(0, 1001, 10):
        if it % 250 == 0:
            lines.append(f"step {it}: train loss 2.0000, val loss 2.1000")
        lines.append(
            f"iter {it}: loss 2.0000, time {5800 if it % 250 == 0 else 170}.00ms, mfu 30.00%"
        )
    log.write_text("\n".join(lines) + "\n")
    result = etagram("replay", str(log), "--jsonl", "--max-iters", "2000", "--eval-interval", "250")
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    check_schema(objs)
    assert sum(o["kind"] == "eval" for o in objs) == 5
    last = [o for o in objs if o["kind"] == "progress"][-1]
    assert last["max_iters"] == 2000
    # 1,000 iterations left at ~170 ms, 4 evals left at ~5.6 s extra each.
    assert last["eta_s"] == pytest.approx(1000 * 0.170 + 4 * 5.63, rel=0.05)


def test_replay_alerts_give_the_file_line_as_grep_counts_it(tmp_path: Path) -> None:
    """tqdm redraws after a bare CR stay on their line, blank lines count: the numbers a user
    looks up with `grep -n` or an editor."""
    log = tmp_path / "train.log"
    head = "loading\r 10%|#  | 1/10\r 20%|## | 2/10\n\n"  # lines 1-2
    failure = 'Traceback (most recent call last):\n  File "t.py", line 1\n\nKilled\n'
    log.write_bytes((head + "setting up\r\n" + failure).encode())  # Killed: line 7
    result = etagram("replay", str(log), "--jsonl")
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    check_schema(objs)
    assert [(o["type"], o["line"]) for o in objs if o["kind"] == "alert"] == [("crash", 7)]


def test_replay_bad_input_is_one_line() -> None:
    result = etagram("replay", "/nonexistent/train.log", "--jsonl")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
    result = etagram("replay", str(ROOT / "README.md"), "--jsonl", "--max-iters", "-3")
    assert result.returncode == 2 and "expected a positive whole number" in result.stderr


def test_config_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "etagram.toml"
    config.write_text('[general]\nlangauge = "fr"\n')
    result = etagram("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "etagram: config error: general.langauge: unknown key; "
        "expected one of ['language', 'log_level', 'state_path', 'timezone']"
    )
    result = etagram("check", env={"ETAGRAM_LANGUAGE": "de"})
    assert "ETAGRAM_LANGUAGE = 'de': expected fr, en or both" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_without_token_or_gpu(tmp_path: Path) -> None:
    result = etagram(
        "check",
        env={"ETAGRAM_STATE_PATH": str(tmp_path / "s.db"), "LD_LIBRARY_PATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no token" in result.stdout and "NVML" in result.stdout


def test_run_tees_output_and_exits_with_the_child_code(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    script = (
        "import sys\n"
        "for i in range(0, 30, 10): print(f'iter {i}: loss 2.0000, time 170.00ms, mfu 30.00%')\n"
        "print('step 30: train loss 1.9000, val loss 2.0000')\n"
        "sys.exit(3)\n"
    )
    env = {"ETAGRAM_STATE_PATH": str(tmp_path / "s.db"), "LD_LIBRARY_PATH": str(tmp_path)}
    result = etagram("run", "--log", str(log), "--", sys.executable, "-c", script, env=env)
    assert result.returncode == 3, result.stderr
    assert log.read_text().count("iter ") == 3  # teed to the log
    # and to stdout, as the training wrote it: etagram speaks on stderr, with no live line
    # when it is not a terminal
    assert result.stdout == log.read_text()
    assert "code 3" in result.stderr and "\x1b" not in result.stderr  # the crash alert


def test_run_names_its_log_after_the_command_in_the_runs_folder(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('iter 0: loss 2.0000, time 170.00ms, mfu 30.00%')\n")
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "tiny.py"
    config.write_text("")
    env = {
        "ETAGRAM_STATE_PATH": str(tmp_path / "s.db"),
        "ETAGRAM_RUN_LOG_DIR": str(tmp_path / "runs"),
        "LD_LIBRARY_PATH": str(tmp_path),
    }
    result = etagram("run", "--", sys.executable, str(script), str(config), env=env)
    assert result.returncode == 0, result.stderr
    (log,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"train-tiny-\d{8}-\d{6}\.log", log.name), log.name
    assert log.read_text() == result.stdout
    assert "] train-tiny\n" in result.stderr


def test_watch_follows_several_named_runs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {"ETAGRAM_STATE_PATH": str(tmp_path / "s.db"), "LD_LIBRARY_PATH": str(tmp_path)}
    for run in ("a", "b"):
        (tmp_path / run / "train.log").write_text("")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "watch",
            str(tmp_path / "*" / "train.log"),
            f"third={tmp_path / 'c.log'}",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        for log in (tmp_path / "a" / "train.log", tmp_path / "b" / "train.log", tmp_path / "c.log"):
            with log.open("a") as f:
                f.write("step 0: train loss 3.0000, val loss 3.1000\n")
                f.write("iter 0: loss 3.0000, time 170.00ms, mfu 30.00%\n")
        time.sleep(3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    for name in ("a", "b", "third"):  # the folder says more than train.log
        assert f"] {name}\n" in out, out


def test_watch_names_must_be_unique_and_globs_must_match(tmp_path: Path) -> None:
    result = etagram("watch", f"x={tmp_path / 'a.log'}", f"x={tmp_path / 'b.log'}")
    assert result.returncode == 2 and "same run name" in result.stderr
    result = etagram("watch", str(tmp_path / "*.log"))
    assert result.returncode == 2 and "matches no file yet" in result.stderr


@pytest.mark.parametrize("command", ["replay", "explain", "watch"])
def test_a_bad_progress_pattern_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    log = tmp_path / "train.log"
    log.write_text("step 1 loss 2.0\n")
    extra = ["--jsonl"] if command == "replay" else []
    for pattern, why in [
        ("step (?P<iter>\\d+", "not a regular expression"),
        ("step", "no (?P<iter>"),
    ]:
        result = etagram(command, str(log), *extra, "--progress-pattern", pattern)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and why in result.stderr
        assert result.stderr.startswith(f"etagram: {command}: --progress-pattern ")


def test_a_progress_pattern_reads_an_in_house_log(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("".join(f"<{n}|50> cost {3 - n / 10}\n" for n in range(1, 6)))
    pattern = r"<(?P<iter>\d+)\|(?P<total>\d+)> cost (?P<loss>\S+)"
    result = etagram("replay", str(log), "--jsonl", "--progress-pattern", pattern)
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["iter"], o["max_iters"]) for o in objs if o["kind"] == "progress"] == [
        (n, 50) for n in range(1, 6)
    ]


def test_a_bad_progress_pattern_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "etagram.toml"
    config.write_text("[run]\nprogress_pattern = 'step (\\d+)'\n")
    result = etagram("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith("etagram: config error: run.progress_pattern = ")
    assert result.stderr.count("\n") == 1


def test_a_log_that_is_not_a_regular_file_is_refused_at_start(tmp_path: Path) -> None:
    """A device (endless zeros), a FIFO (blocks, no end) or a folder is no log."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    env = {"ETAGRAM_STATE_PATH": str(tmp_path / "s.db")}
    for path, kind in (("/dev/zero", "character device"), (str(fifo), "FIFO"), ("/tmp", "dir")):
        for command in (
            ["watch", path],
            ["run", "--log", path, "--", "true"],
            ["agent", path, "--redis", "redis://127.0.0.1:1/0"],
        ):
            done = etagram(*command, env=env, timeout=30)
            assert done.returncode == 2, (command, done.stderr)
            assert done.stderr.count("\n") == 1 and kind in done.stderr, done.stderr
            assert "expected a regular file" in done.stderr


def test_watch_names_runs_from_their_logs_uniquely_unless_named(tmp_path: Path) -> None:
    env = {"ETAGRAM_STATE_PATH": str(tmp_path / "s.db"), "LD_LIBRARY_PATH": str(tmp_path)}
    logs = [tmp_path / f"{n}.log" for n in ("one", "two", "three")]
    for log in logs:
        log.write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "watch", str(logs[0]), str(logs[1]), f"mine={logs[2]}"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        for log in logs:  # the same output folder in each: nanoGPT's config dump
            with log.open("a") as f:
                f.write("out_dir = 'out-same'\n")
                f.write("iter 0: loss 3.0000, time 170.00ms, mfu 30.00%\n")
        time.sleep(3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    started = sorted(re.findall(r"\] (\S+)\n    ℹ️", out))
    assert started == ["mine", "same", "same-2"], out
    assert "\x1b" not in out + err  # not a terminal: no live line


def test_default_names_never_take_a_given_one() -> None:
    from argparse import Namespace

    from bot.cli import _watch_specs

    args = Namespace(name=None, format=None, max_iters=None, max_epochs=None)
    specs = _watch_specs(args, ["x=/tmp/a.log", "/tmp/x/train.log", "/tmp/y/x.log"])
    assert [(s.name, s.fixed) for s in specs] == [("x", True), ("x-2", False), ("x-3", False)]
