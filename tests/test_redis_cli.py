"""`etagram agent` and `etagram hub`: what a user gets for a bad command line."""

from __future__ import annotations

from pathlib import Path

from bot.cli import _redis_url, build_parser
from tests.test_cli import etagram


def test_a_url_that_is_not_redis_is_one_line() -> None:
    for command in (["hub"], ["agent", "--run", "gpt2"]):
        done = etagram(*command, "--redis", "http://127.0.0.1:6379")
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "redis://" in done.stderr, done.stderr


def test_redis_is_required() -> None:
    for command in ("hub", "agent"):
        done = etagram(command)
        assert done.returncode == 2 and "--redis" in done.stderr


def test_metrics_port_must_be_a_port() -> None:
    done = etagram("hub", "--redis", "redis://127.0.0.1:1/0", "--metrics-port", "http")
    assert done.returncode == 2 and "--metrics-port" in done.stderr


def test_the_redis_url_can_come_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    """A password on the command line is seen by every user (ps, /proc/PID/cmdline)."""
    done = etagram("hub", env={"ETAGRAM_REDIS_URL": "http://127.0.0.1:6379"})
    assert done.returncode == 2 and "redis://" in done.stderr, done.stderr  # it was read
    url_file = tmp_path / "redis-url"
    url_file.write_text("redis://:s3cret@127.0.0.1:6379/0\n")
    url_file.chmod(0o644)
    done = etagram("agent", "--redis-file", str(url_file))
    assert done.returncode == 2 and "chmod 600" in done.stderr and "s3cret" not in done.stderr
    url_file.chmod(0o600)
    args = build_parser().parse_args(["hub", "--redis-file", str(url_file)])
    assert _redis_url(args, {}) == "redis://:s3cret@127.0.0.1:6379/0"
    args = build_parser().parse_args(["hub"])
    assert _redis_url(args, {"ETAGRAM_REDIS_URL": "redis://h/1"}) == "redis://h/1"
