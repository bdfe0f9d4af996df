#!/bin/sh
# The benchmark suite, one script per question of issues 10 and 14, each printing Markdown tables.
# Quick sizes by default (a few minutes on 2 cores); --full for the issue's sizes.
#
#   sh benchmarks/run_all.sh [--full] [--logs DIR] | tee results.md
#
# PYTHON picks the interpreter (default: python). The tqdm row of api_calls needs `requests`
# importable (e.g. PYTHONPATH=/path/to/site-packages-with-requests).
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
for script in notify_latency steady_overhead wakeup_cost bounded_memory catchup_1gb eta_response api_calls eta_accuracy; do
    echo "## $script"
    "$PY" "benchmarks/$script.py" "$@"
    echo
done
echo "## attack_rerun"  # issue 15's attacks, from outside (needs redis-server; root for tmpfs)
size=--quick
for arg in "$@"; do [ "$arg" = --full ] && size=; done
"$PY" benchmarks/attack_rerun.py $size
