#!/usr/bin/env bash
# Quick start, second command: set up a virtualenv with the test tools and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Redis tests start their own redis-server on a free loopback port and stop it at the end;
# they need the Debian package. Without root (and without it) they are skipped with a reason.
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    # The package may start a system instance on 6379; the tests run their own, so stop it.
    (service redis-server stop || pkill -x redis-server) >/dev/null 2>&1 || true
  else
    echo "note: redis-server is not installed (apt-get install redis-server): Redis tests will be skipped" >&2
  fi
fi

# One test steps the wall clock back a day under libfaketime; it is skipped without it.
if [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] && [ "$(id -u)" = 0 ] \
  && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/ruff format --check bot tests benchmarks
.venv/bin/ruff check bot tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
