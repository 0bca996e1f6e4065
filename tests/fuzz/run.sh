#!/usr/bin/env bash
# Runs the core/ fuzz target for SECONDS over a working copy of the seed
# corpus (tests/fuzz/corpus stays as committed; what the run learns stays in
# build-fuzz/corpus for the next run), and prints one summary line:
#   fuzz: N executions in S s, C crashes, corpus K inputs
# Exit status 1 on any crash, leak or failed property; the input that caused
# it is saved as build-fuzz/crash-* (replay: build-fuzz/core_fuzz FILE).
#   tests/fuzz/run.sh BINARY SECONDS
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$1
seconds=$2
work=$(dirname "$bin")
mkdir -p "$work/corpus"
cp -n "$top"/tests/fuzz/corpus/* "$work/corpus/"
log="$work/fuzz.log"
# One job: the machine has two cores shared with everything else.
"$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -artifact_prefix="$work/" "$work/corpus" > "$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
crashes=$(grep -c -E '^==[0-9]+== ERROR|deadly signal|^SUMMARY: ' "$log")
corpus=$(ls "$work/corpus" | wc -l)
if [ $rc -ne 0 ]; then
  grep -E -A30 'ERROR|deadly signal|SUMMARY' "$log" | head -60
  [ "$crashes" -gt 0 ] || crashes=1
fi
echo "fuzz: ${execs:-0} executions in $seconds s, $crashes crashes, corpus $corpus inputs"
[ $rc -eq 0 ]
