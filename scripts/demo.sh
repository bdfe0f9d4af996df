#!/usr/bin/env bash
# Quick start, first command: set up a virtualenv and run `etagram demo` (no token, no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/etagram demo "$@"
