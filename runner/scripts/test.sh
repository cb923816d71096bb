#!/usr/bin/env bash
# test: the unit tests — test/unit/**/*.test.ts, which need neither Docker nor Temporal — with
# Node's built-in test runner (through tsx). Writes two artifacts:
#   runner/artifacts/test-report.md  counts and the failing tests, for people (and Slack)
#   runner/artifacts/junit.xml       Node's own JUnit reporter, for CI tools
# Exit code: the test runner's (non-zero when a test failed or a file did not load).
#
# Usage: bash runner/scripts/test.sh
# Knobs: POC_UNIT_TESTS_DIR (default test/unit), POC_ARTIFACTS_DIR (default runner/artifacts),
#        POC_TEST_TIMEOUT_MS (per test, default 120000).
# shellcheck disable=SC2016 # backticks in printf formats are Markdown, not command substitution
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
tests_dir=${POC_UNIT_TESTS_DIR:-test/unit}
artifacts=${POC_ARTIFACTS_DIR:-$root/runner/artifacts}
report=$artifacts/test-report.md
junit=$artifacts/junit.xml
mkdir -p "$artifacts"
# Started from inside another node:test run (a test of this script), the runner would otherwise
# think it is nested and skip every file.
unset NODE_TEST_CONTEXT
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

files=()
if [[ -d $tests_dir ]]; then
  while IFS= read -r file; do files+=("$file"); done < <(
    find "$tests_dir" -type f \
      \( -name '*.test.ts' -o -name '*.test.mts' -o -name '*.test.js' -o -name '*.test.mjs' \) | LC_ALL=C sort
  )
fi

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if ((${#files[@]} == 0)); then
  echo "test: no test files (*.test.ts) under $tests_dir"
  printf '# Unit tests: NO TESTS\n\nNo test files (`*.test.ts`) under `%s` (%s).\n' "$tests_dir" "$started" >"$report"
  printf '<?xml version="1.0" encoding="utf-8"?>\n<testsuites tests="0" failures="0"></testsuites>\n' >"$junit"
  exit 1
fi

echo "test: ${#files[@]} file(s) under $tests_dir"
# Three reporters, one run: spec for the log, junit for the artifact, tap for the counts below.
cmd=(node --disable-warning=MaxListenersExceededWarning --import tsx --test
  "--test-timeout=${POC_TEST_TIMEOUT_MS:-120000}"
  --test-reporter=spec --test-reporter-destination=stdout
  --test-reporter=junit "--test-reporter-destination=$junit"
  --test-reporter=tap "--test-reporter-destination=$scratch/results.tap"
  "${files[@]}")
echo "test: running ${cmd[*]}"
rc=0
"${cmd[@]}" || rc=$?

count() { sed -nE "s/^# $1 ([0-9.]+)$/\1/p" "$scratch/results.tap" 2>/dev/null | tail -n 1; }
tests=$(count tests)
pass=$(count pass)
fail=$(count fail)
cancelled=$(count cancelled)
skipped=$(count skipped)
todo=$(count todo)
duration_ms=$(count duration_ms)

if [[ -z $tests ]]; then
  # The runner died before reporting (tsx missing, a crash): say so rather than print zeros.
  verdict="ERROR"
  ((rc != 0)) || rc=1
elif ((rc == 0)); then
  verdict="PASSED"
else
  verdict="FAILED"
fi

{
  printf '# Unit tests: %s\n\n' "$verdict"
  printf -- '- Started: %s\n' "$started"
  printf -- '- Files: %d under `%s`\n' "${#files[@]}" "$tests_dir"
  printf -- '- Command: `node --import tsx --test …` (exit code %d)\n' "$rc"
  printf -- '- JUnit XML: `%s`\n\n' "$(basename "$junit")"
  if [[ -n $tests ]]; then
    printf '| tests | passed | failed | cancelled | skipped | todo | duration |\n'
    printf '|------:|-------:|-------:|----------:|--------:|-----:|---------:|\n'
    printf '| %s | %s | %s | %s | %s | %s | %.1f s |\n' "$tests" "$pass" "$fail" "$cancelled" "$skipped" "$todo" \
      "$(awk -v ms="${duration_ms:-0}" 'BEGIN { print ms / 1000 }')"
    if ((${fail:-0} > 0 || ${cancelled:-0} > 0)); then
      printf '\n## Failed\n\n'
      # TAP announces each test ("# Subtest: name", nested by four spaces) before its children
      # and reports it ("not ok") after them: list the failed tests that have no failed child,
      # with their full path.
      awk '
        function depth() { match($0, /^ */); return RLENGTH / 4 }
        /^ *# Subtest: / {
          d = depth(); name = $0; sub(/^ *# Subtest: /, "", name); path[d] = name; failedChild[d] = 0; next
        }
        /^ *not ok [0-9]+ - / && !/# TODO/ {
          d = depth()
          if (d > 0) failedChild[d - 1] = 1
          if (failedChild[d]) next
          line = path[0]
          for (i = 1; i <= d; i++) line = line " › " path[i]
          print "- " line
        }' "$scratch/results.tap"
    fi
  else
    printf 'The test runner ended (exit code %d) without reporting results; see the step log.\n' "$rc"
  fi
} >"$report"

if [[ ! -s $junit ]]; then
  {
    printf '<?xml version="1.0" encoding="utf-8"?>\n<testsuites tests="0" failures="1">\n'
    printf '  <testsuite name="test.sh" tests="1" failures="1">\n'
    printf '    <testcase name="test runner" classname="test.sh">'
    printf '<failure message="the test runner ended (exit code %d) without reporting results"/>' "$rc"
    printf '</testcase>\n  </testsuite>\n</testsuites>\n'
  } >"$junit"
fi

echo "test: $verdict — ${tests:-?} tests, ${pass:-?} passed, ${fail:-?} failed," \
  "${skipped:-?} skipped, ${todo:-?} todo"
echo "test: report in ${report#"$root"/}, JUnit XML in ${junit#"$root"/}"
exit "$rc"
