#!/usr/bin/env bash
# make bench: see bench/bench.py (BENCH_QUICK=1 for a run of about 2.5 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bench.py "$@"
