"""`etagram agent` and `etagram hub`: what a user gets for a bad command line."""

from __future__ import annotations

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
