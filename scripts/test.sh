#!/usr/bin/env bash
# Quick start, second command: set up a virtualenv with the test tools and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/ruff format --check bot tests benchmarks
.venv/bin/ruff check bot tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
