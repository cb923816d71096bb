#!/usr/bin/env bash
# test: the unit tests — test/unit/**/*.test.ts, which need neither Docker nor Temporal — with jest
# (the project's `unit` layer: `npm run test:unit`). Writes two artifacts:
#   runner/artifacts/test-report.md  counts and the failing tests, for people (and Slack)
#   runner/artifacts/junit.xml       jest-junit's report, for CI tools
# Exit code: jest's (non-zero when a test failed or a file did not load).
#
# Usage: bash runner/scripts/test.sh
# Knobs: POC_UNIT_TESTS_DIR (default test/unit), POC_ARTIFACTS_DIR (default runner/artifacts).
# shellcheck disable=SC2016 # backticks in printf formats are Markdown, not command substitution
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
tests_dir=${POC_UNIT_TESTS_DIR:-test/unit}
artifacts=${POC_ARTIFACTS_DIR:-$root/runner/artifacts}
report=$artifacts/test-report.md
junit=$artifacts/junit.xml
mkdir -p "$artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

files=()
if [[ -d $tests_dir ]]; then
  while IFS= read -r file; do files+=("$file"); done < <(find "$tests_dir" -type f -name '*.test.ts' | LC_ALL=C sort)
fi

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if ((${#files[@]} == 0)); then
  echo "test: no test files (*.test.ts) under $tests_dir"
  printf '# Unit tests: NO TESTS\n\nNo test files (`*.test.ts`) under `%s` (%s).\n' "$tests_dir" "$started" >"$report"
  printf '<?xml version="1.0" encoding="utf-8"?>\n<testsuites tests="0" failures="0"></testsuites>\n' >"$junit"
  exit 1
fi

echo "test: ${#files[@]} file(s) under $tests_dir"
# jest.config.js reads POC_UNIT_TESTS_DIR for the unit layer's root; the JSON result feeds the
# report below, jest-junit writes the XML.
results=$scratch/results.json
cmd=(node --experimental-vm-modules --disable-warning=ExperimentalWarning node_modules/jest/bin/jest.js
  --selectProjects unit --ci --json --outputFile "$results" --reporters default --reporters jest-junit)
echo "test: running ${cmd[*]}"
rc=0
POC_UNIT_TESTS_DIR=$(cd "$tests_dir" && pwd) JEST_JUNIT_OUTPUT_DIR=$artifacts JEST_JUNIT_OUTPUT_NAME=junit.xml \
  "${cmd[@]}" || rc=$?

# One line of counts, then the failed tests (full names) or files that did not load, one per line.
summarize='
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ends = r.testResults.map((f) => f.endTime || r.startTime);
  const seconds = ((Math.max(r.startTime, ...ends) - r.startTime) / 1000).toFixed(1);
  const broken = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0);
  const failed = r.numFailedTests + broken.length;
  const counts = [r.numTotalTests + broken.length, r.numPassedTests, failed, r.numPendingTests, r.numTodoTests];
  console.log([...counts, seconds].join(" "));
  for (const f of broken) {
    console.log(`${f.name.split("/").pop()}: ${(f.message || "did not load").trim().split("\n")[0]}`);
  }
  for (const f of r.testResults) for (const t of f.assertionResults) {
    if (t.status === "failed") console.log([...t.ancestorTitles, t.title].join(" › "));
  }'
tests="" pass="" fail="" skipped="" todo="" seconds=""
if [[ -s $results ]] && node -e "$summarize" "$results" >"$scratch/summary" 2>/dev/null; then
  read -r tests pass fail skipped todo seconds <"$scratch/summary"
fi

if [[ -z $tests ]]; then
  # jest died before reporting (not installed, a crash): say so rather than print zeros.
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
  printf -- '- Command: `jest --selectProjects unit` (exit code %d)\n' "$rc"
  printf -- '- JUnit XML: `%s`\n\n' "$(basename "$junit")"
  if [[ -n $tests ]]; then
    printf '| tests | passed | failed | skipped | todo | duration |\n'
    printf '|------:|-------:|-------:|--------:|-----:|---------:|\n'
    printf '| %s | %s | %s | %s | %s | %s s |\n' "$tests" "$pass" "$fail" "$skipped" "$todo" "$seconds"
    if ((fail > 0)); then
      printf '\n## Failed\n\n'
      tail -n +2 "$scratch/summary" | sed 's/^/- /'
    fi
  else
    printf 'jest ended (exit code %d) without reporting results; see the step log.\n' "$rc"
  fi
} >"$report"

if [[ ! -s $junit ]]; then
  {
    printf '<?xml version="1.0" encoding="utf-8"?>\n<testsuites tests="0" failures="1">\n'
    printf '  <testsuite name="test.sh" tests="1" failures="1">\n'
    printf '    <testcase name="test runner" classname="test.sh">'
    printf '<failure message="jest ended (exit code %d) without reporting results"/></testcase>\n' "$rc"
    printf '  </testsuite>\n</testsuites>\n'
  } >"$junit"
fi

counts="${tests:-?} tests, ${pass:-?} passed, ${fail:-?} failed, ${skipped:-?} skipped, ${todo:-?} todo"
echo "test: $verdict — $counts"
echo "test: report in ${report#"$root"/}, JUnit XML in ${junit#"$root"/}"
exit "$rc"
