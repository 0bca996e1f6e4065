#!/usr/bin/env bash
# Runs the unit tests (Boost.Test), popup.js's unit tests (node --test), the
# integration tests (Python unittest against real nginx, Redis and MariaDB,
# and headless Chromium for the demo page), the ordering-sensitive modules
# again with a slow write-behind, and a short distributed Locust run, and ends with one line "N passed, N failed" counting every test. Exit
# status 1 when anything failed.
#   tests/run_all.sh [unit|web|fuzz|integration|slow|smoke]   (default: all)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
what=${1:-all}
tmp=$(mktemp -d /tmp/popup-tests.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

count_xml() {  # count_xml FILE -> "passed failed" from a Boost.Test XML report
  /usr/bin/python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1); sys.exit()
cases = list(root.iter("TestCase"))
p = sum(1 for c in cases if c.get("result") == "passed")
print(p, len(cases) - p)
PY
}

if [ "$what" = all ] || [ "$what" = unit ]; then
  echo "== unit tests ($BUILD/unit_tests)"
  "$BUILD/unit_tests" --color_output=no --log_level=test_suite --report_format=XML --report_level=detailed \
      --report_sink="$tmp/unit.xml" > "$tmp/unit.log" 2>&1
  rc=$?
  grep -E ": (error|fatal error): " "$tmp/unit.log" | head -50
  read -r p f < <(count_xml "$tmp/unit.xml")
  # A crash leaves the report short: count the run itself as a failure.
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; tail -20 "$tmp/unit.log"; fi
  echo "unit: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
fi

if [ "$what" = all ] || [ "$what" = web ]; then
  echo "== popup.js unit tests (node --test web/test/*.test.mjs)"
  node --test --test-reporter=tap web/test/*.test.mjs > "$tmp/web.tap" 2>&1
  rc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tmp/web.tap" | tail -n 1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tmp/web.tap" | tail -n 1)
  p=${p:-0}; f=${f:-0}
  grep -E -A 12 "^not ok|^    not ok" "$tmp/web.tap" | head -80
  # No summary (node missing, a syntax error) counts as a failure.
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; tail -20 "$tmp/web.tap"; fi
  echo "web: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
fi

if [ "$what" = all ] || [ "$what" = fuzz ]; then
  echo "== fuzz (libFuzzer over core/'s parsers, ${FUZZ_TEST_SECONDS:-15} s)"
  if [ ! -x build-fuzz/core_fuzz ]; then
    echo "fuzz: build-fuzz/core_fuzz is missing (make test builds it)"; failed=$((failed + 1))
  elif tests/fuzz/run.sh build-fuzz/core_fuzz "${FUZZ_TEST_SECONDS:-15}"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
fi

integration() {  # integration LABEL [run.py arguments]: runs them, adds the counts
  local label=$1 p f rc
  shift
  BUILD="$BUILD" /usr/bin/python3 tests/integration/run.py --counts "$tmp/$label.counts" "$@"
  rc=$?
  if [ -f "$tmp/$label.counts" ]; then
    read -r p f < "$tmp/$label.counts"
  else
    p=0; f=1
  fi
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "$label: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

if [ "$what" = all ] || [ "$what" = integration ]; then
  echo "== integration tests (real MariaDB, Redis, nginx)"
  integration integration
fi

# The modules whose tests depend on write ordering, again with a write-behind
# that stores every impression long after its answer (FLUSH_MS=250): a test
# that reads a store before waiting for it, or a late write that overwrites
# a newer one, fails here.
if [ "$what" = all ] || [ "$what" = slow ]; then
  echo "== ordering-sensitive integration tests with FLUSH_MS=250"
  FLUSH_MS=250 integration slow-write-behind \
      -k test_affinity. -k test_ordering. -k test_write_path. -k test_popup.
fi

if [ "$what" = all ] || [ "$what" = smoke ]; then
  echo "== Locust smoke test (distributed: 1 master, 2 workers; fails on any request failure)"
  if LOCUST_SMOKE=1 LOCUST_OUT="$tmp/locust/smoke" BUILD="$BUILD" bench/locust.sh > "$tmp/locust.log" 2>&1; then
    passed=$((passed + 1)); tail -n 1 "$tmp/locust.log"
  else
    failed=$((failed + 1)); tail -n 30 "$tmp/locust.log"
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
