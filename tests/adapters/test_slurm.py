"""When the SLURM job ends: the environment, then squeue (a function here), then nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pytest import MonkeyPatch

from bot.adapters.slurm import environ_of, job_end_s, parse_squeue_end
from bot.resources import slurm_job_end

END = 1_800_000_000


def no_squeue(job: str) -> str | None:
    return None


def test_end_time_from_the_environment_first() -> None:
    asked: list[str] = []

    def squeue(job: str) -> str:
        asked.append(job)
        return "2026-12-08T03:10:00\n"

    envs = [{}, {"SLURM_JOB_END_TIME": str(END), "SLURM_JOB_ID": "42"}]
    assert job_end_s(envs, squeue) == END and asked == []
    local = datetime(2026, 12, 8, 3, 10).timestamp()
    assert job_end_s([{"SLURM_JOB_ID": "42"}], squeue) == local and asked == ["42"]


def test_no_job_no_squeue_or_no_limit_is_none() -> None:
    assert job_end_s([{}], no_squeue) is None
    assert job_end_s([{"SLURM_JOB_ID": "42"}], no_squeue) is None
    for text in ("N/A\n", "Unknown", "NONE", "", "garbage"):
        assert parse_squeue_end(text) is None, text
    assert job_end_s([{"SLURM_JOB_END_TIME": "0"}, {"SLURM_JOB_ID": "x; rm"}], no_squeue) is None


def test_squeue_epoch_format() -> None:
    assert parse_squeue_end(f"{END}\n") == END  # SLURM_TIME_FORMAT=%s


def fake_proc(root: Path, pid: int, env: dict[str, str], writes: Path | None = None) -> None:
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    (d / "fdinfo").mkdir()
    (d / "environ").write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items()))
    if writes is not None:
        (d / "fd" / "1").symlink_to(writes)
        (d / "fdinfo" / "1").write_text("pos:\t0\nflags:\t02102001\n")


def test_the_writer_of_the_log_names_the_job(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    for key in ("SLURM_JOB_END_TIME", "SLURM_JOB_ID"):
        monkeypatch.delenv(key, raising=False)
    proc, log = tmp_path / "proc", tmp_path / "train.log"
    log.write_text("")
    fake_proc(proc, 100, {"HOME": "/home/a"})
    fake_proc(proc, 200, {"SLURM_JOB_END_TIME": str(END)}, writes=log)
    assert environ_of(200, proc)["SLURM_JOB_END_TIME"] == str(END)
    assert environ_of(999, proc) == {}
    assert slurm_job_end(set(), log, proc, no_squeue) == END
    assert slurm_job_end({100}, tmp_path / "other.log", proc, no_squeue) is None
